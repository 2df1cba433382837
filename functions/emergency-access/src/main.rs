#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(emergency_access::EmergencyAccess::from_vars).await
}
