#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(auth_refresh::AuthRefresh::from_vars).await
}
