//! The repository's parts stay in step: every function crate is in template.yaml, has sample
//! events and is known to the runner; the OpenAPI document describes exactly the template's
//! routes; every sample event is a valid API Gateway event for its route.

use std::collections::BTreeSet;

use careflow_local::functions::NON_HTTP_FUNCTIONS;
use careflow_local::template::Template;
use serde_norway::Value as Yaml;

use crate::support::*;

fn template() -> Template {
    Template::load(&repo_root().join("template.yaml")).unwrap()
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_function_crate_is_deployed_routed_and_has_sample_events() {
    let t = template();
    let deployed: BTreeSet<String> = t.functions.iter().cloned().collect();
    assert_eq!(
        deployed,
        function_crates(),
        "template.yaml functions vs functions/*"
    );
    for f in function_crates() {
        let dir = repo_root().join("events").join(&f);
        let samples = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert!(samples > 0, "{f} has no sample event under events/{f}/");
        let routed = t.routes.iter().any(|r| r.function == f);
        assert!(
            routed || NON_HTTP_FUNCTIONS.contains(&f.as_str()),
            "{f} has no event in template.yaml and is not a known non-HTTP function"
        );
    }
}

#[tokio::test]
async fn the_runner_registry_serves_exactly_the_routed_functions() {
    let env = TestEnv::new().await;
    let routed: BTreeSet<String> = template()
        .routes
        .iter()
        .map(|r| r.function.clone())
        .collect();
    assert_eq!(env.function_names(), routed);
}

fn openapi_routes() -> BTreeSet<(String, String, bool)> {
    let text = std::fs::read_to_string(repo_root().join("openapi.yaml")).unwrap();
    let doc: Yaml = serde_norway::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let global_secured = doc["security"].as_sequence().is_some_and(|s| !s.is_empty());
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if !["get", "post", "put", "patch", "delete"].contains(&method) {
                continue;
            }
            let public = match op.get("security") {
                Some(s) => s.as_sequence().is_some_and(|s| s.is_empty()),
                None => !global_secured,
            };
            routes.insert((
                method.to_uppercase(),
                path.as_str().unwrap().to_owned(),
                public,
            ));
        }
    }
    routes
}

#[test]
fn openapi_describes_exactly_the_template_routes() {
    let from_template: BTreeSet<(String, String, bool)> = template()
        .routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.public))
        .collect();
    assert_eq!(
        openapi_routes(),
        from_template,
        "openapi.yaml (method, path, public) vs template.yaml"
    );
}

#[test]
fn sample_events_are_api_gateway_events_for_their_functions_routes() {
    let t = template();
    for route in &t.routes {
        let dir = repo_root().join("events").join(&route.function);
        let mut matched = false;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let value: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let request = lambda_http::request::from_str(&value.to_string())
                .unwrap_or_else(|e| panic!("{}: not an API Gateway event: {e}", path.display()));
            let key = value["routeKey"].as_str().unwrap();
            assert!(
                t.routes
                    .iter()
                    .any(|r| r.function == route.function && r.key() == key),
                "{}: routeKey {key} is not a route of {}",
                path.display(),
                route.function
            );
            assert_eq!(value["version"], "2.0", "{}", path.display());
            let (found, _) = t
                .route(
                    request.method().as_str(),
                    value["rawPath"].as_str().unwrap(),
                )
                .unwrap();
            assert_eq!(found.function, route.function, "{}", path.display());
            matched |= key == route.key();
        }
        assert!(matched, "no sample event for {}", route.key());
    }
}

/// A browser on the portal's origin can call every route: the HTTP API's CORS configuration
/// allows every method a route uses (API Gateway answers the preflight itself; a method left
/// out fails in the browser only, after deployment).
#[test]
fn cors_allows_every_method_a_route_uses() {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("AllowMethods:"))
        .expect("the HTTP API's CorsConfiguration names AllowMethods");
    let allowed: BTreeSet<String> = line
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("AllowMethods is a flow list")
        .0
        .split(',')
        .map(|m| m.trim().to_owned())
        .collect();
    for route in &template().routes {
        assert!(
            allowed.contains(&route.method),
            "{} {} is not in the CORS AllowMethods {allowed:?}",
            route.method,
            route.path
        );
    }
    assert!(allowed.contains("OPTIONS"));
}
