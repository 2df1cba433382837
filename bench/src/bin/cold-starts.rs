//! Cold start and memory of every function, as Lambda starts them: each release binary is
//! spawned under a fake Runtime API with the environment `template.yaml` gives it, its own role's
//! credentials (the AWS API emulator) and the local database and broker, then handed its first
//! sample event from `events/<function>/`. Init, first response and peak RSS per function, against
//! a hello-world `lambda_runtime` binary.
//!
//! Run through `scripts/bench-cold-starts.sh`, which builds the binaries, starts PostgreSQL and
//! the emulator and creates the functions' roles. Needs `CAREFLOW_DATABASE_URL` (an admin URL; a
//! scratch database is created) and `CAREFLOW_FUNCTION_CREDENTIALS`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use careflow::auth::token::{SigningKey, TokenSettings};
use careflow::db::{DbConfig, migrate};
use careflow::kafka::mock::MockKafka;
use careflow_bench::{Run, ScratchDatabase, run_function, summary};
use careflow_local::aws::{AwsFunctions, FunctionIdentities};
use careflow_local::functions::{HTTP_FUNCTIONS, LocalEnvironment, NON_HTTP_FUNCTIONS};
use careflow_local::template::Template;

const SPAWNS: usize = 10;
const STAGE: &str = "coldstart";

/// The first sample event of `function` (its name sorted first), or `{}`.
fn sample_event(root: &Path, function: &str) -> anyhow::Result<String> {
    let dir = root.join("events").join(function);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    match files.first() {
        Some(path) => Ok(std::fs::read_to_string(path)?),
        None => Ok("{}".to_owned()),
    }
}

struct Row {
    name: String,
    init_p50: f64,
    init_max: f64,
    first_p50: f64,
    init_rss_mb: f64,
    peak_rss_mb: f64,
    errors: usize,
}

async fn measure(name: &str, binary: &Path, env: &[(String, String)], event: &str) -> Row {
    let mut runs: Vec<Run> = Vec::new();
    // One warm-up spawn so the binary is in the page cache, as on a warm Lambda host.
    let _ = run_function(binary, env, event, 1).await;
    let mut failed = 0;
    for _ in 0..SPAWNS {
        match run_function(binary, env, event, 1).await {
            Ok(run) => runs.push(run),
            Err(e) => {
                failed += 1;
                eprintln!("{name}: {e:#}");
            }
        }
    }
    if runs.is_empty() {
        return Row {
            name: name.to_owned(),
            init_p50: f64::NAN,
            init_max: f64::NAN,
            first_p50: f64::NAN,
            init_rss_mb: f64::NAN,
            peak_rss_mb: f64::NAN,
            errors: failed,
        };
    }
    let mut init: Vec<_> = runs.iter().map(|r| r.init).collect();
    let mut first: Vec<_> = runs.iter().map(|r| r.first_response).collect();
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2] as f64 / 1024.0
    };
    let (init_p50, _, _) = summary(&mut init);
    let init_max = init
        .iter()
        .max()
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    let (first_p50, _, _) = summary(&mut first);
    Row {
        name: name.to_owned(),
        init_p50,
        init_max,
        first_p50,
        init_rss_mb: median(runs.iter().map(|r| r.init_peak_rss_kib).collect()),
        peak_rss_mb: median(runs.iter().map(|r| r.peak_rss_kib).collect()),
        errors: failed + runs.iter().map(|r| r.errors).sum::<usize>(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let [bin_dir, reference @ ..] = &args[..] else {
        anyhow::bail!("usage: cold-starts BINARY_DIR [RELEASE_BINARY_DIR]");
    };

    // A scratch database, migrated, as a deployment's is.
    let scratch = ScratchDatabase::create("careflow_coldstart").await?;
    let pool = DbConfig::from_url(&scratch.url)?.pool()?;
    let mut client = careflow::db::client(&pool).await?;
    migrate::run(&mut client).await?;
    drop(client);
    // The account of auth-login's sample event, so its first response is a real login (a
    // failing one would soon be throttled and answer without hashing).
    let login: serde_json::Value = serde_json::from_str(&sample_event(&root, "auth-login")?)?;
    let credentials: serde_json::Value =
        serde_json::from_str(login["body"].as_str().unwrap_or("{}"))?;
    careflow::auth::accounts::Accounts::new(pool.clone(), std::time::Duration::from_secs(3600))
        .create_user(careflow::auth::accounts::NewUser {
            email: credentials["email"].as_str().unwrap_or_default().to_owned(),
            password: credentials["password"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            full_name: "Jane Doe".into(),
            role: careflow::auth::Role::Patient,
            specialty: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("creating the sample login's account: {e}"))?;

    let kafka = MockKafka::start(1)?;
    let bootstrap = kafka.bootstrap_servers();
    let template = Template::load(&root.join("template.yaml"))?;
    let aws = AwsFunctions::for_stage(FunctionIdentities::from_env().await?, STAGE);
    let records = template
        .tables
        .iter()
        .find(|t| t.logical_id == "RecordsTable")
        .ok_or_else(|| anyhow::anyhow!("template.yaml declares no RecordsTable"))?;
    let dynamodb = careflow_local::resources::dynamodb_client().await;
    careflow_local::resources::create_table(&dynamodb, records, &aws.records_table).await?;
    let key = SigningKey::generate()?;
    let tokens = TokenSettings {
        issuer: "https://api.careflow.example".into(),
        audience: "careflow-api".into(),
    };
    let local = LocalEnvironment {
        database_url: &scratch.url,
        kafka_bootstrap_servers: &bootstrap,
        tokens: &tokens,
        key: &key,
        aws: &aws,
        portal_url: "http://localhost:3000",
    }
    .variables()?;
    // What every process also gets from its host: the emulator, the region, the path.
    let host: Vec<(String, String)> = ["AWS_ENDPOINT_URL", "AWS_REGION", "PATH"]
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
        .collect();

    let hello = measure(
        "hello-world lambda_runtime",
        &bin_dir.join("hello-lambda"),
        &host,
        "{}",
    )
    .await;
    let mut rows = Vec::new();
    let mut references = Vec::new();
    let mut functions: Vec<&str> = HTTP_FUNCTIONS
        .iter()
        .chain(NON_HTTP_FUNCTIONS)
        .copied()
        .collect();
    functions.sort_unstable();
    for function in functions {
        let mut env: BTreeMap<String, String> = aws
            .identities
            .environment(function)
            .ok_or_else(|| anyhow::anyhow!("{function} is not in the roles file"))?
            .clone();
        env.extend(local.clone());
        env.retain(|_, v| !v.is_empty()); // an empty local value unsets the variable
        env.extend(host.iter().cloned());
        let env: Vec<(String, String)> = env.into_iter().collect();
        let event = sample_event(&root, function)?;
        rows.push(measure(function, &bin_dir.join(function), &env, &event).await);
        if function == "auth-login"
            && let Some(release) = reference.first()
        {
            references.push(
                measure(
                    "hello-world, release profile",
                    &release.join("hello-lambda"),
                    &host,
                    "{}",
                )
                .await,
            );
            references.push(
                measure(
                    "auth-login, release profile",
                    &release.join(function),
                    &env,
                    &event,
                )
                .await,
            );
        }
    }

    println!(
        "cold starts ({SPAWNS} spawns each after a warm-up; first response = the first sample event of events/<function>/):\n"
    );
    println!(
        "| function | init p50 | init max | init / hello-world | first response p50 | RSS at init | peak RSS after 1st event | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in std::iter::once(&hello).chain(&rows).chain(&references) {
        println!(
            "| {} | {:.2} ms | {:.2} ms | {:.2}× | {:.2} ms | {:.1} MB | {:.1} MB | {} |",
            row.name,
            row.init_p50,
            row.init_max,
            row.init_p50 / hello.init_p50,
            row.first_p50,
            row.init_rss_mb,
            row.peak_rss_mb,
            row.errors
        );
    }
    let worst = rows
        .iter()
        .filter(|r| r.init_p50.is_finite())
        .max_by(|a, b| a.init_p50.total_cmp(&b.init_p50));
    if let Some(worst) = worst {
        println!(
            "\nslowest init: {} at {:.2}× hello-world",
            worst.name,
            worst.init_p50 / hello.init_p50
        );
    }
    drop(pool);
    scratch.remove().await;
    Ok(())
}
