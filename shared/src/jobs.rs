//! Job payloads: what a job row's `payload` and `result` columns hold, per kind. Payloads
//! carry small values and references (paths of inputs), never large blobs. Field names are
//! stored in rows: add fields with defaults, never rename.

use serde::{Deserialize, Serialize};

/// `certificate`: one certificate PDF.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertificatePayload {
    pub template: String,
    pub recipient_name: String,
    pub course_name: String,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    pub issuer_name: Option<String>,
    /// Unguessable code printed on the certificate (verification comes with issue 3).
    pub verification_code: String,
    /// The photo was stored as the job's `photo` input file.
    #[serde(default)]
    pub has_photo: bool,
    /// Template-specific extra fields (string, number or boolean values).
    #[serde(default)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// `maintenance`: work the scheduler enqueues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenancePayload {
    pub task: MaintenanceTask,
    /// The schedule that enqueued it, if any.
    pub schedule: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceTask {
    /// Re-push waiting jobs whose message was lost; retry jobs whose lease expired.
    Rescue,
}

/// What a job that produced a file records in `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileResult {
    /// Path relative to the data directory.
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
    pub pages: u32,
}
