//! Blocked starts of one workspace committed in groups (`src/group.rs`): one transaction per
//! group, every member answered with its own outcome, a failing member failing alone, and a start
//! whose caller went away before its group began never written.

use std::future::Future;
use std::pin::Pin;

use verdict_core::conformance::{acknowledged, acknowledgement, blocked_start, identity, ws};
use verdict_core::domain::{Acknowledgement, RunId};
use verdict_core::ports::{AckInsertError, AcknowledgementStore, BlockedStart, RunStore, StartOutcome, StoreError};
use verdict_core::services::verify_chain;
use verdict_postgres::PgStore;

use crate::support::{hold_chain_head, store, until_waiting};

type Pending = Pin<Box<dyn Future<Output = Result<StartOutcome, StoreError>> + Send>>;

/// Every outcome, in order.
async fn outcomes(pending: Vec<Pending>) -> Vec<Result<StartOutcome, StoreError>> {
    let tasks: Vec<_> = pending.into_iter().map(tokio::spawn).collect();
    let mut outcomes = Vec::with_capacity(tasks.len());
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

/// Polls `pending` once: by then its write is queued with its workspace's group.
async fn poll_once<T>(mut pending: Pin<Box<dyn Future<Output = T> + Send>>) -> Pin<Box<dyn Future<Output = T> + Send>> {
    let first = std::future::poll_fn(|context| std::task::Poll::Ready(pending.as_mut().poll(context))).await;
    assert!(first.is_pending(), "a write finished while the workspace's chain head was held");
    pending
}

/// Starts `start` and polls it once: by then it is queued with its workspace's group.
async fn queued(store: &PgStore, start: BlockedStart) -> Pending {
    let store = store.clone();
    poll_once(Box::pin(async move { store.start_blocked(start).await })).await
}

async fn transactions_of_runs(store: &PgStore) -> i64 {
    sqlx::query_scalar("SELECT count(DISTINCT xmin::text) FROM operation_runs WHERE workspace_id = 1")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Twenty starts queued while the workspace's head is held commit in at most three transactions
/// (the two groups running when the head was taken, and one for everything queued meanwhile), and
/// the chain is one gap-free sequence with each run's two events adjacent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_queued_behind_the_chain_head_commit_in_one_group() {
    let (store, _db) = store().await;
    let holder = hold_chain_head(&store, 1).await;
    let mut pending = Vec::new();
    for tenant in 10..30 {
        pending.push(queued(&store, blocked_start(&identity(1, tenant, None), "No connection.", None)).await);
    }
    holder.commit().await.unwrap();
    for outcome in outcomes(pending).await {
        assert!(matches!(outcome.unwrap(), StartOutcome::Created(_)));
    }
    let transactions = transactions_of_runs(&store).await;
    assert!(transactions <= 3, "20 runs in {transactions} transactions");
    let verification = verify_chain(&store, ws(1)).await.unwrap();
    assert!(verification.valid, "{verification:?}");
    assert_eq!(verification.events_checked, 40);
}

/// Starts of one identity in one group: the first writes the stub, the others answer with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_of_one_identity_in_a_group_write_one_stub() {
    let (store, _db) = store().await;
    let holder = hold_chain_head(&store, 1).await;
    let id = identity(1, 10, None);
    let mut pending = Vec::new();
    for _ in 0..10 {
        pending.push(queued(&store, blocked_start(&id, "No connection.", None)).await);
    }
    holder.commit().await.unwrap();
    let outcomes: Vec<StartOutcome> = outcomes(pending).await.into_iter().map(Result::unwrap).collect();
    let created = outcomes.iter().filter(|outcome| matches!(outcome, StartOutcome::Created(_))).count();
    assert_eq!(created, 1);
    assert!(outcomes.iter().all(|outcome| outcome.run().id == outcomes[0].run().id));
    assert_eq!(verify_chain(&store, ws(1)).await.unwrap().events_checked, 2);
}

/// A member whose insert fails (its run's id is taken) fails alone: the group is retried one
/// member at a time and the others are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_member_fails_alone() {
    let (store, _db) = store().await;
    let taken = store.start_blocked(blocked_start(&identity(1, 9, None), "No connection.", None)).await.unwrap();
    let holder = hold_chain_head(&store, 1).await;
    let mut pending = Vec::new();
    for tenant in 10..16 {
        let mut start = blocked_start(&identity(1, tenant, None), "No connection.", None);
        if tenant == 15 {
            start.run.id = taken.run().id;
        }
        pending.push(queued(&store, start).await);
    }
    holder.commit().await.unwrap();
    for (tenant, outcome) in (10..16).zip(outcomes(pending).await) {
        match (tenant, outcome) {
            (15, outcome) => assert!(matches!(outcome, Err(StoreError::Unexpected(_))), "{outcome:?}"),
            (_, outcome) => assert!(matches!(outcome, Ok(StartOutcome::Created(_))), "{outcome:?}"),
        }
    }
    let verification = verify_chain(&store, ws(1)).await.unwrap();
    assert!(verification.valid, "{verification:?}");
    assert_eq!(verification.events_checked, 12, "the taken run's two events and five runs' two");
}

/// A start whose caller went away while it was queued is not written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_caller_went_away_while_queued_is_not_written() {
    let (store, _db) = store().await;
    let holder = hold_chain_head(&store, 1).await;
    let mut running = Vec::new();
    // One start at a time until both of the workspace's groups have taken theirs and wait for
    // the head: what queues after that waits for a group to end.
    for (tenant, waiting) in [(10, 1), (11, 2)] {
        running.push(queued(&store, blocked_start(&identity(1, tenant, None), "No connection.", None)).await);
        until_waiting(&store, waiting, "the workspace's groups waiting at the head").await;
    }
    running.push(queued(&store, blocked_start(&identity(1, 12, None), "No connection.", None)).await);
    let gone = queued(&store, blocked_start(&identity(1, 20, None), "No connection.", None)).await;
    drop(gone);
    holder.commit().await.unwrap();
    for outcome in outcomes(running).await {
        assert!(matches!(outcome.unwrap(), StartOutcome::Created(_)));
    }
    let after = store.start_blocked(blocked_start(&identity(1, 21, None), "No connection.", None)).await.unwrap();
    assert!(matches!(after, StartOutcome::Created(_)), "the workspace's queue goes on");
    let runs: Vec<i64> = sqlx::query_scalar("SELECT tenant_id FROM operation_runs ORDER BY tenant_id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(runs, [10, 11, 12, 21]);
}

/// Acknowledgements queued with a blocked start: two of one check have one winner, the other
/// refused with it; one of a missing run is refused alone (its failed insert aborts the
/// group's transaction, so the group is committed again member by member); the rest are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledgements_in_a_group_are_refused_alone() {
    let (store, _db) = store().await;
    let run = store.start_blocked(blocked_start(&identity(1, 9, None), "No connection.", None)).await.unwrap();
    let run = run.run().clone();
    let holder = hold_chain_head(&store, 1).await;
    let mut acks = Vec::new();
    for key in ["a", "b", "b", "missing"] {
        let mut ack = acknowledgement(&run, &format!("check.{key}"));
        if key == "missing" {
            ack.run_id = RunId::generate();
        }
        let (store, event) = (store.clone(), acknowledged(&ack));
        type Acked = Result<Acknowledgement, AckInsertError>;
        let pending: Pin<Box<dyn Future<Output = Acked> + Send>> =
            Box::pin(async move { store.acknowledge(ack, event).await });
        acks.push(poll_once(pending).await);
    }
    let start = queued(&store, blocked_start(&identity(1, 10, None), "No connection.", None)).await;
    holder.commit().await.unwrap();
    let mut outcomes = Vec::new();
    for pending in acks {
        outcomes.push(tokio::spawn(pending).await.unwrap());
    }
    assert!(matches!(tokio::spawn(start).await.unwrap(), Ok(StartOutcome::Created(_))));
    let a = outcomes[0].as_ref().expect("check.a is acknowledged");
    assert_eq!(a.check_key.as_str(), "check.a");
    // The two of check.b may land in different groups, and either group may insert first.
    match (&outcomes[1], &outcomes[2]) {
        (Ok(winner), Err(AckInsertError::AlreadyAcknowledged(existing)))
        | (Err(AckInsertError::AlreadyAcknowledged(existing)), Ok(winner)) => assert_eq!(existing.id, winner.id),
        other => panic!("check.b twice: {other:?}"),
    }
    assert!(matches!(outcomes[3], Err(AckInsertError::RunNotFound)), "{:?}", outcomes[3]);
    let verification = verify_chain(&store, ws(1)).await.unwrap();
    assert!(verification.valid, "{verification:?}");
    assert_eq!(verification.events_checked, 6, "two stubs' two events and two acknowledgements");
    assert_eq!(store.list_for_run(run.id).await.unwrap().len(), 2);
}
