#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(appointments_reschedule::AppointmentsReschedule::from_vars).await
}
