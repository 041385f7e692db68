//! `tenant.intune_license` (docs/contract.md#provider-flow): licensed when a subscription in use has an Intune plan of
//! the catalog provisioned; `INTUNE_O365` alone is not a licence; without a licence Intune's
//! reachability is skipped; not being allowed to look is no finding about the licence.

use serde_json::json;
use verdict_core::domain::{CheckStatus, Overall, ReasonCode};
use verdict_core::flows::LICENSE_READ_PERMISSION;
use verdict_core::flows::keys::{GRAPH_INTUNE_REACHABLE, INTUNE_LICENSE};
use verdict_runner::fake::{FakeSku, Reply};

use crate::support::{Backend, check, evidence, on_every_backend, world};

async fn a_tenant_with_intune_is_licensed(backend: Backend) {
    let w = world(backend).await;
    let report = w.run_once().await.report.unwrap();
    let license = check(&report, INTUNE_LICENSE);
    assert_eq!((license.status, license.reason_code), (CheckStatus::Pass, ReasonCode::OK));
    assert_eq!(evidence(license, "sku_count"), Some(json!(2)));
    assert_eq!(check(&report, GRAPH_INTUNE_REACHABLE).status, CheckStatus::Pass);
}

async fn a_tenant_without_an_active_intune_plan_is_not_licensed(backend: Backend) {
    let suspended = FakeSku { capability_status: "Suspended".to_owned(), ..FakeSku::microsoft_365_e3() };
    let cases = [
        ("no Intune plan", vec![FakeSku::exchange_online()]),
        ("INTUNE_O365 only", vec![FakeSku::office_365_e3(), FakeSku::exchange_online()]),
        ("a suspended subscription", vec![suspended]),
        ("no subscription", vec![]),
    ];
    for (what, skus) in cases {
        let w = world(backend).await;
        let count = skus.len();
        w.provider.update(|b| b.skus = skus);
        let report = w.run_once().await.report.unwrap();
        let license = check(&report, INTUNE_LICENSE);
        assert_eq!(
            (license.status, license.reason_code, license.blocking),
            (CheckStatus::Fail, ReasonCode::INTUNE_NOT_LICENSED, true),
            "{what}"
        );
        assert_eq!(evidence(license, "sku_count"), Some(json!(count)), "{what}");
        let reachable = check(&report, GRAPH_INTUNE_REACHABLE);
        assert_eq!(
            (reachable.status, reachable.reason_code),
            (CheckStatus::Skip, ReasonCode::PREREQUISITE_FAILED),
            "{what}: Intune cannot answer without a licence"
        );
        assert_eq!(w.provider.requests_to("device_configurations"), 0, "{what}");
        assert_eq!(report.summary().overall, Overall::Blocked, "{what}");
    }
}

async fn a_refused_subscription_list_skips_and_names_the_permission(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.roles.retain(|r| r != LICENSE_READ_PERMISSION));
    let report = w.run_once().await.report.unwrap();
    let license = check(&report, INTUNE_LICENSE);
    assert_eq!((license.status, license.reason_code), (CheckStatus::Skip, ReasonCode::PERMISSION_DENIED));
    assert_eq!(evidence(license, "missing_permission"), Some(json!(LICENSE_READ_PERMISSION)));
    assert_eq!(evidence(license, "http_status"), Some(json!(403)));
    assert!(license.next_steps.iter().any(|s| s.url.contains("/adminconsent?client_id=")));
    assert_eq!(check(&report, GRAPH_INTUNE_REACHABLE).status, CheckStatus::Pass, "tried anyway");
    assert_eq!(report.summary().overall, Overall::Ready);
}

async fn a_throttled_or_unavailable_subscription_list_warns(backend: Backend) {
    for (status, reason) in [(429, ReasonCode::THROTTLED), (500, ReasonCode::DEPENDENCY_UNREACHABLE)] {
        let w = world(backend).await;
        w.provider.update(|b| b.subscribed_skus = Reply::Status(status));
        let report = w.run_once().await.report.unwrap();
        let license = check(&report, INTUNE_LICENSE);
        assert_eq!((license.status, license.reason_code, license.blocking), (CheckStatus::Warn, reason, false));
        assert_eq!(check(&report, GRAPH_INTUNE_REACHABLE).status, CheckStatus::Pass, "{status}: tried anyway");
        assert_eq!(report.summary().overall, Overall::NeedsAttention);
    }
}

on_every_backend!(
    a_tenant_with_intune_is_licensed,
    a_tenant_without_an_active_intune_plan_is_not_licensed,
    a_refused_subscription_list_skips_and_names_the_permission,
    a_throttled_or_unavailable_subscription_list_warns,
);
