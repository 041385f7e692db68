//! Bearer-JWT authentication (docs/contract.md#authentication): the signature (HS256 with a secret of at least 32
//! bytes, or RS256/ES256 with a public key), `exp`, `nbf`, `aud` (default `verdict`) and, when
//! configured, `iss`. Anything else — `alg: none`, another algorithm, a bad signature, an
//! expired or malformed token — is a 401 with `WWW-Authenticate: Bearer`.
//!
//! A token that passed is kept, by its exact text, in a bounded cache of verified tokens, so
//! that the next request carrying it skips the signature and the JSON (docs/architecture.md,
//! "Authentication"). `exp` and `nbf` are checked again on every use, with the same leeway.

use std::fmt;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use verdict_core::domain::{Membership, Principal, UserId};

use crate::error::ApiError;

/// Shortest accepted HS256 secret, in bytes.
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// The default audience.
pub const DEFAULT_AUDIENCE: &str = "verdict";

/// How tokens are verified.
pub enum VerificationKey {
    /// A shared HS256 secret.
    Hs256(Vec<u8>),
    /// An RS256 public key in PEM.
    Rs256Pem(Vec<u8>),
    /// An ES256 public key in PEM.
    Es256Pem(Vec<u8>),
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hs256(_) => "Hs256([REDACTED])",
            Self::Rs256Pem(_) => "Rs256Pem(..)",
            Self::Es256Pem(_) => "Es256Pem(..)",
        })
    }
}

/// Why an authenticator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// The HS256 secret is too short.
    #[error("the HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes")]
    SecretTooShort,
    /// The public key is not a valid PEM key of the expected kind.
    #[error("the JWT public key could not be read: {0}")]
    InvalidKey(String),
}

/// Verifies bearer tokens and turns their claims into a [`Principal`].
#[derive(Clone)]
pub struct Authenticator {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
    verified: Arc<VerifiedTokens>,
}

/// The most memory the cache of verified tokens holds, in bytes as [`TokenWeight`] counts them.
const VERIFIED_TOKENS_BYTES: u64 = 4 * 1024 * 1024;

/// Tokens that passed verification, by their exact text: the same text always carries the same
/// signature and claims, so what it proved once it proves again, while its time window lasts.
type VerifiedTokens = quick_cache::sync::Cache<String, Arc<Verified>, TokenWeight>;

/// What a verified token proved, and the time window it proved it for.
#[derive(Debug)]
struct Verified {
    principal: Principal,
    exp: u64,
    nbf: Option<u64>,
}

/// A cached token's weight: its text twice (the text and the principal read from it) plus a
/// fixed overhead, so a few large tokens cannot hold more memory than many small ones.
#[derive(Debug, Clone, Copy)]
struct TokenWeight;

impl quick_cache::Weighter<String, Arc<Verified>> for TokenWeight {
    fn weight(&self, token: &String, _: &Arc<Verified>) -> u64 {
        u64::try_from(token.len()).unwrap_or(u64::MAX).saturating_mul(2).saturating_add(256)
    }
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator").field("algorithms", &self.validation.algorithms).finish_non_exhaustive()
    }
}

/// The claims Verdict reads.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    /// Required and checked by the library; kept to check it again on the cached token.
    exp: u64,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    memberships: Vec<Membership>,
}

impl Authenticator {
    /// Builds an authenticator for one key; `audience` defaults to `verdict`.
    ///
    /// # Errors
    /// [`AuthConfigError`] for a short secret or an unreadable key.
    pub fn new(key: &VerificationKey, issuer: Option<&str>, audience: Option<&str>) -> Result<Self, AuthConfigError> {
        let (decoding, algorithm) = match key {
            VerificationKey::Hs256(secret) if secret.len() < MIN_HS256_SECRET_BYTES => {
                return Err(AuthConfigError::SecretTooShort);
            }
            VerificationKey::Hs256(secret) => (DecodingKey::from_secret(secret), Algorithm::HS256),
            VerificationKey::Rs256Pem(pem) => (
                DecodingKey::from_rsa_pem(pem).map_err(|e| AuthConfigError::InvalidKey(e.to_string()))?,
                Algorithm::RS256,
            ),
            VerificationKey::Es256Pem(pem) => (
                DecodingKey::from_ec_pem(pem).map_err(|e| AuthConfigError::InvalidKey(e.to_string()))?,
                Algorithm::ES256,
            ),
        };
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        validation.set_audience(&[audience.unwrap_or(DEFAULT_AUDIENCE)]);
        if let Some(issuer) = issuer {
            validation.set_issuer(&[issuer]);
            validation.set_required_spec_claims(&["exp", "aud", "sub", "iss"]);
        } else {
            validation.set_required_spec_claims(&["exp", "aud", "sub"]);
        }
        let verified = VerifiedTokens::with_weighter(1024, VERIFIED_TOKENS_BYTES, TokenWeight);
        Ok(Self { key: Arc::new(decoding), validation: Arc::new(validation), verified: Arc::new(verified) })
    }

    /// Verifies a token and returns its principal.
    ///
    /// # Errors
    /// [`ApiError::Unauthenticated`] for any invalid token; the reason is logged at debug level
    /// without the token.
    pub fn authenticate(&self, token: &str) -> Result<Principal, ApiError> {
        self.authenticate_at(token, jsonwebtoken::get_current_timestamp())
    }

    /// [`Self::authenticate`] with `now` (seconds since the epoch) as the time a cached token's
    /// window is checked against; a token not cached is verified against the library's clock.
    fn authenticate_at(&self, token: &str, now: u64) -> Result<Principal, ApiError> {
        if let Some(verified) = self.verified.get(token) {
            return if self.in_window(&verified, now) {
                Ok(verified.principal.clone())
            } else {
                self.verified.remove(token);
                tracing::debug!(reason = "expired", "rejected bearer token");
                Err(ApiError::Unauthenticated)
            };
        }
        let verified = self.verify(token)?;
        let principal = verified.principal.clone();
        self.verified.insert(token.to_owned(), Arc::new(verified));
        Ok(principal)
    }

    /// The library's own checks of `exp` and `nbf`, with the same leeway.
    fn in_window(&self, verified: &Verified, now: u64) -> bool {
        let leeway = self.validation.leeway;
        let expired = verified.exp < now.saturating_sub(leeway);
        let immature = verified.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway));
        !expired && !immature
    }

    /// The whole verification of a token not seen before.
    fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        if names_critical_extensions(token) {
            tracing::debug!(reason = "critical header extension", "rejected bearer token");
            return Err(ApiError::Unauthenticated);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
            tracing::debug!(reason = %e.kind_name(), "rejected bearer token");
            ApiError::Unauthenticated
        })?;
        let Claims { sub, exp, nbf, memberships } = data.claims;
        let user_id = UserId::parse(sub).map_err(|_| ApiError::Unauthenticated)?;
        Ok(Verified { principal: Principal { user_id, memberships }, exp, nbf })
    }
}

/// Whether the token's header carries `crit` (or cannot be read at all). RFC 7515 §4.1.11: a
/// recipient must reject a token whose `crit` lists an extension it does not understand, and
/// Verdict understands none, so any `crit` is refused. The signature library parses the field
/// but does not act on it, so it is checked here, before the signature.
fn names_critical_extensions(token: &str) -> bool {
    jsonwebtoken::decode_header(token).map_or(true, |header| header.crit.is_some())
}

trait KindName {
    fn kind_name(&self) -> &'static str;
}

impl KindName for jsonwebtoken::errors::Error {
    fn kind_name(&self) -> &'static str {
        use jsonwebtoken::errors::ErrorKind;
        match self.kind() {
            ErrorKind::InvalidToken => "malformed",
            ErrorKind::InvalidSignature => "bad signature",
            ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "unexpected algorithm",
            ErrorKind::ExpiredSignature => "expired",
            ErrorKind::ImmatureSignature => "not yet valid",
            ErrorKind::InvalidAudience => "wrong audience",
            ErrorKind::InvalidIssuer => "wrong issuer",
            ErrorKind::MissingRequiredClaim(_) => "missing claim",
            _ => "invalid",
        }
    }
}

/// Claims of a token Verdict issues itself (`verdict token issue`, tests).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedClaims {
    /// The user.
    pub sub: String,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Not before.
    pub nbf: i64,
    /// Audience.
    pub aud: String,
    /// Issuer, if configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Memberships in the claim shape of docs/contract.md#authentication.
    pub memberships: serde_json::Value,
}

/// Signs claims with an HS256 secret.
///
/// # Errors
/// [`AuthConfigError::SecretTooShort`], or [`AuthConfigError::InvalidKey`] if signing fails.
pub fn issue_hs256(secret: &[u8], claims: &IssuedClaims) -> Result<String, AuthConfigError> {
    if secret.len() < MIN_HS256_SECRET_BYTES {
        return Err(AuthConfigError::SecretTooShort);
    }
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret))
        .map_err(|e| AuthConfigError::InvalidKey(e.to_string()))
}

/// The authenticated caller, extracted from `Authorization: Bearer …`.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// Gives extractors access to the authenticator in the router state.
pub trait HasAuthenticator {
    /// The authenticator.
    fn authenticator(&self) -> &Authenticator;
}

impl<S> FromRequestParts<S> for Caller
where
    S: HasAuthenticator + Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(ApiError::Unauthenticated)?;
        let (scheme, token) = header.split_once(' ').ok_or(ApiError::Unauthenticated)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(ApiError::Unauthenticated);
        }
        state.authenticator().authenticate(token.trim()).map(Caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims(exp_offset: i64, aud: &str) -> IssuedClaims {
        let now = chrono::Utc::now().timestamp();
        IssuedClaims {
            sub: "user-42".into(),
            exp: now + exp_offset,
            nbf: now - 10,
            aud: aud.into(),
            iss: None,
            memberships: json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": ["audit.read"]}]),
        }
    }

    fn auth() -> Authenticator {
        Authenticator::new(&VerificationKey::Hs256(SECRET.to_vec()), None, None).unwrap()
    }

    #[test]
    fn a_valid_token_yields_its_principal() {
        let token = issue_hs256(SECRET, &claims(60, "verdict")).unwrap();
        let principal = auth().authenticate(&token).unwrap();
        assert_eq!(principal.user_id.as_str(), "user-42");
        assert_eq!(principal.memberships.len(), 1);
    }

    #[test]
    fn a_verified_token_is_served_from_the_cache_while_its_window_lasts() {
        let auth = auth();
        let issued = claims(60, "verdict");
        let exp = u64::try_from(issued.exp).unwrap();
        let token = issue_hs256(SECRET, &issued).unwrap();
        assert_eq!(auth.authenticate(&token).unwrap().user_id.as_str(), "user-42");
        assert_eq!(auth.verified.len(), 1, "the verified token is kept");
        // Within the library's leeway of 5 s after `exp` the cached token still passes; after it,
        // it is refused and dropped from the cache, as the library would refuse it.
        assert_eq!(auth.authenticate_at(&token, exp + 5).unwrap().user_id.as_str(), "user-42");
        assert!(matches!(auth.authenticate_at(&token, exp + 6), Err(ApiError::Unauthenticated)));
        assert_eq!(auth.verified.len(), 0);
    }

    #[test]
    fn a_cached_token_is_refused_before_its_not_before() {
        let auth = auth();
        let mut issued = claims(60, "verdict");
        issued.nbf = chrono::Utc::now().timestamp() + 2;
        let nbf = u64::try_from(issued.nbf).unwrap();
        let token = issue_hs256(SECRET, &issued).unwrap();
        auth.authenticate(&token).unwrap();
        assert!(auth.authenticate_at(&token, nbf - 5).is_ok());
        assert!(matches!(auth.authenticate_at(&token, nbf - 6), Err(ApiError::Unauthenticated)));
    }

    #[test]
    fn only_the_exact_text_of_a_verified_token_is_trusted() {
        let auth = auth();
        let token = issue_hs256(SECRET, &claims(60, "verdict")).unwrap();
        auth.authenticate(&token).unwrap();
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{signed}.{flipped}{}", &signature[1..]);
        let other_key = issue_hs256(b"ffffffffffffffffffffffffffffffff", &claims(60, "verdict")).unwrap();
        for token in [tampered, other_key, format!("{token} ")] {
            assert!(matches!(auth.authenticate(&token), Err(ApiError::Unauthenticated)), "{token}");
        }
        assert_eq!(auth.verified.len(), 1, "refused tokens are never kept");
    }

    #[test]
    fn invalid_tokens_are_rejected() {
        let expired = issue_hs256(SECRET, &claims(-120, "verdict")).unwrap();
        let wrong_aud = issue_hs256(SECRET, &claims(60, "other")).unwrap();
        let other_key = issue_hs256(b"ffffffffffffffffffffffffffffffff", &claims(60, "verdict")).unwrap();
        for token in [expired.as_str(), &wrong_aud, &other_key, "garbage", ""] {
            assert!(matches!(auth().authenticate(token), Err(ApiError::Unauthenticated)), "{token}");
        }
    }

    #[test]
    fn alg_none_is_rejected_even_with_valid_claims() {
        // The payload is valid and unexpired: only the algorithm can make this token fail.
        let valid = issue_hs256(SECRET, &claims(60, "verdict")).unwrap();
        assert!(auth().authenticate(&valid).is_ok());
        let payload = valid.split('.').nth(1).unwrap();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        for alg_none in [format!("{none_header}.{payload}."), format!("{none_header}.{payload}.c2ln")] {
            assert!(matches!(auth().authenticate(&alg_none), Err(ApiError::Unauthenticated)), "{alg_none}");
        }
    }

    #[test]
    fn critical_header_extensions_are_rejected() {
        // Re-signing with the extended header: the signature is valid, only `crit` must fail it.
        let claims = claims(60, "verdict");
        for crit in [vec!["exp".to_owned()], vec!["b64".to_owned()], vec![]] {
            let mut header = Header::new(Algorithm::HS256);
            header.crit = Some(crit.clone());
            let token = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap();
            assert!(matches!(auth().authenticate(&token), Err(ApiError::Unauthenticated)), "crit {crit:?}");
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(
            Authenticator::new(&VerificationKey::Hs256(vec![1; 31]), None, None),
            Err(AuthConfigError::SecretTooShort)
        ));
    }

    #[test]
    fn issuer_is_checked_when_configured() {
        let auth = Authenticator::new(&VerificationKey::Hs256(SECRET.to_vec()), Some("host"), None).unwrap();
        let mut c = claims(60, "verdict");
        assert!(auth.authenticate(&issue_hs256(SECRET, &c).unwrap()).is_err(), "missing iss");
        c.iss = Some("host".into());
        assert!(auth.authenticate(&issue_hs256(SECRET, &c).unwrap()).is_ok());
        c.iss = Some("evil".into());
        assert!(auth.authenticate(&issue_hs256(SECRET, &c).unwrap()).is_err());
    }
}
