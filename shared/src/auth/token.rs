//! Access tokens: RS256 JWTs with a `kid`, published as a JWKS.
//!
//! RSA because API Gateway's HTTP API JWT authorizer verifies RSA signatures only (RS256, RS384,
//! RS512); it picks the key by `kid` from the issuer's `jwks_uri`. Verification pins the
//! algorithm to RS256 (so `alg: none`, HS256-with-the-public-key and tokens of any other
//! algorithm fail), selects the key by `kid`, and checks iss, aud, exp and nbf with a small
//! leeway. The signing key is a 2048-bit (or larger) RSA key in PKCS#8, held in Secrets Manager
//! as `{"kid": "...", "private_key_pem": "..."}`; verifiers get only public keys, as a JWKS that
//! keeps the previous key during a rotation.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Amr, Claims, Role};
use crate::config::{ConfigError, Vars};
use crate::{Error, Result};

/// Clock skew tolerated on exp and nbf.
const LEEWAY_SECONDS: u64 = 30;

/// The one algorithm tokens are signed and verified with.
pub const ALGORITHM: Algorithm = Algorithm::RS256;

/// The smallest RSA modulus accepted for signing, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// One public key in JWKS form (RFC 7517/7518 RSA key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    /// The modulus, base64url without padding.
    pub n: String,
    /// The public exponent, base64url without padding.
    pub e: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// A JSON Web Key Set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// Reads `CAREFLOW_JWT_PUBLIC_JWKS`.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        let raw = vars.required("CAREFLOW_JWT_PUBLIC_JWKS")?;
        serde_json::from_str(&raw).map_err(|e| ConfigError::Invalid {
            name: "CAREFLOW_JWT_PUBLIC_JWKS",
            message: e.to_string(),
        })
    }
}

/// The stored form of a signing key (the Secrets Manager secret's value).
#[derive(Clone, Serialize, Deserialize)]
pub struct SigningKeyDocument {
    pub kid: String,
    pub private_key_pem: String,
}

impl std::fmt::Debug for SigningKeyDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyDocument")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// An RSA private key with its id.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: Jwk,
    pkcs8_der: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh 2048-bit key; its kid is derived from the date and a random suffix.
    pub fn generate() -> Result<Self> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| Error::internal("RSA key generation failed"))?;
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
            .map_err(|_| Error::internal("RSA key encoding failed"))?;
        let kid = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%d"),
            &Uuid::new_v4().simple().to_string()[..8]
        );
        Self::from_pkcs8_der(kid, der.as_ref())
    }

    /// An RSA key in PKCS#8 DER, at least [`MIN_RSA_BITS`] long.
    pub fn from_pkcs8_der(kid: String, der: &[u8]) -> Result<Self> {
        let pair = RsaKeyPair::from_pkcs8(der)
            .map_err(|_| Error::internal("signing key is not an RSA PKCS#8 key"))?;
        if pair.public_modulus_len() * 8 < MIN_RSA_BITS {
            return Err(Error::internal(format!(
                "signing key is shorter than {MIN_RSA_BITS} bits"
            )));
        }
        let public = pair.public_key();
        let jwk = Jwk {
            kty: "RSA".into(),
            n: URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            e: URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
            kid: kid.clone(),
            alg: "RS256".into(),
            use_: "sig".into(),
        };
        let pem = pkcs8_pem(der);
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| Error::internal(format!("signing key: {e}")))?;
        Ok(Self {
            kid,
            encoding,
            public: jwk,
            pkcs8_der: der.to_vec(),
        })
    }

    pub fn from_document(doc: &SigningKeyDocument) -> Result<Self> {
        let der = pem_body(&doc.private_key_pem, "PRIVATE KEY")
            .ok_or_else(|| Error::internal("signing key PEM is not a PKCS#8 private key"))?;
        Self::from_pkcs8_der(doc.kid.clone(), &der)
    }

    /// The secret's JSON form, for `careflow-local` and key rotation.
    pub fn to_document(&self) -> SigningKeyDocument {
        SigningKeyDocument {
            kid: self.kid.clone(),
            private_key_pem: pkcs8_pem(&self.pkcs8_der),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }
}

fn pkcs8_pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ascii"));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = pem[start..].find(&end)? + start;
    let b64: String = pem[start..stop].split_whitespace().collect();
    STANDARD.decode(b64).ok()
}

/// Who the tokens are for and by whom: shared by issuer and verifier.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
}

impl TokenSettings {
    /// Reads `CAREFLOW_JWT_ISSUER` and `CAREFLOW_JWT_AUDIENCE`.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            issuer: vars.required("CAREFLOW_JWT_ISSUER")?,
            audience: vars.required("CAREFLOW_JWT_AUDIENCE")?,
        })
    }
}

impl crate::config::FromVars for Verifier {
    async fn build(vars: &Vars) -> Result<Self, ConfigError> {
        Verifier::from_vars(vars)
    }
}

/// Signs access tokens.
#[derive(Clone, Debug)]
pub struct TokenIssuer {
    key: SigningKey,
    settings: TokenSettings,
    ttl: Duration,
}

/// A freshly issued access token.
#[derive(Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: u64,
    pub claims: Claims,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("sub", &self.claims.sub)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    pub fn new(key: SigningKey, settings: TokenSettings, ttl: Duration) -> Self {
        Self { key, settings, ttl }
    }

    pub fn issue(&self, user_id: Uuid, role: Role, amr: Amr) -> Result<AccessToken> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: user_id,
            role,
            exp: now + self.ttl.as_secs() as i64,
            nbf: now,
            iat: now,
            jti: Uuid::new_v4(),
            amr: amr.values().iter().map(|v| (*v).to_owned()).collect(),
        };
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &self.key.encoding)
            .map_err(|e| Error::internal(format!("signing failed: {e}")))?;
        Ok(AccessToken {
            token,
            expires_in: self.ttl.as_secs(),
            claims,
        })
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }
}

/// Verifies access tokens against a set of public keys.
#[derive(Clone)]
pub struct Verifier {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(jwks: &Jwks, settings: &TokenSettings) -> Result<Self, ConfigError> {
        let mut keys = HashMap::new();
        for jwk in &jwks.keys {
            if jwk.kty != "RSA" || jwk.alg != "RS256" {
                return Err(ConfigError::Invalid {
                    name: "CAREFLOW_JWT_PUBLIC_JWKS",
                    message: format!("key {} is not an RS256 RSA key", jwk.kid),
                });
            }
            let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).map_err(|e| {
                ConfigError::Invalid {
                    name: "CAREFLOW_JWT_PUBLIC_JWKS",
                    message: format!("key {}: {e}", jwk.kid),
                }
            })?;
            keys.insert(jwk.kid.clone(), key);
        }
        if keys.is_empty() {
            return Err(ConfigError::Invalid {
                name: "CAREFLOW_JWT_PUBLIC_JWKS",
                message: "no keys".into(),
            });
        }
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        Ok(Self { keys, validation })
    }

    /// Reads the JWKS, issuer and audience.
    pub fn from_vars(vars: &Vars) -> Result<Self, ConfigError> {
        Self::new(&Jwks::from_vars(vars)?, &TokenSettings::from_vars(vars)?)
    }

    /// Verifies a compact JWS and returns its claims, or 401 with a reason safe to show.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Error::Unauthenticated("malformed token".into()))?;
        if header.alg != ALGORITHM {
            return Err(Error::Unauthenticated("unsupported token algorithm".into()));
        }
        let kid = header
            .kid
            .ok_or_else(|| Error::Unauthenticated("token has no key id".into()))?;
        let key = self
            .keys
            .get(&kid)
            .ok_or_else(|| Error::Unauthenticated("token signed by an unknown key".into()))?;
        let data = jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let reason = match e.kind() {
                ErrorKind::ExpiredSignature => "token expired",
                ErrorKind::ImmatureSignature => "token not yet valid",
                ErrorKind::InvalidAudience => "token is for another audience",
                ErrorKind::InvalidIssuer => "token is from another issuer",
                ErrorKind::InvalidSignature => "invalid token signature",
                ErrorKind::MissingRequiredClaim(_) => "token lacks a required claim",
                _ => "invalid token",
            };
            Error::Unauthenticated(reason.into())
        })?;
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TokenSettings {
        TokenSettings {
            issuer: "https://issuer.test".into(),
            audience: "careflow-api".into(),
        }
    }

    #[test]
    fn key_document_round_trips() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_document(&key.to_document()).unwrap();
        assert_eq!(key.public_jwk(), again.public_jwk());
    }

    #[test]
    fn issued_token_verifies_and_carries_claims() {
        let key = SigningKey::generate().unwrap();
        let jwks = Jwks {
            keys: vec![key.public_jwk().clone()],
        };
        let issuer = TokenIssuer::new(key, settings(), Duration::from_secs(300));
        let user = Uuid::new_v4();
        let token = issuer
            .issue(user, Role::Doctor, Amr::PasswordAndTotp)
            .unwrap();
        let claims = Verifier::new(&jwks, &settings())
            .unwrap()
            .verify(&token.token)
            .unwrap();
        assert_eq!(claims.sub, user);
        assert_eq!(claims.role, Role::Doctor);
    }

    #[test]
    fn token_from_a_key_not_in_the_jwks_is_rejected() {
        let trusted = SigningKey::generate().unwrap();
        let rogue = SigningKey::generate().unwrap();
        let jwks = Jwks {
            keys: vec![trusted.public_jwk().clone()],
        };
        let token = TokenIssuer::new(rogue, settings(), Duration::from_secs(300))
            .issue(Uuid::new_v4(), Role::Admin, Amr::PasswordAndTotp)
            .unwrap();
        let err = Verifier::new(&jwks, &settings())
            .unwrap()
            .verify(&token.token)
            .unwrap_err();
        assert_eq!(err.status(), 401);
    }
}
