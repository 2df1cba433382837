//! The account service: users and refresh tokens in PostgreSQL.
//!
//! Every write is a single statement or one transaction, so a failure never leaves half a
//! registration or a rotated token without its successor.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::mfa::{LoginOutcome, Proof, Verified};
use super::throttle::{self, Subject};
use super::token::{SigningKey, SigningKeyDocument, TokenIssuer, TokenSettings};
use super::{Amr, Caller, Role, password, refresh};
use crate::config::{ConfigError, Vars};
use crate::db::{self, PgPool, SqlState};
use crate::db::{column, enum_column};
use crate::validate::{name, normalize_email};
use crate::{Error, Result};

pub const NAME_MAX: usize = 200;
pub const SPECIALTY_MAX: usize = 100;

/// A user as the API shows it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specialty: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A doctor as patients see them when booking (no e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doctor {
    pub doctor_id: Uuid,
    pub full_name: String,
    pub specialty: String,
}

/// A doctor's account as an admin asks for it (`POST /users/doctors`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDoctor {
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub specialty: String,
}

impl std::fmt::Debug for NewDoctor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDoctor")
            .field("specialty", &self.specialty)
            .finish_non_exhaustive()
    }
}

/// What registration and doctor creation need.
#[derive(Clone)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    pub full_name: String,
    pub role: Role,
    pub specialty: Option<String>,
}

/// The body of a successful login or refresh.
#[derive(Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Runs CPU-heavy password work off the async executor.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("password task failed: {e}")))
}

/// Builds the token issuer: `CAREFLOW_JWT_SIGNING_KEY` (the secret's JSON,
/// for local runs) or `CAREFLOW_JWT_SIGNING_KEY_SECRET_ARN`, plus issuer, audience and
/// `CAREFLOW_ACCESS_TOKEN_TTL_SECONDS` (default 900).
pub async fn issuer_from_vars(vars: &Vars) -> Result<TokenIssuer, ConfigError> {
    let doc: SigningKeyDocument = match vars.optional("CAREFLOW_JWT_SIGNING_KEY") {
        Some(raw) => serde_json::from_str(&raw).map_err(|_| ConfigError::Invalid {
            name: "CAREFLOW_JWT_SIGNING_KEY",
            message: "expected {\"kid\",\"private_key_pem\"}".into(),
        })?,
        None => {
            let arn = vars.required("CAREFLOW_JWT_SIGNING_KEY_SECRET_ARN")?;
            crate::secrets::get_json(vars, &arn).await?
        }
    };
    let key = SigningKey::from_document(&doc).map_err(|_| ConfigError::Invalid {
        name: "CAREFLOW_JWT_SIGNING_KEY",
        message: "not an RSA (2048 bits or more) PKCS#8 private key".into(),
    })?;
    let ttl = vars.parsed_or("CAREFLOW_ACCESS_TOKEN_TTL_SECONDS", 900u64)?;
    Ok(TokenIssuer::new(
        key,
        TokenSettings::from_vars(vars)?,
        Duration::from_secs(ttl),
    ))
}

#[derive(Clone, Debug)]
pub struct Accounts {
    pool: PgPool,
    refresh_ttl: Duration,
}

/// How long a refresh token lives unless `CAREFLOW_REFRESH_TOKEN_TTL_SECONDS` says otherwise.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// `CAREFLOW_REFRESH_TOKEN_TTL_SECONDS`, [`DEFAULT_REFRESH_TTL`] when unset.
pub fn refresh_ttl_from_vars(vars: &Vars) -> Result<Duration, ConfigError> {
    let seconds = vars.parsed_or(
        "CAREFLOW_REFRESH_TOKEN_TTL_SECONDS",
        DEFAULT_REFRESH_TTL.as_secs(),
    )?;
    Ok(Duration::from_secs(seconds))
}

/// What hands out token pairs (login, refresh): the accounts and the signing key.
#[derive(Clone, Debug)]
pub struct Sessions {
    pub accounts: Accounts,
    pub issuer: TokenIssuer,
}

impl Sessions {
    /// [`Accounts::login`] from `from` (the client's address, when known).
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<LoginOutcome> {
        self.accounts
            .login(&self.issuer, email, password, from)
            .await
    }

    /// [`Accounts::verify_second_factor`] from `from`.
    pub async fn verify_second_factor(
        &self,
        mfa_token: &str,
        proof: &Proof,
        from: Option<IpAddr>,
    ) -> Result<Verified> {
        self.accounts
            .verify_second_factor(&self.issuer, mfa_token, proof, from)
            .await
    }

    /// [`Accounts::refresh`] from `from`.
    pub async fn refresh(&self, presented: &str, from: Option<IpAddr>) -> Result<TokenPair> {
        self.accounts.refresh(&self.issuer, presented, from).await
    }
}

/// [`Accounts::from_vars`] and [`issuer_from_vars`].
impl crate::config::FromVars for Sessions {
    async fn build(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            accounts: Accounts::from_vars(vars).await?,
            issuer: issuer_from_vars(vars).await?,
        })
    }
}

impl crate::config::FromVars for Accounts {
    async fn build(vars: &Vars) -> Result<Self, ConfigError> {
        Self::from_vars(vars).await
    }
}

impl Accounts {
    pub fn new(pool: PgPool, refresh_ttl: Duration) -> Self {
        Self { pool, refresh_ttl }
    }

    /// Connects (lazily) with `DbConfig::from_vars` and reads [`refresh_ttl_from_vars`].
    pub async fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let pool = db::DbConfig::from_vars(vars).await?.pool()?;
        Ok(Self::new(pool, refresh_ttl_from_vars(vars)?))
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// An admin creates a doctor's account ([`crate::policy::create_doctor`]). The request is
    /// read only once the caller may: a stranger learns nothing from a malformed body.
    pub async fn create_doctor(
        &self,
        caller: &Caller,
        request: impl FnOnce() -> Result<NewDoctor>,
    ) -> Result<User> {
        let role = crate::policy::create_doctor(caller)?;
        let new = request()?;
        let doctor = self
            .create_user(NewUser {
                email: new.email,
                password: new.password,
                full_name: new.full_name,
                role,
                specialty: Some(new.specialty),
            })
            .await?;
        tracing::info!(admin = %caller.user_id, doctor = %doctor.user_id, "doctor created");
        Ok(doctor)
    }

    /// Creates a user after validating every field. Duplicate e-mail → 409.
    pub async fn create_user(&self, new: NewUser) -> Result<User> {
        let email = normalize_email("email", &new.email)?;
        let full_name = name("full_name", &new.full_name, NAME_MAX)?;
        let specialty = match (new.role.has_specialty(), new.specialty.as_deref()) {
            (true, Some(s)) => Some(name("specialty", s, SPECIALTY_MAX)?),
            (true, None) => return Err(Error::invalid("specialty", "is required")),
            (false, Some(_)) => return Err(Error::invalid("specialty", "only doctors have one")),
            (false, None) => None,
        };
        password::check_policy("password", &new.password, &email)?;
        let secret = new.password;
        let hash = blocking(move || password::hash(&secret)).await??;

        let client = db::client(&self.pool).await?;
        let id = Uuid::new_v4();
        let row = client
            .query_one(
                "INSERT INTO users (id, email, password_hash, full_name, role, specialty)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 RETURNING created_at",
                &[
                    &id,
                    &email,
                    &hash,
                    &full_name,
                    &new.role.as_str(),
                    &specialty,
                ],
            )
            .await
            .map_err(|e| match db::db_error_code(&e) {
                Some((code, _)) if *code == SqlState::UNIQUE_VIOLATION => Error::Conflict {
                    code: "email-taken",
                    message: "an account with this e-mail already exists".into(),
                },
                _ => e.into(),
            })?;
        tracing::info!(user_id = %id, role = %new.role, "user created");
        Ok(User {
            user_id: id,
            email,
            role: new.role,
            full_name,
            specialty,
            created_at: row.get(0),
        })
    }

    /// Succeeds when `id` is an account that may hold a patient profile; 404 otherwise.
    pub async fn require_patient_account(&self, id: Uuid) -> Result<()> {
        match self.get_user(id).await {
            Ok(user) if crate::policy::holds_a_profile(user.role) => Ok(()),
            Ok(_) | Err(Error::NotFound(_)) => Err(Error::NotFound("patient account")),
            Err(e) => Err(e),
        }
    }

    /// Succeeds when `id` is a doctor's account (who may join a care team); otherwise a 400
    /// naming `field`.
    pub async fn require_doctor_account(&self, id: Uuid, field: &'static str) -> Result<()> {
        match self.get_user(id).await {
            Ok(user) if crate::policy::joins_care_teams(user.role) => Ok(()),
            Ok(_) | Err(Error::NotFound(_)) => Err(Error::invalid(field, "is not a doctor")),
            Err(e) => Err(e),
        }
    }

    pub async fn get_user(&self, id: Uuid) -> Result<User> {
        let client = db::client(&self.pool).await?;
        let row = client
            .query_opt(
                "SELECT id, email, role, full_name, specialty, created_at FROM users WHERE id = $1",
                &[&id],
            )
            .await?
            .ok_or(Error::NotFound("user"))?;
        Ok(User {
            user_id: column(&row, "id")?,
            email: column(&row, "email")?,
            role: enum_column(&row, "role")?,
            full_name: column(&row, "full_name")?,
            specialty: column(&row, "specialty")?,
            created_at: column(&row, "created_at")?,
        })
    }

    /// Every doctor, by name: whom a patient can book.
    pub async fn doctors(&self) -> Result<Vec<Doctor>> {
        let client = db::client(&self.pool).await?;
        let rows = client
            .query(
                "SELECT id, full_name, specialty FROM users WHERE role = 'doctor' ORDER BY full_name, id",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Doctor {
                    doctor_id: column(r, "id")?,
                    full_name: column(r, "full_name")?,
                    specialty: column::<Option<String>>(r, "specialty")?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Checks credentials and starts a new refresh-token family. Unknown e-mail and wrong
    /// password give the same error after the same amount of work. Failures are counted
    /// against the account and the client's address ([`throttle`]); while either is blocked
    /// the answer is 429 before any password is checked.
    pub async fn login(
        &self,
        issuer: &TokenIssuer,
        email: &str,
        pw: &str,
        from: Option<IpAddr>,
    ) -> Result<LoginOutcome> {
        let rejected = || Error::Unauthenticated("invalid e-mail or password".into());
        // A malformed e-mail cannot belong to anyone, but still costs one hash.
        let email = normalize_email("email", email).ok();
        // The address first: a blocked address does not count against the account it names.
        let subjects: Vec<Subject> = from
            .map(Subject::Address)
            .into_iter()
            .chain(email.clone().map(Subject::Account))
            .collect();
        let client = db::client(&self.pool).await?;
        throttle::attempt(&client, &subjects).await?;
        let row = match &email {
            Some(email) => {
                client
                    .query_opt(
                        "SELECT id, role, password_hash FROM users WHERE email = $1",
                        &[email],
                    )
                    .await?
            }
            None => None,
        };
        let stored: Option<String> = row
            .as_ref()
            .map(|r| column(r, "password_hash"))
            .transpose()?;
        let presented = pw.to_owned();
        let ok = blocking(move || password::verify(&presented, stored.as_deref())).await?;
        let row = match row {
            Some(row) if ok => row,
            _ => return Err(rejected()),
        };
        throttle::succeeded(&client, &subjects).await?;
        let user_id: Uuid = column(&row, "id")?;
        let role: Role = enum_column(&row, "role")?;
        if crate::policy::requires_second_factor(role) {
            tracing::info!(user_id = %user_id, "password accepted; second factor required");
            return self
                .second_factor_challenge(&client, user_id)
                .await
                .map(LoginOutcome::SecondFactor);
        }
        let tokens = self
            .start_session(&client, issuer, user_id, role, Amr::Password)
            .await?;
        tracing::info!(user_id = %user_id, "login succeeded");
        Ok(LoginOutcome::Tokens(tokens))
    }

    /// Starts a refresh-token family for a session authenticated with `amr` and issues its
    /// first access token.
    pub(crate) async fn start_session(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        issuer: &TokenIssuer,
        user_id: Uuid,
        role: Role,
        amr: Amr,
    ) -> Result<TokenPair> {
        let (refresh_token, hash) = refresh::generate()?;
        let amr_values: Vec<&str> = amr.values().to_vec();
        client
            .execute(
                "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, amr)
                 VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)",
                &[
                    &Uuid::new_v4(),
                    &Uuid::new_v4(),
                    &user_id,
                    &hash,
                    &(self.refresh_ttl.as_secs() as f64),
                    &amr_values,
                ],
            )
            .await?;
        let access = issuer.issue(user_id, role, amr)?;
        Ok(TokenPair {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            refresh_token,
        })
    }

    /// Rotates a refresh token. Presenting one that was already rotated is taken as theft:
    /// the whole family is revoked and the caller gets 401.
    /// Rotates a refresh token ([`Self::rotate`]). Refused tokens are counted against the
    /// client's address; while it is blocked the answer is 429.
    pub async fn refresh(
        &self,
        issuer: &TokenIssuer,
        presented: &str,
        from: Option<IpAddr>,
    ) -> Result<TokenPair> {
        let subjects: Vec<Subject> = from.map(Subject::Address).into_iter().collect();
        throttle::attempt(&db::client(&self.pool).await?, &subjects).await?;
        let rotated = self.rotate(issuer, presented).await;
        // Only a refused token keeps its count; a rotation, or a failure of ours, gives it back.
        if !matches!(rotated, Err(Error::Unauthenticated(_))) {
            throttle::succeeded(&db::client(&self.pool).await?, &subjects).await?;
        }
        rotated
    }

    /// Trades a refresh token for a new pair; a reused one revokes its whole family.
    async fn rotate(&self, issuer: &TokenIssuer, presented: &str) -> Result<TokenPair> {
        let rejected = |why: &str| Error::Unauthenticated(why.to_owned());
        if !refresh::looks_valid(presented) {
            return Err(rejected("invalid refresh token"));
        }
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        // FOR UPDATE serialises concurrent refreshes of one token: the second one sees it
        // rotated and is treated as reuse.
        let row = tx
            .query_opt(
                "SELECT t.id, t.family_id, t.user_id, u.role, t.amr,
                        t.rotated_at IS NOT NULL AS rotated, t.revoked_at IS NOT NULL AS revoked,
                        t.expires_at <= now() AS expired
                 FROM refresh_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1
                 FOR UPDATE OF t",
                &[&refresh::hash(presented)],
            )
            .await?
            .ok_or_else(|| rejected("invalid refresh token"))?;
        let (id, family, user_id): (Uuid, Uuid, Uuid) = (
            column(&row, "id")?,
            column(&row, "family_id")?,
            column(&row, "user_id")?,
        );
        let role: Role = enum_column(&row, "role")?;
        let amr_values: Vec<String> = column(&row, "amr")?;
        let (rotated, revoked, expired): (bool, bool, bool) = (
            column(&row, "rotated")?,
            column(&row, "revoked")?,
            column(&row, "expired")?,
        );
        if revoked {
            return Err(rejected("refresh token revoked"));
        }
        if rotated {
            revoke_family(&tx, family).await?;
            tx.commit().await?;
            tracing::warn!(user_id = %user_id, family_id = %family, "refresh token reuse: family revoked");
            return Err(rejected(
                "refresh token reuse detected; please log in again",
            ));
        }
        if expired {
            return Err(rejected("refresh token expired"));
        }
        // The session keeps the factors it was opened with; a staff session without a second
        // factor (from before MFA) cannot be refreshed into tokens the API would refuse.
        let amr = Amr::from_values(&amr_values).unwrap_or(Amr::Password);
        if crate::policy::session_admissible(role, amr_values.as_slice()).is_err() {
            revoke_family(&tx, family).await?;
            tx.commit().await?;
            return Err(rejected("this account needs a second factor; log in again"));
        }
        let (next, next_hash) = refresh::generate()?;
        tx.execute(
            "UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1",
            &[&id],
        )
        .await?;
        tx.execute(
            "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at, amr)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5), $6)",
            &[
                &Uuid::new_v4(),
                &family,
                &user_id,
                &next_hash,
                &(self.refresh_ttl.as_secs() as f64),
                &amr_values,
            ],
        )
        .await?;
        let access = issuer.issue(user_id, role, amr)?;
        tx.commit().await?;
        Ok(TokenPair {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: access.expires_in,
            refresh_token: next,
        })
    }

    /// Revokes the family of a refresh token that belongs to `user_id`. Unknown tokens, or
    /// another user's, change nothing and are not reported (logout is idempotent).
    pub async fn logout(&self, user_id: Uuid, presented: &str) -> Result<()> {
        if !refresh::looks_valid(presented) {
            return Err(Error::invalid("refresh_token", "is not a refresh token"));
        }
        let mut client = db::client(&self.pool).await?;
        let tx = client.transaction().await?;
        // Lock the presented token first: a refresh rotating it right now finishes (and commits
        // its successor) before we go on, and the family update below, a new statement with a
        // new snapshot, then sees that successor too.
        let family: Option<Uuid> = tx
            .query_opt(
                "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2 FOR UPDATE",
                &[&refresh::hash(presented), &user_id],
            )
            .await?
            .map(|r| r.get(0));
        let revoked = match family {
            Some(family) => {
                tx.execute(
                    "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family_id = $1",
                    &[&family],
                )
                .await?
            }
            None => 0,
        };
        tx.commit().await?;
        tracing::info!(user_id = %user_id, tokens = revoked, "logout");
        Ok(())
    }

    /// Creates the first admin with a generated password, unless an admin exists already.
    /// Returns the password (shown once to whoever ran the bootstrap) or `None`.
    pub async fn bootstrap_admin(
        &self,
        email: &str,
        password: Option<String>,
    ) -> Result<Option<(User, String)>> {
        let client = db::client(&self.pool).await?;
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')",
                &[],
            )
            .await?
            .get(0);
        if exists {
            return Ok(None);
        }
        drop(client);
        let password = match password {
            Some(p) => p,
            None => generate_password()?,
        };
        let user = self
            .create_user(NewUser {
                email: email.to_owned(),
                password: password.clone(),
                full_name: "Administrator".into(),
                role: crate::policy::BOOTSTRAP_ROLE,
                specialty: None,
            })
            .await?;
        Ok(Some((user, password)))
    }
}

async fn revoke_family(tx: &db::Transaction<'_>, family: Uuid) -> Result<()> {
    tx.execute(
        "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family_id = $1",
        &[&family],
    )
    .await?;
    Ok(())
}

/// A random 24-character password from an unambiguous alphabet.
pub fn generate_password() -> Result<String> {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 24];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("random generator failed"))?;
    // 256 % 56 != 0: the bias is 0.3 bits over 24 characters, irrelevant at ~139 bits.
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_pass_the_policy() {
        let pw = generate_password().unwrap();
        assert_eq!(pw.len(), 24);
        password::check_policy("password", &pw, "admin@clinic.example").unwrap();
    }
}
