//! Concurrency the database must get right: claims never shared, audit chains never forked.

use std::collections::HashSet;

use chrono::Duration;
use verdict_core::conformance::{
    acknowledged, acknowledgement, blocked_start, identity, mixed_checks, new_run, now, owner, started, ws,
};
use verdict_core::domain::{AuditEvent, ProviderConnectionId};
use verdict_core::ports::{AcknowledgementStore, AuditLog, AuditQuery, RunQueue, RunStore};
use verdict_core::services::verify_chain;

use crate::support::store;

async fn queue_runs(store: &verdict_postgres::PgStore, count: usize) -> HashSet<verdict_core::domain::RunId> {
    let mut ids = HashSet::new();
    for _ in 0..count {
        let new = new_run(&identity(1, 10, Some(ProviderConnectionId::generate())), now());
        let event = started(&new);
        ids.insert(store.start_or_deduplicate(new, event).await.unwrap().run().id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_claimers_never_get_the_same_run() {
    let (store, _db) = store().await;
    let queued = queue_runs(&store, 200).await;
    let claimer = |name: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            let worker = owner(name);
            let mut claimed = Vec::new();
            loop {
                let at = now();
                match store.claim_next(&worker, at, at + Duration::seconds(60)).await.unwrap() {
                    Some(run) => {
                        assert_eq!(run.lease_owner.as_ref(), Some(&worker));
                        claimed.push(run.id);
                    }
                    None => return claimed,
                }
            }
        })
    };
    let (a, b) = (claimer("worker-a"), claimer("worker-b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let (set_a, set_b): (HashSet<_>, HashSet<_>) = (a.iter().copied().collect(), b.iter().copied().collect());
    assert_eq!(set_a.len() + set_b.len(), 200, "no claimer got a run twice");
    assert!(set_a.is_disjoint(&set_b), "a run was claimed by both workers");
    assert_eq!(&set_a | &set_b, queued, "every queued run was claimed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_appends_give_seq_1_to_50_and_a_valid_chain() {
    let (store, _db) = store().await;
    // Fifty different kinds of write in one workspace, all at once: starts and acknowledgements.
    let done = verdict_core::conformance::run_to_completion(
        &verdict_core::conformance::Stores::from_single(store.clone(), None),
        &identity(1, 10, None),
        mixed_checks(),
    )
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..48_i64 {
        let store = store.clone();
        let run = done.clone();
        tasks.spawn(async move {
            if i == 0 || i == 1 {
                let ack = acknowledgement(&run, if i == 0 { "b" } else { "c" });
                let event = acknowledged(&ack);
                store.acknowledge(ack, event).await.map(|_| ()).map_err(|e| e.to_string())
            } else {
                let new = new_run(&identity(1, 100 + i, None), now());
                let event = started(&new);
                store.start_or_deduplicate(new, event).await.map(|_| ()).map_err(|e| e.to_string())
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().expect("no append may fail");
    }
    let events = store.events(AuditQuery::whole_chain(ws(1), None, 1000)).await.unwrap();
    assert_eq!(events.iter().map(AuditEvent::seq).collect::<Vec<_>>(), (1..=50).collect::<Vec<_>>());
    let verification = verify_chain(&store, ws(1)).await.unwrap();
    assert!(verification.valid && verification.events_checked == 50, "{verification:?}");
    let (head_seq, head_hash): (i64, String) =
        sqlx::query_as("SELECT seq, hash FROM audit_chain_heads WHERE workspace_id = 1")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!((head_seq, head_hash.as_str()), (50, events[49].hash().as_str()), "the head is the last event");
}

/// Blocked starts of one identity wait for each other on the identity's transaction lock: while
/// another transaction holds it, a start does not even read the latest run (without the lock,
/// concurrent starts each saw no stub and each wrote one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_start_waits_for_the_identitys_lock() {
    let (store, _db) = store().await;
    let id = identity(1, 10, None);
    let mut holder = store.pool().begin().await.unwrap();
    sqlx::query(verdict_postgres::queries::LOCK_IDENTITY).bind(id.hash().as_str()).execute(&mut *holder).await.unwrap();
    let start = {
        let store = store.clone();
        let blocked = blocked_start(&id, "No connection.", None);
        tokio::spawn(async move { store.start_blocked(blocked).await })
    };
    // Not a timing assertion on the store: whatever the machine's speed, a start that honours
    // the lock cannot finish while the lock is held.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!start.is_finished(), "the start went ahead while another transaction held the identity's lock");
    holder.commit().await.unwrap();
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), start).await.unwrap().unwrap().unwrap();
    assert!(matches!(outcome, verdict_core::ports::StartOutcome::Created(_)), "{outcome:?}");
}
