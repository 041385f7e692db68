//! The schema enforces the invariants itself, whoever writes: these tests bypass the adapter and
//! check that the database refuses what the domain forbids, naming the constraint.

use verdict_core::conformance::{
    acknowledged, acknowledgement, identity, mixed_checks, new_run, now, run_to_completion, started, tenant, ws,
};
use verdict_core::domain::RunStatus;
use verdict_core::ports::{AckInsertError, AcknowledgementStore, RunStore};
use verdict_postgres::PgStore;

use crate::support::store;

/// The constraint a raw statement violated.
async fn violation(store: &PgStore, sql: &'static str) -> String {
    let err = sqlx::raw_sql(sql).execute(store.pool()).await.expect_err(sql);
    let db = err.as_database_error().unwrap_or_else(|| panic!("not a database error: {err}"));
    db.constraint().map_or_else(|| db.message().to_owned(), str::to_owned)
}

#[tokio::test]
async fn a_second_active_run_of_an_identity_is_refused_by_the_partial_unique_index() {
    let (store, _db) = store().await;
    let insert = "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, \
         outcome, created_at) VALUES (gen_random_uuid(), 1, 10, 'provider.connection.check', repeat('a', 64), \
         'queued', 'pending', now())";
    sqlx::raw_sql(insert).execute(store.pool()).await.unwrap();
    assert_eq!(violation(&store, insert).await, "operation_runs_active_identity_uidx");
    // Another tenant with the same hash is another identity.
    sqlx::raw_sql(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
         created_at) VALUES (gen_random_uuid(), 1, 11, 'provider.connection.check', repeat('a', 64), 'queued', \
         'pending', now())",
    )
    .execute(store.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn enum_columns_and_lifecycle_rules_are_checked() {
    let (store, _db) = store().await;
    let cases: [(&'static str, &str); 5] = [
        (
            "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
             created_at) VALUES (gen_random_uuid(), 1, 10, 'f', repeat('b', 64), 'blocked', 'pending', now())",
            "operation_runs_status_check",
        ),
        (
            "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
             created_at) VALUES (gen_random_uuid(), 1, 10, 'f', repeat('b', 64), 'queued', 'maybe', now())",
            "operation_runs_outcome_check",
        ),
        (
            "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
             created_at, completed_at) VALUES (gen_random_uuid(), 1, 10, 'f', repeat('b', 64), 'completed', \
             'failed', now(), now())",
            "operation_runs_completed_has_report",
        ),
        (
            "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
             created_at) VALUES (gen_random_uuid(), 1, 10, 'f', repeat('b', 64), 'running', 'pending', now())",
            "operation_runs_lease_matches_status",
        ),
        (
            "INSERT INTO audit_chain_heads (workspace_id, seq, hash) VALUES (1, 0, 'not-a-hash')",
            "audit_chain_heads_hash_check",
        ),
    ];
    for (sql, constraint) in cases {
        assert_eq!(violation(&store, sql).await, constraint, "{sql}");
    }
}

#[tokio::test]
async fn acknowledgements_and_audit_events_are_immutable_and_seq_is_unique() {
    let (store, _db) = store().await;
    let stores = verdict_core::conformance::Stores::from_single(store.clone(), None);
    let run = run_to_completion(&stores, &identity(1, 10, None), mixed_checks()).await;
    let ack = acknowledgement(&run, "b");
    let event = acknowledged(&ack);
    store.acknowledge(ack, event).await.unwrap();
    for sql in [
        "UPDATE verification_check_acknowledgements SET ack_reason = 'changed'",
        "DELETE FROM verification_check_acknowledgements",
        "UPDATE audit_logs SET metadata = '{}'",
        "DELETE FROM audit_logs",
    ] {
        let message = violation(&store, sql).await;
        assert!(message.contains("immutable"), "{sql}: {message}");
    }
    let fork = "INSERT INTO audit_logs (id, workspace_id, seq, occurred_at, actor_type, actor_id, action, \
         subject_type, subject_id, metadata, prev_hash, hash) VALUES (gen_random_uuid(), 1, 2, now(), 'system', \
         'x', 'verification.started', 'operation_run', 'x', '{}', repeat('0', 64), repeat('0', 64))";
    assert_eq!(violation(&store, fork).await, "audit_logs_workspace_seq_key");
}

#[tokio::test]
async fn an_acknowledgement_cannot_name_a_run_of_another_tenant() {
    let (store, _db) = store().await;
    let stores = verdict_core::conformance::Stores::from_single(store.clone(), None);
    let run = run_to_completion(&stores, &identity(1, 10, None), mixed_checks()).await;
    let mut ack = acknowledgement(&run, "b");
    ack.tenant_id = tenant(11);
    let event = acknowledged(&ack);
    assert!(matches!(store.acknowledge(ack, event).await, Err(AckInsertError::RunNotFound)));
    let mut ack = acknowledgement(&run, "b");
    ack.workspace_id = ws(2);
    let event = acknowledged(&ack);
    assert!(matches!(store.acknowledge(ack, event).await, Err(AckInsertError::RunNotFound)));
}

#[tokio::test]
async fn a_deduplicated_start_inserts_no_row_and_the_active_run_keeps_its_state() {
    let (store, _db) = store().await;
    let identity = identity(1, 10, None);
    let first = new_run(&identity, now());
    let event = started(&first);
    let created = store.start_or_deduplicate(first, event).await.unwrap();
    for _ in 0..5 {
        let again = new_run(&identity, now());
        let event = started(&again);
        let outcome = store.start_or_deduplicate(again, event).await.unwrap();
        assert_eq!((outcome.run().id, outcome.run().status), (created.run().id, RunStatus::Queued));
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM operation_runs").fetch_one(store.pool()).await.unwrap();
    assert_eq!(rows, 1);
}
