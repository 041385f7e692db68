//! The forwarder copies every committed event once per pass, in `seq` order per workspace, and
//! after a crash between writes resumes from its cursor: events may repeat, none goes missing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use verdict_audit::{DurableWrite, Forwarder, ForwarderConfig, Sink};
use verdict_core::conformance::{connection, connection_event};
use verdict_core::domain::AuditAction;
use verdict_core::fakes::InMemoryStore;
use verdict_core::ports::ProviderConnectionStore;

async fn write_events(store: &InMemoryStore, per_workspace: &[(i64, usize)]) {
    for (workspace, count) in per_workspace {
        for _ in 0..*count {
            let conn = connection(*workspace, 10);
            let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
            store.create(conn, event).await.unwrap();
        }
    }
}

fn forwarder(store: &InMemoryStore, cursor: &Path, page: u32) -> Forwarder {
    let config = ForwarderConfig {
        sink: Sink::Stdout,
        cursor_file: cursor.to_path_buf(),
        poll: Duration::from_millis(10),
        page,
    };
    Forwarder::new(Arc::new(store.clone()), config).unwrap()
}

fn lines(bytes: &[u8]) -> Vec<(i64, u64)> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap();
            (event["workspace_id"].as_i64().unwrap(), event["seq"].as_u64().unwrap())
        })
        .collect()
}

fn assert_in_order(events: &[(i64, u64)]) {
    let mut last: BTreeMap<i64, u64> = BTreeMap::new();
    for (workspace, seq) in events {
        let previous = last.insert(*workspace, *seq).unwrap_or(0);
        assert!(*seq > previous, "workspace {workspace}: seq {seq} after {previous}");
    }
}

#[tokio::test]
async fn every_event_is_forwarded_once_in_seq_order_per_workspace() {
    let store = InMemoryStore::new();
    write_events(&store, &[(1, 7), (2, 3)]).await;
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("forwarder.cursor");
    let mut out = Vec::new();
    let mut fwd = forwarder(&store, &cursor, 3);
    assert_eq!(fwd.forward_to(&mut out).await.unwrap(), 10);
    let events = lines(&out);
    assert_in_order(&events);
    assert_eq!(events.len(), 10);
    assert_eq!(fwd.forward_to(&mut out).await.unwrap(), 0, "nothing new, nothing written");
    write_events(&store, &[(2, 2), (3, 1)]).await;
    let mut more = Vec::new();
    assert_eq!(forwarder(&store, &cursor, 3).forward_to(&mut more).await.unwrap(), 3, "a restart resumes");
    assert_eq!(lines(&more), [(2, 4), (2, 5), (3, 1)]);
    let event: Value = serde_json::from_str(String::from_utf8_lossy(&out).lines().next().unwrap()).unwrap();
    assert!(event["hash"].is_string() && event["prev_hash"].is_string(), "lines are the API's event objects");
}

/// A sink that dies after a number of lines, like a process killed mid-write.
struct DiesAfter {
    written: Vec<u8>,
    lines_left: usize,
}

impl Write for DiesAfter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.lines_left == 0 {
            return Err(io::Error::other("killed"));
        }
        self.written.extend_from_slice(bytes);
        self.lines_left -= bytes.iter().filter(|b| **b == b'\n').count();
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl DurableWrite for DiesAfter {
    fn make_durable(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_forwarder_killed_between_writes_resumes_without_losing_an_event() {
    let store = InMemoryStore::new();
    write_events(&store, &[(1, 8), (2, 5)]).await;
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("forwarder.cursor");
    for dies_after in [0, 1, 4, 5, 9] {
        let _ = std::fs::remove_file(&cursor);
        let mut dying = DiesAfter { written: Vec::new(), lines_left: dies_after };
        assert!(forwarder(&store, &cursor, 4).forward_to(&mut dying).await.is_err());
        let mut resumed = Vec::new();
        forwarder(&store, &cursor, 4).forward_to(&mut resumed).await.unwrap();
        let before = lines(&dying.written);
        let after = lines(&resumed);
        assert_in_order(&before);
        assert_in_order(&after);
        let all: BTreeSet<(i64, u64)> = before.iter().chain(&after).copied().collect();
        let expected: BTreeSet<(i64, u64)> = (1..=8).map(|s| (1, s)).chain((1..=5).map(|s| (2, s))).collect();
        assert_eq!(all, expected, "killed after {dies_after} lines: every event arrives");
    }
}

#[tokio::test]
async fn a_file_sink_is_appended_to_across_restarts() {
    let store = InMemoryStore::new();
    write_events(&store, &[(1, 2)]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.jsonl");
    let config = |cursor: &str| ForwarderConfig {
        sink: Sink::File(file.clone()),
        cursor_file: dir.path().join(cursor),
        poll: Duration::from_millis(10),
        page: 100,
    };
    Forwarder::new(Arc::new(store.clone()), config("c")).unwrap().forward_pending().await.unwrap();
    write_events(&store, &[(1, 1)]).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(Forwarder::new(Arc::new(store.clone()), config("c")).unwrap().run(async {
        let _ = stop_rx.await;
    }));
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop_tx.send(()).unwrap();
    running.await.unwrap();
    assert_eq!(lines(&std::fs::read(&file).unwrap()), [(1, 1), (1, 2), (1, 3)]);
}
