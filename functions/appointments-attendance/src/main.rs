#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(appointments_attendance::AppointmentsAttendance::from_vars).await
}
