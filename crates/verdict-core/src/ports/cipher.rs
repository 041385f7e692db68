//! Encryption of secrets at rest: provider client secrets and webhook signing secrets.

use crate::domain::{ClientSecret, ProviderConnectionId, SecretCiphertext, SigningSecret, WebhookId};

/// Why a secret could not be encrypted or decrypted. Never carries the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    /// The configured key is not usable (wrong length).
    #[error("the encryption key must be 32 bytes")]
    InvalidKey,
    /// Encryption failed, or the ciphertext is corrupt, belongs to another connection or was
    /// encrypted with another key.
    #[error("the secret could not be encrypted or decrypted")]
    Failed,
}

/// Authenticated encryption of secrets, each bound to what it belongs to (a connection, a
/// webhook subscription) so a ciphertext cannot be moved to another.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait SecretCipher: Send + Sync {
    /// Encrypts `secret` for `connection` with a fresh nonce.
    ///
    /// # Errors
    /// [`CipherError::Failed`] if the cipher fails.
    fn encrypt(&self, connection: ProviderConnectionId, secret: &ClientSecret)
    -> Result<SecretCiphertext, CipherError>;

    /// Decrypts a ciphertext produced by [`SecretCipher::encrypt`] for the same connection.
    ///
    /// # Errors
    /// [`CipherError::Failed`] when the ciphertext was tampered with, belongs to another
    /// connection or was made with another key.
    fn decrypt(
        &self,
        connection: ProviderConnectionId,
        ciphertext: &SecretCiphertext,
    ) -> Result<ClientSecret, CipherError>;

    /// Encrypts a webhook's signing secret with a fresh nonce, bound to `webhook`.
    ///
    /// # Errors
    /// [`CipherError::Failed`] if the cipher fails.
    fn encrypt_signing_secret(
        &self,
        webhook: WebhookId,
        secret: &SigningSecret,
    ) -> Result<SecretCiphertext, CipherError>;

    /// Decrypts a ciphertext produced by [`SecretCipher::encrypt_signing_secret`] for the same
    /// webhook.
    ///
    /// # Errors
    /// [`CipherError::Failed`] when the ciphertext was tampered with, belongs to something else
    /// or was made with another key.
    fn decrypt_signing_secret(
        &self,
        webhook: WebhookId,
        ciphertext: &SecretCiphertext,
    ) -> Result<SigningSecret, CipherError>;
}
