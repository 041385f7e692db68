//! Identifiers: positive host-issued integers for workspaces and tenants, UUIDv7 for what
//! Verdict owns. Each is a newtype whose constructor rejects anything else.

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

macro_rules! v7_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            #[must_use]
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Accepts only version-7 UUIDs.
            ///
            /// # Errors
            /// [`ParseError`] for any other UUID version.
            pub fn from_uuid(uuid: Uuid) -> Result<Self, ParseError> {
                if uuid.get_version_num() == 7 {
                    Ok(Self(uuid))
                } else {
                    Err(ParseError::new($what, "must be a UUIDv7"))
                }
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
                let uuid = Uuid::try_parse(s).map_err(|_| ParseError::new($what, "must be a UUID"))?;
                Self::from_uuid(uuid)
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
v7_id!(
    /// A run (and its report: `report_id` equals the run id).
    RunId,
    "run_id"
);
v7_id!(
    /// A provider connection owned by Verdict.
    ProviderConnectionId,
    "provider_connection_id"
);
v7_id!(
    /// An acknowledgement row.
    AcknowledgementId,
    "acknowledgement_id"
);
v7_id!(
    /// An audit event.
    AuditEventId,
    "audit_event_id"
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
    fn run_ids_accept_only_uuid_v7() {
        let id = RunId::generate();
        assert_eq!(id.to_string().parse::<RunId>(), Ok(id));
        assert!("550e8400-e29b-41d4-a716-446655440000".parse::<RunId>().is_err(), "v4 rejected");
        assert!("not-a-uuid".parse::<RunId>().is_err());
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
