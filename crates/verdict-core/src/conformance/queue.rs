//! Run queue behaviour: claims, leases, live reports and immutable completion.

use std::collections::HashSet;

use chrono::Duration;

use super::Stores;
use super::fixtures::*;
use crate::domain::{AuditAction, CheckStatus, ProviderConnectionId, ReasonCode, RunStatus};
use crate::ports::{AuditQuery, CompleteError, LeaseError};
use crate::rules::live_report;

async fn completed_events(stores: &Stores) -> usize {
    let query = AuditQuery {
        workspace: ws(1),
        visible: crate::domain::TenantScope::All,
        tenant: None,
        action: Some(AuditAction::VerificationCompleted),
        after_seq: None,
        limit: 10_000,
    };
    stores.audit.events(query).await.unwrap().len()
}

/// A completed run's report cannot be changed through the port, and completing twice fails.
pub async fn completed_report_cannot_be_changed(stores: &Stores) {
    let identity = identity(1, 10, None);
    let done = run_to_completion(stores, &identity, mixed_checks()).await;
    let worker = owner("worker-complete");
    let other = report(&done, vec![check("a", CheckStatus::Pass, false, ReasonCode::OK)], None);
    assert!(matches!(stores.queue.write_live_report(done.id, &worker, &other).await, Err(LeaseError::LeaseLost)));
    let event = completed(&done, &other);
    let again = stores.queue.complete(done.id, &worker, completion(other.clone()), event, Vec::new()).await;
    assert!(matches!(again, Err(CompleteError::AlreadyCompleted)), "{again:?}");
    assert!(matches!(stores.queue.heartbeat(done.id, &worker, now()).await, Err(LeaseError::LeaseLost)));
    let stored = stores.runs.get(done.id).await.unwrap().unwrap();
    assert_eq!(stored.report, done.report);
    assert_eq!(stored.status, RunStatus::Completed);
    assert_eq!(completed_events(stores).await, 1);
    let missing = crate::domain::RunId::generate();
    let event = completed(&done, &other);
    assert!(matches!(
        stores.queue.complete(missing, &worker, completion(other), event, Vec::new()).await,
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
    let claimed = stores.queue.claim_next(&worker, at, at + Duration::seconds(30)).await.unwrap().unwrap();
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
    stores.queue.write_live_report(claimed.id, &worker, &live).await.unwrap();
    let stored = stores.runs.get(claimed.id).await.unwrap().unwrap();
    assert_eq!(stored.report.as_ref(), Some(&live));
    assert_eq!(stored.report.unwrap().to_json(), live.to_json());
    assert_eq!(stored.summary_counts, Some(live.summary().counts));
    assert_eq!((stored.status, stored.attempt), (RunStatus::Running, 1));
    assert_eq!(stored.initiator_user_id, Some(user()));
    assert_eq!(stored.identity, identity);
}

/// The claim takes the oldest queued run, marks it running and counts the attempt.
pub async fn claim_takes_the_oldest_queued_run(stores: &Stores) {
    let worker = owner("w1");
    assert!(stores.queue.claim_next(&worker, now(), now()).await.unwrap().is_none(), "empty queue");
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
        let run = stores.queue.claim_next(&worker, at, at + Duration::seconds(30)).await.unwrap().unwrap();
        assert_eq!(run.id, expected);
        assert_eq!((run.status, run.attempt), (RunStatus::Running, 1));
        assert_eq!(run.lease_owner.as_ref(), Some(&worker));
    }
    assert!(stores.queue.claim_next(&worker, now(), now() + Duration::seconds(30)).await.unwrap().is_none());
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
        let queue = stores.queue.clone();
        tasks.spawn(async move {
            let worker = owner(&format!("w{i}"));
            let at = now();
            queue.claim_next(&worker, at, at + Duration::seconds(60)).await
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
    let first = stores.queue.claim_next(&a, t0, t0 + Duration::seconds(30)).await.unwrap().unwrap();
    assert!(
        stores.queue.claim_next(&b, t0 + Duration::seconds(29), t0 + Duration::seconds(59)).await.unwrap().is_none()
    );
    let t1 = t0 + Duration::seconds(31);
    let second = stores.queue.claim_next(&b, t1, t1 + Duration::seconds(30)).await.unwrap().unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.attempt, 2);
    assert_eq!(second.started_at, first.started_at, "started_at is the first claim's");
    assert_eq!(second.lease_owner.as_ref(), Some(&b));
    assert!(matches!(
        stores.queue.heartbeat(first.id, &a, t1 + Duration::seconds(60)).await,
        Err(LeaseError::LeaseLost)
    ));
    let r = report(&first, mixed_checks(), None);
    assert!(matches!(stores.queue.write_live_report(first.id, &a, &r).await, Err(LeaseError::LeaseLost)));
    let event = completed(&first, &r);
    assert!(matches!(
        stores.queue.complete(first.id, &a, completion(r.clone()), event, Vec::new()).await,
        Err(CompleteError::LeaseLost)
    ));
    let event = completed(&second, &r);
    let done = stores.queue.complete(second.id, &b, completion(r), event, Vec::new()).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    assert!(done.lease_owner.is_none() && done.lease_expires_at.is_none());
    let t2 = t1 + Duration::days(1);
    assert!(stores.queue.claim_next(&a, t2, t2).await.unwrap().is_none(), "completed runs are never claimed");
}

/// A heartbeat pushes the lease out; a release makes the run claimable at once without spending
/// an attempt (only an expired lease counts).
pub async fn heartbeat_extends_and_release_hands_back_the_lease(stores: &Stores) {
    let new = new_run(&identity(1, 10, None), now());
    let event = started(&new);
    stores.runs.start_or_deduplicate(new, event).await.unwrap();
    let (a, b) = (owner("worker-a"), owner("worker-b"));
    let t0 = now();
    let run = stores.queue.claim_next(&a, t0, t0 + Duration::seconds(30)).await.unwrap().unwrap();
    stores.queue.heartbeat(run.id, &a, t0 + Duration::seconds(90)).await.unwrap();
    assert!(
        stores.queue.claim_next(&b, t0 + Duration::seconds(60), t0 + Duration::seconds(90)).await.unwrap().is_none()
    );
    let stored = stores.runs.get(run.id).await.unwrap().unwrap();
    assert_eq!(stored.lease_expires_at, Some(t0 + Duration::seconds(90)));
    assert!(
        matches!(stores.queue.release(run.id, &b, t0).await, Err(LeaseError::LeaseLost)),
        "only the owner releases"
    );
    stores.queue.release(run.id, &a, t0 + Duration::seconds(61)).await.unwrap();
    let again =
        stores.queue.claim_next(&b, t0 + Duration::seconds(62), t0 + Duration::seconds(92)).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempt), (run.id, 1), "a handed-back lease spends no attempt");
    assert!(matches!(
        stores.queue.heartbeat(crate::domain::RunId::generate(), &b, t0).await,
        Err(LeaseError::NotFound)
    ));
}
