//! The deploy step: applies pending migrations, and bootstraps the first admin.
//!
//! Invoked explicitly after each deploy (never on cold start of the API functions):
//! `{"action":"migrate"}` applies migrations; `{"action":"bootstrap-admin","email":"…"}` creates
//! the first admin with a generated password, returned once in the invocation result (not
//! logged), and refuses when an admin already exists.

use careflow::Result;
use careflow::auth::accounts::Accounts;
use careflow::db::{self, migrate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MigrateRequest {
    Migrate,
    BootstrapAdmin { email: String },
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum MigrateResponse {
    Migrated {
        applied: Vec<i32>,
        schema_version: i32,
    },
    AdminCreated {
        user_id: uuid::Uuid,
        email: String,
        password: String,
    },
    AdminExists {
        admin_exists: bool,
    },
}

pub struct Migrate {
    accounts: Accounts,
}

impl Migrate {
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }

    pub async fn from_env() -> Result<Self, careflow::config::ConfigError> {
        Ok(Self::new(Accounts::from_env().await?))
    }

    pub async fn handle(&self, request: MigrateRequest) -> Result<MigrateResponse> {
        match request {
            MigrateRequest::Migrate => {
                let mut client = db::client(self.accounts.pool()).await?;
                let applied = migrate::run(&mut client).await?;
                let schema_version = migrate::MIGRATIONS.last().map_or(0, |m| m.version);
                Ok(MigrateResponse::Migrated {
                    applied,
                    schema_version,
                })
            }
            MigrateRequest::BootstrapAdmin { email } => {
                match self.accounts.bootstrap_admin(&email, None).await? {
                    Some((user, password)) => Ok(MigrateResponse::AdminCreated {
                        user_id: user.user_id,
                        email: user.email,
                        password,
                    }),
                    None => Ok(MigrateResponse::AdminExists { admin_exists: true }),
                }
            }
        }
    }
}
