//! One Redis connection for every use (the apalis queue, wake-ups, events, rate limits,
//! sessions), whatever the deployment: one server (`redis_url`), a master found through
//! Sentinel and found again after a failover, or a Redis Cluster. [`RedisConn`] sends
//! commands; [`Connector`] opens what cannot be shared (pub/sub connections).
//!
//! - **Sentinel**: the sentinels are asked for the master (redis-rs checks its `ROLE`); a
//!   command that finds it gone (connection lost or refused, `READONLY` from a demoted master)
//!   drops the connection, and the next command asks the sentinels again. A `READONLY`
//!   refusal did nothing, so that command is sent once more to the new master; any other
//!   failure is returned to the caller, which already treats Redis errors as transient.
//! - **Cluster**: redis-rs's cluster client follows slots and promotions. Keys are
//!   hash-tagged (see `RedisBackend`) so each script's keys share one slot; pub/sub is
//!   cluster-wide, so subscriptions go to any node that answers.
//! - Everywhere, apalis's worker registration is rewritten to stay in the namespace
//!   ([`register_worker_in_namespace`]).

use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, TlsCertificates,
    TlsMode,
};

use super::*;
use crate::config::RedisSettings;

/// A Sentinel discovery that failed this recently is not tried again: callers get its error
/// at once rather than each waiting in turn for the sentinels.
const DISCOVERY_RETRY: Duration = Duration::from_millis(200);
/// How often the sentinels are asked whether the master in use is still theirs.
const MASTER_CHECK: Duration = Duration::from_secs(2);

/// The connection every command goes through; cheap to clone (one multiplexed connection).
#[derive(Clone)]
pub(crate) enum RedisConn {
    /// One server, reconnected by redis-rs.
    Single(ConnectionManager),
    /// The master the sentinels name.
    Sentinel(SentinelConn),
    Cluster(ClusterConnection),
}

/// Opens pub/sub connections (one per subscription loop) on the same deployment.
pub(super) enum Connector {
    Single(Box<redis::Client>),
    Sentinel(SentinelConn),
    /// Every node we know of, tried in turn: a published message reaches every node.
    Cluster {
        nodes: Vec<redis::Client>,
        next: AtomicU64,
    },
}

impl Connector {
    /// A client for a new pub/sub connection.
    pub(super) async fn pubsub(&self) -> redis::RedisResult<redis::aio::PubSub> {
        match self {
            Connector::Single(client) => client.get_async_pubsub().await,
            Connector::Sentinel(s) => {
                let master = s.inner.master().await?;
                let pubsub = master.client.get_async_pubsub().await;
                // A master that cannot be reached is asked for again, even in a process
                // whose only use of Redis is to listen.
                s.inner.retry_after(&master, &pubsub);
                pubsub
            }
            Connector::Cluster { nodes, next } => {
                let mut last = None;
                for _ in 0..nodes.len() {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize % nodes.len();
                    match nodes[i].get_async_pubsub().await {
                        Ok(pubsub) => return Ok(pubsub),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| {
                    redis::RedisError::from((redis::ErrorKind::Client, "no cluster node"))
                }))
            }
        }
    }
}

/// What [`connect`] made.
pub(super) struct Connected {
    pub(super) conn: RedisConn,
    pub(super) connector: Connector,
    /// `"redis"`, `"redis-sentinel"` or `"redis-cluster"`.
    pub(super) topology: &'static str,
}

/// Connects as `settings` say, `url` giving the scheme (TLS), user, password and database.
pub(super) async fn connect(
    url: &ConnectionInfo,
    settings: &RedisSettings,
) -> redis::RedisResult<Connected> {
    let certs = match &settings.tls_ca_file {
        Some(path) => Some(TlsCertificates {
            client_tls: None,
            root_cert: Some(std::fs::read(path).map_err(|e| {
                redis::RedisError::from((
                    redis::ErrorKind::InvalidClientConfig,
                    "reading redis.tls_ca_file",
                    e.to_string(),
                ))
            })?),
        }),
        None => None,
    };
    let sentinels = settings.sentinel_list();
    if !sentinels.is_empty() {
        let conn = SentinelConn::connect(url, settings, &sentinels, certs).await?;
        return Ok(Connected {
            conn: RedisConn::Sentinel(conn.clone()),
            connector: Connector::Sentinel(conn),
            topology: "redis-sentinel",
        });
    }
    if settings.cluster {
        let mut infos = vec![url.clone()];
        for entry in settings.cluster_node_list() {
            infos.push(url.clone().set_addr(same_scheme(url.addr(), &entry)?));
        }
        let mut builder = redis::cluster::ClusterClientBuilder::new(infos.clone())
            .connection_timeout(REDIS_CONNECT_TIMEOUT)
            .response_timeout(REDIS_RESPONSE_TIMEOUT)
            // Retries while a replica is promoted: short waits, within the response timeout.
            .min_retry_wait(100)
            .max_retry_wait(1000);
        if let Some(certs) = &certs {
            builder = builder.certs(certs.clone());
        }
        let conn = builder.build()?.get_async_connection().await?;
        let nodes = infos
            .into_iter()
            .map(|info| client_for(info, certs.as_ref()))
            .collect::<redis::RedisResult<Vec<_>>>()?;
        return Ok(Connected {
            conn: RedisConn::Cluster(conn),
            connector: Connector::Cluster {
                nodes,
                next: AtomicU64::new(0),
            },
            topology: "redis-cluster",
        });
    }
    let client = client_for(url.clone(), certs.as_ref())?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
        .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT))
        .set_number_of_retries(3);
    let conn = client.get_connection_manager_with_config(config).await?;
    Ok(Connected {
        conn: RedisConn::Single(conn),
        connector: Connector::Single(Box::new(client)),
        topology: "redis",
    })
}

fn client_for(
    info: ConnectionInfo,
    certs: Option<&TlsCertificates>,
) -> redis::RedisResult<redis::Client> {
    match certs {
        Some(certs) if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) => {
            redis::Client::build_with_tls(info, certs.clone())
        }
        _ => redis::Client::open(info),
    }
}

/// `host:port` with the scheme (plain or TLS) of `like`.
fn same_scheme(like: &ConnectionAddr, entry: &str) -> redis::RedisResult<ConnectionAddr> {
    let invalid = || {
        redis::RedisError::from((
            redis::ErrorKind::InvalidClientConfig,
            "not host:port",
            entry.to_owned(),
        ))
    };
    let (host, port) = entry.rsplit_once(':').ok_or_else(invalid)?;
    let port = port.parse().map_err(|_| invalid())?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Ok(match like {
        ConnectionAddr::TcpTls { insecure, .. } => ConnectionAddr::TcpTls {
            host,
            port,
            insecure: *insecure,
            tls_params: None,
        },
        _ => ConnectionAddr::Tcp(host, port),
    })
}

impl RedisConn {
    fn send<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            RedisConn::Single(c) => c.req_packed_command(cmd),
            RedisConn::Sentinel(c) => c.req_packed_command(cmd),
            RedisConn::Cluster(c) => c.req_packed_command(cmd),
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match register_worker_in_namespace(cmd) {
            Some(replaced) => Box::pin(async move { self.send(&replaced).await }),
            None => self.send(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            RedisConn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
            RedisConn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConn::Single(c) => c.get_db(),
            RedisConn::Sentinel(c) => c.inner.db,
            RedisConn::Cluster(c) => c.get_db(),
        }
    }
}

/// apalis-redis's worker registration (`register_worker.lua`) also records the queue in a
/// global sorted set, `core:apalis:queues:list`, for its web board; nothing of ours reads it.
/// That key is outside the namespace: not among the script's keys, in another slot than the
/// queue's (a cluster refuses the script) and outside the key patterns an ACL user may be
/// limited to. So the call (recognised by its keys and arguments) is replaced by the same
/// script without that line, in every deployment.
fn register_worker_in_namespace(cmd: &redis::Cmd) -> Option<redis::Cmd> {
    if cmd.args_iter().len() != 10 {
        return None;
    }
    let args: Vec<&[u8]> = cmd
        .args_iter()
        .map(|a| match a {
            redis::Arg::Simple(a) => a,
            _ => &[],
        })
        .collect();
    // EVALSHA sha 2 workers_set metadata_key now worker threshold "RedisStorage" service
    let is_register = args.len() == 10
        && args[0].eq_ignore_ascii_case(b"EVALSHA")
        && args[2] == b"2"
        && args[4].windows(18).any(|w| w == b":workers:metadata:")
        && args[8] == b"RedisStorage";
    if !is_register {
        return None;
    }
    let mut replaced = redis::cmd("EVAL");
    replaced.arg(REGISTER_WORKER_LUA);
    for arg in &args[2..] {
        replaced.arg(*arg);
    }
    Some(replaced)
}

/// apalis-redis 1.0's `register_worker.lua` without the global queue list (see
/// [`register_worker_in_namespace`]).
const REGISTER_WORKER_LUA: &str = r#"
local last_seen = redis.call("zscore", KEYS[1], ARGV[2])
if last_seen then
    if tonumber(ARGV[1]) - tonumber(last_seen) < tonumber(ARGV[3]) then
        error("worker is still active within threshold")
    end
end
redis.call("zadd", KEYS[1], tonumber(ARGV[1]), ARGV[2])
redis.call("hmset", KEYS[2], "backend_name", ARGV[4], "service", ARGV[5])
return true
"#;

/// The master the sentinels name, found again after it is lost.
#[derive(Clone)]
pub(crate) struct SentinelConn {
    inner: Arc<SentinelInner>,
}

struct SentinelInner {
    /// Asks the sentinels; held while asking, so one discovery runs at a time.
    sentinel: tokio::sync::Mutex<SentinelClient>,
    current: Mutex<Option<Master>>,
    /// When the last discovery failed, and how.
    failed: Mutex<Option<(std::time::Instant, redis::RedisError)>>,
    epochs: AtomicU64,
    config: AsyncConnectionConfig,
    db: i64,
}

#[derive(Clone)]
struct Master {
    /// Which discovery found it: a failure drops the connection only if no newer one
    /// replaced it already.
    epoch: u64,
    client: redis::Client,
    conn: MultiplexedConnection,
}

impl SentinelConn {
    async fn connect(
        url: &ConnectionInfo,
        settings: &RedisSettings,
        sentinels: &[String],
        certs: Option<TlsCertificates>,
    ) -> redis::RedisResult<SentinelConn> {
        let tls = match url.addr() {
            ConnectionAddr::TcpTls { insecure, .. } => Some(if *insecure {
                TlsMode::Insecure
            } else {
                TlsMode::Secure
            }),
            _ => None,
        };
        let addrs = sentinels
            .iter()
            .map(|s| same_scheme(url.addr(), s))
            .collect::<redis::RedisResult<Vec<_>>>()?;
        let mut builder = SentinelClientBuilder::new(
            addrs,
            settings.sentinel_master.trim(),
            SentinelServerType::Master,
        )?
        .set_client_to_redis_db(url.redis_settings().db());
        if let Some(user) = url.redis_settings().username() {
            builder = builder.set_client_to_redis_username(user);
        }
        if let Some(password) = url.redis_settings().password() {
            builder = builder.set_client_to_redis_password(password);
        }
        if let Some(user) = &settings.sentinel_username {
            builder = builder.set_client_to_sentinel_username(user);
        }
        if let Some(password) = &settings.sentinel_password {
            builder = builder.set_client_to_sentinel_password(password.expose());
        }
        if let Some(mode) = tls {
            builder = builder
                .set_client_to_redis_tls_mode(mode)
                .set_client_to_sentinel_tls_mode(mode);
            if let Some(certs) = certs {
                builder = builder
                    .set_client_to_redis_certificates(certs.clone())
                    .set_client_to_sentinel_certificates(certs);
            }
        }
        let conn = SentinelConn {
            inner: Arc::new(SentinelInner {
                sentinel: tokio::sync::Mutex::new(builder.build()?),
                current: Mutex::new(None),
                failed: Mutex::new(None),
                epochs: AtomicU64::new(0),
                config: AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(REDIS_CONNECT_TIMEOUT))
                    .set_response_timeout(Some(REDIS_RESPONSE_TIMEOUT)),
                db: url.redis_settings().db(),
            }),
        };
        // Fail at start-up, as a single server does, when no master can be found.
        conn.inner.master().await?;
        tokio::spawn(watch(Arc::downgrade(&conn.inner)));
        Ok(conn)
    }
}

impl SentinelInner {
    /// After a command on `master`: drops the connection if `result` says the master is
    /// gone, and whether to send the command once more (a `READONLY` refusal did nothing).
    fn retry_after<T>(&self, master: &Master, result: &redis::RedisResult<T>) -> bool {
        let Err(e) = result else { return false };
        if !master_lost(e) {
            return false;
        }
        self.lost(master.epoch);
        e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
    }
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            let mut master = self.inner.master().await?;
            let result = master.conn.req_packed_command(cmd).await;
            if !self.inner.retry_after(&master, &result) {
                return result;
            }
            let mut master = self.inner.master().await?;
            master.conn.req_packed_command(cmd).await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            let mut master = self.inner.master().await?;
            let result = master
                .conn
                .req_packed_commands(pipeline, offset, count)
                .await;
            if !self.inner.retry_after(&master, &result) {
                return result;
            }
            let mut master = self.inner.master().await?;
            master
                .conn
                .req_packed_commands(pipeline, offset, count)
                .await
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.db
    }
}

/// Every [`MASTER_CHECK`], while the connection lives: if the sentinels name another master
/// than the one in use, it is dropped. A server that still answers as a master but is no
/// longer the sentinels' (an old master back before they reconfigure it, or another server
/// on its address) fails no command, so nothing else would notice.
async fn watch(inner: std::sync::Weak<SentinelInner>) {
    let mut tick = tokio::time::interval(MASTER_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let Some(master) = inner.current() else {
            continue;
        };
        let named = {
            let mut sentinel = inner.sentinel.lock().await;
            tokio::time::timeout(OPEN_TIMEOUT, sentinel.async_get_client()).await
        };
        // No answer (a failover under way): commands will tell.
        let Ok(Ok(named)) = named else { continue };
        if named.get_connection_info().addr() != master.client.get_connection_info().addr() {
            tracing::warn!(
                named = %named.get_connection_info().addr(),
                "the sentinels name another Redis master; switching"
            );
            inner.lost(master.epoch);
        }
    }
}

/// Whether `e` means the connection no longer reaches a master: it is dropped and the
/// sentinels asked again.
fn master_lost(e: &redis::RedisError) -> bool {
    super::redis_backend::connection_lost(e)
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::ReadOnly | redis::ServerErrorKind::MasterDown
            )
        )
}

impl SentinelInner {
    fn current(&self) -> Option<Master> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The current master's connection, asking the sentinels when there is none.
    async fn master(&self) -> redis::RedisResult<Master> {
        if let Some(master) = self.current() {
            return Ok(master);
        }
        let mut sentinel = self.sentinel.lock().await;
        // Found meanwhile by whoever held the lock.
        if let Some(master) = self.current() {
            return Ok(master);
        }
        if let Some((at, e)) = &*self.failed.lock().unwrap_or_else(|e| e.into_inner())
            && at.elapsed() < DISCOVERY_RETRY
        {
            return Err(e.clone());
        }
        let found = async {
            let client = sentinel.async_get_client().await?;
            let conn = client
                .get_multiplexed_async_connection_with_config(&self.config)
                .await?;
            Ok::<_, redis::RedisError>((client, conn))
        };
        let found = match tokio::time::timeout(OPEN_TIMEOUT, found).await {
            Ok(found) => found,
            Err(_) => Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "asking the sentinels for the master timed out",
            ))),
        };
        match found {
            Ok((client, conn)) => {
                let master = Master {
                    epoch: self.epochs.fetch_add(1, Ordering::SeqCst) + 1,
                    client,
                    conn,
                };
                tracing::info!(
                    master = %master.client.get_connection_info().addr(),
                    "Redis master found through Sentinel"
                );
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(master.clone());
                *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Ok(master)
            }
            Err(e) => {
                *self.failed.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((std::time::Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// The connection of discovery `epoch` failed: the next command asks the sentinels.
    fn lost(&self, epoch: u64) {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.as_ref().is_some_and(|m| m.epoch == epoch) {
            tracing::warn!("lost the Redis master; asking the sentinels again");
            *current = None;
        }
    }
}

/// Parses `url` (a `redis://` or `rediss://` URL) as redis-rs does.
pub(super) fn parse_url(url: &str) -> redis::RedisResult<ConnectionInfo> {
    url.into_connection_info()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register_cmd(service: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg("0123")
            .arg(2)
            .arg("{ns:q}:workers")
            .arg("{ns:q}:workers:metadata:w1")
            .arg(1_700_000_000u64)
            .arg("w1")
            .arg(30)
            .arg(service)
            .arg("svc");
        cmd
    }

    #[test]
    fn only_apalis_worker_registration_is_replaced() {
        let replaced = register_worker_in_namespace(&register_cmd("RedisStorage")).unwrap();
        let args: Vec<Vec<u8>> = replaced
            .args_iter()
            .map(|a| match a {
                redis::Arg::Simple(a) => a.to_vec(),
                _ => vec![],
            })
            .collect();
        assert_eq!(args[0], b"EVAL");
        assert_eq!(args[1], REGISTER_WORKER_LUA.as_bytes());
        assert_eq!(args[2], b"2");
        assert_eq!(args[3], b"{ns:q}:workers");
        assert_eq!(args[9], b"svc");
        assert!(register_worker_in_namespace(&register_cmd("Other")).is_none());
        assert!(register_worker_in_namespace(&redis::cmd("PING")).is_none());
    }

    #[test]
    fn seed_entries_keep_the_url_scheme() {
        let plain = parse_url("redis://u:p@h:1").unwrap();
        assert_eq!(
            same_scheme(plain.addr(), "10.0.0.1:7000")
                .unwrap()
                .to_string(),
            "10.0.0.1:7000"
        );
        let tls = parse_url("rediss://h:1").unwrap();
        assert!(matches!(
            same_scheme(tls.addr(), "n:7001").unwrap(),
            ConnectionAddr::TcpTls { port: 7001, .. }
        ));
        assert!(same_scheme(plain.addr(), "nope").is_err());
    }
}
