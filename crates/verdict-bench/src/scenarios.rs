//! The scenarios of docs/benchmarks.md: what each request is, the inputs pgbench must draw per
//! transaction, the statuses that count as success, and the data seeded for them through the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context as _, Result, bail};
use reqwest::Method;
use serde_json::{Value, json};

use crate::load::{Request, Requests};
use crate::script::{Generator, Input};
use crate::server::Server;

/// The tenant every scenario works in.
pub const TENANT: i64 = 10;
/// Workspaces with tokens; blocked starts spread over up to this many.
pub const WORKSPACES: i64 = 50;
/// Blocked starts go to tenants from here on, one new tenant per request.
const FRESH_TENANTS: u64 = 1_000_000;
static NEXT_TENANTS: AtomicU64 = AtomicU64::new(0);

/// The inputs of request `n`, for the pgbench script.
pub type Inputs = Arc<dyn Fn(u64) -> Vec<Input> + Send + Sync>;

/// One benchmarked operation.
#[derive(Clone)]
pub struct Scenario {
    /// Its name in the table.
    pub name: String,
    /// Request `n`.
    pub requests: Requests,
    /// The inputs of request `n`.
    pub inputs: Inputs,
    /// Statuses that count as success.
    pub expect: &'static [u16],
    /// The goal as a ratio to pgbench on the same SQL.
    pub goal: Option<f64>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario").field("name", &self.name).finish_non_exhaustive()
    }
}

/// What the scenarios need: tokens, provider connections, blocked runs.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The token of workspace `i + 1`.
    pub tokens: Vec<Arc<str>>,
    /// Provider connections of tenant 10 in workspace 1, each started at most once.
    pub connections: Arc<Vec<String>>,
    /// A connection reserved for deduplicated starts.
    pub dedup_connection: String,
}

fn no_inputs() -> Inputs {
    Arc::new(|_| Vec::new())
}

fn post(path: String, token: &Arc<str>, body: &Value) -> Request {
    Request { method: Method::POST, path, token: token.clone(), body: Some(body.to_string().into_bytes()) }
}

fn get(path: String, token: &Arc<str>) -> Request {
    Request { method: Method::GET, path, token: token.clone(), body: None }
}

fn verifications(ws: i64) -> String {
    format!("/v1/workspaces/{ws}/tenants/{TENANT}/verifications")
}

/// Blocked starts (`provider_connection_id: null`) spread over `workspaces` workspaces, each in
/// a tenant never started before: a repeated blocked start of one identity is answered by the
/// stub it already has (docs/contract.md, "Idempotent starts"), which is the read path, not this.
#[must_use]
pub fn blocked_start(fixture: &Fixture, workspaces: i64) -> Scenario {
    let tokens = fixture.tokens.clone();
    let workspace = move |n: u64| i64::try_from(n % u64::try_from(workspaces).unwrap_or(1)).unwrap_or(0) + 1;
    // Each scenario built gets tenants of its own, so no two requests share an identity.
    let first = FRESH_TENANTS + NEXT_TENANTS.fetch_add(100_000_000, Ordering::Relaxed);
    let tenant = move |n: u64| first + n;
    let body = json!({"flow": "provider.connection.check", "provider_connection_id": null});
    Scenario {
        name: format!("blocked start, {workspaces} workspace{}", if workspaces == 1 { "" } else { "s" }),
        requests: Arc::new(move |n| {
            let ws = workspace(n);
            let path = format!("/v1/workspaces/{ws}/tenants/{}/verifications", tenant(n));
            Some(post(path, &tokens[usize::try_from(ws - 1).ok()?], &body))
        }),
        inputs: Arc::new(move |n| {
            vec![
                Input {
                    name: "ws",
                    value: workspace(n).to_string(),
                    generator: Some(Generator::Set(format!("random(1, {workspaces})"))),
                },
                Input {
                    name: "tenant",
                    value: tenant(n).to_string(),
                    generator: Some(Generator::Set(format!("random({FRESH_TENANTS}, 9000000000000)"))),
                },
            ]
        }),
        expect: &[201],
        goal: Some(0.75),
    }
}

/// Starts with a provider connection, each of a connection never started before (a new identity,
/// workers off so the run stays queued). pgbench replays one connection with a fresh identity hash.
#[must_use]
pub fn creating_start(fixture: &Fixture) -> Scenario {
    let (connections, token) = (fixture.connections.clone(), fixture.tokens[0].clone());
    let inputs_connections = connections.clone();
    Scenario {
        name: "start with a connection, new identity".to_owned(),
        requests: Arc::new(move |n| {
            let connection = connections.get(usize::try_from(n).ok()?)?;
            let body = json!({"flow": "provider.connection.check", "provider_connection_id": connection});
            Some(post(verifications(1), &token, &body))
        }),
        inputs: Arc::new(move |n| {
            let value = usize::try_from(n).ok().and_then(|n| inputs_connections.get(n)).cloned().unwrap_or_default();
            vec![Input { name: "connection", value, generator: None }]
        }),
        expect: &[201],
        goal: Some(0.75),
    }
}

/// Starts of a connection whose run is already queued: the active run comes back.
#[must_use]
pub fn deduplicated_start(fixture: &Fixture) -> Scenario {
    let token = fixture.tokens[0].clone();
    let body = json!({"flow": "provider.connection.check", "provider_connection_id": fixture.dedup_connection});
    Scenario {
        name: "deduplicated start".to_owned(),
        requests: Arc::new(move |_| Some(post(verifications(1), &token, &body))),
        inputs: no_inputs(),
        expect: &[200, 201],
        goal: Some(0.75),
    }
}

/// The run view of a blocked run that has a previous report.
#[must_use]
pub fn run_view(fixture: &Fixture, run: &str) -> Scenario {
    let (token, path) = (fixture.tokens[0].clone(), format!("/v1/runs/{run}"));
    Scenario {
        name: "run view".to_owned(),
        requests: Arc::new(move |_| Some(get(path.clone(), &token))),
        inputs: no_inputs(),
        expect: &[200],
        goal: Some(0.7),
    }
}

/// The name of [`http_floor`] in the table.
pub const HTTP_FLOOR: &str = "HTTP floor: GET /healthz, no database";

/// The liveness probe: HTTP, routing and the middleware, no token checked, no database. What any
/// request costs the machine before Verdict does its work; the table derives each line's
/// ceiling from it (docs/benchmarks.md, "Where a read's time goes").
#[must_use]
pub fn http_floor(fixture: &Fixture) -> Scenario {
    let token = fixture.tokens[0].clone();
    Scenario {
        name: HTTP_FLOOR.to_owned(),
        requests: Arc::new(move |_| Some(get("/healthz".to_owned(), &token))),
        inputs: no_inputs(),
        expect: &[200],
        goal: None,
    }
}

/// The first page (50) of the tenant's runs.
#[must_use]
pub fn run_list(fixture: &Fixture) -> Scenario {
    let token = fixture.tokens[0].clone();
    let path = format!("/v1/workspaces/1/tenants/{TENANT}/runs?limit=50");
    Scenario {
        name: "run list, page of 50".to_owned(),
        requests: Arc::new(move |_| Some(get(path.clone(), &token))),
        inputs: no_inputs(),
        expect: &[200],
        goal: Some(0.6),
    }
}

/// Acknowledgements of one check of distinct blocked runs. pgbench replays one run with a fresh
/// check key per transaction (the table allows one acknowledgement per run and check).
#[must_use]
pub fn acknowledgement(fixture: &Fixture, runs: Arc<Vec<String>>, check_key: &str) -> Scenario {
    let token = fixture.tokens[0].clone();
    let (key, input_runs) = (check_key.to_owned(), runs.clone());
    let input_key = key.clone();
    Scenario {
        name: "acknowledgement".to_owned(),
        requests: Arc::new(move |n| {
            let run = runs.get(usize::try_from(n).ok()?)?;
            let body =
                json!({"check_key": key, "ack_reason": "Known: the connection is set up next week", "report_id": run});
            Some(post(format!("/v1/runs/{run}/acknowledgements"), &token, &body))
        }),
        inputs: Arc::new(move |n| {
            let run = usize::try_from(n).ok().and_then(|n| input_runs.get(n)).cloned().unwrap_or_default();
            vec![
                Input { name: "run", value: run, generator: None },
                Input {
                    name: "check_key",
                    value: input_key.clone(),
                    generator: Some(Generator::Sql("md5(random()::text)".to_owned())),
                },
            ]
        }),
        expect: &[201],
        goal: Some(0.75),
    }
}

/// A page (50) of the workspace's audit events.
#[must_use]
pub fn audit_page(fixture: &Fixture) -> Scenario {
    let token = fixture.tokens[0].clone();
    Scenario {
        name: "audit page of 50".to_owned(),
        requests: Arc::new(move |_| Some(get("/v1/workspaces/1/audit-events?limit=50".to_owned(), &token))),
        inputs: no_inputs(),
        expect: &[200],
        goal: None,
    }
}

/// A page (50) of the workspace's fleet status.
#[must_use]
pub fn fleet_status(fixture: &Fixture) -> Scenario {
    let token = fixture.tokens[0].clone();
    Scenario {
        name: "fleet status page of 50".to_owned(),
        requests: Arc::new(move |_| Some(get("/v1/workspaces/1/verification-status?limit=50".to_owned(), &token))),
        inputs: no_inputs(),
        expect: &[200],
        goal: None,
    }
}

/// Tokens for every workspace and `count` provider connections (plus the deduplication one),
/// created through the API by 8 concurrent callers.
///
/// # Errors
/// When the server refuses a request.
pub async fn seed(server: &Server, count: usize) -> Result<Fixture> {
    let tokens = (1..=WORKSPACES).map(|ws| server.token(ws)).collect::<Result<Vec<_>>>()?;
    let client = reqwest::Client::new();
    let mut ids = Vec::with_capacity(count + 1);
    let mut pending = tokio::task::JoinSet::new();
    for index in 0..=count {
        if pending.len() >= 8 {
            ids.push(pending.join_next().await.context("join")???);
        }
        let (client, base, token) = (client.clone(), server.base.clone(), tokens[0].clone());
        pending.spawn(async move {
            let body = json!({
                "display_name": format!("Customer {index:05}"),
                "entra_tenant_id": uuid::Uuid::now_v7(),
                "client_id": uuid::Uuid::now_v7(),
                "client_secret": format!("benchmark-secret-{index}"),
            });
            let url = format!("{base}/v1/workspaces/1/tenants/{TENANT}/provider-connections");
            let reply: Value = client.post(url).bearer_auth(&*token).json(&body).send().await?.json().await?;
            reply["id"].as_str().map(str::to_owned).with_context(|| format!("connection not created: {reply}"))
        });
    }
    while let Some(id) = pending.join_next().await {
        ids.push(id??);
    }
    let dedup_connection = ids.pop().context("no connection")?;
    Ok(Fixture { tokens, connections: Arc::new(ids), dedup_connection })
}

/// `count` blocked runs of tenant 10, each of its own identity (a start naming a connection that
/// does not exist), created through the API by 8 concurrent callers; and the key of the check
/// that blocked them.
///
/// # Errors
/// When the server refuses a request or the report has no failed check.
pub async fn blocked_runs(server: &Server, fixture: &Fixture, count: usize) -> Result<(Vec<String>, String)> {
    let client = reqwest::Client::new();
    let mut runs = Vec::with_capacity(count);
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..count {
        if pending.len() >= 8 {
            runs.push(pending.join_next().await.context("join")???);
        }
        let (client, base, token) = (client.clone(), server.base.clone(), fixture.tokens[0].clone());
        pending.spawn(async move {
            let body = json!({"flow": "provider.connection.check", "provider_connection_id": uuid::Uuid::now_v7()});
            start(&client, &base, &token, &body).await
        });
    }
    while let Some(run) = pending.join_next().await {
        runs.push(run??);
    }
    let first = runs.first().context("no blocked run")?;
    let view = get_json(&client, &format!("{}/v1/runs/{first}", server.base), &fixture.tokens[0]).await?;
    let checks =
        view["report"]["checks"].as_array().with_context(|| format!("the blocked run has no checks: {view}"))?;
    let key = checks.iter().find(|c| c["status"] == "fail").and_then(|c| c["key"].as_str()).map(str::to_owned);
    match key {
        Some(key) => Ok((runs, key)),
        None => bail!("the blocked run has no failed check: {view}"),
    }
}

async fn start(client: &reqwest::Client, base: &str, token: &str, body: &Value) -> Result<String> {
    let url = format!("{base}/v1/workspaces/1/tenants/{TENANT}/verifications");
    let reply: Value = client.post(url).bearer_auth(token).json(body).send().await?.json().await?;
    reply["run"]["id"].as_str().map(str::to_owned).with_context(|| format!("no run started: {reply}"))
}

async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Result<Value> {
    Ok(client.get(url).bearer_auth(token).send().await?.json().await?)
}
