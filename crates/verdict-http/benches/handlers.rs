//! Verdict's own CPU per request, without a socket and without a database (docs/benchmarks.md,
//! "Verdict's own work"): the router over the in-memory store, driven by `oneshot` on one thread,
//! timed by the thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`), so that another process on
//! the machine does not count.
//!
//! Each request's figure has two parts taken off: `GET /healthz` through the same router (the
//! middleware every request pays, which the HTTP benchmark's floor line already counts), and the
//! in-memory store's own calls for that request, timed alone (a real store's driver is counted by
//! the adapter benchmarks). What is left is the work of Verdict's code proper: the token checked,
//! the request authorized and parsed, the domain's rules, the response built and serialized. No
//! tracing subscriber is installed, so the spans cost nothing here; the server's figure is higher.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use verdict_core::crypto::Aes256GcmCipher;
use verdict_core::domain::{PageLimit, RunId, RunListQuery, TenantId, WorkspaceId};
use verdict_core::fakes::InMemoryStore;
use verdict_core::flows::FlowCatalog;
use verdict_core::ports::{NoQueueNotifier, RunStore as _};
use verdict_core::services::Ports;
use verdict_http::auth::{Authenticator, IssuedClaims, VerificationKey, issue_hs256};
use verdict_http::telemetry::Metrics;
use verdict_http::{AppState, HttpLimits, Readiness, router};

const SECRET: &[u8] = b"benchmark-secret-benchmark-secret-0001";
/// Runs in the listed tenant: a page of 50 and more.
const RUNS: usize = 200;
/// Timed rounds per measurement; the least is reported (the one the machine disturbed least).
const ROUNDS: usize = 7;
/// Requests per round.
const PER_ROUND: u64 = 2_000;
/// Blocked starts per round, each round on an empty store.
const STARTS: u64 = 500;

struct Ready;

#[async_trait]
impl Readiness for Ready {
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// This thread's CPU time so far, in nanoseconds.
fn thread_cpu_ns() -> u128 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u128::try_from(now.tv_sec).unwrap() * 1_000_000_000 + u128::try_from(now.tv_nsec).unwrap()
}

/// The least CPU microseconds per call of `call` over [`ROUNDS`] rounds of `per_round`.
async fn per_call<F, Fut>(per_round: u64, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut best = f64::MAX;
    for round in 0..ROUNDS {
        let warm_up = if round == 0 { per_round / 4 } else { 0 };
        best = best.min(timed(warm_up, per_round, &mut call).await);
    }
    best
}

/// CPU microseconds per call of `call` over `count` calls, after `warm_up` untimed ones.
async fn timed<F, Fut>(warm_up: u64, count: u64, mut call: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..warm_up {
        call().await;
    }
    let start = thread_cpu_ns();
    for _ in 0..count {
        call().await;
    }
    #[allow(clippy::cast_precision_loss)]
    let micros = (thread_cpu_ns() - start) as f64 / 1_000.0 / count as f64;
    micros
}

struct Api {
    router: axum::Router,
    store: InMemoryStore,
    token: String,
}

impl Api {
    fn new() -> Self {
        let store = InMemoryStore::new();
        let ports = Ports::over(
            &store,
            Arc::new(Aes256GcmCipher::new(&Aes256GcmCipher::generate_key()).unwrap()),
            Arc::new(FlowCatalog::builtin().unwrap()),
            Arc::new(NoQueueNotifier),
        );
        let auth = Authenticator::new(&VerificationKey::Hs256(SECRET.to_vec()), None, None).unwrap();
        let metrics = Arc::new(Metrics::new(std::time::Duration::ZERO));
        let state = AppState::new(ports, auth, Arc::new(Ready), metrics, HttpLimits::default());
        let now = chrono::Utc::now().timestamp();
        let capabilities = ["verification.start", "verification.acknowledge", "audit.read"];
        let claims = IssuedClaims {
            sub: "benchmark".into(),
            exp: now + 3_600,
            nbf: now - 5,
            aud: "verdict".into(),
            iss: None,
            memberships: json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": capabilities}]),
        };
        Self { router: router(state), store, token: issue_hs256(SECRET, &claims).unwrap() }
    }

    async fn send(&self, method: Method, uri: &str, body: Option<String>, expect: StatusCode) -> Vec<u8> {
        let builder =
            Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        let request = match body {
            Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body)),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        assert_eq!(status, expect, "{uri}: {}", String::from_utf8_lossy(&bytes));
        bytes
    }
}

fn start_body(connection: Option<uuid::Uuid>) -> String {
    json!({"flow": "provider.connection.check", "provider_connection_id": connection}).to_string()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(measure());
}

/// CPU microseconds per call: through the router, and the store's calls alone.
struct Costs {
    floor: f64,
    view: (f64, f64),
    list: (f64, f64),
    start: f64,
}

/// Each measurement on a store of its own: the in-memory store finds an identity's runs by
/// scanning them all, so a store that grew with every measured start would cost more each round.
async fn costs() -> Costs {
    let api = &Api::new();
    // Blocked runs of tenant 10, each of its own identity (the connection each names does not
    // exist), as the HTTP benchmark seeds them: a page to list and a run to view.
    let mut last = Value::Null;
    for _ in 0..RUNS {
        let uri = "/v1/workspaces/1/tenants/10/verifications";
        let body = start_body(Some(uuid::Uuid::now_v7()));
        last = serde_json::from_slice(&api.send(Method::POST, uri, Some(body), StatusCode::CREATED).await).unwrap();
    }
    let viewed = last["run"]["id"].as_str().expect("a started run's id").to_owned();
    let (view_uri, run) = (format!("/v1/runs/{viewed}"), viewed.parse::<RunId>().unwrap());
    let visible = |_| true;
    let visible = &visible;
    let list_query = || RunListQuery {
        workspace_id: WorkspaceId::new(1).unwrap(),
        tenant_id: TenantId::new(10).unwrap(),
        flow: None,
        status: None,
        provider_connection_id: None,
        limit: PageLimit::default(),
        after: None,
    };
    let list_uri = "/v1/workspaces/1/tenants/10/runs?limit=50";
    Costs {
        floor: per_call(PER_ROUND, || async {
            api.send(Method::GET, "/healthz", None, StatusCode::OK).await;
        })
        .await,
        view: (
            per_call(PER_ROUND, || async {
                api.send(Method::GET, &view_uri, None, StatusCode::OK).await;
            })
            .await,
            per_call(PER_ROUND, || async {
                api.store.get_in_context(run, visible).await.unwrap().unwrap();
            })
            .await,
        ),
        list: (
            per_call(PER_ROUND, || async {
                api.send(Method::GET, list_uri, None, StatusCode::OK).await;
            })
            .await,
            per_call(PER_ROUND, || async {
                api.store.list(list_query()).await.unwrap();
            })
            .await,
        ),
        start: start_cost().await,
    }
}

/// A blocked start, each in a tenant of its own, on an empty store each round; [`STARTS`] a
/// round, so the store's scans stay short.
async fn start_cost() -> f64 {
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let api = &Api::new();
        let tenant = AtomicU64::new(1_000_000);
        let start = || {
            let tenant = tenant.fetch_add(1, Ordering::Relaxed);
            async move {
                let uri = format!("/v1/workspaces/1/tenants/{tenant}/verifications");
                api.send(Method::POST, &uri, Some(start_body(None)), StatusCode::CREATED).await;
            }
        };
        best = best.min(timed(STARTS / 10, STARTS, start).await);
    }
    best
}

async fn measure() {
    let quiet = costs().await;
    // The server's own logging, as the HTTP benchmark runs it (`RUST_LOG=warn,verdict=info`,
    // JSON lines with the current span), written nowhere.
    let logging = {
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,verdict=info"))
            .with_writer(std::io::sink)
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .finish();
        let _installed = tracing::subscriber::set_default(subscriber);
        costs().await
    };
    println!("Verdict's own CPU per request: one thread, no socket, no database; the least of {ROUNDS} rounds.");
    println!("\"own work\" is the request through the router less GET /healthz through it and less the in-memory");
    println!("store's calls alone; a blocked start's includes the in-memory store's transaction.");
    println!();
    println!(
        "| request | router µs | store alone µs | own work µs | router, server's logging µs | own work, server's logging µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!("| GET /healthz | {:.1} | — | — | {:.1} | — |", quiet.floor, logging.floor);
    // A start has no store calls to time alone: its figure keeps the in-memory transaction.
    let lines = [
        ("run view", (quiet.view.0, Some(quiet.view.1)), (logging.view.0, Some(logging.view.1))),
        ("run list, page of 50", (quiet.list.0, Some(quiet.list.1)), (logging.list.0, Some(logging.list.1))),
        ("blocked start, a new tenant each", (quiet.start, None), (logging.start, None)),
    ];
    for (name, (router, store), (logged, logged_store)) in lines {
        let own = router - quiet.floor - store.unwrap_or(0.0);
        let own_logged = logged - logging.floor - logged_store.unwrap_or(0.0);
        let store = store.map_or_else(|| "—".to_owned(), |store| format!("{store:.1}"));
        println!("| {name} | {router:.1} | {store} | {own:.1} | {logged:.1} | {own_logged:.1} |");
    }
}
