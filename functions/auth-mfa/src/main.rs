#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(auth_mfa::AuthMfa::from_vars).await
}
