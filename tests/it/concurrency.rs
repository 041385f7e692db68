//! Idempotent start under concurrency, over HTTP.

use reqwest::StatusCode;

use crate::support::{Backend, Options, spawn_app_with};

crate::on_both_backends!(concurrent_starts_create_one_run);

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
