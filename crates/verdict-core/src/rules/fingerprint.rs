//! The report fingerprint (docs/contract.md#fingerprint): SHA-256 over each check's outcome line, independent of
//! check order, timestamps, messages, evidence and links.

use sha2::{Digest, Sha256};

use crate::domain::{CheckResult, Fingerprint};

/// The outcome line of one check: `key|status|blocking|reason_code|severity`.
#[must_use]
pub fn outcome_line(check: &CheckResult) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        check.key,
        check.status.as_str(),
        check.blocking,
        check.reason_code,
        check.severity.as_str()
    )
}

/// Lines sorted by key (byte-wise), joined by `\n` without a trailing newline, hashed.
#[must_use]
pub fn fingerprint(checks: &[CheckResult]) -> Fingerprint {
    let mut sorted: Vec<&CheckResult> = checks.iter().collect();
    sorted.sort_by(|a, b| a.key.as_str().as_bytes().cmp(b.key.as_str().as_bytes()));
    let text = sorted.iter().map(|c| outcome_line(c)).collect::<Vec<_>>().join("\n");
    Fingerprint::from_digest(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CheckStatus, Evidence, NextStep, ReasonCode, Severity};
    use crate::rules::test_support::check;

    #[test]
    fn spec_test_vector() {
        let a = check("a", CheckStatus::Pass, false, ReasonCode::OK, Severity::Unknown);
        let b = check("b", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High);
        assert_eq!(outcome_line(&a), "a|pass|false|ok|");
        assert_eq!(outcome_line(&b), "b|fail|true|permission_denied|high");
        assert_eq!(
            fingerprint(&[a.clone(), b.clone()]).as_str(),
            "7f019947e0e90264e9b4f196d9ede0c7d5a9cde543b188c77dc9c952f14051f4"
        );
        assert_eq!(
            fingerprint(&[b, a]),
            fingerprint(&[
                check("a", CheckStatus::Pass, false, ReasonCode::OK, Severity::Unknown),
                check("b", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High),
            ])
        );
    }

    #[test]
    fn no_checks_is_the_hash_of_the_empty_string() {
        assert_eq!(fingerprint(&[]).as_str(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    #[test]
    fn messages_evidence_and_links_do_not_change_the_fingerprint() {
        let plain = check("a", CheckStatus::Warn, false, ReasonCode::THROTTLED, Severity::Low);
        let decorated = plain
            .clone()
            .with_message("retry later")
            .with_evidence(Evidence::new("http_status", 429_i64).unwrap())
            .with_next_step(NextStep::new("Docs", "https://learn.microsoft.com/"));
        assert_eq!(fingerprint(&[plain]), fingerprint(&[decorated]));
    }

    #[test]
    fn each_part_of_the_line_changes_the_fingerprint() {
        let base = check("a", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High);
        let variants = [
            check("b", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High),
            check("a", CheckStatus::Warn, true, ReasonCode::PERMISSION_DENIED, Severity::High),
            check("a", CheckStatus::Fail, false, ReasonCode::PERMISSION_DENIED, Severity::High),
            check("a", CheckStatus::Fail, true, ReasonCode::INVALID_STATE, Severity::High),
            check("a", CheckStatus::Fail, true, ReasonCode::PERMISSION_DENIED, Severity::Unknown),
        ];
        for v in variants {
            assert_ne!(fingerprint(std::slice::from_ref(&base)), fingerprint(&[v]));
        }
    }
}
