//! One provider request: a fresh `client-request-id`, the single retry that is safe to make, a
//! bounded body, and the safe pointers of the answer. Nothing here logs a header value other than
//! request ids, nor any body.

use std::time::Instant;

use reqwest::header::HeaderMap;

use super::{EntraClient, NetworkFailure, ProviderError, ProviderInfo};
use crate::ErrorChain;

/// Largest body read from a provider; Verdict needs only a few hundred bytes of any answer.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Which failures a request may be repeated after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RetryPolicy {
    /// Only when the connection could not be made: the request never left, so any method is safe.
    ConnectFailure,
    /// Also after a 503, for idempotent GETs.
    ConnectFailureOr503,
}

/// An HTTP answer: status, safe pointers, and the (bounded) body for the caller to parse.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub info: ProviderInfo,
    pub body: Vec<u8>,
}

impl Answer {
    /// Throttling, outages and refusals as errors; any 2xx as the answer itself.
    pub fn into_success(self) -> Result<Self, ProviderError> {
        match self.status {
            200..=299 => Ok(self),
            429 => Err(ProviderError::Throttled { info: Box::new(self.info) }),
            500..=599 => Err(ProviderError::Unavailable { status: self.status, info: Box::new(self.info) }),
            status => Err(ProviderError::Refused { status, info: Box::new(self.info) }),
        }
    }
}

impl EntraClient {
    /// Sends the request `build` makes, at most twice (see [`RetryPolicy`]).
    pub(super) async fn send(
        &self,
        endpoint: &'static str,
        policy: RetryPolicy,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        let mut attempt = 1;
        loop {
            let client_request_id = uuid::Uuid::now_v7().to_string();
            let started = Instant::now();
            let sent = build(&self.http)
                .header("client-request-id", &client_request_id)
                .header("return-client-request-id", "true")
                .send()
                .await;
            let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let retry = attempt == 1;
            match sent {
                Err(error) => {
                    let failure = network_failure(&error);
                    tracing::debug!(endpoint, attempt, %client_request_id, elapsed_ms, %failure, error = %ErrorChain(&error.without_url()), "provider request failed");
                    if retry && failure == NetworkFailure::Connect {
                        attempt += 1;
                        tokio::time::sleep(self.config.retry_delay).await;
                        continue;
                    }
                    return Err(ProviderError::Network(failure));
                }
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let mut info = info_from_headers(response.headers());
                    info.client_request_id.get_or_insert(client_request_id);
                    tracing::debug!(
                        endpoint,
                        attempt,
                        status,
                        request_id = info.request_id.as_deref(),
                        client_request_id = info.client_request_id.as_deref(),
                        elapsed_ms,
                        "provider answered"
                    );
                    if retry && status == 503 && policy == RetryPolicy::ConnectFailureOr503 {
                        attempt += 1;
                        tokio::time::sleep(self.config.retry_delay).await;
                        continue;
                    }
                    let mut body = Vec::new();
                    loop {
                        match response.chunk().await {
                            Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_BODY_BYTES => {
                                body.extend_from_slice(&chunk);
                            }
                            // An oversized body is cut; its parse then fails as unusable.
                            Ok(Some(_) | None) => break,
                            Err(error) => {
                                let failure = network_failure(&error);
                                tracing::debug!(endpoint, status, %failure, error = %ErrorChain(&error.without_url()), "provider body could not be read");
                                return Err(ProviderError::Network(failure));
                            }
                        }
                    }
                    return Ok(Answer { status, info, body });
                }
            }
        }
    }
}

fn network_failure(error: &reqwest::Error) -> NetworkFailure {
    if error.is_timeout() {
        NetworkFailure::Timeout
    } else if error.is_connect() {
        NetworkFailure::Connect
    } else {
        NetworkFailure::Other
    }
}

fn info_from_headers(headers: &HeaderMap) -> ProviderInfo {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).and_then(safe_id);
    ProviderInfo {
        request_id: header("request-id").or_else(|| header("x-ms-request-id")),
        client_request_id: header("client-request-id"),
        ..ProviderInfo::default()
    }
}

/// A request or correlation id as providers write them (GUIDs, hex, dashes); anything else is
/// not kept, so no free text can pass for an id.
pub(super) fn safe_id(value: &str) -> Option<String> {
    let ok = (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_id_shaped_values_are_kept() {
        assert_eq!(
            safe_id("6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f").as_deref(),
            Some("6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f")
        );
        assert_eq!(safe_id("Bearer abc"), None);
        assert_eq!(safe_id(""), None);
        assert_eq!(safe_id(&"a".repeat(65)), None);
        assert_eq!(safe_id("a=b"), None);
    }

    #[test]
    fn statuses_map_to_the_outcome_classes() {
        let answer = |status| Answer { status, info: ProviderInfo::default(), body: Vec::new() };
        assert!(answer(200).into_success().is_ok());
        assert!(matches!(answer(429).into_success(), Err(ProviderError::Throttled { .. })));
        assert!(matches!(answer(503).into_success(), Err(ProviderError::Unavailable { status: 503, .. })));
        assert!(matches!(answer(403).into_success(), Err(ProviderError::Refused { status: 403, .. })));
    }
}
