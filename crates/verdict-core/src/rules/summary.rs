//! Summary and overall state of a set of checks (docs/contract.md#summary-and-overall).

use crate::domain::{CheckResult, CheckStatus, Counts, Overall, Summary};

/// Counts checks by status and derives the overall state; first matching rule wins:
/// any `running` → running; any blocker → blocked; any `fail`/`warn` → needs attention;
/// otherwise (including no checks) → ready.
#[must_use]
pub fn summarize(checks: &[CheckResult]) -> Summary {
    let mut counts = Counts::default();
    for check in checks {
        counts.total += 1;
        match check.status {
            CheckStatus::Pass => counts.pass += 1,
            CheckStatus::Fail => counts.fail += 1,
            CheckStatus::Warn => counts.warn += 1,
            CheckStatus::Skip => counts.skip += 1,
            CheckStatus::Running => counts.running += 1,
        }
    }
    let overall = if counts.running > 0 {
        Overall::Running
    } else if checks.iter().any(CheckResult::is_blocker) {
        Overall::Blocked
    } else if counts.fail > 0 || counts.warn > 0 {
        Overall::NeedsAttention
    } else {
        Overall::Ready
    };
    Summary { overall, counts }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ReasonCode, Severity};
    use crate::rules::test_support::check;
    use CheckStatus::{Fail, Pass, Running, Skip, Warn};

    fn overall_of(spec: &[(CheckStatus, bool)]) -> Overall {
        let checks: Vec<_> = spec
            .iter()
            .enumerate()
            .map(|(i, (s, b))| check(&format!("c{i}"), *s, *b, ReasonCode::OK, Severity::Unknown))
            .collect();
        summarize(&checks).overall
    }

    #[test]
    fn overall_follows_the_spec_table_first_rule_wins() {
        type Row<'a> = (&'a [(CheckStatus, bool)], Overall, &'a str);
        let table: &[Row<'_>] = &[
            (&[], Overall::Ready, "no checks is ready"),
            (&[(Pass, false), (Skip, true)], Overall::Ready, "pass and skip are ready"),
            (&[(Pass, true)], Overall::Ready, "a passing blocking check is not a blocker"),
            (&[(Warn, false)], Overall::NeedsAttention, "warn needs attention"),
            (&[(Warn, true)], Overall::NeedsAttention, "a blocking warn is not a blocker"),
            (&[(Fail, false)], Overall::NeedsAttention, "non-blocking fail needs attention"),
            (&[(Fail, true)], Overall::Blocked, "blocking fail makes overall blocked"),
            (&[(Fail, true), (Warn, false), (Pass, false)], Overall::Blocked, "blocked beats needs attention"),
            (&[(Running, false), (Fail, true)], Overall::Running, "running beats blocked"),
            (&[(Running, false), (Pass, false)], Overall::Running, "any running is running"),
        ];
        for (spec, expected, rule) in table {
            assert_eq!(overall_of(spec), *expected, "{rule}");
        }
    }

    #[test]
    fn a_blocker_counts_as_fail() {
        let checks = [
            check("a", Fail, true, ReasonCode::PERMISSION_DENIED, Severity::High),
            check("b", Fail, false, ReasonCode::PERMISSION_DENIED, Severity::High),
            check("c", Warn, false, ReasonCode::THROTTLED, Severity::Low),
            check("d", Skip, false, ReasonCode::PREREQUISITE_FAILED, Severity::Low),
            check("e", Pass, false, ReasonCode::OK, Severity::Low),
        ];
        let counts = summarize(&checks).counts;
        assert_eq!(counts, Counts { total: 5, pass: 1, fail: 2, warn: 1, skip: 1, running: 0 });
    }
}
