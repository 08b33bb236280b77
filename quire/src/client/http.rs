//! The HTTP side of the client commands: one authenticated `reqwest` client, the API's error
//! body turned into a [`Failure`], waits on `429`/`503` honoured, files streamed to disk.

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

use super::failure::Failure;

/// Longest `Retry-After` the client sleeps through before giving up.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// Times a request refused with `429` or `503` is sent again.
const RETRIES: u32 = 5;
/// What the API accepts as `?wait=` (its `MAX_WAIT_SECS`), less a margin for the trip.
pub const LONG_POLL_SECS: u64 = 55;

pub struct Api {
    base: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, key: Option<String>) -> Result<Api, Failure> {
        let base = base.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| Failure::Usage(format!("--url `{base}` is not an http(s) URL")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            // Long polls last up to LONG_POLL_SECS; downloads may be large: per-read bound.
            .read_timeout(Duration::from_secs(LONG_POLL_SECS + 30))
            .user_agent(concat!("quire-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Failure::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Api { base, key, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// A request to `path` (from the API's root, e.g. `/v1/jobs`), with the key.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends `request`; a `2xx` answer is returned, anything else is a [`Failure`]. A `429` or
    /// `503` with a short `Retry-After` is waited out and sent again (nothing was accepted).
    pub async fn send(&self, mut request: RequestBuilder) -> Result<Response, Failure> {
        let mut tries = 0;
        loop {
            let again = request.try_clone();
            let response = request_result(request.send().await, &self.base)?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let wait = retry_after(&response);
            if matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) && tries < RETRIES
                && let (Some(wait), Some(again)) = (wait, again)
                && wait <= MAX_RETRY_AFTER
            {
                tries += 1;
                tokio::time::sleep(wait).await;
                request = again;
                continue;
            }
            return Err(Failure::from_response(response).await);
        }
    }

    pub async fn json(&self, request: RequestBuilder) -> Result<Value, Failure> {
        let response = self.send(request).await?;
        response
            .json()
            .await
            .map_err(|e| Failure::Unreachable(format!("{}: unreadable answer: {e}", self.base)))
    }

    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.json(self.request(Method::GET, path)).await
    }

    /// `path`'s answer as the API's own view type, so a renamed field fails to compile (or
    /// to read) instead of printing blanks.
    pub async fn get_as<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let value = self.get(path).await?;
        serde_json::from_value(value).map_err(|e| {
            Failure::Unreachable(format!("{}{path}: unexpected answer: {e}", self.base))
        })
    }

    pub async fn get_query(&self, path: &str, query: &[(&str, String)]) -> Result<Value, Failure> {
        self.json(self.request(Method::GET, path).query(query))
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        self.json(self.request(Method::POST, path).json(body)).await
    }

    /// Streams the answer of `request` to `out` (a temporary name beside it, renamed when
    /// complete, so `out` is never half-written); the bytes written.
    pub async fn download(&self, request: RequestBuilder, out: &Path) -> Result<u64, Failure> {
        let mut response = self.send(request).await?;
        let partial = partial_name(out);
        let local = |e: std::io::Error| Failure::Other(format!("{}: {e}", out.display()));
        let mut file = tokio::fs::File::create(&partial).await.map_err(local)?;
        let mut written = 0u64;
        let copied: Result<(), Failure> = async {
            while let Some(chunk) = response.chunk().await.map_err(|e| {
                Failure::Unreachable(format!("{}: the download broke off: {e}", self.base))
            })? {
                file.write_all(&chunk).await.map_err(local)?;
                written += chunk.len() as u64;
            }
            file.flush().await.map_err(local)?;
            file.sync_all().await.map_err(local)?;
            Ok(())
        }
        .await;
        if let Err(e) = copied {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
        tokio::fs::rename(&partial, out).await.map_err(local)?;
        Ok(written)
    }
}

/// `raw` as one segment of an API path, or a usage error naming `what` it should have been:
/// every id, name and code the API takes is letters, digits, `-` and `_`, so nothing typed
/// can reach another path (`../`, `?`).
pub fn segment<'a>(what: &str, raw: &'a str) -> Result<&'a str, Failure> {
    if raw.is_empty()
        || !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Failure::Usage(format!("`{raw}` is not {what}")));
    }
    Ok(raw)
}

/// `out`'s temporary sibling while a download is under way.
fn partial_name(out: &Path) -> std::path::PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    out.with_file_name(name)
}

fn retry_after(response: &Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// A transport error as one line that names the URL (never a debug dump).
fn request_result(result: reqwest::Result<Response>, base: &str) -> Result<Response, Failure> {
    result.map_err(|e| {
        let why = if e.is_connect() {
            "cannot connect (is quire running there? set --url or QUIRE_URL)"
        } else if e.is_timeout() {
            "no answer in time"
        } else {
            "the request failed"
        };
        Failure::Unreachable(format!("{base}: {why}"))
    })
}
