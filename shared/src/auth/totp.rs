//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 30-second steps,
//! six digits, what every authenticator app speaks. A code is accepted one step either side of
//! now (clock drift), and only for a step later than the last one accepted, so a code cannot be
//! used twice.

use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use data_encoding::BASE32_NOPAD;

use crate::{Error, Result};

pub const STEP_SECONDS: i64 = 30;
pub const DIGITS: u32 = 6;
/// 160 bits, the secret length RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;

/// A shared TOTP secret. Its `Debug` shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    pub fn generate() -> Result<Self> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| Error::internal("random generator failed"))?;
        Ok(Self(bytes))
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// A secret as an app shows it (base32, any case, spaces ignored).
    pub fn from_base32(text: &str) -> Option<Self> {
        let canonical: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        BASE32_NOPAD.decode(canonical.as_bytes()).ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as authenticator apps take it when typed in: base32 without padding.
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let (issuer, account) = (percent_encode(issuer), percent_encode(account));
        format!(
            "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            self.base32()
        )
    }

    /// The HOTP value of `step`, zero-padded to six digits.
    pub fn code_at(&self, step: i64) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &self.0);
        let mac = hmac::sign(&key, &step.to_be_bytes());
        let mac = mac.as_ref();
        let offset = (mac[mac.len() - 1] & 0x0f) as usize;
        let binary = u32::from_be_bytes([
            mac[offset] & 0x7f,
            mac[offset + 1],
            mac[offset + 2],
            mac[offset + 3],
        ]);
        format!(
            "{:0width$}",
            binary % 10u32.pow(DIGITS),
            width = DIGITS as usize
        )
    }

    /// The step `code` is valid for, within one step of `unix_time` and later than
    /// `last_step` (the last one accepted), if any.
    pub fn verify(&self, code: &str, unix_time: i64, last_step: Option<i64>) -> Option<i64> {
        let code = code.trim();
        if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = step_of(unix_time);
        (now - 1..=now + 1)
            .filter(|step| last_step.is_none_or(|last| *step > last))
            .find(|step| {
                aws_lc_rs::constant_time::verify_slices_are_equal(
                    self.code_at(*step).as_bytes(),
                    code.as_bytes(),
                )
                .is_ok()
            })
    }
}

/// The time step of a Unix time.
pub fn step_of(unix_time: i64) -> i64 {
    unix_time.div_euclid(STEP_SECONDS)
}

/// Percent-encodes everything but RFC 3986's unreserved characters (an e-mail in a label).
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 (its eight-digit values; six digits are their last six).
    #[test]
    fn rfc_6238_test_vectors() {
        let secret = Secret::from_bytes(b"12345678901234567890".to_vec());
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.code_at(step_of(time)), eight[2..], "{time}");
        }
    }

    #[test]
    fn a_code_holds_one_step_either_side_and_only_once() {
        let secret = Secret::generate().unwrap();
        let now = 1_800_000_015;
        let step = step_of(now);
        for (offset, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = secret.code_at(step + offset);
            assert_eq!(
                secret.verify(&code, now, None),
                accepted.then_some(step + offset),
                "{offset}"
            );
        }
        let code = secret.code_at(step);
        assert_eq!(secret.verify(&code, now, Some(step)), None, "reused");
        assert_eq!(secret.verify(&code, now, Some(step - 1)), Some(step));
        for bad in ["", "12345", "1234567", "abcdef", "12 345"] {
            assert_eq!(secret.verify(bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn otpauth_uri_names_the_account_and_the_secret() {
        let secret = Secret::from_bytes(b"12345678901234567890".to_vec());
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(
            Secret::from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq"),
            Some(secret.clone())
        );
        assert_eq!(
            secret.otpauth_uri("CareFlow", "dr.who+1@example.com"),
            "otpauth://totp/CareFlow:dr.who%2B1%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=CareFlow&algorithm=SHA1&digits=6&period=30"
        );
        assert!(!format!("{secret:?}").contains("GEZ"));
    }
}
