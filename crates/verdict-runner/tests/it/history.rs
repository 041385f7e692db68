//! What readers see after runs: stored data only (no provider call), and the change since the
//! previous report of the same identity.

use verdict_core::domain::{FlowId, PageLimit, RunIdentity};
use verdict_core::flows::PROVIDER_CONNECTION_CHECK;
use verdict_core::rules::{ChangeState, CheckChangeKind};
use verdict_core::services::ListRuns;
use verdict_runner::fake::granted_roles;

use crate::support::{Backend, admin, on_every_backend, tenant, world, ws};

async fn reading_runs_and_reports_makes_no_provider_request(backend: Backend) {
    let w = world(backend).await;
    let run = w.run_once().await;
    let before = w.provider.requests();
    assert!(before > 0, "the run itself called the provider");
    let verifications = w.verifications();
    verifications.view(&admin(), run.id).await.unwrap();
    verifications.report(&admin(), run.id).await.unwrap();
    verifications.run(&admin(), run.id).await.unwrap();
    let identity = RunIdentity {
        flow: FlowId::parse(PROVIDER_CONNECTION_CHECK).unwrap(),
        workspace_id: ws(),
        tenant_id: tenant(),
        provider_connection_id: Some(w.connection),
    };
    verifications.latest(&admin(), &identity).await.unwrap();
    let list = ListRuns {
        workspace_id: ws(),
        tenant_id: tenant(),
        flow: None,
        status: None,
        provider_connection_id: None,
        limit: PageLimit::new(10).unwrap(),
        cursor: None,
    };
    assert_eq!(verifications.list(&admin(), list).await.unwrap().runs.len(), 1);
    assert_eq!(w.provider.requests(), before, "viewers read stored data only");
}

async fn repeated_runs_link_the_previous_report_and_show_what_changed(backend: Backend) {
    let w = world(backend).await;
    let first = w.run_once().await;
    let second = w.run_once().await;
    assert_eq!(second.report.as_ref().unwrap().previous_report_id(), Some(first.id));
    let view = w.verifications().view(&admin(), second.id).await.unwrap();
    assert_eq!((view.change.state, view.change.previous_report_id), (ChangeState::Unchanged, Some(first.id)));

    w.provider
        .update(|b| b.roles = granted_roles().into_iter().filter(|r| r != "DeviceManagementApps.Read.All").collect());
    let third = w.run_once().await;
    let view = w.verifications().view(&admin(), third.id).await.unwrap();
    assert_eq!((view.change.state, view.change.previous_report_id), (ChangeState::Changed, Some(second.id)));
    let changed: Vec<(&str, CheckChangeKind)> = view
        .change
        .checks
        .iter()
        .filter(|c| c.change != CheckChangeKind::Unchanged)
        .map(|c| (c.key.as_str(), c.change))
        .collect();
    assert_eq!(changed, [("permissions.intune_apps", CheckChangeKind::Regressed)]);
}

on_every_backend!(
    reading_runs_and_reports_makes_no_provider_request,
    repeated_runs_link_the_previous_report_and_show_what_changed,
);
