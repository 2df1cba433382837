//! API Gateway's HTTP API JWT authorizer, as strict as the real one.
//!
//! What it accepts is what AWS accepts: a JWT in the `Authorization` header (a `Bearer ` prefix
//! is stripped), signed with an RSA algorithm (RS256, RS384 or RS512: API Gateway verifies no
//! other), by the key whose `kid` is in the JWKS found through the issuer's
//! `/.well-known/openid-configuration` → `jwks_uri`; `iss` equal to the configured issuer, `aud`
//! one of the audiences, `exp` in the future, `nbf` and `iat` (when present) in the past, and the
//! route's scopes when it names any. Everything else is refused as API Gateway refuses it:
//! `401 {"message":"Unauthorized"}`, never a handler's problem+json. The handlers still verify
//! the token themselves behind it.

use std::collections::BTreeMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Why a token was refused (for the runner's log and the `www-authenticate` header; the body
/// is always API Gateway's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub &'static str);

/// The authorizer's configuration: the template's `JwtConfiguration`.
#[derive(Debug, Clone)]
pub struct JwtAuthorizer {
    pub issuer: String,
    pub audiences: Vec<String>,
}

/// The RSA algorithms API Gateway's JWT authorizer verifies.
const ACCEPTED: [Algorithm; 3] = [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512];

impl JwtAuthorizer {
    /// The token of an `Authorization` header value, as API Gateway reads it.
    pub fn token_of(header: Option<&str>) -> Result<&str, Refused> {
        let value = header.map(str::trim).filter(|v| !v.is_empty());
        let value = value.ok_or(Refused("no authorization header"))?;
        if value.eq_ignore_ascii_case("bearer") {
            return Err(Refused("no token"));
        }
        let token = match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            Some(_) => return Err(Refused("unsupported authorization scheme")),
            None => value,
        };
        if token.is_empty() {
            return Err(Refused("no token"));
        }
        Ok(token)
    }

    /// Verifies `token` against `jwks` (the issuer's key set as served at its `jwks_uri`) and
    /// returns the claims API Gateway forwards to the function, every value a string.
    pub fn verify(
        &self,
        token: &str,
        jwks: &Value,
        required_scopes: &[String],
    ) -> Result<BTreeMap<String, String>, Refused> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refused("malformed token"))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(Refused("signing method is not an RSA algorithm"));
        }
        let kid = header.kid.ok_or(Refused("token has no kid"))?;
        let jwk = jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["kid"].as_str() == Some(kid.as_str()))
            .ok_or(Refused("no key in the issuer's JWKS has the token's kid"))?;
        if jwk["kty"].as_str() != Some("RSA") {
            return Err(Refused("the issuer's key is not an RSA key"));
        }
        let (n, e) = (jwk["n"].as_str(), jwk["e"].as_str());
        let key = match (n, e) {
            (Some(n), Some(e)) => {
                DecodingKey::from_rsa_components(n, e).map_err(|_| Refused("bad JWKS key"))?
            }
            _ => return Err(Refused("bad JWKS key")),
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = vec![header.alg];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&self.audiences);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                Refused(match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::ImmatureSignature => "the token is not valid yet",
                    ErrorKind::InvalidAudience => "the token's audience is not allowed",
                    ErrorKind::InvalidIssuer => "the token's issuer is not the configured one",
                    ErrorKind::InvalidSignature => "the token's signature is invalid",
                    ErrorKind::MissingRequiredClaim(_) => "the token lacks exp or iss",
                    _ => "invalid token",
                })
            })?;
        let claims = data.claims;
        let now = chrono::Utc::now().timestamp();
        if let Some(iat) = claims.get("iat") {
            match iat.as_i64() {
                Some(iat) if iat <= now => {}
                _ => return Err(Refused("the token's iat is not in the past")),
            }
        }
        if !required_scopes.is_empty() {
            let granted: Vec<&str> = claims
                .get("scope")
                .or_else(|| claims.get("scp"))
                .and_then(Value::as_str)
                .map(|s| s.split(' ').collect())
                .unwrap_or_default();
            if !required_scopes
                .iter()
                .any(|s| granted.contains(&s.as_str()))
            {
                return Err(Refused("the token has none of the route's scopes"));
            }
        }
        Ok(claims
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    // API Gateway flattens arrays to "[a b]".
                    Value::Array(items) => format!(
                        "[{}]",
                        items
                            .iter()
                            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use careflow::auth::token::SigningKey;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    fn token(key: &SigningKey, claims: Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(key.kid().to_owned());
        let pem = key.to_document().private_key_pem;
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    fn authorizer() -> JwtAuthorizer {
        JwtAuthorizer {
            issuer: "https://issuer.test".into(),
            audiences: vec!["careflow-api".into()],
        }
    }

    #[test]
    fn accepts_what_api_gateway_accepts_and_checks_route_scopes() {
        let key = SigningKey::generate().unwrap();
        let jwks = json!({ "keys": [key.public_jwk()] });
        let now = chrono::Utc::now().timestamp();
        let base = json!({
            "iss": "https://issuer.test", "aud": "careflow-api", "sub": "u1",
            "exp": now + 60, "iat": now - 1, "groups": ["a", "b"],
        });
        // No nbf is fine for API Gateway (the handlers require it); claims arrive as strings.
        let claims = authorizer()
            .verify(&token(&key, base.clone()), &jwks, &[])
            .unwrap();
        assert_eq!(claims["sub"], "u1");
        assert_eq!(claims["exp"], (now + 60).to_string());
        assert_eq!(claims["groups"], "[a b]");
        let scopes = vec!["records.read".to_owned()];
        assert_eq!(
            authorizer().verify(&token(&key, base.clone()), &jwks, &scopes),
            Err(Refused("the token has none of the route's scopes"))
        );
        let mut scoped = base.clone();
        scoped["scope"] = json!("profile records.read");
        assert!(
            authorizer()
                .verify(&token(&key, scoped), &jwks, &scopes)
                .is_ok()
        );
        let mut future = base;
        future["iat"] = json!(now + 600);
        assert!(
            authorizer()
                .verify(&token(&key, future), &jwks, &[])
                .is_err()
        );
    }

    #[test]
    fn the_header_is_read_as_api_gateway_reads_it() {
        assert_eq!(JwtAuthorizer::token_of(Some("Bearer abc")), Ok("abc"));
        assert_eq!(JwtAuthorizer::token_of(Some("abc")), Ok("abc"));
        assert!(JwtAuthorizer::token_of(Some("Basic abc")).is_err());
        assert!(JwtAuthorizer::token_of(Some("Bearer ")).is_err());
        assert!(JwtAuthorizer::token_of(None).is_err());
    }
}
