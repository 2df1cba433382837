#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(appointments_cancel::AppointmentsCancel::from_vars).await
}
