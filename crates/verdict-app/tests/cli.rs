//! The `verdict` binary's one-shot subcommands, run as a user would: `migrate`, `token issue`,
//! `audit verify` (exit 0 valid, 1 broken, naming the first broken seq) and `audit export`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test fails by panicking

use std::process::{Command, Output};

use serde_json::Value;
use verdict_core::conformance::{connection, connection_event};
use verdict_core::domain::AuditAction;
use verdict_core::ports::ProviderConnectionStore;
use verdict_sqlite::SqliteStore;

fn verdict(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["--database-url", url, "--log-format", "json"])
        .args(args)
        .env_remove("VERDICT_JWT_HS256_SECRET")
        .env_remove("VERDICT_ENCRYPTION_KEY")
        .output()
        .unwrap()
}

async fn database_with_events(count: usize) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/verdict.db", dir.path().display());
    let migrated = verdict(&url, &["migrate"]);
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));
    let store = SqliteStore::connect(&url).await.unwrap();
    for _ in 0..count {
        let conn = connection(1, 10);
        let event = connection_event(&conn, AuditAction::ProviderConnectionCreated);
        store.create(conn, event).await.unwrap();
    }
    store.close().await;
    (dir, url)
}

async fn tamper(url: &str, sql: &'static str) {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    sqlx::query("DROP TRIGGER audit_logs_no_update").execute(&pool).await.unwrap();
    sqlx::query("DROP TRIGGER audit_logs_no_delete").execute(&pool).await.unwrap();
    sqlx::query(sql).execute(&pool).await.unwrap();
    pool.close().await;
}

/// Deletes rows as an attacker with write access would, foreign keys and guards off.
async fn tamper_freely(url: &str, sql: &'static str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut conn).await.unwrap();
    sqlx::query("DROP TRIGGER IF EXISTS audit_logs_no_delete").execute(&mut conn).await.unwrap();
    sqlx::query(sql).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
}

fn verification(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn audit_verify_and_export_report_an_intact_chain() {
    let (_dir, url) = database_with_events(3).await;
    let verified = verdict(&url, &["audit", "verify", "--workspace", "1"]);
    assert_eq!(verified.status.code(), Some(0), "{}", String::from_utf8_lossy(&verified.stderr));
    assert_eq!(
        verification(&verified),
        serde_json::json!({"valid": true, "events_checked": 3, "first_broken_seq": null})
    );
    let exported = verdict(&url, &["audit", "export", "--workspace", "1"]);
    assert!(exported.status.success());
    let seqs: Vec<u64> = String::from_utf8(exported.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);
    let empty = verdict(&url, &["audit", "verify", "--workspace", "2"]);
    assert_eq!(verification(&empty)["events_checked"], 0);
}

#[tokio::test]
async fn audit_verify_names_a_modified_event_and_exits_1() {
    let (_dir, url) = database_with_events(4).await;
    tamper(&url, "UPDATE audit_logs SET actor_id = 'mallory' WHERE workspace_id = 1 AND seq = 2").await;
    let verified = verdict(&url, &["audit", "verify", "--workspace", "1"]);
    assert_eq!(verified.status.code(), Some(1));
    assert_eq!(verification(&verified)["first_broken_seq"], 2);
    assert_eq!(verification(&verified)["valid"], false);
}

#[tokio::test]
async fn audit_verify_names_a_deleted_event() {
    let (_dir, url) = database_with_events(4).await;
    tamper(&url, "DELETE FROM audit_logs WHERE workspace_id = 1 AND seq = 3").await;
    let verified = verdict(&url, &["audit", "verify", "--workspace", "1"]);
    assert_eq!(verified.status.code(), Some(1));
    assert_eq!(verification(&verified)["first_broken_seq"], 3);
}

#[tokio::test]
async fn audit_verify_names_the_first_of_the_deleted_newest_events() {
    let (_dir, url) = database_with_events(5).await;
    tamper_freely(&url, "DELETE FROM audit_logs WHERE workspace_id = 1 AND seq >= 4").await;
    let verified = verdict(&url, &["audit", "verify", "--workspace", "1"]);
    assert_eq!(verified.status.code(), Some(1), "{}", String::from_utf8_lossy(&verified.stdout));
    assert_eq!(verification(&verified)["first_broken_seq"], 4);
    tamper_freely(&url, "DELETE FROM audit_logs WHERE workspace_id = 1").await;
    let verified = verdict(&url, &["audit", "verify", "--workspace", "1"]);
    assert_eq!((verified.status.code(), verification(&verified)["first_broken_seq"].clone()), (Some(1), 1.into()));
}

#[tokio::test]
async fn read_only_commands_never_change_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/verdict.db", dir.path().display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.close().await;
    for command in [["audit", "verify"], ["audit", "export"]] {
        let output = verdict(&url, &[command[0], command[1], "--workspace", "1"]);
        assert!(!output.status.success(), "an unmigrated database cannot be read");
    }
    use sqlx::Connection as _;
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&mut conn).await.unwrap();
    assert!(tables.is_empty(), "audit verify/export created {tables:?}");
}

#[test]
fn development_tokens_are_issued_with_the_generated_secret() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/verdict.db", dir.path().display());
    let issued = verdict(&url, &["token", "issue", "--workspace", "1", "--tenants", "10,11", "--ttl", "1h"]);
    assert!(issued.status.success(), "{}", String::from_utf8_lossy(&issued.stderr));
    let token = String::from_utf8(issued.stdout).unwrap();
    let secret = std::fs::read(dir.path().join("jwt-hs256.secret")).expect("development mode generated the secret");
    let key = verdict_http::auth::VerificationKey::Hs256(secret.trim_ascii().to_vec());
    let principal = verdict_http::auth::Authenticator::new(&key, None, None)
        .unwrap()
        .authenticate(token.trim())
        .expect("the token is signed with the generated secret");
    assert_eq!(principal.memberships[0].workspace_id.get(), 1);
    let wrong = verdict_http::auth::VerificationKey::Hs256(b"another-secret-another-secret-0123".to_vec());
    assert!(verdict_http::auth::Authenticator::new(&wrong, None, None).unwrap().authenticate(token.trim()).is_err());
    let refused = verdict("postgres://localhost/verdict", &["token", "issue", "--workspace", "1"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refusing to start"));
}
