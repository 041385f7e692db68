//! The audit hash chain (docs/contract.md, "Audit chain"): each event's hash covers the previous
//! one, `hash = SHA-256(prev_hash + "\n" + canonical JSON of the event without prev_hash and
//! hash)`, and the store keeps the newest `(seq, hash)` of every workspace as its chain head.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{AuditEvent, ParseError, PendingAuditEvent};

/// The `prev_hash` of a workspace's first event: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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
    let mut text = Vec::with_capacity(512);
    write_canonical(event_without_hashes, &mut text);
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(&text);
    ChainHash(hex::encode(hasher.finalize()))
}

/// Canonical JSON: object keys sorted byte-wise at every level, no insignificant whitespace,
/// strings escaped as serde_json escapes them. Independent of serde_json's map ordering features.
#[must_use]
pub fn canonical_json(value: &Value) -> String {
    let mut text = Vec::new();
    write_canonical(value, &mut text);
    // serde_json writes only UTF-8, and the brackets and separators are ASCII.
    String::from_utf8(text).unwrap_or_else(|e| unreachable!("canonical JSON is UTF-8: {e}"))
}

/// Writes `value` canonically into `out`: every key, string and number by serde_json's own
/// compact writer, straight into `out`, with no `String` or `Value` of its own (a quarter of the
/// time per hash; docs/benchmarks.md, "The writes").
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(key.as_str(), out);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

/// A string, number, boolean or null as serde_json writes it compactly.
fn write_scalar<T: Serialize + ?Sized>(scalar: &T, out: &mut Vec<u8>) {
    serde_json::to_writer(out, scalar).unwrap_or_else(|e| unreachable!("a JSON scalar always serializes: {e}"));
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
        if event.seq() != self.expected_seq {
            // A gap (deleted row) or a duplicate: the chain breaks at the seq we expected.
            self.broken = Some(self.expected_seq.min(event.seq()));
            return false;
        }
        if *event.prev_hash() != self.prev_hash || event.recompute_hash() != *event.hash() {
            self.broken = Some(event.seq());
            return false;
        }
        self.prev_hash = event.hash().clone();
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

    /// The verdict once every event was pushed, compared with the chain head the store kept. The
    /// events alone cannot show that the newest ones were deleted; the head can: when it names a
    /// later `seq` than the last event, the first missing one is named. `None` means the store
    /// keeps no head for the workspace (it has never had an event).
    #[must_use]
    pub fn finish_against(&self, head: Option<&ChainHeadRecord>) -> ChainVerification {
        let mut verdict = self.finish();
        if verdict.first_broken_seq.is_some() {
            return verdict;
        }
        let last = self.expected_seq - 1;
        let broken = match head {
            None if last == 0 => None,
            // Events without a head: the head row itself was removed.
            None => Some(1),
            Some(head) if head.seq > last => Some(last + 1),
            Some(head) if head.seq < last => Some(head.seq + 1),
            Some(head) if head.hash != self.prev_hash => Some(last),
            Some(_) => None,
        };
        if broken.is_some() {
            verdict.valid = false;
            verdict.first_broken_seq = broken;
        }
        verdict
    }
}

/// A workspace's chain head as the store keeps it: the newest event's `seq` and `hash`, moved in
/// the same transaction as every append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHeadRecord {
    /// The newest event's `seq`.
    pub seq: u64,
    /// Its hash.
    pub hash: ChainHash,
}

impl ChainHeadRecord {
    /// The head of a chain with no event yet: `seq` 0 and the genesis hash.
    #[must_use]
    pub fn empty() -> Self {
        Self { seq: 0, hash: ChainHash::genesis() }
    }

    /// Seals `events`, one action's, as the `seq`s after this head, each linked to the previous
    /// one's hash: what an adapter inserts under its chain-head lock, in the order given.
    ///
    /// # Errors
    /// [`ParseError`] when the events span several workspaces: one action's events belong to one
    /// chain.
    pub fn seal_next(self, events: Vec<PendingAuditEvent>) -> Result<Vec<AuditEvent>, ParseError> {
        if let Some(first) = events.first()
            && events.iter().any(|event| event.workspace_id != first.workspace_id)
        {
            return Err(ParseError::new("audit events", "one append spans several workspaces"));
        }
        let mut head = self;
        let mut sealed = Vec::with_capacity(events.len());
        for event in events {
            let event = head.seal_one(event);
            head = Self::of(&event);
            sealed.push(event);
        }
        Ok(sealed)
    }

    /// Seals one event as the `seq` after this head, linked to its hash (see [`Self::seal_next`]).
    #[must_use]
    pub fn seal_one(&self, event: PendingAuditEvent) -> AuditEvent {
        event.seal(self.seq + 1, self.hash.clone())
    }

    /// The head once `event` is the newest of its chain.
    #[must_use]
    pub fn of(event: &AuditEvent) -> Self {
        Self { seq: event.seq(), hash: event.hash().clone() }
    }

    /// Rebuilds a head from stored columns.
    ///
    /// # Errors
    /// [`ParseError`] for a negative seq or a malformed hash.
    pub fn from_stored(seq: i64, hash: String) -> Result<Self, ParseError> {
        Ok(Self {
            seq: u64::try_from(seq).map_err(|_| ParseError::new("seq", "must not be negative"))?,
            hash: ChainHash::parse(hash)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::{Map, json};

    use super::*;
    use crate::domain::{Actor, AuditAction, PendingAuditEvent, StoredAuditEvent, Subject, SubjectType, WorkspaceId};

    fn pending(n: i64) -> PendingAuditEvent {
        let mut metadata = Map::new();
        metadata.insert("n".into(), json!(n));
        PendingAuditEvent::new(
            Utc::now(),
            WorkspaceId::new(1).unwrap(),
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
                let event = pending(i64::try_from(seq).unwrap()).seal(seq, prev.clone());
                prev = event.hash().clone();
                event
            })
            .collect()
    }

    fn verify(events: &[AuditEvent]) -> ChainVerifier {
        let mut verifier = ChainVerifier::new();
        for e in events {
            verifier.push(e);
        }
        verifier
    }

    fn head_of(event: &AuditEvent) -> ChainHeadRecord {
        ChainHeadRecord { seq: event.seq(), hash: event.hash().clone() }
    }

    fn with_metadata(event: &AuditEvent, n: i64) -> StoredAuditEvent {
        let mut stored = event.to_stored();
        stored.metadata = json!({ "n": n }).to_string();
        stored
    }

    #[test]
    fn an_actions_events_are_sealed_as_the_next_seqs_after_the_head() {
        let existing = chain(3);
        let head = ChainHeadRecord { seq: 3, hash: existing[2].hash().clone() };
        let sealed = head.seal_next(vec![pending(4), pending(5)]).unwrap();
        assert_eq!(sealed.iter().map(AuditEvent::seq).collect::<Vec<_>>(), [4, 5]);
        let all: Vec<AuditEvent> = existing.into_iter().chain(sealed).collect();
        assert!(verify(&all).finish().valid, "one chain with the events before");
        let first = ChainHeadRecord::empty().seal_next(vec![pending(1)]).unwrap();
        assert_eq!((first[0].seq(), first[0].prev_hash()), (1, &ChainHash::genesis()));
        assert!(ChainHeadRecord::empty().seal_next(Vec::new()).unwrap().is_empty());
        let mut foreign = pending(2);
        foreign.workspace_id = WorkspaceId::new(2).unwrap();
        assert!(ChainHeadRecord::empty().seal_next(vec![pending(1), foreign]).is_err(), "two workspaces");
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level_without_whitespace() {
        let value = json!({"b": 1, "a": {"d": [true, null, "x\"y"], "c": 2.5}, "é": "ü"});
        assert_eq!(canonical_json(&value), r#"{"a":{"c":2.5,"d":[true,null,"x\"y"]},"b":1,"é":"ü"}"#);
    }

    #[test]
    fn an_intact_chain_verifies_against_its_head() {
        let events = chain(20);
        let verifier = verify(&events);
        let expected = ChainVerification { valid: true, events_checked: 20, first_broken_seq: None };
        assert_eq!(verifier.finish(), expected);
        assert_eq!(verifier.finish_against(Some(&head_of(&events[19]))), expected);
        assert!(ChainVerifier::new().finish_against(None).valid, "no events and no head");
    }

    #[test]
    fn a_modified_event_is_named() {
        let mut events = chain(10);
        events[4] = AuditEvent::from_stored(with_metadata(&events[4], 999)).unwrap();
        let verdict = verify(&events).finish();
        assert_eq!(verdict.first_broken_seq, Some(5));
        assert!(!verdict.valid);
    }

    #[test]
    fn a_deleted_event_is_a_gap_named_by_its_seq() {
        let mut events = chain(10);
        events.remove(6);
        assert_eq!(verify(&events).finish().first_broken_seq, Some(7));
    }

    #[test]
    fn deleting_the_newest_events_is_named_by_the_head() {
        let events = chain(10);
        let head = head_of(&events[9]);
        let verdict = verify(&events[..7]).finish_against(Some(&head));
        assert_eq!((verdict.valid, verdict.first_broken_seq), (false, Some(8)));
        let verdict = ChainVerifier::new().finish_against(Some(&head));
        assert_eq!((verdict.valid, verdict.first_broken_seq), (false, Some(1)), "every event deleted");
    }

    #[test]
    fn a_head_that_disagrees_with_the_events_breaks_the_chain() {
        let events = chain(5);
        let behind = head_of(&events[2]);
        assert_eq!(verify(&events).finish_against(Some(&behind)).first_broken_seq, Some(4));
        let forged = ChainHeadRecord { seq: 5, hash: events[3].hash().clone() };
        assert_eq!(verify(&events).finish_against(Some(&forged)).first_broken_seq, Some(5));
        assert_eq!(verify(&events).finish_against(None).first_broken_seq, Some(1), "head row removed");
    }

    #[test]
    fn a_rehashed_forgery_still_breaks_the_next_link() {
        let mut events = chain(5);
        let mut fields = with_metadata(&events[1], 42);
        let forged = AuditEvent::from_stored(fields.clone()).unwrap();
        fields.hash = forged.recompute_hash().to_string();
        events[1] = AuditEvent::from_stored(fields).unwrap();
        assert_eq!(verify(&events).finish().first_broken_seq, Some(3));
    }
}
