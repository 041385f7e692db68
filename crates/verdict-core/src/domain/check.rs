//! One row of a report: a check's key, status, severity, reason, message, evidence and links.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize};

use super::{ParseError, ReasonCode};

static EVIDENCE_KIND_PATTERN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9_.]{1,64}$").unwrap_or_else(|e| panic!("{e}")));

/// Longest check title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;
/// Longest check message, in characters; longer messages are truncated by the sanitizer.
pub const MAX_MESSAGE_CHARS: usize = 500;
/// Longest string evidence value, in characters; longer values are truncated by the sanitizer.
pub const MAX_EVIDENCE_VALUE_CHARS: usize = 256;
/// Longest next-step label, in characters.
pub const MAX_LABEL_CHARS: usize = 120;
/// Longest next-step URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// A check key: `^[a-z0-9][a-z0-9_.-]{0,127}$`, unique within a report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct CheckKey(String);

impl CheckKey {
    /// Parses a check key.
    ///
    /// # Errors
    /// [`ParseError`] when the text does not match the key pattern.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        if super::flow::matches_key_pattern(&value) {
            Ok(Self(value))
        } else {
            Err(ParseError::new("check_key", format!("must match {}", super::flow::KEY_PATTERN)))
        }
    }

    /// A key written in the source as a constant. Constant keys are checked by the tests of the
    /// code that declares them, so an invalid one is a bug caught before it ships; this spares
    /// every caller an error path that cannot happen.
    ///
    /// # Panics
    /// When `value` is not a valid key (a programming error).
    #[must_use]
    pub fn from_static(value: &'static str) -> Self {
        Self::parse(value).unwrap_or_else(|e| panic!("constant check key {value:?}: {e}"))
    }

    /// The key as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CheckKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CheckKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What a check found. There is no "blocked" status: a blocker is `Fail` with `blocking`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// The check found something worth attention that does not fail it.
    Warn,
    /// The check did not run (e.g. a prerequisite failed).
    Skip,
    /// The check has not finished yet (live reports only).
    Running,
}

impl CheckStatus {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail => "fail",
            Self::Warn => "warn",
            Self::Skip => "skip",
            Self::Running => "running",
        }
    }
}

/// How much a finding matters. `Unknown` is written as the empty string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Severity not known: written `""`.
    #[serde(rename = "")]
    Unknown,
    /// Informational.
    #[serde(rename = "info")]
    Info,
    /// Low.
    #[serde(rename = "low")]
    Low,
    /// Medium.
    #[serde(rename = "medium")]
    Medium,
    /// High.
    #[serde(rename = "high")]
    High,
    /// Critical.
    #[serde(rename = "critical")]
    Critical,
}

impl Severity {
    /// The wire name (`""` for unknown).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "",
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// A human title: 1–120 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CheckTitle(String);

impl CheckTitle {
    /// Parses a title.
    ///
    /// # Errors
    /// [`ParseError`] when blank, too long, or containing control characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        let len = value.chars().count();
        if value.trim().is_empty() || len > MAX_TITLE_CHARS {
            return Err(ParseError::new("title", "must be 1 to 120 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(ParseError::new("title", "must not contain control characters"));
        }
        Ok(Self(value))
    }

    /// A title written in the source as a constant (see [`CheckKey::from_static`]).
    ///
    /// # Panics
    /// When `value` is not a valid title (a programming error).
    #[must_use]
    pub fn from_static(value: &'static str) -> Self {
        Self::parse(value).unwrap_or_else(|e| panic!("constant check title {value:?}: {e}"))
    }

    /// The title as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for CheckTitle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An evidence kind: `^[a-z0-9_.]{1,64}$`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EvidenceKind(String);

impl EvidenceKind {
    /// Parses an evidence kind.
    ///
    /// # Errors
    /// [`ParseError`] when the text does not match the pattern.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        if EVIDENCE_KIND_PATTERN.is_match(&value) {
            Ok(Self(value))
        } else {
            Err(ParseError::new("evidence.kind", "must match ^[a-z0-9_.]{1,64}$"))
        }
    }

    /// The kind as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for EvidenceKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An evidence value: a string, an integer or a boolean. Never an object: evidence is a pointer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum EvidenceValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A short, sanitized string.
    Text(String),
}

/// Accepts what `#[serde(untagged)]` over the three variants accepted — a boolean, an integer
/// that fits `i64`, a string — without buffering each value and trying the variants in turn,
/// which built and dropped an error per evidence entry of every report read.
impl<'de> Deserialize<'de> for EvidenceValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ValueVisitor;

        impl serde::de::Visitor<'_> for ValueVisitor {
            type Value = EvidenceValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, an integer or a boolean")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<EvidenceValue, E> {
                Ok(EvidenceValue::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<EvidenceValue, E> {
                Ok(EvidenceValue::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<EvidenceValue, E> {
                i64::try_from(v)
                    .map(EvidenceValue::Int)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<EvidenceValue, E> {
                Ok(EvidenceValue::Text(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<EvidenceValue, E> {
                Ok(EvidenceValue::Text(v))
            }
        }

        d.deserialize_any(ValueVisitor)
    }
}

/// One safe pointer supporting a check result.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    /// What the value is.
    pub kind: EvidenceKind,
    /// The value.
    pub value: EvidenceValue,
}

impl Evidence {
    /// Builds an evidence entry.
    ///
    /// # Errors
    /// [`ParseError`] when `kind` is not a valid evidence kind.
    pub fn new(kind: &str, value: impl Into<EvidenceValue>) -> Result<Self, ParseError> {
        Ok(Self { kind: EvidenceKind::parse(kind)?, value: value.into() })
    }
}

impl From<&str> for EvidenceValue {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<String> for EvidenceValue {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<i64> for EvidenceValue {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<u16> for EvidenceValue {
    fn from(v: u16) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<bool> for EvidenceValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}

/// A navigation link: a relative path or an `https://` URL. Nothing is executed from it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextStep {
    /// What the link does, for a human.
    pub label: String,
    /// Where it goes.
    pub url: String,
}

impl NextStep {
    /// Builds a next step. The sanitizer later drops it if the URL is not a relative path or an
    /// `https://` URL.
    #[must_use]
    pub fn new(label: impl Into<String>, url: impl Into<String>) -> Self {
        Self { label: label.into(), url: url.into() }
    }
}

/// One check's result, as it appears in a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    /// Unique within the report.
    pub key: CheckKey,
    /// Human title.
    pub title: CheckTitle,
    /// What the check found.
    pub status: CheckStatus,
    /// How much it matters.
    pub severity: Severity,
    /// A failing blocking check is a blocker.
    pub blocking: bool,
    /// Machine-readable reason from the catalog.
    pub reason_code: ReasonCode,
    /// Sanitized human message.
    pub message: String,
    /// Safe pointers.
    pub evidence: Vec<Evidence>,
    /// Navigation links.
    pub next_steps: Vec<NextStep>,
}

impl CheckResult {
    /// A blocker: `status = fail` with `blocking = true`.
    #[must_use]
    pub fn is_blocker(&self) -> bool {
        self.status == CheckStatus::Fail && self.blocking
    }

    /// A result with no message, evidence or links; add them with the builder methods.
    #[must_use]
    pub fn new(
        key: CheckKey,
        title: CheckTitle,
        status: CheckStatus,
        severity: Severity,
        blocking: bool,
        reason_code: ReasonCode,
    ) -> Self {
        Self {
            key,
            title,
            status,
            severity,
            blocking,
            reason_code,
            message: String::new(),
            evidence: Vec::new(),
            next_steps: Vec::new(),
        }
    }

    /// Sets the message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Adds an evidence entry.
    #[must_use]
    pub fn with_evidence(mut self, evidence: Evidence) -> Self {
        self.evidence.push(evidence);
        self
    }

    /// Adds a next step.
    #[must_use]
    pub fn with_next_step(mut self, step: NextStep) -> Self {
        self.next_steps.push(step);
        self
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn evidence_values_parse_as_booleans_integers_or_strings_only() {
        use super::EvidenceValue;
        let parse = |text: &str| serde_json::from_str::<EvidenceValue>(text);
        assert_eq!(parse("true").unwrap(), EvidenceValue::Bool(true));
        assert_eq!(parse("-7").unwrap(), EvidenceValue::Int(-7));
        assert_eq!(parse("9223372036854775807").unwrap(), EvidenceValue::Int(i64::MAX));
        assert_eq!(parse("\"x\"").unwrap(), EvidenceValue::Text("x".into()));
        for bad in ["9223372036854775808", "1.5", "null", "{}", "[]"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn check_keys_follow_the_contract_pattern() {
        let long_ok = format!("a{}", "b".repeat(127));
        let too_long = format!("a{}", "b".repeat(128));
        for (raw, ok) in [
            ("provider_connection.token_acquisition", true),
            ("a", true),
            ("0-x_y.z", true),
            (long_ok.as_str(), true),
            (too_long.as_str(), false),
            ("", false),
            ("_a", false),
            ("A", false),
            ("a b", false),
            ("a/b", false),
        ] {
            assert_eq!(CheckKey::parse(raw).is_ok(), ok, "{raw}");
        }
    }

    #[test]
    fn constant_keys_are_built_from_valid_literals() {
        assert_eq!(CheckKey::from_static("graph.organization").as_str(), "graph.organization");
        assert!(std::panic::catch_unwind(|| CheckKey::from_static("Not A Key")).is_err());
    }

    #[test]
    fn severity_unknown_is_the_empty_string() {
        assert_eq!(serde_json::to_string(&Severity::Unknown).unwrap(), "\"\"");
        assert_eq!(serde_json::from_str::<Severity>("\"\"").unwrap(), Severity::Unknown);
        assert!(serde_json::from_str::<Severity>("\"severe\"").is_err());
    }

    #[test]
    fn evidence_values_are_strings_integers_or_booleans() {
        let e: Evidence = serde_json::from_str(r#"{"kind":"http_status","value":403}"#).unwrap();
        assert_eq!(e.value, EvidenceValue::Int(403));
        let e: Evidence = serde_json::from_str(r#"{"kind":"ok","value":true}"#).unwrap();
        assert_eq!(e.value, EvidenceValue::Bool(true));
        assert!(serde_json::from_str::<Evidence>(r#"{"kind":"x","value":{"a":1}}"#).is_err());
        assert!(serde_json::from_str::<Evidence>(r#"{"kind":"X","value":1}"#).is_err());
    }

    #[test]
    fn titles_are_bounded() {
        assert!(CheckTitle::parse("Token acquisition").is_ok());
        assert!(CheckTitle::parse(" ").is_err());
        assert!(CheckTitle::parse("t".repeat(121)).is_err());
        assert!(CheckTitle::parse("a\u{7}").is_err());
    }
}
