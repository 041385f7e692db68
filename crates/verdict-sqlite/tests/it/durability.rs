//! What was committed is still there after the pool is closed and the file reopened.

use verdict_core::conformance::{
    acknowledged, acknowledgement, connection, connection_event, identity, mixed_checks, new_run, run_to_completion,
    started, ws,
};
use verdict_core::domain::{AuditAction, RunStatus};
use verdict_core::ports::{
    AcknowledgementStore, AuditLog, AuditQuery, ProviderConnectionStore, RunStore, StartOutcome, StoreError,
};
use verdict_core::services::verify_chain;

use crate::support::TestDb;

#[tokio::test]
async fn everything_committed_survives_closing_and_reopening_the_file() {
    let db = TestDb::new();
    assert!(!db.path.exists());
    let store = db.open().await;
    assert!(db.path.exists(), "the file and its folder are created on first start");

    let stores = verdict_core::conformance::Stores::from_single(store.clone(), None);
    let done = run_to_completion(&stores, &identity(1, 10, None), mixed_checks()).await;
    let ack = acknowledgement(&done, "b");
    let ack = store.acknowledge(ack.clone(), acknowledged(&ack)).await.unwrap();
    let conn = connection(1, 10);
    let conn =
        store.create(conn.clone(), connection_event(&conn, AuditAction::ProviderConnectionCreated)).await.unwrap();
    let queued = new_run(&identity(1, 10, Some(conn.id)), verdict_core::conformance::now());
    let event = started(&queued);
    let StartOutcome::Created(queued) = store.start_or_deduplicate(queued, event).await.unwrap() else {
        panic!("a new identity creates a run");
    };
    let events_before = all_events(&store).await;
    assert_eq!(events_before.len(), 5);
    store.close().await;
    drop(stores);

    let reopened = db.open().await;
    assert_eq!(RunStore::get(&reopened, done.id).await.unwrap(), Some(done.clone()));
    assert_eq!(RunStore::get(&reopened, queued.id).await.unwrap().map(|r| r.status), Some(RunStatus::Queued));
    assert_eq!(reopened.list_for_run(done.id).await.unwrap(), vec![ack]);
    assert_eq!(
        ProviderConnectionStore::get(&reopened, conn.workspace_id, conn.tenant_id, conn.id).await.unwrap(),
        Some(conn)
    );
    assert_eq!(all_events(&reopened).await, events_before);
    let chain = verify_chain(&reopened, ws(1)).await.unwrap();
    assert!(chain.valid && chain.events_checked == 5, "{chain:?}");

    // The chain goes on where it stopped.
    let next = connection(1, 10);
    reopened.create(next.clone(), connection_event(&next, AuditAction::ProviderConnectionCreated)).await.unwrap();
    let chain = verify_chain(&reopened, ws(1)).await.unwrap();
    assert!(chain.valid && chain.events_checked == 6, "{chain:?}");
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let db = TestDb::new();
    let store = db.open().await;
    store.close().await;
    let run = verdict_core::domain::RunId::generate();
    assert!(matches!(RunStore::get(&store, run).await, Err(StoreError::Unavailable(_))));
    let new = new_run(&identity(1, 10, None), verdict_core::conformance::now());
    let event = started(&new);
    assert!(matches!(store.start_or_deduplicate(new, event).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
}

async fn all_events(store: &verdict_sqlite::SqliteStore) -> Vec<verdict_core::domain::AuditEvent> {
    store.events(AuditQuery::whole_chain(ws(1), None, 1000)).await.unwrap()
}
