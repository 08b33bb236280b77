//! The data-directory backend. Every write goes to a temporary name in the same directory,
//! is fsynced, then renamed (and the directory fsynced), so a reader sees the old whole file
//! or the new whole file, never a partial one, and a `202` survives a power cut. All I/O is
//! async. (object_store's own local backend does not fsync: this one exists for that.)

use std::io::{self, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::ByteStream;
use crate::domain::Timestamp;

#[derive(Debug)]
pub(super) struct Local {
    root: PathBuf,
}

impl Local {
    pub(super) fn new(root: PathBuf) -> Self {
        Self { root }
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    pub(super) async fn put(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&self.root.join(key), bytes).await
    }

    /// A copy of `source` in the key's directory, synced, renamed into place.
    pub(super) async fn put_file(&self, key: &str, source: &Path) -> io::Result<()> {
        let path = self.root.join(key);
        let dir = path
            .parent()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no directory"))?;
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(".put.{}.tmp", uuid::Uuid::new_v4().simple()));
        let result = async {
            tokio::fs::copy(source, &tmp).await?;
            tokio::fs::File::open(&tmp).await?.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await?;
            tokio::fs::File::open(dir).await?.sync_all().await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result
    }

    pub(super) async fn get(&self, key: &str) -> io::Result<Bytes> {
        tokio::fs::read(self.root.join(key)).await.map(Bytes::from)
    }

    pub(super) async fn open(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> io::Result<ByteStream> {
        let mut file = tokio::fs::File::open(self.root.join(key)).await?;
        let stream = match range {
            Some(range) => {
                file.seek(SeekFrom::Start(range.start)).await?;
                let part = file.take(range.end.saturating_sub(range.start));
                tokio_util::io::ReaderStream::new(part).boxed()
            }
            None => tokio_util::io::ReaderStream::new(file).boxed(),
        };
        Ok(stream)
    }

    pub(super) async fn delete(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_file(self.root.join(key)).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    pub(super) async fn delete_dir(&self, key: &str) -> io::Result<()> {
        match tokio::fs::remove_dir_all(self.root.join(key)).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
    }

    /// The directories directly under `key`, with their modification time.
    pub(super) async fn dirs_under(&self, key: &str) -> io::Result<Vec<(String, Timestamp)>> {
        let mut entries = match tokio::fs::read_dir(self.root.join(key)).await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other?,
        };
        let mut found = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            let meta = entry.metadata().await?;
            match entry.file_name().into_string() {
                Ok(name) if meta.is_dir() => {
                    found.push((name, Timestamp::from_system_time(meta.modified()?)));
                }
                _ => {}
            }
        }
        Ok(found)
    }

    pub(super) async fn check(&self) -> Result<String, String> {
        match tokio::fs::metadata(&self.root).await {
            Ok(m) if m.is_dir() => Ok(format!("data directory {}", self.root.display())),
            Ok(_) => Err(format!("{} is not a directory", self.root.display())),
            Err(e) => Err(format!("{}: {e}", self.root.display())),
        }
    }
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
