//! `careflow-local`: see the crate docs. Started by `scripts/run-local.sh`, which also starts
//! PostgreSQL and the AWS API emulator unless the environment points at existing ones.

use std::net::SocketAddr;

use careflow_local::stack::{self, Settings};

fn main() -> anyhow::Result<()> {
    // lab-processor's extraction child is this binary, re-executed (careflow::lab::extract).
    careflow::lab::extract::run_child_if_requested();
    run()
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("keygen") {
        return keygen();
    }
    careflow::telemetry::init();
    let settings = Settings::from_env()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", settings.port)).await?;
    let port = listener.local_addr()?.port();
    let stack = stack::start(&settings, port).await?;

    let base = format!("http://localhost:{port}");
    println!("\nCareFlow is running at {base}");
    println!(
        "  routes: {} from {}",
        stack.gateway.template.routes.len(),
        settings.template.display()
    );
    println!("  kafka: {}", stack.kafka.bootstrap_servers);
    match &stack.admin {
        Some((email, password)) => {
            println!(
                "  first admin created: {email} / {password}  (shown once; set CAREFLOW_ADMIN_PASSWORD to choose it)"
            )
        }
        None => println!(
            "  admin: an admin already exists (log in as {})",
            settings.admin_email
        ),
    }
    let mail = match std::env::var("AWS_ENDPOINT_URL") {
        Ok(endpoint) => format!("{endpoint}/_careflow/ses/messages"),
        Err(_) => "real SES (no emulator configured)".to_owned(),
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "$AWS_ENDPOINT_URL".into());
    println!(
        r#"
E-mails sent (SES in the emulator): {mail}
Try it (registration mails a link; the emulator keeps the mail):
  curl -s {base}/auth/register -H 'content-type: application/json' \
    -d '{{"email":"pat@example.com","password":"a long passphrase","full_name":"Pat Example"}}'
  LINK_TOKEN=$(curl -s "{endpoint}/_careflow/ses/messages" | grep -o 'token=cfv_[A-Za-z0-9_-]*' | tail -1 | cut -d= -f2)
  TOKEN=$(curl -s {base}/auth/verify-email -H 'content-type: application/json' \
    -d "{{\"token\":\"$LINK_TOKEN\",\"password\":\"a long passphrase\"}}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  curl -s {base}/me -H "authorization: Bearer $TOKEN"
Press Ctrl-C to stop.
"#
    );

    // outbox-relay on its schedule (template.yaml: every minute; locally every 10 s).
    let relay = stack.relay.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            if let Err(e) = relay.run().await {
                tracing::warn!(error = %e.safe_description(), "outbox-relay run failed");
            }
        }
    });

    // EventBridge Scheduler: due one-time schedules (reminders) every 5 s, and the waitlist
    // sweep the template schedules every minute (locally every 10 s).
    let scheduler = stack.scheduler.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            if let Err(e) = scheduler.fire_due(chrono::Utc::now()).await {
                tracing::warn!(error = %e, "firing due schedules failed");
            }
        }
    });
    let timers = stack.timers.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            if let Err(e) = timers(serde_json::json!({"timer": "waitlist_sweep"})).await {
                tracing::warn!(error = %e.safe_description(), "waitlist sweep failed");
            }
        }
    });

    // gcp-analytics beside the functions, on the same broker (its HTTP endpoints on
    // CAREFLOW_ANALYTICS_PORT, default 3001: /healthz, /readyz, /metrics).
    let mut analytics = gcp_analytics::Config::new(stack.kafka.bootstrap_servers.clone());
    analytics.port =
        careflow::config::Vars::process().parsed_or("CAREFLOW_ANALYTICS_PORT", 3001u16)?;
    analytics.group_id = format!("careflow-analytics-{}", settings.stage);
    println!("  analytics: http://localhost:{}/metrics", analytics.port);
    tokio::spawn(async move {
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        if let Err(e) = gcp_analytics::run(analytics, shutdown).await {
            tracing::error!(error = %e, "gcp-analytics stopped");
        }
    });

    let app = stack.gateway.clone().router();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// `careflow-local keygen`: a new RSA-2048 (RS256) signing key for a deployment. Prints the Secrets
/// Manager secret value (private: store it, never commit it) and the public JWK to add to the
/// `JwtPublicJwks` parameter.
fn keygen() -> anyhow::Result<()> {
    let key = careflow::auth::token::SigningKey::generate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let out = serde_json::json!({
        "secret_string": serde_json::to_string(&key.to_document())?,
        "public_jwk": key.public_jwk(),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
