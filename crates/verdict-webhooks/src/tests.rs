//! The transport against real sockets on loopback: a tiny HTTP/1.1 responder per test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use verdict_core::domain::{OutboundPolicy, WebhookUrl};

use super::*;

/// Answers every connection with `status` (and `extra` headers) after reading the request, and
/// reports each request's text. `None` accepts and never answers.
async fn responder(status: Option<&'static str>, extra: &'static str) -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen, requests) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buffer).into_owned();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buffer.len() >= end + 4 + length {
                            let _ = seen.send(text);
                            break;
                        }
                    }
                }
                let Some(status) = status else {
                    std::future::pending::<()>().await;
                    return;
                };
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n{extra}\r\n");
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, requests)
}

fn request(url: &str) -> OutboundRequest {
    OutboundRequest {
        url: WebhookUrl::parse(url, OutboundPolicy { allow_private: true }).unwrap(),
        webhook_id: "0193a5f2-9a00-7000-8000-0000000000aa".to_owned(),
        webhook_timestamp: 1_614_265_330,
        webhook_signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned(),
        body: r#"{"test": 2432232314}"#.to_owned(),
    }
}

#[tokio::test]
async fn a_delivery_posts_the_body_with_the_standard_webhooks_headers() {
    let (port, mut requests) = responder(Some("204 No Content"), "").await;
    let transport = HttpTransport::new(true);
    let result = transport.send(request(&format!("http://127.0.0.1:{port}/hook?team=ops"))).await;
    assert_eq!(result, AttemptResult::Status(204));
    let seen = requests.recv().await.unwrap();
    assert!(seen.starts_with("POST /hook?team=ops HTTP/1.1\r\n"), "{seen}");
    let lower = seen.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/json"), "{seen}");
    assert!(lower.contains("webhook-id: 0193a5f2-9a00-7000-8000-0000000000aa"), "{seen}");
    assert!(lower.contains("webhook-timestamp: 1614265330"), "{seen}");
    assert!(seen.contains("webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), "{seen}");
    assert!(seen.ends_with(r#"{"test": 2432232314}"#), "{seen}");
}

#[tokio::test]
async fn errors_and_redirects_are_answers_not_followed() {
    let (port, _requests) = responder(Some("500 Internal Server Error"), "").await;
    let transport = HttpTransport::new(true);
    assert_eq!(transport.send(request(&format!("http://127.0.0.1:{port}/"))).await, AttemptResult::Status(500));
    let (port, mut requests) = responder(Some("302 Found"), "location: http://127.0.0.1:1/elsewhere\r\n").await;
    assert_eq!(transport.send(request(&format!("http://localhost:{port}/"))).await, AttemptResult::Status(302));
    requests.recv().await.unwrap();
    assert!(requests.try_recv().is_err(), "the redirect was not followed");
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let (port, mut requests) = responder(Some("200 OK"), "").await;
    let strict = HttpTransport::new(false);
    for url in
        [format!("http://localhost:{port}/"), format!("http://127.0.0.1:{port}/"), format!("http://[::1]:{port}/")]
    {
        assert_eq!(strict.send(request(&url)).await, AttemptResult::Error(DeliveryErrorClass::BlockedAddress), "{url}");
    }
    assert!(requests.try_recv().is_err(), "nothing was sent");
    let lax = HttpTransport::new(true);
    assert_eq!(lax.send(request(&format!("http://localhost:{port}/"))).await, AttemptResult::Status(200));
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_a_closed_port_fails_to_connect() {
    let (port, _requests) = responder(None, "").await;
    let transport = HttpTransport::new(true).with_timeout(Duration::from_millis(300));
    let result = transport.send(request(&format!("http://127.0.0.1:{port}/"))).await;
    assert_eq!(result, AttemptResult::Error(DeliveryErrorClass::Timeout));
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let result = HttpTransport::new(true).send(request(&format!("http://127.0.0.1:{closed}/"))).await;
    assert_eq!(result, AttemptResult::Error(DeliveryErrorClass::Connect));
}
