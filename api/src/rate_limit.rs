//! Request rate limits, before any handler runs: per API key on keyed requests, per client
//! address on the public endpoints (verification and the public registry, so codes cannot
//! be enumerated quickly). Over the limit: `429 rate_limited` with `Retry-After`. Every
//! limited answer, refused or not, carries the IETF draft's headers
//! (draft-ietf-httpapi-ratelimit-headers): `RateLimit-Policy: "key";q=1000;w=1` and
//! `RateLimit: "key";r=997;t=1` (requests left, seconds until the bucket is full), so clients
//! can pace themselves. The buckets are `Queue::take_token`'s: in Redis, shared by every API
//! process; in process memory on SQLite.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shared::queue::{RateDecision, RatePolicy};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Paths limited per client address; everything else is limited per key when it has one.
fn is_public(path: &str) -> bool {
    path.starts_with("/v1/verify/")
        || path.starts_with("/verify/")
        || path == "/v1/certificates/public"
}

/// The middleware: picks the bucket and its policy, takes a token, answers 429 or runs the
/// request, and adds the headers.
pub(crate) async fn limit(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let settings = &state.config.rate_limit;
    let window = Duration::from_secs(settings.window_secs);
    let (name, bucket, requests) = if is_public(request.uri().path()) {
        let address = client_address(&request, settings.trust_forwarded_for);
        let Some(address) = address else {
            return next.run(request).await;
        };
        (
            "address",
            address_bucket(address),
            settings.public_per_address,
        )
    } else {
        let Some(caller) = authenticate(&state, request.headers()).await else {
            // No key, or a bad one: the handler answers (401, or a public route).
            return next.run(request).await;
        };
        let requests = caller.service.rate_limit.unwrap_or(settings.per_key);
        let bucket = format!("key:{}", caller.key_id);
        request.extensions_mut().insert(caller);
        ("key", bucket, requests)
    };
    if requests == 0 {
        return next.run(request).await;
    }
    let policy = RatePolicy {
        requests: u32::try_from(requests).unwrap_or(u32::MAX),
        window,
    };
    let decision = state.queue.take_token(&bucket, policy).await;
    let mut response = if decision.allowed {
        next.run(request).await
    } else {
        shared::metrics::rate_limited(name);
        ApiError::TooMany {
            code: "rate_limited",
            message: format!(
                "more than {requests} requests in {} s for this {name}; retry after {} s",
                settings.window_secs, decision.retry_after_secs
            ),
            retry_after_secs: decision.retry_after_secs,
        }
        .into_response()
    };
    add_headers(response.headers_mut(), name, policy, decision);
    response
}

fn add_headers(headers: &mut HeaderMap, name: &str, policy: RatePolicy, decision: RateDecision) {
    let policy_value = format!(
        "\"{name}\";q={};w={}",
        policy.requests,
        policy.window.as_secs()
    );
    let state_value = format!(
        "\"{name}\";r={};t={}",
        decision.remaining, decision.reset_secs
    );
    for (header, value) in [
        ("ratelimit-policy", policy_value),
        ("ratelimit", state_value),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header, value);
        }
    }
}

/// The key of a `Bearer` header, if it is a live one (through the key cache).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Option<Caller> {
    let secret = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?
        .trim();
    if secret.is_empty() {
        return None;
    }
    state.auth.authenticate(&state.db, secret).await.ok()
}

/// The bucket of a client address: an IPv4 address is one client; an IPv6 address is its
/// /64, the smallest network a site gets, so one client cannot take a fresh bucket per
/// address of its prefix (it holds 2^64 of them). An IPv4-mapped IPv6 address is its IPv4.
fn address_bucket(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("ip6:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// The peer's address (set by the server loop), or with `trust_forwarded_for` the last
/// `X-Forwarded-For` entry: the one the trusted proxy itself appended.
fn client_address(request: &Request, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(forwarded) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return Some(forwarded);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_paths_are_limited_by_address() {
        assert!(is_public("/v1/verify/ABCD-EFGH-JKLM"));
        assert!(is_public("/verify/ABCD-EFGH-JKLM"));
        assert!(is_public("/v1/certificates/public"));
        assert!(!is_public("/v1/certificates"));
        assert!(!is_public("/v1/certificates/public-ish"));
    }

    #[test]
    fn an_ipv6_client_is_its_64() {
        let bucket = |a: &str| address_bucket(a.parse().unwrap());
        assert_eq!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(bucket("2001:db8:1:2::1"), bucket("2001:db8:1:3::1"));
        assert_eq!(bucket("2001:db8:1:2::1"), "ip6:2001:db8:1:2::/64");
        assert_eq!(bucket("::ffff:192.0.2.7"), bucket("192.0.2.7"));
        assert_ne!(bucket("192.0.2.7"), bucket("192.0.2.8"));
    }

    #[test]
    fn headers_follow_the_draft() {
        let mut headers = HeaderMap::new();
        let policy = RatePolicy {
            requests: 100,
            window: Duration::from_secs(1),
        };
        let decision = RateDecision {
            allowed: true,
            remaining: 42,
            reset_secs: 1,
            retry_after_secs: 0,
        };
        add_headers(&mut headers, "key", policy, decision);
        assert_eq!(headers["ratelimit-policy"], "\"key\";q=100;w=1");
        assert_eq!(headers["ratelimit"], "\"key\";r=42;t=1");
    }
}
