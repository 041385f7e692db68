//! Microsoft Graph reads with an app-only token: `GET {graph}{path}`, retried once on a 503 or a
//! failed connection (a GET is idempotent), never on a 4xx.

use serde_json::Value;

use super::http::RetryPolicy;
use super::{AccessToken, EntraClient, ProviderError, ProviderInfo, trimmed};

/// A successful Graph answer: status, safe pointers, and the parsed JSON body.
#[derive(Debug)]
pub struct GraphResponse {
    /// The HTTP status (2xx).
    pub status: u16,
    /// The `request-id` and echoed `client-request-id`.
    pub info: ProviderInfo,
    /// The JSON body; callers take ids from it, never copy it anywhere.
    pub body: Value,
}

impl EntraClient {
    /// `GET {graph}{path_and_query}` with the token as bearer.
    ///
    /// # Errors
    /// [`ProviderError`]: `Refused` for 4xx (401/403 mean permission denied), `Throttled`,
    /// `Unavailable`, `Network`, or `InvalidResponse` when a 2xx body is not JSON.
    pub async fn graph_get(&self, token: &AccessToken, path_and_query: &str) -> Result<GraphResponse, ProviderError> {
        let url = format!("{}{path_and_query}", trimmed(&self.config.graph));
        let answer = self
            .send("graph", RetryPolicy::ConnectFailureOr503, |http| {
                http.get(&url).bearer_auth(token.bearer()).header("accept", "application/json")
            })
            .await?
            .into_success()?;
        match serde_json::from_slice(&answer.body) {
            Ok(body) => Ok(GraphResponse { status: answer.status, info: answer.info, body }),
            Err(_) => Err(ProviderError::InvalidResponse {
                status: answer.status,
                info: Box::new(answer.info),
                what: "the Graph response is not JSON",
            }),
        }
    }
}
