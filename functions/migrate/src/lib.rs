//! The deploy step: applies pending migrations, and bootstraps the first admin.
//!
//! Invoked explicitly after each deploy (never on cold start of the API functions):
//! `{"action":"migrate"}` applies migrations; `{"action":"bootstrap-admin","email":"…"}` creates
//! the first admin with a generated password, returned once in the invocation result (not
//! logged), and refuses when an admin already exists.

use careflow::Result;
use careflow::auth::accounts::Accounts;
use careflow::config::Vars;
use careflow::db::{self, migrate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MigrateRequest {
    Migrate,
    BootstrapAdmin { email: String },
}

#[derive(Serialize)]
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

/// Never prints the generated password.
impl std::fmt::Debug for MigrateResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Migrated {
                applied,
                schema_version,
            } => f
                .debug_struct("Migrated")
                .field("applied", applied)
                .field("schema_version", schema_version)
                .finish(),
            Self::AdminCreated { user_id, .. } => f
                .debug_struct("AdminCreated")
                .field("user_id", user_id)
                .finish_non_exhaustive(),
            Self::AdminExists { admin_exists } => f
                .debug_struct("AdminExists")
                .field("admin_exists", admin_exists)
                .finish(),
        }
    }
}

pub struct Migrate {
    accounts: Accounts,
}

impl Migrate {
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, careflow::config::ConfigError> {
        Ok(Self::new(Accounts::from_vars(&vars).await?))
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
