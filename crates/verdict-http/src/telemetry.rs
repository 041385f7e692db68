//! Operations: request ids, the trace span with the matched route, Prometheus metrics, the
//! request deadline (503 instead of a hang), panics as opaque 500s, and the one place that logs
//! the cause of a server error.
//!
//! Every label a client can influence comes from a closed set (docs/architecture.md, "Closed
//! sets at the edges"): the method is one of the standard ones or `other`, the route is the
//! matched template or `unmatched`, and a request id is kept only when it is a short safe token.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use futures::FutureExt as _;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument as _;
use verdict_core::domain::{AttemptResult, DeliveryState, WebhookEventType};
use verdict_core::ports::{ContinuousObserver, QueueDepth, ScheduledStart};

use crate::AppState;
use crate::error::{ApiError, FailureCause};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// How often the queue-depth gauges are read from the database, at most, by default: a scrape
/// never costs more than one query bounded by the queue, however often it comes.
pub const QUEUE_DEPTH_REFRESH: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StartLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    event_type: &'static str,
    result: &'static str,
}

/// The service's Prometheus metrics, in a registry of their own (no global state).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    starts: Family<StartLabels, Counter>,
    runs: Family<StatusLabels, Gauge>,
    runs_read_at: Mutex<Option<Instant>>,
    runs_refresh: Duration,
    deliveries: Family<DeliveryLabels, Counter>,
    outbox: Gauge,
    schedule_lag: Histogram,
    scheduled_starts: Family<StartLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(QUEUE_DEPTH_REFRESH)
    }
}

impl Metrics {
    /// Metrics whose queue-depth gauges are read at most every `queue_depth_refresh`.
    #[must_use]
    pub fn new(queue_depth_refresh: Duration) -> Self {
        let mut registry = Registry::with_prefix("verdict");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let starts = Family::<StartLabels, Counter>::default();
        let runs = Family::<StatusLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests by method, matched route and status", requests.clone());
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method, matched route and status",
            latency.clone(),
        );
        registry.register(
            "verification_starts",
            "Verification starts by result: pending (queued), blocked, deduplicated",
            starts.clone(),
        );
        registry.register("runs", "Active runs by status (queued, running), read at most every 5 s", runs.clone());
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by event type and result (delivered, retrying, failed)",
            deliveries.clone(),
        );
        let outbox = Gauge::default();
        registry.register(
            "webhook_outbox",
            "Pending webhook deliveries (the outbox depth), read at most every 5 s",
            outbox.clone(),
        );
        // From half a second to about four and a half hours past due.
        let schedule_lag = Histogram::new(exponential_buckets(0.5, 2.0, 16));
        registry.register(
            "schedule_lag_seconds",
            "How long past its due time a scheduled verification was started",
            schedule_lag.clone(),
        );
        let scheduled_starts = Family::<StartLabels, Counter>::default();
        registry.register(
            "scheduled_starts",
            "Verifications started by schedules, by result (created, deduplicated, failed)",
            scheduled_starts.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            starts,
            runs,
            runs_read_at: Mutex::new(None),
            runs_refresh: queue_depth_refresh,
            deliveries,
            outbox,
            schedule_lag,
            scheduled_starts,
        }
    }
}

/// The `method` label: a standard method, or `other` — never a client's made-up name.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    /// A registry the caller can add its own metrics to before serving.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Counts a start by its result.
    pub fn run_started(&self, result: &'static str) {
        self.starts.get_or_create(&StartLabels { result }).inc();
    }

    /// Whether the queue-depth gauges are due for a read (and, if so, claims the read, so
    /// concurrent scrapes query once).
    fn queue_depth_due(&self) -> bool {
        let mut read_at = self.runs_read_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = read_at.is_none_or(|at| at.elapsed() >= self.runs_refresh);
        if due {
            *read_at = Some(Instant::now());
        }
        due
    }

    /// Sets the queue-depth gauges.
    pub fn set_queue_depth(&self, depth: QueueDepth) {
        for (status, count) in [("queued", depth.queued), ("running", depth.running)] {
            self.runs.get_or_create(&StatusLabels { status }).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    fn observe(&self, labels: RequestLabels, elapsed: Duration) {
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text.
    #[must_use]
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("could not encode metrics");
        }
        out
    }

    /// The Prometheus text format 0.0.4, for scrapers and tools that ask for `text/plain`.
    #[must_use]
    pub fn render_prometheus(&self) -> String {
        openmetrics_to_prometheus(&self.render_openmetrics())
    }

    /// Sets the outbox-depth gauge.
    pub fn set_outbox_depth(&self, pending: u64) {
        self.outbox.set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    /// Refreshes the queue-depth and outbox-depth gauges when due (each one bounded query).
    pub async fn refresh_queue_depth(&self, state: &AppState) {
        if !self.queue_depth_due() {
            return;
        }
        match tokio::time::timeout(state.limits.readiness_timeout, state.verifications.queue_depth()).await {
            Ok(Ok(depth)) => self.set_queue_depth(depth),
            Ok(Err(error)) => tracing::warn!(error = %error, "queue depth unavailable"),
            Err(_) => tracing::warn!("reading the queue depth timed out"),
        }
        match tokio::time::timeout(state.limits.readiness_timeout, state.webhooks.outbox_depth()).await {
            Ok(Ok(pending)) => self.set_outbox_depth(pending),
            Ok(Err(error)) => tracing::warn!(error = %error, "outbox depth unavailable"),
            Err(_) => tracing::warn!("reading the outbox depth timed out"),
        }
    }
}

/// What the scheduler and the dispatcher of this process report, as metrics. Labels come from
/// closed sets: the four event types, three results.
impl ContinuousObserver for Metrics {
    fn schedule_fired(&self, lag: chrono::Duration, result: ScheduledStart) {
        #[allow(clippy::cast_precision_loss)] // milliseconds of lag: far inside f64's exact range
        self.schedule_lag.observe(lag.num_milliseconds().max(0) as f64 / 1000.0);
        self.scheduled_starts.get_or_create(&StartLabels { result: result.as_str() }).inc();
    }

    fn delivery_attempted(&self, event_type: WebhookEventType, _result: AttemptResult, state: DeliveryState) {
        let result = match state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending => "retrying",
            DeliveryState::Failed => "failed",
        };
        self.deliveries.get_or_create(&DeliveryLabels { event_type: event_type.as_str(), result }).inc();
    }
}

/// Converts the OpenMetrics text this registry writes into the Prometheus text format 0.0.4:
/// a counter's metadata names its `_total` samples, and `# UNIT` and `# EOF` lines go. Only this
/// registry's own output is converted, so the closed set of shapes it writes is all there is.
fn openmetrics_to_prometheus(openmetrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in openmetrics.lines() {
        if let Some(name) = line.strip_prefix("# TYPE ").and_then(|rest| rest.strip_suffix(" counter")) {
            counters.insert(name.to_owned());
        }
    }
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Wraps the routes in [`edge`], the one layer every request passes through.
pub fn layers(router: Router<AppState>, state: AppState) -> Router<AppState> {
    router.layer(middleware::from_fn_with_state(state, edge))
}

/// The operational rules of every request, in one layer rather than a stack of seven (each its
/// own service and future around the next, docs/benchmarks.md, "The writes"), in this order:
///
/// 1. the request id: a client's one short safe `X-Request-Id` is kept, anything else is
///    replaced by a fresh UUID, and the id is echoed on the response;
/// 2. the `request` span with the method, the matched route and the request id, around all
///    that follows, so every line logged for the request carries them;
/// 3. the checks of the request line and headers ([`crate::refused_at_edge`]);
/// 4. the handler, under the request deadline (503 instead of a hang), with a panic answered as
///    an opaque 500;
/// 5. the one log line of a server error's cause, and the metrics, for every answer above.
async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(request.headers());
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let span =
        tracing::info_span!("request", method, route = route.as_str(), request_id = request_id.to_str().unwrap_or("-"));
    let mut response = answer(&state, request, next).instrument(span).await;
    let status = response.status().as_u16();
    response.headers_mut().entry(REQUEST_ID).or_insert(request_id);
    state.metrics.observe(RequestLabels { method, route, status }, started.elapsed());
    response
}

/// Steps 3 to 5 of [`edge`], inside the request's span.
async fn answer(state: &AppState, request: Request, next: Next) -> Response<Body> {
    if let Some(refused) = crate::refused_at_edge(&request) {
        return refused.into_response();
    }
    let limit = state.limits.request_timeout;
    let handled = AssertUnwindSafe(next.run(request)).catch_unwind();
    let response = match tokio::time::timeout(limit, handled).await {
        Ok(Ok(response)) => response,
        Ok(Err(_panic)) => ApiError::Internal(anyhow::anyhow!("a request handler panicked")).into_response(),
        Err(_) => ApiError::Unavailable(anyhow::anyhow!("request exceeded {limit:?}")).into_response(),
    };
    let status = response.status();
    match response.extensions().get::<FailureCause>() {
        Some(FailureCause(cause)) if status == StatusCode::SERVICE_UNAVAILABLE => {
            tracing::warn!(status = status.as_u16(), error = %format!("{cause:#}"), "request failed: unavailable");
        }
        Some(FailureCause(cause)) => {
            tracing::error!(status = status.as_u16(), error = %format!("{cause:#}"), "request failed");
        }
        None if status.is_server_error() => tracing::error!(status = status.as_u16(), "request failed"),
        None => tracing::debug!(status = status.as_u16(), "answered"),
    }
    response
}

/// The request's id: the client's when it sent exactly one and it is safe, else a fresh UUID.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    let mut given = headers.get_all(&REQUEST_ID).iter();
    if let (Some(id), None) = (given.next(), given.next())
        && is_safe_request_id(id)
    {
        return id.clone();
    }
    let mut text = uuid::Uuid::encode_buffer();
    let fresh = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(fresh).unwrap_or(HeaderValue::from_static("-"))
}

/// Whether a client's request id may be kept: at most 64 characters of `[A-Za-z0-9._-]`, so
/// arbitrary text is never echoed into logs and responses.
fn is_safe_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scrape never scans the runs table: the queue depth (an index read
    /// of the active runs) is read by the first scrape of each interval and served from the
    /// gauges to every other one, however often `/metrics` is scraped.
    #[test]
    fn scrapes_read_the_queue_depth_at_most_once_per_interval() {
        let metrics = Metrics::new(Duration::from_secs(3600));
        assert!(metrics.queue_depth_due(), "the first scrape reads the queue depth");
        for _ in 0..1000 {
            assert!(!metrics.queue_depth_due(), "scrapes within the interval use the gauges");
        }
        let always = Metrics::new(Duration::ZERO);
        assert!(always.queue_depth_due() && always.queue_depth_due(), "an interval of zero reads every time");
    }

    #[test]
    fn made_up_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        for name in ["FOO1", "FOO2", "PROPFIND", "get"] {
            assert_eq!(method_label(&Method::from_bytes(name.as_bytes()).unwrap()), "other", "{name}");
        }
    }

    #[test]
    fn only_short_safe_request_ids_are_kept() {
        for ok in ["abc", "a.b_c-D9", &"x".repeat(64)] {
            assert!(is_safe_request_id(&HeaderValue::from_str(ok).unwrap()), "{ok}");
        }
        for bad in [&"x".repeat(65), "a b", "a/b", "ünï", "a\tb", ""] {
            let value = HeaderValue::from_bytes(bad.as_bytes()).unwrap();
            assert!(!is_safe_request_id(&value), "{bad:?}");
        }
    }

    #[test]
    fn counters_are_named_by_their_samples_in_the_prometheus_format() {
        let metrics = Metrics::default();
        metrics.run_started("pending");
        metrics.set_queue_depth(QueueDepth { queued: 2, running: 1 });
        let text = metrics.render_prometheus();
        assert!(text.contains("# HELP verdict_verification_starts_total "), "{text}");
        assert!(text.contains("# TYPE verdict_verification_starts_total counter"), "{text}");
        assert!(text.contains("verdict_verification_starts_total{result=\"pending\"} 1"), "{text}");
        assert!(text.contains("verdict_runs{status=\"queued\"} 2"), "{text}");
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
        assert!(metrics.render_openmetrics().ends_with("# EOF\n"));
    }

    #[test]
    fn continuous_verification_is_observed_with_closed_labels() {
        let metrics = Metrics::default();
        metrics.schedule_fired(chrono::Duration::seconds(3), ScheduledStart::Created);
        metrics.delivery_attempted(WebhookEventType::Regressed, AttemptResult::Status(500), DeliveryState::Pending);
        metrics.delivery_attempted(WebhookEventType::Regressed, AttemptResult::Status(200), DeliveryState::Delivered);
        metrics.set_outbox_depth(4);
        let text = metrics.render_prometheus();
        assert!(text.contains("verdict_scheduled_starts_total{result=\"created\"} 1"), "{text}");
        assert!(text.contains("verdict_schedule_lag_seconds_count 1"), "{text}");
        assert!(
            text.contains(
                "verdict_webhook_deliveries_total{event_type=\"verification.regressed\",result=\"retrying\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "verdict_webhook_deliveries_total{event_type=\"verification.regressed\",result=\"delivered\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("verdict_webhook_outbox 4"), "{text}");
    }
}
