//! Run store behaviour: idempotent start, queue, leases, immutable completion, listing.

use std::collections::HashSet;

use chrono::Duration;

use super::Stores;
use super::fixtures::*;
use crate::domain::{
    AuditAction, CheckStatus, FlowId, PageLimit, ProviderConnectionId, ReasonCode, RunCursor, RunListQuery, RunStatus,
};
use crate::ports::{AuditQuery, CompleteError, LeaseError, StartOutcome};
use crate::rules::{live_report, summary_counts};

async fn events_of(stores: &Stores, workspace: i64, action: AuditAction) -> usize {
    stores
        .audit
        .events(AuditQuery {
            workspace: ws(workspace),
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

/// The blocked stub path inserts a completed run with both of its events.
pub async fn insert_completed_writes_both_events(stores: &Stores) {
    let identity = identity(1, 10, None);
    let new = new_run(&identity, now());
    let started_event = started(&new);
    let stub = crate::rules::blocked_stub_report(new.id, &identity, None, "No connection.", now(), None).unwrap();
    let completion = completion(stub.clone());
    let completed_event =
        crate::services::events::new_run_completed(&new, &stub, crate::domain::Outcome::Blocked, now());
    let mut completion = completion;
    completion.outcome = crate::domain::Outcome::Blocked;
    let run = stores.runs.insert_completed(new, completion, started_event, completed_event).await.unwrap();
    assert_eq!((run.status, run.outcome), (RunStatus::Completed, crate::domain::Outcome::Blocked));
    let stored = stores.runs.get(run.id).await.unwrap().unwrap();
    assert_eq!(stored.report.as_ref(), Some(&stub));
    assert_eq!(stored.summary_counts, Some(summary_counts(&stub.summary().counts)));
    assert_eq!(events_of(stores, 1, AuditAction::VerificationStarted).await, 1);
    assert_eq!(events_of(stores, 1, AuditAction::VerificationCompleted).await, 1);
    // Not active: a normal start of the identity is not deduplicated against it.
    let next = new_run(&identity, now());
    let event = started(&next);
    assert!(matches!(stores.runs.start_or_deduplicate(next, event).await.unwrap(), StartOutcome::Created(_)));
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

/// A completed run's report cannot be changed through the port, and completing twice fails.
pub async fn completed_report_cannot_be_changed(stores: &Stores) {
    let identity = identity(1, 10, None);
    let done = run_to_completion(stores, &identity, mixed_checks()).await;
    let worker = owner("worker-complete");
    let other = report(&done, vec![check("a", CheckStatus::Pass, false, ReasonCode::OK)], None);
    assert!(matches!(stores.runs.write_live_report(done.id, &worker, &other).await, Err(LeaseError::LeaseLost)));
    let event = completed(&done, &other);
    let again = stores.runs.complete(done.id, &worker, completion(other.clone()), event).await;
    assert!(matches!(again, Err(CompleteError::AlreadyCompleted)), "{again:?}");
    assert!(matches!(stores.runs.heartbeat(done.id, &worker, now()).await, Err(LeaseError::LeaseLost)));
    let stored = stores.runs.get(done.id).await.unwrap().unwrap();
    assert_eq!(stored.report, done.report);
    assert_eq!(stored.status, RunStatus::Completed);
    assert_eq!(events_of(stores, 1, AuditAction::VerificationCompleted).await, 1);
    let missing = crate::domain::RunId::generate();
    let event = completed(&done, &other);
    assert!(matches!(
        stores.runs.complete(missing, &worker, completion(other), event).await,
        Err(CompleteError::NotFound)
    ));
}

/// What is written is what is read: the live report, counts and timestamps survive exactly.
pub async fn live_report_round_trips_exactly(stores: &Stores) {
    let identity = identity(1, 10, Some(ProviderConnectionId::generate()));
    let new = new_run(&identity, now());
    let created_at = new.created_at;
    let event = started(&new);
    stores.runs.start_or_deduplicate(new, event).await.unwrap();
    let worker = owner("w1");
    let at = now();
    let claimed = stores.runs.claim_next(&worker, at, at + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(claimed.created_at, created_at);
    assert_eq!(claimed.started_at, Some(at));
    assert_eq!(claimed.lease_expires_at, Some(at + Duration::seconds(30)));
    let flow = crate::flows::provider_connection_check().unwrap();
    let mut draft = live_report(claimed.id, &identity, None, &flow, now()).unwrap().to_draft();
    draft.checks[1] = check("provider_connection.token_acquisition", CheckStatus::Pass, true, ReasonCode::OK)
        .with_message("Token acquired — ünïcødé ✓ \"quoted\"")
        .with_evidence(crate::domain::Evidence::new("http_status", 200_i64).unwrap())
        .with_evidence(crate::domain::Evidence::new("cached", false).unwrap());
    let live = crate::domain::Report::assemble(draft).unwrap();
    stores.runs.write_live_report(claimed.id, &worker, &live).await.unwrap();
    let stored = stores.runs.get(claimed.id).await.unwrap().unwrap();
    assert_eq!(stored.report.as_ref(), Some(&live));
    assert_eq!(stored.report.unwrap().to_json(), live.to_json());
    assert_eq!(stored.summary_counts, Some(summary_counts(&live.summary().counts)));
    assert_eq!((stored.status, stored.attempt), (RunStatus::Running, 1));
    assert_eq!(stored.initiator_user_id, Some(user()));
    assert_eq!(stored.identity, identity);
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
    assert_eq!(list(Some(other_flow.flow.clone()), None, None).await, HashSet::from([other_id]));
    assert_eq!(list(None, Some(RunStatus::Completed), None).await, HashSet::from([done.id]));
    assert_eq!(list(None, Some(RunStatus::Queued), None).await, HashSet::from([queued_id, other_id]));
    assert_eq!(list(None, None, Some(connection)).await, HashSet::from([done.id]));
    assert_eq!(list(None, Some(RunStatus::Running), None).await, HashSet::new());
}

/// The claim takes the oldest queued run, marks it running and counts the attempt.
pub async fn claim_takes_the_oldest_queued_run(stores: &Stores) {
    let worker = owner("w1");
    assert!(stores.runs.claim_next(&worker, now(), now()).await.unwrap().is_none(), "empty queue");
    let base = now();
    let mut ids = Vec::new();
    for i in 0..3 {
        let new = new_run(&identity(1, 10, Some(ProviderConnectionId::generate())), base - Duration::seconds(10 - i));
        ids.push(new.id);
        let event = started(&new);
        stores.runs.start_or_deduplicate(new, event).await.unwrap();
    }
    for expected in ids {
        let at = now();
        let run = stores.runs.claim_next(&worker, at, at + Duration::seconds(30)).await.unwrap().unwrap();
        assert_eq!(run.id, expected);
        assert_eq!((run.status, run.attempt), (RunStatus::Running, 1));
        assert_eq!(run.lease_owner.as_ref(), Some(&worker));
    }
    assert!(stores.runs.claim_next(&worker, now(), now() + Duration::seconds(30)).await.unwrap().is_none());
}

/// Concurrent claimers never get the same run.
pub async fn concurrent_claims_never_share_a_run(stores: &Stores) {
    for _ in 0..10 {
        let new = new_run(&identity(1, 10, Some(ProviderConnectionId::generate())), now());
        let event = started(&new);
        stores.runs.start_or_deduplicate(new, event).await.unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let runs = stores.runs.clone();
        tasks.spawn(async move {
            let worker = owner(&format!("w{i}"));
            let at = now();
            runs.claim_next(&worker, at, at + Duration::seconds(60)).await
        });
    }
    let mut claimed = Vec::new();
    while let Some(result) = tasks.join_next().await {
        if let Some(run) = result.unwrap().expect("claims must not fail") {
            claimed.push(run.id);
        }
    }
    let unique: HashSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), 10, "every run claimed once");
    assert_eq!(unique.len(), 10, "no run claimed twice");
}

/// An expired lease lets another worker claim the run; the old owner is fenced off.
pub async fn lease_expiry_allows_reclaim_and_fences_the_old_owner(stores: &Stores) {
    let new = new_run(&identity(1, 10, None), now());
    let event = started(&new);
    stores.runs.start_or_deduplicate(new, event).await.unwrap();
    let (a, b) = (owner("worker-a"), owner("worker-b"));
    let t0 = now();
    let first = stores.runs.claim_next(&a, t0, t0 + Duration::seconds(30)).await.unwrap().unwrap();
    assert!(
        stores.runs.claim_next(&b, t0 + Duration::seconds(29), t0 + Duration::seconds(59)).await.unwrap().is_none()
    );
    let t1 = t0 + Duration::seconds(31);
    let second = stores.runs.claim_next(&b, t1, t1 + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempt, 2);
    assert_eq!(second.started_at, first.started_at, "started_at is the first claim's");
    assert_eq!(second.lease_owner.as_ref(), Some(&b));
    assert!(matches!(
        stores.runs.heartbeat(first.id, &a, t1 + Duration::seconds(60)).await,
        Err(LeaseError::LeaseLost)
    ));
    let r = report(&first, mixed_checks(), None);
    assert!(matches!(stores.runs.write_live_report(first.id, &a, &r).await, Err(LeaseError::LeaseLost)));
    let event = completed(&first, &r);
    assert!(matches!(
        stores.runs.complete(first.id, &a, completion(r.clone()), event).await,
        Err(CompleteError::LeaseLost)
    ));
    let event = completed(&second, &r);
    let done = stores.runs.complete(second.id, &b, completion(r), event).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert!(done.lease_owner.is_none() && done.lease_expires_at.is_none());
    let t2 = t1 + Duration::days(1);
    assert!(stores.runs.claim_next(&a, t2, t2).await.unwrap().is_none(), "completed runs are never claimed");
}

/// A heartbeat pushes the lease out; a release makes the run claimable at once.
pub async fn heartbeat_extends_and_release_hands_back_the_lease(stores: &Stores) {
    let new = new_run(&identity(1, 10, None), now());
    let event = started(&new);
    stores.runs.start_or_deduplicate(new, event).await.unwrap();
    let (a, b) = (owner("worker-a"), owner("worker-b"));
    let t0 = now();
    let run = stores.runs.claim_next(&a, t0, t0 + Duration::seconds(30)).await.unwrap().unwrap();
    stores.runs.heartbeat(run.id, &a, t0 + Duration::seconds(90)).await.unwrap();
    assert!(
        stores.runs.claim_next(&b, t0 + Duration::seconds(60), t0 + Duration::seconds(90)).await.unwrap().is_none()
    );
    let stored = stores.runs.get(run.id).await.unwrap().unwrap();
    assert_eq!(stored.lease_expires_at, Some(t0 + Duration::seconds(90)));
    assert!(matches!(stores.runs.release(run.id, &b, t0).await, Err(LeaseError::LeaseLost)), "only the owner releases");
    stores.runs.release(run.id, &a, t0 + Duration::seconds(61)).await.unwrap();
    let again =
        stores.runs.claim_next(&b, t0 + Duration::seconds(62), t0 + Duration::seconds(92)).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempt), (run.id, 2));
    assert!(matches!(stores.runs.heartbeat(crate::domain::RunId::generate(), &b, t0).await, Err(LeaseError::NotFound)));
}

/// Tallies count runs by status and outcome.
pub async fn tally_counts_runs_by_status_and_outcome(stores: &Stores) {
    assert!(stores.runs.tally().await.unwrap().is_empty());
    run_to_completion(stores, &identity(1, 10, None), mixed_checks()).await;
    run_to_completion(stores, &identity(1, 11, None), vec![check("a", CheckStatus::Pass, false, ReasonCode::OK)]).await;
    for t in [12, 13] {
        let new = new_run(&identity(2, t, None), now());
        let event = started(&new);
        stores.runs.start_or_deduplicate(new, event).await.unwrap();
    }
    let mut tallies: Vec<(RunStatus, crate::domain::Outcome, u64)> =
        stores.runs.tally().await.unwrap().into_iter().map(|t| (t.status, t.outcome, t.count)).collect();
    tallies.sort_by_key(|(s, o, _)| (s.as_str(), o.as_str()));
    assert_eq!(
        tallies,
        [
            (RunStatus::Completed, crate::domain::Outcome::Failed, 1),
            (RunStatus::Completed, crate::domain::Outcome::Succeeded, 1),
            (RunStatus::Queued, crate::domain::Outcome::Pending, 2),
        ]
    );
}
