//! Name lookups of webhook and callback targets (the API's check, the worker's check and its
//! client's connect). The system resolver (`getaddrinfo`) blocks a thread of the blocking
//! pool until it gives up, whatever timeout the caller puts around it: a name whose servers
//! do not answer would keep a thread per request well after the request was answered. Here a
//! lookup is asynchronous (hickory, over the system's `/etc/resolv.conf` and hosts file, or
//! `webhooks.nameservers`), ends when its timeout does (the query is dropped, no thread
//! waits), and at most `webhooks.max_lookups` run at once per process: more wait for a turn
//! within the same timeout, then are refused as busy.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use tokio::sync::Semaphore;

use crate::webhooks::Unresolved;

/// What a [`TargetResolver`] is made from (`webhooks.nameservers`, `webhooks.lookup_timeout_ms`,
/// `webhooks.max_lookups`).
#[derive(Debug, Clone)]
pub struct LookupSettings {
    /// Servers to ask; empty: the system's.
    pub nameservers: Vec<SocketAddr>,
    pub timeout: Duration,
    pub max_lookups: usize,
}

/// `webhooks.nameservers`: comma-separated `ip` or `ip:port` (IPv6 with a port as
/// `[::1]:53`); empty: none (the system's are used).
pub fn parse_nameservers(list: &str) -> Result<Vec<SocketAddr>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<SocketAddr>()
                .or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
                .map_err(|_| format!("`{s}` is not an address (192.0.2.53, 192.0.2.53:5353)"))
        })
        .collect()
}

/// Asynchronous, bounded lookups (see the module); cheap to clone.
#[derive(Clone)]
pub struct TargetResolver {
    resolver: TokioResolver,
    permits: Arc<Semaphore>,
    timeout: Duration,
    max_lookups: usize,
}

impl std::fmt::Debug for TargetResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetResolver")
            .field("timeout", &self.timeout)
            .field("max_lookups", &self.max_lookups)
            .finish()
    }
}

impl TargetResolver {
    /// A resolver over `settings.nameservers`, else the system's configuration (a system
    /// without a readable `/etc/resolv.conf` resolves only what its hosts file names).
    pub fn new(settings: &LookupSettings) -> TargetResolver {
        let provider = TokioConnectionProvider::default();
        let mut builder = if settings.nameservers.is_empty() {
            match TokioResolver::builder_tokio() {
                Ok(builder) => builder,
                Err(e) => {
                    tracing::warn!(error = %e, "no system DNS configuration; webhook targets resolve through the hosts file only");
                    TokioResolver::builder_with_config(ResolverConfig::new(), provider)
                }
            }
        } else {
            let mut config = ResolverConfig::new();
            for addr in &settings.nameservers {
                config.add_name_server(NameServerConfig::new(*addr, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(*addr, Protocol::Tcp));
            }
            TokioResolver::builder_with_config(config, provider)
        };
        let options: &mut ResolverOpts = builder.options_mut();
        // One try per server within our own deadline, which ends the lookup whatever it does.
        options.timeout = settings.timeout;
        options.attempts = 1;
        options.use_hosts_file = ResolveHosts::Always;
        TargetResolver {
            resolver: builder.build(),
            permits: Arc::new(Semaphore::new(settings.max_lookups.max(1))),
            timeout: settings.timeout,
            max_lookups: settings.max_lookups.max(1),
        }
    }

    /// The addresses of `host` (a name, or an address as text). Within the timeout, a turn
    /// included; `Unresolved::Busy` when no turn came, `Unresolved::Lookup` otherwise.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, Unresolved> {
        if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse() {
            return Ok(vec![ip]);
        }
        let deadline = tokio::time::Instant::now() + self.timeout;
        let _permit = match tokio::time::timeout_at(deadline, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(Unresolved::Busy(format!(
                    "{} lookups of webhook targets are under way (webhooks.max_lookups); \
                     `{host}` could not be resolved now",
                    self.max_lookups
                )));
            }
        };
        match tokio::time::timeout_at(deadline, self.resolver.lookup_ip(host)).await {
            Err(_) => Err(Unresolved::Lookup(format!(
                "resolving `{host}` timed out after {} ms",
                self.timeout.as_millis()
            ))),
            Ok(Err(e)) if e.is_no_records_found() => Err(Unresolved::Lookup(format!(
                "`{host}` resolves to no address"
            ))),
            Ok(Err(e)) => Err(Unresolved::Lookup(format!("cannot resolve `{host}`: {e}"))),
            Ok(Ok(found)) => Ok(found.iter().collect()),
        }
    }
}
