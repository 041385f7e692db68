//! Throughput of the adapter against the database's own limit on the same server: start with a
//! new identity, deduplicated start, claim, the run view's reads and a page of 50 runs, each by 8
//! concurrent clients for a few seconds, first through `PgStore`, then the same statements
//! through `pgbench`; each line reports the adapter/pgbench ratio and each client's CPU per
//! operation (this process's for the adapter, pgbench's own for pgbench; the database's work is in
//! neither). The two reads also run through
//! sqlx alone (the same statements on a connection of each client's own, rows counted, not
//! decoded): the driver's own limit, which bounds what any code above it can reach
//! (docs/benchmarks.md, "Where a read's time goes"). Run with
//! `cargo bench -p verdict-postgres --bench throughput`; uses `DATABASE_URL` when set, else the
//! harness's own server (see `verdict-pg-harness`).
//!
//! pgbench can only make integers, so its scripts compute the values the adapter binds —
//! UUIDs (`gen_random_uuid()`), identity hashes (`lpad(n, 64, '0')`), timestamps (`now()`) — in
//! SQL; the statements, indexes, constraints and triggers they exercise are the adapter's own.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sqlx::Connection as _;
use verdict_core::conformance::{Stores, identity, mixed_checks, new_run, now, run_to_completion, started};
use verdict_core::domain::{LeaseOwner, PageLimit, RunId, RunListQuery};
use verdict_core::ports::{RunQueue, RunStore, StartOutcome};
use verdict_postgres::{MIGRATOR, PgConfig, PgStore, queries};

const CLIENTS: usize = 8;
const SECONDS: u64 = 5;
/// Active identities the deduplicated starts hit.
const ACTIVE_IDENTITIES: i64 = 1_000;
/// Queued runs seeded before each claim measurement (more than 5 s of claims can take).
const QUEUED: i64 = 150_000;

/// What the adapter binds, as pgbench computes it: `(placeholder, SQL expression)`.
type Params<'a> = &'a [(&'a str, &'a str)];

const START_PARAMS: Params<'static> = &[
    ("$1", "gen_random_uuid()"),
    ("$2", ":ws"),
    ("$3", ":tenant"),
    ("$4", "NULL"),
    ("$5", "'provider.connection.check'"),
    ("$6", "lpad(CAST(:ident AS text), 64, '0')"),
    ("$7", "'user-42'"),
    ("$8", "now()"),
];

const APPEND_PARAMS: Params<'static> = &[
    ("$1", ":ws"),
    ("$2", "ARRAY[gen_random_uuid()]"),
    ("$3", "ARRAY[:head_seq + 1]"),
    ("$4", "ARRAY[now()]"),
    ("$5", "ARRAY[:tenant]"),
    ("$6", "ARRAY['user']"),
    ("$7", "ARRAY['user-42']"),
    ("$8", "ARRAY['verification.started']"),
    ("$9", "ARRAY['operation_run']"),
    ("$10", "ARRAY['bench']"),
    ("$11", "ARRAY['{\"flow\": \"provider.connection.check\", \"provider_connection_id\": null}']"),
    ("$12", "ARRAY[:head_hash]"),
    ("$13", "ARRAY['5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592']"),
];

/// Replaces `$n` placeholders (longest first, so `$1` does not eat `$13`) with expressions.
fn substitute(sql: &str, params: Params<'_>) -> String {
    let mut ordered = params.to_vec();
    ordered.sort_by_key(|(placeholder, _)| std::cmp::Reverse(placeholder.len()));
    ordered.iter().fold(sql.to_owned(), |sql, (placeholder, expr)| sql.replace(placeholder, expr))
}

fn start_script(new_identity: bool) -> String {
    let mut script = String::new();
    if new_identity {
        let _ = writeln!(script, "\\set ws random(1, 64)\n\\set tenant random(1, 1000000)");
        let _ = writeln!(script, "\\set ident random(1000000000, 999999999999)");
    } else {
        let _ = writeln!(script, "\\set ws 1\n\\set tenant random(1, {ACTIVE_IDENTITIES})\n\\set ident :tenant");
    }
    let _ = writeln!(script, "BEGIN;\n{};", substitute(queries::INSERT_QUEUED, START_PARAMS));
    if new_identity {
        let lock = substitute(queries::LOCK_CHAIN_HEAD, &[("$1", ":ws"), ("$2", "repeat('0', 64)")]);
        let _ = writeln!(script, "{lock} \\gset head_");
        let _ = writeln!(script, "{};\nCOMMIT;", substitute(queries::APPEND_AUDIT_EVENTS, APPEND_PARAMS));
    } else {
        let active =
            substitute(queries::ACTIVE_RUN, &[("$1", ":tenant"), ("$2", "lpad(CAST(:ident AS text), 64, '0')")]);
        let _ = writeln!(script, "{active};\nROLLBACK;");
    }
    script
}

/// The run view's three reads (scope, run, acknowledgements), as the adapter sends them, each
/// bound to the run's id.
const RUN_VIEW_READS: [&str; 3] =
    [queries::RUN_SCOPE, queries::RUN_BY_ID, verdict_sql::statements::ACKNOWLEDGEMENTS_OF_RUN];

/// [`RUN_VIEW_READS`] of `run`, for pgbench.
fn run_view_script(run: RunId) -> String {
    let id = format!("CAST('{}' AS uuid)", run.as_uuid());
    RUN_VIEW_READS.iter().map(|sql| format!("{};\n", substitute(sql, &[("$1", &id)]))).collect()
}

fn claim_script() -> String {
    let claim = substitute(
        queries::CLAIM_NEXT,
        &[("$1", "'pgbench'"), ("$2", "now()"), ("$3", "now() + interval '60 seconds'")],
    );
    format!("{claim};\n")
}

/// A measurement: operations per second, and the client's CPU per operation (this process's,
/// or pgbench's own: what the database did is not in it), microseconds.
#[derive(Debug, Clone, Copy)]
struct Measured {
    rate: f64,
    client_cpu_us: Option<f64>,
}

/// CPU seconds (user + system) process `pid` (a number, or `self`) has used, and its state letter
/// (`Z` once it exited and waits to be reaped: its figures are final then), from `/proc`.
fn process_cpu(pid: &str) -> Option<(char, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((fields.first()?.chars().next()?, ticks / 100.0))
}

/// Runs `op` from `CLIENTS` tasks for `SECONDS`.
async fn drive<F, Fut>(op: F) -> anyhow::Result<Measured>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let cpu_before = process_cpu("self");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(SECONDS);
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let (op, done) = (op.clone(), done.clone());
        tasks.spawn(async move {
            let mut i = 0;
            while Instant::now() < deadline {
                op(client * 1_000_000_000 + i).await?;
                done.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            anyhow::Ok(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    let operations = done.load(Ordering::Relaxed) as f64;
    let cpu = process_cpu("self").zip(cpu_before).map(|((_, after), (_, before))| after - before);
    Ok(Measured {
        rate: operations / started.elapsed().as_secs_f64(),
        client_cpu_us: cpu.map(|seconds| seconds * 1e6 / operations.max(1.0)),
    })
}

/// Runs `script` with pgbench like the adapter runs it (8 clients, prepared statements).
/// pgbench's own CPU is read from `/proc` once it has exited and before it is reaped, so its
/// output goes to files (it never waits on a pipe while this thread watches it).
fn pgbench(pgbench: &Path, url: &str, dir: &Path, name: &str, script: &str) -> anyhow::Result<Measured> {
    let file = dir.join(format!("{name}.sql"));
    std::fs::write(&file, script)?;
    let (stdout_path, stderr_path) = (file.with_extension("out"), file.with_extension("err"));
    let mut child = Command::new(pgbench)
        .args(["-n", "-M", "prepared", "-c", &CLIENTS.to_string(), "-j", "2", "-T", &SECONDS.to_string(), "-f"])
        .arg(&file)
        .arg(url)
        .stdout(std::fs::File::create(&stdout_path)?)
        .stderr(std::fs::File::create(&stderr_path)?)
        .spawn()
        .context("run pgbench")?;
    let pid = child.id().to_string();
    let cpu = loop {
        match process_cpu(&pid) {
            Some(('Z', seconds)) => break Some(seconds),
            Some(_) => std::thread::sleep(Duration::from_millis(10)),
            None => break None,
        }
    };
    let status = child.wait()?;
    let stdout = std::fs::read_to_string(&stdout_path)?;
    if !status.success() {
        bail!("pgbench failed: {stdout}{}", std::fs::read_to_string(&stderr_path)?);
    }
    let number = |prefix: &str| -> Option<f64> {
        stdout.lines().find_map(|line| line.strip_prefix(prefix)?.split_whitespace().next()?.parse().ok())
    };
    let rate = number("tps = ").with_context(|| format!("no tps in pgbench output: {stdout}"))?;
    let transactions = number("number of transactions actually processed: ");
    Ok(Measured { rate, client_cpu_us: cpu.zip(transactions).map(|(seconds, n)| seconds * 1e6 / n.max(1.0)) })
}

async fn reset(store: &PgStore) -> anyhow::Result<()> {
    sqlx::raw_sql(concat!(
        "TRUNCATE operation_runs, verification_check_acknowledgements, webhook_deliveries, ",
        "audit_logs, audit_chain_heads"
    ))
    .execute(store.pool())
    .await?;
    analyze(store).await
}

/// `QUEUED` queued runs with UUIDv7-shaped ids (the adapter reads only v7), oldest first.
async fn seed_queue(store: &PgStore) -> anyhow::Result<()> {
    reset(store).await?;
    let seed = format!(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
         created_at) SELECT overlay(gen_random_uuid()::text PLACING '7' FROM 15 FOR 1)::uuid, 1, g, \
         'provider.connection.check', lpad(g::text, 64, '0'), 'queued', 'pending', \
         now() - ({QUEUED} - g) * interval '1 millisecond' FROM generate_series(1, {QUEUED}) AS g"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(seed)).execute(store.pool()).await?;
    analyze(store).await
}

/// VACUUM refuses to run in a transaction block, so it gets a statement of its own.
async fn analyze(store: &PgStore) -> anyhow::Result<()> {
    sqlx::raw_sql("VACUUM ANALYZE operation_runs").execute(store.pool()).await?;
    Ok(())
}

fn report(what: &str, adapter: Measured, pgbench: Option<Measured>) {
    let cpu = |m: Measured| m.client_cpu_us.map_or_else(|| "?".to_owned(), |us| format!("{us:.1}"));
    let rate = adapter.rate;
    match pgbench {
        Some(limit) => println!(
            "{what:<24} adapter {rate:>8.0} ops/s   pgbench {:>8.0} tps   adapter/pgbench = {:.2}   \
             client CPU µs/op: adapter {}, pgbench {}",
            limit.rate,
            rate / limit.rate,
            cpu(adapter),
            cpu(limit),
        ),
        None => println!(
            "{what:<24} adapter {rate:>8.0} ops/s   client CPU {} µs/op   (pgbench not installed: no ratio)",
            cpu(adapter)
        ),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let database = verdict_pg_harness::test_database(&MIGRATOR).await;
    let config = PgConfig { max_connections: CLIENTS as u32, ..PgConfig::default() };
    let store = PgStore::connect(database.url(), config).await?;
    let pgbench_bin = verdict_pg_harness::find_pg_binary("pgbench");
    let scripts = tempfile::tempdir()?;
    let bench = |name: &str, script: String| match &pgbench_bin {
        Some(bin) => pgbench(bin, database.url(), scripts.path(), name, &script).map(Some),
        None => Ok(None),
    };
    println!("verdict-postgres throughput: {CLIENTS} concurrent clients, {SECONDS} s per measurement, one database");

    // Start, new identity: insert + audit append, one transaction.
    let s = store.clone();
    let adapter = drive(move |n| {
        let store = s.clone();
        async move {
            let workspace = i64::try_from(n % 64)? + 1;
            let new = new_run(&identity(workspace, i64::try_from(n)? + 1, None), now());
            let event = started(&new);
            match store.start_or_deduplicate(new, event).await? {
                StartOutcome::Created(_) => Ok(()),
                StartOutcome::Deduplicated(_) => bail!("a new identity was deduplicated"),
            }
        }
    })
    .await?;
    reset(&store).await?;
    report("start, new identity", adapter, bench("start_new", start_script(true))?);

    // Start, deduplicated: the insert finds the active run, which is read back.
    for t in 1..=ACTIVE_IDENTITIES {
        let new = new_run(&identity(1, t, None), now());
        let event = started(&new);
        store.start_or_deduplicate(new, event).await?;
    }
    let s = store.clone();
    let adapter = drive(move |n| {
        let store = s.clone();
        async move {
            let t = i64::try_from(n)? % ACTIVE_IDENTITIES + 1;
            let new = new_run(&identity(1, t, None), now());
            let event = started(&new);
            match store.start_or_deduplicate(new, event).await? {
                StartOutcome::Deduplicated(_) => Ok(()),
                StartOutcome::Created(_) => bail!("an active identity was not deduplicated"),
            }
        }
    })
    .await?;
    reset(&store).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "INSERT INTO operation_runs (id, workspace_id, tenant_id, type, run_identity_hash, status, outcome, \
         created_at) SELECT gen_random_uuid(), 1, t, 'provider.connection.check', lpad(t::text, 64, '0'), \
         'queued', 'pending', now() FROM generate_series(1, {ACTIVE_IDENTITIES}) AS t"
    )))
    .execute(store.pool())
    .await?;
    report("start, deduplicated", adapter, bench("start_dedup", start_script(false))?);

    // Claim: the oldest queued run, under SKIP LOCKED.
    seed_queue(&store).await?;
    let s = store.clone();
    let adapter = drive(move |n| {
        let store = s.clone();
        async move {
            let owner = LeaseOwner::parse(format!("bench-{}", n / 1_000_000_000))?;
            let at = now();
            match store.claim_next(&owner, at, at + chrono::Duration::seconds(60)).await? {
                Some(_) => Ok(()),
                None => bail!("the seeded queue ran dry: raise QUEUED"),
            }
        }
    })
    .await?;
    seed_queue(&store).await?;
    let limit = bench("claim", claim_script())?;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM operation_runs WHERE status = 'queued'")
        .fetch_one(store.pool())
        .await?;
    if left == 0 {
        bail!("pgbench drained the seeded queue: raise QUEUED");
    }
    report("claim", adapter, limit);

    run_view(&store, database.url(), &bench).await?;
    run_list(&store, database.url(), &bench).await?;
    store.close().await;
    Ok(())
}

/// Runs a pgbench script by name: its tps, `None` without pgbench.
type Bench<'a> = &'a dyn Fn(&str, String) -> anyhow::Result<Option<Measured>>;

/// An emptied database holding one completed run, and the stores on it.
async fn one_completed_run(store: &PgStore) -> anyhow::Result<(Stores, verdict_core::domain::Run)> {
    reset(store).await?;
    let stores = Stores::from_single(store.clone(), None);
    let run = run_to_completion(&stores, &identity(1, 1, None), mixed_checks()).await;
    Ok((stores, run))
}

/// The run view's reads: through the adapter (`get_in_context`, rows decoded into the domain),
/// through sqlx alone on a connection per client, and through pgbench.
async fn run_view(store: &PgStore, url: &str, bench: Bench<'_>) -> anyhow::Result<()> {
    let (stores, run) = one_completed_run(store).await?;
    for key in ["b", "c"] {
        let ack = verdict_core::conformance::acknowledgement(&run, key);
        let event = verdict_core::conformance::acknowledged(&ack);
        stores.acknowledgements.acknowledge(ack, event).await?;
    }
    analyze(store).await?;
    let id = run.id;

    let s = store.clone();
    let adapter = drive(move |_| {
        let store = s.clone();
        async move {
            let visible = |_| true;
            match store.get_in_context(id, &visible).await? {
                Some(found) if found.acknowledgements.len() == 2 => Ok(()),
                _ => bail!("the run view's run or acknowledgements are missing"),
            }
        }
    })
    .await?;
    let limit = bench("run_view", run_view_script(id))?;
    report("run view", adapter, limit);

    let uuid = *id.as_uuid();
    // One row each for the scope and the run, two acknowledgements.
    let statements = RUN_VIEW_READS
        .iter()
        .zip([1, 1, 2])
        .map(|(sql, rows)| ((*sql).to_owned(), vec![Bind::Uuid(uuid)], rows))
        .collect();
    let driver = sqlx_alone(url, statements).await?;
    report("run view, sqlx alone", driver, limit);
    Ok(())
}

/// Completed runs of one tenant, copies of one run with their own ids and times.
const LISTED_RUNS: i64 = 200;

/// A page of 50 runs of a tenant, newest first: through the adapter (rows decoded into the
/// domain), through sqlx alone on a connection per client, and through pgbench.
async fn run_list(store: &PgStore, url: &str, bench: Bench<'_>) -> anyhow::Result<()> {
    let (_, run) = one_completed_run(store).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO operation_runs SELECT (jsonb_populate_record(r, jsonb_build_object(\
         'id', overlay(gen_random_uuid()::text PLACING '7' FROM 15 FOR 1), \
         'created_at', r.created_at - g * interval '1 second'))).* \
         FROM operation_runs AS r, generate_series(1, {LISTED_RUNS}) AS g WHERE r.id = $1"
    )))
    .bind(run.id.as_uuid())
    .execute(store.pool())
    .await?;
    analyze(store).await?;
    let query = RunListQuery {
        workspace_id: run.identity.workspace_id,
        tenant_id: run.identity.tenant_id,
        flow: None,
        status: None,
        provider_connection_id: None,
        limit: PageLimit::new(50)?,
        after: None,
    };
    let sql = queries::list_runs("", &query).sql().as_str().to_owned();
    let (workspace, tenant, limit) =
        (query.workspace_id.get().to_string(), query.tenant_id.get().to_string(), query.fetch_limit().to_string());
    let script = substitute(&sql, &[("$1", &workspace), ("$2", &tenant), ("$3", &limit)]);
    let s = store.clone();
    let q = query.clone();
    let adapter = drive(move |_| {
        let (store, query) = (s.clone(), q.clone());
        async move {
            let page = store.list(query).await?;
            if page.runs.len() != 50 {
                bail!("a page of {} runs instead of 50", page.runs.len());
            }
            Ok(())
        }
    })
    .await?;
    let limit = bench("run_list", format!("{script};\n"))?;
    report("run list, page of 50", adapter, limit);
    let binds =
        vec![Bind::Int(query.workspace_id.get()), Bind::Int(query.tenant_id.get()), Bind::Int(query.fetch_limit())];
    let driver = sqlx_alone(url, vec![(sql, binds, 51)]).await?;
    report("run list, sqlx alone", driver, limit);
    Ok(())
}

/// A value bound to a statement run by sqlx alone.
#[derive(Debug, Clone, Copy)]
enum Bind {
    Uuid(uuid::Uuid),
    Int(i64),
}

/// Runs `statements` (SQL, binds, rows expected) one after another on a connection of each
/// client's own, through sqlx with nothing above it: rows arrive as `PgRow`s and are counted,
/// not decoded.
async fn sqlx_alone(url: &str, statements: Vec<(String, Vec<Bind>, usize)>) -> anyhow::Result<Measured> {
    let mut connections = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        connections.push(Arc::new(tokio::sync::Mutex::new(sqlx::PgConnection::connect(url).await?)));
    }
    let (connections, statements) = (Arc::new(connections), Arc::new(statements));
    drive(move |n| {
        let (connection, statements) = (connections[n / 1_000_000_000].clone(), statements.clone());
        async move {
            let mut connection = connection.lock().await;
            for (sql, binds, expected) in statements.iter() {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for bind in binds {
                    query = match *bind {
                        Bind::Uuid(uuid) => query.bind(uuid),
                        Bind::Int(int) => query.bind(int),
                    };
                }
                let rows = query.fetch_all(&mut *connection).await?;
                if rows.len() != *expected {
                    bail!("{} rows instead of {expected}: {sql}", rows.len());
                }
            }
            Ok(())
        }
    })
    .await
}
