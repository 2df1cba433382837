//! `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`: the public keys
//! and the discovery document that API Gateway's JWT authorizer fetches to verify tokens.
//! Needs no database and no secret: only public configuration.

use careflow::auth::token::{Jwks, TokenSettings};
use careflow::config::{ConfigError, Vars};
use careflow::http::HttpHandler;
use careflow::{Error, Result};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// Both documents are rendered once at cold start.
pub struct AuthJwks {
    jwks: String,
    discovery: String,
}

impl AuthJwks {
    pub fn new(jwks: &Jwks, settings: &TokenSettings) -> Self {
        let issuer = settings.issuer.trim_end_matches('/');
        let discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "token_endpoint": format!("{issuer}/auth/login"),
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": ["iss", "aud", "sub", "role", "exp", "nbf", "iat", "jti"],
        });
        Self {
            jwks: serde_json::to_string(jwks).expect("jwks serialises"),
            discovery: discovery.to_string(),
        }
    }

    pub async fn from_vars(vars: Vars) -> Result<Self, ConfigError> {
        Ok(Self::new(
            &Jwks::from_vars(&vars)?,
            &TokenSettings::from_vars(&vars)?,
        ))
    }
}

impl HttpHandler for AuthJwks {
    async fn handle(&self, req: Request) -> Result<Response<Body>> {
        let path = req.uri().path();
        let body = if path.ends_with("/.well-known/jwks.json") {
            &self.jwks
        } else if path.ends_with("/.well-known/openid-configuration") {
            &self.discovery
        } else {
            return Err(Error::NotFound("document"));
        };
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            // Keys change only on rotation; the previous key stays published meanwhile.
            .header("cache-control", "public, max-age=300")
            .body(Body::Text(body.clone()))
            .map_err(Error::internal)
    }
}
