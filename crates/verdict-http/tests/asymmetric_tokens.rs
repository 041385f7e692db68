//! Bearer tokens signed with RS256 and ES256 verify against the configured public key; a token
//! of the other algorithm, or signed by another key, does not.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use verdict_http::auth::{Authenticator, VerificationKey};

const EC_PRIVATE: &[u8] = include_bytes!("keys/es256-private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("keys/es256-public.pem");
const RSA_PRIVATE: &[u8] = include_bytes!("keys/rs256-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("keys/rs256-public.pem");

fn claims() -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "user-1", "exp": now + 300, "nbf": now - 5, "aud": "verdict",
           "memberships": [{"workspace_id": 1, "tenant_ids": "*", "capabilities": []}]})
}

fn sign(algorithm: Algorithm, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), &claims(), key).unwrap()
}

#[test]
fn es256_and_rs256_tokens_verify_with_their_public_keys_only() {
    let ec = Authenticator::new(&VerificationKey::Es256Pem(EC_PUBLIC.to_vec()), None, None).unwrap();
    let rsa = Authenticator::new(&VerificationKey::Rs256Pem(RSA_PUBLIC.to_vec()), None, None).unwrap();
    let es256 = sign(Algorithm::ES256, &EncodingKey::from_ec_pem(EC_PRIVATE).unwrap());
    let rs256 = sign(Algorithm::RS256, &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap());
    assert_eq!(ec.authenticate(&es256).unwrap().user_id.as_str(), "user-1");
    assert_eq!(rsa.authenticate(&rs256).unwrap().user_id.as_str(), "user-1");
    assert!(ec.authenticate(&rs256).is_err(), "an RS256 token against an ES256 key");
    assert!(rsa.authenticate(&es256).is_err(), "an ES256 token against an RS256 key");
    // The public key used as an HMAC secret must not forge a token (algorithm confusion).
    let confused = sign(Algorithm::HS256, &EncodingKey::from_secret(RSA_PUBLIC));
    assert!(rsa.authenticate(&confused).is_err());
}

#[test]
fn unreadable_public_keys_are_refused_at_startup() {
    assert!(Authenticator::new(&VerificationKey::Rs256Pem(b"not a key".to_vec()), None, None).is_err());
    assert!(Authenticator::new(&VerificationKey::Es256Pem(RSA_PUBLIC.to_vec()), None, None).is_err());
}
