//! Passwords: a policy, argon2id hashing (OWASP parameters) and constant-shape verification.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Error, Result};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// argon2id, 19 MiB, 2 passes, 1 lane: OWASP's recommended minimum.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string with the live parameters and an arbitrary output: verifying against it costs one
/// full argon2id run and never matches, so "no such user" takes as long as "wrong password".
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$8kzu4bP8xUKd6CM3Er1jnsxn5A/HyHUQrkFG2eGxsXw";

/// Checks the password policy; `field` names the field in the error.
pub fn check_policy(field: &str, password: &str, email: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Error::invalid(
            field,
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    let lowered = password.to_lowercase();
    let email = email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or_default();
    if lowered.contains(&email) || (local.chars().count() >= 3 && lowered.contains(local)) {
        return Err(Error::invalid(field, "must not contain the e-mail address"));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Err(Error::invalid(field, "is too repetitive"));
    }
    Ok(())
}

/// Hashes a password into a PHC string. CPU-heavy (~20 ms): call from a blocking task.
pub fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))
}

/// Verifies a password against a stored PHC string (or the decoy when there is none).
/// CPU-heavy: call from a blocking task.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (DECOY_HASH, false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ok = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("correct horse batterY", Some(&h)));
    }

    #[test]
    fn decoy_uses_the_live_parameters_and_never_matches() {
        let decoy = PasswordHash::new(DECOY_HASH).unwrap();
        let live = hash("anything at all 123").unwrap();
        let live = PasswordHash::new(&live).unwrap();
        assert_eq!(decoy.algorithm, live.algorithm);
        assert_eq!(decoy.params, live.params);
        assert!(!verify("", None));
    }

    #[test]
    fn policy() {
        let email = "jane.roe@example.com";
        assert!(check_policy("password", "a sound passphrase", email).is_ok());
        for bad in [
            "short",
            "jane.roe-is-my-password",
            "aaaaaaaaaaaaaaaa",
            &"x1".repeat(65),
        ] {
            let err = check_policy("password", bad, email).unwrap_err();
            assert_eq!(err.problem().field.as_deref(), Some("password"), "{bad}");
        }
    }
}
