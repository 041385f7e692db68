//! The prerequisite of a flow that needs a provider connection (docs/contract.md, "Blocked
//! runs"): one the run's tenant owns, enabled, with a secret. Checked when a run is started and
//! again when a worker claims it (the connection may have changed in between), with the same
//! words both times, since a blocked stub's reason is what makes later starts reuse it.

use crate::domain::{ProviderConnection, ProviderConnectionId};

/// The stub's reason when the stored secret cannot be decrypted with the configured key (found
/// only by a worker, which is the only one that decrypts).
pub const UNDECRYPTABLE_SECRET: &str = "The provider connection's client secret cannot be decrypted; set it again.";

/// Why a run of a flow that needs a connection cannot run, or `None` when it can. `connection`
/// is the requested connection as found in the run's workspace and tenant.
#[must_use]
pub fn missing_prerequisite(
    requested: Option<ProviderConnectionId>,
    connection: Option<&ProviderConnection>,
) -> Option<&'static str> {
    match (requested, connection) {
        (None, _) => Some("No provider connection was given for this verification."),
        (Some(_), None) => Some("The provider connection does not exist in this tenant."),
        (Some(_), Some(c)) if c.disabled_at.is_some() => Some("The provider connection is disabled."),
        (Some(_), Some(c)) if c.client_secret_ciphertext.is_none() => {
            Some("The provider connection has no client secret.")
        }
        (Some(_), Some(_)) => None,
    }
}
