//! One provider call: a fresh `client-request-id` per attempt, the retries that are safe to make
//! (a connection that never left, a 503 of a GET, throttling waited out as the provider asks
//! within the deadline), a bounded body, the deadline of the check over all of it, and the safe
//! pointers of the answer. Nothing here logs a header value other than request ids, nor any body.

use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::{EntraClient, NetworkFailure, ProviderError, ProviderInfo};
use crate::ErrorChain;

/// Largest body read from a provider; Verdict needs a few kilobytes of any answer. A longer body
/// is not read further (memory stays bounded whatever the provider sends) and is unusable.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The longest `Retry-After` that is waited out (docs/contract.md#provider-flow); a longer one ends the call as
/// throttled at once.
pub const MAX_WAITED_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How many times one call waits out throttling before it reports it (docs/contract.md#provider-flow).
pub const MAX_THROTTLE_RETRIES: u32 = 2;

/// Which failures a request may be repeated after, besides throttling (always safe: the
/// provider did not act on a throttled request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RetryPolicy {
    /// Only when the connection could not be made: the request never left, so any method is safe.
    ConnectFailure,
    /// Also after a 503 without `Retry-After`, for idempotent GETs.
    ConnectFailureOr503,
}

/// An HTTP answer: status, safe pointers, and the (bounded) body for the caller to parse.
#[derive(Debug)]
pub(super) struct Answer {
    pub status: u16,
    pub info: ProviderInfo,
    pub retry_after_seconds: Option<u64>,
    pub body: Vec<u8>,
}

impl Answer {
    /// Throttling, outages and refusals as errors; any 2xx as the answer itself.
    pub fn into_success(self) -> Result<Self, ProviderError> {
        let info = Box::new(self.info.clone());
        match self.status {
            200..=299 => Ok(self),
            429 => Err(ProviderError::Throttled { status: 429, retry_after_seconds: self.retry_after_seconds, info }),
            503 if self.retry_after_seconds.is_some() => {
                Err(ProviderError::Throttled { status: 503, retry_after_seconds: self.retry_after_seconds, info })
            }
            500..=599 => Err(ProviderError::Unavailable { status: self.status, info }),
            status => Err(ProviderError::Refused { status, info }),
        }
    }

    /// The body, unless the provider sent more than [`MAX_BODY_BYTES`].
    pub fn usable_body(&self) -> Result<&[u8], ProviderError> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(self.unusable("the answer is larger than 1 MiB"));
        }
        Ok(&self.body)
    }

    /// The error for a success status whose body is not the expected answer.
    pub fn unusable(&self, what: &'static str) -> ProviderError {
        ProviderError::InvalidResponse { status: self.status, info: Box::new(self.info.clone()), what }
    }
}

/// What one attempt came to.
enum Attempt {
    Answered(Answer),
    Failed(NetworkFailure),
}

impl EntraClient {
    /// Sends the request `build` makes until it is answered, retrying as [`RetryPolicy`] and
    /// throttling allow, and gives up at `deadline` with [`NetworkFailure::Timeout`].
    pub(super) async fn send(
        &self,
        endpoint: &'static str,
        policy: RetryPolicy,
        deadline: Instant,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        match tokio::time::timeout_at(deadline, self.send_with_retries(endpoint, policy, deadline, build)).await {
            Ok(result) => result,
            Err(_) => {
                tracing::debug!(endpoint, "provider call reached the check's deadline");
                Err(ProviderError::Network(NetworkFailure::Timeout))
            }
        }
    }

    async fn send_with_retries(
        &self,
        endpoint: &'static str,
        policy: RetryPolicy,
        deadline: Instant,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, ProviderError> {
        let mut attempt = 0_u32;
        let mut retried_failure = false;
        let mut throttle_retries = 0_u32;
        loop {
            attempt += 1;
            let answer = match self.attempt(endpoint, attempt, &build).await {
                Attempt::Failed(failure) => {
                    if failure == NetworkFailure::Connect && !retried_failure {
                        retried_failure = true;
                        tokio::time::sleep(self.config.retry_delay).await;
                        continue;
                    }
                    return Err(ProviderError::Network(failure));
                }
                Attempt::Answered(answer) => answer,
            };
            let throttled = answer.status == 429 || (answer.status == 503 && answer.retry_after_seconds.is_some());
            if throttled {
                let wait = answer.retry_after_seconds.map(Duration::from_secs);
                let worth_waiting = wait.filter(|wait| {
                    *wait <= MAX_WAITED_RETRY_AFTER
                        && throttle_retries < MAX_THROTTLE_RETRIES
                        && Instant::now() + *wait < deadline
                });
                if let Some(wait) = worth_waiting {
                    throttle_retries += 1;
                    tracing::debug!(endpoint, attempt, wait_ms = wait.as_millis(), "waiting out provider throttling");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Ok(answer);
            }
            if answer.status == 503 && policy == RetryPolicy::ConnectFailureOr503 && !retried_failure {
                retried_failure = true;
                tokio::time::sleep(self.config.retry_delay).await;
                continue;
            }
            return Ok(answer);
        }
    }

    /// One request and its (capped) body.
    async fn attempt(
        &self,
        endpoint: &'static str,
        attempt: u32,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Attempt {
        let client_request_id = uuid::Uuid::now_v7().to_string();
        let started = Instant::now();
        let sent = build(&self.http)
            .header("client-request-id", &client_request_id)
            .header("return-client-request-id", "true")
            .send()
            .await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                let failure = network_failure(&error);
                tracing::debug!(endpoint, attempt, %client_request_id, elapsed_ms, %failure, error = %ErrorChain(&error.without_url()), "provider request failed");
                return Attempt::Failed(failure);
            }
        };
        let status = response.status().as_u16();
        let mut info = info_from_headers(response.headers());
        info.client_request_id.get_or_insert(client_request_id);
        let retry_after_seconds = retry_after(response.headers());
        tracing::debug!(
            endpoint,
            attempt,
            status,
            request_id = info.request_id.as_deref(),
            client_request_id = info.client_request_id.as_deref(),
            retry_after_seconds,
            elapsed_ms,
            "provider answered"
        );
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    body.extend_from_slice(&chunk[..chunk.len().min(MAX_BODY_BYTES + 1 - body.len())]);
                    // One byte over the cap marks the body as oversized; the rest is never read
                    // and the connection is dropped with the response.
                    if body.len() > MAX_BODY_BYTES {
                        tracing::debug!(endpoint, status, "provider answer exceeds the body cap; not read further");
                        break;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    let failure = network_failure(&error);
                    tracing::debug!(endpoint, status, %failure, error = %ErrorChain(&error.without_url()), "provider body could not be read");
                    return Attempt::Failed(failure);
                }
            }
        }
        Attempt::Answered(Answer { status, info, retry_after_seconds, body })
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

/// `Retry-After` in whole seconds: delta-seconds, or an HTTP date (counted from now, never
/// negative). Anything else is ignored.
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let seconds = (at.to_utc() - chrono::Utc::now()).num_seconds();
    Some(u64::try_from(seconds).unwrap_or(0))
}

/// A request or correlation id as Entra and Graph write them: a GUID. Anything else — a hash, an
/// access key, free text — is not kept, so nothing but an id can pass for one (docs/contract.md#evidence-safety).
pub(super) fn safe_id(value: &str) -> Option<String> {
    let guid = value.len() == 36 && uuid::Uuid::try_parse(value).is_ok();
    guid.then(|| value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

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
    fn only_guids_pass_as_provider_ids() {
        for bogus in [
            "7f019947e0e90264e9b4f196d9ede0c7d5a9cde543b188c77dc9c952f14051f4",
            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "AKIAIOSFODNN7EXAMPLE",
            "6f1c9b6e3c4a4c1e9f5e0a1b2c3d4e5f",
            "6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f-extra",
        ] {
            assert_eq!(safe_id(bogus), None, "{bogus}");
        }
        assert!(safe_id("6F1C9B6E-3C4A-4C1E-9F5E-0A1B2C3D4E5F").is_some(), "either case");
    }

    #[test]
    fn statuses_map_to_the_outcome_classes() {
        let answer = |status, retry_after_seconds| Answer {
            status,
            info: ProviderInfo::default(),
            retry_after_seconds,
            body: Vec::new(),
        };
        assert!(answer(200, None).into_success().is_ok());
        assert!(matches!(
            answer(429, Some(3)).into_success(),
            Err(ProviderError::Throttled { status: 429, retry_after_seconds: Some(3), .. })
        ));
        assert!(matches!(answer(503, Some(60)).into_success(), Err(ProviderError::Throttled { status: 503, .. })));
        assert!(matches!(answer(503, None).into_success(), Err(ProviderError::Unavailable { status: 503, .. })));
        assert!(matches!(answer(403, None).into_success(), Err(ProviderError::Refused { status: 403, .. })));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("retry-after", HeaderValue::from_str(value).unwrap());
            headers
        };
        assert_eq!(retry_after(&headers("7")), Some(7));
        assert_eq!(retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT")), Some(0), "a past date means now");
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        assert!(retry_after(&headers(&soon)).is_some_and(|s| (100..=120).contains(&s)));
        assert_eq!(retry_after(&headers("soon")), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn an_oversized_body_is_unusable() {
        let answer = Answer {
            status: 200,
            info: ProviderInfo::default(),
            retry_after_seconds: None,
            body: vec![b' '; MAX_BODY_BYTES + 1],
        };
        assert!(matches!(answer.usable_body(), Err(ProviderError::InvalidResponse { status: 200, .. })));
    }
}
