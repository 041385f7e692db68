//! Continuous verification across real `verdict serve` processes (docs/contract.md#continuous-verification):
//! a process killed with SIGKILL after a run completed but before its webhook went out loses
//! nothing — the delivery row was committed with the completion, and another process sends it —
//! and two processes on one PostgreSQL database fire each of 100 due schedules exactly once.
//! The provider is the simulated tenant, in this test process; the webhook receiver too.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::os::unix::process::ExitStatusExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use verdict_bench::server::{Launch, Server};
use verdict_runner::fake::{FakeProvider, FakeTenant};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_verdict"))
}

/// The settings every process here gets: the simulated tenant as Entra and Graph, and webhooks
/// allowed to reach the loopback receiver.
fn launch(provider: &FakeProvider, workers: bool, no_dispatcher: bool) -> Launch {
    let url = provider.url().to_string();
    let env = [
        ("VERDICT_ENTRA_AUTHORITY", url.as_str()),
        ("VERDICT_GRAPH_BASE_URL", url.as_str()),
        ("VERDICT_WEBHOOK_ALLOW_PRIVATE", "true"),
    ];
    Launch { workers, no_dispatcher, env: env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec() }
}

/// One API call: status and JSON body.
async fn call(server: &Server, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut request = client.request(method, format!("{}{path}", server.base)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn create_connection(server: &Server, token: &str, tenant: &FakeTenant) -> String {
    let body = json!({
        "display_name": "Contoso",
        "entra_tenant_id": tenant.directory_id,
        "client_id": tenant.client_id,
        "client_secret": tenant.client_secret,
    });
    let path = "/v1/workspaces/1/tenants/10/provider-connections";
    let (status, body) = call(server, token, Method::POST, path, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Polls `read` until `done` holds (state in another process or the database, which nothing
/// signals to this test).
async fn eventually<T, F: std::future::Future<Output = T>>(
    what: &str,
    mut read: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} did not happen within 90 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The error lines a process logged (its warnings include the loud one about private webhooks).
fn errors(server: &Server) -> Vec<String> {
    server.problems().into_iter().filter(|line| line.contains("\"level\":\"ERROR\"")).collect()
}

/// A webhook receiver on loopback that answers 204 and hands each request to the test.
struct Receiver {
    url: String,
    requests: mpsc::UnboundedReceiver<(HeaderMap, String)>,
}

async fn receiver() -> Receiver {
    let (seen, requests) = mpsc::unbounded_channel();
    let receive = move |headers: HeaderMap, body: String| {
        let seen = seen.clone();
        async move {
            let _ = seen.send((headers, body));
            StatusCode::NO_CONTENT
        }
    };
    let router = axum::Router::new().route("/hook", axum::routing::post(receive));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Receiver { url, requests }
}

async fn deliveries(server: &Server, token: &str, webhook: &str) -> Vec<Value> {
    let path = format!("/v1/workspaces/1/webhooks/{webhook}/deliveries?limit=100");
    let (status, body) = call(server, token, Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

async fn a_delivery_survives_a_kill_between_completion_and_delivery(database: &str) {
    let provider = FakeProvider::start(FakeTenant::contoso()).await.unwrap();
    let mut receiver = receiver().await;
    // The first process runs the verification but sends no webhook: the window between a
    // completion and its delivery, held open.
    let first = Server::launch(binary(), database, &launch(&provider, true, true)).unwrap();
    let token = first.token(1).unwrap();
    let body = json!({"url": receiver.url, "events": ["verification.completed"], "description": "kill -9"});
    let (status, created) = call(&first, &token, Method::POST, "/v1/workspaces/1/webhooks", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let webhook = created["webhook"]["id"].as_str().unwrap().to_owned();
    let connection = create_connection(&first, &token, provider.tenant()).await;
    let body = json!({"flow": "provider.connection.check", "provider_connection_id": connection});
    let (status, started) =
        call(&first, &token, Method::POST, "/v1/workspaces/1/tenants/10/verifications", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let run = started["run"]["id"].as_str().unwrap().to_owned();
    let view = format!("/v1/runs/{run}");
    eventually(
        "the run completed by the first process's worker",
        || call(&first, &token, Method::GET, &view, None),
        |(_, view)| view["run"]["status"] == "completed",
    )
    .await;
    let pending = deliveries(&first, &token, &webhook).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!((&pending[0]["state"], &pending[0]["attempts"]), (&json!("pending"), &json!(0)));

    let status = first.kill().unwrap();
    assert_eq!(status.signal(), Some(9), "killed, not stopped: {status:?}");

    // A second process on the same database finds the delivery and sends it.
    let second = Server::launch(binary(), database, &launch(&provider, false, false)).unwrap();
    let (headers, body) = tokio::time::timeout(Duration::from_secs(90), receiver.requests.recv())
        .await
        .expect("the delivery within 90 s")
        .unwrap();
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&payload["type"], &payload["data"]["run_id"]), (&json!("verification.completed"), &json!(run)));
    assert_eq!(headers["webhook-id"].to_str().unwrap(), payload["id"].as_str().unwrap());
    let delivered = eventually(
        "the delivery recorded as delivered",
        || deliveries(&second, &token, &webhook),
        |list| list.first().is_some_and(|d| d["state"] == "delivered"),
    )
    .await;
    assert_eq!((delivered.len(), &delivered[0]["attempts"]), (1, &json!(1)));
    assert_eq!(errors(&second), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_delivery_survives_a_kill_between_completion_and_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/data/verdict.db", dir.path().display());
    a_delivery_survives_a_kill_between_completion_and_delivery(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_delivery_survives_a_kill_between_completion_and_delivery() {
    let database = verdict_pg_harness::test_database(&verdict_postgres::MIGRATOR).await;
    a_delivery_survives_a_kill_between_completion_and_delivery(database.url()).await;
}

/// Two `verdict serve` processes (API, workers, scheduler, dispatcher) on one PostgreSQL database:
/// 100 schedules due at the same moment start exactly 100 runs, each schedule fired by one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_fire_each_of_100_due_schedules_exactly_once() {
    let provider = FakeProvider::start(FakeTenant::contoso()).await.unwrap();
    let database = verdict_pg_harness::test_database(&verdict_postgres::MIGRATOR).await;
    let processes = [
        Server::launch(binary(), database.url(), &launch(&provider, true, false)).unwrap(),
        Server::launch(binary(), database.url(), &launch(&provider, true, false)).unwrap(),
    ];
    let token = processes[0].token(1).unwrap();
    let due_at = chrono::Utc::now() + chrono::Duration::seconds(10);
    let body = json!({"interval": "PT5M", "first_run_at": due_at.to_rfc3339()});
    for i in 0..100 {
        let server = &processes[i % 2];
        let connection = create_connection(server, &token, provider.tenant()).await;
        let path = format!("/v1/workspaces/1/tenants/10/provider-connections/{connection}/schedule");
        let (status, reply) = call(server, &token, Method::PUT, &path, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{reply}");
    }
    let pool = sqlx::PgPool::connect(database.url()).await.unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(due_at).fetch_one(&pool).await.unwrap() }
    };
    // Settled: every schedule fired and was re-armed one interval ahead, its claim released, and
    // every run it started completed by one of the two processes' workers.
    let rearmed = "SELECT count(*) FROM verification_schedules \
                   WHERE claimed_by IS NULL AND next_run_at >= $1 + interval '5 minutes'";
    eventually("every schedule fired and re-armed", || count(rearmed), |n| *n == 100).await;
    // Each query below counts what happened since the schedules were set ($1 is their due time).
    let completed =
        "SELECT count(*) FROM operation_runs WHERE status = 'completed' AND created_at > $1 - interval '1 hour'";
    eventually("every scheduled run completed", || count(completed), |n| *n >= 100).await;
    let runs = "SELECT count(*) FROM operation_runs WHERE created_at > $1 - interval '1 hour'";
    assert_eq!(count(runs).await, 100, "one run per schedule");
    let started = "SELECT count(*) FROM audit_logs WHERE action = 'verification.started' AND actor_id = 'scheduler' \
                   AND occurred_at > $1 - interval '1 hour'";
    assert_eq!(count(started).await, 100);
    let mut created = 0;
    for server in &processes {
        let metrics = reqwest::get(format!("{}/metrics", server.base)).await.unwrap().text().await.unwrap();
        for result in ["deduplicated", "failed"] {
            assert!(!metrics.contains(&format!("verdict_scheduled_starts_total{{result=\"{result}\"}}")), "{metrics}");
        }
        created += metrics
            .lines()
            .find_map(|l| l.strip_prefix("verdict_scheduled_starts_total{result=\"created\"} "))
            .map_or(0, |n| n.trim().parse::<u64>().unwrap());
        assert_eq!(errors(server), Vec::<String>::new());
    }
    assert_eq!(created, 100, "no schedule fired twice, in either process");
    pool.close().await;
}
