//! Webhook subscriptions (docs/contract.md#continuous-verification): where a workspace wants to hear about completed
//! verifications, which events, and the signing secret (`whsec_…`, stored only encrypted).

use std::collections::BTreeSet;
use std::fmt;

use aes_gcm::aead::OsRng;
use aes_gcm::aead::rand_core::RngCore;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretBox};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::{Host, Url};
use uuid::Uuid;

use super::{ParseError, SecretCiphertext, WebhookId, WorkspaceId, to_micros};
use crate::rules::is_public_address;

/// What outbound webhook URLs may point to. Strict by default; `allow_private` (development and
/// tests only, `VERDICT_WEBHOOK_ALLOW_PRIVATE`) also permits `http://` and non-public addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Permit `http://` and loopback, private and other non-public addresses.
    pub allow_private: bool,
}

/// Where deliveries go: an absolute `https://` URL without credentials or fragment, whose host,
/// when it is an IP literal, is public. Host names are checked again at every delivery, after
/// resolution (a name can point anywhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    /// The longest URL accepted.
    pub const MAX_BYTES: usize = 2048;

    /// Parses and checks a URL under `policy`.
    ///
    /// # Errors
    /// [`ParseError`] for field `url`.
    pub fn parse(text: &str, policy: OutboundPolicy) -> Result<Self, ParseError> {
        let invalid = |problem: &str| ParseError::new("url", problem);
        if text.len() > Self::MAX_BYTES {
            return Err(invalid("must be at most 2048 bytes"));
        }
        // The URL parser would trim surrounding whitespace; the contract does not accept it.
        if text.trim() != text {
            return Err(invalid("must not have surrounding whitespace"));
        }
        let url = Url::parse(text).map_err(|_| invalid("must be an absolute URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if policy.allow_private => {}
            _ => return Err(invalid("must be an https:// URL")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not carry credentials"));
        }
        if url.fragment().is_some() {
            return Err(invalid("must not have a fragment"));
        }
        let ip = match url.host() {
            None => return Err(invalid("must name a host")),
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(v4)) => Some(std::net::IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => Some(std::net::IpAddr::V6(v6)),
        };
        if let Some(ip) = ip
            && !policy.allow_private
            && !is_public_address(ip)
        {
            return Err(invalid("must not point to a loopback, private, link-local or otherwise non-public address"));
        }
        Ok(Self(url))
    }

    /// Rebuilds a stored URL. It passed the policy in force when it was written; every delivery
    /// checks the addresses it resolves to under the policy in force then.
    ///
    /// # Errors
    /// [`ParseError`] when the text is not a URL Verdict writes.
    pub fn from_stored(text: &str) -> Result<Self, ParseError> {
        Self::parse(text, OutboundPolicy { allow_private: true })
    }

    /// The URL.
    #[must_use]
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The URL as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host, for audit metadata (the path and query may carry a receiver's token; the host
    /// does not).
    #[must_use]
    pub fn host(&self) -> String {
        self.0.host_str().unwrap_or_default().to_owned()
    }
}

/// The events a subscription can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WebhookEventType {
    /// Every completion.
    Completed,
    /// The fingerprint differs from the previous report's.
    Changed,
    /// Some check regressed, or a first report is not `ready`.
    Regressed,
    /// Overall is `ready` and the previous report's was not.
    Recovered,
}

impl WebhookEventType {
    /// Every type, in documented order.
    pub const ALL: [Self; 4] = [Self::Completed, Self::Changed, Self::Regressed, Self::Recovered];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "verification.completed",
            Self::Changed => "verification.changed",
            Self::Regressed => "verification.regressed",
            Self::Recovered => "verification.recovered",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// [`ParseError`] for an unknown type.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        Self::ALL.into_iter().find(|t| t.as_str() == value).ok_or_else(|| {
            ParseError::new(
                "events",
                "must list verification.completed, verification.changed, verification.regressed or verification.recovered",
            )
        })
    }
}

impl fmt::Display for WebhookEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for WebhookEventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WebhookEventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The non-empty set of event types a subscription receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(BTreeSet<WebhookEventType>);

impl EventTypes {
    /// A non-empty set (duplicates collapse).
    ///
    /// # Errors
    /// [`ParseError`] when empty.
    pub fn new(types: impl IntoIterator<Item = WebhookEventType>) -> Result<Self, ParseError> {
        let set: BTreeSet<_> = types.into_iter().collect();
        if set.is_empty() { Err(ParseError::new("events", "must name at least one event type")) } else { Ok(Self(set)) }
    }

    /// Whether `event` is subscribed.
    #[must_use]
    pub fn contains(&self, event: WebhookEventType) -> bool {
        self.0.contains(&event)
    }

    /// The types, in documented order.
    pub fn iter(&self) -> impl Iterator<Item = WebhookEventType> + '_ {
        self.0.iter().copied()
    }

    /// The wire names, in documented order (also the stored JSON array).
    #[must_use]
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(WebhookEventType::as_str).collect()
    }

    /// Rebuilds the set from its stored JSON array text.
    ///
    /// # Errors
    /// [`ParseError`] for anything but a non-empty array of known names.
    pub fn from_stored_json(text: &str) -> Result<Self, ParseError> {
        let names: Vec<WebhookEventType> =
            serde_json::from_str(text).map_err(|_| ParseError::new("events", "is not a list of event types"))?;
        Self::new(names)
    }
}

impl Serialize for EventTypes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for EventTypes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::new(Vec::<WebhookEventType>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An operator's note on a subscription: at most 200 characters, no control characters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WebhookDescription(String);

impl WebhookDescription {
    /// Parses a description.
    ///
    /// # Errors
    /// [`ParseError`] when too long or containing control characters.
    pub fn parse(value: &str) -> Result<Self, ParseError> {
        if value.chars().count() > 200 {
            return Err(ParseError::new("description", "must be at most 200 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(ParseError::new("description", "must not contain control characters"));
        }
        Ok(Self(value.to_owned()))
    }

    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for WebhookDescription {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The prefix of a signing secret's text form (Standard Webhooks).
pub const SIGNING_SECRET_PREFIX: &str = "whsec_";

/// A subscription's signing secret: 32 random bytes, shown once as `whsec_` + base64. Its
/// `Debug` never prints it.
pub struct SigningSecret(SecretBox<[u8; 32]>);

impl SigningSecret {
    /// 32 fresh bytes from the operating system's generator.
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(SecretBox::new(Box::new(bytes)))
    }

    /// Rebuilds a secret from its bytes (after decryption).
    ///
    /// # Errors
    /// [`ParseError`] unless exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ParseError> {
        let array = <[u8; 32]>::try_from(bytes).map_err(|_| ParseError::new("secret", "must be 32 bytes"))?;
        Ok(Self(SecretBox::new(Box::new(array))))
    }

    /// The raw bytes: the HMAC key.
    #[must_use]
    pub fn expose_bytes(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    /// The text form shown to the subscriber once: `whsec_` + standard base64.
    #[must_use]
    pub fn expose_whsec(&self) -> String {
        format!("{SIGNING_SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(self.expose_bytes()))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([REDACTED])")
    }
}

/// A subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its id (UUIDv7).
    pub id: WebhookId,
    /// The workspace whose events it receives (every tenant of it).
    pub workspace_id: WorkspaceId,
    /// Where deliveries go.
    pub url: WebhookUrl,
    /// Which events.
    pub events: EventTypes,
    /// The operator's note.
    pub description: WebhookDescription,
    /// The signing secret, encrypted with the webhook id as associated data.
    pub secret_ciphertext: SecretCiphertext,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When the secret was last replaced.
    pub secret_rotated_at: DateTime<Utc>,
}

/// The columns of `webhooks` (`events` as a JSON array of names).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the columns of the table, named as in the schema
pub struct StoredWebhook {
    pub id: Uuid,
    pub workspace_id: i64,
    pub url: String,
    pub events: String,
    pub description: String,
    pub secret_ciphertext: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub secret_rotated_at: DateTime<Utc>,
}

impl Webhook {
    /// Rebuilds a subscription from its stored columns.
    ///
    /// # Errors
    /// [`ParseError`] naming the first column that does not hold a value Verdict writes.
    pub fn from_stored(row: StoredWebhook) -> Result<Self, ParseError> {
        Ok(Self {
            id: WebhookId::from_uuid(row.id),
            workspace_id: WorkspaceId::new(row.workspace_id)?,
            url: WebhookUrl::from_stored(&row.url)?,
            events: EventTypes::from_stored_json(&row.events)?,
            description: WebhookDescription::parse(&row.description)?,
            secret_ciphertext: SecretCiphertext::from_bytes(row.secret_ciphertext),
            created_at: to_micros(row.created_at),
            updated_at: to_micros(row.updated_at),
            secret_rotated_at: to_micros(row.secret_rotated_at),
        })
    }

    /// The stored JSON text of `events`.
    #[must_use]
    pub fn events_json(&self) -> String {
        super::completion::json_text(&self.events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: OutboundPolicy = OutboundPolicy { allow_private: false };
    const LAX: OutboundPolicy = OutboundPolicy { allow_private: true };

    #[test]
    fn webhook_urls_must_be_https_without_credentials_and_not_point_inwards() {
        for ok in [
            "https://hooks.example.com/verdict",
            "https://hooks.example.com:8443/v?x=1",
            "https://93.184.216.34/hook",
            "https://[2606:4700:4700::1111]/hook",
            "https://localhost/hook",
        ] {
            assert!(WebhookUrl::parse(ok, STRICT).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.example.com/verdict",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://127.0.0.1/hook",
            "https://127.1/hook",
            "https://0x7f000001/hook",
            "https://10.1.2.3/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.1.1/",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://[::ffff:127.0.0.1]/hook",
            "https://0.0.0.0/",
            "not a url",
            "/relative",
        ] {
            let error = WebhookUrl::parse(bad, STRICT).unwrap_err();
            assert_eq!(error.field, "url", "{bad}");
        }
        assert!(WebhookUrl::parse(&format!("https://example.com/{}", "a".repeat(2048)), STRICT).is_err());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", LAX).is_ok(), "development mode");
        assert!(WebhookUrl::parse("https://user:pw@127.0.0.1/", LAX).is_err(), "never credentials");
    }

    #[test]
    fn event_types_are_a_non_empty_set_of_known_names() {
        let types: EventTypes =
            serde_json::from_str(r#"["verification.regressed","verification.completed","verification.regressed"]"#)
                .unwrap();
        assert_eq!(types.names(), ["verification.completed", "verification.regressed"]);
        assert_eq!(EventTypes::from_stored_json(&serde_json::to_string(&types).unwrap()).unwrap(), types);
        assert!(serde_json::from_str::<EventTypes>("[]").is_err());
        assert!(serde_json::from_str::<EventTypes>(r#"["verification.started"]"#).is_err());
    }

    #[test]
    fn signing_secrets_are_32_random_bytes_shown_as_whsec_base64() {
        let a = SigningSecret::generate();
        let b = SigningSecret::generate();
        assert_ne!(a.expose_bytes(), b.expose_bytes());
        let text = a.expose_whsec();
        let encoded = text.strip_prefix("whsec_").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        assert_eq!(decoded.as_slice(), a.expose_bytes());
        assert!(!format!("{a:?}").contains(encoded));
        assert!(SigningSecret::from_bytes(&[0; 31]).is_err());
    }

    #[test]
    fn descriptions_are_short_printable_text() {
        assert!(WebhookDescription::parse("Alerts to the on-call channel").is_ok());
        assert!(WebhookDescription::parse("").is_ok());
        assert!(WebhookDescription::parse(&"x".repeat(201)).is_err());
        assert!(WebhookDescription::parse("a\nb").is_err());
    }
}
