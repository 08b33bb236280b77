//! Files under the data directory: job inputs (images) and outputs (PDFs). Every write goes
//! to a temporary name in the same directory, is fsynced, then renamed, so a reader sees the
//! old whole file or the new whole file, never a partial one. All I/O is async.

use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::domain::JobId;

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

/// A file just written: where, how big, and its digest.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// Relative to the data directory (what rows record).
    pub relative: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Storage {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            root: data_dir.into(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `outputs/<owner>/<job id>-<attempt>.pdf`, relative to the data directory. Each attempt
    /// writes its own file and the row (fenced by the lease) says which one is the result, so
    /// a stale worker finishing late can never replace the file of a newer attempt.
    pub fn output_relative(owner_id: &str, job: JobId, attempt: i64) -> String {
        format!("outputs/{}/{job}-{attempt}.pdf", safe_segment(owner_id))
    }

    /// Resolves a relative path a row recorded; refuses anything that climbs out.
    pub fn resolve(&self, relative: &str) -> Option<PathBuf> {
        let rel = Path::new(relative);
        let safe = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        safe.then(|| self.root.join(rel))
    }

    fn input_dir(&self, job: JobId) -> PathBuf {
        self.root.join("inputs").join(job.to_string())
    }

    pub async fn write_output(
        &self,
        owner_id: &str,
        job: JobId,
        attempt: i64,
        bytes: &[u8],
    ) -> io::Result<StoredFile> {
        let relative = Self::output_relative(owner_id, job, attempt);
        write_atomic(&self.root.join(&relative), bytes).await?;
        Ok(StoredFile {
            relative,
            bytes: bytes.len() as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }

    /// Stores one of a job's inputs (e.g. `photo`) before the job row exists.
    pub async fn write_input(&self, job: JobId, name: &str, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&self.input_dir(job).join(safe_segment(name)), bytes).await
    }

    pub async fn read_input(&self, job: JobId, name: &str) -> io::Result<Vec<u8>> {
        tokio::fs::read(self.input_dir(job).join(safe_segment(name))).await
    }

    /// Removes a job's inputs (its submission was refused, or it finished for good).
    pub async fn remove_inputs(&self, job: JobId) -> io::Result<()> {
        match tokio::fs::remove_dir_all(self.input_dir(job)).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }
}

impl Storage {
    /// Removes everything a job left on disk: each attempt's output and its inputs. Files
    /// already gone are fine (a second cleanup pass, a job that never wrote one).
    pub async fn remove_job_files(
        &self,
        owner_id: &str,
        job: JobId,
        attempts: i64,
    ) -> io::Result<usize> {
        let mut removed = 0;
        for attempt in 1..=attempts.max(0) {
            let path = self
                .root
                .join(Self::output_relative(owner_id, job, attempt));
            match tokio::fs::remove_file(path).await {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        self.remove_inputs(job).await?;
        Ok(removed)
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

/// Temp file in the same directory (so rename is atomic), fsync, rename, fsync the directory.
pub async fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no directory"))?;
    tokio::fs::create_dir_all(dir).await?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(
        ".{file_name}.{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&tmp, path).await?;
        // Make the rename itself durable.
        tokio::fs::File::open(dir).await?.sync_all().await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
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
            .write_output("owner-1", job, 1, b"%PDF-1.7 one")
            .await
            .unwrap();
        storage
            .write_output("owner-1", job, 1, b"%PDF-1.7 two")
            .await
            .unwrap();
        let path = storage.resolve(&stored.relative).unwrap();
        assert_eq!(tokio::fs::read(&path).await.unwrap(), b"%PDF-1.7 two");
        assert_eq!(stored.bytes, 12);
        // No temp files left behind.
        let mut entries = tokio::fs::read_dir(path.parent().unwrap()).await.unwrap();
        let mut names = Vec::new();
        while let Some(e) = entries.next_entry().await.unwrap() {
            names.push(e.file_name());
        }
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(storage.resolve("../etc/passwd").is_none());
        assert!(storage.resolve("/etc/passwd").is_none());
        assert_eq!(
            Storage::output_relative("../x", job, 2),
            format!("outputs/___x/{job}-2.pdf")
        );
        tokio::fs::remove_dir_all(&dir).await.unwrap();
    }
}
