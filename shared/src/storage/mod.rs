//! Where files live: job inputs (images), outputs (PDFs) and the mail outbox. Two backends
//! behind one interface, chosen by `storage_url`: the data directory (the embedded default)
//! and S3-compatible object storage (production: no two processes share a disk).
//!
//! Keys are relative paths (`inputs/<job>/<name>`, `outputs/<owner>/<job>-<attempt>.pdf`,
//! `mail/<message id>.eml`); rows record them. Every write is whole or absent: a temporary
//! file renamed into place, or one S3 `PUT` (a multipart upload completed at once for large
//! objects), so a reader never sees a partial file. Errors are `io::Error`s: `NotFound` when
//! the file is absent, anything else means the store could not be reached or refused.

mod local;
mod s3;
mod s3_deletes;

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::domain::{JobId, Timestamp};

pub use local::write_atomic;
pub use s3::S3Location;

/// The bytes of a stored file, as they arrive.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// Files, in the data directory or in object storage; cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    backend: Arc<Backend>,
}

#[derive(Debug)]
enum Backend {
    Local(local::Local),
    S3(s3::S3),
}

/// A file just written: where, how big, and its digest.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// The key rows record.
    pub relative: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Storage {
    /// Files under `data_dir` (the embedded default; also what tests read back).
    pub fn new(data_dir: impl Into<std::path::PathBuf>) -> Self {
        Self {
            backend: Arc::new(Backend::Local(local::Local::new(data_dir.into()))),
        }
    }

    /// The store `config` names. With `storage_url` set, checks at once that the bucket
    /// exists and the credentials may list and write it, so a wrong setting stops start-up
    /// with one line naming it rather than failing the first job.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        let Some(url) = &config.storage_url else {
            // Made here, not on the first write: `/ready` checks that it exists.
            tokio::fs::create_dir_all(&config.data_dir)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "setting `data_dir` (QUIRE_DATA_DIR): cannot create {}: {e}",
                        config.data_dir.display()
                    )
                })?;
            return Ok(Self::new(&config.data_dir));
        };
        let store = s3::S3::connect(url, &config.s3)?;
        store.verify().await?;
        Ok(Self {
            backend: Arc::new(Backend::S3(store)),
        })
    }

    /// `local` or the `s3://` URL: for logs and `/ready` (no secrets).
    pub fn describe(&self) -> String {
        match &*self.backend {
            Backend::Local(l) => format!("local {}", l.root().display()),
            Backend::S3(s) => s.describe(),
        }
    }

    /// Writes `bytes` under `key`, whole or not at all.
    pub async fn put(&self, key: &str, bytes: Bytes) -> io::Result<()> {
        let key = checked(key)?;
        let result = match &*self.backend {
            Backend::Local(l) => l.put(key, &bytes).await,
            Backend::S3(s) => s.put(key, bytes).await,
        };
        counted("put", result)
    }

    /// Writes the local file `source` under `key`, whole or not at all, without reading it
    /// into memory (a workflow's merged PDF may be hundreds of megabytes).
    pub async fn put_file(&self, key: &str, source: &std::path::Path) -> io::Result<()> {
        let key = checked(key)?;
        let result = match &*self.backend {
            Backend::Local(l) => l.put_file(key, source).await,
            Backend::S3(s) => s.put_file(key, source).await,
        };
        counted("put", result)
    }

    /// The whole file.
    pub async fn get(&self, key: &str) -> io::Result<Bytes> {
        let key = checked(key)?;
        let result = match &*self.backend {
            Backend::Local(l) => l.get(key).await,
            Backend::S3(s) => s.get(key).await,
        };
        counted("get", result)
    }

    /// The file's bytes, or those of `range`, as a stream: downloads never hold a whole
    /// file in memory.
    pub async fn open(&self, key: &str, range: Option<Range<u64>>) -> io::Result<ByteStream> {
        let key = checked(key)?;
        let result = match &*self.backend {
            Backend::Local(l) => l.open(key, range).await,
            Backend::S3(s) => s.open(key, range).await,
        };
        counted("get", result)
    }

    /// Removes one file; one already gone is fine.
    pub async fn delete(&self, key: &str) -> io::Result<()> {
        let key = checked(key)?;
        let result = match &*self.backend {
            Backend::Local(l) => l.delete(key).await,
            Backend::S3(s) => s.delete(key).await,
        };
        counted("delete", result)
    }

    /// Removes every file under `prefix` (a directory's worth of keys).
    pub async fn delete_prefix(&self, prefix: &str) -> io::Result<()> {
        let prefix = checked(prefix)?;
        let result = match &*self.backend {
            Backend::Local(l) => l.delete_dir(prefix).await,
            Backend::S3(s) => s.delete_prefix(prefix).await,
        };
        counted("delete", result)
    }

    /// A URL that fetches `key` without credentials for `ttl`, when the store can sign one
    /// (object storage); `None` for the data directory.
    pub async fn presigned_url(&self, key: &str, ttl: Duration) -> io::Result<Option<String>> {
        let key = checked(key)?;
        match &*self.backend {
            Backend::Local(_) => Ok(None),
            Backend::S3(s) => s.presign(key, ttl).await.map(Some),
        }
    }

    /// Whether the store answers, for `/ready` and the health task: `Ok` with what was
    /// checked, or `Err` saying what is wrong.
    pub async fn check(&self) -> Result<String, String> {
        match &*self.backend {
            Backend::Local(l) => l.check().await,
            Backend::S3(s) => s.check().await,
        }
    }
}

/// The files of jobs, by what they are.
impl Storage {
    /// `outputs/<owner>/<job id>-<attempt>.pdf`. Each attempt writes its own file and the
    /// row (fenced by the lease) says which one is the result, so a stale worker finishing
    /// late can never replace the file of a newer attempt.
    pub fn output_relative(owner_id: &str, job: JobId, attempt: i64) -> String {
        Self::output_key(owner_id, job, attempt, "pdf")
    }

    /// [`Storage::output_relative`] for a file of another type (a workflow's ZIP archive).
    pub fn output_key(owner_id: &str, job: JobId, attempt: i64, extension: &str) -> String {
        format!(
            "outputs/{}/{job}-{attempt}.{extension}",
            safe_segment(owner_id)
        )
    }

    fn inputs_prefix(job: JobId) -> String {
        format!("inputs/{job}")
    }

    fn input_key(job: JobId, name: &str) -> String {
        format!("inputs/{job}/{}", safe_segment(name))
    }

    pub async fn write_output(
        &self,
        owner_id: &str,
        job: JobId,
        attempt: i64,
        bytes: Bytes,
    ) -> io::Result<StoredFile> {
        let relative = Self::output_relative(owner_id, job, attempt);
        let stored = StoredFile {
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(&bytes)),
            relative,
        };
        self.put(&stored.relative, bytes).await?;
        Ok(stored)
    }

    /// Stores one of a job's inputs (e.g. `photo`) before the job row exists.
    pub async fn write_input(&self, job: JobId, name: &str, bytes: Bytes) -> io::Result<()> {
        self.put(&Self::input_key(job, name), bytes).await
    }

    pub async fn read_input(&self, job: JobId, name: &str) -> io::Result<Bytes> {
        self.get(&Self::input_key(job, name)).await
    }

    /// Removes a job's inputs (its submission was refused, or it finished for good).
    pub async fn remove_inputs(&self, job: JobId) -> io::Result<()> {
        self.delete_prefix(&Self::inputs_prefix(job)).await
    }

    /// Every job with inputs stored, with when its inputs were last written: for the cleanup's
    /// sweep of inputs left behind (a worker killed between recording its success and removing
    /// them). One listing of `inputs/`; keys that name no job are skipped.
    pub async fn jobs_with_inputs(&self) -> io::Result<Vec<(JobId, Timestamp)>> {
        let result = match &*self.backend {
            Backend::Local(l) => l.dirs_under("inputs").await,
            Backend::S3(s) => s.first_segments_under("inputs").await,
        };
        let listed = counted("get", result)?;
        Ok(listed
            .into_iter()
            .filter_map(|(segment, written)| Some((segment.parse().ok()?, written)))
            .collect())
    }

    /// Removes the inputs `names` of a job that read them all (it succeeded): by exact key,
    /// so object storage needs no listing (a `LIST` per job costs requests, and some
    /// S3-compatible servers walk the whole bucket for it), and in object storage soon
    /// rather than now: gathered with other jobs' into one `DeleteObjects` request
    /// ([`Storage::flush_deletes`] waits for them). Nothing read, nothing to remove.
    pub async fn remove_inputs_read(&self, job: JobId, names: &[String]) -> io::Result<()> {
        match &*self.backend {
            Backend::Local(_) => self.remove_inputs(job).await,
            Backend::S3(s) => {
                for name in names {
                    let key = Self::input_key(job, name);
                    counted("delete", s.delete_soon(checked(&key)?).await)?;
                }
                Ok(())
            }
        }
    }

    /// Waits until the removals [`Storage::remove_inputs_read`] left for later are done: at
    /// a worker's shutdown. (Any lost with a killed process are the cleanup sweep's.)
    pub async fn flush_deletes(&self) {
        if let Backend::S3(s) = &*self.backend {
            s.flush_deletes().await
        }
    }

    /// Removes everything a job left: each attempt's output and its inputs. Files already
    /// gone are fine (a second cleanup pass, a job that never wrote one).
    pub async fn remove_job_files(
        &self,
        owner_id: &str,
        job: JobId,
        attempts: i64,
    ) -> io::Result<()> {
        for attempt in 1..=attempts.max(0) {
            self.delete(&Self::output_relative(owner_id, job, attempt))
                .await?;
        }
        self.remove_inputs(job).await
    }

    /// The file transport's outbox: `mail/<name>`.
    pub async fn write_mail(&self, name: &str, bytes: Bytes) -> io::Result<String> {
        let key = format!("mail/{}", safe_segment_keep_dots(name));
        self.put(&key, bytes).await?;
        Ok(key)
    }
}

/// Counts a failure of the store (a missing file is an answer, not a failure).
fn counted<T>(op: &'static str, result: io::Result<T>) -> io::Result<T> {
    if let Err(e) = &result
        && e.kind() != io::ErrorKind::NotFound
    {
        crate::metrics::storage_error(op);
    }
    result
}

/// Refuses keys that could name anything outside the store's root: only plain segments.
fn checked(key: &str) -> io::Result<&str> {
    let plain = !key.is_empty()
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != ".." && !s.contains('\\'));
    if plain {
        Ok(key)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a storage key: {key:?}"),
        ))
    }
}

/// Keeps a path segment from naming anything but a plain file in its directory.
fn safe_segment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// As [`safe_segment`], keeping dots (file extensions) but never a leading one.
fn safe_segment_keep_dots(s: &str) -> String {
    let kept: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match kept.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None => kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_whole_files_and_refuses_escapes() {
        let dir = std::env::temp_dir().join(format!("quire-storage-{}", uuid::Uuid::new_v4()));
        let storage = Storage::new(&dir);
        let job = JobId::new();
        let stored = storage
            .write_output("owner-1", job, 1, Bytes::from_static(b"%PDF-1.7 one"))
            .await
            .unwrap();
        storage
            .write_output("owner-1", job, 1, Bytes::from_static(b"%PDF-1.7 two"))
            .await
            .unwrap();
        assert_eq!(
            storage.get(&stored.relative).await.unwrap(),
            &b"%PDF-1.7 two"[..]
        );
        assert_eq!(stored.bytes, 12);
        // No temp files left behind.
        let parent = dir.join(&stored.relative);
        let mut entries = tokio::fs::read_dir(parent.parent().unwrap()).await.unwrap();
        let mut names = Vec::new();
        while let Some(e) = entries.next_entry().await.unwrap() {
            names.push(e.file_name());
        }
        assert_eq!(names.len(), 1, "{names:?}");
        for escape in ["../etc/passwd", "/etc/passwd", "a//b", "a/./b", ""] {
            let e = storage.get(escape).await.unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{escape}");
        }
        assert_eq!(
            Storage::output_relative("../x", job, 2),
            format!("outputs/___x/{job}-2.pdf")
        );
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }

    #[tokio::test]
    async fn ranges_and_removal() {
        let dir = std::env::temp_dir().join(format!("quire-storage-{}", uuid::Uuid::new_v4()));
        let storage = Storage::new(&dir);
        let job = JobId::new();
        storage
            .write_input(job, "photo", Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        let key = format!("inputs/{job}/photo");
        let mut stream = storage.open(&key, Some(2..5)).await.unwrap();
        let mut got = Vec::new();
        while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
            got.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(got, b"234");
        storage.remove_inputs(job).await.unwrap();
        storage.remove_inputs(job).await.unwrap();
        let e = storage.read_input(job, "photo").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            storage
                .write_mail("../<id@host>.eml", Bytes::new())
                .await
                .unwrap(),
            "mail/_.__id@host_.eml"
        );
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }
}
