//! The cost guard: what the core path costs PostgreSQL and Redis, counted, never timed, and
//! compared with the budgets in `bench/budgets.toml`. Adding a statement, a row, an index write
//! (WAL) or a Redis command to the life of a certificate, or to a status read, fails this test
//! until its budget is raised on purpose, with the reason in the commit.
//!
//! Counters: `pg_stat_statements` of this test's own database (statements, rows, WAL bytes:
//! exact per statement, whatever other tests run beside it), `pg_stat_user_tables` of this
//! database (rows inserted, updated, HOT-updated, deleted per table: flushed when the app's
//! connections close), `pg_stat_database` (commits), and `INFO commandstats` of a Redis server
//! started for this test alone.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use quire::Roles;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Row};

use crate::helpers::{TestApp, b64, certificate, free_port, jpeg_photo, production_config};

const BUDGETS: &str = include_str!("../../../bench/budgets.toml");

/// Jobs measured (after a warm-up that compiles the template and fills the caches).
const JOBS: usize = 200;
const READS: usize = 1_000;

/// A Redis server of this test's own, so its command counts are this test's alone.
struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start() -> PrivateRedis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (deploy/test-services.sh installs it)");
        PrivateRedis { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn connection(&self) -> redis::aio::MultiplexedConnection {
        let client = redis::Client::open(self.url()).unwrap();
        for _ in 0..100 {
            if let Ok(c) = client.get_multiplexed_async_connection().await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the private redis-server never answered");
    }

    /// Commands run since the last reset, by name.
    async fn commands(&self) -> BTreeMap<String, u64> {
        let mut c = self.connection().await;
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut c)
            .await
            .unwrap();
        let mut out = BTreeMap::new();
        for line in info.lines() {
            let Some((name, rest)) = line
                .strip_prefix("cmdstat_")
                .and_then(|l| l.split_once(':'))
            else {
                continue;
            };
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            out.insert(name.to_owned(), calls);
        }
        // The counting itself.
        out.remove("info");
        out.remove("config|resetstat");
        out
    }

    async fn reset(&self) {
        let mut c = self.connection().await;
        let _: () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut c)
            .await
            .unwrap();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection to the test's database for counting; its own statements carry the marker
/// `cost-observer` and are left out.
struct Observer {
    conn: sqlx::PgConnection,
    /// Transactions of its own since the last reset (each statement is one).
    own: i64,
}

impl Observer {
    async fn connect(url: &str) -> Observer {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .execute(&mut conn)
            .await
            .expect("pg_stat_statements must be loaded (deploy/test-services.sh configures it)");
        Observer { conn, own: 0 }
    }

    async fn reset(&mut self) {
        sqlx::raw_sql(
            "SELECT /* cost-observer */ pg_stat_statements_reset(0, \
             (SELECT oid FROM pg_database WHERE datname = current_database()), 0); \
             SELECT /* cost-observer */ pg_stat_reset();",
        )
        .execute(&mut self.conn)
        .await
        .unwrap();
        self.own = 0;
    }

    async fn succeeded(&mut self) -> i64 {
        self.own += 1;
        sqlx::query_scalar(
            "SELECT /* cost-observer */ count(*) FROM jobs WHERE status = 'succeeded'",
        )
        .fetch_one(&mut self.conn)
        .await
        .unwrap()
    }

    /// Waits until no other connection to this database is open (their statistics are
    /// flushed when they close).
    async fn wait_alone(&mut self) {
        for _ in 0..200 {
            self.own += 1;
            let others: i64 = sqlx::query_scalar(
                "SELECT /* cost-observer */ count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
            )
            .fetch_one(&mut self.conn)
            .await
            .unwrap();
            if others == 0 {
                // A closing backend flushes its counters as it exits.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the app's connections never closed");
    }

    /// (top-level statements, nested statements, rows, WAL bytes) since the reset, and the
    /// top-level statements by text for the report.
    async fn statements(&mut self) -> (f64, f64, f64, f64, Vec<(i64, String)>) {
        let rows = sqlx::query(
            "SELECT /* cost-observer */ toplevel, calls, rows, wal_bytes::float8 AS wal, query \
             FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND query NOT LIKE '%cost-observer%'",
        )
        .fetch_all(&mut self.conn)
        .await
        .unwrap();
        let (mut top, mut nested, mut affected, mut wal) = (0.0, 0.0, 0.0, 0.0);
        let mut by_text = Vec::new();
        for r in rows {
            let calls: i64 = r.get("calls");
            if r.get::<bool, _>("toplevel") {
                top += calls as f64;
                let text: String = r.get("query");
                by_text.push((calls, text.split_whitespace().collect::<Vec<_>>().join(" ")));
            } else {
                nested += calls as f64;
            }
            affected += r.get::<i64, _>("rows") as f64;
            wal += r.get::<f64, _>("wal");
        }
        by_text.sort_by_key(|b| std::cmp::Reverse(b.0));
        (top, nested, affected, wal, by_text)
    }

    /// Rows inserted, updated, HOT-updated and deleted per table since the reset.
    async fn tables(&mut self) -> BTreeMap<String, [i64; 4]> {
        let rows = sqlx::query(
            "SELECT /* cost-observer */ relname::text AS name, n_tup_ins, n_tup_upd, \
             n_tup_hot_upd, n_tup_del FROM pg_stat_user_tables",
        )
        .fetch_all(&mut self.conn)
        .await
        .unwrap();
        rows.into_iter()
            .map(|r| {
                (
                    r.get("name"),
                    [
                        r.get("n_tup_ins"),
                        r.get("n_tup_upd"),
                        r.get("n_tup_hot_upd"),
                        r.get("n_tup_del"),
                    ],
                )
            })
            .filter(|(_, n)| n.iter().any(|v| *v > 0))
            .collect()
    }

    /// Transactions committed since the reset, less the observer's own.
    async fn commits(&mut self) -> i64 {
        let all: i64 = sqlx::query_scalar(
            "SELECT /* cost-observer */ xact_commit FROM pg_stat_database \
             WHERE datname = current_database()",
        )
        .fetch_one(&mut self.conn)
        .await
        .unwrap();
        all - self.own
    }
}

/// Compares `measured` with the budgets of `section`; every line printed, every excess listed.
fn check(section: &str, measured: &[(&str, f64)], report: &mut String, over: &mut Vec<String>) {
    let budgets: toml::Table = BUDGETS.parse().expect("bench/budgets.toml parses");
    let budget = budgets
        .get(section)
        .and_then(|t| t.as_table())
        .unwrap_or_else(|| panic!("bench/budgets.toml has no [{section}]"));
    report.push_str(&format!("[{section}]\n"));
    for (name, value) in measured {
        let limit = budget
            .get(*name)
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
            .unwrap_or_else(|| panic!("bench/budgets.toml [{section}] has no `{name}`"));
        let verdict = if *value > limit + 1e-9 {
            over.push(format!("{section}.{name}: {value:.2} > budget {limit}"));
            "OVER BUDGET"
        } else {
            "ok"
        };
        report.push_str(&format!(
            "  {name:<24} {value:>10.2}  budget {limit:>8}  {verdict}\n"
        ));
    }
}

#[tokio::test]
async fn the_core_path_stays_within_its_budgets() {
    let redis = PrivateRedis::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = production_config(&dir).await;
    // Default settings, as deployed: the test helpers' faster rescue and disabled rate limits
    // would change what is counted.
    let defaults = shared::config::Config::default();
    config.rescue = defaults.rescue.clone();
    config.retry = defaults.retry.clone();
    config.rate_limit = defaults.rate_limit.clone();
    config.redis_url = Some(shared::config::Secret::new(redis.url()));
    let url = config.database_url.as_ref().unwrap().expose().clone();
    // Nested statements (the triggers') are counted too.
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} SET pg_stat_statements.track = 'all'",
        url.rsplit('/').next().unwrap()
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    drop(admin);
    let mut observer = Observer::connect(&url).await;

    // Phase 1: certificates with a photo, submitted over HTTP and run to success by one
    // process holding every role.
    let app = TestApp::spawn_config(config.clone(), dir, &[Roles::ALL]).await;
    let key = app.new_key("cost").await;
    let mut body = certificate("Ada Lovelace");
    body["photo"] = json!(b64(&jpeg_photo()));
    let submit_all = |n: usize| {
        let (app, key, body) = (&app, &key, &body);
        async move {
            let mut ids = Vec::new();
            for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
                let answers = futures::future::join_all(chunk.iter().map(|_| async {
                    let response = app.submit(key, body).await;
                    assert_eq!(response.status(), StatusCode::ACCEPTED);
                    response.json::<Value>().await.unwrap()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                }))
                .await;
                ids.extend(answers);
            }
            ids
        }
    };
    submit_all(10).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    while observer.succeeded().await < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "warm-up never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    observer.reset().await;
    redis.reset().await;
    let ids = submit_all(JOBS).await;
    while observer.succeeded().await < (10 + JOBS) as i64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs never finished"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let redis_jobs = redis.commands().await;
    app.stop().await;
    observer.wait_alone().await;
    let (top, nested, rows, wal, by_text) = observer.statements().await;
    let tables = observer.tables().await;
    let commits = observer.commits().await;
    let n = JOBS as f64;
    let total = |i: usize| tables.values().map(|t| t[i]).sum::<i64>() as f64 / n;
    let mut report = format!("cost of one certificate (mean of {JOBS}):\n");
    let mut over = Vec::new();
    check(
        "certificate",
        &[
            ("statements", top / n),
            ("trigger_statements", nested / n),
            ("commits", commits as f64 / n),
            ("rows", rows / n),
            ("rows_inserted", total(0)),
            ("rows_updated", total(1)),
            ("rows_updated_not_hot", total(1) - total(2)),
            ("rows_deleted", total(3)),
            ("wal_bytes", wal / n),
            (
                "redis_commands",
                redis_jobs.values().sum::<u64>() as f64 / n,
            ),
        ],
        &mut report,
        &mut over,
    );
    report.push_str("  per table (inserted, updated, HOT, deleted per job):\n");
    for (table, t) in &tables {
        report.push_str(&format!(
            "    {table:<20} {:>6.2} {:>6.2} {:>6.2} {:>6.2}\n",
            t[0] as f64 / n,
            t[1] as f64 / n,
            t[2] as f64 / n,
            t[3] as f64 / n
        ));
    }
    report.push_str("  statements (calls in all):\n");
    for (calls, text) in by_text.iter().take(25) {
        report.push_str(&format!(
            "    {calls:>6}  {}\n",
            &text[..text.len().min(110)]
        ));
    }
    report.push_str(&format!("  redis: {redis_jobs:?}\n"));

    // Phase 2: status reads of finished jobs, against an API process alone.
    let dir = tempfile::tempdir().unwrap();
    let mut api_config = config.clone();
    api_config.data_dir = dir.path().to_path_buf();
    let api = quire::App::start(api_config, Roles::API, false)
        .await
        .expect("the API starts");
    let base = format!("http://{}", api.addr.unwrap());
    let client = reqwest::Client::new();
    // Warm: the key, the connections.
    let first = client
        .get(format!("{base}/v1/jobs/{}", ids[0]))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    observer.reset().await;
    redis.reset().await;
    for i in 0..READS {
        let response = client
            .get(format!("{base}/v1/jobs/{}", ids[i % ids.len()]))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let redis_reads = redis.commands().await;
    let (top, _, rows, _, by_text) = observer.statements().await;
    api.stop().await.unwrap();
    let n = READS as f64;
    report.push_str(&format!("cost of one status read (mean of {READS}):\n"));
    check(
        "status_read",
        &[
            ("statements", top / n),
            ("rows", rows / n),
            (
                "redis_commands",
                redis_reads.values().sum::<u64>() as f64 / n,
            ),
        ],
        &mut report,
        &mut over,
    );
    for (calls, text) in by_text.iter().take(10) {
        report.push_str(&format!(
            "    {calls:>6}  {}\n",
            &text[..text.len().min(110)]
        ));
    }
    report.push_str(&format!("  redis: {redis_reads:?}\n"));
    println!("{report}");
    assert!(
        over.is_empty(),
        "over budget (bench/budgets.toml; raising a budget is a decision: say why in the commit):\n{}\n\n{report}",
        over.join("\n")
    );
}

/// A database on this host is spoken to without TLS (libpq's default `prefer` used it
/// whenever the server offered it, as Debian's does: every message encrypted on both ends of
/// a loopback connection); a URL that asks for `sslmode` keeps it.
#[tokio::test]
async fn loopback_database_connections_skip_tls() {
    let dir = tempfile::tempdir().unwrap();
    let config = production_config(&dir).await;
    let settings = config.db_settings();
    let mut conn = sqlx::PgConnection::connect(settings.url.expose())
        .await
        .unwrap();
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!ssl, "{}", settings.url.expose());
}
