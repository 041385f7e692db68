//! The `/ui` routes without a socket, and the rules the view's files must keep: no HTML parsing
//! sinks, no inline code or styles, the token only in the Authorization header of `fetch`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use verdict_core::crypto::Aes256GcmCipher;
use verdict_core::fakes::InMemoryStore;
use verdict_core::flows::FlowCatalog;
use verdict_core::ports::NoQueueNotifier;
use verdict_core::services::Ports;

use super::{ASSETS, Asset, CONTENT_SECURITY_POLICY, INDEX};
use crate::auth::{Authenticator, VerificationKey};
use crate::telemetry::Metrics;
use crate::{AppState, HttpLimits, Readiness};

const RUN: &str = "0190f3a2-7c4e-7d1a-9b2c-3d4e5f607182";

struct Ready;

#[async_trait]
impl Readiness for Ready {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The whole service router, as `verdict serve` builds it.
fn service() -> axum::Router {
    let store = InMemoryStore::new();
    let ports = Ports::over(
        &store,
        Arc::new(Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap()),
        Arc::new(FlowCatalog::builtin().unwrap()),
        Arc::new(NoQueueNotifier),
    );
    let auth = Authenticator::new(&VerificationKey::Hs256(b"ui-test-secret-ui-test-secret-0123".to_vec()), None, None)
        .unwrap();
    let state = AppState::new(ports, auth, Arc::new(Ready), Arc::new(Metrics::default()), HttpLimits::default());
    crate::router(state)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

async fn call(method: Method, uri: &str, headers: &[(header::HeaderName, &str)]) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(name, *value);
    }
    let response = service().oneshot(builder.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    Reply { status, headers, body }
}

async fn get(uri: &str) -> Reply {
    call(Method::GET, uri, &[]).await
}

fn assert_hardened(reply: &Reply, uri: &str) {
    let expected = [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
    ];
    for (name, value) in expected {
        assert_eq!(reply.headers.get(name).and_then(|v| v.to_str().ok()), Some(value), "{name} on {uri}");
    }
}

#[test]
fn the_policy_is_the_strict_one_of_the_spec() {
    assert_eq!(
        CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    );
}

#[tokio::test]
async fn every_view_route_serves_the_page_with_the_security_headers() {
    let routes = [
        "/ui/".to_owned(),
        format!("/ui/runs/{RUN}"),
        format!("/ui/workspaces/1/tenants/10/connections/{RUN}"),
        "/ui/workspaces/1/audit".to_owned(),
        "/ui/?overall=blocked&tenant_id=10".to_owned(),
    ];
    for uri in &routes {
        let reply = get(uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "{uri}");
        assert_eq!(reply.body, INDEX.body, "{uri}");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-cache", "{uri}");
        assert!(reply.headers.contains_key(header::ETAG), "{uri}");
        assert_hardened(&reply, uri);
    }
    let head = call(Method::HEAD, "/ui/", &[]).await;
    assert_eq!(head.status, StatusCode::OK);
    assert_hardened(&head, "HEAD /ui/");
}

#[tokio::test]
async fn the_bare_prefix_redirects_to_the_view() {
    let reply = get("/ui").await;
    assert_eq!(reply.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(reply.headers[header::LOCATION], "/ui/");
    assert_hardened(&reply, "/ui");
}

#[tokio::test]
async fn assets_have_their_content_types_and_revalidate_by_etag() {
    for asset in ASSETS {
        let uri = format!("/ui/assets/{}", asset.name);
        let reply = get(&uri).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], asset.content_type, "{uri}");
        assert_eq!(reply.body, asset.body, "{uri}");
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-cache", "{uri}");
        assert_hardened(&reply, &uri);
        let etag = reply.headers[header::ETAG].to_str().unwrap().to_owned();
        assert!(etag.len() == 18 && etag.starts_with('"') && etag.ends_with('"'), "{uri}: strong ETag {etag}");

        let again = call(Method::GET, &uri, &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(again.body.is_empty(), "{uri}");
        assert_hardened(&again, &uri);
        let stale = call(Method::GET, &uri, &[(header::IF_NONE_MATCH, "\"0000000000000000\"")]).await;
        assert_eq!(stale.status, StatusCode::OK, "{uri}");
    }
    let kinds: Vec<&str> = ["app.css", "app.js", "favicon.svg"]
        .iter()
        .map(|name| ASSETS.iter().find(|a| a.name == *name).unwrap().content_type)
        .collect();
    assert_eq!(kinds, ["text/css; charset=utf-8", "text/javascript; charset=utf-8", "image/svg+xml"]);
}

#[tokio::test]
async fn different_files_have_different_etags() {
    let mut tags: Vec<&str> = ASSETS.iter().map(|a| a.etag).chain([INDEX.etag]).collect();
    tags.sort_unstable();
    tags.dedup();
    assert_eq!(tags.len(), ASSETS.len() + 1);
}

#[tokio::test]
async fn unknown_files_and_pages_are_404_in_the_error_shape() {
    for uri in ["/ui/assets/nope.js", "/ui/assets/..%2Fui.rs", "/ui/nope", "/ui/runs/x/y", "/ui/assets/"] {
        let reply = get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{uri}");
        assert!(body["error"]["details"].is_array(), "{uri}");
        assert_hardened(&reply, uri);
    }
}

#[tokio::test]
async fn the_api_keeps_its_own_answers() {
    let reply = get("/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!reply.headers.contains_key("content-security-policy"), "the UI's headers stay on /ui");
    let missing = get("/v1/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

fn text(asset: &Asset) -> &'static str {
    std::str::from_utf8(asset.body).unwrap()
}

fn scripts() -> impl Iterator<Item = &'static Asset> {
    ASSETS.iter().filter(|a| a.name.ends_with(".js"))
}

#[test]
fn the_page_references_only_files_that_are_served() {
    let index = text(&INDEX);
    let referenced: Vec<&str> =
        index.split("/ui/assets/").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
    assert_eq!(referenced.len(), 3, "icon, style sheet and entry module: {referenced:?}");
    for script in scripts() {
        for line in text(script).lines().filter(|l| l.contains(" from './")) {
            let name = line.split("from './").nth(1).unwrap().split('\'').next().unwrap();
            assert!(ASSETS.iter().any(|a| a.name == name), "{}: imports {name}, which is not served", script.name);
        }
    }
    for name in referenced {
        assert!(ASSETS.iter().any(|a| a.name == name), "index.html references {name}, which is not served");
    }
    for asset in ASSETS.iter().filter(|a| a.name != "favicon.svg" && a.name != "app.css" && a.name != "app.js") {
        let imported = scripts().any(|s| text(s).contains(&format!("from './{}'", asset.name)));
        assert!(imported, "{} is served but never imported", asset.name);
    }
}

#[test]
fn no_asset_uses_an_html_sink_eval_or_other_storage() {
    let forbidden = [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "createContextualFragment",
        "DOMParser",
        "srcdoc",
        "eval(",
        "new Function",
        "setTimeout('",
        "setTimeout(\"",
        "localStorage",
        "document.cookie",
        "indexedDB",
        "javascript:",
        ".style.",
        "setAttribute('style",
        "setAttribute(\"style",
        "setAttribute('on",
        "setAttribute(\"on",
    ];
    for asset in ASSETS.iter().chain([&INDEX]) {
        let body = text(asset);
        for needle in forbidden {
            assert!(!body.contains(needle), "{} contains {needle}", asset.name);
        }
    }
}

#[test]
fn the_page_has_no_inline_script_handler_or_style() {
    let index = text(&INDEX).to_ascii_lowercase();
    for (i, _) in index.match_indices("<script") {
        let tag = &index[i..i + index[i..].find('>').unwrap()];
        assert!(tag.contains(" src="), "inline script: {tag}");
        assert!(index[i..].split_once('>').unwrap().1.starts_with("</script>"), "script with a body");
    }
    assert!(!index.contains("<style"), "inline style element");
    for asset in ASSETS.iter().filter(|a| a.name.ends_with(".svg")).chain([&INDEX]) {
        let body = text(asset).to_ascii_lowercase();
        assert!(!body.contains("style="), "{}: inline style attribute", asset.name);
        let handler = body.split(|c: char| c.is_whitespace()).any(|word| {
            word.starts_with("on")
                && word.split_once('=').is_some_and(|(name, _)| name.chars().all(char::is_alphabetic))
        });
        assert!(!handler, "{}: inline event handler", asset.name);
    }
}

#[test]
fn only_the_api_module_talks_to_the_network_and_it_sends_the_token_as_a_header() {
    for script in scripts() {
        let body = text(script);
        for needle in ["XMLHttpRequest", "WebSocket", "EventSource", "sendBeacon", "fetch("] {
            if script.name != "api.js" || needle != "fetch(" {
                assert!(!body.contains(needle), "{} uses {needle}; only api.js calls the server", script.name);
            }
        }
        if script.name != "api.js" {
            for needle in ["Authorization:", "'Authorization'", "`Bearer "] {
                assert!(!body.contains(needle), "{} builds an Authorization header ({needle})", script.name);
            }
        }
    }
    let api = text(ASSETS.iter().find(|a| a.name == "api.js").unwrap());
    assert!(api.contains("Authorization: `Bearer ${token}`"));
    assert!(api.contains("credentials: 'omit'"));
    let session = text(ASSETS.iter().find(|a| a.name == "session.js").unwrap());
    assert!(session.contains("sessionStorage") && session.contains("history.replaceState"));
}
