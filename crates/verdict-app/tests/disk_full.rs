//! A full disk heals by itself (docs/architecture.md, "Faults"). The real `verdict` binary serves
//! on an embedded SQLite file in a 2 MiB tmpfs, mounted in a private mount namespace
//! (`unshare --user --map-root-user --mount --pid`, so no root is needed) and nearly filled by a filler
//! file: writes answer 503 once the disk is full, `/readyz` says 503 too, and after the filler is
//! removed the next write commits — same process, no restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use verdict_http::auth::{IssuedClaims, issue_hs256};

const JWT_SECRET: &str = "disk-full-hs256-secret-disk-full-0123";
const ENCRYPTION_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// The `verdict` process in its namespace, the pipe that tells it to make room, and its log.
struct Server {
    child: Child,
    make_room: Option<ChildStdin>,
    log: mpsc::Receiver<String>,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // `unshare --kill-child` takes the namespace's first process with it, and with it every
        // process of the PID namespace, `verdict` included.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Waits for a log line containing `text`.
    fn wait_for_log(&self, text: &str) {
        loop {
            let line = self.log.recv_timeout(Duration::from_secs(60)).expect("the server's log ended");
            if line.contains(text) {
                return;
            }
        }
    }
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    // The shell runs inside the namespace: mount, fill, serve, and remove the filler when told.
    let script = r#"
        set -e
        mount -t tmpfs -o size=2m tmpfs "$DIR"
        dd if=/dev/zero of="$DIR/filler" bs=1024 count=1400 2>/dev/null
        "$VERDICT" --database-url "sqlite://$DIR/data/verdict.db" --log-format json \
            --jwt-hs256-secret "$JWT" --encryption-key "$KEY" serve --listen 127.0.0.1:0 --no-workers &
        pid=$!
        read _
        rm -f "$DIR/filler"
        echo "room made" >&2
        wait $pid
    "#;
    let mut child = Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", script])
        .env("DIR", dir.path())
        .env("VERDICT", env!("CARGO_BIN_EXE_verdict"))
        .env("JWT", JWT_SECRET)
        .env("KEY", ENCRYPTION_KEY)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("this test needs `unshare` (util-linux) and user namespaces to mount a small tmpfs");
    // The log is read for as long as the process lives, so its writes never meet a closed pipe.
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (lines, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut address = None;
    let mut seen = Vec::new();
    while let Ok(line) = log.recv_timeout(Duration::from_secs(60)) {
        if let Ok(entry) = serde_json::from_str::<Value>(&line)
            && entry["message"] == "serving the Verdict API"
        {
            address = entry["address"].as_str().map(str::to_owned);
            break;
        }
        seen.push(line);
    }
    let address = address.unwrap_or_else(|| {
        panic!(
            "the server did not start in its tmpfs; this test needs `unshare --user --map-root-user --mount` \
             (util-linux, unprivileged user namespaces). Output:\n{}",
            seen.join("\n")
        )
    });
    let make_room = child.stdin.take();
    std::mem::forget(dir); // the tmpfs covers it; the namespace ends with the process
    Server { child, make_room, log, address }
}

fn token() -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = IssuedClaims {
        sub: "disk-full".into(),
        exp: now + 600,
        nbf: now - 5,
        aud: "verdict".into(),
        iss: None,
        memberships: json!([{"workspace_id": 1, "tenant_ids": "*", "capabilities": ["provider_connection.manage"]}]),
    };
    issue_hs256(JWT_SECRET.as_bytes(), &claims).unwrap()
}

async fn create_connection(client: &reqwest::Client, server: &Server, token: &str) -> reqwest::StatusCode {
    let body = json!({
        "display_name": "Contoso",
        "entra_tenant_id": "6f1c9b6e-3c4a-4c1e-9f5e-0a1b2c3d4e5f",
        "client_id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "client_secret": "Zq8~disk-full-client-secret.0123456789",
    });
    client
        .post(format!("http://{}/v1/workspaces/1/tenants/10/provider-connections", server.address))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn ready(client: &reqwest::Client, server: &Server) -> reqwest::StatusCode {
    client.get(format!("http://{}/readyz", server.address)).send().await.unwrap().status()
}

#[tokio::test]
async fn a_full_disk_answers_503_and_heals_without_a_restart() {
    let mut server = start();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let token = token();
    assert_eq!(ready(&client, &server).await, 200);
    let mut created = 0;
    let full = loop {
        let status = create_connection(&client, &server, &token).await;
        if status != 201 {
            break status;
        }
        created += 1;
        assert!(created < 5000, "the 2 MiB disk never filled up");
    };
    assert_eq!(full, 503, "a full disk is unavailability, after {created} writes");
    assert_eq!(create_connection(&client, &server, &token).await, 503, "still full");
    assert_eq!(ready(&client, &server).await, 503, "not ready while writes cannot commit");

    writeln!(server.make_room.as_mut().unwrap(), "go").unwrap();
    server.make_room.take();
    server.wait_for_log("room made");
    assert_eq!(ready(&client, &server).await, 200, "ready again once there is room, without a restart");
    for _ in 0..3 {
        assert_eq!(create_connection(&client, &server, &token).await, 201, "writes commit again");
    }
}
