//! The reason-code catalog (docs/contract.md#reason-codes, `contracts/reason-codes.md`). A [`ReasonCode`] can only
//! be built from an entry of this catalog, so no check can emit an unknown code. The catalog is
//! append-only: never rename or remove an entry.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ParseError;

/// One catalog entry.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ReasonEntry {
    /// The stable code.
    pub code: &'static str,
    /// What it means.
    pub meaning: &'static str,
}

/// Every known reason code, baseline first, then the `ext.` namespace.
pub static REASON_CATALOG: &[ReasonEntry] = &[
    ReasonEntry { code: "ok", meaning: "The check passed." },
    ReasonEntry { code: "not_applicable", meaning: "The check does not apply to this scope." },
    ReasonEntry { code: "missing_configuration", meaning: "Required configuration is absent or points at nothing." },
    ReasonEntry {
        code: "permission_denied",
        meaning: "The provider refused access, or a required permission is not granted.",
    },
    ReasonEntry { code: "authentication_failed", meaning: "The provider rejected the connection's credentials." },
    ReasonEntry { code: "throttled", meaning: "The provider asked us to slow down (HTTP 429)." },
    ReasonEntry {
        code: "dependency_unreachable",
        meaning: "The provider could not be reached or answered with a server error.",
    },
    ReasonEntry {
        code: "invalid_state",
        meaning: "The provider answered, but with something inconsistent with the connection.",
    },
    ReasonEntry { code: "unknown_error", meaning: "The check failed in an unexpected way." },
    ReasonEntry {
        code: "ext.provider_connection.prerequisite_failed",
        meaning: "A check this one depends on did not pass, so it was skipped.",
    },
    ReasonEntry { code: "ext.runner.timeout", meaning: "The check did not finish within the configured timeout." },
    ReasonEntry {
        code: "ext.runner.aborted",
        meaning: "The run was abandoned after repeated worker failures; the check never finished.",
    },
    ReasonEntry { code: "ext.runner.in_progress", meaning: "The check has not finished yet (live reports only)." },
    ReasonEntry {
        code: "ext.entra.client_secret_invalid",
        meaning: "Microsoft Entra rejected the stored client secret (AADSTS7000215).",
    },
    ReasonEntry {
        code: "ext.entra.client_secret_expired",
        meaning: "The stored client secret has expired (AADSTS7000222).",
    },
    ReasonEntry {
        code: "ext.entra.app_not_in_directory",
        meaning: "The application is not known in the directory (AADSTS700016).",
    },
    ReasonEntry { code: "ext.entra.consent_required", meaning: "The application needs admin consent (AADSTS65001)." },
    ReasonEntry {
        code: "ext.entra.app_disabled",
        meaning: "The application is disabled in the tenant (AADSTS7000112).",
    },
    ReasonEntry {
        code: "ext.entra.blocked_by_conditional_access",
        meaning: "A Conditional Access policy blocked the application's sign-in (AADSTS53003).",
    },
    ReasonEntry {
        code: "ext.provider_connection.credential_expiring",
        meaning: "The client secret in use expires within 30 days.",
    },
    ReasonEntry {
        code: "ext.provider_connection.credential_expired",
        meaning: "The client secret in use has expired.",
    },
    ReasonEntry {
        code: "ext.provider_connection.expiry_unknown",
        meaning: "Neither the connection nor Microsoft Graph says when the client secret expires.",
    },
    ReasonEntry { code: "ext.intune.not_licensed", meaning: "The tenant has no active Intune service plan." },
];

/// A reason code from [`REASON_CATALOG`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReasonCode(&'static ReasonEntry);

impl ReasonCode {
    /// The check passed.
    pub const OK: Self = Self(&REASON_CATALOG[0]);
    /// Not applicable.
    pub const NOT_APPLICABLE: Self = Self(&REASON_CATALOG[1]);
    /// Missing configuration.
    pub const MISSING_CONFIGURATION: Self = Self(&REASON_CATALOG[2]);
    /// Permission denied.
    pub const PERMISSION_DENIED: Self = Self(&REASON_CATALOG[3]);
    /// Authentication failed.
    pub const AUTHENTICATION_FAILED: Self = Self(&REASON_CATALOG[4]);
    /// Throttled.
    pub const THROTTLED: Self = Self(&REASON_CATALOG[5]);
    /// Dependency unreachable.
    pub const DEPENDENCY_UNREACHABLE: Self = Self(&REASON_CATALOG[6]);
    /// Invalid state.
    pub const INVALID_STATE: Self = Self(&REASON_CATALOG[7]);
    /// Unknown error.
    pub const UNKNOWN_ERROR: Self = Self(&REASON_CATALOG[8]);
    /// A prerequisite check did not pass.
    pub const PREREQUISITE_FAILED: Self = Self(&REASON_CATALOG[9]);
    /// The check timed out.
    pub const RUNNER_TIMEOUT: Self = Self(&REASON_CATALOG[10]);
    /// The run was abandoned.
    pub const RUNNER_ABORTED: Self = Self(&REASON_CATALOG[11]);
    /// The check is still running (live reports only).
    pub const RUNNER_IN_PROGRESS: Self = Self(&REASON_CATALOG[12]);
    /// Entra rejected the stored client secret (AADSTS7000215).
    pub const ENTRA_CLIENT_SECRET_INVALID: Self = Self(&REASON_CATALOG[13]);
    /// The stored client secret has expired (AADSTS7000222).
    pub const ENTRA_CLIENT_SECRET_EXPIRED: Self = Self(&REASON_CATALOG[14]);
    /// The application is not in the directory (AADSTS700016).
    pub const ENTRA_APP_NOT_IN_DIRECTORY: Self = Self(&REASON_CATALOG[15]);
    /// Admin consent is required (AADSTS65001).
    pub const ENTRA_CONSENT_REQUIRED: Self = Self(&REASON_CATALOG[16]);
    /// The application is disabled (AADSTS7000112).
    pub const ENTRA_APP_DISABLED: Self = Self(&REASON_CATALOG[17]);
    /// Conditional Access blocked the sign-in (AADSTS53003).
    pub const ENTRA_BLOCKED_BY_CONDITIONAL_ACCESS: Self = Self(&REASON_CATALOG[18]);
    /// The client secret expires within 30 days.
    pub const CREDENTIAL_EXPIRING: Self = Self(&REASON_CATALOG[19]);
    /// The client secret has expired.
    pub const CREDENTIAL_EXPIRED: Self = Self(&REASON_CATALOG[20]);
    /// Nobody knows when the client secret expires.
    pub const EXPIRY_UNKNOWN: Self = Self(&REASON_CATALOG[21]);
    /// The tenant has no active Intune service plan.
    pub const INTUNE_NOT_LICENSED: Self = Self(&REASON_CATALOG[22]);

    /// Looks a code up in the catalog.
    ///
    /// # Errors
    /// [`ParseError`] for any code not in the catalog.
    pub fn parse(code: &str) -> Result<Self, ParseError> {
        REASON_CATALOG
            .iter()
            .find(|entry| entry.code == code)
            .map(Self)
            .ok_or_else(|| ParseError::new("reason_code", "is not in the reason-code catalog"))
    }

    /// The stable code.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        self.0.code
    }

    /// What it means.
    #[must_use]
    pub fn meaning(self) -> &'static str {
        self.0.meaning
    }
}

impl fmt::Debug for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReasonCode").field(&self.0.code).finish()
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code)
    }
}

impl Serialize for ReasonCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.code)
    }
}

impl<'de> Deserialize<'de> for ReasonCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_point_at_their_own_codes() {
        let pairs = [
            (ReasonCode::OK, "ok"),
            (ReasonCode::NOT_APPLICABLE, "not_applicable"),
            (ReasonCode::MISSING_CONFIGURATION, "missing_configuration"),
            (ReasonCode::PERMISSION_DENIED, "permission_denied"),
            (ReasonCode::AUTHENTICATION_FAILED, "authentication_failed"),
            (ReasonCode::THROTTLED, "throttled"),
            (ReasonCode::DEPENDENCY_UNREACHABLE, "dependency_unreachable"),
            (ReasonCode::INVALID_STATE, "invalid_state"),
            (ReasonCode::UNKNOWN_ERROR, "unknown_error"),
            (ReasonCode::PREREQUISITE_FAILED, "ext.provider_connection.prerequisite_failed"),
            (ReasonCode::RUNNER_TIMEOUT, "ext.runner.timeout"),
            (ReasonCode::RUNNER_ABORTED, "ext.runner.aborted"),
            (ReasonCode::RUNNER_IN_PROGRESS, "ext.runner.in_progress"),
            (ReasonCode::ENTRA_CLIENT_SECRET_INVALID, "ext.entra.client_secret_invalid"),
            (ReasonCode::ENTRA_CLIENT_SECRET_EXPIRED, "ext.entra.client_secret_expired"),
            (ReasonCode::ENTRA_APP_NOT_IN_DIRECTORY, "ext.entra.app_not_in_directory"),
            (ReasonCode::ENTRA_CONSENT_REQUIRED, "ext.entra.consent_required"),
            (ReasonCode::ENTRA_APP_DISABLED, "ext.entra.app_disabled"),
            (ReasonCode::ENTRA_BLOCKED_BY_CONDITIONAL_ACCESS, "ext.entra.blocked_by_conditional_access"),
            (ReasonCode::CREDENTIAL_EXPIRING, "ext.provider_connection.credential_expiring"),
            (ReasonCode::CREDENTIAL_EXPIRED, "ext.provider_connection.credential_expired"),
            (ReasonCode::EXPIRY_UNKNOWN, "ext.provider_connection.expiry_unknown"),
            (ReasonCode::INTUNE_NOT_LICENSED, "ext.intune.not_licensed"),
        ];
        assert_eq!(pairs.len(), REASON_CATALOG.len());
        for (code, text) in pairs {
            assert_eq!(code.as_str(), text);
            assert_eq!(ReasonCode::parse(text), Ok(code));
        }
    }

    #[test]
    fn unknown_codes_are_rejected() {
        for bad in ["", "OK", "ext.made_up.code", "permission-denied"] {
            assert!(ReasonCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn catalog_codes_are_unique_and_extension_codes_are_namespaced() {
        let mut seen = std::collections::HashSet::new();
        for entry in REASON_CATALOG {
            assert!(seen.insert(entry.code), "duplicate {}", entry.code);
            let baseline = entry.code.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            let ext = entry.code.starts_with("ext.") && entry.code.matches('.').count() >= 2;
            assert!(baseline || ext, "{}", entry.code);
        }
    }

    #[test]
    fn every_catalog_code_is_documented_in_the_contract() {
        let doc = include_str!("../../../../contracts/reason-codes.md");
        for entry in REASON_CATALOG {
            assert!(doc.contains(&format!("`{}`", entry.code)), "{} missing from reason-codes.md", entry.code);
        }
    }
}
