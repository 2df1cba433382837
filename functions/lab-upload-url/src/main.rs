#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(lab_upload_url::LabUploadUrl::from_vars).await
}
