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
