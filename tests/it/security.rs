//! Authentication and isolation over real HTTP, and the secret scan of everything the service
//! said: bodies and logs.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    ALL_CAPABILITIES, Backend, JWT_SECRET, TestApp, admin, captured_logs, spawn_app, token, token_for,
};

crate::on_both_backends!(
    unauthenticated_requests_get_401,
    foreign_scopes_get_404_and_gaps_get_403,
    authorization_comes_before_the_body,
    secrets_never_leak
);

async fn unauthenticated_requests_get_401(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = chrono::Utc::now().timestamp();
    let sign = |exp: i64, aud: &str, key: &[u8]| {
        verdict_http::auth::issue_hs256(
            key,
            &verdict_http::auth::IssuedClaims {
                sub: "u".into(),
                exp,
                nbf: now - 5,
                aud: aud.into(),
                iss: None,
                memberships: json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": []}]),
            },
        )
        .unwrap()
    };
    let valid = sign(now + 300, "verdict", JWT_SECRET.as_bytes());
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", valid.split('.').nth(1).unwrap());
    let cases = [
        ("no token", None),
        ("bad signature", Some(sign(now + 300, "verdict", b"not-the-secret-not-the-secret-000"))),
        ("alg none", Some(alg_none)),
        ("expired", Some(sign(now - 300, "verdict", JWT_SECRET.as_bytes()))),
        ("wrong audience", Some(sign(now + 300, "other", JWT_SECRET.as_bytes()))),
    ];
    for (case, token) in cases {
        let reply = app.request(Method::GET, "/v1/workspaces/1/tenants/10/runs", token.as_deref(), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(reply.headers["www-authenticate"], "Bearer", "{case}");
        assert_eq!(reply.body["error"]["code"], "unauthenticated", "{case}");
    }
    app.stop().await;
}

async fn foreign_scopes_get_404_and_gaps_get_403(backend: Backend) {
    let app = spawn_app(backend).await;
    let connection = app.create_connection().await;
    let run = app.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    app.completed(&run).await;
    let connection_body = json!({"display_name": "x", "entra_tenant_id": "6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f",
        "client_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "client_secret": "s"});
    let endpoints: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/v1/workspaces/1/tenants/10/provider-connections".into(), None),
        (Method::POST, "/v1/workspaces/1/tenants/10/provider-connections".into(), Some(connection_body.clone())),
        (Method::GET, format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}"), None),
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
        (Method::GET, "/v1/workspaces/1/tenants/10/runs".into(), None),
        (Method::GET, "/v1/workspaces/1/tenants/10/verifications/latest?flow=provider.connection.check".into(), None),
        (Method::GET, format!("/v1/runs/{run}"), None),
        (Method::GET, format!("/v1/runs/{run}/report"), None),
        (Method::GET, format!("/v1/runs/{run}/acknowledgements"), None),
        (
            Method::POST,
            format!("/v1/runs/{run}/acknowledgements"),
            Some(json!({"check_key": "graph.organization", "ack_reason": "r"})),
        ),
    ];
    let missing = app.request(Method::GET, "/v1/runs/01a20521-0000-7000-8000-000000000000", Some(&admin()), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let foreign_workspace =
        token_for(json!([{"workspace_id": 2, "tenant_ids": "*", "capabilities": ALL_CAPABILITIES}]));
    let foreign_tenant = token_for(json!([{"workspace_id": 1, "tenant_ids": [11], "capabilities": ALL_CAPABILITIES}]));
    for (method, path, body) in &endpoints {
        for who in [&foreign_workspace, &foreign_tenant] {
            let reply = app.request(method.clone(), path, Some(who), body.clone()).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(reply.text, missing.text, "{method} {path}: the body of a missing resource");
        }
    }
    for path in ["/v1/workspaces/2/audit-events", "/v1/workspaces/2/audit-events/verify"] {
        assert_eq!(app.request(Method::GET, path, Some(&admin()), None).await.text, missing.text, "{path}");
    }
    let viewer = token(&[]);
    let gaps: Vec<(Method, String, Option<Value>)> = endpoints
        .into_iter()
        .filter(|(method, path, _)| *method != Method::GET || path.contains("audit"))
        .chain([
            (Method::GET, "/v1/workspaces/1/audit-events".to_owned(), None),
            (Method::GET, "/v1/workspaces/1/audit-events/verify".to_owned(), None),
        ])
        .collect();
    for (method, path, body) in gaps {
        let reply = app.request(method.clone(), &path, Some(&viewer), body).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {}", reply.text);
    }
    app.stop().await;
}

/// A caller who may not act learns nothing from how a body would have been judged: a foreign
/// scope is 404 and a capability gap 403 whatever the body says, and a missing connection is 404
/// before a missing capability is 403. Bodies are judged — trailing data included — only after.
async fn authorization_comes_before_the_body(backend: Backend) {
    let app = spawn_app(backend).await;
    let connection = app.create_connection().await;
    let run = app.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    let missing_connection = "01a20521-0000-7000-8000-000000000000";
    let writes = [
        (Method::POST, "/v1/workspaces/1/tenants/10/provider-connections".to_owned()),
        (Method::PUT, format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/secret")),
        (Method::POST, "/v1/workspaces/1/tenants/10/verifications".to_owned()),
        (Method::POST, format!("/v1/runs/{run}/acknowledgements")),
    ];
    let foreign = token_for(json!([{"workspace_id": 2, "tenant_ids": "*", "capabilities": ALL_CAPABILITIES}]));
    let viewer = token(&[]);
    let invalid = |method: &Method, path: &str, who: &str| {
        app.client
            .request(method.clone(), app.url(path))
            .bearer_auth(who)
            .header("content-type", "text/plain")
            .body("{not json at all")
    };
    for (method, path) in &writes {
        let reply = app.send(invalid(method, path, &foreign)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "foreign {method} {path}: {}", reply.text);
        let reply = app.send(invalid(method, path, &viewer)).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "viewer {method} {path}: {}", reply.text);
    }
    let rotate = format!("/v1/workspaces/1/tenants/10/provider-connections/{missing_connection}/secret");
    let reply = app.send(invalid(&Method::PUT, &rotate, &viewer)).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "a missing connection is not found first: {}", reply.text);
    let disable = format!("/v1/workspaces/1/tenants/10/provider-connections/{missing_connection}/disable");
    let reply = app.request(Method::POST, &disable, Some(&viewer), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "a missing connection is not found first: {}", reply.text);
    for trailing in [r#"{"flow": "provider.connection.check"} junk {{{"#, r#"{"flow": "a.b"}{"flow": "c.d"}"#] {
        let request = app
            .client
            .post(app.url("/v1/workspaces/1/tenants/10/verifications"))
            .bearer_auth(admin())
            .header("content-type", "application/json")
            .body(trailing);
        let reply = app.send(request).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{trailing}: {}", reply.text);
        assert_eq!(reply.body["error"]["details"][0]["field"], "body");
    }
    let runs = app.request(Method::GET, "/v1/workspaces/1/tenants/10/runs", Some(&admin()), None).await;
    assert_eq!(runs.body["runs"].as_array().unwrap().len(), 1, "nothing but the first run was written");
    app.stop().await;
}

async fn secrets_never_leak(backend: Backend) {
    let app = spawn_app(backend).await;
    let caller = admin();
    let connection = app.create_connection().await;
    let run = app.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    app.completed(&run).await;
    // A failing run too: the provider's error bodies must not be echoed either.
    app.provider.update(|b| b.token = verdict_runner::fake::Reply::Status(401));
    let failed = app.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    app.completed(&failed).await;
    for path in [
        format!("/v1/runs/{run}"),
        format!("/v1/runs/{failed}/report"),
        "/v1/workspaces/1/tenants/10/provider-connections".to_owned(),
        "/v1/workspaces/1/audit-events?limit=100".to_owned(),
    ] {
        app.request(Method::GET, &path, Some(&caller), None).await;
    }
    app.request(
        Method::PUT,
        &format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/secret"),
        Some(&caller),
        Some(json!({"client_secret": "second-secret-value-42"})),
    )
    .await;
    let tokens = app.provider.issued_tokens();
    assert!(!tokens.is_empty(), "the provider issued tokens");
    let secret = app.provider.tenant().client_secret.clone();
    assert_no_secret(&app, &[secret.as_str(), "second-secret-value-42", caller.as_str(), JWT_SECRET], &tokens);
    app.stop().await;
}

fn assert_no_secret(app: &TestApp, secrets: &[&str], tokens: &[String]) {
    let bodies = app.seen.lock().unwrap().join("\n");
    let logs = captured_logs();
    assert!(!logs.is_empty(), "logs were captured");
    for secret in secrets.iter().copied().chain(tokens.iter().map(String::as_str)) {
        assert!(!bodies.contains(secret), "a response body contains a secret");
        assert!(!logs.contains(secret), "the log contains a secret");
    }
    assert!(!logs.contains(verdict_runner::fake::ERROR_DETAIL_MARKER), "provider error text reached the log");
    assert!(!bodies.contains(verdict_runner::fake::ERROR_DETAIL_MARKER), "provider error text reached a body");
}
