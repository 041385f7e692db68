//! The product's rules as pure functions: summary, fingerprint, change, redaction,
//! acknowledgement eligibility, the reports the lifecycle writes, access decisions, and the webhook
//! rules (events, payload, signature, retries, reachable addresses).

mod ack;
mod address;
mod authz;
mod change;
mod fingerprint;
mod prerequisite;
mod reports;
mod sanitize;
mod summary;
mod webhook;

pub use ack::*;
pub use address::*;
pub use authz::*;
pub use change::*;
pub use fingerprint::*;
pub use prerequisite::*;
pub use reports::*;
pub use sanitize::*;
pub use summary::*;
pub use webhook::*;

#[cfg(test)]
pub(crate) mod test_support {
    use crate::domain::{CheckKey, CheckResult, CheckStatus, CheckTitle, ReasonCode, Severity};

    /// A check with the given outcome line.
    pub(crate) fn check(
        key: &str,
        status: CheckStatus,
        blocking: bool,
        reason: ReasonCode,
        severity: Severity,
    ) -> CheckResult {
        CheckResult::new(
            CheckKey::parse(key).unwrap(),
            CheckTitle::parse(format!("Check {key}")).unwrap(),
            status,
            severity,
            blocking,
            reason,
        )
    }
}
