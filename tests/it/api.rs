//! Every endpoint's happy path, with real workers running the real flow against the simulated
//! tenant: connection, start, progress, report, change since the previous run, acknowledgement,
//! audit trail — and nothing of it asks the provider anything when only reading.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, admin, report_validator, spawn_app, token};

crate::on_both_backends!(
    a_verification_runs_end_to_end,
    operations_endpoints_answer,
    a_known_secret_expiry_is_stored_returned_and_verified
);

async fn a_verification_runs_end_to_end(backend: Backend) {
    let app = spawn_app(backend).await;
    let connection = app.create_connection().await;
    let listed = app.list_connections(10, &token(&[])).await;
    assert_eq!(listed.body[0]["id"], connection.as_str());
    let one = app.get_connection(10, &connection, &token(&[])).await;
    assert_eq!((one.status, &one.body["has_secret"]), (StatusCode::OK, &json!(true)));

    // First run: everything granted.
    let started = app.start(&connection).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text);
    let first = started.body["run"]["id"].as_str().unwrap().to_owned();
    assert_eq!(started.headers["location"], format!("/v1/runs/{first}").as_str());
    let view = app.completed(&first).await;
    assert_eq!(view.body["run"]["outcome"], "succeeded", "{}", view.text);
    assert_eq!(view.body["report"]["summary"]["overall"], "ready", "{}", view.text);
    assert_eq!(view.body["change"]["state"], "none");
    let validator = report_validator();
    assert!(validator.is_valid(&view.body["report"]), "{}", view.text);

    // Reading is database-only: no request reaches the provider.
    let before = app.provider.requests();
    assert_eq!(app.get_run(&first, &token(&[])).await.status, StatusCode::OK);
    assert_eq!(app.report(&first, "", None).await.status, StatusCode::OK);
    assert_eq!(app.list_acknowledgements(&first, &token(&[])).await.status, StatusCode::OK);
    app.list_runs(10, "", &token(&[])).await;
    assert_eq!(app.provider.requests(), before, "viewers never call the provider");

    // Second run, unchanged scenario: linked to the first, `unchanged`.
    let second = app.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    let view = app.completed(&second).await;
    assert_eq!(view.body["report"]["previous_report_id"], first.as_str());
    assert_eq!(view.body["change"]["state"], "unchanged");

    // Third run, a permission withdrawn: `changed`, that check regressed.
    app.provider.update(|b| b.roles.retain(|r| !r.starts_with("DeviceManagementApps")));
    let third = app.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    let view = app.completed(&third).await;
    assert_eq!(view.body["report"]["summary"]["overall"], "needs_attention", "{}", view.text);
    assert_eq!(view.body["change"]["state"], "changed");
    let regressed: Vec<&str> = view.body["change"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["change"] == "regressed")
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(regressed, ["permissions.intune_apps"]);
    assert!(validator.is_valid(&view.body["report"]));
    let report = app.report(&third, "", None).await;
    assert_eq!(report.body, view.body["report"], "the report endpoint returns the stored report exactly");

    // Acknowledge the failing check.
    let ack =
        json!({"check_key": "permissions.intune_apps", "ack_reason": "Apps are managed elsewhere", "report_id": third});
    let created = app.post_acknowledgement(&third, ack.clone(), &admin()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let again = app.post_acknowledgement(&third, ack, &admin()).await;
    assert_eq!(
        (again.status, &again.body["error"]["acknowledgement"]["id"]),
        (StatusCode::CONFLICT, &created.body["id"])
    );
    let view = app.view(&third).await;
    assert_eq!(view.body["acknowledgements"][0]["check_key"], "permissions.intune_apps");
    assert_eq!(view.body["report"]["summary"]["overall"], "needs_attention", "acknowledging never greenwashes");

    // Listing, latest, rotation, disabling, audit.
    let page = app.list_runs(10, "?limit=2", &token(&[])).await;
    assert_eq!(page.body["runs"].as_array().unwrap().len(), 2);
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app.list_runs(10, &format!("?limit=2&cursor={cursor}"), &token(&[])).await;
    assert_eq!(rest.body["runs"][0]["id"], first.as_str());
    assert!(rest.body["next_cursor"].is_null());
    let query = format!("?flow=provider.connection.check&provider_connection_id={connection}");
    let latest = app.latest_verification(10, &query, &token(&[])).await;
    assert_eq!(latest.body["run"]["id"], third.as_str());
    let rotated = app.put_secret(10, &connection, json!({"client_secret": "rotated-secret-value"}), &admin()).await;
    assert_eq!(rotated.status, StatusCode::NO_CONTENT);
    let disabled = app.disable_connection(10, &connection, &admin()).await;
    assert!(disabled.body["disabled_at"].is_string());
    let blocked = app.start(&connection).await;
    assert_eq!(blocked.body["run"]["outcome"], "blocked", "{}", blocked.text);

    let events = app.audit_events("?limit=100", &admin()).await;
    let actions: Vec<&str> =
        events.body["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions.first(), Some(&"provider_connection.created"));
    assert_eq!(actions.iter().filter(|a| **a == "verification.completed").count(), 4);
    assert!(!events.text.contains("Apps are managed elsewhere"), "acknowledgement reasons stay out of the audit trail");
    let verify = app.verify_audit(&admin()).await;
    assert_eq!(verify.body["valid"], true, "{}", verify.text);
    assert_eq!(verify.body["events_checked"], json!(actions.len()));
    app.stop().await;
}

async fn operations_endpoints_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.healthz().await.status, StatusCode::OK);
    assert_eq!(app.readyz().await.status, StatusCode::OK);
    let metrics = app.metrics().await;
    assert!(metrics.text.contains("verdict_http_requests_total"), "{}", metrics.text);
    let openapi = app.openapi().await;
    assert!(openapi.body["openapi"].as_str().unwrap().starts_with("3.1"));
    app.stop().await;
}

/// `client_secret_expires_at` goes in on create and rotation, comes back on reads, and is what
/// the verification warns about (docs/contract.md#provider-flow); a rotation without it forgets the old date.
async fn a_known_secret_expiry_is_stored_returned_and_verified(backend: Backend) {
    let app = spawn_app(backend).await;
    let tenant = app.provider.tenant().clone();
    let expires = (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!({
        "display_name": "Contoso",
        "entra_tenant_id": tenant.directory_id,
        "client_id": tenant.client_id,
        "client_secret": tenant.client_secret,
        "client_secret_expires_at": expires,
    });
    let created = app.post_connection(10, body, &admin()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let connection = created.body["id"].as_str().unwrap().to_owned();
    let read = app.get_connection(10, &connection, &token(&[])).await;
    let stored = read.body["client_secret_expires_at"].as_str().unwrap().to_owned();
    assert_eq!(stored, expires.replace('Z', ".000000Z"), "{}", read.text);

    let run = app.start(&connection).await.body["run"]["id"].as_str().unwrap().to_owned();
    let view = app.completed(&run).await;
    let expiry = view.body["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "provider_connection.credential_expiry")
        .unwrap()
        .clone();
    assert_eq!(
        (expiry["status"].as_str(), expiry["reason_code"].as_str()),
        (Some("warn"), Some("ext.provider_connection.credential_expiring"))
    );
    assert!(expiry["evidence"].as_array().unwrap().contains(&json!({"kind": "expiry_source", "value": "connection"})));

    let secret = json!({"client_secret": tenant.client_secret});
    let rotated = app.put_secret(10, &connection, secret, &admin()).await;
    assert_eq!(rotated.status, StatusCode::NO_CONTENT);
    let read = app.get_connection(10, &connection, &token(&[])).await;
    assert!(read.body["client_secret_expires_at"].is_null(), "{}", read.text);
    let bad = json!({"client_secret": "x", "client_secret_expires_at": "next tuesday"});
    let refused = app.put_secret(10, &connection, bad, &admin()).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    app.stop().await;
}
