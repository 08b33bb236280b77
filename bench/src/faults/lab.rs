//! One scenario's world: a fresh PostgreSQL database, a Redis namespace, a data directory, and
//! the `quire` processes started in it (configured by environment only, as in production).
//! Everything started here is stopped when the scenario ends, whether it passed, failed or
//! panicked: children are killed on drop, the database is dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use shared::config::{Config, Secret};
use shared::db::Db;
use shared::queue::Queue;
use sqlx::Connection as _;
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Where the shared servers are and where the `quire` binary is.
#[derive(Debug, Clone)]
pub struct Setup {
    pub quire: PathBuf,
    /// A PostgreSQL URL whose user may create databases (its database part is replaced).
    pub admin_database_url: String,
    pub redis_url: String,
    /// Parent of every scenario's work directory.
    pub work_root: PathBuf,
    /// Keep work directories (logs, PDFs) of passing scenarios too.
    pub keep: bool,
}

/// A database the lab created, dropped at the end.
struct CreatedDatabase {
    admin_url: String,
    name: String,
}

pub struct Lab {
    pub name: String,
    pub setup: Setup,
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub redis_url: String,
    pub namespace: String,
    /// Settings every process of this lab gets (`QUIRE_…=…`), on top of the connection ones.
    pub env: Vec<(String, String)>,
    pub procs: Vec<Proc>,
    /// The lab's own handle on the database (shared's functions) and a plain pool for the
    /// checks that read many rows at once.
    pub db: Option<Db>,
    pub pool: Option<sqlx::PgPool>,
    created: Option<CreatedDatabase>,
    started: Instant,
    cleaned: bool,
    /// Processes found dead that nobody ended (see `unexpected_exits`).
    exits: Vec<String>,
}

/// A `quire` (or service) child process. Killed (SIGKILL) when dropped.
pub struct Proc {
    pub role: String,
    pub pid: u32,
    pub child: Child,
    pub log: PathBuf,
    pub health: Option<SocketAddr>,
    pub api: Option<SocketAddr>,
    /// The scenario killed or stopped it on purpose: its exit is no failure.
    pub ended_on_purpose: bool,
}

impl Lab {
    pub async fn new(name: &str, setup: &Setup) -> anyhow::Result<Lab> {
        let stamp = format!(
            "{}_{}",
            name.replace('-', "_"),
            uuid::Uuid::new_v4().simple().to_string().split_at(10).0
        );
        let dir = setup.work_root.join(format!("{name}-{stamp}"));
        let data_dir = dir.join("data");
        std::fs::create_dir_all(data_dir.as_path())
            .with_context(|| format!("creating {}", data_dir.display()))?;
        std::fs::create_dir_all(dir.join("logs"))?;
        let mut lab = Lab {
            name: name.to_owned(),
            setup: setup.clone(),
            dir,
            data_dir,
            database_url: String::new(),
            redis_url: setup.redis_url.clone(),
            namespace: format!("faults_{stamp}"),
            env: Vec::new(),
            procs: Vec::new(),
            db: None,
            pool: None,
            created: None,
            started: Instant::now(),
            cleaned: false,
            exits: Vec::new(),
        };
        let url = lab.create_database(&setup.admin_database_url).await?;
        lab.database_url = url;
        Ok(lab)
    }

    /// Creates `quire_faults_<stamp>` on the server of `admin_url`; its URL.
    pub async fn create_database(&mut self, admin_url: &str) -> anyhow::Result<String> {
        let name = format!("quire_{}", self.namespace);
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("PostgreSQL must answer at {}", redact(admin_url)))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .context("creating the scenario's database")?;
        self.created = Some(CreatedDatabase {
            admin_url: admin_url.to_owned(),
            name: name.clone(),
        });
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
        Ok(format!("{base}/{name}"))
    }

    pub fn set(&mut self, name: &str, value: impl ToString) {
        self.env.retain(|(n, _)| n != name);
        self.env.push((name.to_owned(), value.to_string()));
    }

    /// Seconds since the lab was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// A `quire` command with this lab's connection settings and `env`, and nothing inherited
    /// that could point it elsewhere.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.setup.quire);
        cmd.args(args);
        for (name, _) in std::env::vars() {
            if name.starts_with("QUIRE_") || name == "DATABASE_URL" || name == "REDIS_URL" {
                cmd.env_remove(name);
            }
        }
        cmd.env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", &self.redis_url)
            .env("QUIRE_REDIS_NAMESPACE", &self.namespace)
            .env("QUIRE_DATA_DIR", &self.data_dir)
            // The key that seals stored secrets: PostgreSQL deployments must set one.
            .env(
                "QUIRE_SECRETS__KEK",
                "cXVpcmUtZmF1bHQtbGFiLWtleS1lbmNyeXB0aW9uISE=",
            )
            // JSON lines: the checks read job outcomes back from the workers' logs.
            .env("QUIRE_LOG_FORMAT", "json")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            // Two cores are shared by everything: small pools keep PostgreSQL's connection
            // count low when many workers come and go.
            .env("QUIRE_DATABASE_MAX_CONNECTIONS", "8");
        for (name, value) in &self.env {
            cmd.env(name, value);
        }
        cmd.kill_on_drop(true);
        cmd
    }

    /// Runs a short `quire` command to the end; its stdout.
    pub async fn run_quire(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running quire {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "quire {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `quire migrate`, then connects the lab's own handles.
    pub async fn migrate(&mut self) -> anyhow::Result<()> {
        self.run_quire(&["migrate"]).await?;
        self.connect().await
    }

    pub async fn connect(&mut self) -> anyhow::Result<()> {
        let config = Config {
            database_url: Some(Secret::new(self.database_url.clone())),
            database_max_connections: 4,
            ..Config::default()
        };
        self.db = Some(
            Db::connect(&config.db_settings())
                .await
                .context("connecting the lab's Db")?,
        );
        self.pool = Some(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(5))
                .connect(&self.database_url)
                .await
                .context("connecting the lab's pool")?,
        );
        Ok(())
    }

    pub fn db(&self) -> &Db {
        self.db
            .as_ref()
            .expect("the lab is connected (migrate first)")
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        self.pool
            .as_ref()
            .expect("the lab is connected (migrate first)")
    }

    /// A queue handle on the lab's Redis namespace (to push probe jobs).
    pub async fn queue(&self) -> anyhow::Result<Queue> {
        Queue::redis(&self.redis_url, &self.namespace)
            .await
            .context("connecting to Redis")
    }

    /// `quire keys create`: the key, alone on the last line of its output.
    pub async fn create_key(&self, name: &str) -> anyhow::Result<String> {
        let out = self.run_quire(&["keys", "create", "--name", name]).await?;
        let key = out.lines().last().unwrap_or_default().trim().to_owned();
        anyhow::ensure!(
            key.starts_with("qk_"),
            "no key in `quire keys create`: {out}"
        );
        Ok(key)
    }

    /// Starts `quire <role>` with its log in `logs/`; the API binds a free port, workers
    /// and schedulers serve `/ready` on one.
    pub async fn spawn(&mut self, role: &str) -> anyhow::Result<usize> {
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let serial = self.procs.iter().filter(|p| p.role == role).count();
        let log = self.dir.join("logs").join(format!("{role}-{serial}.log"));
        let file = std::fs::File::create(&log)?;
        let mut cmd = self.command(&[role]);
        if role == "api" {
            cmd.env("QUIRE_BIND", addr.to_string());
        } else {
            cmd.env("QUIRE_HEALTH_BIND", addr.to_string());
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting quire {role}"))?;
        let pid = child.id().context("the child has a pid")?;
        self.procs.push(Proc {
            role: role.to_owned(),
            pid,
            child,
            log,
            health: (role != "api").then_some(addr),
            api: (role == "api").then_some(addr),
            ended_on_purpose: false,
        });
        Ok(self.procs.len() - 1)
    }

    /// Starts `role` and waits until its `/ready` answers 200.
    pub async fn spawn_ready(&mut self, role: &str) -> anyhow::Result<usize> {
        let i = self.spawn(role).await?;
        self.wait_ready(i, Duration::from_secs(60)).await?;
        Ok(i)
    }

    pub async fn wait_ready(&mut self, i: usize, limit: Duration) -> anyhow::Result<()> {
        let addr = self.procs[i]
            .api
            .or(self.procs[i].health)
            .context("no address")?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(r) = client.get(format!("http://{addr}/ready")).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.procs[i].child.try_wait()? {
                bail!(
                    "quire {} exited ({status}) before it was ready; log {}:\n{}",
                    self.procs[i].role,
                    self.procs[i].log.display(),
                    tail(&self.procs[i].log, 20)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "quire {} not ready within {limit:?}; log {}:\n{}",
                    self.procs[i].role,
                    self.procs[i].log.display(),
                    tail(&self.procs[i].log, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The base URL of the (first) API process.
    pub fn api_url(&self) -> anyhow::Result<String> {
        let addr = self
            .procs
            .iter()
            .find_map(|p| p.api)
            .context("no API process")?;
        Ok(format!("http://{addr}"))
    }

    /// Sends `signal` (KILL, STOP, CONT, TERM, ...) to process `i` with the `kill` command.
    pub async fn signal(&mut self, i: usize, signal: &str) -> anyhow::Result<()> {
        if matches!(signal, "KILL" | "TERM" | "INT" | "QUIT") {
            self.procs[i].ended_on_purpose = true;
        }
        send_signal(self.procs[i].pid, signal).await
    }

    /// SIGKILLs process `i` and reaps it.
    pub async fn kill(&mut self, i: usize) -> anyhow::Result<()> {
        self.signal(i, "KILL").await?;
        self.procs[i].child.wait().await?;
        Ok(())
    }

    /// Processes that exited although nobody ended them: each with its status and log tail.
    pub fn unexpected_exits(&mut self) -> Vec<String> {
        let mut out = std::mem::take(&mut self.exits);
        for p in &mut self.procs {
            if p.ended_on_purpose {
                continue;
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                // Reported once.
                p.ended_on_purpose = true;
                out.push(format!(
                    "quire {} (pid {}) exited by itself ({status}); {}:\n{}",
                    p.role,
                    p.pid,
                    p.log.display(),
                    tail(&p.log, 5)
                ));
            }
        }
        out
    }

    /// SIGTERM to every live process, then SIGKILL after `grace`.
    pub async fn stop_all(&mut self, grace: Duration) {
        // What died by itself before now is a finding; what stops now is stopped on purpose.
        let exits = self.unexpected_exits();
        self.exits.extend(exits);
        for p in &mut self.procs {
            p.ended_on_purpose = true;
            if matches!(p.child.try_wait(), Ok(None)) {
                // A stopped process would not see SIGTERM until continued.
                let _ = send_signal(p.pid, "CONT").await;
                let _ = send_signal(p.pid, "TERM").await;
            }
        }
        let deadline = Instant::now() + grace;
        for p in &mut self.procs {
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, p.child.wait()).await.is_err() {
                let _ = p.child.kill().await;
            }
        }
    }

    /// Stops everything, drops the database, deletes the namespace's Redis keys, and removes
    /// the work directory unless asked to keep it (or the scenario failed).
    pub async fn cleanup(mut self, passed: bool) -> Option<PathBuf> {
        self.stop_all(Duration::from_secs(10)).await;
        if let Some(db) = self.db.take() {
            db.close().await;
        }
        if let Some(pool) = self.pool.take() {
            pool.close().await;
        }
        if let Some(created) = self.created.take() {
            drop_database(&created).await;
        }
        delete_namespace(&self.redis_url, &self.namespace).await;
        self.cleaned = true;
        if passed && !self.setup.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
            None
        } else {
            Some(self.dir.clone())
        }
    }

    /// The worker rows of process `i` carry its pid in their name (`quire-<host>-<pid>-<rand>`).
    pub fn worker_pattern(&self, i: usize) -> String {
        format!("quire-%-{}-%", self.procs[i].pid)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // A panic or an early return: the children die with their handles (kill_on_drop);
        // the database is dropped here, synchronously.
        for p in &mut self.procs {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &p.pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
        if let Some(created) = &self.created {
            let _ = std::process::Command::new("psql")
                .args([
                    &created.admin_url,
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", created.name),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

async fn drop_database(created: &CreatedDatabase) {
    let dropped = async {
        let mut conn = sqlx::PgConnection::connect(&created.admin_url).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            created.name
        )))
        .execute(&mut conn)
        .await?;
        anyhow::Ok(())
    };
    if let Err(e) = dropped.await {
        eprintln!("faults: could not drop database {}: {e:#}", created.name);
    }
}

async fn delete_namespace(url: &str, namespace: &str) {
    let deleted = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        // SCAN, not KEYS: the shared Redis serves other tests meanwhile.
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{namespace}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        anyhow::Ok(())
    };
    // The private Redis of a scenario may be gone already: nothing to delete then.
    let _ = tokio::time::timeout(Duration::from_secs(10), deleted).await;
}

pub async fn send_signal(pid: u32, signal: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .await
        .context("running kill")?;
    anyhow::ensure!(status.success(), "kill -{signal} {pid} failed");
    Ok(())
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The last `n` lines of a log file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `user:password@` removed from a URL, for messages.
pub fn redact(url: &str) -> String {
    match (url.split_once("://"), url.rsplit_once('@')) {
        (Some((scheme, _)), Some((_, rest))) => format!("{scheme}://…@{rest}"),
        _ => url.to_owned(),
    }
}
