//! The per-check tables of the SARIF mapping (docs/contract.md#exports): levels from severity, kind and level
//! from status, baseline state from core's per-check change, and the result fingerprint.

use serde_sarif::sarif::{ResultBaselineState, ResultKind, ResultLevel};
use sha2::{Digest, Sha256};
use verdict_core::domain::{CheckKey, CheckResult, CheckStatus, RunIdentityHash, Severity};
use verdict_core::rules::CheckChangeKind;

/// The `partialFingerprints` key of a result. Versioned so the recipe can change without
/// making old and new results look like different findings of the same version.
pub const FINGERPRINT_KEY: &str = "verdictCheck/v1";

/// A rule's `defaultConfiguration.level`, and a non-blocking failure's level: critical/high →
/// `error`, medium → `warning`, low/info/unknown → `note`.
#[must_use]
pub fn level_for_severity(severity: Severity) -> ResultLevel {
    match severity {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info | Severity::Unknown => ResultLevel::Note,
    }
}

/// A result's `kind` and `level` from its check.
///
/// - pass → `pass`/`none`; skip → `notApplicable`/`none`;
/// - fail → `fail`/`error` for a blocker, else `fail`/(level from severity);
/// - warn → `review`/`warning`, as docs/contract.md#exports maps it. SARIF 2.1.0 §3.27.10 says a result whose
///   kind is not `fail` should have level `none`; neither validator enforces that, and the
///   spec's mapping is kept so dashboards that sort by level still surface warnings;
/// - running (live reports only; docs/contract.md#exports does not map it) → `open`/`none`: SARIF's kind for
///   "the tool could not yet decide", with no severity claimed.
#[must_use]
pub fn kind_and_level(check: &CheckResult) -> (ResultKind, ResultLevel) {
    match check.status {
        CheckStatus::Pass => (ResultKind::Pass, ResultLevel::None),
        CheckStatus::Fail if check.blocking => (ResultKind::Fail, ResultLevel::Error),
        CheckStatus::Fail => (ResultKind::Fail, level_for_severity(check.severity)),
        CheckStatus::Warn => (ResultKind::Review, ResultLevel::Warning),
        CheckStatus::Skip => (ResultKind::NotApplicable, ResultLevel::None),
        CheckStatus::Running => (ResultKind::Open, ResultLevel::None),
    }
}

/// The baseline state of a check from core's per-check change (docs/contract.md#change-rules): `added` → `new`,
/// `unchanged` (same outcome line of docs/contract.md#fingerprint) → `unchanged`, `regressed`/`improved`/`changed` →
/// `updated`, `removed` → `absent`.
#[must_use]
pub fn baseline_state(change: CheckChangeKind) -> ResultBaselineState {
    match change {
        CheckChangeKind::Added => ResultBaselineState::New,
        CheckChangeKind::Unchanged => ResultBaselineState::Unchanged,
        CheckChangeKind::Regressed | CheckChangeKind::Improved | CheckChangeKind::Changed => {
            ResultBaselineState::Updated
        }
        CheckChangeKind::Removed => ResultBaselineState::Absent,
    }
}

/// `hex(sha256(run_identity_hash + "|" + key))`: equal for one check across every run of one
/// identity, different across identities, so dashboards track a finding from run to run.
#[must_use]
pub fn check_fingerprint(identity_hash: &RunIdentityHash, key: &CheckKey) -> String {
    let mut hasher = Sha256::new();
    hasher.update(identity_hash.as_str().as_bytes());
    hasher.update(b"|");
    hasher.update(key.as_str().as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_core::domain::{CheckTitle, ReasonCode};

    fn check(status: CheckStatus, blocking: bool, severity: Severity) -> CheckResult {
        CheckResult::new(
            CheckKey::parse("k").unwrap(),
            CheckTitle::parse("K").unwrap(),
            status,
            severity,
            blocking,
            ReasonCode::OK,
        )
    }

    #[test]
    fn levels_and_kinds_table() {
        use CheckStatus::{Fail, Pass, Running, Skip, Warn};
        use ResultKind as K;
        use ResultLevel as L;
        use Severity::{Critical, High, Info, Low, Medium, Unknown};
        let table = [
            (Pass, false, High, K::Pass, L::None),
            (Pass, true, Critical, K::Pass, L::None),
            (Fail, true, Low, K::Fail, L::Error),
            (Fail, true, Unknown, K::Fail, L::Error),
            (Fail, false, Critical, K::Fail, L::Error),
            (Fail, false, High, K::Fail, L::Error),
            (Fail, false, Medium, K::Fail, L::Warning),
            (Fail, false, Low, K::Fail, L::Note),
            (Fail, false, Info, K::Fail, L::Note),
            (Fail, false, Unknown, K::Fail, L::Note),
            (Warn, false, Critical, K::Review, L::Warning),
            (Warn, true, Info, K::Review, L::Warning),
            (Skip, true, High, K::NotApplicable, L::None),
            (Running, true, High, K::Open, L::None),
        ];
        for (status, blocking, severity, kind, level) in table {
            let got = kind_and_level(&check(status, blocking, severity));
            assert_eq!(got, (kind.clone(), level), "{status:?} blocking={blocking} {severity:?}");
        }
        assert_eq!(level_for_severity(Severity::Medium), L::Warning);
    }

    #[test]
    fn fingerprint_follows_its_recipe() {
        let hash = RunIdentityHash::parse("a".repeat(64)).unwrap();
        let key = CheckKey::parse("permissions.graph").unwrap();
        let expected = hex::encode(Sha256::digest(format!("{}|permissions.graph", "a".repeat(64)).as_bytes()));
        assert_eq!(check_fingerprint(&hash, &key), expected);
    }
}
