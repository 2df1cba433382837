//! The API's edge: CloudFront with the WAF web ACL in front of the HTTP API.
//!
//! AWS WAF cannot be attached to an API Gateway HTTP API, so `template.yaml` can put a CloudFront
//! distribution (with a CLOUDFRONT-scope web ACL) in front of it. The API's own
//! `execute-api` address stays reachable, though, and a request sent there directly would skip
//! the web ACL. CloudFront therefore adds a secret origin header to every request it forwards,
//! and each function refuses a request without it ([`Edge::admit`]).
//!
//! The functions never hold the secret: they are given its SHA-256
//! (`CAREFLOW_EDGE_ORIGIN_SECRET_SHA256`) and compare the digest of the header they receive.
//! During a rotation the variable holds two digests, `new,old`, so requests carrying either
//! value pass while CloudFront switches to the new one.
//! Without that variable there is no edge (local runs, deployments without CloudFront) and every
//! request is admitted as API Gateway delivered it.
//!
//! Behind CloudFront, API Gateway's `sourceIp` is a CloudFront server, not the client. CloudFront
//! appends the viewer's address to `X-Forwarded-For` and API Gateway appends the CloudFront
//! server's, so for a request that proved it came through the edge the client is the entry
//! before API Gateway's; the entries before it came from the client and are not trusted.

use std::net::IpAddr;

use lambda_http::Request;
use lambda_http::RequestExt;
use lambda_http::request::RequestContext;

use crate::config::{ConfigError, Vars};
use crate::{Error, Result};

/// The header CloudFront adds to every request it forwards to the API (template.yaml's
/// `OriginCustomHeaders`).
pub const ORIGIN_HEADER: &str = "x-careflow-origin-verify";

/// The variable holding the hex SHA-256 of the origin secret (two, comma-separated, during a
/// rotation).
pub const ORIGIN_SECRET_SHA256_VAR: &str = "CAREFLOW_EDGE_ORIGIN_SECRET_SHA256";

/// Whether requests must have come through the edge, and how to recognise them.
#[derive(Clone, Default)]
pub struct Edge {
    /// Empty: no edge.
    origin_secret_sha256: Vec<[u8; 32]>,
}

/// The digest is not secret, but it names which deployment it belongs to: keep it out of logs.
impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("required", &self.is_required())
            .finish()
    }
}

/// The client address of a request admitted through the edge (a request extension set by
/// [`Edge::admit`] and read by [`crate::http::client_ip`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewerAddress(pub IpAddr);

impl Edge {
    /// No edge: every request is admitted as API Gateway delivered it.
    pub fn none() -> Self {
        Self::default()
    }

    /// An edge whose origin header must hash to `sha256`.
    pub fn requiring(sha256: [u8; 32]) -> Self {
        Self {
            origin_secret_sha256: vec![sha256],
        }
    }

    /// From `CAREFLOW_EDGE_ORIGIN_SECRET_SHA256`: unset or empty means no edge; anything but one
    /// or two comma-separated 64-hex-digit digests is refused at cold start (a typo must not
    /// quietly switch the check off).
    pub fn from_vars(vars: &Vars) -> std::result::Result<Self, ConfigError> {
        let Some(raw) = vars
            .optional(ORIGIN_SECRET_SHA256_VAR)
            .filter(|v| !v.trim().is_empty())
        else {
            return Ok(Self::none());
        };
        let invalid = || ConfigError::Invalid {
            name: ORIGIN_SECRET_SHA256_VAR,
            message: "must be the SHA-256 of the origin secret as 64 hex digits (two, \
                      comma-separated, during a rotation)"
                .into(),
        };
        let parts: Vec<&str> = raw.split(',').map(str::trim).collect();
        if parts.len() > 2 {
            return Err(invalid());
        }
        let mut digests = Vec::with_capacity(parts.len());
        for part in parts {
            if part.len() != 64 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid());
            }
            let mut digest = [0u8; 32];
            for (i, byte) in digest.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&part[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
            }
            digests.push(digest);
        }
        Ok(Self {
            origin_secret_sha256: digests,
        })
    }

    /// Whether requests must carry the origin header.
    pub fn is_required(&self) -> bool {
        !self.origin_secret_sha256.is_empty()
    }

    /// Admits a request that came through the edge (and records its viewer's address), or any
    /// request when there is no edge. A request that went around the edge is 403.
    pub fn admit(&self, req: &mut Request) -> Result<()> {
        if !self.is_required() {
            return Ok(());
        }
        let presented = req
            .headers()
            .get(ORIGIN_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, presented);
        // Every digest is compared (no early exit), each in constant time.
        let matches = self
            .origin_secret_sha256
            .iter()
            .filter(|expected| {
                aws_lc_rs::constant_time::verify_slices_are_equal(digest.as_ref(), *expected)
                    .is_ok()
            })
            .count();
        if presented.is_empty() || matches == 0 {
            tracing::warn!("request without the edge's origin header refused");
            return Err(Error::Forbidden);
        }
        if let Some(viewer) = viewer_address(req) {
            req.extensions_mut().insert(ViewerAddress(viewer));
        }
        Ok(())
    }
}

/// The viewer's address of a request forwarded by CloudFront: the last `X-Forwarded-For` entry
/// once API Gateway's own (the CloudFront server, equal to `sourceIp`) is set aside.
fn viewer_address(req: &Request) -> Option<IpAddr> {
    let source_ip: Option<IpAddr> = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.as_deref()?.parse().ok(),
        _ => None,
    };
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    let mut entries = forwarded.iter().rev();
    let mut last = entries.next()?.parse::<IpAddr>().ok()?;
    if Some(last) == source_ip {
        last = entries.next()?.parse().ok()?;
    }
    Some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_hex(secret: &str) -> String {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn the_digest_variable_is_checked_at_cold_start() {
        let edge =
            |value: &str| Edge::from_vars(&Vars::from_map([(ORIGIN_SECRET_SHA256_VAR, value)]));
        assert!(!edge("").unwrap().is_required());
        assert!(
            !Edge::from_vars(&Vars::from_map::<&str, &str>([]))
                .unwrap()
                .is_required()
        );
        assert!(edge(&digest_hex("s")).unwrap().is_required());
        assert!(edge(&digest_hex("s").to_uppercase()).unwrap().is_required());
        let rotating = format!("{},{}", digest_hex("new"), digest_hex("old"));
        assert!(edge(&rotating).unwrap().is_required());
        let three = format!("{rotating},{}", digest_hex("older"));
        let trailing = format!("{},", digest_hex("s"));
        for bad in [
            "abc",
            &"g".repeat(64),
            &digest_hex("s")[1..],
            "the secret itself",
            &three,
            &trailing,
        ] {
            assert!(
                matches!(edge(bad), Err(ConfigError::Invalid { .. })),
                "{bad:?} accepted"
            );
        }
    }

    /// Answers with the client address the functions would throttle by.
    struct EchoClient;

    impl crate::http::HttpHandler for EchoClient {
        async fn handle(&self, req: Request) -> Result<lambda_http::Response<lambda_http::Body>> {
            let ip = crate::http::client_ip(&req).map(|ip| ip.to_string());
            crate::http::json(200, &serde_json::json!({ "client_ip": ip }))
        }
    }

    /// The login fixture as CloudFront (or a caller going around it) would deliver it.
    fn event(
        origin_header: Option<&str>,
        forwarded_for: &str,
        source_ip: &str,
    ) -> serde_json::Value {
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../../events/auth-login/login.json")).unwrap();
        let headers = event["headers"].as_object_mut().unwrap();
        headers.insert("x-forwarded-for".into(), forwarded_for.into());
        if let Some(value) = origin_header {
            headers.insert(ORIGIN_HEADER.into(), value.into());
        }
        event["requestContext"]["http"]["sourceIp"] = source_ip.into();
        event
    }

    async fn answer(edge: &Edge, event: serde_json::Value) -> (u16, serde_json::Value) {
        let response =
            crate::http::invoke_through(edge.clone(), std::sync::Arc::new(EchoClient), event)
                .await
                .unwrap();
        let body: serde_json::Value =
            serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        (response["statusCode"].as_u64().unwrap() as u16, body)
    }

    #[tokio::test]
    async fn requests_around_the_edge_are_refused_and_the_viewer_is_the_client() {
        let secret = "a long random origin secret";
        let edge = Edge::from_vars(&Vars::from_map([(
            ORIGIN_SECRET_SHA256_VAR,
            digest_hex(secret),
        )]))
        .unwrap();
        let cloudfront = "130.176.0.9";

        // Through CloudFront: the viewer's address, not CloudFront's, and not what the client
        // wrote into X-Forwarded-For itself.
        let (status, body) = answer(
            &edge,
            event(
                Some(secret),
                &format!("10.9.9.9, 198.51.100.7, {cloudfront}"),
                cloudfront,
            ),
        )
        .await;
        assert_eq!(
            (status, body["client_ip"].as_str()),
            (200, Some("198.51.100.7"))
        );
        let (_, body) = answer(&edge, event(Some(secret), "2001:db8::7", cloudfront)).await;
        assert_eq!(body["client_ip"], "2001:db8::7");

        // Around it: no header, a wrong one, an empty one.
        for presented in [None, Some("a guess"), Some(""), Some(&secret[1..])] {
            let (status, body) =
                answer(&edge, event(presented, "198.51.100.7", "198.51.100.7")).await;
            assert_eq!(status, 403, "{presented:?} admitted");
            assert_eq!(body["type"], "/problems/forbidden");
        }

        // During a rotation either value passes, and nothing else.
        let rotating = Edge::from_vars(&Vars::from_map([(
            ORIGIN_SECRET_SHA256_VAR,
            format!("{},{}", digest_hex("the new secret"), digest_hex(secret)),
        )]))
        .unwrap();
        for (presented, status) in [(secret, 200), ("the new secret", 200), ("another", 403)] {
            let (got, _) = answer(
                &rotating,
                event(Some(presented), "198.51.100.7", cloudfront),
            )
            .await;
            assert_eq!(got, status, "{presented}");
        }

        // Without an edge the header means nothing and X-Forwarded-For is not trusted.
        let (status, body) = answer(
            &Edge::none(),
            event(Some(secret), "198.51.100.7", "203.0.113.24"),
        )
        .await;
        assert_eq!(
            (status, body["client_ip"].as_str()),
            (200, Some("203.0.113.24"))
        );
    }
}
