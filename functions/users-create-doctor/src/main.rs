#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(users_create_doctor::UsersCreateDoctor::from_vars).await
}
