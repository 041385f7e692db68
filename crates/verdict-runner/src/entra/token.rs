//! The OAuth2 client-credentials token request and the decoding — not verification: Verdict is
//! the client — of the access token's `roles` and `tid` claims. The token itself lives only in a
//! [`SecretString`] and is never printed.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
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
    /// `POST {authority}/{directory}/oauth2/v2.0/token`. Retried once only when the connection
    /// could not be made (the request never left).
    ///
    /// # Errors
    /// [`ProviderError`]: `Refused` with the OAuth error, `AADSTS` code and correlation id when the
    /// endpoint rejects the request (`directory_not_found` set for AADSTS90002), `Throttled`,
    /// `Unavailable`, `Network`, or `InvalidResponse` when the token cannot be decoded.
    pub async fn acquire_token(
        &self,
        directory: &DirectoryId,
        client: &ClientId,
        secret: &ClientSecret,
    ) -> Result<AccessToken, ProviderError> {
        let url = format!("{}/{directory}/oauth2/v2.0/token", trimmed(&self.config.authority));
        let scope = format!("{}/.default", trimmed(&self.config.graph));
        let client_id = client.to_string();
        let answer = self
            .send("entra.token", RetryPolicy::ConnectFailure, |http| {
                http.post(&url).form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", client_id.as_str()),
                    ("client_secret", secret.expose()),
                    ("scope", scope.as_str()),
                ])
            })
            .await?;
        if (400..500).contains(&answer.status) && answer.status != 429 {
            let info = token_error_info(answer.info, &answer.body, answer.status);
            return Err(ProviderError::Refused { status: answer.status, info: Box::new(info) });
        }
        let answer = answer.into_success()?;
        let invalid =
            |what| ProviderError::InvalidResponse { status: answer.status, info: Box::new(answer.info.clone()), what };
        let success: TokenSuccess =
            serde_json::from_slice(&answer.body).map_err(|_| invalid("the token response is not the expected JSON"))?;
        AccessToken::decode(success.access_token).map_err(invalid)
    }
}

/// Keeps the codes and ids of a token error body and drops its free text.
fn token_error_info(mut info: ProviderInfo, body: &[u8], status: u16) -> ProviderInfo {
    let parsed: TokenErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let description = parsed.error_description.unwrap_or_default();
    let code = parsed.error_codes.first().map(|c| format!("AADSTS{c}")).or_else(|| aadsts_in(&description));
    let tenant_text = {
        let lower = description.to_ascii_lowercase();
        lower.contains("tenant") && lower.contains("not found")
    };
    info.directory_not_found = code.as_deref() == Some("AADSTS90002") || (status == 400 && tenant_text);
    info.aadsts_code = code;
    info.oauth_error =
        parsed.error.filter(|e| (1..=64).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    info.correlation_id = parsed.correlation_id.as_deref().and_then(safe_id);
    info
}

/// The first `AADSTS<digits>` in a text.
fn aadsts_in(text: &str) -> Option<String> {
    let start = text.find("AADSTS")?;
    let digits: String = text[start + 6..].chars().take_while(char::is_ascii_digit).take(10).collect();
    (!digits.is_empty()).then(|| format!("AADSTS{digits}"))
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
        let info = token_error_info(ProviderInfo::default(), body, 401);
        assert_eq!(info.aadsts_code.as_deref(), Some("AADSTS7000215"));
        assert_eq!(info.oauth_error.as_deref(), Some("invalid_client"));
        assert_eq!(info.correlation_id.as_deref(), Some("11111111-2222-3333-4444-555555555555"));
        assert!(!info.directory_not_found);

        let unknown = br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#;
        let info = token_error_info(ProviderInfo::default(), unknown, 400);
        assert_eq!(info.aadsts_code.as_deref(), Some("AADSTS90002"));
        assert!(info.directory_not_found);

        let garbage = token_error_info(ProviderInfo::default(), b"<html>oops</html>", 400);
        assert_eq!(garbage, ProviderInfo::default());
    }
}
