#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(users_mfa_reset::UsersMfaReset::from_vars).await
}
