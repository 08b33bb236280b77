//! The S3-compatible backend (AWS S3, MinIO, Ceph, R2, GCS's S3 API), through the
//! `object_store` crate (0.13: it shares our `reqwest` 0.12 and `ring`; 0.14 would add a
//! second HTTP and TLS stack). A `PUT` is atomic; objects above [`MULTIPART_ABOVE`] go up as
//! a multipart upload that becomes visible only when completed, and is aborted on failure,
//! so an object is always whole or absent.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload,
    RetryConfig,
};

use super::ByteStream;
use super::s3_deletes::GatheredDeletes;
use crate::config::S3Settings;
use crate::domain::Timestamp;

/// Objects larger than this are uploaded in parts of this size.
const MULTIPART_ABOVE: usize = 8 * 1024 * 1024;

/// `s3://bucket/prefix`, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; may be empty.
    pub prefix: String,
}

impl S3Location {
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-']);
        let prefix = prefix.trim_matches('/');
        let prefix_ok = prefix.is_empty()
            || prefix.split('/').all(|s| {
                !s.is_empty()
                    && s != "."
                    && s != ".."
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        (bucket_ok && prefix_ok).then(|| Self {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

#[derive(Debug)]
pub(super) struct S3 {
    store: Arc<AmazonS3>,
    location: S3Location,
    gathered: GatheredDeletes,
}

impl S3 {
    /// Builds the client (nothing is sent yet). Settings of our own win over `AWS_*`.
    pub(super) fn connect(url: &str, settings: &S3Settings) -> anyhow::Result<Self> {
        let location = S3Location::parse(url)
            .context("setting `storage_url` (QUIRE_STORAGE_URL): must be s3://bucket[/prefix]")?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&location.bucket)
            .with_virtual_hosted_style_request(!settings.path_style)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(settings.allow_http)
                    .with_timeout(Duration::from_secs(settings.timeout_secs))
                    .with_connect_timeout(Duration::from_secs(settings.timeout_secs.min(5))),
            )
            // A few quick retries, then the job's own retries (with backoff) take over: an
            // outage fails an attempt in seconds instead of holding it for minutes.
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(settings.timeout_secs),
            });
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let (Some(id), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret.expose());
        }
        let store = builder
            .build()
            .map_err(|e| anyhow::anyhow!("object storage settings (s3.*, AWS_*): {e}"))?;
        Ok(Self {
            store: Arc::new(store),
            location,
            gathered: GatheredDeletes::default(),
        })
    }

    /// Lists the prefix and writes a marker: a missing bucket, wrong credentials or a
    /// read-only key stop start-up here with one line that names the setting.
    pub(super) async fn verify(&self) -> anyhow::Result<()> {
        let root = self.root();
        self.store
            .list_with_delimiter(root.as_ref())
            .await
            .map_err(|e| self.startup_error("list", &e))?;
        let marker = self.path(".quire-write-check");
        self.store
            .put(&marker, PutPayload::from_static(b"quire"))
            .await
            .map_err(|e| self.startup_error("write to", &e))?;
        Ok(())
    }

    fn startup_error(&self, what: &str, e: &object_store::Error) -> anyhow::Error {
        let hint = match e {
            object_store::Error::NotFound { .. } => "the bucket does not exist",
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => {
                "the credentials (s3.access_key_id / s3.secret_access_key or AWS_*) were refused"
            }
            _ => "the endpoint (s3.endpoint or AWS_ENDPOINT_URL) did not answer as S3",
        };
        anyhow::anyhow!(
            "setting `storage_url` (QUIRE_STORAGE_URL): cannot {what} {}: {hint} ({})",
            self.describe(),
            one_line(e)
        )
    }

    pub(super) fn describe(&self) -> String {
        match self.location.prefix.as_str() {
            "" => format!("s3://{}", self.location.bucket),
            prefix => format!("s3://{}/{prefix}", self.location.bucket),
        }
    }

    fn root(&self) -> Option<ObjectPath> {
        (!self.location.prefix.is_empty()).then(|| ObjectPath::from(self.location.prefix.as_str()))
    }

    fn path(&self, key: &str) -> ObjectPath {
        match self.location.prefix.as_str() {
            "" => ObjectPath::from(key),
            prefix => ObjectPath::from(format!("{prefix}/{key}")),
        }
    }

    pub(super) async fn put(&self, key: &str, bytes: Bytes) -> io::Result<()> {
        let path = self.path(key);
        if bytes.len() <= MULTIPART_ABOVE {
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(to_io)?;
            return Ok(());
        }
        let mut upload = self.store.put_multipart(&path).await.map_err(to_io)?;
        let mut parts = Vec::new();
        let mut offset = 0;
        while offset < bytes.len() {
            let end = (offset + MULTIPART_ABOVE).min(bytes.len());
            parts.push(upload.put_part(PutPayload::from(bytes.slice(offset..end))));
            offset = end;
        }
        // At most four parts in flight: memory is the caller's bytes, not copies.
        let sent = futures::stream::iter(parts)
            .buffer_unordered(4)
            .try_collect::<Vec<()>>()
            .await;
        let completed = match sent {
            Ok(_) => upload.complete().await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = completed {
            // Nothing became visible; free the parts already stored.
            let _ = upload.abort().await;
            return Err(to_io(e));
        }
        Ok(())
    }

    /// `source` in one `PUT` when small, else a multipart upload read one part at a time
    /// (memory: one part), completed at once or aborted.
    pub(super) async fn put_file(&self, key: &str, source: &std::path::Path) -> io::Result<()> {
        use tokio::io::AsyncReadExt;
        let size = tokio::fs::metadata(source).await?.len();
        if size <= MULTIPART_ABOVE as u64 {
            return self
                .put(key, Bytes::from(tokio::fs::read(source).await?))
                .await;
        }
        let path = self.path(key);
        let mut upload = self.store.put_multipart(&path).await.map_err(to_io)?;
        let sent = async {
            let mut file = tokio::fs::File::open(source).await?;
            loop {
                let mut part = Vec::with_capacity(MULTIPART_ABOVE);
                (&mut file)
                    .take(MULTIPART_ABOVE as u64)
                    .read_to_end(&mut part)
                    .await?;
                if part.is_empty() {
                    return Ok::<_, io::Error>(());
                }
                upload
                    .put_part(PutPayload::from(Bytes::from(part)))
                    .await
                    .map_err(to_io)?;
            }
        }
        .await;
        let completed = match sent {
            Ok(()) => upload.complete().await.map(drop).map_err(to_io),
            Err(e) => Err(e),
        };
        if let Err(e) = completed {
            let _ = upload.abort().await;
            return Err(e);
        }
        Ok(())
    }

    pub(super) async fn get(&self, key: &str) -> io::Result<Bytes> {
        let result = self.store.get(&self.path(key)).await.map_err(to_io)?;
        result.bytes().await.map_err(to_io)
    }

    pub(super) async fn open(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> io::Result<ByteStream> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self
            .store
            .get_opts(&self.path(key), options)
            .await
            .map_err(to_io)?;
        Ok(result.into_stream().map_err(to_io).boxed())
    }

    pub(super) async fn delete(&self, key: &str) -> io::Result<()> {
        match self.store.delete(&self.path(key)).await {
            Err(object_store::Error::NotFound { .. }) => Ok(()),
            other => other.map_err(to_io),
        }
    }

    /// Deletes `key` soon, in one `DeleteObjects` request with others (see `s3_deletes`);
    /// at once when too many are pending.
    pub(super) async fn delete_soon(&self, key: &str) -> io::Result<()> {
        match self.gathered.push(&self.store, self.path(key)) {
            Ok(()) => Ok(()),
            Err(path) => match self.store.delete(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other.map_err(to_io),
            },
        }
    }

    /// Waits for the deletions [`S3::delete_soon`] queued.
    pub(super) async fn flush_deletes(&self) {
        self.gathered.flush().await
    }

    pub(super) async fn delete_prefix(&self, prefix: &str) -> io::Result<()> {
        let listed = self
            .store
            .list(Some(&self.path(prefix)))
            .map_ok(|meta| meta.location)
            .boxed();
        self.store
            .delete_stream(listed)
            .try_for_each(|_| async { Ok(()) })
            .await
            .map_err(to_io)
    }

    /// The first path segments under `key` (`inputs/<segment>/...`), each with the newest
    /// modification time of its objects.
    pub(super) async fn first_segments_under(
        &self,
        key: &str,
    ) -> io::Result<Vec<(String, Timestamp)>> {
        let prefix = self.path(key);
        let mut newest: std::collections::HashMap<String, Timestamp> = Default::default();
        let mut listed = self.store.list(Some(&prefix));
        while let Some(meta) = listed.try_next().await.map_err(to_io)? {
            let Some(segment) = meta
                .location
                .prefix_match(&prefix)
                .and_then(|mut p| p.next())
            else {
                continue;
            };
            let written = Timestamp::from_millis(meta.last_modified.timestamp_millis());
            let entry = newest.entry(segment.as_ref().to_owned()).or_insert(written);
            *entry = (*entry).max(written);
        }
        Ok(newest.into_iter().collect())
    }

    pub(super) async fn presign(&self, key: &str, ttl: Duration) -> io::Result<String> {
        self.store
            .signed_url(http::Method::GET, &self.path(key), ttl)
            .await
            .map(|url| url.to_string())
            .map_err(to_io)
    }

    pub(super) async fn check(&self) -> Result<String, String> {
        match self.store.list_with_delimiter(self.root().as_ref()).await {
            Ok(_) => Ok(format!("{} answers", self.describe())),
            Err(e) => Err(format!("{}: {}", self.describe(), one_line(&e))),
        }
    }
}

/// `NotFound` stays `NotFound` (a missing file); every other failure is the store's.
fn to_io(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => {
            io::Error::new(io::ErrorKind::NotFound, one_line(&e))
        }
        e => io::Error::other(format!("object storage: {}", one_line(&e))),
    }
}

/// object_store's messages can span lines (a server's XML body): keep log lines whole.
fn one_line(e: &object_store::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let l = S3Location::parse("s3://quire-files/prod/eu/").unwrap();
        assert_eq!(l.bucket, "quire-files");
        assert_eq!(l.prefix, "prod/eu");
        assert_eq!(S3Location::parse("s3://quire").unwrap().prefix, "");
        for bad in [
            "quire",
            "s3://",
            "s3://AB",
            "s3://Upper-Case",
            "s3://b/../x",
            "s3://bucket/a b",
            "http://bucket",
        ] {
            assert!(S3Location::parse(bad).is_none(), "{bad}");
        }
    }
}
