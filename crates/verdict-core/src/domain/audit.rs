//! Audit events and their hash chain (SPEC §8). An event is written in the same transaction as
//! the action it records; the store assigns `seq` and `prev_hash` and seals it with
//! `hash = SHA-256(prev_hash + "\n" + canonical JSON of the event without prev_hash and hash)`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{AuditEventId, ParseError, TenantId, UserId, WorkspaceId};
use crate::rules::sanitize_metadata;

/// The `prev_hash` of a workspace's first event: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    /// A run was created (not written for a deduplicated start).
    #[serde(rename = "verification.started")]
    VerificationStarted,
    /// A run completed.
    #[serde(rename = "verification.completed")]
    VerificationCompleted,
    /// A check was acknowledged.
    #[serde(rename = "verification.check_acknowledged")]
    CheckAcknowledged,
    /// A provider connection was created.
    #[serde(rename = "provider_connection.created")]
    ProviderConnectionCreated,
    /// A provider connection's secret was replaced.
    #[serde(rename = "provider_connection.secret_rotated")]
    ProviderConnectionSecretRotated,
    /// A provider connection was disabled.
    #[serde(rename = "provider_connection.disabled")]
    ProviderConnectionDisabled,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [Self; 6] = [
        Self::VerificationStarted,
        Self::VerificationCompleted,
        Self::CheckAcknowledged,
        Self::ProviderConnectionCreated,
        Self::ProviderConnectionSecretRotated,
        Self::ProviderConnectionDisabled,
    ];

    /// The stable action id.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerificationStarted => "verification.started",
            Self::VerificationCompleted => "verification.completed",
            Self::CheckAcknowledged => "verification.check_acknowledged",
            Self::ProviderConnectionCreated => "provider_connection.created",
            Self::ProviderConnectionSecretRotated => "provider_connection.secret_rotated",
            Self::ProviderConnectionDisabled => "provider_connection.disabled",
        }
    }

    /// Parses a stable action id.
    ///
    /// # Errors
    /// [`ParseError`] for an unknown action.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == value)
            .ok_or_else(|| ParseError::new("action", "is not a known audit action"))
    }
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case", deny_unknown_fields)]
pub enum Actor {
    /// An authenticated user (the JWT `sub`).
    User(UserId),
    /// Verdict itself, e.g. a worker; the id names the component.
    System(String),
}

impl Actor {
    /// The runner, completing runs.
    #[must_use]
    pub fn runner() -> Self {
        Self::System("verdict-runner".to_owned())
    }
}

/// What kind of thing an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    /// A run.
    OperationRun,
    /// A provider connection.
    ProviderConnection,
    /// An acknowledgement.
    Acknowledgement,
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: SubjectType,
    /// Its id.
    pub id: String,
}

/// An event before the store has placed it in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAuditEvent {
    /// A fresh UUIDv7.
    pub id: AuditEventId,
    /// When the action happened.
    pub occurred_at: DateTime<Utc>,
    /// The chain it belongs to.
    pub workspace_id: WorkspaceId,
    /// The tenant, when the action concerns one.
    pub tenant_id: Option<TenantId>,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: AuditAction,
    /// About what.
    pub subject: Subject,
    /// Small, sanitized facts: ids, flow, outcome, counts. Never reasons, secrets or payloads.
    metadata: Map<String, Value>,
}

impl PendingAuditEvent {
    /// Builds an event; `metadata` is sanitized (secret-like keys and free text are dropped).
    #[must_use]
    pub fn new(
        occurred_at: DateTime<Utc>,
        workspace_id: WorkspaceId,
        tenant_id: Option<TenantId>,
        actor: Actor,
        action: AuditAction,
        subject: Subject,
        metadata: Map<String, Value>,
    ) -> Self {
        Self {
            id: AuditEventId::generate(),
            occurred_at: super::to_micros(occurred_at),
            workspace_id,
            tenant_id,
            actor,
            action,
            subject,
            metadata: sanitize_metadata(metadata),
        }
    }

    /// The sanitized metadata.
    #[must_use]
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// Places the event in its workspace's chain after `prev_hash`, as number `seq`.
    #[must_use]
    pub fn seal(self, seq: u64, prev_hash: ChainHash) -> AuditEvent {
        let hash = chain_hash(&prev_hash, &self.hashed_json(seq));
        AuditEvent { pending: self, seq, prev_hash, hash }
    }

    fn hashed_json(&self, seq: u64) -> Value {
        let mut object = Map::new();
        object.insert("id".into(), Value::String(self.id.to_string()));
        object.insert("seq".into(), Value::from(seq));
        object.insert("occurred_at".into(), Value::String(super::format_timestamp(self.occurred_at)));
        object.insert("workspace_id".into(), Value::from(self.workspace_id.get()));
        object.insert("tenant_id".into(), self.tenant_id.map_or(Value::Null, |t| Value::from(t.get())));
        object.insert("actor".into(), serde_json::to_value(&self.actor).unwrap_or(Value::Null));
        object.insert("action".into(), Value::String(self.action.as_str().to_owned()));
        object.insert("subject".into(), serde_json::to_value(&self.subject).unwrap_or(Value::Null));
        object.insert("metadata".into(), Value::Object(self.metadata.clone()));
        Value::Object(object)
    }
}

/// A SHA-256 chain hash: 64 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChainHash(String);

impl ChainHash {
    /// The `prev_hash` of a workspace's first event.
    #[must_use]
    pub fn genesis() -> Self {
        Self(GENESIS_HASH.to_owned())
    }

    /// Parses a stored hash.
    ///
    /// # Errors
    /// [`ParseError`] unless 64 lowercase hex characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        if super::flow::is_sha256_hex(&value) {
            Ok(Self(value))
        } else {
            Err(ParseError::new("hash", "must be 64 lowercase hex characters"))
        }
    }

    /// The hash as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChainHash {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, ParseError> {
        Self::parse(value)
    }
}

impl From<ChainHash> for String {
    fn from(value: ChainHash) -> Self {
        value.0
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `SHA-256(prev_hash + "\n" + canonical_json(event))`, lowercase hex.
#[must_use]
pub fn chain_hash(prev_hash: &ChainHash, event_without_hashes: &Value) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_json(event_without_hashes).as_bytes());
    ChainHash(hex::encode(hasher.finalize()))
}

/// Canonical JSON: object keys sorted byte-wise at every level, no insignificant whitespace,
/// strings escaped as serde_json escapes them. Independent of serde_json's map ordering features.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A sealed event, as stored and as returned by the API.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pending: PendingAuditEvent,
    seq: u64,
    prev_hash: ChainHash,
    hash: ChainHash,
}

impl AuditEvent {
    /// Rebuilds a stored event without checking its hash (verification does that).
    #[must_use]
    pub fn from_stored(fields: StoredAuditEvent) -> Self {
        Self {
            pending: PendingAuditEvent {
                id: fields.id,
                occurred_at: super::to_micros(fields.occurred_at),
                workspace_id: fields.workspace_id,
                tenant_id: fields.tenant_id,
                actor: fields.actor,
                action: fields.action,
                subject: fields.subject,
                metadata: fields.metadata,
            },
            seq: fields.seq,
            prev_hash: fields.prev_hash,
            hash: fields.hash,
        }
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> AuditEventId {
        self.pending.id
    }
    /// Its position in the workspace's chain, from 1.
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// When the action happened.
    #[must_use]
    pub fn occurred_at(&self) -> DateTime<Utc> {
        self.pending.occurred_at
    }
    /// The chain.
    #[must_use]
    pub fn workspace_id(&self) -> WorkspaceId {
        self.pending.workspace_id
    }
    /// The tenant.
    #[must_use]
    pub fn tenant_id(&self) -> Option<TenantId> {
        self.pending.tenant_id
    }
    /// Who.
    #[must_use]
    pub fn actor(&self) -> &Actor {
        &self.pending.actor
    }
    /// What.
    #[must_use]
    pub fn action(&self) -> AuditAction {
        self.pending.action
    }
    /// About what.
    #[must_use]
    pub fn subject(&self) -> &Subject {
        &self.pending.subject
    }
    /// Sanitized facts.
    #[must_use]
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.pending.metadata
    }
    /// The previous event's hash.
    #[must_use]
    pub fn prev_hash(&self) -> &ChainHash {
        &self.prev_hash
    }
    /// The stored hash.
    #[must_use]
    pub fn hash(&self) -> &ChainHash {
        &self.hash
    }

    /// The hash recomputed from the stored fields.
    #[must_use]
    pub fn recompute_hash(&self) -> ChainHash {
        chain_hash(&self.prev_hash, &self.pending.hashed_json(self.seq))
    }

    /// The event as the API returns it: exactly the hashed object plus `prev_hash` and `hash`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut value = self.pending.hashed_json(self.seq);
        if let Value::Object(map) = &mut value {
            map.insert("prev_hash".into(), Value::String(self.prev_hash.0.clone()));
            map.insert("hash".into(), Value::String(self.hash.0.clone()));
        }
        value
    }
}

/// The stored columns of an event, for adapters rebuilding one.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAuditEvent {
    /// Id.
    pub id: AuditEventId,
    /// Seq.
    pub seq: u64,
    /// Occurred at.
    pub occurred_at: DateTime<Utc>,
    /// Workspace.
    pub workspace_id: WorkspaceId,
    /// Tenant.
    pub tenant_id: Option<TenantId>,
    /// Actor.
    pub actor: Actor,
    /// Action.
    pub action: AuditAction,
    /// Subject.
    pub subject: Subject,
    /// Metadata as stored.
    pub metadata: Map<String, Value>,
    /// Previous hash.
    pub prev_hash: ChainHash,
    /// Hash.
    pub hash: ChainHash,
}

/// The result of verifying a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChainVerification {
    /// Whether every event checked out.
    pub valid: bool,
    /// How many events were examined.
    pub events_checked: u64,
    /// The first `seq` at which the chain breaks (a modified event, a missing one, or a broken
    /// link), if any.
    pub first_broken_seq: Option<u64>,
}

/// Verifies a chain one event at a time, in `seq` order, in constant memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: u64,
    prev_hash: ChainHash,
    checked: u64,
    broken: Option<u64>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self { expected_seq: 1, prev_hash: ChainHash::genesis(), checked: 0, broken: None }
    }
}

impl ChainVerifier {
    /// Starts at the genesis of a workspace's chain.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next event. Returns `false` once the chain is known to be broken (callers may
    /// stop reading then).
    pub fn push(&mut self, event: &AuditEvent) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        if event.seq != self.expected_seq {
            // A gap (deleted row) or a duplicate: the chain breaks at the seq we expected.
            self.broken = Some(self.expected_seq.min(event.seq));
            return false;
        }
        if event.prev_hash != self.prev_hash || event.recompute_hash() != event.hash {
            self.broken = Some(event.seq);
            return false;
        }
        self.prev_hash = event.hash.clone();
        self.expected_seq += 1;
        true
    }

    /// The verdict so far.
    #[must_use]
    pub fn finish(&self) -> ChainVerification {
        ChainVerification { valid: self.broken.is_none(), events_checked: self.checked, first_broken_seq: self.broken }
    }

    /// The hash the next event must link to.
    #[must_use]
    pub fn head(&self) -> &ChainHash {
        &self.prev_hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pending(ws: i64, n: i64) -> PendingAuditEvent {
        let mut metadata = Map::new();
        metadata.insert("n".into(), json!(n));
        PendingAuditEvent::new(
            Utc::now(),
            WorkspaceId::new(ws).unwrap(),
            None,
            Actor::runner(),
            AuditAction::VerificationCompleted,
            Subject { kind: SubjectType::OperationRun, id: format!("run-{n}") },
            metadata,
        )
    }

    fn chain(len: u64) -> Vec<AuditEvent> {
        let mut prev = ChainHash::genesis();
        (1..=len)
            .map(|seq| {
                let event = pending(1, i64::try_from(seq).unwrap()).seal(seq, prev.clone());
                prev = event.hash().clone();
                event
            })
            .collect()
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level_without_whitespace() {
        let value = json!({"b": 1, "a": {"d": [true, null, "x\"y"], "c": 2.5}, "é": "ü"});
        assert_eq!(canonical_json(&value), r#"{"a":{"c":2.5,"d":[true,null,"x\"y"]},"b":1,"é":"ü"}"#);
    }

    #[test]
    fn hash_follows_the_documented_recipe() {
        let event = pending(1, 1).seal(1, ChainHash::genesis());
        let mut without = event.to_json();
        let obj = without.as_object_mut().unwrap();
        assert_eq!(obj.remove("prev_hash"), Some(json!(GENESIS_HASH)));
        let stored = obj.remove("hash").unwrap();
        let text = format!("{GENESIS_HASH}\n{}", canonical_json(&without));
        assert_eq!(stored, json!(hex::encode(Sha256::digest(text.as_bytes()))));
        assert_eq!(event.recompute_hash(), *event.hash());
    }

    #[test]
    fn api_json_has_exactly_the_contract_fields() {
        let event = pending(1, 1).seal(1, ChainHash::genesis());
        let json = event.to_json();
        let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "action",
                "actor",
                "hash",
                "id",
                "metadata",
                "occurred_at",
                "prev_hash",
                "seq",
                "subject",
                "tenant_id",
                "workspace_id"
            ]
        );
        assert_eq!(json["actor"], json!({"type": "system", "id": "verdict-runner"}));
    }

    #[test]
    fn an_intact_chain_verifies() {
        let mut verifier = ChainVerifier::new();
        assert!(chain(20).iter().all(|e| verifier.push(e)));
        assert_eq!(verifier.finish(), ChainVerification { valid: true, events_checked: 20, first_broken_seq: None });
    }

    #[test]
    fn a_modified_event_is_named() {
        let mut events = chain(10);
        let mut fields = stored(&events[4]);
        fields.metadata.insert("n".into(), json!(999));
        events[4] = AuditEvent::from_stored(fields);
        let mut verifier = ChainVerifier::new();
        for e in &events {
            verifier.push(e);
        }
        assert_eq!(verifier.finish().first_broken_seq, Some(5));
        assert!(!verifier.finish().valid);
    }

    #[test]
    fn a_deleted_event_is_a_gap_named_by_its_seq() {
        let mut events = chain(10);
        events.remove(6);
        let mut verifier = ChainVerifier::new();
        for e in &events {
            verifier.push(e);
        }
        assert_eq!(verifier.finish().first_broken_seq, Some(7));
    }

    #[test]
    fn a_rehashed_forgery_still_breaks_the_next_link() {
        let mut events = chain(5);
        let mut fields = stored(&events[1]);
        fields.metadata.insert("n".into(), json!(42));
        let forged = AuditEvent::from_stored(fields.clone());
        fields.hash = forged.recompute_hash();
        events[1] = AuditEvent::from_stored(fields);
        let mut verifier = ChainVerifier::new();
        for e in &events {
            verifier.push(e);
        }
        assert_eq!(verifier.finish().first_broken_seq, Some(3));
    }

    pub(crate) fn stored(e: &AuditEvent) -> StoredAuditEvent {
        StoredAuditEvent {
            id: e.id(),
            seq: e.seq(),
            occurred_at: e.occurred_at(),
            workspace_id: e.workspace_id(),
            tenant_id: e.tenant_id(),
            actor: e.actor().clone(),
            action: e.action(),
            subject: e.subject().clone(),
            metadata: e.metadata().clone(),
            prev_hash: e.prev_hash().clone(),
            hash: e.hash().clone(),
        }
    }
}
