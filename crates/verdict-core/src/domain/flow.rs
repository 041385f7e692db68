//! Flows and run identities. A flow is a named, ordered list of checks; an identity is what a
//! run verifies, and its SHA-256 hash is what the store deduplicates and links reports by.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use super::{CheckKey, CheckTitle, ParseError, ProviderConnectionId, Severity, TenantId, WorkspaceId};

/// The pattern of flow ids and check keys, `^[a-z0-9][a-z0-9_.-]{0,127}$`, in one place.
pub(crate) const KEY_PATTERN: &str = "^[a-z0-9][a-z0-9_.-]{0,127}$";

/// Whether `value` matches [`KEY_PATTERN`], checked byte by byte: every stored run's flow and
/// check keys are parsed on each read, and a regular expression there cost a page of runs about
/// 2 % of the server's CPU (docs/benchmarks.md, "The stack's own ceiling"). A property test
/// holds it to the regular expression.
pub(crate) fn matches_key_pattern(value: &str) -> bool {
    let bytes = value.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.len() <= 128
        && bytes.iter().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'))
}

/// A flow id, e.g. `provider.connection.check`: `^[a-z0-9][a-z0-9_.-]{0,127}$`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct FlowId(String);

impl FlowId {
    /// Parses a flow id.
    ///
    /// # Errors
    /// [`ParseError`] when the text does not match the pattern.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        if matches_key_pattern(&value) {
            Ok(Self(value))
        } else {
            Err(ParseError::new("flow", format!("must match {KEY_PATTERN}")))
        }
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FlowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FlowId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What a run verifies: flow, workspace, tenant and provider connection (or none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RunIdentity {
    /// The flow.
    pub flow: FlowId,
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The provider connection, if the identity has one. `None` matches only `None`.
    pub provider_connection_id: Option<ProviderConnectionId>,
}

impl RunIdentity {
    /// The identity hash: lowercase hex SHA-256 of
    /// `verdict.run_identity.v1\n{flow}\n{workspace_id}\n{tenant_id}\n{connection id or empty}`.
    /// The version prefix lets the recipe change without colliding with old hashes.
    #[must_use]
    pub fn hash(&self) -> RunIdentityHash {
        let connection = self.provider_connection_id.map(|id| id.to_string()).unwrap_or_default();
        let text = format!(
            "verdict.run_identity.v1\n{}\n{}\n{}\n{}",
            self.flow, self.workspace_id, self.tenant_id, connection
        );
        RunIdentityHash(hex::encode(Sha256::digest(text.as_bytes())))
    }
}

/// A run identity hash: 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RunIdentityHash(String);

impl RunIdentityHash {
    /// Parses a stored hash.
    ///
    /// # Errors
    /// [`ParseError`] unless the text is 64 lowercase hex characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        if is_sha256_hex(&value) {
            Ok(Self(value))
        } else {
            Err(ParseError::new("run_identity_hash", "must be 64 lowercase hex characters"))
        }
    }

    /// The hash as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunIdentityHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn is_sha256_hex(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A check as a flow declares it, before it has run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckDescriptor {
    /// The key.
    pub key: CheckKey,
    /// The title.
    pub title: CheckTitle,
    /// Severity of a failure.
    pub severity: Severity,
    /// Whether a failure blocks.
    pub blocking: bool,
}

/// A flow's declaration: its id, whether it needs a provider connection, and its checks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowDescriptor {
    /// The flow id.
    pub id: FlowId,
    /// Whether a run of this flow needs an enabled provider connection with a secret (docs/contract.md#blocked-runs).
    pub requires_provider_connection: bool,
    /// The checks, in report order.
    pub checks: Vec<CheckDescriptor>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The byte-by-byte check accepts exactly what the pattern's regular expression accepts,
        /// on strings near the pattern (its alphabet, other bytes, lengths around 128).
        #[test]
        fn the_key_check_is_the_pattern(value in "[a-z0-9_.A-Z/ -]{0,130}|[a-z0-9][a-z0-9_.-]{120,130}|.{0,3}") {
            let pattern = regex::Regex::new(KEY_PATTERN).unwrap();
            prop_assert_eq!(matches_key_pattern(&value), pattern.is_match(&value));
        }
    }

    fn identity(connection: Option<ProviderConnectionId>) -> RunIdentity {
        RunIdentity {
            flow: FlowId::parse("provider.connection.check").unwrap(),
            workspace_id: WorkspaceId::new(1).unwrap(),
            tenant_id: TenantId::new(10).unwrap(),
            provider_connection_id: connection,
        }
    }

    #[test]
    fn identity_hash_is_stable_hex_and_distinguishes_every_part() {
        let none = identity(None);
        assert_eq!(none.hash(), none.hash());
        assert!(is_sha256_hex(none.hash().as_str()));
        let with = identity(Some(ProviderConnectionId::generate()));
        assert_ne!(none.hash(), with.hash(), "a null connection matches only null");
        let mut other_tenant = none.clone();
        other_tenant.tenant_id = TenantId::new(11).unwrap();
        assert_ne!(none.hash(), other_tenant.hash());
        let mut other_ws = none.clone();
        other_ws.workspace_id = WorkspaceId::new(2).unwrap();
        assert_ne!(none.hash(), other_ws.hash());
        let mut other_flow = none.clone();
        other_flow.flow = FlowId::parse("other.flow").unwrap();
        assert_ne!(none.hash(), other_flow.hash());
    }

    #[test]
    fn identity_hash_matches_its_documented_recipe() {
        let expected = hex::encode(Sha256::digest(b"verdict.run_identity.v1\nprovider.connection.check\n1\n10\n"));
        assert_eq!(identity(None).hash().as_str(), expected);
    }
}
