//! Group commit (`src/write.rs`): writes that queue together commit with one flush, each in a
//! savepoint of its own. A member that fails half-way (a start whose audit append a trigger
//! refuses after its run was inserted), is refused (an acknowledgement of a missing run) or whose
//! request is cancelled at any point leaves no trace and takes nothing of the other members with
//! it; every write that answered `Ok` is on disk, and the chain stays gap-free and verifiable.

use std::time::Duration;

use verdict_core::conformance::{Stores, acknowledged, acknowledgement, identity, mixed_checks, new_run, now};
use verdict_core::conformance::{run_to_completion, started, ws};
use verdict_core::domain::{AuditEvent, RunId};
use verdict_core::ports::{AckInsertError, AuditQuery, StartOutcome, StoreError};
use verdict_core::services::verify_chain;

use crate::support::TestDb;

/// What one task did.
enum Done {
    /// A start that answered: its run must be stored.
    Started(RunId),
    /// A start whose request was dropped before it answered: stored entirely or not at all.
    Cancelled(RunId),
    /// The acknowledgement of a missing run, refused.
    Refused,
    /// A start that failed after inserting its run: nothing of it may be stored.
    Failed(RunId),
}

const TASKS: i64 = 240;
/// Tenants from here on fail their start's audit append.
const FAILING_TENANTS: i64 = 5000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_and_cancelled_writes_leave_their_groups_other_writes_committed() {
    let db = TestDb::new();
    let store = db.open().await;
    let stores = Stores::from_single(store.clone(), None);
    let completed = run_to_completion(&stores, &identity(1, 10, None), mixed_checks()).await;
    let events_before = 2;
    let trigger = format!(
        "CREATE TRIGGER fail_started_event BEFORE INSERT ON audit_logs \
         WHEN NEW.action = 'verification.started' AND NEW.tenant_id >= {FAILING_TENANTS} \
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    );
    sqlx::query(sqlx::AssertSqlSafe(trigger)).execute(&mut db.raw().await).await.unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..TASKS {
        let (runs, acks) = (stores.runs.clone(), stores.acknowledgements.clone());
        let tenant = if i % 4 == 2 { FAILING_TENANTS + i } else { 1000 + i };
        let new = new_run(&identity(1, tenant, None), now());
        let mut missing = completed.clone();
        missing.id = RunId::generate();
        tasks.spawn(async move {
            match i % 4 {
                0 => {
                    let ack = acknowledgement(&missing, "b");
                    let event = acknowledged(&ack);
                    let refused = acks.acknowledge(ack, event).await;
                    assert!(matches!(refused, Err(AckInsertError::RunNotFound)), "{refused:?}");
                    Done::Refused
                }
                1 => {
                    // Dropped after anything from nothing to a few groups' time: while queued,
                    // while holding the connection, or while waiting for the group's commit.
                    let id = new.id;
                    let wait = Duration::from_micros(u64::try_from(i * 37 % 3000).unwrap());
                    let event = started(&new);
                    match tokio::time::timeout(wait, runs.start_or_deduplicate(new, event)).await {
                        Ok(outcome) => Done::Started(created(outcome.expect("no start may fail"))),
                        Err(_) => Done::Cancelled(id),
                    }
                }
                2 => {
                    let (id, event) = (new.id, started(&new));
                    let failed = runs.start_or_deduplicate(new, event).await;
                    assert!(matches!(failed, Err(StoreError::Unexpected(_))), "{failed:?}");
                    Done::Failed(id)
                }
                _ => {
                    let event = started(&new);
                    Done::Started(created(runs.start_or_deduplicate(new, event).await.expect("no start may fail")))
                }
            }
        });
    }
    let (mut answered, mut cancelled, mut failed, mut refused) = (Vec::new(), Vec::new(), Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        match done.expect("no task may panic") {
            Done::Started(run) => answered.push(run),
            Done::Cancelled(run) => cancelled.push(run),
            Done::Refused => refused += 1,
            Done::Failed(run) => failed.push(run),
        }
    }
    assert_eq!((refused, failed.len()), (TASKS / 4, usize::try_from(TASKS / 4).unwrap()));

    // Reopen the file: what answered `Ok` was committed, not only visible to the writer.
    store.close().await;
    let stores = Stores::from_single(db.open().await, None);
    for run in &answered {
        assert!(stores.runs.get(*run).await.unwrap().is_some(), "an answered start is stored");
    }
    for run in &failed {
        assert!(stores.runs.get(*run).await.unwrap().is_none(), "a failed start left its run behind");
    }
    let mut stored_cancelled = 0;
    for run in &cancelled {
        stored_cancelled += usize::from(stores.runs.get(*run).await.unwrap().is_some());
    }
    let events = stores.audit.events(AuditQuery::whole_chain(ws(1), None, 100_000)).await.unwrap();
    let expected = events_before + answered.len() + stored_cancelled;
    let seqs: Vec<u64> = events.iter().map(AuditEvent::seq).collect();
    assert_eq!(seqs, (1..=expected as u64).collect::<Vec<_>>(), "one event per stored start, gap-free");
    let chain = verify_chain(stores.audit.as_ref(), ws(1)).await.unwrap();
    assert!(chain.valid && chain.events_checked == expected as u64, "{chain:?}");
}

fn created(outcome: StartOutcome) -> RunId {
    assert!(matches!(outcome, StartOutcome::Created(_)), "every identity is new");
    outcome.run().id
}
