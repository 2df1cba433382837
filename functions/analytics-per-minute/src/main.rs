#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    careflow::http::start(analytics_per_minute::AnalyticsPerMinute::from_vars).await
}
