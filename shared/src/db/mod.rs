//! PostgreSQL: a small connection pool (TLS-capable for RDS / RDS Proxy) and migrations.
//!
//! Lambda runs one request at a time per instance, so the pool stays small (default 2) and RDS
//! Proxy absorbs the fan-out. Connections open lazily on first use, not at cold start.

use std::str::FromStr;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::Error;
use crate::config::{ConfigError, Vars};

pub mod migrate;

pub use deadpool_postgres::{Client, Pool as PgPool, Transaction};
pub use tokio_postgres::error::SqlState;

/// Where and how to connect.
#[derive(Clone)]
pub struct DbConfig {
    pub pg: tokio_postgres::Config,
    pub pool_size: usize,
    /// Extra CA certificates (PEM), e.g. the RDS bundle for direct connections.
    pub ca_file: Option<String>,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbConfig")
            .field("hosts", &self.pg.get_hosts())
            .field("dbname", &self.pg.get_dbname())
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct DbCredentials {
    username: String,
    password: String,
}

impl DbConfig {
    /// Parses a libpq-style URL. libpq's `verify-ca`/`verify-full` are accepted and mean
    /// `require`, which here always verifies the certificate chain and host name.
    pub fn from_url(url: &str) -> Result<Self, ConfigError> {
        let url = url
            .replace("sslmode=verify-full", "sslmode=require")
            .replace("sslmode=verify-ca", "sslmode=require");
        let pg = tokio_postgres::Config::from_str(&url).map_err(|e| ConfigError::Invalid {
            name: "DATABASE_URL",
            message: e.to_string(),
        })?;
        Ok(Self {
            pg,
            pool_size: 2,
            ca_file: None,
        })
    }

    /// Reads `DATABASE_URL` (no password in production), `DATABASE_POOL_SIZE`,
    /// `DATABASE_CA_FILE`, and the credentials secret `DATABASE_SECRET_ARN`
    /// (`{"username","password"}`, the shape RDS-managed secrets have) when set.
    pub async fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let mut cfg = Self::from_url(&vars.required("DATABASE_URL")?)?;
        cfg.pool_size = vars.parsed_or("DATABASE_POOL_SIZE", 2usize)?;
        cfg.ca_file = vars.optional("DATABASE_CA_FILE");
        if let Some(arn) = vars.optional("DATABASE_SECRET_ARN") {
            let creds: DbCredentials = crate::secrets::get_json(vars, &arn).await?;
            cfg.pg.user(&creds.username).password(creds.password);
        }
        Ok(cfg)
    }

    /// Builds the pool. `sslmode=require` in the URL means TLS with full certificate and host
    /// name verification (public roots, which cover RDS Proxy, plus `DATABASE_CA_FILE`).
    pub fn pool(&self) -> Result<Pool, ConfigError> {
        let tls = MakeRustlsConnect::new(self.tls_config()?);
        let manager = Manager::from_config(
            self.pg.clone(),
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(self.pool_size.max(1))
            // A full pool answers 503 after a while instead of hanging the request.
            .wait_timeout(Some(std::time::Duration::from_secs(10)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| ConfigError::Invalid {
                name: "DATABASE_URL",
                message: e.to_string(),
            })
    }

    fn tls_config(&self) -> Result<rustls::ClientConfig, ConfigError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &self.ca_file {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let invalid = |message: String| ConfigError::Invalid {
                name: "DATABASE_CA_FILE",
                message,
            };
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| invalid(e.to_string()))? {
                roots
                    .add(cert.map_err(|e| invalid(e.to_string()))?)
                    .map_err(|e| invalid(e.to_string()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConfigError::Invalid {
                name: "DATABASE_URL",
                message: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

/// A column of `row` by name. A column that is missing or of another type is a server error,
/// never a panic (`Row::get` panics) and never a silently wrong value.
pub fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a tokio_postgres::Row,
    name: &str,
) -> crate::Result<T> {
    row.try_get(name)
        .map_err(|e| Error::internal(format!("column {name}: {e}")))
}

/// A text column holding one of an enum's snake_case names. Any other value is a server error
/// (stored data the code does not know), not a default.
pub fn enum_column<T: serde::de::DeserializeOwned>(
    row: &tokio_postgres::Row,
    name: &str,
) -> crate::Result<T> {
    let text: &str = column(row, name)?;
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| Error::internal(format!("column {name}: unknown value {text:?}")))
}

/// One batch of a retention purge: `delete` deletes rows older than `$1` (the cutoff), at most
/// `$2` (the batch size) of them; answers how many went.
pub async fn purge_batch(
    pool: &Pool,
    delete: &str,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> crate::Result<u64> {
    Ok(client(pool)
        .await?
        .execute(delete, &[&cutoff, &limit])
        .await?)
}

/// Takes a connection from the pool; failure to reach the database is a 503, not a 500.
pub async fn client(pool: &Pool) -> crate::Result<Client> {
    pool.get()
        .await
        .map_err(|e| Error::Unavailable(Box::new(e)))
}

/// The SQLSTATE and constraint of a database error, if it is one.
pub fn db_error_code(err: &tokio_postgres::Error) -> Option<(&SqlState, Option<&str>)> {
    err.as_db_error().map(|db| (db.code(), db.constraint()))
}

impl From<tokio_postgres::Error> for Error {
    fn from(err: tokio_postgres::Error) -> Self {
        if err.is_closed() || err.as_db_error().is_none() && err.code().is_none() {
            // Connection-level failure: the database may come back.
            Error::Unavailable(Box::new(err))
        } else {
            Error::Internal(Box::new(err))
        }
    }
}
