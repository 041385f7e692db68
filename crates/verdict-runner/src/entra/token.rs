//! The OAuth2 client-credentials token request and the decoding — not verification: Verdict is
//! the client — of the access token's `roles` and `tid` claims. The token itself lives only in a
//! [`SecretString`] and is never printed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;
use verdict_core::domain::{ClientId, ClientSecret, DirectoryId};

use super::http::{RetryPolicy, safe_id};
use super::{EntraClient, ProviderError, ProviderInfo, trimmed};

/// The claims Verdict reads from an app-only access token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenClaims {
    /// The application roles (permissions) the token carries; empty without admin consent.
    pub roles: Vec<String>,
    /// The directory the token was issued for.
    pub tenant_id: Option<String>,
}

/// An app-only access token: the bearer value (secret) and its decoded claims.
pub struct AccessToken {
    value: SecretString,
    claims: TokenClaims,
}

impl AccessToken {
    /// Decodes a raw access token's payload (`header.payload.signature`, base64url JSON) without
    /// verifying it.
    ///
    /// # Errors
    /// A short description (never containing the token) when it is not a JWT with a JSON payload.
    pub fn decode(raw: String) -> Result<Self, &'static str> {
        #[derive(Deserialize)]
        struct Payload {
            #[serde(default)]
            roles: Vec<String>,
            tid: Option<String>,
        }
        let mut parts = raw.split('.');
        let (Some(_header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("the access token is not a JWT");
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| "the access token's payload is not base64url")?;
        let payload: Payload =
            serde_json::from_slice(&bytes).map_err(|_| "the access token's payload is not the expected JSON")?;
        Ok(Self {
            value: SecretString::from(raw),
            claims: TokenClaims { roles: payload.roles, tenant_id: payload.tid },
        })
    }

    /// The decoded claims.
    #[must_use]
    pub fn claims(&self) -> &TokenClaims {
        &self.claims
    }

    /// The bearer value, for the `Authorization` header only.
    pub(super) fn bearer(&self) -> &str {
        self.value.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &"[REDACTED]")
            .field("roles", &self.claims.roles.len())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenSuccess {
    access_token: String,
}

#[derive(Deserialize, Default)]
struct TokenErrorBody {
    error: Option<String>,
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<i64>,
    correlation_id: Option<String>,
}

impl EntraClient {
    /// Requests an app-only token for `{graph}/.default` with the client-credentials grant:
    /// `POST {authority}/{directory}/oauth2/v2.0/token`, giving up at `deadline`. Never cached:
    /// every run asks afresh, so a run after a consent sees it. Retried only when the connection
    /// could not be made (the request never left) or the endpoint throttled it.
    ///
    /// # Errors
    /// [`ProviderError`]: `Refused` with the OAuth error, `AADSTS` code and correlation id when the
    /// endpoint rejects the request, `Throttled`, `Unavailable`, `Network`, or `InvalidResponse`
    /// when the answer is not a decodable token.
    pub async fn acquire_token(
        &self,
        directory: &DirectoryId,
        client: &ClientId,
        secret: &ClientSecret,
        deadline: Instant,
    ) -> Result<AccessToken, ProviderError> {
        let url = format!("{}/{directory}/oauth2/v2.0/token", trimmed(&self.config.authority));
        let scope = format!("{}/.default", trimmed(&self.config.graph));
        let client_id = client.to_string();
        let answer = self
            .send("entra.token", RetryPolicy::ConnectFailure, deadline, |http| {
                http.post(&url).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.expose()),
                    ("scope", scope.as_str()),
                ])
            })
            .await?;
        if (400..500).contains(&answer.status) && answer.status != 429 {
            let info = token_error_info(answer.info, &answer.body);
            return Err(ProviderError::Refused { status: answer.status, info: Box::new(info) });
        }
        let answer = answer.into_success()?;
        let success: TokenSuccess = serde_json::from_slice(answer.usable_body()?)
            .map_err(|_| answer.unusable("the token response is not the expected JSON"))?;
        AccessToken::decode(success.access_token).map_err(|what| answer.unusable(what))
    }
}

/// Keeps the codes and ids of a token error body and drops its free text: the AADSTS number
/// comes from `error_codes`, or else from the `AADSTS<n>:` that starts `error_description`.
fn token_error_info(mut info: ProviderInfo, body: &[u8]) -> ProviderInfo {
    let parsed: TokenErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let from_codes = parsed.error_codes.first().and_then(|code| u32::try_from(*code).ok());
    info.aadsts = from_codes.or_else(|| parsed.error_description.as_deref().and_then(aadsts_prefix));
    info.oauth_error =
        parsed.error.filter(|e| (1..=64).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    info.correlation_id = parsed.correlation_id.as_deref().and_then(safe_id);
    info
}

/// The number of an `AADSTS<digits>:` prefix.
fn aadsts_prefix(description: &str) -> Option<u32> {
    let rest = description.trim_start().strip_prefix("AADSTS")?;
    let digits = rest.split(':').next()?;
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(payload))
    }

    #[test]
    fn roles_and_tenant_are_decoded_without_verification() {
        let token = AccessToken::decode(jwt(r#"{"roles":["Group.Read.All"],"tid":"abc","aud":"x"}"#)).unwrap();
        assert_eq!(token.claims().roles, ["Group.Read.All"]);
        assert_eq!(token.claims().tenant_id.as_deref(), Some("abc"));
        let none = AccessToken::decode(jwt(r#"{"tid":"abc"}"#)).unwrap();
        assert!(none.claims().roles.is_empty(), "no roles claim means no application roles");
        assert!(AccessToken::decode("opaque".to_owned()).is_err());
        assert!(AccessToken::decode("a.!!!.c".to_owned()).is_err());
        assert!(AccessToken::decode(jwt("[1]")).is_err());
    }

    #[test]
    fn the_token_never_prints() {
        let raw = jwt(r#"{"roles":[],"tid":"abc"}"#);
        let token = AccessToken::decode(raw.clone()).unwrap();
        assert!(!format!("{token:?}").contains(&raw));
    }

    #[test]
    fn token_errors_keep_codes_and_ids_only() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: x","error_codes":[7000215],"correlation_id":"11111111-2222-3333-4444-555555555555"}"#;
        let info = token_error_info(ProviderInfo::default(), body);
        assert_eq!(info.aadsts_code().as_deref(), Some("AADSTS7000215"));
        assert_eq!(info.oauth_error.as_deref(), Some("invalid_client"));
        assert_eq!(info.correlation_id.as_deref(), Some("11111111-2222-3333-4444-555555555555"));

        let garbage = token_error_info(ProviderInfo::default(), b"<html>oops</html>");
        assert_eq!(garbage, ProviderInfo::default());
    }

    #[test]
    fn the_code_comes_from_error_codes_or_else_the_description_prefix() {
        let prefix_only = br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#;
        assert_eq!(token_error_info(ProviderInfo::default(), prefix_only).aadsts, Some(90002));
        let both = br#"{"error_description":"AADSTS1: x","error_codes":[53003,1]}"#;
        assert_eq!(token_error_info(ProviderInfo::default(), both).aadsts, Some(53003), "error_codes win");
        for description in ["Something AADSTS7000222: later in the text", "AADSTS: none", "AADSTSabc: x", ""] {
            let body = serde_json::json!({"error_description": description}).to_string();
            assert_eq!(token_error_info(ProviderInfo::default(), body.as_bytes()).aadsts, None, "{description}");
        }
        let out_of_range = br#"{"error_codes":[-5]}"#;
        assert_eq!(token_error_info(ProviderInfo::default(), out_of_range).aadsts, None);
    }
}
