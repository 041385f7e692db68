//! The required-permission catalog against tokens with and without each role, and why a missing
//! one is missing: requested but not consented, or never requested (docs/contract.md#provider-flow).

use serde_json::json;
use verdict_core::domain::{CheckResult, CheckStatus, Overall, ReasonCode};
use verdict_core::flows::keys::{ADMIN_CONSENT, INTUNE_APPS, INTUNE_RBAC_ASSIGNMENTS};
use verdict_core::flows::{MissingIs, PROVIDER_CONNECTION_CHECKS, required_permissions};
use verdict_runner::entra::PERMISSIONS_REFERENCE;
use verdict_runner::fake::{Reply, granted_roles};

use crate::support::{Backend, CONSENT_AUTHORITY, World, check, evidence, on_every_backend, world};

fn assert_consent_steps(w: &World, result: &CheckResult) {
    let tenant = w.provider.tenant();
    let consent = format!("{CONSENT_AUTHORITY}/{}/adminconsent?client_id={}", tenant.directory_id, tenant.client_id);
    let urls: Vec<&str> = result.next_steps.iter().map(|s| s.url.as_str()).collect();
    assert!(urls.contains(&consent.as_str()), "{} lacks the consent link: {urls:?}", result.key);
    assert!(urls.contains(&PERMISSIONS_REFERENCE), "{} lacks the permissions reference: {urls:?}", result.key);
}

async fn each_missing_role_is_reported_by_its_own_check(backend: Backend) {
    let w = world(backend).await;
    for (key, required) in required_permissions() {
        let roles: Vec<String> = granted_roles().into_iter().filter(|r| r != required.permission).collect();
        w.provider.update(|b| b.roles = roles);
        let run = w.run_once().await;
        let report = run.report.as_ref().unwrap();
        let result = check(report, key);
        let expected = match required.missing_is {
            MissingIs::Fail => CheckStatus::Fail,
            MissingIs::Warn => CheckStatus::Warn,
        };
        assert_eq!((result.status, result.reason_code), (expected, ReasonCode::PERMISSION_DENIED), "{key}");
        let declared = PROVIDER_CONNECTION_CHECKS.iter().find(|c| c.key == key).unwrap().blocking;
        assert_eq!(result.is_blocker(), declared, "{key}: blocks exactly when core declares it blocking");
        let missing: Vec<_> = result.evidence.iter().filter(|e| e.kind.as_str() == "missing_permission").collect();
        assert_eq!(missing.len(), 1, "{key}");
        assert_eq!(evidence(result, "missing_permission"), Some(json!(required.permission)));
        assert_eq!(evidence(result, "permission_type"), Some(json!("application")));
        assert_eq!(evidence(result, "permission_state"), Some(json!("requested_not_consented")), "{key}");
        assert_consent_steps(&w, result);
        let others_pass = required_permissions()
            .filter(|(other, _)| *other != key)
            .all(|(other, _)| check(report, other).status == CheckStatus::Pass);
        assert!(others_pass, "only {key} is affected");
        let expected_overall = if result.is_blocker() { Overall::Blocked } else { Overall::NeedsAttention };
        assert_eq!(report.summary().overall, expected_overall, "{key}");
    }
}

async fn a_permission_missing_from_the_manifest_is_not_requested(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.drop_from_manifest("DeviceManagementApps.Read.All"));
    let report = w.run_once().await.report.unwrap();
    let apps = check(&report, INTUNE_APPS);
    assert_eq!((apps.status, apps.reason_code), (CheckStatus::Fail, ReasonCode::PERMISSION_DENIED));
    assert_eq!(evidence(apps, "permission_state"), Some(json!("not_requested")));
    let first = &apps.next_steps[0];
    assert!(first.label.starts_with("Add the permission"), "adding comes before consent: {:?}", apps.next_steps);
    assert_consent_steps(&w, apps);
}

/// The registration and Graph's roles are read once per run however many permissions are
/// missing, and a failed read leaves the state unknown rather than guessed.
async fn the_registration_is_read_once_and_a_failed_read_invents_nothing(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| {
        b.roles.retain(|r| !r.starts_with("DeviceManagementApps") && !r.starts_with("DeviceManagementRBAC"));
    });
    let report = w.run_once().await.report.unwrap();
    for key in [INTUNE_APPS, INTUNE_RBAC_ASSIGNMENTS] {
        assert_eq!(evidence(check(&report, key), "permission_state"), Some(json!("requested_not_consented")));
    }
    assert_eq!((w.provider.requests_to("applications"), w.provider.requests_to("service_principals")), (1, 1));

    w.provider.update(|b| b.service_principal = Reply::Status(500));
    let report = w.run_once().await.report.unwrap();
    for key in [INTUNE_APPS, INTUNE_RBAC_ASSIGNMENTS] {
        let result = check(&report, key);
        assert_eq!(result.reason_code, ReasonCode::PERMISSION_DENIED, "{key}");
        assert!(evidence(result, "permission_state").is_none(), "{key}: nothing invented");
    }
}

async fn broader_roles_satisfy_a_requirement(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| {
        b.roles = required_permissions().map(|(_, r)| (*r.accepted.last().unwrap()).to_owned()).collect();
    });
    let run = w.run_once().await;
    let report = run.report.as_ref().unwrap();
    for (key, _) in required_permissions() {
        assert_eq!(check(report, key).status, CheckStatus::Pass, "{key}");
    }
    assert_eq!(
        evidence(check(report, "permissions.directory_groups"), "granted_permission"),
        Some(json!("Directory.Read.All"))
    );
}

async fn a_token_without_roles_means_no_admin_consent(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| b.roles = Vec::new());
    let run = w.run_once().await;
    let report = run.report.as_ref().unwrap();
    let consent = check(report, ADMIN_CONSENT);
    assert_eq!((consent.status, consent.reason_code), (CheckStatus::Fail, ReasonCode::PERMISSION_DENIED));
    assert!(consent.is_blocker());
    assert_consent_steps(&w, consent);
    assert!(evidence(consent, "permission_state").is_none(), "without roles the registration cannot be read");
    for (key, _) in required_permissions() {
        assert_eq!(check(report, key).reason_code, ReasonCode::PERMISSION_DENIED, "{key}");
    }
    assert_eq!(report.summary().overall, Overall::Blocked);
}

on_every_backend!(
    each_missing_role_is_reported_by_its_own_check,
    a_permission_missing_from_the_manifest_is_not_requested,
    the_registration_is_read_once_and_a_failed_read_invents_nothing,
    broader_roles_satisfy_a_requirement,
    a_token_without_roles_means_no_admin_consent,
);
