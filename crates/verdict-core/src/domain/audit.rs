//! Audit events (docs/contract.md, "Audit chain"). An event is written in the same transaction as
//! the action it records; the store assigns `seq` and `prev_hash` and seals it (see `chain`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{AuditEventId, ChainHash, ParseError, TenantId, UserId, WorkspaceId, chain_hash};
use crate::rules::sanitize_metadata;

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
    /// A connection's schedule was set or replaced.
    #[serde(rename = "schedule.set")]
    ScheduleSet,
    /// A connection's schedule was removed.
    #[serde(rename = "schedule.removed")]
    ScheduleRemoved,
    /// A webhook subscription was created.
    #[serde(rename = "webhook.created")]
    WebhookCreated,
    /// A webhook subscription was deleted.
    #[serde(rename = "webhook.deleted")]
    WebhookDeleted,
    /// A webhook subscription's signing secret was replaced.
    #[serde(rename = "webhook.secret_rotated")]
    WebhookSecretRotated,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [Self; 11] = [
        Self::VerificationStarted,
        Self::VerificationCompleted,
        Self::CheckAcknowledged,
        Self::ProviderConnectionCreated,
        Self::ProviderConnectionSecretRotated,
        Self::ProviderConnectionDisabled,
        Self::ScheduleSet,
        Self::ScheduleRemoved,
        Self::WebhookCreated,
        Self::WebhookDeleted,
        Self::WebhookSecretRotated,
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
            Self::ScheduleSet => "schedule.set",
            Self::ScheduleRemoved => "schedule.removed",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookDeleted => "webhook.deleted",
            Self::WebhookSecretRotated => "webhook.secret_rotated",
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

    /// The stored columns `(actor_type, actor_id)`.
    #[must_use]
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::User(user) => ("user", user.as_str()),
            Self::System(component) => ("system", component.as_str()),
        }
    }

    /// Rebuilds an actor from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] for an unknown type or an invalid user id.
    pub fn from_parts(kind: &str, id: String) -> Result<Self, ParseError> {
        match kind {
            "user" => UserId::parse(id).map(Self::User),
            "system" => Ok(Self::System(id)),
            _ => Err(ParseError::new("actor_type", "must be user or system")),
        }
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
    /// A connection's schedule (its id is the connection's).
    Schedule,
    /// A webhook subscription.
    Webhook,
}

impl SubjectType {
    /// Every kind.
    pub const ALL: [Self; 5] =
        [Self::OperationRun, Self::ProviderConnection, Self::Acknowledgement, Self::Schedule, Self::Webhook];

    /// The stored (and wire) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::OperationRun => "operation_run",
            Self::ProviderConnection => "provider_connection",
            Self::Acknowledgement => "acknowledgement",
            Self::Schedule => "schedule",
            Self::Webhook => "webhook",
        }
    }

    /// Parses a stored name.
    ///
    /// # Errors
    /// [`ParseError`] for an unknown kind.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == value)
            .ok_or_else(|| ParseError::new("subject_type", "names no known subject"))
    }
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

/// A sealed event, as stored and as returned by the API.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pending: PendingAuditEvent,
    seq: u64,
    prev_hash: ChainHash,
    hash: ChainHash,
}

impl AuditEvent {
    /// Rebuilds a stored event from its columns, without checking its hash (verification does
    /// that: a tampered row must still be readable to be named).
    ///
    /// # Errors
    /// [`ParseError`] when a column does not hold a value Verdict writes.
    pub fn from_stored(row: StoredAuditEvent) -> Result<Self, ParseError> {
        Ok(Self {
            pending: PendingAuditEvent {
                id: AuditEventId::from_uuid(row.id),
                occurred_at: super::to_micros(row.occurred_at),
                workspace_id: WorkspaceId::new(row.workspace_id)?,
                tenant_id: row.tenant_id.map(TenantId::new).transpose()?,
                actor: Actor::from_parts(&row.actor_type, row.actor_id)?,
                action: AuditAction::parse(&row.action)?,
                subject: Subject { kind: SubjectType::parse(&row.subject_type)?, id: row.subject_id },
                metadata: serde_json::from_str(&row.metadata)
                    .map_err(|_| ParseError::new("metadata", "must be a JSON object"))?,
            },
            seq: u64::try_from(row.seq).map_err(|_| ParseError::new("seq", "must not be negative"))?,
            prev_hash: ChainHash::parse(row.prev_hash)?,
            hash: ChainHash::parse(row.hash)?,
        })
    }

    /// The event as stored columns (what an adapter inserts; also how tests tamper with one).
    #[must_use]
    pub fn to_stored(&self) -> StoredAuditEvent {
        let (actor_type, actor_id) = self.pending.actor.parts();
        StoredAuditEvent {
            id: *self.pending.id.as_uuid(),
            seq: i64::try_from(self.seq).unwrap_or(i64::MAX),
            occurred_at: self.pending.occurred_at,
            workspace_id: self.pending.workspace_id.get(),
            tenant_id: self.pending.tenant_id.map(TenantId::get),
            actor_type: actor_type.to_owned(),
            actor_id: actor_id.to_owned(),
            action: self.pending.action.as_str().to_owned(),
            subject_type: self.pending.subject.kind.as_str().to_owned(),
            subject_id: self.pending.subject.id.clone(),
            // The map serializes as `Value::Object` of it would, without a copy of it.
            metadata: serde_json::to_string(&self.pending.metadata)
                .unwrap_or_else(|e| unreachable!("a JSON map always serializes: {e}")),
            prev_hash: self.prev_hash.to_string(),
            hash: self.hash.to_string(),
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
    /// Its [`Serialize`] writes the same text without building this tree (the audit page, the
    /// forwarder and `audit export` serialize events directly).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut value = self.pending.hashed_json(self.seq);
        if let Value::Object(map) = &mut value {
            map.insert("prev_hash".into(), Value::String(self.prev_hash.to_string()));
            map.insert("hash".into(), Value::String(self.hash.to_string()));
        }
        value
    }
}

/// The API's JSON of an event, written field by field in the order a JSON object built from
/// [`AuditEvent::to_json`] has (keys sorted), so both give the same text.
impl Serialize for AuditEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;

        /// `{"id": …, "type": …}` with its keys sorted, as the actor and the subject are.
        #[derive(Serialize)]
        struct Pair<'a> {
            id: &'a str,
            #[serde(rename = "type")]
            kind: &'a str,
        }

        let pending = &self.pending;
        let (actor_type, actor_id) = pending.actor.parts();
        let mut event = serializer.serialize_struct("AuditEvent", 11)?;
        event.serialize_field("action", pending.action.as_str())?;
        event.serialize_field("actor", &Pair { id: actor_id, kind: actor_type })?;
        event.serialize_field("hash", self.hash.as_str())?;
        event.serialize_field("id", &pending.id.to_string())?;
        event.serialize_field("metadata", &pending.metadata)?;
        event.serialize_field("occurred_at", &super::format_timestamp(pending.occurred_at))?;
        event.serialize_field("prev_hash", self.prev_hash.as_str())?;
        event.serialize_field("seq", &self.seq)?;
        event.serialize_field("subject", &Pair { id: &pending.subject.id, kind: pending.subject.kind.as_str() })?;
        event.serialize_field("tenant_id", &pending.tenant_id.map(TenantId::get))?;
        event.serialize_field("workspace_id", &pending.workspace_id.get())?;
        event.end()
    }
}

/// The stored columns of an event, as an adapter decodes them; [`AuditEvent::from_stored`] gives
/// them meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of `audit_logs`, named as in the schema
pub struct StoredAuditEvent {
    pub id: Uuid,
    pub seq: i64,
    pub occurred_at: DateTime<Utc>,
    pub workspace_id: i64,
    pub tenant_id: Option<i64>,
    pub actor_type: String,
    pub actor_id: String,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    /// JSON text of the metadata object.
    pub metadata: String,
    pub prev_hash: String,
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::domain::{GENESIS_HASH, canonical_json};

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
    fn serializing_an_event_gives_the_text_of_its_json_tree() {
        let mut user_event = pending(2, 7);
        user_event.actor = Actor::User(UserId::parse("alice@example.com").unwrap());
        user_event.tenant_id = Some(TenantId::new(10).unwrap());
        for event in [pending(1, 1).seal(1, ChainHash::genesis()), user_event.seal(42, ChainHash::genesis())] {
            assert_eq!(serde_json::to_string(&event).unwrap(), serde_json::to_string(&event.to_json()).unwrap());
        }
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
    fn stored_columns_round_trip_and_name_their_kinds() {
        let event = pending(1, 1).seal(1, ChainHash::genesis());
        assert_eq!(AuditEvent::from_stored(event.to_stored()).unwrap(), event);
        for kind in SubjectType::ALL {
            assert_eq!(SubjectType::parse(kind.as_str()), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str(), "stored names are the wire names");
        }
        assert!(SubjectType::parse("tenant").is_err());
        let user = Actor::User(UserId::parse("u-1").unwrap());
        let (kind, id) = user.parts();
        assert_eq!(Actor::from_parts(kind, id.to_owned()), Ok(user));
        assert!(Actor::from_parts("robot", "x".into()).is_err());
        let mut bad = event.to_stored();
        bad.metadata = "[1]".into();
        assert!(AuditEvent::from_stored(bad).is_err());
    }
}
