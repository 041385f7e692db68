//! `spawn_app()`: the service with a fresh database on port 0, a simulated provider, a client
//! with one method per endpoint, and the log output it produced.

use std::any::Any;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use clap::Parser;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use verdict_http::auth::{IssuedClaims, issue_hs256};
use verdict_runner::fake::{FakeProvider, FakeTenant};

pub const JWT_SECRET: &str = "e2e-hs256-secret-e2e-hs256-secret-0123";
pub const ENCRYPTION_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub const ALL_CAPABILITIES: [&str; 5] =
    ["verification.start", "verification.acknowledge", "provider_connection.manage", "audit.read", "webhook.manage"];

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Log lines of every app in this test process (one global subscriber per process).
fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = SharedWriter(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug,sqlx=warn,hyper=info,h2=info"))
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
}

#[derive(Clone)]
struct SharedWriter(Arc<Mutex<Vec<u8>>>);

impl Write for SharedWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything this process logged so far.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned()
}

pub struct Options {
    pub workers: bool,
    /// More `serve` arguments, e.g. tighter connection limits.
    pub serve_args: Vec<String>,
    /// Another database URL than the backend's fresh one (e.g. through a proxy that can cut it).
    pub database_url: Option<String>,
    /// `VERDICT_WEBHOOK_ALLOW_PRIVATE`: webhooks to the tests' receivers on loopback.
    pub allow_private_webhooks: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { workers: true, serve_args: Vec::new(), database_url: None, allow_private_webhooks: false }
    }
}

pub struct TestApp {
    pub address: SocketAddr,
    /// The database the app runs on, for tests that reach around it (tampering).
    pub database_url: String,
    pub client: reqwest::Client,
    pub provider: FakeProvider,
    /// Every body the app answered, for the secret scans.
    pub seen: Mutex<Vec<String>>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _database: Box<dyn Any + Send>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Options::default()).await
}

pub async fn spawn_app_with(backend: Backend, options: Options) -> TestApp {
    log_buffer();
    let provider = FakeProvider::start(FakeTenant::contoso()).await.unwrap();
    let (url, database): (String, Box<dyn Any + Send>) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (format!("sqlite://{}/data/verdict.db", dir.path().display()), Box::new(dir))
        }
        Backend::Postgres => {
            let db = verdict_pg_harness::test_database(&verdict_postgres::MIGRATOR).await;
            (db.url().to_owned(), Box::new(db))
        }
    };
    let url = options.database_url.clone().unwrap_or(url);
    let provider_url = provider.url().to_string();
    let mut args = vec![
        "verdict",
        "--database-url",
        &url,
        "--jwt-hs256-secret",
        JWT_SECRET,
        "--encryption-key",
        ENCRYPTION_KEY,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--entra-authority",
        &provider_url,
        "--graph-base-url",
        &provider_url,
        "--lease-seconds",
        "5",
        "--check-timeout-ms",
        "3000",
    ];
    args.extend(options.serve_args.iter().map(String::as_str));
    if !options.workers {
        args.push("--no-workers");
    }
    if options.allow_private_webhooks {
        args.push("--webhook-allow-private");
    }
    let cli = verdict_app::cli::Cli::parse_from(args);
    let Some(verdict_app::cli::Command::Serve(serve)) = cli.command else { unreachable!("serve was given") };
    let app = verdict_app::app::App::build(&cli.settings, &serve, true).await.unwrap();
    let address = app.address().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    TestApp {
        address,
        database_url: url.clone(),
        // The server closes a kept-alive connection that sends no request within its header-read
        // timeout (10 s by default). The client lets pooled connections go sooner, so it never
        // sends a request on a connection the server is closing at that moment.
        client: reqwest::Client::builder().pool_idle_timeout(Duration::from_secs(5)).build().unwrap(),
        provider,
        seen: Mutex::new(Vec::new()),
        stop: Some(stop),
        server: Some(server),
        _database: database,
    }
}

/// A token for workspace 1, tenant 10, with `capabilities`.
pub fn token(capabilities: &[&str]) -> String {
    token_for(json!([{"workspace_id": 1, "tenant_ids": [10], "capabilities": capabilities}]))
}

pub fn token_for(memberships: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = IssuedClaims {
        sub: "e2e-user".into(),
        exp: now + 600,
        nbf: now - 5,
        aud: "verdict".into(),
        iss: None,
        memberships,
    };
    issue_hs256(JWT_SECRET.as_bytes(), &claims).unwrap()
}

pub fn admin() -> String {
    token(&ALL_CAPABILITIES)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        self.seen.lock().unwrap().push(text.clone());
        Reply { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null), text }
    }

    pub async fn create_connection(&self) -> String {
        let tenant = self.provider.tenant();
        let body = json!({
            "display_name": "Contoso",
            "entra_tenant_id": tenant.directory_id,
            "client_id": tenant.client_id,
            "client_secret": tenant.client_secret,
        });
        let reply = self
            .request(Method::POST, "/v1/workspaces/1/tenants/10/provider-connections", Some(&admin()), Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn start(&self, connection: &str) -> Reply {
        let body = json!({"flow": "provider.connection.check", "provider_connection_id": connection});
        self.post_verification(10, body, &admin()).await
    }

    pub async fn view(&self, run: &str) -> Reply {
        self.request(Method::GET, &format!("/v1/runs/{run}"), Some(&token(&[])), None).await
    }

    /// `GET /v1/runs/{run}/report{query}`, with `Accept` when given, as the tenant's reader.
    pub async fn report(&self, run: &str, query: &str, accept: Option<&str>) -> Reply {
        self.report_as(run, query, accept, &token(&[])).await
    }

    /// [`TestApp::report`] with another caller's token.
    pub async fn report_as(&self, run: &str, query: &str, accept: Option<&str>, token: &str) -> Reply {
        let mut request = self.client.get(self.url(&format!("/v1/runs/{run}/report{query}"))).bearer_auth(token);
        if let Some(accept) = accept {
            request = request.header(reqwest::header::ACCEPT, accept);
        }
        self.send(request).await
    }

    /// `GET /v1/workspaces/1/verification-status{query}` as `token`.
    pub async fn fleet_as(&self, query: &str, token: &str) -> Reply {
        self.request(Method::GET, &format!("/v1/workspaces/1/verification-status{query}"), Some(token), None).await
    }

    /// `POST /v1/workspaces/1/tenants/{tenant}/provider-connections` as an administrator of
    /// every tenant, with the simulated tenant's credentials unless `secret` replaces them.
    pub async fn create_connection_in(&self, tenant_id: i64, name: &str, secret: Option<&str>) -> String {
        let tenant = self.provider.tenant();
        let body = json!({
            "display_name": name,
            "entra_tenant_id": tenant.directory_id,
            "client_id": tenant.client_id,
            "client_secret": secret.unwrap_or(&tenant.client_secret),
        });
        let admin = token_for(json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": ALL_CAPABILITIES}]));
        let uri = format!("/v1/workspaces/1/tenants/{tenant_id}/provider-connections");
        let reply = self.request(Method::POST, &uri, Some(&admin), Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Starts a verification of `connection` in `tenant_id` and waits until it completed.
    pub async fn verify_in(&self, tenant_id: i64, connection: &str) -> String {
        let body = json!({"flow": "provider.connection.check", "provider_connection_id": connection});
        let admin = token_for(json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": ALL_CAPABILITIES}]));
        let uri = format!("/v1/workspaces/1/tenants/{tenant_id}/verifications");
        let reply = self.request(Method::POST, &uri, Some(&admin), Some(body)).await;
        assert!(reply.status.is_success(), "{}", reply.text);
        let run = reply.body["run"]["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let view = self.request(Method::GET, &format!("/v1/runs/{run}"), Some(&admin), None).await;
            if view.body["run"]["status"] == "completed" {
                return run;
            }
            assert!(Instant::now() < deadline, "run {run} did not complete: {}", view.text);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `POST /v1/runs/{run}/acknowledgements` as an administrator.
    pub async fn acknowledge(&self, run: &str, check_key: &str, reason: &str) -> Reply {
        let body = json!({"check_key": check_key, "ack_reason": reason, "report_id": run});
        self.request(Method::POST, &format!("/v1/runs/{run}/acknowledgements"), Some(&admin()), Some(body)).await
    }

    /// Polls the run view until the run completed.
    pub async fn completed(&self, run: &str) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let view = self.view(run).await;
            if view.body["run"]["status"] == "completed" {
                return view;
            }
            assert!(Instant::now() < deadline, "run {run} did not complete: {}", view.text);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the service gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(Duration::from_secs(30), server).await.unwrap().unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The validator of `contracts/error.schema.json`.
pub fn error_validator() -> jsonschema::Validator {
    contract_validator("error.schema.json")
}

fn contract_validator(name: &str) -> jsonschema::Validator {
    let path = format!("{}/../contracts/{name}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
}

pub fn report_validator() -> jsonschema::Validator {
    let path = format!("{}/../contracts/verification-report.v1_5.schema.json", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options().should_validate_formats(true).build(&schema).unwrap()
}
