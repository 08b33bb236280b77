//! Private Redis and PostgreSQL servers for the scenarios that stop and restart them: the
//! shared servers on this machine serve other people's tests and must never be stopped or
//! flushed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::Connection as _;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::lab::{free_port, send_signal, tail};

/// `redis-server` without persistence on a free port: a restart comes back empty, as a
/// Redis that lost its data does.
pub struct PrivateRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
    starts: usize,
}

impl PrivateRedis {
    pub async fn start(dir: PathBuf) -> anyhow::Result<PrivateRedis> {
        std::fs::create_dir_all(&dir)?;
        let mut redis = PrivateRedis {
            port: free_port()?,
            dir,
            child: None,
            starts: 0,
        };
        redis.launch().await?;
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let log = self.dir.join(format!("redis-{}.log", self.starts));
        self.starts += 1;
        let file = std::fs::File::create(&log)?;
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server (is it installed?)")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.ping().await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("private Redis never answered:\n{}", tail(&log, 20));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ping(&self) -> anyhow::Result<()> {
        let client = redis::Client::open(self.url())?;
        let mut conn = tokio::time::timeout(
            Duration::from_secs(1),
            client.get_multiplexed_async_connection(),
        )
        .await??;
        let _: String = redis::cmd("PING").query_async(&mut conn).await?;
        Ok(())
    }

    /// `SHUTDOWN NOSAVE` (its data is gone), then down for `down_for`.
    pub async fn shutdown(&mut self) -> anyhow::Result<()> {
        let client = redis::Client::open(self.url())?;
        if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
            // The server closes the connection instead of answering.
            let _: Result<(), _> = redis::cmd("SHUTDOWN")
                .arg("NOSAVE")
                .query_async(&mut conn)
                .await;
        }
        if let Some(mut child) = self.child.take()
            && tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .is_err()
        {
            child.kill().await?;
        }
        Ok(())
    }

    /// Starts it again, empty, on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.launch().await
    }

    /// Stops it and removes its directory.
    pub async fn stop(mut self) {
        let _ = self.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A throwaway PostgreSQL 15 cluster (`initdb` as the `postgres` OS user, trust auth) whose
/// postmaster is this process's child, so it can be stopped and started at will.
pub struct PrivatePostgres {
    pub port: u16,
    root: PathBuf,
    uid: u32,
    gid: u32,
    child: Option<Child>,
    starts: usize,
}

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

impl PrivatePostgres {
    pub async fn start() -> anyhow::Result<PrivatePostgres> {
        let uid = id_of("-u").await?;
        let gid = id_of("-g").await?;
        // Its own directory under /tmp, owned by postgres (a work directory made by mktemp
        // is not searchable by other users).
        let root = std::env::temp_dir().join(format!(
            "quire-faults-pg-{}",
            uuid::Uuid::new_v4().simple().to_string().split_at(8).0
        ));
        std::fs::create_dir_all(root.join("data"))?;
        let chown = Command::new("chown")
            .args(["-R", &format!("{uid}:{gid}")])
            .arg(&root)
            .status()
            .await?;
        anyhow::ensure!(chown.success(), "chown of {} failed", root.display());
        let mut pg = PrivatePostgres {
            port: free_port()?,
            root,
            uid,
            gid,
            child: None,
            starts: 0,
        };
        let out = Command::new(format!("{PG_BIN}/initdb"))
            .arg("-D")
            .arg(pg.root.join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"])
            .uid(uid)
            .gid(gid)
            .stdin(Stdio::null())
            .output()
            .await
            .context("running initdb")?;
        anyhow::ensure!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        pg.launch().await?;
        Ok(pg)
    }

    /// The URL of its `postgres` database (superuser, trust).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let log = self.root.join(format!("postgres-{}.log", self.starts));
        self.starts += 1;
        let file = std::fs::File::create(&log)?;
        let child = Command::new(format!("{PG_BIN}/postgres"))
            .arg("-D")
            .arg(self.root.join("data"))
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(&self.root)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .uid(self.uid)
            .gid(self.gid)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()
            .context("starting postgres")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Ok(conn)) = tokio::time::timeout(
                Duration::from_secs(2),
                sqlx::PgConnection::connect(&self.admin_url()),
            )
            .await
            {
                let _ = conn.close().await;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("private PostgreSQL never answered:\n{}", tail(&log, 20));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A fast shutdown (`pg_ctl stop -m fast`: SIGINT to the postmaster): sessions are
    /// ended, and it waits until the server is gone.
    pub async fn stop_server(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                send_signal(pid, "INT").await?;
            }
            if tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_err()
            {
                child.kill().await?;
            }
        }
        Ok(())
    }

    pub async fn start_server(&mut self) -> anyhow::Result<()> {
        self.launch().await
    }

    /// Stops it; its directory is removed on drop.
    pub async fn remove(mut self) {
        let _ = self.stop_server().await;
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        // An early exit (an interrupt, a panic) finds it running: an immediate shutdown, so no
        // backend outlives its postmaster (bounded wait). Its directory goes in any case.
        if let Some(pid) = self.child.as_ref().and_then(Child::id) {
            let pid = pid.to_string();
            let _ = std::process::Command::new("kill")
                .args(["-QUIT", &pid])
                .status();
            for _ in 0..50 {
                let alive = std::process::Command::new("kill")
                    .args(["-0", &pid])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if !alive {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

async fn id_of(flag: &str) -> anyhow::Result<u32> {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .await
        .context("running id")?;
    anyhow::ensure!(
        out.status.success(),
        "there is no `postgres` OS user to run a private PostgreSQL"
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}
