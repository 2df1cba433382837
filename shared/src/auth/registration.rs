//! Self-registration that does not tell a stranger which e-mail addresses have accounts.
//!
//! `register` answers the same (202, "check your inbox") whatever the address, after the same
//! work (one argon2id hash, one e-mail): a new address gets a link, a taken one a notice to its
//! owner. The account is created by [`Accounts::complete_registration`], which needs the link's
//! token *and* the password chosen at registration: whoever registers someone else's address
//! cannot complete it without the mailbox, and the mailbox's owner cannot be tricked into
//! completing an account that carries a stranger's password.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use super::accounts::{Accounts, TokenPair, User, blocking};
#[cfg(feature = "email")]
use super::accounts::{NAME_MAX, NewUser};
use super::throttle::{self, Subject};
use super::token::TokenIssuer;
use super::{Amr, Role, password};
use crate::db::{self, SqlState, column};
#[cfg(feature = "email")]
use crate::validate::{name, normalize_email};
use crate::{Error, Result};

/// How long a registration link works.
pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);
const TOKEN_PREFIX: &str = "cfv_";

/// What `POST /auth/register` answers, whether or not the address had an account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegistrationAccepted {
    pub status: &'static str,
    pub email: String,
}

/// A completed registration: the new account and its first session.
#[derive(Clone, Serialize)]
pub struct Registered {
    #[serde(flatten)]
    pub user: User,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("user_id", &self.user.user_id)
            .finish_non_exhaustive()
    }
}

use super::refresh::hash as token_hash;

fn looks_like_token(token: &str) -> bool {
    super::refresh::looks_valid_prefixed(TOKEN_PREFIX, token)
}

#[cfg(any(feature = "email", test))]
fn new_token() -> Result<String> {
    super::refresh::generate_prefixed(TOKEN_PREFIX).map(|(token, _)| token)
}

fn bad_link() -> Error {
    Error::invalid(
        "token",
        "this link is invalid or has expired; register again",
    )
}

impl Accounts {
    /// Self-registration of a patient from `from`. Every attempt counts against the address
    /// ([`throttle::ADDRESS_FREE_REGISTRATIONS`]). Bad fields are 400s (they say nothing about
    /// other accounts); otherwise the answer is the same for a new and a taken address.
    #[cfg(feature = "email")]
    pub async fn register(
        &self,
        new: NewUser,
        from: Option<IpAddr>,
        mailer: &crate::email::Mailer,
    ) -> Result<RegistrationAccepted> {
        if let Some(ip) = from {
            let client = db::client(self.pool()).await?;
            throttle::attempt(&client, &[Subject::Registrations(ip)]).await?;
        }
        let email = normalize_email("email", &new.email)?;
        let full_name = name("full_name", &new.full_name, NAME_MAX)?;
        password::check_policy("password", &new.password, &email)?;
        // Every attempt also counts against the mailbox it would write to, whether or not the
        // address has an account (so the limit says nothing about that): nobody can flood an
        // inbox from many addresses.
        throttle::attempt(
            &db::client(self.pool()).await?,
            &[Subject::Mailbox(email.clone())],
        )
        .await?;
        // Hashed in both cases, so a taken address is not answered faster.
        let secret = new.password;
        let hash = blocking(move || password::hash(&secret)).await??;
        let client = db::client(self.pool()).await?;
        let taken = client
            .query_opt("SELECT 1 FROM users WHERE email = $1", &[&email])
            .await?
            .is_some();
        if taken {
            // No connection is held while SES answers.
            drop(client);
            mailer
                .send(
                    &email,
                    "Your CareFlow account",
                    "Someone (perhaps you) asked to register a CareFlow account with this \
                     address, which already has one. If it was you, sign in, or ask the clinic \
                     to help with your password. If it was not you, you can ignore this message: \
                     nothing has changed.",
                )
                .await?;
        } else {
            let token = new_token()?;
            client
                .execute(
                    "INSERT INTO pending_registrations (token_hash, email, password_hash, full_name, expires_at)
                     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
                    &[
                        &token_hash(&token),
                        &email,
                        &hash,
                        &full_name,
                        &(LINK_TTL.as_secs() as f64),
                    ],
                )
                .await?;
            drop(client);
            let link = mailer.portal_link("verify-email", &token);
            mailer
                .send(
                    &email,
                    "Confirm your CareFlow registration",
                    &format!(
                        "To finish registering with CareFlow, open this link within 24 hours \
                         and enter the password you chose:\n\n{link}\n\nIf you did not register, \
                         ignore this message: no account is created without it."
                    ),
                )
                .await?;
        }
        tracing::info!("registration accepted");
        Ok(RegistrationAccepted {
            status: "verification_sent",
            email,
        })
    }

    /// Creates the account of a pending registration: `token` from the link and the password
    /// chosen at registration. Wrong passwords count against the address. The account is a
    /// patient's; the answer carries its first tokens.
    pub async fn complete_registration(
        &self,
        issuer: &TokenIssuer,
        token: &str,
        presented: &str,
        from: Option<IpAddr>,
    ) -> Result<Registered> {
        if !looks_like_token(token) {
            return Err(bad_link());
        }
        let address: Vec<Subject> = from.map(Subject::Address).into_iter().collect();
        throttle::attempt(&db::client(self.pool()).await?, &address).await?;
        let completed = self.complete_checked(issuer, token, presented).await;
        if !matches!(completed, Err(Error::Unauthenticated(_))) {
            throttle::succeeded(&db::client(self.pool()).await?, &address).await?;
        }
        completed
    }

    /// Checks the password with no connection held (argon2id takes a while), then creates the
    /// account in one transaction that re-reads the registration under a lock.
    async fn complete_checked(
        &self,
        issuer: &TokenIssuer,
        token: &str,
        presented: &str,
    ) -> Result<Registered> {
        let stored: String = {
            let client = db::client(self.pool()).await?;
            let row = client
                .query_opt(
                    "SELECT password_hash FROM pending_registrations
                     WHERE token_hash = $1 AND expires_at > now()",
                    &[&token_hash(token)],
                )
                .await?
                .ok_or_else(bad_link)?;
            column(&row, "password_hash")?
        };
        let presented = presented.to_owned();
        let matches = blocking(move || password::verify(&presented, Some(&stored))).await?;
        if !matches {
            return Err(Error::Unauthenticated(
                "the password is not the one chosen at registration".into(),
            ));
        }
        self.complete_locked(issuer, token).await
    }

    async fn complete_locked(&self, issuer: &TokenIssuer, token: &str) -> Result<Registered> {
        let mut client = db::client(self.pool()).await?;
        let tx = client.transaction().await?;
        // Confirmations of one address (two links of it) are decided one after the other: each
        // locks its own registration, inserts the user and deletes the address's others, which
        // would otherwise deadlock on each other's rows.
        let email: String = tx
            .query_opt(
                "SELECT email FROM pending_registrations WHERE token_hash = $1",
                &[&token_hash(token)],
            )
            .await?
            .map(|r| r.get(0))
            .ok_or_else(bad_link)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 8108))",
            &[&email],
        )
        .await?;
        // Still there (a concurrent confirmation may have used it meanwhile)?
        let row = tx
            .query_opt(
                "SELECT email, password_hash, full_name FROM pending_registrations
                 WHERE token_hash = $1 AND expires_at > now() FOR UPDATE",
                &[&token_hash(token)],
            )
            .await?
            .ok_or_else(bad_link)?;
        let email: String = column(&row, "email")?;
        let stored: String = column(&row, "password_hash")?;
        let full_name: String = column(&row, "full_name")?;
        let id = Uuid::new_v4();
        let role = crate::policy::REGISTERED_ROLE;
        let inserted = tx
            .query_one(
                "INSERT INTO users (id, email, password_hash, full_name, role)
                 VALUES ($1, $2, $3, $4, $5) RETURNING created_at",
                &[&id, &email, &stored, &full_name, &role.as_str()],
            )
            .await
            .map_err(|e| match db::db_error_code(&e) {
                // The mailbox's owner may learn their own address has an account.
                Some((code, _)) if *code == SqlState::UNIQUE_VIOLATION => Error::Conflict {
                    code: "email-taken",
                    message: "an account with this e-mail already exists; sign in".into(),
                },
                _ => e.into(),
            })?;
        // Every other pending registration of the address is void now.
        tx.execute(
            "DELETE FROM pending_registrations WHERE email = $1",
            &[&email],
        )
        .await?;
        let tokens = self
            .start_session(&tx, issuer, id, Role::Patient, Amr::Password)
            .await?;
        tx.commit().await?;
        tracing::info!(user_id = %id, "registration completed");
        Ok(Registered {
            user: User {
                user_id: id,
                email,
                role,
                full_name,
                specialty: None,
                created_at: inserted.get(0),
            },
            tokens,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_have_their_own_shape() {
        let token = new_token().unwrap();
        assert!(looks_like_token(&token), "{token}");
        assert!(!looks_like_token(&token.replacen("cfv_", "cfr_", 1)));
        assert!(!looks_like_token("cfv_short"));
        assert_ne!(token_hash(&token), token_hash(&new_token().unwrap()));
    }
}
