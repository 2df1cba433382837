#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(lab_results_list::LabResultsList::from_vars).await
}
