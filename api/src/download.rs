//! Serving a stored file: streamed from storage (never whole in memory), with `HEAD`, one
//! `Range` (`206`, or `416` when it cannot be satisfied), `If-None-Match` (`304`) and
//! `If-Range`; or, when object storage is configured to, a `302` to a short-lived presigned
//! URL so the bytes do not pass through the API at all.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// A file a row records: its key, size and sha256 (its ETag).
pub struct StoredObject<'a> {
    pub key: &'a str,
    pub bytes: u64,
    pub sha256: &'a str,
    pub content_type: &'static str,
    /// `Content-Disposition` file name.
    pub file_name: String,
}

/// The answer to `GET`/`HEAD` of `object`.
pub async fn serve(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    object: StoredObject<'_>,
) -> Result<Response, ApiError> {
    let etag = format!("\"{}\"", object.sha256);
    if if_none_match(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let presign_secs = state.config.s3.presign_downloads_secs;
    if presign_secs > 0
        && let Some(url) = state
            .storage
            .presigned_url(object.key, Duration::from_secs(presign_secs))
            .await
            .map_err(|e| ApiError::storage("signing a download URL", e))?
    {
        return Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, url),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
        )
            .into_response());
    }
    let range = match requested_range(headers, &etag, object.bytes) {
        Ok(range) => range,
        Err(()) => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{}", object.bytes))],
            )
                .into_response());
        }
    };
    let (status, length) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, object.bytes),
    };
    // A succeeded job's file never changes (a retry writes a new job's attempt): clients
    // and private caches may keep it; the ETag still revalidates.
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, object.content_type)
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, &etag)
        .header(
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        )
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", object.file_name),
        );
    if let Some(r) = &range {
        response = response.header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", r.start, r.end - 1, object.bytes),
        );
    }
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        let stream = state
            .storage
            .open(object.key, range)
            .await
            .map_err(|e| ApiError::storage("opening a stored file", e))?;
        Body::from_stream(stream)
    };
    response
        .body(body)
        .map_err(|e| ApiError::Internal(format!("building a download response: {e}")))
}

/// Whether the request's `If-None-Match` names `etag` (or `*`): the client has it already.
pub(crate) fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// The one byte range asked for, as a half-open range; `None` for the whole file (no
/// `Range`, several ranges, a unit other than bytes, or an `If-Range` naming another
/// version); `Err` when the range lies outside the file (`416`).
fn requested_range(
    headers: &HeaderMap,
    etag: &str,
    size: u64,
) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    if let Some(if_range) = headers.get(header::IF_RANGE)
        && if_range != HeaderValue::from_str(etag).map_err(|_| ())?
    {
        return Ok(None);
    }
    let Ok(parsed) = http_range_header::parse_range_header(value) else {
        // Not a byte range we can read: RFC 9110 says ignore it.
        return Ok(None);
    };
    match parsed.validate(size) {
        Ok(ranges) => match ranges.as_slice() {
            [one] => Ok(Some(*one.start()..*one.end() + 1)),
            _ => Ok(None),
        },
        Err(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, "\"abc\"", size)
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(range("bytes=-5", 100), Ok(Some(95..100)));
        assert_eq!(range("bytes=100-", 100), Err(()));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_static("bytes=0-9"));
        headers.insert(header::IF_RANGE, HeaderValue::from_static("\"old\""));
        assert_eq!(requested_range(&headers, "\"abc\"", 100), Ok(None));
    }
}
