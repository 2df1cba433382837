#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(auth_verify_email::AuthVerifyEmail::from_vars).await
}
