//! Microsoft Graph reads with an app-only token: `GET {graph}{path}` within the caller's
//! deadline, retried on a 503 or a failed connection (a GET is idempotent) and after throttling,
//! never on another 4xx.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::http::{Answer, RetryPolicy};
use super::{AccessToken, EntraClient, ProviderError, ProviderInfo, trimmed};

/// A successful Graph answer: status, safe pointers, and the parsed JSON body.
pub struct GraphResponse<T = Value> {
    /// The HTTP status (2xx).
    pub status: u16,
    /// The `request-id` and echoed `client-request-id`.
    pub info: ProviderInfo,
    /// The body; callers take ids and facts from it, never copy it anywhere.
    pub body: T,
}

impl<T> fmt::Debug for GraphResponse<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body stays out of every debug print: it may hold what a report must not.
        f.debug_struct("GraphResponse").field("status", &self.status).field("info", &self.info).finish_non_exhaustive()
    }
}

impl EntraClient {
    /// `GET {graph}{path_and_query}` with the token as bearer, the body parsed as JSON.
    ///
    /// # Errors
    /// [`ProviderError`]: `Refused` for 4xx (401/403 mean permission denied), `Throttled`,
    /// `Unavailable`, `Network` (also when `deadline` passes), or `InvalidResponse` when a 2xx
    /// body is not JSON or too large.
    pub async fn graph_get(
        &self,
        token: &AccessToken,
        path_and_query: &str,
        deadline: Instant,
    ) -> Result<GraphResponse, ProviderError> {
        self.graph_read(token, path_and_query, deadline).await
    }

    /// `GET {graph}{path_and_query}`, the body read as `T`.
    ///
    /// # Errors
    /// As [`Self::graph_get`]; `InvalidResponse` also when the JSON does not have `T`'s shape.
    pub(super) async fn graph_read<T: DeserializeOwned>(
        &self,
        token: &AccessToken,
        path_and_query: &str,
        deadline: Instant,
    ) -> Result<GraphResponse<T>, ProviderError> {
        let url = format!("{}{path_and_query}", trimmed(&self.config.graph));
        let answer: Answer = self
            .send("graph", RetryPolicy::ConnectFailureOr503, deadline, |http| {
                http.get(&url).bearer_auth(token.bearer()).header("accept", "application/json")
            })
            .await?
            .into_success()?;
        match serde_json::from_slice(answer.usable_body()?) {
            Ok(body) => Ok(GraphResponse { status: answer.status, info: answer.info, body }),
            Err(_) => Err(answer.unusable("the Graph response is not the expected JSON")),
        }
    }
}
