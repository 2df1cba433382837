//! Hostile access tokens: every one is refused with 401 problem+json by the handler's own
//! verification (here) and by the local runner's JWT authorizer (`runner.rs`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use careflow::auth::Role;
use careflow::auth::token::SigningKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::*;

fn claims(issuer: &str, sub: &str, now: i64) -> Value {
    json!({
        "iss": issuer, "aud": AUDIENCE, "sub": sub, "role": "admin",
        "exp": now + 600, "nbf": now - 5, "iat": now - 5, "jti": uuid::Uuid::new_v4(),
    })
}

fn sign(key: &SigningKey, kid: &str, claims: &Value) -> String {
    sign_with(Algorithm::RS256, key, kid, claims)
}

fn sign_with(alg: Algorithm, key: &SigningKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    let pem = key.to_document().private_key_pem;
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A token signed with another kind of key under our kid: API Gateway verifies RSA only.
fn sign_non_rsa(alg: Algorithm, kid: &str, claims: &Value) -> String {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    let rng = SystemRandom::new();
    let key = match alg {
        Algorithm::EdDSA => {
            EncodingKey::from_ed_der(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref())
        }
        Algorithm::ES256 => EncodingKey::from_ec_der(
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .unwrap()
                .as_ref(),
        ),
        other => panic!("no key for {other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// Tokens that must all be refused, with what is wrong with each: forged with the trusted
/// `key` of `issuer` for the real user `sub`, or derived from the `valid` token.
pub fn hostile_tokens(
    key: &SigningKey,
    issuer: &str,
    sub: &str,
    valid: &str,
) -> Vec<(&'static str, String)> {
    let now = chrono::Utc::now().timestamp();
    let kid = key.kid();
    let good = claims(issuer, sub, now);
    let patch = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };

    // Tampered: a valid patient token with its payload rewritten to claim admin.
    let parts: Vec<&str> = valid.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );

    // HS256 keyed with the public key, the classic algorithm-confusion attack: with the
    // modulus bytes, and with the JWK's `n` text.
    let modulus = URL_SAFE_NO_PAD.decode(&key.public_jwk().n).unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(kid.to_owned());
    let hs_raw =
        jsonwebtoken::encode(&hs_header, &good, &EncodingKey::from_secret(&modulus)).unwrap();
    let hs_jwk = jsonwebtoken::encode(
        &hs_header,
        &good,
        &EncodingKey::from_secret(key.public_jwk().n.as_bytes()),
    )
    .unwrap();

    let rogue = SigningKey::generate().unwrap();
    vec![
        ("tampered payload", tampered),
        ("expired", sign(key, kid, &patch("exp", json!(now - 120)))),
        (
            "not yet valid",
            sign(key, kid, &patch("nbf", json!(now + 600))),
        ),
        (
            "other audience",
            sign(key, kid, &patch("aud", json!("someone-else"))),
        ),
        (
            "other issuer",
            sign(key, kid, &patch("iss", json!("https://evil.example"))),
        ),
        ("no exp", sign(key, kid, &without("exp"))),
        ("no nbf", sign(key, kid, &without("nbf"))),
        (
            "exp as a string",
            sign(key, kid, &patch("exp", json!("99999999999"))),
        ),
        (
            "alg none",
            unsigned(&json!({"alg": "none", "typ": "JWT", "kid": kid}), &good),
        ),
        (
            "alg none, no kid",
            unsigned(&json!({"alg": "none", "typ": "JWT"}), &good),
        ),
        ("HS256 with the raw public key", hs_raw),
        ("HS256 with the JWK x", hs_jwk),
        ("unknown key", sign(&rogue, rogue.kid(), &good)),
        ("rogue key, our kid", sign(&rogue, kid, &good)),
        (
            "embedded jwk of a rogue key",
            embedded_jwk(&rogue, kid, &good),
        ),
        (
            "EdDSA under our kid",
            sign_non_rsa(Algorithm::EdDSA, kid, &good),
        ),
        (
            "ES256 under our kid",
            sign_non_rsa(Algorithm::ES256, kid, &good),
        ),
        ("garbage", "not.a.jwt".to_owned()),
        ("empty", String::new()),
    ]
}

/// A token that carries its own key in the header (`jwk`), signed by that key, naming our kid:
/// only the issuer's published keys may verify a token.
fn embedded_jwk(rogue: &SigningKey, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid, "jwk": rogue.public_jwk()});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let pem = rogue.to_document().private_key_pem;
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        Algorithm::RS256,
    )
    .unwrap();
    format!("{signing_input}.{signature}")
}

#[tokio::test]
async fn handler_verification_refuses_every_hostile_token() {
    let env = TestEnv::new().await;
    let user = env
        .user("victim@example.com", "a long passphrase 42", Role::Patient)
        .await;
    let valid = env.token_for(&user);
    // Sanity: the valid token passes, so the refusals below are about the token.
    let ok = env
        .call(
            "auth-me",
            with_authorization(event("auth-me/me.json"), &format!("Bearer {}", valid.token)),
        )
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");

    for (what, token) in hostile_tokens(&env.key, ISSUER, &user.user_id.to_string(), &valid.token) {
        let reply = env
            .call(
                "auth-me",
                with_authorization(event("auth-me/me.json"), &format!("Bearer {token}")),
            )
            .await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        reply.assert_problem(401, None);
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
    }
    for header in ["", "Basic dXNlcjpwYXNz", &valid.token, "Bearer"] {
        let reply = env
            .call(
                "auth-me",
                with_authorization(event("auth-me/me.json"), header),
            )
            .await;
        reply.assert_problem(401, None);
    }
}
