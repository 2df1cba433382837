#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(auth_register::AuthRegister::from_vars).await
}
