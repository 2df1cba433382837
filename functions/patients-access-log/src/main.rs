#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(patients_access_log::PatientsAccessLog::from_vars).await
}
