#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(patients_notifications::PatientsNotifications::from_vars).await
}
