//! Runs as a Lambda function, or — outside Lambda (no `AWS_LAMBDA_RUNTIME_API`) — as a command:
//! `migrate` or `migrate bootstrap-admin EMAIL`, for operators with a path to the database.

use migrate::{Migrate, MigrateRequest};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    careflow::telemetry::init();
    let app = Migrate::from_vars(careflow::config::Vars::process()).await?;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let request = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [] | ["migrate"] => MigrateRequest::Migrate,
            ["bootstrap-admin", email] => MigrateRequest::BootstrapAdmin {
                email: email.to_owned(),
            },
            _ => return Err("usage: migrate [migrate | bootstrap-admin EMAIL]".into()),
        };
        let response = app
            .handle(request)
            .await
            .map_err(|e| e.safe_description())?;
        println!("{}", serde_json::to_string_pretty(&response)?);
        return Ok(());
    }
    careflow::event_function::run("MigrateError", |request: MigrateRequest| {
        app.handle(request)
    })
    .await
}
