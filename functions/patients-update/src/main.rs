#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(patients_update::PatientsUpdate::from_vars).await
}
