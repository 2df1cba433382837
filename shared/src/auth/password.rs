//! Passwords: a policy, argon2id hashing (OWASP parameters) and constant-shape verification.

use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::{Error, Result};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// argon2id, 19 MiB, 2 passes, 1 lane: OWASP's recommended minimum.
const M_COST_KIB: u32 = 19 * 1024;

fn live_params() -> Params {
    Params::new(M_COST_KIB, 2, 1, None).expect("static argon2 parameters are valid")
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, live_params())
}

/// The one 19 MiB working area the live parameters need, kept for the life of the process.
/// Allocated per hash, freed copies piled up in glibc's arenas across tokio's blocking threads
/// (peak RSS 122 MB over 1,000 logins, against 19 MiB needed); kept, it is 28 MB, and every
/// hash after the first touches no new page. A second hash at the same moment (the runner, tests) gets its own.
static WORKING_AREA: Mutex<Option<Vec<Block>>> = Mutex::new(None);

/// argon2 of `password` and `salt` into `out`, in the kept working area when it fits.
fn compute(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let needed = argon2.params().block_count();
    let live = live_params().block_count();
    let kept = if needed <= live {
        WORKING_AREA.lock().ok().and_then(|mut area| area.take())
    } else {
        None // a stored hash with larger parameters: its memory is not kept
    };
    let mut blocks = kept.unwrap_or_else(|| vec![Block::default(); needed.max(live)]);
    let result = argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..]);
    if blocks.len() == live
        && let Ok(mut area) = WORKING_AREA.lock()
    {
        area.get_or_insert(blocks);
    }
    result
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
    let failed =
        |e: &dyn std::fmt::Display| Error::internal(format!("password hashing failed: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let argon2 = argon2();
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(compute(&argon2, password.as_bytes(), salt_bytes, out)?)
    })
    .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Verifies a password against a stored PHC string (or the decoy when there is none), with
/// the parameters the string names. CPU-heavy: call from a blocking task.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let (phc, real) = match stored {
        Some(phc) => (phc, true),
        None => (DECOY_HASH, false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let computed = Output::init_with(expected.len(), |out| {
        Ok(compute(&argon2, password.as_bytes(), salt, out)?)
    });
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|computed| computed == expected) && real
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

    /// Hashes made by the crate's own API (and before the kept working area) still verify,
    /// other parameters included, and a hash of ours verifies with the crate's verifier.
    #[test]
    fn agrees_with_the_crates_own_hasher() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify("correct horse battery", Some(&theirs)));
        assert!(!verify("correct horse batterx", Some(&theirs)));
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(64, 1, 1, Some(16)).unwrap(),
        )
        .hash_password(b"correct horse battery", &salt)
        .unwrap()
        .to_string();
        assert!(verify("correct horse battery", Some(&small)));
        let larger = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(M_COST_KIB * 2, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &salt)
        .unwrap()
        .to_string();
        assert!(verify("correct horse battery", Some(&larger)));
        let ours = hash("correct horse battery").unwrap();
        assert!(
            argon2()
                .verify_password(b"correct horse battery", &PasswordHash::new(&ours).unwrap())
                .is_ok()
        );
        assert!(!verify(
            "correct horse battery",
            Some("$argon2id$v=19$m=19456,t=2,p=1$bm9zYWx0")
        ));
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
