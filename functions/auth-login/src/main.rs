#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(auth_login::AuthLogin::from_vars).await
}
