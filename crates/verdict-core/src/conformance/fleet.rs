//! Fleet status behaviour: one row per visible connection with its newest run, the change and
//! credential expiry stored at completion, its schedule; filters and keyset pages that agree.

use std::collections::BTreeSet;

use chrono::Duration;

use super::Stores;
use super::fixtures::*;
use super::schedules::schedule_of;
use crate::domain::{
    AuditAction, CREDENTIAL_EXPIRY_CHECK, ChangeState, CheckStatus, Evidence, FleetQuery, FleetRow, Overall,
    ProviderConnection, ReasonCode, RunStatus, TenantScope, format_timestamp,
};

async fn stored(
    stores: &Stores,
    workspace: i64,
    tenant_id: i64,
    expires: Option<chrono::DateTime<chrono::Utc>>,
) -> ProviderConnection {
    let c = ProviderConnection { client_secret_expires_at: expires, ..connection(workspace, tenant_id) };
    let event = connection_event(&c, AuditAction::ProviderConnectionCreated);
    stores.connections.create(c, event).await.unwrap()
}

fn query(visible: TenantScope) -> FleetQuery {
    FleetQuery {
        workspace_id: ws(1),
        visible,
        tenant_id: None,
        overall: None,
        expiring_before: None,
        stale_before: None,
        after: None,
        fetch_limit: 1000,
    }
}

/// What the rows say, in order: `(tenant, connection, overall, change)`.
fn summary(rows: &[FleetRow]) -> Vec<(i64, String, Option<Overall>, Option<ChangeState>)> {
    rows.iter()
        .map(|r| {
            let latest = r.latest.as_ref();
            (
                r.tenant_id.get(),
                r.provider_connection_id.to_string(),
                latest.map(|l| l.overall),
                latest.and_then(|l| l.change_state),
            )
        })
        .collect()
}

/// The fleet of workspace 1 built by both tests: `blocked` (t10, two identical blocked runs, its
/// own expiry), `ready` (t11, a run whose report found an expiry), `never` (t10, never verified,
/// scheduled) and a connection of workspace 2.
struct Fleet {
    blocked: ProviderConnection,
    ready: ProviderConnection,
    never: ProviderConnection,
    own_expiry: chrono::DateTime<chrono::Utc>,
    found_expiry: chrono::DateTime<chrono::Utc>,
}

async fn fleet(stores: &Stores) -> Fleet {
    let own_expiry = now() + Duration::days(20);
    let found_expiry = now() + Duration::days(200);
    let blocked = stored(stores, 1, 10, Some(own_expiry)).await;
    let ready = stored(stores, 1, 11, None).await;
    let never = stored(stores, 1, 10, None).await;
    let foreign = stored(stores, 2, 10, None).await;
    run_to_completion(stores, &identity(1, 10, Some(blocked.id)), mixed_checks()).await;
    run_to_completion(stores, &identity(1, 10, Some(blocked.id)), mixed_checks()).await;
    let mut expiry = check(CREDENTIAL_EXPIRY_CHECK, CheckStatus::Pass, false, ReasonCode::OK);
    expiry.evidence.push(Evidence::new("expires_at", format_timestamp(found_expiry)).unwrap());
    run_to_completion(stores, &identity(1, 11, Some(ready.id)), vec![expiry]).await;
    run_to_completion(stores, &identity(2, 10, Some(foreign.id)), mixed_checks()).await;
    let schedule = schedule_of(&never, "PT6H", now() + Duration::hours(6));
    let event = connection_event(&never, AuditAction::ScheduleSet);
    stores.schedules.set(schedule, event).await.unwrap();
    Fleet { blocked, ready, never, own_expiry, found_expiry }
}

/// Every visible connection of the workspace is one row, by tenant then connection, with its
/// newest run, the change stored at completion, the connection's expiry before the report's,
/// and its schedule.
pub async fn fleet_rows_show_each_connection_with_its_latest_run(stores: &Stores) {
    let f = fleet(stores).await;
    let rows = stores.fleet.fleet_status(&query(TenantScope::All)).await.unwrap();
    let mut t10 = [f.blocked.id.to_string(), f.never.id.to_string()];
    t10.sort();
    let expected_t10: Vec<_> = t10
        .iter()
        .map(|id| {
            if *id == f.blocked.id.to_string() {
                (10, id.clone(), Some(Overall::Blocked), Some(ChangeState::Unchanged))
            } else {
                (10, id.clone(), None, None)
            }
        })
        .collect();
    let mut expected = expected_t10;
    expected.push((11, f.ready.id.to_string(), Some(Overall::Ready), Some(ChangeState::None)));
    assert_eq!(summary(&rows), expected);

    let by_id = |id| rows.iter().find(|r| r.provider_connection_id == id).unwrap();
    let blocked = by_id(f.blocked.id);
    assert_eq!(blocked.credential_expires_at, Some(f.own_expiry), "the connection's own expiry");
    assert_eq!(blocked.connection_display_name.as_str(), "Contoso");
    let latest = blocked.latest.as_ref().unwrap();
    assert_eq!((latest.status, latest.flow.as_str()), (RunStatus::Completed, "provider.connection.check"));
    assert!(latest.completed_at.is_some());
    let newest = stores.runs.latest_for_identity(&identity(1, 10, Some(f.blocked.id)).hash()).await.unwrap().unwrap();
    assert_eq!(latest.run_id, newest.id, "the newest of the two runs");
    assert!(blocked.schedule.is_none());
    assert_eq!(by_id(f.ready.id).credential_expires_at, Some(f.found_expiry), "else what the report found");
    let never = by_id(f.never.id);
    assert!(never.latest.is_none() && never.credential_expires_at.is_none());
    assert_eq!(never.schedule.as_ref().unwrap().interval.as_str(), "PT6H");

    let only = stores.fleet.fleet_status(&query(TenantScope::Only(BTreeSet::from([tenant(11)])))).await.unwrap();
    assert_eq!(summary(&only), vec![(11, f.ready.id.to_string(), Some(Overall::Ready), Some(ChangeState::None))]);
    let none = stores.fleet.fleet_status(&query(TenantScope::Only(BTreeSet::new()))).await.unwrap();
    assert!(none.is_empty(), "no entitled tenant, no row");
}

/// Each filter admits exactly the rows it names, and keyset pages of one row walk the same rows
/// as one page, without duplicates or gaps.
pub async fn fleet_filters_and_pages_agree(stores: &Stores) {
    let f = fleet(stores).await;
    let ids = |rows: Vec<FleetRow>| rows.into_iter().map(|r| r.provider_connection_id).collect::<Vec<_>>();
    let run = |q: FleetQuery| async move { ids(stores.fleet.fleet_status(&q).await.unwrap()) };

    assert_eq!(run(FleetQuery { tenant_id: Some(tenant(11)), ..query(TenantScope::All) }).await, [f.ready.id]);
    assert_eq!(run(FleetQuery { overall: Some(Overall::Blocked), ..query(TenantScope::All) }).await, [f.blocked.id]);
    assert_eq!(run(FleetQuery { overall: Some(Overall::Ready), ..query(TenantScope::All) }).await, [f.ready.id]);
    let soon = FleetQuery { expiring_before: Some(now() + Duration::days(30)), ..query(TenantScope::All) };
    assert_eq!(run(soon).await, [f.blocked.id], "expires within 30 days");
    let expired = FleetQuery { expiring_before: Some(now() - Duration::days(1)), ..query(TenantScope::All) };
    assert!(run(expired).await.is_empty());
    let stale = FleetQuery { stale_before: Some(now() - Duration::hours(1)), ..query(TenantScope::All) };
    assert_eq!(run(stale).await, [f.never.id], "only the never verified one is older than an hour");
    let everything_stale = FleetQuery { stale_before: Some(now() + Duration::hours(1)), ..query(TenantScope::All) };
    assert_eq!(run(everything_stale).await.len(), 3);

    // An active newest run: `running`, with no change yet, while the older completion still
    // counts as verified for staleness.
    let active = new_run(&identity(1, 10, Some(f.blocked.id)), now() + Duration::seconds(1));
    let event = started(&active);
    stores.runs.start_or_deduplicate(active, event).await.unwrap();
    let rows = stores.fleet.fleet_status(&query(TenantScope::All)).await.unwrap();
    let row = rows.iter().find(|r| r.provider_connection_id == f.blocked.id).unwrap();
    let latest = row.latest.as_ref().unwrap();
    assert_eq!((latest.status, latest.overall, latest.change_state), (RunStatus::Queued, Overall::Running, None));
    assert_eq!(run(FleetQuery { overall: Some(Overall::Running), ..query(TenantScope::All) }).await, [f.blocked.id]);
    let found = new_run(&identity(1, 11, Some(f.ready.id)), now() + Duration::seconds(1));
    let event = started(&found);
    stores.runs.start_or_deduplicate(found, event).await.unwrap();
    let rows = stores.fleet.fleet_status(&query(TenantScope::All)).await.unwrap();
    let ready = rows.iter().find(|r| r.provider_connection_id == f.ready.id).unwrap();
    assert_eq!(ready.credential_expires_at, Some(f.found_expiry), "the newest completed report's expiry stays");
    let soon = FleetQuery { expiring_before: Some(now() + Duration::days(300)), ..query(TenantScope::All) };
    assert_eq!(run(soon).await.len(), 2, "both expiries count while a run is active");
    let stale = FleetQuery { stale_before: Some(now() - Duration::hours(1)), ..query(TenantScope::All) };
    assert_eq!(run(stale).await, [f.never.id], "a running re-verification does not make it stale");

    let all = run(query(TenantScope::All)).await;
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = stores.fleet.fleet_status(&FleetQuery { after, fetch_limit: 1, ..query(TenantScope::All) }).await;
        let Some(row) = page.unwrap().pop() else { break };
        after = Some(row.cursor());
        walked.push(row.provider_connection_id);
    }
    assert_eq!(walked, all);
}
