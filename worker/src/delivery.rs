//! Sending webhook deliveries: one pooled HTTP client that follows no redirect, uses no
//! proxy, and connects only to addresses the target policy allows. Its resolver checks every
//! address a name resolves to when a connection opens, so a name that rebinds to a private
//! address after the check cannot slip through.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use shared::config::Config;
use shared::resolver::TargetResolver;
use shared::webhooks::{Networks, TargetPolicy};

/// The first bytes of an answer's body kept in the delivery log.
const BODY_HEAD: usize = 1024;

/// Sends deliveries (see the module).
#[derive(Clone)]
pub struct Deliverer {
    /// The client of keys without networks of their own.
    client: reqwest::Client,
    pub policy: Arc<TargetPolicy>,
    /// Looks up targets: asynchronous, bounded per process (shared by every client here).
    pub resolver: TargetResolver,
    timeout: Duration,
    /// Clients of keys with their own networks (`quire keys set --allow-networks`), by the
    /// list: each resolver checks with that key's policy. Few keys have one.
    by_networks: Arc<Mutex<HashMap<String, reqwest::Client>>>,
}

/// Most clients kept for keys with their own networks; beyond, one is built per delivery.
const MAX_KEY_CLIENTS: usize = 64;

/// What one attempt got back.
#[derive(Debug)]
pub enum Answer {
    /// The endpoint answered.
    Status {
        code: u16,
        elapsed: Duration,
        body_head: String,
        /// `Retry-After` of a 429 or 503, when given.
        retry_after: Option<Duration>,
    },
    /// No answer: refused, reset, timed out, TLS failure.
    Unreachable { elapsed: Duration, error: String },
}

/// The resolver of the client: the bounded asynchronous lookup, then the policy's check of
/// every address.
struct CheckedResolver {
    policy: Arc<TargetPolicy>,
    resolver: TargetResolver,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let resolver = self.resolver.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = resolver
                .lookup(&host)
                .await?
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            for addr in &addrs {
                policy.check_address(&host, addr.ip())?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl Deliverer {
    pub fn from_config(config: &Config) -> anyhow::Result<Deliverer> {
        let policy = Arc::new(config.target_policy().map_err(anyhow::Error::msg)?);
        let timeout = Duration::from_secs(config.webhooks.timeout_secs);
        let resolver = TargetResolver::new(&config.lookup_settings());
        Ok(Deliverer {
            client: client(policy.clone(), resolver.clone(), timeout)?,
            policy,
            resolver,
            timeout,
            by_networks: Arc::default(),
        })
    }

    /// The policy and client for a key whose own networks are `networks`.
    pub fn for_key(&self, networks: &Networks) -> anyhow::Result<(TargetPolicy, reqwest::Client)> {
        if networks.is_empty() {
            return Ok(((*self.policy).clone(), self.client.clone()));
        }
        let policy = self.policy.for_key(networks);
        let name = networks.to_string();
        let mut clients = self.by_networks.lock().expect("not poisoned");
        if let Some(client) = clients.get(&name) {
            return Ok((policy, client.clone()));
        }
        let made = client(
            Arc::new(policy.clone()),
            self.resolver.clone(),
            self.timeout,
        )?;
        if clients.len() < MAX_KEY_CLIENTS {
            clients.insert(name, made.clone());
        }
        Ok((policy, made))
    }

    /// POSTs `body` with the Standard Webhooks headers. The answer's status decides what
    /// happens next (the caller's business); only the first KiB of its body is read.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Answer {
        let started = Instant::now();
        let mut request = client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = match request.body(body).send().await {
            Ok(r) => r,
            Err(e) => {
                // The error names the URL: it goes to the job's error, the delivery log and
                // the worker's log, where only scheme, host and port may appear.
                let error = describe(&e.without_url());
                return Answer::Unreachable {
                    elapsed: started.elapsed(),
                    error: format!(
                        "{}: {}",
                        shared::webhooks::redact_url(url),
                        shared::webhooks::redact_in(&error, url)
                    ),
                };
            }
        };
        let code = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut head = Vec::new();
        while head.len() < BODY_HEAD {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                _ => break,
            }
        }
        head.truncate(BODY_HEAD);
        Answer::Status {
            code,
            elapsed: started.elapsed(),
            body_head: String::from_utf8_lossy(&head).into_owned(),
            retry_after,
        }
    }
}

/// A client whose resolver checks every address with `policy`.
fn client(
    policy: Arc<TargetPolicy>,
    resolver: TargetResolver,
    timeout: Duration,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("quire-webhooks/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(CheckedResolver { policy, resolver }))
        .pool_max_idle_per_host(8)
        .build()?)
}

/// `Retry-After`: seconds, or an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(secs) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// The error and its causes in one line (reqwest's own message names only the outermost).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let later = std::time::SystemTime::now() + Duration::from_secs(90);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d > Duration::from_secs(85) && d <= Duration::from_secs(90),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
