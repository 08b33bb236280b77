//! Webhooks as the Standard Webhooks specification has them: the event types an endpoint can
//! subscribe to, secrets and signatures (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature`), and where a delivery may go (server-side request forgery: a target
//! must resolve to public addresses only, checked at creation and again at every delivery,
//! and the connection goes to the address that was checked).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use rand::RngCore;
use sha2::Sha256;

/// The events an endpoint can subscribe to (`*`: all of them).
pub const SUBSCRIBABLE: [&str; 6] = [
    "job.succeeded",
    "job.failed",
    "job.dead",
    "job.cancelled",
    "batch.completed",
    "certificate.revoked",
];

/// Every endpoint event, by the wildcard.
pub const ALL_EVENTS: &str = "*";

/// Whether a subscription list (as stored) covers `event_type`.
pub fn subscribed(events: &[String], event_type: &str) -> bool {
    events.iter().any(|e| e == ALL_EVENTS || e == event_type)
}

/// Checks a requested subscription list: known types or `*`, at least one, no repeats.
pub fn parse_events(events: &[String]) -> Result<Vec<String>, String> {
    if events.is_empty() {
        return Err("name at least one event type, or \"*\"".into());
    }
    let mut out: Vec<String> = Vec::new();
    for e in events {
        if e != ALL_EVENTS && !SUBSCRIBABLE.contains(&e.as_str()) {
            return Err(format!(
                "unknown event type `{e}`; one of {} or \"*\"",
                SUBSCRIBABLE.join(", ")
            ));
        }
        if !out.contains(e) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// A new signing secret: `whsec_` and 24 random bytes in base64, as Standard Webhooks has it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    format!("whsec_{}", B64.encode(bytes))
}

/// One signature, `v1,` and base64 HMAC-SHA256 of `id.timestamp.body` keyed with the
/// secret's bytes (the base64 after `whsec_`).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> String {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|k| B64.decode(k).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per secret still valid, space-separated
/// (during a rotation's overlap both the new and the old secret sign).
pub fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Networks a target may resolve into although they are not public (`webhooks.allow_networks`).
#[derive(Debug, Clone, Default)]
pub struct Networks(Vec<IpNet>);

impl Networks {
    /// Comma-separated CIDRs; a bare address is a /32 (/128).
    pub fn parse(list: &str) -> Result<Networks, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{s}` is not a CIDR network (e.g. 10.0.0.0/8)"))
            })
            .collect::<Result<_, _>>()
            .map(Networks)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// Why an address may not be a webhook target, if it may not: anything that is not a
/// public unicast address (loopback, private, link-local and the cloud metadata address,
/// shared, unspecified, multicast, documentation, and IPv6 forms that embed such an IPv4).
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let seg = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the embedded IPv4.
            if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|s| *s == 0) {
                let [a, b] = seg[6].to_be_bytes();
                let [c, d] = seg[7].to_be_bytes();
                return forbidden_v4(Ipv4Addr::new(a, b, c, d));
            }
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
                Some("cloud metadata")
            } else if seg[0] == 0x2001 && seg[1] == 0xdb8 {
                Some("documentation")
            } else {
                None
            }
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        // 169.254.169.254 is the metadata service of most clouds.
        Some("link-local (cloud metadata)")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("multicast or reserved")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if ip.is_documentation() || (a == 198 && (b == 18 || b == 19)) {
        Some("documentation or benchmarking")
    } else {
        None
    }
}

/// What logs, job errors, events and the delivery log may show of a target URL:
/// `scheme://host:port`. Its path and query are the receiver's business and often carry a
/// secret (`/hooks/<token>`, `?key=`); the owner reads the whole URL through the API.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(url) => match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
            (Some(host), None) => format!("{}://{host}", url.scheme()),
            (None, _) => format!("{}:(no host)", url.scheme()),
        },
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// `text` with `raw` (as given, and as the URL parser writes it) replaced by its
/// [`redact_url`] form: for error texts of libraries that name the URL they were given.
pub fn redact_in(text: &str, raw: &str) -> String {
    let short = redact_url(raw);
    let mut out = text.replace(raw, &short);
    if let Ok(url) = url::Url::parse(raw) {
        out = out.replace(url.as_str(), &short);
    }
    out
}

/// A webhook target URL that passed the static checks: scheme, host, no credentials.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: url::Url,
    pub host: String,
    port: u16,
}

/// The policy of where deliveries may go (`webhooks.allow_http`, `webhooks.allow_networks`).
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    pub allow_http: bool,
    pub allow_networks: Networks,
}

impl TargetPolicy {
    /// From `webhooks.allow_http` and `webhooks.allow_networks` (a comma-separated list).
    pub fn new(allow_http: bool, allow_networks: &str) -> Result<TargetPolicy, String> {
        Ok(TargetPolicy {
            allow_http,
            allow_networks: Networks::parse(allow_networks)?,
        })
    }

    /// Refuses `ip` (what `host` resolved to) unless it is public or in an allowed network.
    pub fn check_address(&self, host: &str, ip: IpAddr) -> Result<(), AddressRefused> {
        if self.allow_networks.contains(ip) {
            return Ok(());
        }
        match forbidden(ip) {
            Some(why) => Err(AddressRefused(format!(
                "`{host}` resolves to {ip} ({why}); webhooks go to public addresses only"
            ))),
            None => Ok(()),
        }
    }

    /// The URL's form: `https://` (or `http://` when allowed), a host, no user or password
    /// (they would be logged and stored), at most 2,000 characters.
    pub fn parse(&self, raw: &str) -> Result<Target, String> {
        if raw.len() > 2000 {
            return Err("at most 2000 characters".into());
        }
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err("must be https:// (http:// is not allowed here)".into()),
            other => return Err(format!("scheme `{other}` is not allowed; use https://")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Err("has no host".into()),
        };
        let port = url.port_or_known_default().unwrap_or(443);
        Ok(Target { url, host, port })
    }

    /// Resolves the target now and checks every address: one forbidden address refuses the
    /// target (a name that resolves to both is how rebinding attacks start). The worker's
    /// client checks again when it connects (its resolver calls `check_address`).
    pub async fn resolve(&self, target: &Target) -> Result<Vec<SocketAddr>, Unresolved> {
        let host = &target.host;
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => tokio::time::timeout(
                RESOLVE_TIMEOUT,
                tokio::net::lookup_host((host.as_str(), target.port)),
            )
            .await
            .map_err(|_| Unresolved::Lookup(format!("resolving `{host}` timed out")))?
            .map_err(|e| Unresolved::Lookup(format!("cannot resolve `{host}`: {e}")))?
            .collect(),
        };
        if addrs.is_empty() {
            return Err(Unresolved::Lookup(format!(
                "`{host}` resolves to no address"
            )));
        }
        for addr in &addrs {
            self.check_address(host, addr.ip())?;
        }
        Ok(addrs)
    }
}

/// Why a target could not be resolved to addresses a delivery may use.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Unresolved {
    /// The name did not resolve (now): worth another try later.
    #[error("{0}")]
    Lookup(String),
    /// It resolves to an address the policy refuses: permanent.
    #[error(transparent)]
    Refused(#[from] AddressRefused),
}

/// Longest a target's name may take to resolve.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A target address refused by the policy.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AddressRefused(pub String);

/// A delivery's body: the event type, when it happened (RFC 3339) and the object it is about.
pub fn event_body(
    event_type: &str,
    at: crate::domain::Timestamp,
    data: serde_json::Value,
) -> String {
    serde_json::json!({
        "type": event_type,
        "timestamp": at.to_rfc3339(),
        "data": data,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks specification.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn refuses_internal_addresses_unless_allowed() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fd00:ec2::254",
        ] {
            assert!(forbidden(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            assert!(forbidden(ip.parse().unwrap()).is_none(), "{ip}");
        }
        let nets = Networks::parse("127.0.0.0/8, ::1").unwrap();
        assert!(nets.contains("127.0.0.1".parse().unwrap()));
        assert!(nets.contains("::1".parse().unwrap()));
        assert!(!nets.contains("10.0.0.1".parse().unwrap()));
        assert!(Networks::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn target_urls_are_https_without_credentials() {
        let policy = TargetPolicy::default();
        assert!(policy.parse("https://example.com/hook").is_ok());
        assert!(policy.parse("http://example.com/hook").is_err());
        assert!(policy.parse("ftp://example.com/").is_err());
        assert!(policy.parse("https://user:pw@example.com/").is_err());
        let open = TargetPolicy {
            allow_http: true,
            ..Default::default()
        };
        assert!(open.parse("http://example.com/hook").is_ok());
    }

    #[test]
    fn only_scheme_host_and_port_of_a_target_are_shown() {
        let url = "https://hooks.example.com/t/s3cret?key=k3y#frag";
        assert_eq!(redact_url(url), "https://hooks.example.com:443");
        assert_eq!(redact_url("http://[::1]:8080/x?y"), "http://[::1]:8080");
        assert_eq!(redact_url("not a url"), "(not a URL)");
        let text = format!("error sending request for url ({url}): refused");
        let said = redact_in(&text, url);
        assert!(!said.contains("s3cret") && !said.contains("k3y"), "{said}");
        assert!(said.contains("https://hooks.example.com:443"), "{said}");
        // The parser's spelling of the same URL (a host lower-cased, a path added).
        let said = redact_in(
            "for url (https://hooks.example.com/?key=k3y)",
            "https://HOOKS.example.com?key=k3y",
        );
        assert!(!said.contains("k3y"), "{said}");
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let policy = TargetPolicy::default();
        let target = policy.parse("https://localhost:8443/x").unwrap();
        let err = policy.resolve(&target).await.unwrap_err();
        assert!(matches!(err, Unresolved::Refused(_)), "{err}");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}
