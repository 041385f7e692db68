//! Continuous verification end to end (docs/contract.md#continuous-verification): schedules fire and re-arm; webhooks arrive
//! signed (checked here with the `hmac` crate, independently of Verdict's signer), are retried
//! after a failure, and never reach a private address. Several real `verdict` processes on one
//! database — a SIGKILL between a completion and its delivery, 100 schedules due at once — are
//! tested in `crates/verdict-app/tests/processes.rs`, which can start the binary.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::on_both_backends;
use crate::support::{Backend, Options, TestApp, admin, captured_logs, spawn_app_with, token_for};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
    /// The status the receiver answered it with.
    answered: u16,
}

/// A webhook receiver on loopback: answers each request with the next scripted status (204 when
/// the script is used up) and hands every request to the test.
struct Receiver {
    url: String,
    requests: mpsc::UnboundedReceiver<Received>,
}

type ReceiverState = (mpsc::UnboundedSender<Received>, Arc<Mutex<VecDeque<u16>>>);

async fn receive(State((seen, script)): State<ReceiverState>, headers: HeaderMap, body: String) -> AxumStatus {
    // Take the scripted status and record the request under one lock, so the test knows which
    // request got which answer even when deliveries arrive concurrently.
    let mut script = script.lock().unwrap();
    let answered = script.pop_front().unwrap_or(204);
    let _ = seen.send(Received { headers, body, answered });
    AxumStatus::from_u16(answered).unwrap()
}

async fn receiver(script: &[u16]) -> Receiver {
    let (seen, requests) = mpsc::unbounded_channel();
    let state: ReceiverState = (seen, Arc::new(Mutex::new(script.iter().copied().collect())));
    let router = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Receiver { url, requests }
}

impl Receiver {
    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(60), self.requests.recv())
            .await
            .expect("a webhook delivery within 60 s")
            .expect("the receiver is running")
    }
}

/// A token for every tenant of workspace 1, as webhook management needs.
fn workspace_admin() -> String {
    token_for(json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": crate::support::ALL_CAPABILITIES}]))
}

fn payload_validator() -> jsonschema::Validator {
    let path = format!("{}/../contracts/webhook-event.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
}

/// Checks the Standard Webhooks signature with the `hmac` crate directly.
fn assert_signed(secret: &str, received: &Received) {
    let header = |name: &str| received.headers.get(name).unwrap_or_else(|| panic!("{name} header")).to_str().unwrap();
    let (id, timestamp, signature) = (header("webhook-id"), header("webhook-timestamp"), header("webhook-signature"));
    assert!(timestamp.parse::<i64>().is_ok(), "unix seconds: {timestamp}");
    let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{}", received.body).as_bytes());
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    assert_eq!(signature, expected, "signature of {id}");
    assert_eq!(received.headers.get("content-type").unwrap(), "application/json");
}

async fn subscribe(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let body = json!({"url": url, "events": events, "description": "e2e"});
    let reply = app.post_webhook(body, &workspace_admin()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    (reply.body["webhook"]["id"].as_str().unwrap().to_owned(), reply.body["secret"].as_str().unwrap().to_owned())
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let reply = app.webhook_deliveries(webhook, "?limit=100", &workspace_admin()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["deliveries"].as_array().unwrap().clone()
}

/// Polls `read` until `done` holds (state in the database, which nothing signals).
async fn eventually<T, F: std::future::Future<Output = T>>(
    what: &str,
    mut read: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn runs(app: &TestApp) -> Vec<Value> {
    let reply = app.list_runs(10, "?limit=100", &admin()).await;
    reply.body["runs"].as_array().unwrap().clone()
}

on_both_backends!(
    a_schedule_fires_as_the_system_and_rearms,
    webhooks_arrive_signed_and_are_retried_after_a_failure,
    private_targets_are_refused_at_creation_and_at_delivery,
);

async fn a_schedule_fires_as_the_system_and_rearms(backend: Backend) {
    let app = spawn_app_with(backend, Options::default()).await;
    let connection = app.create_connection().await;
    let first_run_at = (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339();
    let body = json!({"interval": "PT5M", "first_run_at": first_run_at});
    let set = app.put_schedule(10, &connection, body, &admin()).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);

    let fired = eventually("the scheduled run", || runs(&app), |runs| !runs.is_empty()).await;
    assert_eq!(fired.len(), 1);
    let run = &fired[0];
    assert_eq!(run["initiator_user_id"], Value::Null, "a system-started run has no initiator");
    let view = app.completed(run["id"].as_str().unwrap()).await;
    assert_eq!(view.body["report"]["summary"]["overall"], "ready");

    let read = app.get_schedule(10, &connection, &admin()).await;
    let next = chrono::DateTime::parse_from_rfc3339(read.body["next_run_at"].as_str().unwrap()).unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(run["created_at"].as_str().unwrap()).unwrap();
    assert!(next >= created + chrono::Duration::minutes(5), "re-armed one interval later: {next} vs {created}");
    assert!(next <= created + chrono::Duration::seconds(330 + 5), "with at most 10 % jitter: {next} vs {created}");

    let events = app.audit_events("?action=verification.started", &admin()).await;
    assert_eq!(events.body["events"][0]["actor"], json!({"type": "system", "id": "scheduler"}));
    let actions = app.audit_events("?action=schedule.set", &admin()).await;
    assert_eq!(actions.body["events"].as_array().unwrap().len(), 1);

    assert_eq!(app.delete_schedule(10, &connection, &admin()).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_schedule(10, &connection, &admin()).await.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn webhooks_arrive_signed_and_are_retried_after_a_failure(backend: Backend) {
    let app = spawn_app_with(backend, Options { allow_private_webhooks: true, ..Options::default() }).await;
    let mut receiver = receiver(&[500]).await;
    let (webhook, secret) = subscribe(&app, &receiver.url, json!(WEBHOOK_TYPES)).await;
    // A tenant without one application role: the first report needs attention, so it regressed.
    app.provider.update(|b| b.roles.retain(|r| r != "DeviceManagementApps.Read.All"));
    let connection = app.create_connection().await;
    let run = app.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();

    let validator = payload_validator();
    let mut received = Vec::new();
    for _ in 0..3 {
        received.push(receiver.next().await);
    }
    for request in &received {
        assert_signed(&secret, request);
        let payload: Value = serde_json::from_str(&request.body).unwrap();
        let errors: Vec<String> = validator.iter_errors(&payload).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}\n{payload:#}");
        assert_eq!(payload["id"], request.headers["webhook-id"].to_str().unwrap());
        assert_eq!(payload["data"]["run_id"], run.as_str());
        assert_eq!(payload["data"]["run_url"], format!("/v1/runs/{run}"));
    }
    // One request got the 500; the same message came again (same id, same body).
    let first = received.iter().find(|r| r.answered == 500).expect("the scripted failure was answered");
    let retried: Vec<&Received> = received
        .iter()
        .filter(|r| r.answered != 500 && r.headers["webhook-id"] == first.headers["webhook-id"])
        .collect();
    assert_eq!(retried.len(), 1, "the failed delivery was retried once");
    assert_eq!(retried[0].body, first.body);
    let mut types: Vec<String> = received
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types.dedup();
    assert_eq!(types, ["verification.completed", "verification.regressed"]);

    let listed = eventually(
        "both deliveries recorded as delivered",
        || deliveries(&app, &webhook),
        |list| list.len() == 2 && list.iter().all(|d| d["state"] == "delivered"),
    )
    .await;
    let retried_id = first.headers["webhook-id"].to_str().unwrap();
    for delivery in &listed {
        let attempts = if delivery["event_id"] == retried_id { 2 } else { 1 };
        assert_eq!((&delivery["attempts"], &delivery["last_status_code"]), (&json!(attempts), &json!(204)));
        assert_eq!(delivery["next_attempt_at"], Value::Null);
    }

    // No secret or token in any payload, answer or log line.
    let logs = captured_logs();
    let token = admin();
    let whsec_bytes = &secret["whsec_".len()..];
    let client_secret = app.provider.tenant().client_secret.clone();
    for text in received.iter().map(|r| r.body.as_str()).chain(std::iter::once(logs.as_str())) {
        for forbidden in [whsec_bytes, token.as_str(), client_secret.as_str()] {
            assert!(!text.contains(forbidden), "a secret leaked");
        }
    }
    for (i, body) in app.seen.lock().unwrap().iter().enumerate() {
        assert!(!body.contains(&token), "body {i} carries a token");
        assert!(!body.contains(&client_secret), "body {i} carries the client secret");
    }
    let metrics = app.metrics().await.text;
    assert!(
        metrics.contains("verdict_webhook_deliveries_total{event_type=\"verification.completed\",result=\"retrying\"}")
            || metrics.contains(
                "verdict_webhook_deliveries_total{event_type=\"verification.regressed\",result=\"retrying\"}"
            ),
        "{metrics}"
    );
    app.stop().await;
}

const WEBHOOK_TYPES: [&str; 4] =
    ["verification.completed", "verification.changed", "verification.regressed", "verification.recovered"];

async fn private_targets_are_refused_at_creation_and_at_delivery(backend: Backend) {
    let app = spawn_app_with(backend, Options::default()).await;
    let receiver = receiver(&[]).await;
    let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    for url in [
        "https://127.0.0.1/hook".to_owned(),
        "https://10.0.0.1/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://[fd00::1]/hook".to_owned(),
        "https://[fd12:3456::1]/hook".to_owned(),
        receiver.url.clone(),
    ] {
        let body = json!({"url": url, "events": ["verification.completed"]});
        let reply = app.post_webhook(body, &workspace_admin()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {}", reply.text);
        assert_eq!(reply.body["error"]["details"][0]["field"], "url", "{url}");
    }
    // A host name is checked where it matters: after resolution, at every delivery.
    let (webhook, _) =
        subscribe(&app, &format!("https://localhost:{port}/hook"), json!(["verification.completed"])).await;
    let blocked = app
        .request(
            Method::POST,
            "/v1/workspaces/1/tenants/10/verifications",
            Some(&admin()),
            Some(json!({"flow": "provider.connection.check", "provider_connection_id": null})),
        )
        .await;
    assert_eq!(blocked.status, StatusCode::CREATED, "a blocked stub is a completion: {}", blocked.text);
    let attempted = eventually(
        "the refused attempt recorded",
        || deliveries(&app, &webhook),
        |d| d.len() == 1 && d[0]["last_error"] == "blocked_address",
    )
    .await;
    let attempted = &attempted[0];
    assert_eq!((&attempted["state"], &attempted["attempts"]), (&json!("pending"), &json!(1)), "retried later");
    assert_eq!(attempted["last_status_code"], Value::Null);
    let mut receiver = receiver;
    assert!(receiver.requests.try_recv().is_err(), "nothing reached the loopback receiver");
    app.stop().await;
}
