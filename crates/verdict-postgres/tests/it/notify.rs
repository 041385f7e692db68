//! Idle workers are woken by `NOTIFY`, not by polling.

use std::time::Duration;

use verdict_core::conformance::{identity, new_run, now, owner, started};
use verdict_core::ports::{RunQueue, RunStore};
use verdict_postgres::RunSignal;

use crate::support::store;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_run_and_a_released_lease_wake_the_listener() {
    let (store, _db) = store().await;
    let mut listener = store.listen_for_new_runs().await.unwrap();

    let new = new_run(&identity(1, 10, None), now());
    let event = started(&new);
    let id = store.start_or_deduplicate(new, event).await.unwrap().run().id;
    let signal = tokio::time::timeout(WAIT, listener.recv()).await.expect("woken by the insert").unwrap();
    assert_eq!(signal, RunSignal::Claimable(id));

    // A deduplicated start inserts nothing, so it wakes nobody.
    let again = new_run(&identity(1, 10, None), now());
    let event = started(&again);
    store.start_or_deduplicate(again, event).await.unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(300), listener.recv()).await.is_err(), "no signal");

    let worker = owner("worker-a");
    let at = now();
    store.claim_next(&worker, at, at + chrono::Duration::seconds(30)).await.unwrap().unwrap();
    store.release(id, &worker, now()).await.unwrap();
    let signal = tokio::time::timeout(WAIT, listener.recv()).await.expect("woken by the release").unwrap();
    assert_eq!(signal, RunSignal::Claimable(id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_worker_wakes_as_soon_as_another_process_queues_a_run() {
    let (store, _db) = store().await;
    let mut listener = store.listen_for_new_runs().await.unwrap();
    let waiter = tokio::spawn(async move { listener.recv().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "nothing to wake up for yet");
    let new = new_run(&identity(1, 10, None), now());
    let id = new.id;
    let event = started(&new);
    store.start_or_deduplicate(new, event).await.unwrap();
    let signal = tokio::time::timeout(WAIT, waiter).await.expect("woken").unwrap().unwrap();
    assert_eq!(signal, RunSignal::Claimable(id));
}

/// Ends every other session of the test database, as a server restart or a network cut would.
async fn cut_connections(url: &str) {
    use sqlx::Connection as _;
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_lost_connections_the_store_and_the_listener_recover_by_themselves() {
    let (store, db) = store().await;
    let mut listener = store.listen_for_new_runs().await.unwrap();
    store.latest_for_identity(&identity(1, 10, None).hash()).await.unwrap();

    cut_connections(db.url()).await;

    // Pooled connections idle past `check_idle_after` are checked before use, so the store
    // replaces the dead ones instead of failing.
    tokio::time::sleep(crate::support::config().check_idle_after).await;
    assert!(store.latest_for_identity(&identity(1, 10, None).hash()).await.unwrap().is_none());
    // The listener says it may have missed something, then listens again on a new connection.
    let signal = tokio::time::timeout(WAIT, listener.recv()).await.expect("the loss is noticed").unwrap();
    assert_eq!(signal, RunSignal::MaybeMissed);
    let new = new_run(&identity(1, 10, None), now());
    let id = new.id;
    let event = started(&new);
    store.start_or_deduplicate(new, event).await.unwrap();
    let signal = tokio::time::timeout(WAIT, listener.recv()).await.expect("woken after reconnecting").unwrap();
    assert_eq!(signal, RunSignal::Claimable(id));
}
