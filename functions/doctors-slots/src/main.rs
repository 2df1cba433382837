#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(doctors_slots::DoctorsSlots::from_vars).await
}
