#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(patients_list::PatientsList::from_vars).await
}
