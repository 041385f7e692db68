//! The invariants SQLite enforces by itself, whatever code writes to the file.

use sqlx::SqliteConnection;
use sqlx::error::ErrorKind;
use verdict_core::conformance::{identity, mixed_checks, new_run, now, run_to_completion, started};

use crate::support::TestDb;

/// Inserts a run that satisfies every constraint except, possibly, the one under test.
async fn insert_run(raw: &mut SqliteConnection, id: &str, status: &str) -> Result<(), sqlx::Error> {
    let at = verdict_core::domain::format_timestamp(now());
    let (outcome, context, lease, completed_at) = match status {
        "completed" => ("succeeded", r#"{"verification_report":{}}"#, None, Some(at.clone())),
        "running" => ("pending", "{}", Some(at.clone()), None),
        _ => ("pending", "{}", None, None),
    };
    sqlx::query(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, context, \
         attempt, lease_owner, lease_expires_at, created_at, started_at, completed_at, overall) \
         VALUES (?1, 1, 10, 'provider.connection.check', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?8, ?10, ?11)",
    )
    .bind(id)
    .bind("a".repeat(64))
    .bind(status)
    .bind(outcome)
    .bind(context)
    .bind(i64::from(lease.is_some()))
    .bind(lease.as_ref().map(|_| "worker-1"))
    .bind(lease.clone())
    .bind(at)
    .bind(completed_at.clone())
    .bind(completed_at.map(|_| "ready"))
    .execute(raw)
    .await
    .map(|_| ())
}

fn kind(result: Result<(), sqlx::Error>) -> ErrorKind {
    match result {
        Err(sqlx::Error::Database(db)) => db.kind(),
        other => panic!("expected a constraint violation, got {other:?}"),
    }
}

fn run_id() -> String {
    verdict_core::domain::RunId::generate().to_string()
}

#[tokio::test]
async fn a_second_active_run_of_one_identity_is_refused_by_the_partial_unique_index() {
    let db = TestDb::new();
    let _store = db.open().await;
    let mut raw = db.raw().await;
    insert_run(&mut raw, &run_id(), "queued").await.unwrap();
    assert_eq!(kind(insert_run(&mut raw, &run_id(), "running").await), ErrorKind::UniqueViolation);
    assert_eq!(kind(insert_run(&mut raw, &run_id(), "queued").await), ErrorKind::UniqueViolation);
    insert_run(&mut raw, &run_id(), "completed").await.expect("completed runs are not active");
    insert_run(&mut raw, &run_id(), "completed").await.expect("any number of completed runs");
}

#[tokio::test]
async fn enum_json_and_timestamp_columns_are_checked() {
    let db = TestDb::new();
    let _store = db.open().await;
    let mut raw = db.raw().await;
    assert_eq!(kind(insert_run(&mut raw, &run_id(), "blocked").await), ErrorKind::CheckViolation);
    assert_eq!(kind(insert_run(&mut raw, &run_id().to_uppercase(), "queued").await), ErrorKind::CheckViolation);
    let bad_json = sqlx::query(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
         context, created_at) VALUES (?, 1, 10, 'f', ?, 'queued', 'pending', '{not json', ?)",
    )
    .bind(run_id())
    .bind("b".repeat(64))
    .bind(verdict_core::domain::format_timestamp(now()))
    .execute(&mut raw)
    .await
    .map(|_| ());
    assert_eq!(kind(bad_json), ErrorKind::CheckViolation);
    let bad_time = sqlx::query(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
         created_at) VALUES (?, 1, 10, 'f', ?, 'queued', 'pending', '2026-01-02 03:04:05')",
    )
    .bind(run_id())
    .bind("c".repeat(64))
    .execute(&mut raw)
    .await
    .map(|_| ());
    assert_eq!(kind(bad_time), ErrorKind::CheckViolation);
}

async fn insert_ack(raw: &mut SqliteConnection, run: &str, tenant: i64) -> Result<(), sqlx::Error> {
    let at = verdict_core::domain::format_timestamp(now());
    sqlx::query(
        "INSERT INTO verification_check_acknowledgements (id, workspace_id, tenant_id, operation_run_id, \
         check_key, ack_reason, acknowledged_at, acknowledged_by_user_id, created_at, updated_at) \
         VALUES (?1, 1, ?4, ?2, 'b', 'known', ?3, 'user-42', ?3, ?3)",
    )
    .bind(verdict_core::domain::AcknowledgementId::generate().to_string())
    .bind(run)
    .bind(at)
    .bind(tenant)
    .execute(raw)
    .await
    .map(|_| ())
}

#[tokio::test]
async fn acknowledgements_need_their_run_in_their_tenant_and_never_change_and_the_audit_log_is_append_only() {
    let db = TestDb::new();
    let store = db.open().await;
    let stores = verdict_core::conformance::Stores::from_single(store, None);
    let run = run_to_completion(&stores, &identity(1, 10, None), mixed_checks()).await;
    let mut raw = db.raw().await;

    let run_key = run.id.to_string();
    assert_eq!(kind(insert_ack(&mut raw, &run_id(), 10).await), ErrorKind::ForeignKeyViolation);
    assert_eq!(kind(insert_ack(&mut raw, &run_key, 11).await), ErrorKind::ForeignKeyViolation, "another tenant's run");
    insert_ack(&mut raw, &run_key, 10).await.expect("an acknowledgement of an existing run");
    assert_eq!(kind(insert_ack(&mut raw, &run_key, 10).await), ErrorKind::UniqueViolation);
    for statement in [
        "UPDATE verification_check_acknowledgements SET ack_reason = 'changed'",
        "DELETE FROM verification_check_acknowledgements",
        "UPDATE audit_logs SET metadata = '{}'",
        "DELETE FROM audit_logs",
    ] {
        assert!(sqlx::query(statement).execute(&mut raw).await.is_err(), "{statement}");
    }
    let audit_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs").fetch_one(&mut raw).await.unwrap();
    assert_eq!(audit_rows, 2);
    let next = new_run(&identity(1, 11, None), now());
    let event = started(&next);
    stores.runs.start_or_deduplicate(next, event).await.expect("the adapter still writes");
}

#[tokio::test]
async fn acknowledging_a_run_through_another_tenant_is_run_not_found() {
    let db = TestDb::new();
    let stores = verdict_core::conformance::Stores::from_single(db.open().await, None);
    let run = run_to_completion(&stores, &identity(1, 10, None), mixed_checks()).await;
    let mut ack = verdict_core::conformance::acknowledgement(&run, "b");
    ack.tenant_id = verdict_core::conformance::tenant(11);
    let event = verdict_core::conformance::acknowledged(&ack);
    let result = stores.acknowledgements.acknowledge(ack, event).await;
    assert!(matches!(result, Err(verdict_core::ports::AckInsertError::RunNotFound)), "{result:?}");
    assert!(stores.acknowledgements.list_for_run(run.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_completed_run_stores_its_overall_and_only_completed_runs_store_fleet_columns() {
    let db = TestDb::new();
    let _store = db.open().await;
    let mut raw = db.raw().await;
    let at = verdict_core::domain::format_timestamp(now());
    let insert = |id: String, status: &'static str, overall: Option<&'static str>, change: Option<&'static str>| {
        let at = at.clone();
        let completed = status == "completed";
        sqlx::query(
            "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
             context, created_at, completed_at, attempt, started_at, overall, change_state) \
             VALUES (?1, 1, 10, 'f', ?2, ?3, ?4, ?5, ?6, ?7, 1, ?6, ?8, ?9)",
        )
        .bind(id)
        .bind("b".repeat(64))
        .bind(status)
        .bind(if completed { "succeeded" } else { "pending" })
        .bind(if completed { r#"{"verification_report":{}}"# } else { "{}" })
        .bind(at.clone())
        .bind(completed.then_some(at))
        .bind(overall)
        .bind(change)
    };
    let refused = insert(run_id(), "completed", None, None).execute(&mut raw).await.unwrap_err();
    assert!(refused.to_string().contains("operation_runs_overall_matches_status"), "{refused}");
    let refused = insert(run_id(), "running", None, Some("changed")).execute(&mut raw).await.unwrap_err();
    assert!(refused.to_string().contains("operation_runs_overall_matches_status"), "{refused}");
    let bad = insert(run_id(), "completed", Some("green"), None).execute(&mut raw).await.unwrap_err();
    assert!(matches!(bad, sqlx::Error::Database(ref db) if db.kind() == ErrorKind::CheckViolation), "{bad}");
    insert(run_id(), "completed", Some("blocked"), Some("none")).execute(&mut raw).await.unwrap();
}
