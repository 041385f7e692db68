//! Operations: request ids, the trace span with the matched route, Prometheus metrics, the
//! request deadline (503 instead of a hang), panics as opaque 500s, and the one place that logs
//! the cause of a server error.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, Response, StatusCode};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::error::{ApiError, FailureCause};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    status: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StartLabels {
    result: String,
}

/// The service's Prometheus metrics, in a registry of their own (no global state).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram, fn() -> Histogram>,
    starts: Family<StartLabels, Counter>,
    runs: Family<RunLabels, Gauge>,
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
        let mut registry = Registry::with_prefix("verdict");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        let starts = Family::<StartLabels, Counter>::default();
        let runs = Family::<RunLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests by method, matched route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", latency.clone());
        registry.register(
            "verification_starts",
            "Verification starts by result: pending (queued), blocked, deduplicated",
            starts.clone(),
        );
        registry.register("runs", "Runs by status and outcome, read from the database at scrape time", runs.clone());
        Self { registry, requests, latency, starts, runs }
    }
}

impl Metrics {
    /// A registry the caller can add its own metrics to before serving.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Counts a start by its result.
    pub fn run_started(&self, result: &str) {
        self.starts.get_or_create(&StartLabels { result: result.to_owned() }).inc();
    }

    /// Replaces the run gauges with a fresh tally.
    pub fn set_runs(&self, tally: &[verdict_core::ports::RunTally]) {
        self.runs.clear();
        for t in tally {
            let labels = RunLabels { status: t.status.as_str().to_owned(), outcome: t.outcome.as_str().to_owned() };
            self.runs.get_or_create(&labels).set(i64::try_from(t.count).unwrap_or(i64::MAX));
        }
    }

    fn observe(&self, labels: RequestLabels, elapsed: Duration) {
        self.latency.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            tracing::error!("could not encode metrics");
        }
        out
    }
}

/// Wraps the routes in the operational layers.
pub fn layers(router: Router<AppState>, state: AppState) -> Router<AppState> {
    let trace = TraceLayer::new_for_http().make_span_with(|request: &Request| {
        let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str);
        let request_id =
            request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", method = %request.method(), route, request_id)
    });
    router
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(middleware::from_fn_with_state(state, observe))
        .layer(CatchPanicLayer::custom(|_panic: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn deadline(State(state): State<AppState>, request: Request, next: Next) -> Response<axum::body::Body> {
    match tokio::time::timeout(state.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::Unavailable(anyhow::anyhow!("request exceeded {:?}", state.request_timeout)).into_response()
        }
    }
}

async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response<axum::body::Body> {
    let started = Instant::now();
    let method = request.method().to_string();
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status();
    if let Some(FailureCause(cause)) = response.extensions().get::<FailureCause>() {
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(status = status.as_u16(), error = %format!("{cause:#}"), "request failed: unavailable");
        } else {
            tracing::error!(status = status.as_u16(), error = %format!("{cause:#}"), "request failed");
        }
    }
    state.metrics.observe(RequestLabels { method, route, status: status.as_u16() }, started.elapsed());
    response
}
