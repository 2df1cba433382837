//! Opaque refresh tokens: 256 random bits, shown to the client once, stored only as SHA-256.
//!
//! A fast hash is enough here (unlike passwords): the input has full entropy, so there is
//! nothing to brute-force. The `cfr_` prefix lets secret scanners recognise leaked tokens.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const PREFIX: &str = "cfr_";

/// A new token and the hash to store.
pub fn generate() -> crate::Result<(String, Vec<u8>)> {
    generate_prefixed(PREFIX)
}

/// A new opaque token of the same make under another prefix (second-factor challenges,
/// registration links: each kind is recognisable and never accepted for another) and its hash.
pub fn generate_prefixed(prefix: &str) -> crate::Result<(String, Vec<u8>)> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| crate::Error::internal("random generator failed"))?;
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&token);
    Ok((token, hash))
}

/// The stored form of a presented token.
pub fn hash(token: &str) -> Vec<u8> {
    digest(&SHA256, token.as_bytes()).as_ref().to_vec()
}

/// Cheap shape check before touching the database.
pub fn looks_valid(token: &str) -> bool {
    looks_valid_prefixed(PREFIX, token)
}

/// The shape check of [`generate_prefixed`]'s tokens.
pub fn looks_valid_prefixed(prefix: &str, token: &str) -> bool {
    token.len() == prefix.len() + 43
        && token.starts_with(prefix)
        && token[prefix.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    #[test]
    fn generated_tokens_are_unique_and_well_formed() {
        let (a, ha) = super::generate().unwrap();
        let (b, _) = super::generate().unwrap();
        assert_ne!(a, b);
        assert!(super::looks_valid(&a));
        assert_eq!(super::hash(&a), ha);
        assert!(!super::looks_valid("cfr_short"));
    }
}
