//! The audit trail as a third party sees it: the API's events verify with an independent
//! implementation of the published recipe, and tampering in the database is detected and named.

use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{ALL_CAPABILITIES, Backend, Options, TestApp, admin, spawn_app_with, token_for};

crate::on_both_backends!(
    api_events_verify_with_an_independent_implementation,
    tampering_is_detected_and_named,
    deleting_the_newest_events_is_detected,
    tenant_events_are_visible_to_entitled_callers_only
);

/// Canonical JSON written from scratch (not core's): keys sorted byte-wise at every level, no
/// whitespace, strings and numbers as JSON writes them.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            let fields: Vec<String> =
                keys.iter().map(|k| format!("{}:{}", Value::String((*k).clone()), canonical(&map[*k]))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

async fn activity(app: &TestApp) {
    let connection = app.create_connection().await;
    app.start(&connection).await;
    app.request(
        Method::PUT,
        &format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/secret"),
        Some(&admin()),
        Some(json!({"client_secret": "another-secret-value"})),
    )
    .await;
    app.request(
        Method::POST,
        &format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/disable"),
        Some(&admin()),
        None,
    )
    .await;
}

async fn all_events(app: &TestApp) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .request(
                Method::GET,
                &format!("/v1/workspaces/1/audit-events?limit=2&after_seq={after}"),
                Some(&admin()),
                None,
            )
            .await;
        let batch = page.body["events"].as_array().unwrap().clone();
        events.extend(batch);
        match page.body["next_after_seq"].as_u64() {
            Some(next) => after = next,
            None => return events,
        }
    }
}

async fn api_events_verify_with_an_independent_implementation(backend: Backend) {
    let app = spawn_app_with(backend, Options { workers: false, ..Options::default() }).await;
    activity(&app).await;
    let events = all_events(&app).await;
    assert_eq!(events.len(), 4, "{events:#?}");
    let mut prev = "0".repeat(64);
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event["seq"], json!(i + 1));
        assert_eq!(event["prev_hash"], prev.as_str());
        let mut hashed = event.clone();
        let object = hashed.as_object_mut().unwrap();
        object.remove("prev_hash");
        let stored = object.remove("hash").unwrap();
        let digest = Sha256::digest(format!("{prev}\n{}", canonical(&hashed)).as_bytes());
        assert_eq!(stored, hex::encode(digest), "event {} recomputed from the API's JSON alone", i + 1);
        prev = stored.as_str().unwrap().to_owned();
    }
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("another-secret-value") && !text.contains(&app.provider.tenant().client_secret));
    app.stop().await;
}

async fn verify(app: &TestApp) -> Value {
    app.verify_audit(&admin()).await.body
}

async fn tampering_is_detected_and_named(backend: Backend) {
    let app = spawn_app_with(backend, Options { workers: false, ..Options::default() }).await;
    activity(&app).await;
    assert_eq!(verify(&app).await, json!({"valid": true, "events_checked": 4, "first_broken_seq": null}));
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            sqlx::query("DROP TRIGGER audit_logs_no_update").execute(&pool).await.unwrap();
            sqlx::query("UPDATE audit_logs SET actor_id = 'mallory' WHERE seq = 3").execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            sqlx::query("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only").execute(&pool).await.unwrap();
            sqlx::query("UPDATE audit_logs SET actor_id = 'mallory' WHERE seq = 3").execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
    let broken = verify(&app).await;
    assert_eq!((broken["valid"].clone(), broken["first_broken_seq"].clone()), (json!(false), json!(3)), "{broken}");
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
            sqlx::query("UPDATE audit_logs SET actor_id = 'e2e-user' WHERE seq = 3").execute(&pool).await.unwrap();
            sqlx::query("DROP TRIGGER audit_logs_no_delete").execute(&pool).await.unwrap();
            sqlx::query("DELETE FROM audit_logs WHERE seq = 2").execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            sqlx::query("UPDATE audit_logs SET actor_id = 'e2e-user' WHERE seq = 3").execute(&pool).await.unwrap();
            sqlx::query("DELETE FROM audit_logs WHERE seq = 2").execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
    let gap = verify(&app).await;
    assert_eq!(gap["first_broken_seq"], 2, "a deleted event is a gap at its seq: {gap}");
    app.stop().await;
}

/// Runs `statements` against the app's database with the append-only guards switched off, as an
/// attacker with write access to the database would.
async fn tamper(app: &TestApp, backend: Backend, statements: &[&'static str]) {
    match backend {
        Backend::Sqlite => {
            use sqlx::Connection as _;
            // One connection: the pragma holds for the statements after it.
            let mut conn = sqlx::SqliteConnection::connect(&app.database_url).await.unwrap();
            sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut conn).await.unwrap();
            for drop in ["DROP TRIGGER IF EXISTS audit_logs_no_update", "DROP TRIGGER IF EXISTS audit_logs_no_delete"] {
                sqlx::query(drop).execute(&mut conn).await.unwrap();
            }
            for statement in statements {
                sqlx::query(*statement).execute(&mut conn).await.unwrap();
            }
            conn.close().await.unwrap();
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
            sqlx::query("ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only").execute(&pool).await.unwrap();
            for statement in statements {
                sqlx::query(*statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
}

/// The events alone cannot show that the newest ones are gone; the chain head every append moves
/// can: the verify endpoint names the first missing seq.
async fn deleting_the_newest_events_is_detected(backend: Backend) {
    let app = spawn_app_with(backend, Options { workers: false, ..Options::default() }).await;
    activity(&app).await;
    assert_eq!(verify(&app).await["valid"], true);
    tamper(&app, backend, &["DELETE FROM audit_logs WHERE workspace_id = 1 AND seq >= 3"]).await;
    let newest_gone = verify(&app).await;
    assert_eq!(
        (newest_gone["valid"].clone(), newest_gone["first_broken_seq"].clone()),
        (json!(false), json!(3)),
        "{newest_gone}"
    );
    tamper(&app, backend, &["DELETE FROM audit_logs WHERE workspace_id = 1"]).await;
    let all_gone = verify(&app).await;
    assert_eq!((all_gone["valid"].clone(), all_gone["first_broken_seq"].clone()), (json!(false), json!(1)));
    app.stop().await;
}

/// A caller entitled to tenant 10 with `audit.read` sees tenant 10's events, never tenant 11's,
/// and a filter on tenant 11 is as missing as a foreign workspace.
async fn tenant_events_are_visible_to_entitled_callers_only(backend: Backend) {
    let app = spawn_app_with(backend, Options { workers: false, ..Options::default() }).await;
    let everyone = token_for(json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": ALL_CAPABILITIES}]));
    for tenant in [10, 11] {
        let tenant_app = app.provider.tenant();
        let body = json!({"display_name": format!("Tenant {tenant}"), "entra_tenant_id": tenant_app.directory_id,
            "client_id": tenant_app.client_id, "client_secret": tenant_app.client_secret});
        assert_eq!(app.post_connection(tenant, body, &everyone).await.status, 201);
    }
    let tenant_10_reader = token_for(json!([{"workspace_id": 1, "tenant_ids": [10], "capabilities": ["audit.read"]}]));
    let page = app.audit_events("", &tenant_10_reader).await;
    let tenants: Vec<Value> = page.body["events"].as_array().unwrap().iter().map(|e| e["tenant_id"].clone()).collect();
    assert_eq!(tenants, [json!(10)], "{}", page.text);
    assert!(!page.text.contains("Tenant 11"));
    let filtered = app.audit_events("?tenant_id=11", &tenant_10_reader).await;
    assert_eq!(filtered.status, 404, "{}", filtered.text);
    let all = app.audit_events("", &everyone).await;
    assert_eq!(all.body["events"].as_array().unwrap().len(), 2);
    app.stop().await;
}
