//! Redis deployments of real `redis-server` processes on free loopback ports, for the
//! high-availability tests (`quire/tests/integration/redis_ha.rs`) and the fault suite
//! (`bench/faults.sh sentinel-failover`): a master with a replica and three sentinels, a
//! cluster of masters with replicas, a TLS server with an ACL user. Each process is SIGKILLed
//! when its handle is dropped; its log stays in the lab's directory and is shown when it
//! does not start. Fails loudly (never skips) when `redis-server` or `openssl` is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::time::Instant;

/// How long a process may take to answer after it starts.
const START_WITHIN: Duration = Duration::from_secs(20);

/// One `redis-server` process (data node or sentinel).
pub struct Node {
    pub port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Node {
    /// Starts `redis-server` with `args` (a config file first, if any) on `port`.
    fn spawn(dir: &Path, name: &str, port: u16, args: &[String]) -> anyhow::Result<Node> {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        let child = Command::new("redis-server")
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .context("starting redis-server (deploy/test-services.sh installs it)")?;
        Ok(Node {
            port,
            child: Some(child),
            log,
        })
    }

    /// A data node without persistence on `port`: `extra` are more `--name value` options.
    fn data_on(dir: &Path, name: &str, port: u16, extra: &[&str]) -> anyhow::Result<Node> {
        let node_dir = dir.join(name);
        std::fs::create_dir_all(&node_dir)?;
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(node_dir.display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        Node::spawn(dir, name, port, &args)
    }

    fn data(dir: &Path, name: &str, extra: &[&str]) -> anyhow::Result<Node> {
        Node::data_on(dir, name, free_port()?, extra)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crashed machine: no shutdown, no last write.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// A plain connection (`redis://127.0.0.1:port`).
    pub async fn connect(&self) -> anyhow::Result<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(format!("redis://{}", self.addr()))?;
        Ok(tokio::time::timeout(
            Duration::from_secs(2),
            client.get_multiplexed_async_connection(),
        )
        .await??)
    }

    /// One command on a fresh plain connection.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> anyhow::Result<T> {
        let mut conn = self.connect().await?;
        Ok(tokio::time::timeout(Duration::from_secs(2), cmd.query_async(&mut conn)).await??)
    }

    async fn wait_answering(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_WITHIN;
        loop {
            if self.query::<String>(&redis::cmd("PING")).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "redis-server on port {} never answered:\n{}",
                    self.port,
                    self.log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `INFO replication` as `field → value`.
    pub async fn replication(&self) -> anyhow::Result<std::collections::HashMap<String, String>> {
        let info: String = self.query(redis::cmd("INFO").arg("replication")).await?;
        Ok(info
            .lines()
            .filter_map(|l| l.trim().split_once(':'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A master, one replica and three sentinels (quorum 2) that fail over one second after the
/// master stops answering.
pub struct SentinelLab {
    pub master: Node,
    pub replica: Node,
    pub sentinels: Vec<Node>,
    /// The name the sentinels monitor the master under.
    pub name: String,
}

impl SentinelLab {
    pub async fn start(dir: &Path) -> anyhow::Result<SentinelLab> {
        std::fs::create_dir_all(dir)?;
        let master = Node::data(dir, "master", &[])?;
        master.wait_answering().await?;
        let replica = Node::data(
            dir,
            "replica",
            &["--replicaof", "127.0.0.1", &master.port.to_string()],
        )?;
        replica.wait_answering().await?;
        let name = "quire-ha".to_owned();
        let mut sentinels = Vec::new();
        for i in 0..3 {
            let port = free_port()?;
            let conf = dir.join(format!("sentinel-{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor {name} 127.0.0.1 {master} 2\n\
                     sentinel down-after-milliseconds {name} 1000\n\
                     sentinel failover-timeout {name} 10000\n\
                     sentinel parallel-syncs {name} 1\n",
                    dir = dir.display(),
                    master = master.port,
                ),
            )?;
            let args = [conf.display().to_string(), "--sentinel".to_owned()];
            sentinels.push(Node::spawn(dir, &format!("sentinel-{i}"), port, &args)?);
        }
        for s in &sentinels {
            s.wait_answering().await?;
        }
        let lab = SentinelLab {
            master,
            replica,
            sentinels,
            name,
        };
        lab.wait_settled().await?;
        Ok(lab)
    }

    /// `redis.sentinels`: every sentinel's `host:port`.
    pub fn sentinel_list(&self) -> String {
        self.sentinels
            .iter()
            .map(Node::addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Until every sentinel knows the other two and the replica, and the replica is in sync:
    /// only then can a failover be agreed and find a replica to promote.
    async fn wait_settled(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut settled = self.replica.replication().await?.get("master_link_status")
                == Some(&"up".to_owned());
            for s in &self.sentinels {
                let fields: Vec<String> = s
                    .query(redis::cmd("SENTINEL").arg("MASTER").arg(&self.name))
                    .await?;
                let field = |name: &str| {
                    fields
                        .iter()
                        .position(|f| f == name)
                        .and_then(|i| fields.get(i + 1))
                        .and_then(|v| v.parse::<u32>().ok())
                        .unwrap_or(0)
                };
                settled &= field("num-other-sentinels") >= 2 && field("num-slaves") >= 1;
            }
            if settled {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the sentinels never saw each other and the replica");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The master's port as the first sentinel that answers names it.
    pub async fn master_port(&self) -> Option<u16> {
        for s in &self.sentinels {
            let cmd = redis::cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(&self.name)
                .clone();
            if let Ok((_, port)) = s.query::<(String, u16)>(&cmd).await {
                return Some(port);
            }
        }
        None
    }

    /// Waits until the sentinels name the replica as master and it says it is one; when.
    pub async fn wait_promoted(&self, within: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + within;
        loop {
            if self.master_port().await == Some(self.replica.port)
                && self.replica.replication().await?.get("role") == Some(&"master".to_owned())
            {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                bail!(
                    "the replica was not promoted within {within:?}:\n{}",
                    self.sentinels[0].log_tail()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Until the replica has every write the master has made so far.
    pub async fn wait_replicated(&self) -> anyhow::Result<()> {
        let target: u64 = offset(&self.master.replication().await?, "master_repl_offset");
        let deadline = Instant::now() + Duration::from_secs(10);
        while offset(&self.replica.replication().await?, "slave_repl_offset") < target {
            if Instant::now() > deadline {
                bail!("the replica never caught up with the master");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

fn offset(info: &std::collections::HashMap<String, String>, field: &str) -> u64 {
    info.get(field).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A Redis Cluster of `masters` masters with one replica each, formed with
/// `redis-cli --cluster create`; a master unreachable for a second is replaced by its
/// replica.
pub struct ClusterLab {
    pub nodes: Vec<Node>,
}

impl ClusterLab {
    pub async fn start(dir: &Path, masters: usize) -> anyhow::Result<ClusterLab> {
        std::fs::create_dir_all(dir)?;
        let mut nodes = Vec::new();
        for i in 0..masters * 2 {
            let conf = format!("nodes-{i}.conf");
            nodes.push(Node::data_on(
                dir,
                &format!("node-{i}"),
                free_cluster_port()?,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &conf,
                    "--cluster-node-timeout",
                    "1000",
                    // A replica whose link broke at the kill may still take over.
                    "--cluster-replica-validity-factor",
                    "0",
                ],
            )?);
        }
        for n in &nodes {
            n.wait_answering().await?;
        }
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(Node::addr))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .context("running redis-cli --cluster create")?;
        if !out.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let lab = ClusterLab { nodes };
        lab.wait_healthy(Duration::from_secs(30)).await?;
        Ok(lab)
    }

    /// `redis_url` and `redis.cluster_nodes`: the first node, and the others.
    pub fn url(&self) -> String {
        format!("redis://{}", self.nodes[0].addr())
    }

    pub fn seed_list(&self) -> String {
        self.nodes[1..]
            .iter()
            .map(Node::addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `CLUSTER NODES` as seen by a node that answers: (port, is master, master's id, id,
    /// failed) for each node.
    pub async fn topology(&self) -> anyhow::Result<Vec<ClusterNode>> {
        for n in &self.nodes {
            if n.child.is_none() {
                continue;
            }
            if let Ok(text) = n.query::<String>(redis::cmd("CLUSTER").arg("NODES")).await {
                return Ok(text.lines().filter_map(ClusterNode::parse).collect());
            }
        }
        bail!("no cluster node answers")
    }

    /// Until every slot is served and every master has a replica in sync.
    pub async fn wait_healthy(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if self.healthy().await.unwrap_or(false) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the cluster never became healthy:\n{:?}",
                    self.topology().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn healthy(&self) -> anyhow::Result<bool> {
        for n in self.nodes.iter().filter(|n| n.child.is_some()) {
            let info: String = n.query(redis::cmd("CLUSTER").arg("INFO")).await?;
            if !info.contains("cluster_state:ok") {
                return Ok(false);
            }
            let repl = n.replication().await?;
            if repl.get("role").map(String::as_str) == Some("slave")
                && repl.get("master_link_status").map(String::as_str) != Some("up")
            {
                return Ok(false);
            }
        }
        let topology = self.topology().await?;
        let masters: Vec<&ClusterNode> = topology
            .iter()
            .filter(|n| n.master && !n.failed && n.slots)
            .collect();
        Ok(masters.iter().all(|m| {
            topology
                .iter()
                .any(|r| !r.master && !r.failed && r.master_id.as_deref() == Some(&m.id))
        }))
    }

    /// Index in `nodes` of the master that serves `key`'s slot.
    pub async fn master_of(&self, key: &str) -> anyhow::Result<usize> {
        let slot: u16 = self.nodes[0]
            .query(redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
            .await?;
        let topology = self.topology().await?;
        let port = topology
            .iter()
            .find(|n| n.master && !n.failed && n.ranges.iter().any(|r| r.contains(&slot)))
            .context("no master serves the slot")?
            .port;
        self.nodes
            .iter()
            .position(|n| n.port == port)
            .context("master not ours")
    }

    /// SIGKILLs node `i` (a master), then waits until its replica serves its slots; when.
    pub async fn kill_and_wait_promoted(
        &mut self,
        i: usize,
        within: Duration,
    ) -> anyhow::Result<(Instant, Instant)> {
        let topology = self.topology().await?;
        let port = self.nodes[i].port;
        let id = topology
            .iter()
            .find(|n| n.port == port)
            .context("node not in the cluster")?
            .id
            .clone();
        let replica = topology
            .iter()
            .find(|n| n.master_id.as_deref() == Some(&id))
            .context("the master has no replica")?
            .port;
        self.nodes[i].kill();
        let killed = Instant::now();
        let deadline = killed + within;
        loop {
            let promoted = self.topology().await.ok().is_some_and(|t| {
                t.iter()
                    .any(|n| n.port == replica && n.master && n.slots && !n.failed)
            });
            let ok = self.nodes.iter().find(|n| n.child.is_some());
            let state_ok = match ok {
                Some(n) => n
                    .query::<String>(redis::cmd("CLUSTER").arg("INFO"))
                    .await
                    .is_ok_and(|i| i.contains("cluster_state:ok")),
                None => false,
            };
            if promoted && state_ok {
                return Ok((killed, Instant::now()));
            }
            if Instant::now() > deadline {
                bail!(
                    "the replica on port {replica} did not take over within {within:?}: {:?}",
                    self.topology().await
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
pub struct ClusterNode {
    pub id: String,
    pub port: u16,
    pub master: bool,
    pub master_id: Option<String>,
    pub failed: bool,
    /// It serves slots.
    pub slots: bool,
    pub ranges: Vec<std::ops::RangeInclusive<u16>>,
}

impl ClusterNode {
    fn parse(line: &str) -> Option<ClusterNode> {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            return None;
        }
        let port = f[1].split('@').next()?.rsplit_once(':')?.1.parse().ok()?;
        Some(ClusterNode {
            id: f[0].to_owned(),
            port,
            master: f[2].contains("master"),
            master_id: (f[3] != "-").then(|| f[3].to_owned()),
            failed: f[2].contains("fail"),
            slots: f.len() > 8,
            ranges: f[8.min(f.len())..]
                .iter()
                .filter_map(|r| {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    Some(a.parse().ok()?..=b.parse().ok()?)
                })
                .collect(),
        })
    }
}

/// A TLS-only `redis-server` whose certificate is signed by a CA made for it, with one ACL
/// user limited to the key and channel `patterns` (the default user is off).
pub struct TlsLab {
    pub node: Node,
    /// The CA's certificate (PEM): `redis.tls_ca_file`.
    pub ca: PathBuf,
}

impl TlsLab {
    pub async fn start(
        dir: &Path,
        user: &str,
        password: &str,
        patterns: &str,
    ) -> anyhow::Result<TlsLab> {
        std::fs::create_dir_all(dir)?;
        let ca = dir.join("ca.crt");
        let (ca_key, key, csr, crt, ext) = (
            dir.join("ca.key"),
            dir.join("server.key"),
            dir.join("server.csr"),
            dir.join("server.crt"),
            dir.join("server.ext"),
        );
        let p = |p: &PathBuf| p.display().to_string();
        std::fs::write(
            &ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n\
             basicConstraints=CA:FALSE\n",
        )?;
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
        openssl(&format!(
            "req -x509 -nodes -days 2 -subj /CN=quire-test-CA {ec} -keyout {} -out {} \
             -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign",
            p(&ca_key),
            p(&ca)
        ))?;
        openssl(&format!(
            "req -nodes -subj /CN=127.0.0.1 {ec} -keyout {} -out {}",
            p(&key),
            p(&csr)
        ))?;
        openssl(&format!(
            "x509 -req -in {} -CA {} -CAkey {} -CAcreateserial -days 2 -out {} -extfile {}",
            p(&csr),
            p(&ca),
            p(&ca_key),
            p(&crt),
            p(&ext)
        ))?;
        let port = free_port()?;
        let conf = dir.join("redis.conf");
        std::fs::write(
            &conf,
            format!(
                "port 0\ntls-port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndir {dir}\n\
                 tls-cert-file {crt}\ntls-key-file {key}\ntls-ca-cert-file {ca}\n\
                 tls-auth-clients no\n\
                 user default off\nuser {user} on >{password} {patterns} +@all -@dangerous\n",
                dir = dir.display(),
                crt = p(&crt),
                key = p(&key),
                ca = p(&ca),
            ),
        )?;
        let node = Node::spawn(dir, "tls", port, &[conf.display().to_string()])?;
        // It answers only TLS: wait for the port to accept connections.
        let deadline = Instant::now() + START_WITHIN;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("the TLS redis-server never listened:\n{}", node.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(TlsLab { node, ca })
    }
}

/// `openssl` with `args` split on spaces (the lab's paths have none).
fn openssl(args: &str) -> anyhow::Result<()> {
    let args: Vec<&str> = args.split_whitespace().collect();
    let out = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .context("running openssl (deploy/test-services.sh installs it)")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A free port whose cluster bus port (10,000 above) is free too.
fn free_cluster_port() -> anyhow::Result<u16> {
    for _ in 0..1000 {
        let port = free_port()?;
        if port <= 55_535 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port pair for a cluster node")
}

/// A TCP port nothing listens on now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
