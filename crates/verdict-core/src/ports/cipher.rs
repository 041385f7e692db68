//! Encryption of provider client secrets at rest.

use crate::domain::{ClientSecret, ProviderConnectionId, SecretCiphertext};

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

/// Authenticated encryption of client secrets, bound to their connection.
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
}
