//! The edge an unauthenticated client reaches, over raw TCP where HTTP clients would be too polite:
//! idle and slow connections are closed, the connection limit holds, declared and stalled bodies
//! are answered at once, every error has the error shape, metric labels and request ids come from
//! closed sets (docs/architecture.md, "Faults" and "Closed sets at the edges").

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Backend, Options, TestApp, admin, captured_logs, spawn_app_with};

/// How long a test waits for the server to do something it must do promptly; only a guard
/// against hanging forever, never a measurement.
const GUARD: Duration = Duration::from_secs(20);

async fn app_with(args: &[&str]) -> TestApp {
    let serve_args = args.iter().map(|a| (*a).to_owned()).collect();
    spawn_app_with(Backend::Sqlite, Options { workers: false, serve_args, ..Options::default() }).await
}

/// Reads until the server closes the connection; the bytes it sent first.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return received,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => panic!("the server kept the connection open past {GUARD:?}"),
        }
    }
}

/// Sends raw bytes and returns the status and the JSON body of the answer.
async fn raw(app: &TestApp, request: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    parse_answer(&answer)
}

fn parse_answer(answer: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(answer);
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_and_slow_clients_are_closed_and_the_connection_limit_holds() {
    let app = app_with(&["--header-read-timeout-ms", "300", "--max-connections", "8"]).await;
    // Far more idle connections than the limit: each is closed after the header-read timeout.
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(app.address).await.unwrap());
    }
    let health = tokio::time::timeout(GUARD, app.client.get(app.url("/healthz")).send()).await;
    assert_eq!(health.expect("healthz answers despite the idle flood").unwrap().status(), StatusCode::OK);
    for stream in &mut idle {
        // Panics if the server keeps it open: every idle connection is closed.
        read_until_closed(stream).await;
    }
    // A client that trickles its header a line at a time is closed too: the timeout covers the
    // whole head, not each byte.
    let mut slow = TcpStream::connect(app.address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: verdict\r\n").await.unwrap();
    let mut closed = false;
    for i in 0..200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if slow.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await.is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(1), slow.read(&mut probe)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slow-header client was kept for 10 s");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kept_alive_idle_connections_are_closed() {
    let app = app_with(&["--header-read-timeout-ms", "300"]).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: verdict\r\n\r\n").await.unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    // Then nothing: the kept-alive connection is closed instead of held forever.
    read_until_closed(&mut stream).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn declared_and_stalled_bodies_are_answered_at_once() {
    let app = app_with(&["--body-timeout-ms", "300"]).await;
    let token = admin();
    let declared = format!(
        "POST /v1/workspaces/1/tenants/10/verifications HTTP/1.1\r\nHost: verdict\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{{\"flow\":"
    );
    let (status, body) = raw(&app, declared.as_bytes()).await;
    assert_eq!((status, &body["error"]["code"]), (413, &json!("payload_too_large")), "{body}");
    let stalled = format!(
        "POST /v1/workspaces/1/tenants/10/verifications HTTP/1.1\r\nHost: verdict\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"flow\":"
    );
    let (status, body) = raw(&app, stalled.as_bytes()).await;
    assert_eq!((status, &body["error"]["code"]), (408, &json!("request_timeout")), "{body}");
    let logs = captured_logs();
    assert!(!logs.contains("request exceeded"), "a client's stalled body is not a server failure");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_error_has_the_error_shape() {
    let app = app_with(&[]).await;
    let reply = app.request(Method::DELETE, "/healthz", None, None).await;
    assert_eq!(
        (reply.status, &reply.body["error"]["code"]),
        (StatusCode::METHOD_NOT_ALLOWED, &json!("method_not_allowed"))
    );
    let reply = app.request(Method::GET, &format!("/v1/runs/{}", "a".repeat(9 * 1024)), None, None).await;
    assert_eq!((reply.status, &reply.body["error"]["code"]), (StatusCode::URI_TOO_LONG, &json!("uri_too_long")));
    let mut headers = String::new();
    for i in 0..150 {
        headers.push_str(&format!("X-Many-{i}: {i}\r\n"));
    }
    let (status, body) =
        raw(&app, format!("GET /healthz HTTP/1.1\r\nHost: verdict\r\nConnection: close\r\n{headers}\r\n").as_bytes())
            .await;
    assert_eq!((status, &body["error"]["code"]), (431, &json!("request_header_fields_too_large")), "{body}");
    let validator = crate::support::error_validator();
    for reply in [
        app.request(Method::DELETE, "/healthz", None, None).await,
        app.request(Method::GET, &format!("/v1/runs/{}", "a".repeat(9 * 1024)), None, None).await,
        app.request(Method::GET, "/nothing/here", None, None).await,
        app.request(Method::PATCH, "/v1/runs/0193a0c4-0000-7000-8000-000000000000", Some(&admin()), None).await,
    ] {
        assert!(validator.is_valid(&reply.body), "{}", reply.text);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn made_up_methods_and_hostile_request_ids_create_nothing_new() {
    let app = app_with(&[]).await;
    for i in 0..30 {
        let method = Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
        app.request(method.clone(), "/healthz", None, None).await;
        app.request(method, &format!("/made-up-{i}"), None, None).await;
    }
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("FOO") && !metrics.contains("made-up"), "{metrics}");
    assert!(metrics.contains("method=\"other\""), "{metrics}");
    let series = metrics.lines().filter(|l| l.starts_with("verdict_http_requests_total{")).count();
    assert!(series <= 4, "{series} request series from 60 made-up requests:\n{metrics}");

    let hostile = "x".repeat(8 * 1024);
    let reply = app.send(app.client.get(app.url("/healthz")).header("x-request-id", &hostile)).await;
    let echoed = reply.headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(echoed.len() <= 64 && echoed != hostile, "a fresh id replaces it: {echoed}");
    let reply = app.send(app.client.get(app.url("/healthz")).header("x-request-id", "trace-4711.a_b")).await;
    assert_eq!(reply.headers["x-request-id"], "trace-4711.a_b", "a short safe id is kept");
    assert!(!captured_logs().contains(&hostile[..512]), "the hostile id never reached the log");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_speak_prometheus_text_unless_openmetrics_is_asked_for() {
    let app = app_with(&[]).await;
    let plain = app.send(app.client.get(app.url("/metrics")).header("accept", "text/plain")).await;
    assert!(plain.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    assert!(!plain.text.contains("# EOF"), "{}", plain.text);
    let scraper = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = app.send(app.client.get(app.url("/metrics")).header("accept", scraper)).await;
    assert!(open.headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    assert!(open.text.ends_with("# EOF\n"), "{}", open.text);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ids_are_accepted_exactly_in_canonical_form_of_any_version() {
    let app = app_with(&[]).await;
    let v4 = "550e8400-e29b-41d4-a716-446655440000";
    for path in [
        format!("/v1/runs/{v4}"),
        format!("/v1/runs/{}", v4.to_uppercase()),
        format!("/v1/runs/{{{v4}}}"),
        format!("/v1/runs/urn:uuid:{v4}"),
        format!("/v1/runs/{}", v4.replace('-', "")),
    ] {
        let reply = app.request(Method::GET, &path, Some(&admin()), None).await;
        assert_eq!(
            (reply.status, &reply.body["error"]["code"]),
            (StatusCode::NOT_FOUND, &json!("not_found")),
            "{path}"
        );
    }
    let start = |connection: &str| json!({"flow": "provider.connection.check", "provider_connection_id": connection});
    let uri = "/v1/workspaces/1/tenants/10/verifications";
    let reply = app.request(Method::POST, uri, Some(&admin()), Some(start(v4))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "an unknown v4 id is a missing connection: {}", reply.text);
    assert_eq!(reply.body["run"]["outcome"], "blocked");
    let reply = app.request(Method::POST, uri, Some(&admin()), Some(start(&v4.to_uppercase()))).await;
    assert_eq!(reply.body["error"]["details"][0]["field"], "provider_connection_id", "{}", reply.text);
    app.stop().await;
}
