//! Router tests without a socket: `router(state).oneshot(request)` over the in-memory fakes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use verdict_core::crypto::Aes256GcmCipher;
use verdict_core::fakes::InMemoryStore;
use verdict_core::flows::FlowCatalog;
use verdict_core::ports::NoQueueNotifier;
use verdict_core::services::Ports;

use crate::auth::{Authenticator, IssuedClaims, VerificationKey, issue_hs256};
use crate::telemetry::Metrics;
use crate::{AppState, HttpLimits, Readiness, router};

mod continuous;
mod contract;
mod edge;

const SECRET: &[u8] = b"test-secret-test-secret-test-secret!";
const CLIENT_SECRET: &str = "Qx7~client-secret-value-for-tests.0123456789";

struct Ready(bool);

#[async_trait]
impl Readiness for Ready {
    async fn check(&self) -> Result<(), String> {
        if self.0 { Ok(()) } else { Err("database refused the connection".into()) }
    }
}

struct Hangs;

#[async_trait]
impl Readiness for Hangs {
    async fn check(&self) -> Result<(), String> {
        std::future::pending().await
    }
}

fn ports(store: &InMemoryStore) -> Ports {
    Ports::over(
        store,
        Arc::new(Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap()),
        Arc::new(FlowCatalog::builtin().unwrap()),
        Arc::new(NoQueueNotifier),
    )
}

struct Api {
    router: axum::Router,
    store: InMemoryStore,
    ports: Ports,
}

/// The state over `store`, with metrics that read the queue depth on every scrape.
fn state_with(
    store: &InMemoryStore,
    readiness: Arc<dyn Readiness>,
    limits: HttpLimits,
) -> (AppState, Ports, Arc<Metrics>) {
    let ports = ports(store);
    let auth = Authenticator::new(&VerificationKey::Hs256(SECRET.to_vec()), None, None).unwrap();
    let metrics = Arc::new(Metrics::new(std::time::Duration::ZERO));
    (AppState::new(ports.clone(), auth, readiness, metrics.clone(), limits), ports, metrics)
}

fn api_with(readiness: Arc<dyn Readiness>, limits: HttpLimits) -> Api {
    let store = InMemoryStore::new();
    let (state, ports, _) = state_with(&store, readiness, limits);
    Api { router: router(state), store, ports }
}

fn api() -> Api {
    api_with(Arc::new(Ready(true)), HttpLimits::default())
}

fn token_with(memberships: Value, exp_offset: i64, aud: &str, key: &[u8]) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = IssuedClaims {
        sub: "user-42".into(),
        exp: now + exp_offset,
        nbf: now - 5,
        aud: aud.into(),
        iss: None,
        memberships,
    };
    issue_hs256(key, &claims).unwrap()
}

const ALL: [&str; 5] =
    ["verification.start", "verification.acknowledge", "provider_connection.manage", "audit.read", "webhook.manage"];

fn admin() -> String {
    token_with(json!([{"workspace_id": 1, "tenant_ids": [10], "capabilities": ALL}]), 300, "verdict", SECRET)
}

/// Webhook management needs every tenant of the workspace.
fn webhook_admin() -> String {
    token_with(json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": ALL}]), 300, "verdict", SECRET)
}

fn viewer() -> String {
    token_with(json!([{"workspace_id": 1, "tenant_ids": [10], "capabilities": []}]), 300, "verdict", SECRET)
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    text: String,
}

impl Api {
    async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        self.send(request).await
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), text }
    }

    async fn create_connection(&self) -> String {
        let reply = self
            .call(
                Method::POST,
                "/v1/workspaces/1/tenants/10/provider-connections",
                Some(&admin()),
                Some(connection_body()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    async fn create_webhook(&self) -> String {
        let body = json!({"url": "https://hooks.example.com/verdict", "events": ["verification.completed"]});
        let reply = self.call(Method::POST, "/v1/workspaces/1/webhooks", Some(&webhook_admin()), Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["webhook"]["id"].as_str().unwrap().to_owned()
    }

    async fn start(&self, connection: &str) -> Reply {
        self.call(
            Method::POST,
            "/v1/workspaces/1/tenants/10/verifications",
            Some(&admin()),
            Some(json!({"flow": "provider.connection.check", "provider_connection_id": connection})),
        )
        .await
    }

    /// Completes the queued run with every check passing except `fail_key`.
    async fn complete_next_run(&self, fail_key: &str) -> String {
        let runner = verdict_core::services::RunnerService::new(self.ports.clone(), chrono::Duration::seconds(30));
        let owner = verdict_core::domain::LeaseOwner::parse("test-worker").unwrap();
        let mut claimed = runner.claim(&owner).await.unwrap().unwrap();
        for mut check in claimed.checks().to_vec() {
            let failing = check.key.as_str() == fail_key;
            check.status =
                if failing { verdict_core::domain::CheckStatus::Fail } else { verdict_core::domain::CheckStatus::Pass };
            check.reason_code = if failing {
                verdict_core::domain::ReasonCode::PERMISSION_DENIED
            } else {
                verdict_core::domain::ReasonCode::OK
            };
            runner.record(&mut claimed, check).await.unwrap();
        }
        runner.complete(&claimed).await.unwrap().id.to_string()
    }
}

fn connection_body() -> Value {
    json!({
        "display_name": "Contoso",
        "entra_tenant_id": "6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f",
        "client_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "client_secret": CLIENT_SECRET
    })
}

#[tokio::test]
async fn health_and_readiness() {
    let ok = api();
    assert_eq!(ok.call(Method::GET, "/healthz", None, None).await.status, StatusCode::OK);
    let ready = ok.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert!(ready.headers.contains_key("x-request-id"));
    let down = api_with(Arc::new(Ready(false)), HttpLimits::default());
    let reply = down.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!reply.text.contains("refused"), "the reason stays in the log");
    let limits = HttpLimits { readiness_timeout: std::time::Duration::from_millis(100), ..HttpLimits::default() };
    let hanging = api_with(Arc::new(Hangs), limits);
    assert_eq!(hanging.call(Method::GET, "/readyz", None, None).await.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn unauthenticated_requests_get_401_with_a_bearer_challenge() {
    let api = api();
    let members = json!([{"workspace_id": 1, "tenant_ids": [10], "capabilities": []}]);
    let expired = token_with(members.clone(), -300, "verdict", SECRET);
    let wrong_aud = token_with(members.clone(), 300, "someone-else", SECRET);
    let bad_sig = token_with(members, 300, "verdict", b"another-secret-another-secret-!!");
    let valid = viewer();
    let payload = valid.split('.').nth(1).unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    for token in [None, Some(expired.as_str()), Some(&wrong_aud), Some(&bad_sig), Some(&alg_none), Some("x.y.z")] {
        let reply = api.call(Method::GET, "/v1/workspaces/1/tenants/10/runs", token, None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(reply.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
        assert_eq!(reply.body["error"]["code"], "unauthenticated");
    }
    let basic = Request::builder()
        .uri("/v1/workspaces/1/tenants/10/runs")
        .header(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(basic).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_whole_flow_over_http() {
    let api = api();
    let connection = api.create_connection().await;
    let listed = api.call(Method::GET, "/v1/workspaces/1/tenants/10/provider-connections", Some(&viewer()), None).await;
    assert_eq!((listed.status, listed.body.as_array().unwrap().len()), (StatusCode::OK, 1));
    assert_eq!(listed.body[0]["has_secret"], true);
    assert!(!listed.text.contains(CLIENT_SECRET));

    let started = api.start(&connection).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let run_id = started.body["run"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started.headers.get(header::LOCATION).unwrap(), &format!("/v1/runs/{run_id}"));
    assert_eq!(started.body["deduplicated"], false);
    let again = api.start(&connection).await;
    assert_eq!((again.status, &again.body["deduplicated"]), (StatusCode::OK, &json!(true)));
    assert_eq!(again.body["run"]["id"], run_id.as_str());

    let report = api.call(Method::GET, &format!("/v1/runs/{run_id}/report"), Some(&viewer()), None).await;
    assert_eq!((report.status, &report.body["error"]["code"]), (StatusCode::NOT_FOUND, &json!("report_not_ready")));

    let done = api.complete_next_run("permissions.intune_apps").await;
    assert_eq!(done, run_id);
    let view = api.call(Method::GET, &format!("/v1/runs/{run_id}"), Some(&viewer()), None).await;
    assert_eq!(view.status, StatusCode::OK);
    assert_eq!(view.body["run"]["status"], "completed");
    assert_eq!(view.body["report"]["summary"]["overall"], "needs_attention");
    assert_eq!(view.body["change"]["state"], "none");
    let report = api.call(Method::GET, &format!("/v1/runs/{run_id}/report"), Some(&viewer()), None).await;
    assert_eq!(report.body, view.body["report"]);

    let ack_uri = format!("/v1/runs/{run_id}/acknowledgements");
    let ack =
        json!({"check_key": "permissions.intune_apps", "ack_reason": "  Known gap, ticket 12  ", "report_id": run_id});
    let created = api.call(Method::POST, &ack_uri, Some(&admin()), Some(ack.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["ack_reason"], "Known gap, ticket 12");
    let duplicate = api.call(Method::POST, &ack_uri, Some(&admin()), Some(ack)).await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.body["error"]["code"], "already_acknowledged");
    assert_eq!(duplicate.body["error"]["acknowledgement"]["id"], created.body["id"]);
    let passing = json!({"check_key": "graph.organization", "ack_reason": "x"});
    let refused = api.call(Method::POST, &ack_uri, Some(&admin()), Some(passing)).await;
    assert_eq!(
        (refused.status, &refused.body["error"]["code"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("check_not_acknowledgeable"))
    );
    let acks = api.call(Method::GET, &ack_uri, Some(&viewer()), None).await;
    assert_eq!(acks.body.as_array().unwrap().len(), 1);

    let runs =
        api.call(Method::GET, "/v1/workspaces/1/tenants/10/runs?limit=1&status=completed", Some(&viewer()), None).await;
    assert_eq!((runs.status, runs.body["runs"][0]["id"].as_str()), (StatusCode::OK, Some(run_id.as_str())));
    let latest = format!(
        "/v1/workspaces/1/tenants/10/verifications/latest?flow=provider.connection.check&provider_connection_id={connection}"
    );
    let latest = api.call(Method::GET, &latest, Some(&viewer()), None).await;
    assert_eq!(latest.body["run"]["id"], run_id.as_str());

    let secret_uri = format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/secret");
    let rotated =
        api.call(Method::PUT, &secret_uri, Some(&admin()), Some(json!({"client_secret": "rotated-secret-1"}))).await;
    assert_eq!(rotated.status, StatusCode::NO_CONTENT);
    let disable = format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/disable");
    let disabled = api.call(Method::POST, &disable, Some(&admin()), None).await;
    assert!(disabled.body["disabled_at"].is_string());
    let refused = api.call(Method::PUT, &secret_uri, Some(&admin()), Some(json!({"client_secret": "x"}))).await;
    assert_eq!((refused.status, &refused.body["error"]["code"]), (StatusCode::CONFLICT, &json!("connection_disabled")));

    let audit = api.call(Method::GET, "/v1/workspaces/1/audit-events?limit=100", Some(&admin()), None).await;
    assert_eq!(audit.status, StatusCode::OK);
    assert!(!audit.text.contains(CLIENT_SECRET) && !audit.text.contains("Known gap"));
    let verify = api.call(Method::GET, "/v1/workspaces/1/audit-events/verify", Some(&admin()), None).await;
    assert_eq!(verify.body, json!({"valid": true, "events_checked": 6, "first_broken_seq": null}));
    let _ = &api.store;
}

#[tokio::test]
async fn foreign_scopes_are_indistinguishable_from_missing_ones() {
    let api = api();
    let connection = api.create_connection().await;
    let run_id = api.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    let foreign_ws =
        token_with(json!([{"workspace_id": 2, "tenant_ids": "*", "capabilities": ALL}]), 300, "verdict", SECRET);
    let foreign_tenant =
        token_with(json!([{"workspace_id": 1, "tenant_ids": [11], "capabilities": ALL}]), 300, "verdict", SECRET);
    let missing_run = verdict_core::domain::RunId::generate();
    let endpoints: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/v1/workspaces/1/tenants/10/provider-connections".into(), None),
        (Method::POST, "/v1/workspaces/1/tenants/10/provider-connections".into(), Some(connection_body())),
        (Method::GET, format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}"), None),
        (
            Method::PUT,
            format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/secret"),
            Some(json!({"client_secret": "s"})),
        ),
        (Method::POST, format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/disable"), None),
        (
            Method::PUT,
            format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/schedule"),
            Some(json!({"interval": "PT6H"})),
        ),
        (Method::GET, format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/schedule"), None),
        (Method::DELETE, format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/schedule"), None),
        (
            Method::POST,
            "/v1/workspaces/1/tenants/10/verifications".into(),
            Some(json!({"flow": "provider.connection.check"})),
        ),
        (Method::GET, "/v1/workspaces/1/tenants/10/runs".into(), None),
        (Method::GET, "/v1/workspaces/1/tenants/10/verifications/latest?flow=provider.connection.check".into(), None),
        (Method::GET, format!("/v1/runs/{run_id}"), None),
        (Method::GET, format!("/v1/runs/{run_id}/report"), None),
        (Method::GET, format!("/v1/runs/{run_id}/acknowledgements"), None),
        (
            Method::POST,
            format!("/v1/runs/{run_id}/acknowledgements"),
            Some(json!({"check_key": "a", "ack_reason": "r"})),
        ),
    ];
    let reference = api.call(Method::GET, &format!("/v1/runs/{missing_run}"), Some(&admin()), None).await;
    assert_eq!(reference.status, StatusCode::NOT_FOUND);
    for (method, uri, body) in &endpoints {
        for token in [&foreign_ws, &foreign_tenant] {
            let reply = api.call(method.clone(), uri, Some(token), body.clone()).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}");
            assert_eq!(reply.text, reference.text, "{method} {uri}: same body as a missing resource");
        }
    }
    let webhook = api.create_webhook().await;
    for (method, uri) in [
        (Method::GET, "/v1/workspaces/2/audit-events".to_owned()),
        (Method::GET, "/v1/workspaces/2/audit-events/verify".to_owned()),
        (Method::GET, "/v1/workspaces/2/webhooks".to_owned()),
        (Method::GET, format!("/v1/workspaces/2/webhooks/{webhook}")),
        (Method::DELETE, format!("/v1/workspaces/2/webhooks/{webhook}")),
        (Method::POST, format!("/v1/workspaces/2/webhooks/{webhook}/rotate-secret")),
        (Method::GET, format!("/v1/workspaces/2/webhooks/{webhook}/deliveries")),
        (Method::GET, format!("/v1/workspaces/1/webhooks/{}", verdict_core::domain::WebhookId::generate())),
    ] {
        let uri = uri.as_str();
        let reply = api.call(method, uri, Some(&admin()), None).await;
        assert_eq!(reply.text, reference.text);
    }
}

#[tokio::test]
async fn capability_gaps_are_403() {
    let api = api();
    let connection = api.create_connection().await;
    let run_id = api.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    api.complete_next_run("graph.organization").await;
    let webhook = api.create_webhook().await;
    let gaps: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/v1/workspaces/1/tenants/10/provider-connections".into(), Some(connection_body())),
        (
            Method::PUT,
            format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/secret"),
            Some(json!({"client_secret": "s"})),
        ),
        (Method::POST, format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/disable"), None),
        (
            Method::POST,
            "/v1/workspaces/1/tenants/10/verifications".into(),
            Some(json!({"flow": "provider.connection.check"})),
        ),
        (
            Method::POST,
            format!("/v1/runs/{run_id}/acknowledgements"),
            Some(json!({"check_key": "graph.organization", "ack_reason": "r"})),
        ),
        (Method::GET, "/v1/workspaces/1/audit-events".into(), None),
        (Method::GET, "/v1/workspaces/1/audit-events/verify".into(), None),
        (
            Method::PUT,
            format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/schedule"),
            Some(json!({"interval": "PT6H"})),
        ),
        (Method::DELETE, format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/schedule"), None),
        (
            Method::POST,
            "/v1/workspaces/1/webhooks".into(),
            Some(json!({"url": "https://hooks.example.com/", "events": ["verification.completed"]})),
        ),
        (Method::GET, "/v1/workspaces/1/webhooks".into(), None),
        (Method::GET, format!("/v1/workspaces/1/webhooks/{webhook}"), None),
        (Method::DELETE, format!("/v1/workspaces/1/webhooks/{webhook}"), None),
        (Method::POST, format!("/v1/workspaces/1/webhooks/{webhook}/rotate-secret"), None),
        (Method::GET, format!("/v1/workspaces/1/webhooks/{webhook}/deliveries"), None),
    ];
    for (method, uri, body) in gaps {
        let reply = api.call(method.clone(), &uri, Some(&viewer()), body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {uri}");
        assert_eq!(reply.body["error"]["code"], "forbidden");
    }
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let api = api();
    let uri = "/v1/workspaces/1/tenants/10/provider-connections";
    let post = |content_type: &str, body: String| {
        Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", admin()))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let cases: Vec<(Request<Body>, StatusCode, &str, Option<&str>)> = vec![
        (
            post("application/json", "{\"display_name\": ".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("body"),
        ),
        (
            post("application/json", json!({"display_name": 5}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("display_name"),
        ),
        (
            post("application/json", {
                let mut b = connection_body();
                b["extra"] = json!(1);
                b.to_string()
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("extra"),
        ),
        (
            post("application/json", {
                let mut b = connection_body();
                b["client_id"] = json!("not-a-guid");
                b.to_string()
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("client_id"),
        ),
        (
            post("application/json", {
                let mut b = connection_body();
                b["display_name"] = json!("\u{0}\u{202e}<script>");
                b.to_string()
            }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some("display_name"),
        ),
        (
            post("text/plain", connection_body().to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            None,
        ),
        (
            post("application/json", format!("{{\"display_name\": \"{}\"}}", "x".repeat(70 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            None,
        ),
    ];
    for (request, status, code, field) in cases {
        let reply = api.send(request).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        assert_eq!(reply.body["error"]["code"], code);
        if let Some(field) = field {
            assert_eq!(reply.body["error"]["details"][0]["field"], field, "{}", reply.text);
        }
        assert!(!reply.text.contains(CLIENT_SECRET), "the secret is never echoed");
        // The unread rest of an oversized body ends the connection, and the answer says so.
        let closes = reply.headers.get("connection").is_some_and(|v| v == "close");
        assert_eq!(
            closes,
            status == StatusCode::PAYLOAD_TOO_LARGE,
            "{status}: Connection: close only when the body is left unread"
        );
    }
    let listed = api.call(Method::GET, uri, Some(&admin()), None).await;
    assert_eq!(listed.body, json!([]), "nothing was written");

    for path in [
        "/v1/runs/not-a-uuid",
        "/v1/runs/550e8400-e29b-41d4-a716-446655440000",
        "/v1/workspaces/0/tenants/10/runs",
        "/v1/workspaces/x/tenants/10/runs",
        "/v1/nothing-here",
    ] {
        let reply = api.call(Method::GET, path, Some(&admin()), None).await;
        assert_eq!(
            (reply.status, &reply.body["error"]["code"]),
            (StatusCode::NOT_FOUND, &json!("not_found")),
            "{path}"
        );
    }
    for query in ["limit=0", "limit=101", "limit=x", "status=blocked", "cursor=garbage", "unknown=1", "flow=UPPER"] {
        let reply =
            api.call(Method::GET, &format!("/v1/workspaces/1/tenants/10/runs?{query}"), Some(&admin()), None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", reply.text);
    }
    let unknown_flow = api
        .call(
            Method::POST,
            "/v1/workspaces/1/tenants/10/verifications",
            Some(&admin()),
            Some(json!({"flow": "no.such.flow"})),
        )
        .await;
    assert_eq!(unknown_flow.body["error"]["details"][0]["field"], "flow");
    // The body is judged once the caller may act on the run: a run of the tenant, then the field.
    let connection = api.create_connection().await;
    let run = api.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    let long_reason = json!({"check_key": "a", "ack_reason": "r".repeat(161)});
    let reply =
        api.call(Method::POST, &format!("/v1/runs/{run}/acknowledgements"), Some(&admin()), Some(long_reason)).await;
    assert_eq!(reply.body["error"]["details"][0]["field"], "ack_reason", "{}", reply.text);
}

#[tokio::test]
async fn metrics_count_requests_by_matched_route() {
    let api = api();
    api.call(Method::GET, "/v1/runs/0193a0c4-0000-7000-8000-000000000000", Some(&admin()), None).await;
    let text = api.call(Method::GET, "/metrics", None, None).await.text;
    assert!(text.contains("verdict_http_requests_total"), "{text}");
    assert!(text.contains("route=\"/v1/runs/{id}\""), "{text}");
    let connection = api.create_connection().await;
    api.start(&connection).await;
    let text = api.call(Method::GET, "/metrics", None, None).await.text;
    assert!(text.contains("verdict_runs{status=\"queued\"} 1"), "{text}");
}
