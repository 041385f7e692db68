//! A PostgreSQL outage, made real by a TCP proxy between the service and the database that can
//! cut every connection and refuse new ones: while it is cut, requests and `/readyz` answer 503
//! (the short acquire timeout, no pile-up behind a 5 s wait); once it is back, the service
//! answers again without a restart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::{Method, StatusCode};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::support::{Backend, Options, admin, spawn_app_with};

/// Forwards TCP to `upstream` until cut; a cut drops every live connection and refuses new ones
/// until restored.
struct CuttableProxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl CuttableProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0_u64);
        let (accept_up, accept_cuts) = (up.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut = accept_cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else { return };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { address, up, cuts }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_answers_503_and_heals_without_a_restart() {
    let database = verdict_pg_harness::test_database(&verdict_postgres::MIGRATOR).await;
    let url = url::Url::parse(database.url()).unwrap();
    let upstream: SocketAddr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432)).parse().unwrap();
    let proxy = CuttableProxy::start(upstream).await;
    let mut through = url.clone();
    through.set_port(Some(proxy.address.port())).unwrap();
    let options = Options { workers: false, database_url: Some(through.to_string()), ..Options::default() };
    let app = spawn_app_with(Backend::Postgres, options).await;
    let runs = "/v1/workspaces/1/tenants/10/runs";
    assert_eq!(app.request(Method::GET, runs, Some(&admin()), None).await.status, StatusCode::OK);

    proxy.cut();
    let token = admin();
    let replies = futures::future::join_all((0..16).map(|_| app.request(Method::GET, runs, Some(&token), None))).await;
    for reply in &replies {
        if reply.status != StatusCode::SERVICE_UNAVAILABLE {
            let logs = crate::support::captured_logs();
            let failures: Vec<&str> = logs.lines().filter(|l| l.contains("request failed")).collect();
            panic!("{}: {}", reply.text, failures.join("\n"));
        }
        assert_eq!(reply.body["error"]["code"], "unavailable");
    }
    assert_eq!(app.request(Method::GET, "/readyz", None, None).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.request(Method::GET, "/healthz", None, None).await.status, StatusCode::OK, "still alive");

    proxy.restore();
    // A pooled connection that died with the cut may fail one more call; the next one connects.
    let mut healed = false;
    for _ in 0..5 {
        if app.request(Method::GET, runs, Some(&admin()), None).await.status == StatusCode::OK {
            healed = true;
            break;
        }
    }
    assert!(healed, "answers again once the database is back, without a restart");
    assert_eq!(app.request(Method::GET, "/readyz", None, None).await.status, StatusCode::OK);
    app.stop().await;
    drop(database);
}
