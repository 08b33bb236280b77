//! `bundle`: a workflow's built-in step over its parents' outputs, read from its edges when it
//! runs, so it sees exactly its parents, in their order. A `merge` concatenates their PDFs
//! into one (an outline entry per part) on the blocking pool, a part at a time; an `archive`
//! is a ZIP of their files with a `manifest.csv`. Either is written to a temporary file and
//! stored from there: memory stays at a part or two, for ten or ten thousand parts. Parents
//! that ended without a file (a `continue` step's failed parents) are left out and counted.

use std::io::BufWriter;

use serde_json::Value;
use shared::db::{Claimed, ParentOutput};
use shared::domain::{JobKind, JobStatus};
use shared::jobs::{BundleOp, BundlePayload, BundleResult, CertificatePayload, FileResult};
use shared::storage::Storage;
use tokio::sync::mpsc;

use super::context::{JobContext, safe_point};
use crate::error::JobError;
use crate::merge::{MergeError, Merger};

/// Parts read ahead of the merge: enough to keep the reader and the writer both busy.
const READ_AHEAD: usize = 4;

/// One parent's file, to bundle.
struct Part {
    title: String,
    /// The parent's job id, for the manifest and the ZIP entry's name.
    job: String,
    key: String,
    sha256: String,
}

pub async fn run(
    ctx: &JobContext,
    claimed: &Claimed,
    payload: BundlePayload,
) -> Result<Value, JobError> {
    let job = &claimed.job;
    let parents = ctx.db.parent_outputs(job.id).await?;
    let max = ctx.config.workflows.max_merge_parts;
    if parents.len() > max {
        return Err(JobError::permanent(
            "too_many_parts",
            format!(
                "{} parts; at most {max} (workflows.max_merge_parts)",
                parents.len()
            ),
        ));
    }
    let total = parents.len();
    let parts: Vec<Part> = parents.iter().filter_map(part_of).collect();
    let missing = (total - parts.len()) as u32;
    if parts.is_empty() {
        return Err(JobError::permanent(
            "no_parts",
            format!("none of the {total} parents ended with a file"),
        ));
    }
    safe_point()?;
    let dir = tempfile::tempdir().map_err(|e| {
        JobError::retryable("tmp_unavailable", format!("no temporary directory: {e}"))
    })?;
    let path = dir.path().join("bundle");
    let (file, bytes, sha256, pages) = match payload.op {
        BundleOp::Merge => {
            let merged = merge(&ctx.storage, parts, path.clone()).await?;
            ("pdf", merged.bytes, merged.sha256, merged.pages)
        }
        BundleOp::Archive => {
            let (bytes, sha256) = archive(&ctx.storage, &parts, &path).await?;
            ("zip", bytes, sha256, 0)
        }
    };
    safe_point()?;
    let key = Storage::output_key(&job.owner_id, job.id, job.attempt, file);
    ctx.storage.put_file(&key, &path).await.map_err(|e| {
        JobError::retryable("storage_failed", format!("storing the {file} failed: {e}"))
    })?;
    let result = BundleResult {
        file: key,
        bytes,
        sha256,
        pages,
        parts: (total as u32) - missing,
        missing,
    };
    serde_json::to_value(result).map_err(|e| JobError::permanent("internal", e.to_string()))
}

/// The file a parent ended with, if it succeeded with one; its outline title is the
/// recipient's name for a certificate, else its step's name.
fn part_of(parent: &ParentOutput) -> Option<Part> {
    if parent.status != JobStatus::Succeeded {
        return None;
    }
    let file: FileResult = serde_json::from_value(parent.result.clone()?).ok()?;
    let title = match parent.kind {
        JobKind::Certificate => parent
            .payload
            .as_ref()
            .and_then(|p| serde_json::from_value::<CertificatePayload>(p.clone()).ok())
            .map(|p| p.recipient_name)
            .unwrap_or_else(|| parent.step.clone()),
        _ => parent.step.clone(),
    };
    Some(Part {
        title,
        job: parent.job_id.to_string(),
        key: file.file,
        sha256: file.sha256,
    })
}

/// Reads the parts in order on this task and merges them on the blocking pool, a few parts
/// apart: neither side ever holds more than `READ_AHEAD` parts.
async fn merge(
    storage: &Storage,
    parts: Vec<Part>,
    path: std::path::PathBuf,
) -> Result<crate::merge::Merged, JobError> {
    let (tx, mut rx) = mpsc::channel::<(String, bytes::Bytes)>(READ_AHEAD);
    let writer = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::create(&path)?;
        let mut merger = Merger::new(BufWriter::new(file))?;
        while let Some((title, pdf)) = rx.blocking_recv() {
            merger.add(&title, &pdf)?;
        }
        let (merged, out) = merger.finish()?;
        out.into_inner()
            .map_err(|e| MergeError::Io(e.into_error()))?
            .sync_all()?;
        Ok::<_, MergeError>(merged)
    });
    for part in parts {
        safe_point()?;
        let pdf = read(storage, &part).await?;
        // The writer stopped: its error is the one to report, below.
        if tx.send((part.title, pdf)).await.is_err() {
            break;
        }
    }
    drop(tx);
    match writer.await {
        Ok(Ok(merged)) => Ok(merged),
        Ok(Err(e @ MergeError::Part { .. })) => Err(JobError::permanent("bad_part", e.to_string())),
        Ok(Err(e)) => Err(JobError::retryable("merge_failed", e.to_string())),
        Err(e) => Err(JobError::retryable(
            "merge_panicked",
            format!("the merge crashed: {e}"),
        )),
    }
}

/// A ZIP of the parts, each stored as is (PDFs are compressed already), and a deflated
/// `manifest.csv` (file, job id, title, sha256), written to `path`.
async fn archive(
    storage: &Storage,
    parts: &[Part],
    path: &std::path::Path,
) -> Result<(u64, String), JobError> {
    use async_zip::base::write::ZipFileWriter;
    use async_zip::{Compression, ZipEntryBuilder};
    let io = |e: &dyn std::fmt::Display| JobError::retryable("archive_failed", e.to_string());
    let file = tokio::fs::File::create(path).await.map_err(|e| io(&e))?;
    let mut zip = ZipFileWriter::with_tokio(file);
    let mut manifest = csv::Writer::from_writer(Vec::new());
    manifest
        .write_record(["file", "job_id", "title", "sha256"])
        .map_err(|e| io(&e))?;
    for (i, part) in parts.iter().enumerate() {
        safe_point()?;
        let bytes = read(storage, part).await?;
        let name = format!("{:05}-{}.pdf", i + 1, part.job);
        manifest
            .write_record([
                name.as_str(),
                &part.job,
                &shared::domain::spreadsheet_safe(&part.title),
                &part.sha256,
            ])
            .map_err(|e| io(&e))?;
        zip.write_entry_whole(
            ZipEntryBuilder::new(name.into(), Compression::Stored),
            &bytes,
        )
        .await
        .map_err(|e| io(&e))?;
    }
    let manifest = manifest.into_inner().map_err(|e| io(&e))?;
    zip.write_entry_whole(
        ZipEntryBuilder::new("manifest.csv".to_owned().into(), Compression::Deflate),
        &manifest,
    )
    .await
    .map_err(|e| io(&e))?;
    let mut file = zip.close().await.map_err(|e| io(&e))?.into_inner();
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(|e| io(&e))?;
    file.sync_all().await.map_err(|e| io(&e))?;
    drop(file);
    // Hashed from the file as stored, a block at a time.
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        let mut file = std::fs::File::open(&path)?;
        let bytes = std::io::copy(&mut file, &mut hash)?;
        Ok::<_, std::io::Error>((bytes, hex::encode(hash.finalize())))
    })
    .await
    .map_err(|e| io(&e))?
    .map_err(|e| io(&e))
}

/// A parent's file. Gone is permanent (cleanup took it); a store that does not answer is
/// retried.
async fn read(storage: &Storage, part: &Part) -> Result<bytes::Bytes, JobError> {
    storage.get(&part.key).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            JobError::permanent("part_missing", format!("{}: {e}", part.title))
        } else {
            JobError::retryable("storage_failed", format!("reading {}: {e}", part.title))
        }
    })
}
