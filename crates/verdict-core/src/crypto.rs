//! AES-256-GCM encryption of secrets at rest (docs/contract.md#secrets, docs/contract.md#continuous-verification): a fresh random 96-bit nonce per
//! encryption, and the owner's id as associated data so a ciphertext cannot be moved — a
//! provider client secret is bound to its connection id, a webhook signing secret to a
//! domain-separation prefix plus its webhook id (so neither can pass for the other).

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::domain::{ClientSecret, ProviderConnectionId, SecretCiphertext, SigningSecret, WebhookId};
use crate::ports::{CipherError, SecretCipher};

const NONCE_LEN: usize = 12;

/// Prefixes a webhook id in the associated data of its signing secret.
const WEBHOOK_AAD_PREFIX: &[u8] = b"verdict.webhook-signing-secret\0";

fn webhook_aad(webhook: WebhookId) -> Vec<u8> {
    let mut aad = WEBHOOK_AAD_PREFIX.to_vec();
    aad.extend_from_slice(webhook.as_uuid().as_bytes());
    aad
}

/// The production [`SecretCipher`].
#[derive(Clone)]
pub struct Aes256GcmCipher {
    cipher: Aes256Gcm,
}

impl Aes256GcmCipher {
    /// Builds the cipher from a 32-byte key.
    ///
    /// # Errors
    /// [`CipherError::InvalidKey`] unless the key is exactly 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self, CipherError> {
        if key.len() != 32 {
            return Err(CipherError::InvalidKey);
        }
        Ok(Self { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)) })
    }

    /// A fresh random key, for development mode and tests.
    #[must_use]
    pub fn generate_key() -> [u8; 32] {
        Aes256Gcm::generate_key(OsRng).into()
    }
}

impl fmt::Debug for Aes256GcmCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Aes256GcmCipher([REDACTED])")
    }
}

impl Aes256GcmCipher {
    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<SecretCiphertext, CipherError> {
        let nonce = Aes256Gcm::generate_nonce(OsRng);
        let sealed = self.cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).map_err(|_| CipherError::Failed)?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(SecretCiphertext::from_bytes(bytes))
    }

    fn open(&self, ciphertext: &SecretCiphertext, aad: &[u8]) -> Result<Vec<u8>, CipherError> {
        let bytes = ciphertext.as_bytes();
        if bytes.len() <= NONCE_LEN {
            return Err(CipherError::Failed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        self.cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad }).map_err(|_| CipherError::Failed)
    }
}

impl SecretCipher for Aes256GcmCipher {
    fn encrypt(
        &self,
        connection: ProviderConnectionId,
        secret: &ClientSecret,
    ) -> Result<SecretCiphertext, CipherError> {
        self.seal(secret.expose().as_bytes(), connection.as_uuid().as_bytes())
    }

    fn decrypt(
        &self,
        connection: ProviderConnectionId,
        ciphertext: &SecretCiphertext,
    ) -> Result<ClientSecret, CipherError> {
        let plain = self.open(ciphertext, connection.as_uuid().as_bytes())?;
        let text = String::from_utf8(plain).map_err(|_| CipherError::Failed)?;
        ClientSecret::parse(text).map_err(|_| CipherError::Failed)
    }

    fn encrypt_signing_secret(
        &self,
        webhook: WebhookId,
        secret: &SigningSecret,
    ) -> Result<SecretCiphertext, CipherError> {
        self.seal(secret.expose_bytes(), &webhook_aad(webhook))
    }

    fn decrypt_signing_secret(
        &self,
        webhook: WebhookId,
        ciphertext: &SecretCiphertext,
    ) -> Result<SigningSecret, CipherError> {
        let plain = self.open(ciphertext, &webhook_aad(webhook))?;
        SigningSecret::from_bytes(&plain).map_err(|_| CipherError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_fresh_nonces_and_binds_the_connection() {
        let cipher = Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap();
        let id = ProviderConnectionId::generate();
        let secret = ClientSecret::parse("s3cret~value".to_owned()).unwrap();
        let a = cipher.encrypt(id, &secret).unwrap();
        let b = cipher.encrypt(id, &secret).unwrap();
        assert_ne!(a, b, "fresh nonce per encryption");
        assert!(!a.as_bytes().windows(6).any(|w| w == b"s3cret"));
        assert_eq!(cipher.decrypt(id, &a).unwrap().expose(), "s3cret~value");
        assert_eq!(cipher.decrypt(ProviderConnectionId::generate(), &a).unwrap_err(), CipherError::Failed);
        let other = Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap();
        assert!(other.decrypt(id, &a).is_err(), "another key cannot decrypt");
        let mut tampered = a.as_bytes().to_vec();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(cipher.decrypt(id, &SecretCiphertext::from_bytes(tampered)).is_err());
        assert!(cipher.decrypt(id, &SecretCiphertext::from_bytes(vec![1, 2])).is_err());
        assert_eq!(Aes256GcmCipher::new(&[0; 31]).unwrap_err(), CipherError::InvalidKey);
    }

    #[test]
    fn signing_secrets_round_trip_bound_to_their_webhook() {
        let cipher = Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap();
        let webhook = WebhookId::generate();
        let secret = SigningSecret::generate();
        let sealed = cipher.encrypt_signing_secret(webhook, &secret).unwrap();
        assert!(!sealed.as_bytes().windows(8).any(|w| secret.expose_bytes().windows(8).any(|s| s == w)));
        assert_eq!(cipher.decrypt_signing_secret(webhook, &sealed).unwrap().expose_bytes(), secret.expose_bytes());
        assert!(cipher.decrypt_signing_secret(WebhookId::generate(), &sealed).is_err(), "another webhook");
        // The same UUID as a connection id cannot open it either: the associated data differs.
        let as_connection = ProviderConnectionId::from_uuid(*webhook.as_uuid());
        assert!(cipher.decrypt(as_connection, &sealed).is_err());
    }
}
