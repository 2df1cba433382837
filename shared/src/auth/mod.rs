//! Authentication and authorisation: roles, access-token claims, password hashing, refresh
//! tokens and the account service that ties them to PostgreSQL.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "accounts")]
pub mod accounts;
#[cfg(feature = "accounts")]
pub mod mfa;
#[cfg(feature = "passwords")]
pub mod password;
#[cfg(feature = "tokens")]
pub mod refresh;
#[cfg(feature = "accounts")]
pub mod registration;
#[cfg(feature = "postgres")]
pub mod throttle;
#[cfg(feature = "tokens")]
pub mod token;
#[cfg(feature = "accounts")]
pub mod totp;

/// What a user may do. Stored as text in `users.role` and carried in the `role` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees and changes only their own records.
    Patient,
    /// Their own appointments and the records of patients they see.
    Doctor,
    /// Everything, and creates doctors.
    Admin,
}

impl Role {
    /// Doctors' accounts name their specialty; no other account has one.
    pub fn has_specialty(self) -> bool {
        self == Role::Doctor
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Doctor => "doctor",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "patient" => Ok(Role::Patient),
            "doctor" => Ok(Role::Doctor),
            "admin" => Ok(Role::Admin),
            _ => Err(crate::Error::invalid("role", "unknown role")),
        }
    }
}

/// The claims of a CareFlow access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: Uuid,
    pub role: Role,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    /// Unique per token, so a token can be traced (never logged with its owner's data).
    pub jti: Uuid,
    /// How the user authenticated (RFC 8176): see [`Amr`].
    #[serde(default)]
    pub amr: Vec<String>,
}

/// The authentication methods a session rests on, carried as the `amr` claim (RFC 8176 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amr {
    /// A password alone.
    Password,
    /// A password and a TOTP code: `["pwd", "otp", "mfa"]`.
    PasswordAndTotp,
    /// A password and a single-use recovery code: `["pwd", "mfa"]`.
    PasswordAndRecoveryCode,
}

impl Amr {
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordAndTotp => &["pwd", "otp", "mfa"],
            Self::PasswordAndRecoveryCode => &["pwd", "mfa"],
        }
    }

    /// The stored form of [`Self::values`] (refresh tokens keep it, so a refreshed session
    /// keeps its factors).
    pub fn from_values(values: &[String]) -> Option<Self> {
        [
            Self::Password,
            Self::PasswordAndTotp,
            Self::PasswordAndRecoveryCode,
        ]
        .into_iter()
        .find(|a| a.values() == values)
    }

    /// Whether a second factor was presented.
    pub fn is_multi_factor(values: &[String]) -> bool {
        values.iter().any(|v| v == "mfa")
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Uuid,
    pub role: Role,
}
