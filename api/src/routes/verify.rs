//! Public verification: `GET /v1/verify/{code}` (JSON, or HTML for browsers) and
//! `GET /verify/{code}` (HTML), where a certificate's QR code leads. No key needed; the
//! code itself is the unguessable secret.
//!
//! CDN-ready: every answer carries an `ETag` (the sha256 of its body, so revoking a
//! certificate changes it at once), `Cache-Control: public, max-age=60` and the cache tag of
//! its certificate (`Surrogate-Key`, `Cache-Tag`: `cert-<code>`); a matching `If-None-Match`
//! is a `304`. A CDN may keep an answer a minute at most, and revalidates with a request that
//! costs a database read but no body. With purging configured (`cdn.purge_url`), a revocation
//! or deletion purges the tag, so an answer only a purge changes (`valid`, `revoked`,
//! `expired`) may live `cdn.max_age_secs`; a `valid` one never past its expiry.

use std::sync::{Arc, LazyLock};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use shared::db::CertificateStatus;
use shared::domain::CalendarDate;

use crate::cache::Caches;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiPath;
use crate::public_cache::{self, Caching};
use crate::state::AppState;
use crate::views::{CertificateView, Verification};

static PAGE: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    // `.html` names turn on auto-escaping: names are data, never markup.
    env.add_template(
        "verify.html",
        include_str!("../../../templates/web/verify.html"),
    )
    .expect("the verification page template parses");
    env
});

/// Codes are 14 characters (`XXXX-XXXX-XXXX`); anything far off is not looked up.
fn normalise(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    (code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .then_some(code)
}

/// A verification with how it may be cached.
struct Answer {
    verification: Verification,
    cache: Caching,
}

/// The issued certificate a code names, through the cache layer, with its status today: a
/// finished certificate's row is cached and dropped by any change to it; the status is worked
/// out per request, since expiry comes with the date. Unknown, failed or cancelled: 404 (a
/// certificate that never rendered was never issued).
pub(crate) async fn issued(
    state: &AppState,
    code: &str,
) -> Result<(Arc<shared::db::CertificateRow>, CertificateStatus), ApiError> {
    let code = normalise(code).ok_or(ApiError::NotFound("certificate"))?;
    let loading = async {
        state
            .db
            .find_certificate_by_code(&code)
            .await
            .map(|r| r.map(Arc::new))
    };
    let row = state
        .caches
        .verifications()
        .load(&code, loading, |row| {
            row.as_deref().and_then(Caches::verification_tags)
        })
        .await?
        .ok_or(ApiError::NotFound("certificate"))?;
    let status = row.status(CalendarDate::today());
    if matches!(
        status,
        CertificateStatus::Failed | CertificateStatus::Cancelled
    ) {
        return Err(ApiError::NotFound("certificate"));
    }
    Ok((row, status))
}

async fn lookup(state: &AppState, code: &str) -> Result<Answer, ApiError> {
    let (row, status) = issued(state, code).await?;
    let cache = Caching {
        max_age: public_cache::verification_max_age(&state.config, status, row.expires_on),
        tags: vec![shared::cdn::certificate(&row.verification_code)],
    };
    let verification = Verification::of(CertificateView::from_row(&row, &state.base_url, true));
    Ok(Answer {
        verification,
        cache,
    })
}

fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let html = accept.find("text/html");
    let json = accept.find("application/json");
    matches!((html, json), (Some(h), Some(j)) if h < j) || (html.is_some() && json.is_none())
}

/// `body` with its ETag and cache headers, or `304` when the client has it already.
pub(crate) fn cacheable(
    request: &HeaderMap,
    cache: &Caching,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response {
    use sha2::Digest as _;
    let etag = format!("\"{}\"", hex::encode(sha2::Sha256::digest(&body)));
    let fresh = crate::download::if_none_match(request, &etag);
    let headers = [
        (header::ETAG, etag),
        // One URL, two representations (HTML for browsers, JSON otherwise).
        (header::VARY, "Accept".to_owned()),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers, cache.headers()).into_response();
    }
    let mut response = (headers, cache.headers(), body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn html(v: &Verification, base_url: &str) -> Result<String, ApiError> {
    let label = match v.status.as_str() {
        "valid" => "valid",
        "expired" => "expired",
        "revoked" => "revoked",
        _ => "not yet issued",
    };
    let rendered = PAGE.get_template("verify.html").and_then(|t| {
        t.render(minijinja::context! {
            status => v.status, status_label => label, code => v.code,
            recipient_name => v.recipient_name, course_name => v.course_name,
            issuer_name => v.issuer_name, issued_on => v.issued_on, expires_on => v.expires_on,
            revocation_reason => v.revocation_reason, sha256 => v.sha256,
            linkedin_url => v.linkedin_url, credential_url => v.credential_url,
            signed_by => v.signed_by,
            did_url => shared::urls::did_document(base_url),
            stylesheet => super::assets::url("verify.css"),
        })
    });
    rendered.map_err(|e| ApiError::Internal(format!("verification page: {e}")))
}

/// Verify a certificate by its code. Browsers (`Accept: text/html`) get the HTML page. The
/// answer carries an `ETag`, `Cache-Control: public, max-age=60` (longer with CDN purging
/// configured) and its cache tag (`Surrogate-Key`, `Cache-Tag`); `If-None-Match` with the
/// current ETag answers 304 (revoking the certificate changes it).
#[utoipa::path(get, path = "/v1/verify/{code}", operation_id = "verify_certificate", tag = "verification",
    params(("code" = String, Path, description = "The verification code printed on the certificate")),
    responses((status = 200, description = "The verification; the HTML page with `Accept: text/html`",
            content((Verification = "application/json"), ("text/html")),
            headers(("Cache-Control" = String, description = "`public, max-age=60`; with CDN purging configured, answers only a purge changes may live longer"),
                ("Surrogate-Key" = String, description = "Cache tags of what the answer depends on, space-separated: `cert-<code>`"),
                ("Cache-Tag" = String, description = "The same tags, comma-separated"))),
        (status = 304, description = "Not modified: the `If-None-Match` ETag is current",
            headers(("Surrogate-Key" = String, description = "As on 200"), ("Cache-Tag" = String, description = "As on 200"))),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    let answer = lookup(&state, &code).await?;
    if wants_html(&headers) {
        let page = html(&answer.verification, &state.base_url)?;
        return Ok(cacheable(
            &headers,
            &answer.cache,
            "text/html; charset=utf-8",
            page.into(),
        ));
    }
    let body = serde_json::to_vec(&answer.verification)
        .map_err(|e| ApiError::Internal(format!("verification JSON: {e}")))?;
    Ok(cacheable(&headers, &answer.cache, "application/json", body))
}

/// The HTML view, for people who scan the QR code.
pub async fn verify_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
) -> Response {
    match lookup(&state, &code)
        .await
        .and_then(|a| Ok((html(&a.verification, &state.base_url)?, a.cache)))
    {
        Ok((page, cache)) => cacheable(&headers, &cache, "text/html; charset=utf-8", page.into()),
        Err(ApiError::NotFound(_)) => (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><title>Not found</title><h1>No certificate has this code</h1>"),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}
