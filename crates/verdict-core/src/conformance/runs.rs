//! Run store behaviour: idempotent starts (queued and blocked), scope, reads and listing.

use std::collections::HashSet;

use chrono::Duration;

use super::Stores;
use super::fixtures::*;
use crate::domain::{
    AuditAction, FlowId, PageLimit, ProviderConnectionId, RunCursor, RunListQuery, RunScope, RunStatus,
};
use crate::ports::{AuditQuery, BlockedReuse, BlockedStart, StartOutcome};

async fn events_of(stores: &Stores, workspace: i64, action: AuditAction) -> usize {
    stores
        .audit
        .events(AuditQuery {
            workspace: ws(workspace),
            visible: crate::domain::TenantScope::All,
            tenant: None,
            action: Some(action),
            after_seq: None,
            limit: 10_000,
        })
        .await
        .unwrap()
        .len()
}

/// 200 concurrent starts for one identity create exactly one run and one started event.
pub async fn concurrent_starts_for_one_identity_create_exactly_one_run(stores: &Stores) {
    let identity = identity(1, 10, Some(ProviderConnectionId::generate()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let runs = stores.runs.clone();
        let new = new_run(&identity, now());
        tasks.spawn(async move {
            let event = started(&new);
            runs.start_or_deduplicate(new, event).await
        });
    }
    let mut created = Vec::new();
    let mut ids = HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let outcome = result.unwrap().expect("no start may fail");
        ids.insert(outcome.run().id);
        if let StartOutcome::Created(run) = outcome {
            created.push(run.id);
        }
    }
    assert_eq!(created.len(), 1, "exactly one start creates the run");
    assert_eq!(ids.len(), 1, "every start returns the same run");
    assert_eq!(events_of(stores, 1, AuditAction::VerificationStarted).await, 1);
}

/// A deduplicated start returns the active run and writes nothing.
pub async fn deduplicated_start_writes_nothing(stores: &Stores) {
    let identity = identity(1, 10, None);
    let first = new_run(&identity, now());
    let event = started(&first);
    let created = stores.runs.start_or_deduplicate(first, event).await.unwrap();
    let second = new_run(&identity, now());
    let second_id = second.id;
    let event = started(&second);
    let again = stores.runs.start_or_deduplicate(second, event).await.unwrap();
    assert!(matches!(again, StartOutcome::Deduplicated(_)));
    assert_eq!(again.run().id, created.run().id);
    assert!(stores.runs.get(second_id).await.unwrap().is_none());
    let run = created.run();
    assert_eq!((run.status, run.attempt, run.report.is_none()), (RunStatus::Queued, 0, true));
    assert_eq!(events_of(stores, 1, AuditAction::VerificationStarted).await, 1);
    // Another tenant with an otherwise equal identity is a different identity.
    let other = identity_for_tenant(&identity, 11);
    let other_run = new_run(&other, now());
    let event = started(&other_run);
    assert!(matches!(stores.runs.start_or_deduplicate(other_run, event).await.unwrap(), StartOutcome::Created(_)));
}

fn identity_for_tenant(identity: &crate::domain::RunIdentity, t: i64) -> crate::domain::RunIdentity {
    let mut other = identity.clone();
    other.tenant_id = tenant(t);
    other
}

/// Once a run completes, the next start of the identity creates a new run.
pub async fn completed_run_frees_the_identity(stores: &Stores) {
    let identity = identity(1, 10, None);
    let first = run_to_completion(stores, &identity, mixed_checks()).await;
    assert_eq!(first.status, RunStatus::Completed);
    let next = new_run(&identity, now());
    let event = started(&next);
    let outcome = stores.runs.start_or_deduplicate(next, event).await.unwrap();
    assert!(matches!(outcome, StartOutcome::Created(_)));
    assert_ne!(outcome.run().id, first.id);
}

/// A blocked start of `identity` for `reason`, with its webhook events.
pub fn blocked_start(
    identity: &crate::domain::RunIdentity,
    reason: &str,
    changed: Option<chrono::DateTime<chrono::Utc>>,
) -> BlockedStart {
    let new = new_run(identity, now());
    let started_event = started(&new);
    let stub = crate::rules::blocked_stub_report(new.id, identity, None, reason, now(), None);
    let completion = crate::domain::Completion::new(stub, crate::domain::Ending::Blocked, now(), None);
    let completed_event =
        crate::services::events::run_completed(&new.id, identity, crate::domain::Actor::User(user()), &completion, 0);
    let events = crate::rules::completion_events(new.id, identity, &completion, None);
    BlockedStart {
        run: new,
        completion,
        started: started_event,
        completed: completed_event,
        events,
        reuse: BlockedReuse { reason: reason.to_owned(), connection_changed_at: changed },
    }
}

/// The blocked path inserts a completed stub with both of its events; it is not active.
pub async fn blocked_start_writes_a_stub_with_both_events(stores: &Stores) {
    let identity = identity(1, 10, None);
    let start = blocked_start(&identity, "No connection.", None);
    let stub = start.completion.report().clone();
    let outcome = stores.runs.start_blocked(start).await.unwrap();
    let StartOutcome::Created(run) = outcome else { panic!("the first blocked start writes a stub") };
    assert_eq!((run.status, run.outcome), (RunStatus::Completed, crate::domain::Outcome::Blocked));
    let stored = stores.runs.get(run.id).await.unwrap().unwrap();
    // The store answers with the run it wrote, not a read of it (`NewRun::completed`): the two
    // must not differ in any field.
    assert_eq!(stored, run, "a blocked start answers with exactly the row it stored");
    assert_eq!(stored.report.as_ref(), Some(&stub));
    assert_eq!(stored.summary_counts, Some(stub.summary().counts));
    assert_eq!(stored.failure_summary.as_ref().map(|f| f.0.len()), Some(1));
    assert_eq!(events_of(stores, 1, AuditAction::VerificationStarted).await, 1);
    assert_eq!(events_of(stores, 1, AuditAction::VerificationCompleted).await, 1);
    // Not active: a normal start of the identity is not deduplicated against it.
    let next = new_run(&identity, now());
    let event = started(&next);
    assert!(matches!(stores.runs.start_or_deduplicate(next, event).await.unwrap(), StartOutcome::Created(_)));
}

/// A blocked start returns the latest stub while its reason is the same and the connection has
/// not changed since; a new reason or a changed connection writes a new stub; an active run of
/// the identity is returned as it is.
pub async fn blocked_starts_reuse_the_latest_stub_until_something_changes(stores: &Stores) {
    let identity = identity(1, 10, Some(ProviderConnectionId::generate()));
    let before = now() - Duration::seconds(60);
    let first = stores.runs.start_blocked(blocked_start(&identity, "Disabled.", Some(before))).await.unwrap();
    let first = first.run().clone();
    let again = stores.runs.start_blocked(blocked_start(&identity, "Disabled.", Some(before))).await.unwrap();
    assert!(matches!(&again, StartOutcome::Deduplicated(run) if run.id == first.id), "{again:?}");
    let other = stores.runs.start_blocked(blocked_start(&identity, "No secret.", Some(before))).await.unwrap();
    assert!(matches!(&other, StartOutcome::Created(run) if run.id != first.id));
    let later = Some(now() + Duration::seconds(60));
    let changed = stores.runs.start_blocked(blocked_start(&identity, "No secret.", later)).await.unwrap();
    assert!(matches!(changed, StartOutcome::Created(_)), "the connection changed after the stub");
    assert_eq!(events_of(stores, 1, AuditAction::VerificationCompleted).await, 3);
    let queued = new_run(&identity, now());
    let event = started(&queued);
    let active = stores.runs.start_or_deduplicate(queued, event).await.unwrap();
    let blocked = stores.runs.start_blocked(blocked_start(&identity, "No secret.", None)).await.unwrap();
    assert!(matches!(&blocked, StartOutcome::Deduplicated(run) if run.id == active.run().id));
}

/// Concurrent blocked starts of one identity write exactly one stub and two events.
pub async fn concurrent_blocked_starts_write_one_stub(stores: &Stores) {
    let identity = identity(1, 10, None);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let runs = stores.runs.clone();
        let start = blocked_start(&identity, "No connection.", None);
        tasks.spawn(async move { runs.start_blocked(start).await });
    }
    let mut ids = HashSet::new();
    let mut created = 0;
    while let Some(result) = tasks.join_next().await {
        let outcome = result.unwrap().expect("no start may fail");
        ids.insert(outcome.run().id);
        created += usize::from(matches!(outcome, StartOutcome::Created(_)));
    }
    assert_eq!((created, ids.len()), (1, 1));
    assert_eq!(events_of(stores, 1, AuditAction::VerificationStarted).await, 1);
    assert_eq!(events_of(stores, 1, AuditAction::VerificationCompleted).await, 1);
}

/// A run's scope is its workspace and tenant; a missing run has none.
pub async fn scope_names_workspace_and_tenant(stores: &Stores) {
    let run = run_to_completion(stores, &identity(3, 30, None), mixed_checks()).await;
    let scope = stores.runs.scope(run.id).await.unwrap().unwrap();
    assert_eq!((scope.workspace_id, scope.tenant_id), (ws(3), tenant(30)));
    assert!(stores.runs.scope(crate::domain::RunId::generate()).await.unwrap().is_none());
}

/// A run in context is the run, its acknowledgements (oldest first) and the report its report
/// links as previous, equal to the separate reads; visibility is asked once, about the run's own
/// scope, and a run the caller may not see, or a missing one, gives nothing.
pub async fn a_run_in_context_is_read_only_when_visible(stores: &Stores) {
    let id = identity(4, 40, None);
    let first = run_to_completion(stores, &id, mixed_checks()).await;
    let second = run_to_completion(stores, &id, mixed_checks()).await;
    for key in ["c", "b"] {
        let ack = acknowledgement(&second, key);
        let event = acknowledged(&ack);
        stores.acknowledgements.acknowledge(ack, event).await.unwrap();
    }
    let asked = std::sync::Mutex::new(Vec::new());
    let everyone = |scope: RunScope| {
        asked.lock().unwrap().push(scope);
        true
    };
    let found = stores.runs.get_in_context(second.id, &everyone).await.unwrap().unwrap();
    assert_eq!(found.run, stores.runs.get(second.id).await.unwrap().unwrap());
    assert_eq!(found.acknowledgements, stores.acknowledgements.list_for_run(second.id).await.unwrap());
    assert_eq!(found.acknowledgements.len(), 2);
    assert_eq!(found.previous, stores.runs.get(first.id).await.unwrap().unwrap().report);
    assert!(found.previous.is_some());
    let scope = stores.runs.scope(second.id).await.unwrap().unwrap();
    assert_eq!(*asked.lock().unwrap(), [scope]);

    let oldest = stores.runs.get_in_context(first.id, &everyone).await.unwrap().unwrap();
    assert_eq!((oldest.acknowledgements.len(), oldest.previous), (0, None));

    let nobody = |_: RunScope| false;
    assert!(stores.runs.get_in_context(second.id, &nobody).await.unwrap().is_none());
    asked.lock().unwrap().clear();
    assert!(stores.runs.get_in_context(crate::domain::RunId::generate(), &everyone).await.unwrap().is_none());
    assert!(asked.lock().unwrap().is_empty(), "a missing run has no scope to ask about");
}

/// The previous report is the newest earlier completed run of exactly the same identity; a
/// null connection matches only null.
pub async fn previous_report_matches_identity_exactly_and_null_only_null(stores: &Stores) {
    let connection = ProviderConnectionId::generate();
    let without = identity(1, 10, None);
    let with = identity(1, 10, Some(connection));
    let first_null = run_to_completion(stores, &without, mixed_checks()).await;
    let first_conn = run_to_completion(stores, &with, mixed_checks()).await;
    let _other_tenant = run_to_completion(stores, &identity(1, 11, None), mixed_checks()).await;
    let second_null = run_to_completion(stores, &without, mixed_checks()).await;
    let second_conn = run_to_completion(stores, &with, mixed_checks()).await;

    let prev = |run: &crate::domain::Run| run.report.as_ref().unwrap().previous_report_id();
    assert_eq!(prev(&first_null), None);
    assert_eq!(prev(&first_conn), None, "a null-connection run is not the previous of a connection run");
    assert_eq!(prev(&second_null), Some(first_null.id));
    assert_eq!(prev(&second_conn), Some(first_conn.id));

    // Queued and running runs are never "previous"; only runs created before count.
    let queued = new_run(&without, now());
    let queued_id = queued.id;
    let event = started(&queued);
    stores.runs.start_or_deduplicate(queued, event).await.unwrap();
    let later = RunCursor { created_at: now() + Duration::seconds(5), id: crate::domain::RunId::generate() };
    let found = stores.runs.previous_completed_report(&without.hash(), later).await.unwrap().unwrap();
    assert_eq!(found.report_id(), second_null.id);
    assert_ne!(found.report_id(), queued_id);
    let before_all = RunCursor { created_at: first_null.created_at, id: first_null.id };
    assert!(stores.runs.previous_completed_report(&without.hash(), before_all).await.unwrap().is_none());
}

/// The latest run of an identity is the newest, active or not.
pub async fn latest_for_identity_is_the_newest_even_if_active(stores: &Stores) {
    let identity = identity(1, 10, None);
    assert!(stores.runs.latest_for_identity(&identity.hash()).await.unwrap().is_none());
    let done = run_to_completion(stores, &identity, mixed_checks()).await;
    assert_eq!(stores.runs.latest_for_identity(&identity.hash()).await.unwrap().unwrap().id, done.id);
    let next = new_run(&identity, now());
    let event = started(&next);
    let active = stores.runs.start_or_deduplicate(next, event).await.unwrap();
    let latest = stores.runs.latest_for_identity(&identity.hash()).await.unwrap().unwrap();
    assert_eq!((latest.id, latest.status), (active.run().id, RunStatus::Queued));
}

/// Keyset pages never repeat or skip a run, ties in `created_at` included.
pub async fn keyset_pagination_has_no_duplicates_or_gaps(stores: &Stores) {
    let base = now();
    let mut expected = Vec::new();
    for i in 0..57_i64 {
        // Groups of three share a creation time, so the id must break ties.
        let at = base - Duration::seconds(i / 3);
        let new = new_run(&identity(1, 10, Some(ProviderConnectionId::generate())), at);
        expected.push((new.created_at, new.id));
        let event = started(&new);
        stores.runs.start_or_deduplicate(new, event).await.unwrap();
    }
    // Runs of other tenants and workspaces never show up.
    for (w, t) in [(1, 11), (2, 10)] {
        let new = new_run(&identity(w, t, None), base);
        let event = started(&new);
        stores.runs.start_or_deduplicate(new, event).await.unwrap();
    }
    expected.sort_by(|a, b| b.cmp(a));
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = stores
            .runs
            .list(RunListQuery {
                workspace_id: ws(1),
                tenant_id: tenant(10),
                flow: None,
                status: None,
                provider_connection_id: None,
                limit: PageLimit::new(10).unwrap(),
                after,
            })
            .await
            .unwrap();
        pages += 1;
        assert!(page.runs.len() <= 10);
        seen.extend(page.runs.iter().map(|r| (r.created_at, r.id)));
        match page.next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
        assert!(pages < 20, "pagination does not terminate");
    }
    assert_eq!(seen, expected);
    assert_eq!(pages, 6);
}

/// Listing filters by flow, status and provider connection.
pub async fn list_filters_by_flow_status_and_connection(stores: &Stores) {
    let connection = ProviderConnectionId::generate();
    let done = run_to_completion(stores, &identity(1, 10, Some(connection)), mixed_checks()).await;
    let queued = new_run(&identity(1, 10, None), now());
    let queued_id = queued.id;
    let event = started(&queued);
    stores.runs.start_or_deduplicate(queued, event).await.unwrap();
    let mut other_flow = identity(1, 10, None);
    other_flow.flow = FlowId::parse("other.flow").unwrap();
    let other = new_run(&other_flow, now());
    let other_id = other.id;
    let event = started(&other);
    stores.runs.start_or_deduplicate(other, event).await.unwrap();

    let list = |flow: Option<FlowId>, status: Option<RunStatus>, conn: Option<ProviderConnectionId>| {
        let runs = stores.runs.clone();
        async move {
            let page = runs
                .list(RunListQuery {
                    workspace_id: ws(1),
                    tenant_id: tenant(10),
                    flow,
                    status,
                    provider_connection_id: conn,
                    limit: PageLimit::new(100).unwrap(),
                    after: None,
                })
                .await
                .unwrap();
            page.runs.into_iter().map(|r| r.id).collect::<HashSet<_>>()
        }
    };
    assert_eq!(list(None, None, None).await, HashSet::from([done.id, queued_id, other_id]));
    // A page lists summaries (no report, no summaries: the type has none), each equal to the
    // summary of the run itself.
    let page = stores
        .runs
        .list(RunListQuery {
            workspace_id: ws(1),
            tenant_id: tenant(10),
            flow: None,
            status: Some(RunStatus::Completed),
            provider_connection_id: None,
            limit: PageLimit::new(100).unwrap(),
            after: None,
        })
        .await
        .unwrap();
    let run = stores.runs.get(done.id).await.unwrap().unwrap();
    assert_eq!(page.runs, vec![run.summary()], "a listed run is the run's summary");
    assert!(run.report.is_some(), "the run itself has its report");
    assert!(run.summary_counts.is_some() && run.failure_summary.is_some(), "the run itself has its summaries");
    assert_eq!(list(Some(other_flow.flow.clone()), None, None).await, HashSet::from([other_id]));
    assert_eq!(list(None, Some(RunStatus::Completed), None).await, HashSet::from([done.id]));
    assert_eq!(list(None, Some(RunStatus::Queued), None).await, HashSet::from([queued_id, other_id]));
    assert_eq!(list(None, None, Some(connection)).await, HashSet::from([done.id]));
    assert_eq!(list(None, Some(RunStatus::Running), None).await, HashSet::new());
}

/// The queue depth counts queued and running runs only.
pub async fn queue_depth_counts_active_runs(stores: &Stores) {
    assert_eq!(stores.runs.queue_depth().await.unwrap(), crate::ports::QueueDepth::default());
    run_to_completion(stores, &identity(1, 10, None), mixed_checks()).await;
    for t in [12, 13, 14] {
        let new = new_run(&identity(2, t, None), now());
        let event = started(&new);
        stores.runs.start_or_deduplicate(new, event).await.unwrap();
    }
    let at = now();
    stores.queue.claim_next(&owner("w"), at, at + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(stores.runs.queue_depth().await.unwrap(), crate::ports::QueueDepth { queued: 2, running: 1 });
}
