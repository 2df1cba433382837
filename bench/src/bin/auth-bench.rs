//! Issue-2 benchmark, in one run: cold-start init of `auth-login` (and, when built, of a copy with
//! aws-lc's jitter entropy) against `hello-lambda`, then the login handler's in-process latency.
//!
//! Run through `scripts/bench-auth.sh`, which builds release binaries and starts PostgreSQL.
//! Needs `CAREFLOW_DATABASE_URL` (an admin URL; a scratch database is created) and the paths of
//! the binaries as arguments: `auth-bench HELLO LOGIN [LOGIN_WITH_JITTER]`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use careflow::auth::Role;
use careflow::auth::accounts::{Accounts, NewUser};
use careflow::auth::token::{SigningKey, TokenIssuer, TokenSettings};
use careflow::db::{DbConfig, migrate};
use careflow_bench::{ScratchDatabase, cold_start, run_function, summary};
use serde_json::json;

const COLD_STARTS: usize = 30;
const LOGINS: usize = 300;
/// Warm logins in one function process, for its peak memory (one Lambda instance's life).
const PROCESS_LOGINS: usize = 1000;
const EMAIL: &str = "runner@example.com";
const PASSWORD: &str = "a long bench passphrase";

fn login_event(root: &std::path::Path) -> anyhow::Result<String> {
    let sample: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("events/auth-login/login.json"),
    )?)?;
    let mut event = sample;
    event["body"] = json!(json!({"email": EMAIL, "password": PASSWORD}).to_string());
    Ok(event.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [hello, login, rest @ ..] = &args[..] else {
        anyhow::bail!("usage: auth-bench HELLO_BINARY LOGIN_BINARY [LOGIN_WITH_JITTER_BINARY]");
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");

    // A scratch database with one user.
    let scratch = ScratchDatabase::create("careflow_bench").await?;
    let pool = DbConfig::from_url(&scratch.url)?.pool()?;
    let mut client = careflow::db::client(&pool).await?;
    migrate::run(&mut client).await?;
    drop(client);
    let accounts = Accounts::new(pool, Duration::from_secs(3600));
    accounts
        .create_user(NewUser {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            full_name: "Bench".into(),
            role: Role::Patient,
            specialty: None,
        })
        .await?;

    let key = SigningKey::generate()?;
    let settings = TokenSettings {
        issuer: "https://api.careflow.example".into(),
        audience: "careflow-api".into(),
    };
    let event = login_event(&root)?;
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), scratch.url.clone()),
        (
            "CAREFLOW_JWT_SIGNING_KEY".into(),
            serde_json::to_string(&key.to_document())?,
        ),
        ("CAREFLOW_JWT_ISSUER".into(), settings.issuer.clone()),
        ("CAREFLOW_JWT_AUDIENCE".into(), settings.audience.clone()),
    ];

    println!(
        "cold starts ({COLD_STARTS} each; process spawn → ready for the first event / first response):"
    );
    println!(
        "{:<34} {:>10} {:>10} {:>16} {:>14}",
        "binary", "init p50", "init p99", "1st response p50", "peak RSS p50"
    );
    let mut binaries = vec![
        ("hello-lambda", hello.clone()),
        ("auth-login", login.clone()),
    ];
    if let Some(jitter) = rest.first() {
        binaries.push(("auth-login (aws-lc jitter entropy)", jitter.clone()));
    }
    for (name, path) in &binaries {
        let mut init = Vec::new();
        let mut first = Vec::new();
        let mut rss = Vec::new();
        // One warm-up spawn so the binary is in the page cache, as on a warm Lambda host.
        cold_start(
            path,
            &env,
            if *name == "hello-lambda" {
                "{}"
            } else {
                &event
            },
        )
        .await?;
        for _ in 0..COLD_STARTS {
            let run = cold_start(
                path,
                &env,
                if *name == "hello-lambda" {
                    "{}"
                } else {
                    &event
                },
            )
            .await?;
            init.push(run.init);
            first.push(run.first_response);
            rss.push(run.peak_rss_kib);
        }
        let (i50, i99, _) = summary(&mut init);
        let (f50, _, _) = summary(&mut first);
        rss.sort_unstable();
        let r50 = rss[rss.len() / 2] as f64 / 1024.0;
        println!("{name:<34} {i50:>8.2}ms {i99:>8.2}ms {f50:>14.2}ms {r50:>11.1} MB");
    }

    // One process serving many logins, as one Lambda instance does: latency and peak memory.
    let run = run_function(login, &env, &event, PROCESS_LOGINS + 1).await?;
    anyhow::ensure!(run.errors == 0, "{} logins failed", run.errors);
    let mut warm = run.warm.clone();
    let (w50, w99, wmean) = summary(&mut warm);
    println!(
        "\nauth-login process, {PROCESS_LOGINS} warm logins after the cold one: p50 {w50:.2} ms, p99 {w99:.2} ms, mean {wmean:.2} ms; \
         peak RSS {:.1} MB (at init {:.1} MB)",
        run.peak_rss_kib as f64 / 1024.0,
        run.init_peak_rss_kib as f64 / 1024.0
    );

    // The token alone: RS256 signing and verification (what a login and every request pay).
    let issuer = TokenIssuer::new(key.clone(), settings.clone(), Duration::from_secs(900));
    let verifier = careflow::auth::token::Verifier::new(
        &careflow::auth::token::Jwks {
            keys: vec![key.public_jwk().clone()],
        },
        &settings,
    )?;
    let (mut signing, mut verifying) = (Vec::new(), Vec::new());
    for _ in 0..1000 {
        let start = Instant::now();
        let token = issuer.issue(
            uuid::Uuid::new_v4(),
            Role::Patient,
            careflow::auth::Amr::Password,
        )?;
        signing.push(start.elapsed());
        let start = Instant::now();
        verifier.verify(&token.token)?;
        verifying.push(start.elapsed());
    }
    let (s50, s99, _) = summary(&mut signing);
    let (v50, v99, _) = summary(&mut verifying);
    println!(
        "\nRS256 access token (RSA-2048, 1000 each): sign p50 {s50:.3} ms, p99 {s99:.3} ms; verify p50 {v50:.3} ms, p99 {v99:.3} ms"
    );

    // In-process: the handler as the runtime calls it, on a warm connection.
    let handler = Arc::new(auth_login::AuthLogin::new(accounts, issuer));
    let event: serde_json::Value = serde_json::from_str(&event)?;
    let mut latencies = Vec::with_capacity(LOGINS);
    for i in 0..LOGINS + 10 {
        let start = Instant::now();
        let response = careflow::http::invoke(handler.clone(), event.clone()).await?;
        let took = start.elapsed();
        anyhow::ensure!(response["statusCode"] == 200, "login failed: {response}");
        if i >= 10 {
            latencies.push(took);
        }
    }
    let (p50, p99, mean) = summary(&mut latencies);
    println!(
        "\nauth-login handler in-process ({LOGINS} sequential logins, warm): p50 {p50:.2} ms, p99 {p99:.2} ms, mean {mean:.2} ms"
    );
    println!(
        "(argon2id m=19456 KiB, t=2, p=1 dominates; the rest is one SELECT, one INSERT and signing)"
    );
    scratch.remove().await;
    Ok(())
}
