//! The second factor of staff accounts ([`crate::policy::requires_second_factor`]): TOTP
//! enrolment, the login challenge, single-use recovery codes and an admin's reset.
//!
//! A correct password for such an account yields a short-lived challenge (`mfa_token`), never
//! tokens. The challenge buys one thing: an enrolment (when the account has no confirmed
//! factor: the secret is shown once, as an `otpauth://` URI) and tokens once a valid code is
//! given (a TOTP code, or one of ten recovery codes). The first valid code of an enrolment
//! confirms it and returns the recovery codes, once. Wrong codes are counted against the
//! challenge (five spend it) and against the account ([`throttle::Subject::SecondFactor`]).

use std::net::IpAddr;
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use uuid::Uuid;

use super::accounts::{Accounts, TokenPair};
use super::throttle::{self, Subject};
use super::token::TokenIssuer;
use super::totp::Secret;
use super::{Amr, Caller, Role};
use crate::db::{self, column, enum_column};
use crate::{Error, Result};

/// How long a challenge lasts.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(300);
/// Wrong codes that spend a challenge.
pub const CHALLENGE_ATTEMPTS: i32 = 5;
/// Recovery codes per enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The issuer an authenticator app shows next to the account.
pub const ISSUER_LABEL: &str = "CareFlow";
const CHALLENGE_PREFIX: &str = "cfm_";

/// What login answers for an account that needs a second factor.
#[derive(Clone, Serialize)]
pub struct MfaChallenge {
    /// Always true: tells a client this is not a token pair.
    pub mfa_required: bool,
    pub mfa_token: String,
    /// The account has no confirmed factor yet: enrol first (`POST /auth/mfa/enroll`).
    pub enrolment_required: bool,
    pub expires_in: u64,
}

impl std::fmt::Debug for MfaChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MfaChallenge")
            .field("enrolment_required", &self.enrolment_required)
            .finish_non_exhaustive()
    }
}

/// A login's answer: tokens, or a second-factor challenge.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum LoginOutcome {
    Tokens(TokenPair),
    SecondFactor(MfaChallenge),
}

/// A new TOTP secret, shown once.
#[derive(Clone, Serialize)]
pub struct Enrolment {
    /// Base32, for typing into an app.
    pub secret: String,
    /// For a QR code.
    pub otpauth_uri: String,
    pub digits: u32,
    pub period: i64,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Enrolment(..)")
    }
}

/// What a client presents with a challenge.
#[derive(Clone, PartialEq, Eq)]
pub enum Proof {
    Totp(String),
    RecoveryCode(String),
}

/// Tokens after a second factor, and the recovery codes when this code confirmed an enrolment.
#[derive(Clone, Serialize)]
pub struct Verified {
    #[serde(flatten)]
    pub tokens: TokenPair,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verified(..)")
    }
}

use super::refresh::hash as challenge_hash;

fn looks_like_challenge(token: &str) -> bool {
    super::refresh::looks_valid_prefixed(CHALLENGE_PREFIX, token)
}

fn random<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::internal("random generator failed"))?;
    Ok(bytes)
}

/// A recovery code: 12 characters of an unambiguous alphabet (60 bits), as `XXXX-XXXX-XXXX`.
fn new_recovery_code() -> Result<String> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let chars: Vec<char> = random::<12>()?
        .iter()
        .map(|b| ALPHABET[(*b & 31) as usize] as char)
        .collect();
    Ok(chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// The stored form of a recovery code, whatever the case, spaces or dashes it was typed with.
fn recovery_hash(code: &str) -> Vec<u8> {
    let canonical: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    digest(&SHA256, canonical.as_bytes()).as_ref().to_vec()
}

fn already_enrolled() -> Error {
    Error::Conflict {
        code: "second-factor-enrolled",
        message: "this account already has a second factor; an admin can reset a lost one".into(),
    }
}

fn invalid_challenge() -> Error {
    Error::Unauthenticated("the sign-in challenge is invalid or expired; log in again".into())
}

impl Accounts {
    /// A new challenge for `user_id` (called by login once the password is right).
    pub(crate) async fn second_factor_challenge(
        &self,
        client: &db::Client,
        user_id: Uuid,
    ) -> Result<MfaChallenge> {
        let token = format!(
            "{CHALLENGE_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(random::<32>()?)
        );
        client
            .execute(
                "INSERT INTO mfa_challenges (token_hash, user_id, expires_at)
                 VALUES ($1, $2, now() + make_interval(secs => $3))",
                &[
                    &challenge_hash(&token),
                    &user_id,
                    &(CHALLENGE_TTL.as_secs() as f64),
                ],
            )
            .await?;
        let enrolled: bool = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM mfa_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL)",
                &[&user_id],
            )
            .await?
            .get(0);
        Ok(MfaChallenge {
            mfa_required: true,
            mfa_token: token,
            enrolment_required: !enrolled,
            expires_in: CHALLENGE_TTL.as_secs(),
        })
    }

    /// A new TOTP secret for the challenged account, replacing an unconfirmed one; 409 if the
    /// account already has a confirmed factor (an admin resets a lost one).
    pub async fn enroll_second_factor(&self, mfa_token: &str) -> Result<Enrolment> {
        if !looks_like_challenge(mfa_token) {
            return Err(invalid_challenge());
        }
        let mut client = db::client(self.pool()).await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT c.user_id, u.email, f.confirmed_at IS NOT NULL AS confirmed
                 FROM mfa_challenges c
                 JOIN users u ON u.id = c.user_id
                 LEFT JOIN mfa_factors f ON f.user_id = c.user_id
                 WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > now()
                   AND c.attempts < $2
                 FOR UPDATE OF c",
                &[&challenge_hash(mfa_token), &CHALLENGE_ATTEMPTS],
            )
            .await?
            .ok_or_else(invalid_challenge)?;
        let user_id: Uuid = column(&row, "user_id")?;
        let email: String = column(&row, "email")?;
        let confirmed: Option<bool> = column(&row, "confirmed")?;
        if confirmed == Some(true) {
            return Err(already_enrolled());
        }
        let secret = Secret::generate()?;
        let written = tx
            .execute(
                "INSERT INTO mfa_factors (user_id, secret) VALUES ($1, $2)
                 ON CONFLICT (user_id) DO UPDATE SET secret = EXCLUDED.secret, last_step = NULL,
                     created_at = now()
                 WHERE mfa_factors.confirmed_at IS NULL",
                &[&user_id, &secret.as_bytes()],
            )
            .await?;
        // A confirmation that committed meanwhile: this secret was not stored, so not shown.
        if written == 0 {
            return Err(already_enrolled());
        }
        tx.commit().await?;
        tracing::info!(user_id = %user_id, "second factor enrolment started");
        Ok(Enrolment {
            secret: secret.base32(),
            otpauth_uri: secret.otpauth_uri(ISSUER_LABEL, &email),
            digits: super::totp::DIGITS,
            period: super::totp::STEP_SECONDS,
        })
    }

    /// Trades a challenge and a valid code for tokens whose `amr` names the second factor.
    pub async fn verify_second_factor(
        &self,
        issuer: &TokenIssuer,
        mfa_token: &str,
        proof: &Proof,
        from: Option<IpAddr>,
    ) -> Result<Verified> {
        let address: Vec<Subject> = from.map(Subject::Address).into_iter().collect();
        let account = {
            let client = db::client(self.pool()).await?;
            throttle::attempt(&client, &address).await?;
            let owner: Option<Uuid> = if looks_like_challenge(mfa_token) {
                client
                    .query_opt(
                        "SELECT user_id FROM mfa_challenges WHERE token_hash = $1",
                        &[&challenge_hash(mfa_token)],
                    )
                    .await?
                    .map(|r| r.get(0))
            } else {
                None
            };
            let Some(owner) = owner else {
                return Err(invalid_challenge());
            };
            let account = [Subject::SecondFactor(owner)];
            throttle::attempt(&client, &account).await?;
            account
        };
        // One connection at a time: the throttle's is back in the pool before the check.
        let verified = self.verify_locked(issuer, mfa_token, proof).await;
        // A right code, or a failure of ours, gives the counts back; a wrong one keeps them.
        if !matches!(verified, Err(Error::Unauthenticated(_))) {
            let client = db::client(self.pool()).await?;
            throttle::succeeded(&client, &account).await?;
            throttle::succeeded(&client, &address).await?;
        }
        verified
    }

    async fn verify_locked(
        &self,
        issuer: &TokenIssuer,
        mfa_token: &str,
        proof: &Proof,
    ) -> Result<Verified> {
        let mut client = db::client(self.pool()).await?;
        let tx = client.transaction().await?;
        let hash = challenge_hash(mfa_token);
        // The challenge row, then the factor row, locked: concurrent codes for one challenge or
        // one account are decided one after the other.
        let row = tx
            .query_opt(
                "SELECT c.user_id, u.role FROM mfa_challenges c JOIN users u ON u.id = c.user_id
                 WHERE c.token_hash = $1 AND c.used_at IS NULL AND c.expires_at > now()
                   AND c.attempts < $2
                 FOR UPDATE OF c",
                &[&hash, &CHALLENGE_ATTEMPTS],
            )
            .await?
            .ok_or_else(invalid_challenge)?;
        let user_id: Uuid = column(&row, "user_id")?;
        let role: Role = enum_column(&row, "role")?;
        let factor = tx
            .query_opt(
                "SELECT secret, confirmed_at IS NOT NULL AS confirmed, last_step
                 FROM mfa_factors WHERE user_id = $1 FOR UPDATE",
                &[&user_id],
            )
            .await?
            .ok_or(Error::Conflict {
                code: "second-factor-not-enrolled",
                message: "enrol a second factor first (POST /auth/mfa/enroll)".into(),
            })?;
        let secret = Secret::from_bytes(column(&factor, "secret")?);
        let confirmed: bool = column(&factor, "confirmed")?;
        let last_step: Option<i64> = column(&factor, "last_step")?;
        let accepted = match proof {
            Proof::Totp(code) => secret
                .verify(code, chrono::Utc::now().timestamp(), last_step)
                .map(|step| (Some(step), Amr::PasswordAndTotp)),
            Proof::RecoveryCode(code) if confirmed => tx
                .execute(
                    "UPDATE mfa_recovery_codes SET used_at = now()
                     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                    &[&user_id, &recovery_hash(code)],
                )
                .await?
                .eq(&1)
                .then_some((None, Amr::PasswordAndRecoveryCode)),
            Proof::RecoveryCode(_) => None,
        };
        let Some((step, amr)) = accepted else {
            tx.execute(
                "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = $1",
                &[&hash],
            )
            .await?;
            tx.commit().await?;
            tracing::warn!(user_id = %user_id, "wrong second-factor code");
            return Err(Error::Unauthenticated(
                "the code is not valid (or was used already)".into(),
            ));
        };
        tx.execute(
            "UPDATE mfa_challenges SET used_at = now() WHERE token_hash = $1",
            &[&hash],
        )
        .await?;
        let recovery_codes = if confirmed {
            if let Some(step) = step {
                tx.execute(
                    "UPDATE mfa_factors SET last_step = $2 WHERE user_id = $1",
                    &[&user_id, &step],
                )
                .await?;
            }
            None
        } else {
            // The first valid code confirms the enrolment and brings fresh recovery codes.
            tx.execute(
                "UPDATE mfa_factors SET confirmed_at = now(), last_step = $2 WHERE user_id = $1",
                &[&user_id, &step],
            )
            .await?;
            tx.execute(
                "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
                &[&user_id],
            )
            .await?;
            let mut codes = Vec::with_capacity(RECOVERY_CODES);
            for _ in 0..RECOVERY_CODES {
                let code = new_recovery_code()?;
                tx.execute(
                    "INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
                    &[&user_id, &recovery_hash(&code)],
                )
                .await?;
                codes.push(code);
            }
            record_event(&tx, user_id, user_id, "second_factor_enrolled").await?;
            Some(codes)
        };
        if amr == Amr::PasswordAndRecoveryCode {
            record_event(&tx, user_id, user_id, "recovery_code_used").await?;
        }
        let tokens = self.start_session(&tx, issuer, user_id, role, amr).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user_id, "second factor accepted");
        Ok(Verified {
            tokens,
            recovery_codes,
        })
    }

    /// An admin removes `account`'s second factor and recovery codes and ends its sessions: its
    /// next login enrols again. Recorded in `account_events`. 404 if there is no such account.
    pub async fn reset_second_factor(&self, caller: &Caller, account: Uuid) -> Result<()> {
        crate::policy::reset_second_factor(caller, account)?;
        let mut client = db::client(self.pool()).await?;
        let tx = client.transaction().await?;
        let exists = tx
            .query_opt("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&account])
            .await?
            .is_some();
        if !exists {
            return Err(Error::NotFound("user"));
        }
        tx.execute("DELETE FROM mfa_factors WHERE user_id = $1", &[&account])
            .await?;
        tx.execute(
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
            &[&account],
        )
        .await?;
        tx.execute(
            "UPDATE mfa_challenges SET used_at = coalesce(used_at, now()) WHERE user_id = $1",
            &[&account],
        )
        .await?;
        tx.execute(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = $1",
            &[&account],
        )
        .await?;
        record_event(&tx, account, caller.user_id, "second_factor_reset").await?;
        tx.commit().await?;
        tracing::warn!(user_id = %account, actor = %caller.user_id, "second factor reset");
        Ok(())
    }
}

async fn record_event(
    tx: &db::Transaction<'_>,
    account: Uuid,
    actor: Uuid,
    event: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO account_events (id, user_id, actor_id, event) VALUES ($1, $2, $3, $4)",
        &[&Uuid::new_v4(), &account, &actor, &event],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_readable_and_typed_any_way() {
        let code = new_recovery_code().unwrap();
        assert_eq!(code.len(), 14);
        assert_eq!(code.matches('-').count(), 2);
        assert_eq!(
            recovery_hash(&code),
            recovery_hash(&code.to_lowercase().replace('-', " "))
        );
        assert_ne!(
            recovery_hash(&code),
            recovery_hash(&new_recovery_code().unwrap())
        );
    }

    #[test]
    fn challenge_tokens_have_their_own_shape() {
        assert!(looks_like_challenge(&format!("cfm_{}", "a".repeat(43))));
        assert!(!looks_like_challenge(&format!("cfr_{}", "a".repeat(43))));
        assert!(!looks_like_challenge("cfm_short"));
    }
}
