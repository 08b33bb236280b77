//! Open Badges 3.0 (`shared::credentials`), public like verification: a certificate's
//! credential as a VC-JWT (`GET /v1/verify/{code}/credential`), the revocation status lists
//! it points to (`GET /v1/credentials/status/{list}`), and the issuer's DID document
//! (`GET /.well-known/did.json`, and `/did.json` for a base URL with a path).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use shared::credentials::{Achievement, DidDocument, LIST_SIZE, MEDIA_TYPE};
use shared::db::CertificateStatus;
use shared::domain::Timestamp;

use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiPath;
use crate::public_cache::{self, Caching};
use crate::routes::verify::{cacheable, issued};
use crate::state::AppState;

/// The certificate's Open Badges 3.0 `OpenBadgeCredential`, as a VC-JWT signed by quire's
/// `did:web` issuer (`EdDSA`; the key is in the DID document). Its `credentialStatus` names
/// its entry in a revocation status list: a revoked certificate's credential is still served,
/// and its list says it is revoked. A certificate not rendered yet has none (404).
#[utoipa::path(get, path = "/v1/verify/{code}/credential", operation_id = "get_credential", tag = "verification",
    params(("code" = String, Path, description = "The verification code printed on the certificate")),
    responses((status = 200, description = "The credential: a compact JWS whose payload is the `OpenBadgeCredential`",
            content((String = "application/vc+jwt")),
            headers(("Cache-Control" = String, description = "`public, max-age=60`: the credential never changes; its status is in the status list"),
                ("Surrogate-Key" = String, description = "`cert-<code>`"),
                ("Cache-Tag" = String, description = "The same tags, comma-separated"))),
        (status = 304, description = "Not modified: the `If-None-Match` ETag is current",
            headers(("Surrogate-Key" = String, description = "As on 200"), ("Cache-Tag" = String, description = "As on 200"))),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(code): ApiPath<String>,
) -> Result<Response, ApiError> {
    let (row, status) = issued(&state, &code).await?;
    if status == CertificateStatus::Pending {
        return Err(ApiError::NotFound("credential"));
    }
    let index = match row.status_index {
        Some(index) => index,
        None => state.db.assign_status_index(row.job_id).await?,
    };
    let issuer = state.issuer().await?;
    let jwt = issuer.credential_jwt(
        &Achievement {
            code: &row.verification_code,
            recipient_name: &row.recipient_name,
            course_name: &row.course_name,
            issuer_name: row.issuer_name.as_deref(),
            issued_on: row.issued_on,
            expires_on: row.expires_on,
        },
        index,
    );
    let cache = Caching {
        max_age: public_cache::MAX_AGE_SECS,
        tags: vec![shared::cdn::certificate(&row.verification_code)],
    };
    Ok(cacheable(&headers, &cache, MEDIA_TYPE, jwt.into()))
}

/// A revocation status list (W3C Bitstring Status List): a `BitstringStatusListCredential`
/// as a VC-JWT, whose `encodedList` has the bit of every revoked certificate's entry set. Read
/// from the database on each request (revocation flips the bit in its own transaction), so
/// `Cache-Control: no-cache`: caches revalidate with the `ETag`.
#[utoipa::path(get, path = "/v1/credentials/status/{list}", operation_id = "get_status_list", tag = "verification",
    params(("list" = i64, Path, minimum = 0, maximum = 1_000_000_000, description = "The list's number, as in a credential's `statusListCredential`")),
    responses((status = 200, description = "The status list credential: a compact JWS",
            content((String = "application/vc+jwt")),
            headers(("Cache-Control" = String, description = "`no-cache`"))),
        (status = 304, description = "Not modified: the `If-None-Match` ETag is current"),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn status_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiPath(list): ApiPath<i64>,
) -> Result<Response, ApiError> {
    if !(0..=MAX_LIST).contains(&list) {
        return Err(ApiError::NotFound("status list"));
    }
    let (revoked, latest) = state.db.revoked_status_indexes(list).await?;
    let issuer = state.issuer().await?;
    // Valid from its latest change, so the same list is the same bytes (and ETag).
    let updated = Timestamp::from_millis(latest.unwrap_or(0));
    let jwt = issuer.status_list_jwt(list, &revoked, updated);
    Ok(cacheable(&headers, &NO_CACHE, MEDIA_TYPE, jwt.into()))
}

/// The highest list number a path may name (`LIST_SIZE` times it stays far inside `i64`).
const MAX_LIST: i64 = 1_000_000_000;
const _: () = assert!(MAX_LIST.checked_mul(LIST_SIZE).is_some());

/// Untagged: a status list is revalidated every time, never purged.
static NO_CACHE: Caching = Caching {
    max_age: 0,
    tags: Vec::new(),
};

/// The issuer's DID document (`did:web`): the Ed25519 public key that signs credentials, as a
/// JSON Web Key. Also served at `/did.json`, where `did:web` looks when the public base URL
/// has a path.
#[utoipa::path(get, path = "/.well-known/did.json", operation_id = "get_did_document", tag = "verification",
    responses((status = 200, description = "The DID document", content((DidDocument = "application/did+json"))),
        (status = 503, body = ErrorBody)))]
pub async fn did_document(State(state): State<AppState>) -> Result<Response, ApiError> {
    let issuer = state.issuer().await?;
    let mut response = Json(issuer.did_document()).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/did+json"),
    );
    Ok(response)
}
