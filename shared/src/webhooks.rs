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
pub const SUBSCRIBABLE: [&str; 8] = [
    "job.succeeded",
    "job.failed",
    "job.dead",
    "job.cancelled",
    "batch.completed",
    "certificate.revoked",
    "workflow.completed",
    "workflow.failed",
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

/// Networks a target may resolve into although they are not public (`webhooks.allow_networks`,
/// and a key's own: `quire keys set --allow-networks`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// These networks and `more`'s.
    pub fn with(&self, more: &Networks) -> Networks {
        let mut all = self.0.clone();
        all.extend(more.0.iter().filter(|n| !self.0.contains(n)).copied());
        Networks(all)
    }
}

impl std::fmt::Display for Networks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&list.join(","))
    }
}

/// Why an address may not be a webhook target, if it may not. An allow-list: a target must
/// be globally reachable unicast as the IANA special-purpose address registries (IPv4 and
/// IPv6) have it. IPv6 must be in global unicast space (2000::/3) and in no special-purpose
/// block that is not globally reachable; the forms that carry an IPv4 address to connect to
/// (IPv4-mapped, NAT64 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32) are judged by the
/// IPv4 address inside, and IPv4-compatible (::/96) and local-use NAT64 (64:ff9b:1::/48)
/// forms are refused.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// IPv4 blocks that are not globally reachable (IANA IPv4 Special-Purpose Address Registry,
/// with multicast and reserved space; broadcast is checked apart), in address order; an
/// address in none of them is public.
const V4_BLOCKS: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\""),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    // 169.254.169.254 is the metadata service of most clouds.
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private"),
    // IETF protocol assignments (DS-Lite, NAT64 discovery, ...); its two anycast services
    // (192.0.0.9 and .10) are no webhook receivers.
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
];

/// IPv6 blocks inside 2000::/3 that may be reached (the registry's globally reachable
/// exceptions inside 2001::/23), then those that may not.
const V6_REACHABLE: &[&str] = &[
    "2001:1::1/128",
    "2001:1::2/128",
    "2001:1::3/128",
    "2001:3::/32",
    "2001:4:112::/48",
    "2001:20::/28",
    "2001:30::/28",
];
const V6_BLOCKS: &[(&str, &str)] = &[
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
];

fn within(ip: IpAddr, net: &str) -> bool {
    net.parse::<IpNet>()
        .expect("the tables hold valid networks")
        .contains(&ip)
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_broadcast() {
        return Some("broadcast");
    }
    V4_BLOCKS
        .iter()
        .find(|(net, _)| within(IpAddr::V4(ip), net))
        .map(|(_, why)| *why)
}

/// The IPv4 address an IPv6 address carries as its destination (IPv4-mapped, NAT64, 6to4,
/// Teredo's client), with the form's name.
fn embedded_v4(v6: Ipv6Addr) -> Option<(Ipv4Addr, &'static str)> {
    let seg = v6.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(mapped) = v6.to_ipv4_mapped() {
        return Some((mapped, "IPv4-mapped"));
    }
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|s| *s == 0) {
        return Some((v4(seg[6], seg[7]), "NAT64"));
    }
    if seg[0] == 0x2002 {
        return Some((v4(seg[1], seg[2]), "6to4"));
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        // Teredo: the client's public address, bit-inverted, in the last 32 bits.
        return Some((v4(!seg[6], !seg[7]), "Teredo"));
    }
    None
}

fn forbidden_v6(v6: Ipv6Addr) -> Option<&'static str> {
    if let Some((v4, _)) = embedded_v4(v6) {
        return forbidden_v4(v4).map(|_| "an IPv6 form of a non-public IPv4 address");
    }
    let ip = IpAddr::V6(v6);
    let seg = v6.segments();
    if seg[0] & 0xe000 != 0x2000 {
        // Outside global unicast: name the common cases.
        return Some(if v6.is_loopback() {
            "loopback"
        } else if v6.is_unspecified() {
            "unspecified"
        } else if within(ip, "64:ff9b:1::/48") {
            "local-use NAT64"
        } else if within(ip, "::/96") {
            "IPv4-compatible (deprecated)"
        } else if within(ip, "fc00::/7") {
            "private (unique local)"
        } else if within(ip, "fe80::/10") {
            "link-local"
        } else if within(ip, "fec0::/10") {
            "site-local (deprecated)"
        } else if v6.is_multicast() {
            "multicast"
        } else {
            "not global unicast"
        });
    }
    if V6_REACHABLE.iter().any(|net| within(ip, net)) {
        return None;
    }
    V6_BLOCKS
        .iter()
        .find(|(net, _)| within(ip, net))
        .map(|(_, why)| *why)
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

/// A webhook target URL that passed the static checks: scheme, host, port, no credentials.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: url::Url,
    pub host: String,
    port: u16,
}

/// The policy of where deliveries may go (`webhooks.allow_http`, `webhooks.allow_networks`,
/// `webhooks.allowed_ports`).
#[derive(Debug, Clone, Default)]
pub struct TargetPolicy {
    pub allow_http: bool,
    pub allow_networks: Networks,
    /// Ports a target may name (its scheme's default when it names none); empty: any.
    pub allowed_ports: Vec<u16>,
}

/// `webhooks.allowed_ports`: comma-separated port numbers; empty: any port.
pub fn parse_ports(list: &str) -> Result<Vec<u16>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("`{s}` is not a port (1 to 65535)"))
        })
        .collect()
}

impl TargetPolicy {
    /// From `webhooks.allow_http`, `webhooks.allow_networks` and `webhooks.allowed_ports`
    /// (comma-separated lists).
    pub fn new(
        allow_http: bool,
        allow_networks: &str,
        allowed_ports: &str,
    ) -> Result<TargetPolicy, String> {
        Ok(TargetPolicy {
            allow_http,
            allow_networks: Networks::parse(allow_networks)?,
            allowed_ports: parse_ports(allowed_ports)?,
        })
    }

    /// This policy for one key: its own networks (`quire keys set --allow-networks`) too.
    pub fn for_key(&self, networks: &Networks) -> TargetPolicy {
        if networks.is_empty() {
            return self.clone();
        }
        TargetPolicy {
            allow_networks: self.allow_networks.with(networks),
            ..self.clone()
        }
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
    /// (they would be logged and stored), an allowed port, at most 2,000 characters.
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
        if !self.allowed_ports.is_empty() && !self.allowed_ports.contains(&port) {
            let ports: Vec<String> = self.allowed_ports.iter().map(u16::to_string).collect();
            return Err(format!(
                "port {port} is not allowed; targets may use port {} (webhooks.allowed_ports)",
                ports.join(", ")
            ));
        }
        Ok(Target { url, host, port })
    }

    /// Resolves the target now (through `resolver`: bounded, asynchronous) and checks every
    /// address: one forbidden address refuses the target (a name that resolves to both is
    /// how rebinding attacks start). The worker's client checks again when it connects (its
    /// resolver calls `check_address`).
    pub async fn resolve(
        &self,
        resolver: &crate::resolver::TargetResolver,
        target: &Target,
    ) -> Result<Vec<SocketAddr>, Unresolved> {
        let host = &target.host;
        let addrs: Vec<SocketAddr> = resolver
            .lookup(host)
            .await?
            .into_iter()
            .map(|ip| SocketAddr::new(ip, target.port))
            .collect();
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
    /// Every lookup slot of this process stayed taken (`webhooks.max_lookups`): try later.
    #[error("{0}")]
    Busy(String),
    /// It resolves to an address the policy refuses: permanent.
    #[error(transparent)]
    Refused(#[from] AddressRefused),
}

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

    /// The forms the deny-list let through: IPv4-compatible, local-use NAT64, 6to4 and
    /// Teredo carrying internal addresses, site-local, IETF protocol assignments; and the
    /// special-purpose blocks of both registries.
    #[test]
    fn only_globally_reachable_addresses_are_targets() {
        for ip in [
            "::7f00:1",                             // IPv4-compatible 127.0.0.1
            "::a9fe:a9fe",                          // IPv4-compatible 169.254.169.254
            "64:ff9b:1::a9fe:a9fe",                 // local-use NAT64
            "64:ff9b:1:7f00:0:100::",               // local-use NAT64, another layout
            "2002:7f00:1::",                        // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::1",                    // 6to4 of the metadata address
            "2002:c0a8:101::",                      // 6to4 of 192.168.1.1
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo, client 127.0.0.1
            "2001:0:4136:e378:8000:63bf:f5ff:fffe", // Teredo, client 10.0.0.1
            "fec0::1",                              // site-local
            "192.0.0.1",                            // IETF protocol assignments
            "192.0.0.170",                          // NAT64 discovery
            "192.0.0.9",                            // PCP anycast: no receiver
            "192.88.99.1",                          // 6to4 relay anycast
            "198.18.0.1",                           // benchmarking
            "255.255.255.255",
            "240.0.0.1",
            "224.0.0.1",
            "100::1",      // discard-only
            "2001:2::1",   // benchmarking
            "2001:10::1",  // ORCHID
            "2001:db8::1", // documentation
            "3fff::1",     // documentation
            "5f00::1",     // SRv6 SIDs (outside 2000::/3)
            "ff02::1",
            "::",
            "::ffff:10.0.0.1",
            "64:ff9b::10.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(forbidden(ip).is_some(), "{ip} let through");
        }
        for ip in [
            "8.8.8.8",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "64:ff9b::808:808", // NAT64 of 8.8.8.8
            "2002:808:808::1",  // 6to4 of 8.8.8.8
            "::ffff:8.8.8.8",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7", // Teredo, client 8.8.8.8
            "2001:4:112::1",                        // AS112, globally reachable
            "192.31.196.1",                         // AS112
            "192.52.193.1",                         // AMT
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(forbidden(ip), None, "{ip} refused");
        }
    }

    #[test]
    fn ports_and_a_key_s_networks_widen_or_narrow_the_policy() {
        let policy = TargetPolicy::new(false, "", "443, 8443").unwrap();
        assert!(policy.parse("https://example.com/hook").is_ok());
        assert!(policy.parse("https://example.com:8443/hook").is_ok());
        let err = policy.parse("https://example.com:22/hook").unwrap_err();
        assert!(err.contains("port 22 is not allowed"), "{err}");
        assert!(TargetPolicy::new(false, "", "0").is_err());
        assert!(TargetPolicy::new(false, "", "https").is_err());
        let ip: IpAddr = "10.1.2.3".parse().unwrap();
        assert!(policy.check_address("internal", ip).is_err());
        let key = Networks::parse("10.0.0.0/8").unwrap();
        assert!(policy.for_key(&key).check_address("internal", ip).is_ok());
        assert!(
            policy
                .for_key(&key)
                .check_address("other", "192.168.0.1".parse().unwrap())
                .is_err()
        );
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
        let resolver = crate::resolver::TargetResolver::new(&crate::resolver::LookupSettings {
            nameservers: Vec::new(),
            timeout: std::time::Duration::from_secs(5),
            max_lookups: 4,
        });
        let target = policy.parse("https://localhost:8443/x").unwrap();
        let err = policy.resolve(&resolver, &target).await.unwrap_err();
        assert!(matches!(err, Unresolved::Refused(_)), "{err}");
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}
