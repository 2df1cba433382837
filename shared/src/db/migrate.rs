//! Versioned SQL migrations, applied by the explicit `migrate` step (never on cold start).
//!
//! Each migration runs in its own transaction under a cluster-wide advisory lock, so two
//! concurrent deploys cannot apply the same migration twice. Applied migrations are recorded
//! with a checksum; editing one that already ran is refused instead of silently diverging.

use aws_lc_rs::digest::{SHA256, digest};

use crate::Error;

/// One migration: a version and the SQL that brings the schema to it.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Add new files at the end; never edit one that has shipped.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("../../migrations/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "appointments",
        sql: include_str!("../../migrations/0002_appointments.sql"),
    },
    Migration {
        version: 3,
        name: "billing",
        sql: include_str!("../../migrations/0003_billing.sql"),
    },
    Migration {
        version: 4,
        name: "analytics",
        sql: include_str!("../../migrations/0004_analytics.sql"),
    },
    Migration {
        version: 5,
        name: "retention",
        sql: include_str!("../../migrations/0005_retention.sql"),
    },
    Migration {
        version: 6,
        name: "auth_throttle",
        sql: include_str!("../../migrations/0006_auth_throttle.sql"),
    },
    Migration {
        version: 7,
        name: "mfa",
        sql: include_str!("../../migrations/0007_mfa.sql"),
    },
    Migration {
        version: 8,
        name: "registrations",
        sql: include_str!("../../migrations/0008_registrations.sql"),
    },
    Migration {
        version: 9,
        name: "availability",
        sql: include_str!("../../migrations/0009_availability.sql"),
    },
    Migration {
        version: 10,
        name: "reschedule",
        sql: include_str!("../../migrations/0010_reschedule.sql"),
    },
    Migration {
        version: 11,
        name: "attendance",
        sql: include_str!("../../migrations/0011_attendance.sql"),
    },
    Migration {
        version: 12,
        name: "waitlist_notifications",
        sql: include_str!("../../migrations/0012_waitlist_notifications.sql"),
    },
];

/// Arbitrary but fixed key for `pg_advisory_lock`.
const LOCK_KEY: i64 = 0x0CA4_EF10_0000_0001;

impl Migration {
    pub fn checksum(&self) -> String {
        digest(&SHA256, self.sql.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A fingerprint of the whole migration set (tests key template databases by it).
pub fn fingerprint() -> String {
    let all: String = MIGRATIONS.iter().map(Migration::checksum).collect();
    digest(&SHA256, all.as_bytes()).as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Applies pending migrations and returns the versions applied by this call.
pub async fn run(client: &mut tokio_postgres::Client) -> crate::Result<Vec<i32>> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await?;
    let result = apply_pending(client).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn apply_pending(client: &mut tokio_postgres::Client) -> crate::Result<Vec<i32>> {
    let rows = client
        .query("SELECT version, checksum FROM schema_migrations", &[])
        .await?;
    let done: std::collections::HashMap<i32, String> = rows
        .iter()
        .map(|r| Ok((super::column(r, "version")?, super::column(r, "checksum")?)))
        .collect::<crate::Result<_>>()?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        match done.get(&m.version) {
            Some(sum) if *sum == m.checksum() => continue,
            Some(_) => {
                return Err(Error::internal(format!(
                    "migration {} ({}) was edited after it was applied",
                    m.version, m.name
                )));
            }
            None => {}
        }
        let tx = client.transaction().await?;
        tx.batch_execute(m.sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &m.checksum()],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        applied.push(m.version);
    }
    Ok(applied)
}
