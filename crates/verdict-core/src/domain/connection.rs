//! Provider connections: the Entra app registration Verdict uses to reach a tenant. The client
//! secret exists in plaintext only inside [`ClientSecret`] (redacted `Debug`, zeroized on drop)
//! and at rest only as AES-256-GCM ciphertext.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use super::{ParseError, ProviderConnectionId, TenantId, WorkspaceId};

macro_rules! guid {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Parses a GUID in its hyphenated form (any case); stored lowercase.
            ///
            /// # Errors
            /// [`ParseError`] unless the text is a hyphenated GUID.
            pub fn parse(value: &str) -> Result<Self, ParseError> {
                let bad = || ParseError::new($field, "must be a GUID like 00000000-0000-0000-0000-000000000000");
                if value.len() != 36 {
                    return Err(bad());
                }
                Uuid::try_parse(value).map(Self).map_err(|_| bad())
            }

            /// The GUID.
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

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

guid!(
    /// The Microsoft Entra directory (tenant) id a connection points at.
    DirectoryId,
    "entra_tenant_id"
);
guid!(
    /// The Entra application (client) id.
    ClientId,
    "client_id"
);

/// A connection's display name: 1–120 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Parses a display name (trimmed).
    ///
    /// # Errors
    /// [`ParseError`] when blank, too long or containing control characters.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        let value = value.trim();
        let len = value.chars().count();
        if len == 0 || len > 120 {
            return Err(ParseError::new("display_name", "must be 1 to 120 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(ParseError::new("display_name", "must not contain control characters"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A client secret in plaintext: 1–1024 characters, never printed.
#[derive(Clone)]
pub struct ClientSecret(SecretString);

impl ClientSecret {
    /// Wraps a secret.
    ///
    /// # Errors
    /// [`ParseError`] when empty or longer than 1024 characters. The error never contains it.
    pub fn parse(value: String) -> Result<Self, ParseError> {
        let len = value.chars().count();
        if value.trim().is_empty() || len > 1024 {
            return Err(ParseError::new("client_secret", "must be 1 to 1024 characters"));
        }
        Ok(Self(SecretString::from(value)))
    }

    /// The plaintext, for the cipher and the token request only.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([REDACTED])")
    }
}

impl<'de> Deserialize<'de> for ClientSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An encrypted client secret as stored: nonce followed by AES-256-GCM ciphertext and tag.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretCiphertext(Vec<u8>);

impl SecretCiphertext {
    /// Wraps stored bytes.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The stored bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretCiphertext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretCiphertext({} bytes)", self.0.len())
    }
}

/// A provider connection as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConnection {
    /// Its id.
    pub id: ProviderConnectionId,
    /// The owning workspace.
    pub workspace_id: WorkspaceId,
    /// The tenant it reaches.
    pub tenant_id: TenantId,
    /// Human name.
    pub display_name: DisplayName,
    /// The Entra directory.
    pub entra_tenant_id: DirectoryId,
    /// The app registration.
    pub client_id: ClientId,
    /// The encrypted secret, if one was set.
    pub client_secret_ciphertext: Option<SecretCiphertext>,
    /// When the secret was last set.
    pub secret_updated_at: Option<DateTime<Utc>>,
    /// When the secret expires, if the host said so when it set the secret (docs/contract.md#provider-flow). Replaced
    /// on every rotation, so it always describes the secret stored.
    pub client_secret_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was disabled, if it was.
    pub disabled_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_must_be_hyphenated() {
        assert!(DirectoryId::parse("6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f").is_ok());
        assert!(DirectoryId::parse("6F1C9B6E-3C4A-4C1E-9F5E-0A1B2C3D4E5F").is_ok());
        assert!(ClientId::parse("6f1c9b6e3c4a4c1e9f5e0a1b2c3d4e5f").is_err(), "simple form rejected");
        assert!(ClientId::parse("contoso.onmicrosoft.com").is_err());
        assert!(ClientId::parse("").is_err());
    }

    #[test]
    fn secrets_never_print() {
        let secret = ClientSecret::parse("hunter2-very-secret".to_owned()).unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(ClientSecret::parse(String::new()).is_err());
        assert!(ClientSecret::parse("x".repeat(1025)).is_err());
        let err = ClientSecret::parse("   ".to_owned()).unwrap_err();
        assert!(!err.to_string().contains("   x"));
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Contoso  ").unwrap().as_str(), "Contoso");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"n".repeat(121)).is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
    }
}
