//! Idempotent start under concurrency, over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Backend, Options, admin, spawn_app_with};

crate::on_both_backends!(concurrent_starts_create_one_run, concurrent_blocked_starts_create_one_stub);

async fn concurrent_starts_create_one_run(backend: Backend) {
    // Without workers the run stays queued, so every start meets the same active run.
    let app = spawn_app_with(backend, Options { workers: false, ..Options::default() }).await;
    let connection = app.create_connection().await;
    let replies = futures::future::join_all((0..64).map(|_| app.start(&connection))).await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let deduplicated = replies.iter().filter(|r| r.status == StatusCode::OK && r.body["deduplicated"] == true).count();
    assert_eq!((created, deduplicated), (1, 63), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let ids: std::collections::HashSet<&str> = replies.iter().map(|r| r.body["run"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    app.stop().await;
}

/// A broken identity (no connection) answers every concurrent start with one stub: one run, its
/// two audit events, and 200 `deduplicated` for the rest — until something changes.
async fn concurrent_blocked_starts_create_one_stub(backend: Backend) {
    let app = spawn_app_with(backend, Options { workers: false, ..Options::default() }).await;
    let body = json!({"flow": "provider.connection.check", "provider_connection_id": null});
    let uri = "/v1/workspaces/1/tenants/10/verifications";
    let token = admin();
    let replies =
        futures::future::join_all((0..32).map(|_| app.request(Method::POST, uri, Some(&token), Some(body.clone()))))
            .await;
    let created = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
    let deduplicated = replies.iter().filter(|r| r.status == StatusCode::OK && r.body["deduplicated"] == true).count();
    assert_eq!((created, deduplicated), (1, 31), "{:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.body["run"]["outcome"] == "blocked"));
    let ids: std::collections::HashSet<&str> = replies.iter().map(|r| r.body["run"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1);
    let events = app.request(Method::GET, "/v1/workspaces/1/audit-events", Some(&token), None).await;
    assert_eq!(events.body["events"].as_array().unwrap().len(), 2, "one stub, two events: {}", events.text);
    app.stop().await;
}
