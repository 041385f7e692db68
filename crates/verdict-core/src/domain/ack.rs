//! Acknowledgements: an operator's immutable, auditable statement that a failing or warning
//! check of one report is known (docs/contract.md#acknowledgements).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::{AcknowledgementId, CheckKey, ParseError, RunId, TenantId, UserId, WorkspaceId};

/// Most Unicode scalar values an acknowledgement reason may have, after trimming.
pub const MAX_ACK_REASON_CHARS: usize = 160;

/// An acknowledgement reason: trimmed, 1–160 Unicode scalar values, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AckReason(String);

impl AckReason {
    /// Parses a reason, trimming surrounding whitespace first.
    ///
    /// # Errors
    /// [`ParseError`] when blank, longer than 160 characters or containing control characters.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(ParseError::new("ack_reason", "must not be blank"));
        }
        if value.chars().count() > MAX_ACK_REASON_CHARS {
            return Err(ParseError::new("ack_reason", "must be at most 160 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(ParseError::new("ack_reason", "must not contain control characters"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The reason.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AckReason {
    // The reason is operator free text: keep it out of debug logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AckReason({} chars)", self.0.chars().count())
    }
}

impl<'de> Deserialize<'de> for AckReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An acknowledgement about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAcknowledgement {
    /// A fresh UUIDv7.
    pub id: AcknowledgementId,
    /// The run's workspace.
    pub workspace_id: WorkspaceId,
    /// The run's tenant.
    pub tenant_id: TenantId,
    /// The run (report).
    pub run_id: RunId,
    /// The acknowledged check.
    pub check_key: CheckKey,
    /// Why.
    pub reason: AckReason,
    /// Informational expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who.
    pub acknowledged_by: UserId,
    /// When.
    pub acknowledged_at: DateTime<Utc>,
}

/// A stored acknowledgement. Rows are never updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// Its id.
    pub id: AcknowledgementId,
    /// The run's workspace.
    pub workspace_id: WorkspaceId,
    /// The run's tenant.
    pub tenant_id: TenantId,
    /// The run (report).
    pub run_id: RunId,
    /// The acknowledged check.
    pub check_key: CheckKey,
    /// Why.
    pub reason: AckReason,
    /// Informational expiry.
    pub expires_at: Option<DateTime<Utc>>,
    /// Who.
    pub acknowledged_by: UserId,
    /// When.
    pub acknowledged_at: DateTime<Utc>,
    /// Row creation.
    pub created_at: DateTime<Utc>,
    /// Row update (equals `created_at`: rows are immutable).
    pub updated_at: DateTime<Utc>,
}

impl Acknowledgement {
    /// The stored row a new acknowledgement becomes.
    #[must_use]
    pub fn from_new(new: NewAcknowledgement) -> Self {
        Self {
            id: new.id,
            workspace_id: new.workspace_id,
            tenant_id: new.tenant_id,
            run_id: new.run_id,
            check_key: new.check_key,
            reason: new.reason,
            expires_at: new.expires_at,
            acknowledged_by: new.acknowledged_by,
            acknowledged_at: new.acknowledged_at,
            created_at: new.acknowledged_at,
            updated_at: new.acknowledged_at,
        }
    }

    /// Whether the informational expiry has passed at `now`.
    #[must_use]
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_limits_follow_the_spec() {
        assert!(AckReason::parse(&"r".repeat(160)).is_ok(), "160 passes");
        assert!(AckReason::parse(&"r".repeat(161)).is_err(), "161 fails");
        assert!(AckReason::parse("").is_err(), "empty fails");
        assert!(AckReason::parse(" \t\n ").is_err(), "blank fails");
        assert!(AckReason::parse("ok\u{0}").is_err(), "control characters fail");
        assert!(AckReason::parse("line\nbreak").is_err());
    }

    #[test]
    fn reason_counts_unicode_scalar_values_after_trimming() {
        let emoji = "🙂".repeat(160);
        assert_eq!(emoji.len(), 640);
        assert!(AckReason::parse(&emoji).is_ok());
        assert!(AckReason::parse(&"é".repeat(161)).is_err());
        let padded = format!("   {}   ", "r".repeat(160));
        assert_eq!(AckReason::parse(&padded).unwrap().as_str().len(), 160);
    }

    #[test]
    fn reason_is_not_in_debug_output() {
        let reason = AckReason::parse("vendor ticket 4711").unwrap();
        assert!(!format!("{reason:?}").contains("4711"));
    }
}
