//! The required-permission catalog against tokens with and without each role.

use serde_json::json;
use verdict_core::domain::{CheckResult, CheckStatus, Overall, ReasonCode};
use verdict_runner::checks::{ADMIN_CONSENT, MissingIs, REQUIRED_PERMISSIONS};
use verdict_runner::entra::PERMISSIONS_REFERENCE;
use verdict_runner::fake::granted_roles;

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
    for required in REQUIRED_PERMISSIONS {
        let roles: Vec<String> = granted_roles().into_iter().filter(|r| r != required.permission).collect();
        w.provider.update(|b| b.roles = roles);
        let run = w.run_once().await;
        let report = run.report.as_ref().unwrap();
        let result = check(report, required.check);
        let expected = match required.missing_is {
            MissingIs::Fail => CheckStatus::Fail,
            MissingIs::Warn => CheckStatus::Warn,
        };
        assert_eq!(
            (result.status, result.reason_code),
            (expected, ReasonCode::PERMISSION_DENIED),
            "{}",
            required.check
        );
        assert_eq!(result.is_blocker(), required.blocking, "{}", required.check);
        let missing: Vec<_> = result.evidence.iter().filter(|e| e.kind.as_str() == "missing_permission").collect();
        assert_eq!(missing.len(), 1, "{}", required.check);
        assert_eq!(evidence(result, "missing_permission"), Some(json!(required.permission)));
        assert_eq!(evidence(result, "permission_type"), Some(json!("application")));
        assert_consent_steps(&w, result);
        let others_pass = REQUIRED_PERMISSIONS
            .iter()
            .filter(|other| other.check != required.check)
            .all(|other| check(report, other.check).status == CheckStatus::Pass);
        assert!(others_pass, "only {} is affected", required.check);
        let expected_overall = if required.blocking { Overall::Blocked } else { Overall::NeedsAttention };
        assert_eq!(report.summary().overall, expected_overall, "{}", required.check);
    }
}

async fn broader_roles_satisfy_a_requirement(backend: Backend) {
    let w = world(backend).await;
    w.provider.update(|b| {
        b.roles = REQUIRED_PERMISSIONS.iter().map(|r| (*r.accepted.last().unwrap()).to_owned()).collect();
    });
    let run = w.run_once().await;
    let report = run.report.as_ref().unwrap();
    for required in REQUIRED_PERMISSIONS {
        assert_eq!(check(report, required.check).status, CheckStatus::Pass, "{}", required.check);
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
    for required in REQUIRED_PERMISSIONS {
        assert_eq!(check(report, required.check).reason_code, ReasonCode::PERMISSION_DENIED, "{}", required.check);
    }
    assert_eq!(report.summary().overall, Overall::Blocked);
}

on_every_backend!(
    each_missing_role_is_reported_by_its_own_check,
    broader_roles_satisfy_a_requirement,
    a_token_without_roles_means_no_admin_consent,
);
