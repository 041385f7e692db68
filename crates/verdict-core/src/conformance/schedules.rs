//! Schedule store behaviour: set, replace, read and remove with their audit events, and claims
//! that are exclusive, expire, and fence re-arming.

use std::collections::HashSet;

use chrono::Duration;
use serde_json::Map;

use super::Stores;
use super::fixtures::*;
use crate::domain::{
    Actor, AuditAction, FlowId, PendingAuditEvent, ProviderConnection, Schedule, ScheduleInterval, Subject, SubjectType,
};
use crate::ports::AuditQuery;

/// A schedule of `connection` due at `next`.
#[must_use]
pub fn schedule_of(connection: &ProviderConnection, interval: &str, next: chrono::DateTime<chrono::Utc>) -> Schedule {
    Schedule {
        provider_connection_id: connection.id,
        workspace_id: connection.workspace_id,
        tenant_id: connection.tenant_id,
        flow: FlowId::parse("provider.connection.check").unwrap(),
        interval: ScheduleInterval::parse(interval).unwrap(),
        next_run_at: next,
        created_at: now(),
        updated_at: now(),
    }
}

fn schedule_event(connection: &ProviderConnection, action: AuditAction) -> PendingAuditEvent {
    PendingAuditEvent::new(
        now(),
        connection.workspace_id,
        Some(connection.tenant_id),
        Actor::User(user()),
        action,
        Subject { kind: SubjectType::Schedule, id: connection.id.to_string() },
        Map::new(),
    )
}

async fn stored_connection(stores: &Stores, workspace: i64, tenant_id: i64) -> ProviderConnection {
    let c = connection(workspace, tenant_id);
    let event = connection_event(&c, AuditAction::ProviderConnectionCreated);
    stores.connections.create(c, event).await.unwrap()
}

async fn set(stores: &Stores, schedule: Schedule, connection: &ProviderConnection) -> Schedule {
    stores.schedules.set(schedule, schedule_event(connection, AuditAction::ScheduleSet)).await.unwrap()
}

async fn actions(stores: &Stores, action: AuditAction) -> usize {
    let query = AuditQuery {
        workspace: ws(1),
        visible: crate::domain::TenantScope::All,
        tenant: None,
        action: Some(action),
        after_seq: None,
        limit: 10_000,
    };
    stores.audit.events(query).await.unwrap().len()
}

/// A schedule is set, replaced (keeping `created_at`), read within its tenant only, and removed,
/// each change with its audit event; removing a missing schedule writes nothing.
pub async fn schedules_are_set_replaced_and_removed_with_their_events(stores: &Stores) {
    let c = stored_connection(stores, 1, 10).await;
    let first = schedule_of(&c, "PT6H", now() + Duration::hours(6));
    let stored = set(stores, first.clone(), &c).await;
    assert_eq!(stored, first);
    assert_eq!(stores.schedules.get(ws(1), tenant(10), c.id).await.unwrap(), Some(first.clone()));
    assert_eq!(stores.schedules.get(ws(1), tenant(11), c.id).await.unwrap(), None, "another tenant");
    assert_eq!(stores.schedules.get(ws(2), tenant(10), c.id).await.unwrap(), None, "another workspace");

    let mut second = schedule_of(&c, "P1D", now() + Duration::hours(1));
    second.created_at = now() + Duration::seconds(5);
    second.updated_at = second.created_at;
    let replaced = set(stores, second.clone(), &c).await;
    assert_eq!(replaced.created_at, first.created_at, "created_at is kept");
    assert_eq!((replaced.interval.as_str(), replaced.next_run_at), ("P1D", second.next_run_at));
    assert_eq!(replaced.updated_at, second.updated_at);
    assert_eq!(stores.schedules.get(ws(1), tenant(10), c.id).await.unwrap(), Some(replaced));
    assert_eq!(actions(stores, AuditAction::ScheduleSet).await, 2);

    let event = schedule_event(&c, AuditAction::ScheduleRemoved);
    assert!(!stores.schedules.remove(ws(1), tenant(11), c.id, event).await.unwrap(), "not in another tenant");
    let event = schedule_event(&c, AuditAction::ScheduleRemoved);
    assert!(stores.schedules.remove(ws(1), tenant(10), c.id, event).await.unwrap());
    assert_eq!(stores.schedules.get(ws(1), tenant(10), c.id).await.unwrap(), None);
    let event = schedule_event(&c, AuditAction::ScheduleRemoved);
    assert!(!stores.schedules.remove(ws(1), tenant(10), c.id, event).await.unwrap());
    assert_eq!(actions(stores, AuditAction::ScheduleRemoved).await, 1, "only the real removal is recorded");
}

/// Concurrent schedulers never claim the same due schedule, and schedules not yet due are left.
pub async fn concurrent_schedule_claims_never_share_a_schedule(stores: &Stores) {
    let at = now();
    for _ in 0..12 {
        let c = stored_connection(stores, 1, 10).await;
        set(stores, schedule_of(&c, "PT5M", at - Duration::seconds(1)), &c).await;
    }
    let later = stored_connection(stores, 1, 10).await;
    set(stores, schedule_of(&later, "PT5M", at + Duration::minutes(5)), &later).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let schedules = stores.schedules.clone();
        tasks.spawn(async move {
            let owner = owner(&format!("scheduler-{i}"));
            schedules.claim_due(&owner, at, at + Duration::seconds(60), 3).await
        });
    }
    let mut claimed = Vec::new();
    while let Some(result) = tasks.join_next().await {
        claimed.extend(result.unwrap().expect("claims must not fail").into_iter().map(|s| s.provider_connection_id));
    }
    let unique: HashSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), 12, "every due schedule claimed once");
    assert_eq!(unique.len(), 12, "no schedule claimed twice");
    assert!(!unique.contains(&later.id), "a schedule that is not due is not claimed");
}

/// A claim whose scheduler died expires; the schedule is claimed again, and only the current
/// holder re-arms it. Setting the schedule again drops a claim.
pub async fn an_expired_schedule_claim_is_due_again_and_fences_rearming(stores: &Stores) {
    let c = stored_connection(stores, 1, 10).await;
    let t0 = now();
    set(stores, schedule_of(&c, "PT5M", t0 - Duration::minutes(30)), &c).await;
    let (a, b) = (owner("scheduler-a"), owner("scheduler-b"));
    let claimed = stores.schedules.claim_due(&a, t0, t0 + Duration::seconds(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].next_run_at, t0 - Duration::minutes(30), "the claim names when it was due");
    let t1 = t0 + Duration::seconds(30);
    assert!(stores.schedules.claim_due(&b, t1, t1 + Duration::seconds(60), 10).await.unwrap().is_empty());
    let t2 = t0 + Duration::seconds(61);
    assert_eq!(stores.schedules.claim_due(&b, t2, t2 + Duration::seconds(60), 10).await.unwrap().len(), 1);
    assert!(!stores.schedules.rearm(c.id, &a, t2 + Duration::minutes(5)).await.unwrap(), "a lost its claim");
    let next = t2 + Duration::minutes(5);
    assert!(stores.schedules.rearm(c.id, &b, next).await.unwrap());
    assert_eq!(stores.schedules.get(ws(1), tenant(10), c.id).await.unwrap().unwrap().next_run_at, next);
    assert!(stores.schedules.claim_due(&a, t2, t2 + Duration::seconds(60), 10).await.unwrap().is_empty());
    assert!(!stores.schedules.rearm(c.id, &b, next).await.unwrap(), "a re-armed schedule holds no claim");

    let t3 = next + Duration::seconds(1);
    assert_eq!(stores.schedules.claim_due(&a, t3, t3 + Duration::seconds(60), 10).await.unwrap().len(), 1);
    set(stores, schedule_of(&c, "PT1H", t3 + Duration::minutes(10)), &c).await;
    assert!(!stores.schedules.rearm(c.id, &a, t3 + Duration::minutes(5)).await.unwrap(), "set again: claim dropped");
    let stored = stores.schedules.get(ws(1), tenant(10), c.id).await.unwrap().unwrap();
    assert_eq!((stored.interval.as_str(), stored.next_run_at), ("PT1H", t3 + Duration::minutes(10)));
}
