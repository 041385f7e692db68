//! Identifiers: positive host-issued integers for workspaces and tenants, UUIDs for what
//! Verdict owns (it issues version 7 and accepts any version in canonical form). Each is a newtype
//! whose constructor rejects anything else.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::ParseError;

macro_rules! positive_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Parses a host-issued id: a positive 64-bit integer.
            ///
            /// # Errors
            /// [`ParseError`] when the value is zero or negative.
            pub fn new(value: i64) -> Result<Self, ParseError> {
                if value > 0 {
                    Ok(Self(value))
                } else {
                    Err(ParseError::new($what, "must be a positive integer"))
                }
            }

            /// The raw value.
            #[must_use]
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                let value: i64 = s
                    .parse()
                    .map_err(|_| ParseError::new($what, "must be a positive integer"))?;
                Self::new(value)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = ParseError;
            fn try_from(value: i64) -> Result<Self, ParseError> {
                Self::new(value)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::new(i64::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Parses a UUID in its canonical form only: 36 characters, lowercase hex, hyphens at 8, 13, 18
/// and 23 (RFC 9562 §4). Uppercase, braced, `urn:uuid:` and unhyphenated spellings are refused, so
/// the server accepts exactly the strings the contracts describe; any version is accepted.
#[must_use]
pub fn parse_canonical_uuid(text: &str) -> Option<Uuid> {
    let bytes = text.as_bytes();
    let canonical = bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        });
    if canonical { Uuid::try_parse(text).ok() } else { None }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (version 7) id: what Verdict issues.
            #[must_use]
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps any UUID. Verdict issues version 7, but an id it receives is looked up, not
            /// judged by its version: an id of another version simply does not exist.
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                parse_canonical_uuid(s)
                    .map(Self)
                    .ok_or_else(|| ParseError::new($what, "must be a UUID in canonical lowercase hyphenated form"))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

positive_id!(
    /// A workspace: the host product's customer account and Verdict's isolation boundary.
    WorkspaceId,
    "workspace_id"
);
positive_id!(
    /// A managed tenant inside a workspace.
    TenantId,
    "tenant_id"
);
uuid_id!(
    /// A run (and its report: `report_id` equals the run id).
    RunId,
    "run_id"
);
uuid_id!(
    /// A provider connection owned by Verdict.
    ProviderConnectionId,
    "provider_connection_id"
);
uuid_id!(
    /// An acknowledgement row.
    AcknowledgementId,
    "acknowledgement_id"
);
uuid_id!(
    /// An audit event.
    AuditEventId,
    "audit_event_id"
);
uuid_id!(
    /// A webhook subscription.
    WebhookId,
    "webhook_id"
);
uuid_id!(
    /// A webhook event: the payload's `id` and the `webhook-id` header, the same on every
    /// delivery attempt and for every subscription it is sent to (receivers dedupe on it).
    WebhookEventId,
    "event_id"
);

/// The authenticated caller's user id (the JWT `sub`): 1–255 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Parses a user id.
    ///
    /// # Errors
    /// [`ParseError`] when empty, longer than 255 characters or containing control characters.
    pub fn parse(value: impl Into<String>) -> Result<Self, ParseError> {
        let value = value.into();
        let len = value.chars().count();
        if len == 0 || len > 255 {
            return Err(ParseError::new("sub", "must be 1 to 255 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(ParseError::new("sub", "must not contain control characters"));
        }
        Ok(Self(value))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_and_tenant_ids_must_be_positive() {
        for (raw, ok) in [(1, true), (i64::MAX, true), (0, false), (-1, false), (i64::MIN, false)] {
            assert_eq!(WorkspaceId::new(raw).is_ok(), ok, "{raw}");
            assert_eq!(TenantId::new(raw).is_ok(), ok, "{raw}");
        }
        assert!("12".parse::<TenantId>().is_ok());
        assert!("abc".parse::<TenantId>().is_err());
        assert!(serde_json::from_str::<WorkspaceId>("0").is_err());
        assert!(serde_json::from_str::<WorkspaceId>("\"1\"").is_err());
    }

    #[test]
    fn ids_accept_exactly_the_canonical_form_of_any_version() {
        let id = RunId::generate();
        assert_eq!(id.to_string().parse::<RunId>(), Ok(id));
        let v4 = "550e8400-e29b-41d4-a716-446655440000";
        assert_eq!(v4.parse::<RunId>().map(|r| r.to_string()).as_deref(), Ok(v4), "any version is an id");
        for bad in [
            "550E8400-E29B-41D4-A716-446655440000",
            "{550e8400-e29b-41d4-a716-446655440000}",
            "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
            "550e8400e29b41d4a716446655440000",
            "550e8400-e29b-41d4-a716-44665544000g",
            "550e8400-e29b-41d4-a716_446655440000",
            " 550e8400-e29b-41d4-a716-446655440000",
            "not-a-uuid",
            "",
        ] {
            assert!(bad.parse::<RunId>().is_err(), "{bad}");
            assert!(bad.parse::<ProviderConnectionId>().is_err(), "{bad}");
        }
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<RunId>(&json).unwrap(), id);
    }

    #[test]
    fn user_ids_reject_blank_long_and_control_characters() {
        assert!(UserId::parse("user-42").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("a\nb").is_err());
        assert!(UserId::parse("x".repeat(256)).is_err());
        assert!(UserId::parse("x".repeat(255)).is_ok());
    }
}
