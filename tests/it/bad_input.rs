//! Bad input over real HTTP: a clear error, nothing written, and the service keeps serving.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Backend, admin, spawn_app};

crate::on_both_backends!(bad_input_gets_a_clear_error_and_changes_nothing);

async fn bad_input_gets_a_clear_error_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = admin();
    let uri = app.url("/v1/workspaces/1/tenants/10/verifications");
    let post = |content_type: &'static str, body: String| {
        app.client.post(&uri).bearer_auth(&token).header("content-type", content_type).body(body)
    };
    let cases = [
        (post("application/json", "{\"flow\": ".into()), StatusCode::UNPROCESSABLE_ENTITY, Some("body")),
        (post("application/json", json!({"flow": 7}).to_string()), StatusCode::UNPROCESSABLE_ENTITY, Some("flow")),
        (
            post("application/json", json!({"flow": "provider.connection.check", "x": 1}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("x"),
        ),
        (
            post(
                "application/json",
                json!({"flow": "provider.connection.check", "provider_connection_id": "nope"}).to_string(),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("provider_connection_id"),
        ),
        (
            post("application/json", json!({"flow": "'; DROP TABLE operation_runs; --"}).to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("flow"),
        ),
        (
            post("text/plain", json!({"flow": "provider.connection.check"}).to_string()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            None,
        ),
        (
            post("application/json", format!("{{\"flow\": \"{}\"}}", "a".repeat(65 * 1024))),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
    ];
    for (request, status, field) in cases {
        let reply = app.send(request).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        if let Some(field) = field {
            assert_eq!(reply.body["error"]["details"][0]["field"], field, "{}", reply.text);
        }
    }
    for path in ["/v1/runs/not-a-uuid", "/v1/workspaces/-1/tenants/10/runs", "/v1/workspaces/1/tenants/abc/runs"] {
        let reply = app.request(Method::GET, path, Some(&admin()), None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
    }
    let runs = app.request(Method::GET, "/v1/workspaces/1/tenants/10/runs", Some(&admin()), None).await;
    assert_eq!(runs.body["runs"], json!([]), "nothing was written");
    let audit = app.request(Method::GET, "/v1/workspaces/1/audit-events", Some(&admin()), None).await;
    assert_eq!(audit.body["events"], json!([]), "no audit event either");
    assert_eq!(app.request(Method::GET, "/healthz", None, None).await.status, StatusCode::OK, "still serving");
    app.stop().await;
}

/// A database that does not answer turns requests into 503 within the pool's acquire timeout,
/// and the readiness probe says so; the service itself keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_database_gives_503_not_a_hang() {
    use clap::Parser;
    let cli = verdict_app::cli::Cli::parse_from([
        "verdict",
        "--database-url",
        "postgres://verdict@127.0.0.1:1/verdict",
        "--jwt-hs256-secret",
        crate::support::JWT_SECRET,
        "--encryption-key",
        crate::support::ENCRYPTION_KEY,
        "--no-migrate",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--no-workers",
    ]);
    let Some(verdict_app::cli::Command::Serve(serve)) = cli.command else { unreachable!("serve was given") };
    let app = verdict_app::app::App::build(&cli.settings, &serve, true).await.unwrap();
    let base = format!("http://{}", app.address().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    let reply = client
        .get(format!("{base}/v1/workspaces/1/tenants/10/runs"))
        .bearer_auth(crate::support::admin())
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(!body.to_string().contains("127.0.0.1:1"), "the cause stays in the log: {body}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "answered, did not hang");
    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(client.get(format!("{base}/healthz")).send().await.unwrap().status(), reqwest::StatusCode::OK);
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
