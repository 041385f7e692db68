//! The write lock under load: concurrent starts of several identities, acknowledgements,
//! connection creates and claims in one workspace never fail and never fork the audit chain.

use std::collections::HashMap;

use chrono::Duration;
use verdict_core::conformance::{
    Stores, acknowledged, acknowledgement, connection, connection_event, identity, mixed_checks, new_run, now, owner,
    run_to_completion, started, ws,
};
use verdict_core::domain::{AuditAction, AuditEvent, RunId};
use verdict_core::ports::{AckInsertError, AuditQuery, StartOutcome};
use verdict_core::services::verify_chain;

use crate::support::TestDb;

/// What one task did.
enum Done {
    Started { created: bool, tenant: i64, run: RunId },
    Acknowledged,
    AlreadyAcknowledged,
    Created,
    Claimed,
}

const IDENTITIES: i64 = 10;
const STARTS_PER_IDENTITY: usize = 20;
const ACK_ATTEMPTS_PER_CHECK: usize = 10;
const CONNECTIONS: usize = 50;
const CLAIMS: usize = 20;

fn spawn_all(stores: &Stores, completed: &[verdict_core::domain::Run], tasks: &mut tokio::task::JoinSet<Done>) {
    for round in 0..STARTS_PER_IDENTITY {
        for i in 0..IDENTITIES {
            let runs = stores.runs.clone();
            let new = new_run(&identity(1, 100 + i, None), now());
            tasks.spawn(async move {
                let event = started(&new);
                let outcome = runs.start_or_deduplicate(new, event).await.expect("no start may fail");
                let run = outcome.run();
                Done::Started {
                    created: matches!(outcome, StartOutcome::Created(_)),
                    tenant: run.identity.tenant_id.get(),
                    run: run.id,
                }
            });
        }
        if round < ACK_ATTEMPTS_PER_CHECK {
            for run in completed {
                for key in ["b", "c"] {
                    let acks = stores.acknowledgements.clone();
                    let ack = acknowledgement(run, key);
                    tasks.spawn(async move {
                        let event = acknowledged(&ack);
                        match acks.acknowledge(ack, event).await {
                            Ok(_) => Done::Acknowledged,
                            Err(AckInsertError::AlreadyAcknowledged(_)) => Done::AlreadyAcknowledged,
                            Err(other) => panic!("no acknowledgement may fail: {other:?}"),
                        }
                    });
                }
            }
        }
    }
    for _ in 0..CONNECTIONS {
        let connections = stores.connections.clone();
        let conn = connection(1, 10);
        tasks.spawn(async move {
            let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
            connections.create(conn, event).await.expect("no create may fail");
            Done::Created
        });
    }
    for i in 0..CLAIMS {
        let queue = stores.queue.clone();
        tasks.spawn(async move {
            let at = now();
            let worker = owner(&format!("stress-{i}"));
            queue.claim_next(&worker, at, at + Duration::seconds(60)).await.expect("no claim may fail");
            Done::Claimed
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_concurrent_writes_in_one_workspace_never_fail_and_keep_one_chain() {
    let db = TestDb::new();
    let stores = Stores::from_single(db.open().await, None);
    let mut completed = Vec::new();
    for connection_index in 0..3 {
        let conn = Some(verdict_core::domain::ProviderConnectionId::generate());
        completed.push(run_to_completion(&stores, &identity(1, 10 + connection_index, conn), mixed_checks()).await);
    }
    let events_before = 2 * completed.len();

    let mut tasks = tokio::task::JoinSet::new();
    spawn_all(&stores, &completed, &mut tasks);
    let mut runs_by_tenant: HashMap<i64, Vec<RunId>> = HashMap::new();
    let (mut created, mut acked, mut already, mut connections) = (0, 0, 0, 0);
    while let Some(done) = tasks.join_next().await {
        match done.expect("no task may panic") {
            Done::Started { created: was_created, tenant, run } => {
                created += usize::from(was_created);
                runs_by_tenant.entry(tenant).or_default().push(run);
            }
            Done::Acknowledged => acked += 1,
            Done::AlreadyAcknowledged => already += 1,
            Done::Created => connections += 1,
            Done::Claimed => {}
        }
    }

    assert_eq!(created, IDENTITIES as usize, "one run per identity");
    assert!(
        runs_by_tenant.values().all(|ids| ids.iter().all(|id| *id == ids[0])),
        "every start saw its identity's run"
    );
    assert_eq!((acked, already), (2 * completed.len(), 2 * completed.len() * (ACK_ATTEMPTS_PER_CHECK - 1)));
    assert_eq!(connections, CONNECTIONS);

    let expected = events_before + created + acked + connections;
    let events = stores.audit.events(AuditQuery::whole_chain(ws(1), None, 100_000)).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(AuditEvent::seq).collect();
    assert_eq!(seqs, (1..=expected as u64).collect::<Vec<_>>(), "gap-free seq");
    let chain = verify_chain(stores.audit.as_ref(), ws(1)).await.unwrap();
    assert!(chain.valid, "{chain:?}");
    assert_eq!(chain.events_checked, expected as u64);
}

/// Two stores on one file stand for two Verdict processes (`serve` and `worker`): their writes
/// meet only in SQLite's lock, which `BEGIN IMMEDIATE` takes up front and the busy timeout waits
/// for, so neither ever sees `SQLITE_BUSY` and the chain stays linear.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_write_concurrently_without_busy_errors() {
    let db = TestDb::new();
    let stores = [Stores::from_single(db.open().await, None), Stores::from_single(db.open().await, None)];
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200_i64 {
        let store = &stores[usize::try_from(i % 2).unwrap()];
        let (runs, connections) = (store.runs.clone(), store.connections.clone());
        tasks.spawn(async move {
            if i % 4 < 2 {
                let new = new_run(&identity(1, 100 + (i / 4) % 8, None), now());
                let event = started(&new);
                runs.start_or_deduplicate(new, event).await.map(|outcome| matches!(outcome, StartOutcome::Created(_)))
            } else {
                let conn = connection(1, 10);
                let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
                connections.create(conn, event).await.map(|_| true)
            }
        });
    }
    let mut writes = 0_u64;
    while let Some(result) = tasks.join_next().await {
        writes += u64::from(result.unwrap().expect("no write may fail"));
    }
    assert_eq!(writes, 8 + 100, "8 identities created once each, 100 connections");
    let chain = verify_chain(stores[0].audit.as_ref(), ws(1)).await.unwrap();
    assert!(chain.valid, "{chain:?}");
    assert_eq!(chain.events_checked, writes);
}
