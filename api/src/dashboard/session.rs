//! Dashboard sessions: an operator signs in with an API key once; the server keeps a session
//! (Redis in production, the database in the embedded deployment) under the SHA-256 of a
//! random cookie, so neither the key nor the cookie is stored. The cookie is `HttpOnly`,
//! `SameSite=Strict`, `Secure` when the public URL is https, scoped to `/dashboard`. A session
//! ends after `dashboard.idle_timeout_secs` unused or `dashboard.absolute_timeout_secs` after
//! sign-in, at sign-out, and at once when its key is revoked (every request reads the key).
//! A key holds at most `dashboard.max_sessions_per_key` sessions: a sign-in beyond it ends
//! the key's oldest. Every request of a session is charged to its key's rate limit, as if
//! the key had made it. Every form carries the session's CSRF token; the sign-in form,
//! before any session, a token that must match a cookie of its own (double submit), which
//! only stops cross-site posts: attempts are bounded by the per-address rate limit.

use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, HeaderValue, header, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::db::NewSession;
use shared::domain::Timestamp;
use shared::queue::Group;

use super::DashError;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub const COOKIE: &str = "quire_session";
/// The sign-in form's own token cookie.
pub const SIGN_IN_COOKIE: &str = "quire_sign_in";
/// A session's expiry is pushed back at most this often (not on every request).
const REFRESH_AFTER_MS: i64 = 60_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SessionData {
    key_id: String,
    csrf: String,
    created_at: i64,
    seen_at: i64,
}

/// A signed-in operator: the key's caller and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Operator {
    pub caller: Caller,
    pub key_name: String,
    pub csrf: String,
    /// The SHA-256 of the cookie: the session's storage key.
    session: String,
}

pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

fn storage_key(cookie: &str) -> String {
    format!("session:{}", hex::encode(Sha256::digest(cookie.as_bytes())))
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value; `max_age` `None` deletes the cookie.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let secure = if state.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let age = max_age.unwrap_or(0);
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={age}{secure}"
    ))
    .expect("cookie values are hex")
}

fn ttl(state: &AppState, data: &SessionData, now: i64) -> i64 {
    let d = &state.config.dashboard;
    let idle_end = now + d.idle_timeout_secs as i64 * 1000;
    let absolute_end = data.created_at + d.absolute_timeout_secs as i64 * 1000;
    idle_end.min(absolute_end) - now
}

/// Rewrites an existing session (its expiry pushed back).
async fn save(
    state: &AppState,
    key: &str,
    data: &SessionData,
    ttl_ms: i64,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(data).expect("a session serializes");
    match state.queue.expiring() {
        Some(redis) => {
            redis
                .put(key, &json, Duration::from_millis(ttl_ms.max(1) as u64))
                .await?
        }
        None => {
            state
                .db
                .put_session(key, &json, Timestamp::now().plus_millis(ttl_ms))
                .await?
        }
    }
    Ok(())
}

/// Stores a new session, ending its key's oldest beyond `dashboard.max_sessions_per_key`.
async fn create(
    state: &AppState,
    key: &str,
    data: &SessionData,
    ttl_ms: i64,
) -> Result<(), ApiError> {
    let json = serde_json::to_string(data).expect("a session serializes");
    let max = state.config.dashboard.max_sessions_per_key;
    let ended = match state.queue.expiring() {
        Some(redis) => {
            let group = format!("sessions:{}", data.key_id);
            let group = Group {
                name: &group,
                created_ms: data.created_at,
                max,
                ttl: Duration::from_secs(state.config.dashboard.absolute_timeout_secs),
            };
            redis
                .put_in_group(
                    key,
                    &json,
                    Duration::from_millis(ttl_ms.max(1) as u64),
                    &group,
                )
                .await?
        }
        None => {
            let session = NewSession {
                id: key,
                key_id: &data.key_id,
                data: &json,
                created_at: Timestamp::from_millis(data.created_at),
                expires_at: Timestamp::from_millis(data.created_at + ttl_ms),
            };
            state.db.create_session(&session, max).await?
        }
    };
    if ended > 0 {
        tracing::info!(
            key_id = %data.key_id,
            ended,
            "a dashboard sign-in ended the key's oldest sessions"
        );
    }
    Ok(())
}

async fn load(state: &AppState, key: &str) -> Result<Option<SessionData>, ApiError> {
    let json = match state.queue.expiring() {
        Some(redis) => redis.get(key).await?,
        None => state.db.get_session(key).await?,
    };
    Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
}

async fn forget(state: &AppState, key: &str) -> Result<(), ApiError> {
    match state.queue.expiring() {
        Some(redis) => redis.delete(key).await?,
        None => state.db.delete_session(key).await?,
    }
    Ok(())
}

/// Starts a session for the key `secret`; the cookie to set. `Unauthorized` for an unknown
/// or revoked key.
pub async fn sign_in(state: &AppState, secret: &str) -> Result<(String, u64), ApiError> {
    let key = state
        .db
        .find_key(secret.trim())
        .await?
        .ok_or(ApiError::Unauthorized("unknown or revoked API key"))?;
    let now = Timestamp::now().millis();
    let data = SessionData {
        key_id: key.id,
        csrf: random_token(),
        created_at: now,
        seen_at: now,
    };
    let cookie = random_token();
    let ttl_ms = ttl(state, &data, now);
    create(state, &storage_key(&cookie), &data, ttl_ms).await?;
    Ok((cookie, state.config.dashboard.absolute_timeout_secs))
}

/// Ends the operator's session.
pub async fn sign_out(state: &AppState, operator: &Operator) -> Result<(), ApiError> {
    forget(state, &operator.session).await
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = DashError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, DashError> {
        // Once per request, however many extractors ask: the charge is one request.
        if let Some(operator) = parts.extensions.get::<Operator>() {
            return Ok(operator.clone());
        }
        let operator = Self::of_session(parts, state).await?;
        crate::rate_limit::charge_key(state, &operator.caller, 1).await?;
        parts.extensions.insert(operator.clone());
        Ok(operator)
    }
}

impl Operator {
    /// The operator whose session cookie `parts` carries, if the session and its key live.
    async fn of_session(parts: &Parts, state: &AppState) -> Result<Self, DashError> {
        let to_sign_in = || DashError::SignIn;
        let cookie = cookie(&parts.headers, COOKIE).ok_or_else(to_sign_in)?;
        let key = storage_key(&cookie);
        let mut data = load(state, &key).await?.ok_or_else(to_sign_in)?;
        let now = Timestamp::now().millis();
        let remaining = ttl(state, &data, now);
        let idle = now - data.seen_at > state.config.dashboard.idle_timeout_secs as i64 * 1000;
        if remaining <= 0 || idle {
            forget(state, &key).await?;
            return Err(DashError::SignIn);
        }
        // The key is read on every request: a revoked key's sessions end at once.
        let Some(api_key) = state
            .db
            .get_key(&data.key_id)
            .await?
            .filter(|k| k.revoked_at.is_none())
        else {
            forget(state, &key).await?;
            return Err(DashError::SignIn);
        };
        if now - data.seen_at > REFRESH_AFTER_MS {
            data.seen_at = now;
            save(state, &key, &data, remaining.min(ttl(state, &data, now))).await?;
        }
        Ok(Operator {
            key_name: api_key.name.clone(),
            caller: Caller::of_key(api_key),
            csrf: data.csrf,
            session: key,
        })
    }
}

/// A submitted dashboard form whose CSRF token matched the session's: the operator and the
/// form's fields (names may repeat: a list of selected jobs).
pub struct Action {
    pub operator: Operator,
    pub fields: Vec<(String, String)>,
}

impl Action {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl FromRequest<AppState> for Action {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let operator = Operator::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let req = Request::from_parts(parts, body);
        // A body that is not a form carries no token either.
        let axum::Form(fields) = axum::Form::<Vec<(String, String)>>::from_request(req, state)
            .await
            .map_err(|_| DashError::Csrf.into_response())?;
        let given = fields
            .iter()
            .find(|(n, _)| n == "csrf")
            .map(|(_, v)| v.as_str());
        if !given.is_some_and(|t| same(t, &operator.csrf)) {
            return Err(DashError::Csrf.into_response());
        }
        Ok(Action { operator, fields })
    }
}

/// Constant-time equality of two tokens.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Where a signed-out operator goes.
pub fn to_sign_in() -> Response {
    Redirect::to("/dashboard/sign-in").into_response()
}
