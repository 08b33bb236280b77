//! The few API calls the bench makes, over one shared connection pool.

use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    /// Without a request timeout: the event stream stays open as long as the run.
    streams: reqwest::Client,
    base: String,
    auth: String,
}

/// The body of `POST /v1/certificates`.
#[derive(Debug, Serialize)]
pub struct CertificateRequest<'a> {
    pub recipient_name: &'a str,
    pub course_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo: Option<&'a str>,
}

/// What the bench reads of an event.
#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    event_type: String,
    job_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Submitted {
    id: String,
}

/// A job as listed or fetched: the fields the bench uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    pub id: String,
    pub status: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl Job {
    /// `succeeded`, `dead` and `cancelled` never change again.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "succeeded" | "dead" | "cancelled")
    }

    pub fn created(&self) -> anyhow::Result<OffsetDateTime> {
        parse_time(&self.created_at)
    }

    pub fn started(&self) -> anyhow::Result<Option<OffsetDateTime>> {
        self.started_at.as_deref().map(parse_time).transpose()
    }

    pub fn finished(&self) -> anyhow::Result<Option<OffsetDateTime>> {
        self.finished_at.as_deref().map(parse_time).transpose()
    }
}

pub fn parse_time(raw: &str) -> anyhow::Result<OffsetDateTime> {
    OffsetDateTime::parse(raw, &Rfc3339).with_context(|| format!("not an RFC 3339 time: {raw:?}"))
}

/// A batch as `POST /v1/certificates/batch` and `GET /v1/batches/{id}` return it: the fields
/// the bench uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Batch {
    pub id: String,
    pub total: u64,
    /// Jobs per status.
    #[serde(default)]
    pub counts: std::collections::BTreeMap<String, u64>,
    pub finished: u64,
    pub complete: bool,
}

/// What `GET /v1/batches/{id}/archive` delivered.
#[derive(Debug, Clone, Copy)]
pub struct Archive {
    pub bytes: u64,
    /// The entry count of the ZIP's end-of-central-directory record; `None` when the stream
    /// has no such record (cut short) or uses ZIP64 (count 0xFFFF).
    pub entries: Option<u64>,
}

#[derive(Debug, Deserialize)]
pub struct Page {
    pub jobs: Vec<Job>,
    pub next_cursor: Option<String>,
}

/// What one submission got.
#[derive(Debug)]
pub enum Submission {
    /// 2xx: the job's id.
    Accepted(String),
    /// Any other status, or no answer: a short reason (`HTTP 503`, `transport`, ...).
    Rejected(String),
}

impl Api {
    pub fn new(url: &str, key: &str, pool: usize, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(pool)
            .tcp_nodelay(true)
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        let streams = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            streams,
            base: url.trim_end_matches('/').to_owned(),
            auth: format!("Bearer {key}"),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Fails with a clear message unless the API is ready and the key is accepted.
    pub async fn preflight(&self) -> anyhow::Result<()> {
        let ready = self
            .client
            .get(format!("{}/ready", self.base))
            .send()
            .await
            .with_context(|| format!("the API at {} does not answer", self.base))?;
        anyhow::ensure!(
            ready.status().is_success(),
            "{}/ready answers {}: {}",
            self.base,
            ready.status(),
            ready.text().await.unwrap_or_default()
        );
        let probe = self
            .client
            .get(format!("{}/v1/jobs?limit=1", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .send()
            .await?;
        anyhow::ensure!(
            probe.status().is_success(),
            "the key is not accepted: GET /v1/jobs answers {}: {}",
            probe.status(),
            probe.text().await.unwrap_or_default()
        );
        Ok(())
    }

    /// `POST /v1/certificates` with a prepared JSON body. Never fails: a failure is a
    /// `Rejected` outcome the caller counts.
    pub async fn submit(&self, body: Vec<u8>) -> Submission {
        let sent = self
            .client
            .post(format!("{}/v1/certificates", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Submission::Rejected("timeout".into()),
            Err(_) => return Submission::Rejected("transport".into()),
        };
        let status = response.status();
        if !status.is_success() {
            // Drain the body so the connection can be reused.
            let _ = response.bytes().await;
            return Submission::Rejected(format!("HTTP {}", status.as_u16()));
        }
        match response.json::<Submitted>().await {
            Ok(s) => Submission::Accepted(s.id),
            Err(_) => Submission::Rejected("bad response body".into()),
        }
    }

    /// `GET /v1/jobs/{id}`.
    pub async fn job(&self, id: &str) -> anyhow::Result<Job> {
        let response = self
            .client
            .get(format!("{}/v1/jobs/{id}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .send()
            .await
            .with_context(|| format!("GET /v1/jobs/{id}"))?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "GET /v1/jobs/{id} answers {status}: {}",
            response.text().await.unwrap_or_default()
        );
        response
            .json()
            .await
            .with_context(|| format!("GET /v1/jobs/{id}: unexpected body"))
    }

    /// `GET /v1/jobs/{id}?wait=30`: answers once the job is final (or after 30 s).
    pub async fn job_waiting(&self, id: &str) -> anyhow::Result<Job> {
        let response = self
            .streams
            .get(format!("{}/v1/jobs/{id}?wait=30", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .timeout(Duration::from_secs(90))
            .send()
            .await
            .with_context(|| format!("GET /v1/jobs/{id}?wait=30"))?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "GET /v1/jobs/{id}?wait=30 answers {status}: {}",
            response.text().await.unwrap_or_default()
        );
        response
            .json()
            .await
            .with_context(|| format!("GET /v1/jobs/{id}?wait=30: unexpected body"))
    }

    /// Follows `GET /v1/events` (server-sent events of the key's jobs) and sends the id of
    /// every job that reached an end state, until the stream ends or `ended` is dropped.
    pub async fn finished_jobs(
        &self,
        ended: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> anyhow::Result<()> {
        let mut response = self
            .streams
            .get(format!("{}/v1/events", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .send()
            .await
            .context("GET /v1/events")?;
        anyhow::ensure!(
            response.status().is_success(),
            "GET /v1/events answers {}",
            response.status()
        );
        let mut pending = Vec::new();
        while let Some(chunk) = response.chunk().await.context("reading /v1/events")? {
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let Some(data) = line.strip_prefix(b"data:") else {
                    continue;
                };
                let Ok(event) = serde_json::from_slice::<Event>(data) else {
                    continue;
                };
                let finished = matches!(
                    event.event_type.as_str(),
                    "job.succeeded" | "job.dead" | "job.cancelled"
                );
                if let (true, Some(id)) = (finished, event.job_id)
                    && ended.send(id).is_err()
                {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// One page of `GET /v1/jobs` (newest first, 200 rows).
    pub async fn page(&self, cursor: Option<&str>) -> anyhow::Result<Page> {
        let mut request = self
            .client
            .get(format!("{}/v1/jobs", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .query(&[("limit", "200")]);
        if let Some(cursor) = cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.context("GET /v1/jobs")?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "GET /v1/jobs answers {status}: {}",
            response.text().await.unwrap_or_default()
        );
        response
            .json()
            .await
            .context("GET /v1/jobs: unexpected body")
    }

    /// `POST /v1/certificates/batch` with a CSV body (header row included).
    pub async fn submit_batch_csv(&self, csv: Vec<u8>) -> anyhow::Result<Batch> {
        let response = self
            .client
            .post(format!("{}/v1/certificates/batch", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .header(reqwest::header::CONTENT_TYPE, "text/csv; charset=utf-8")
            .body(csv)
            .send()
            .await
            .context("POST /v1/certificates/batch")?;
        let status = response.status();
        anyhow::ensure!(
            status == reqwest::StatusCode::ACCEPTED,
            "POST /v1/certificates/batch answers {status}: {}",
            truncated(&response.text().await.unwrap_or_default())
        );
        response
            .json()
            .await
            .context("POST /v1/certificates/batch: unexpected body")
    }

    /// `GET /v1/batches/{id}`.
    pub async fn batch(&self, id: &str) -> anyhow::Result<Batch> {
        let response = self
            .client
            .get(format!("{}/v1/batches/{id}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .send()
            .await
            .with_context(|| format!("GET /v1/batches/{id}"))?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "GET /v1/batches/{id} answers {status}: {}",
            truncated(&response.text().await.unwrap_or_default())
        );
        response
            .json()
            .await
            .with_context(|| format!("GET /v1/batches/{id}: unexpected body"))
    }

    /// `GET /v1/batches/{id}/archive`, read to the end and counted, not kept (a 10,000-row
    /// archive is hundreds of MB). `timeout` bounds the whole download.
    pub async fn download_archive(&self, id: &str, timeout: Duration) -> anyhow::Result<Archive> {
        let mut response = self
            .client
            .get(format!("{}/v1/batches/{id}/archive", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .timeout(timeout)
            .send()
            .await
            .with_context(|| format!("GET /v1/batches/{id}/archive"))?;
        let status = response.status();
        anyhow::ensure!(
            status.is_success(),
            "GET /v1/batches/{id}/archive answers {status}: {}",
            truncated(&response.text().await.unwrap_or_default())
        );
        let mut bytes = 0u64;
        // The last bytes, where the end-of-central-directory record is.
        let mut tail: Vec<u8> = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("reading the archive of batch {id}"))?
        {
            bytes += chunk.len() as u64;
            tail.extend_from_slice(&chunk);
            if tail.len() > 2 * ZIP_TAIL {
                tail.drain(..tail.len() - ZIP_TAIL);
            }
        }
        Ok(Archive {
            bytes,
            entries: zip_entries(&tail),
        })
    }
}

/// Enough of a ZIP's end to hold the end-of-central-directory record (22 bytes) and a
/// ZIP64 locator before it.
const ZIP_TAIL: usize = 4096;

/// The total entry count of the end-of-central-directory record at the end of `tail`, if
/// there is one (a comment is allowed after it).
pub fn zip_entries(tail: &[u8]) -> Option<u64> {
    const EOCD: [u8; 4] = [b'P', b'K', 5, 6];
    let start = tail.windows(4).rposition(|w| w == EOCD)?;
    let record = tail.get(start..start + 22)?;
    let entries = u16::from_le_bytes([record[10], record[11]]);
    (entries != u16::MAX).then_some(u64::from(entries))
}

fn truncated(text: &str) -> String {
    const MAX: usize = 600;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_zip_entry_count() {
        let mut tail = b"...file data...".to_vec();
        tail.extend_from_slice(&[b'P', b'K', 5, 6, 0, 0, 0, 0, 0x11, 0x27, 0x11, 0x27]);
        tail.extend_from_slice(&[0; 10]);
        assert_eq!(zip_entries(&tail), Some(10_001));
        assert_eq!(zip_entries(b"cut short"), None);
    }
}
