//! The crate every role shares: configuration, domain types, job payloads, database, queues,
//! file storage and telemetry. It knows nothing of HTTP.

pub mod cache;
pub mod config;
pub mod db;
pub mod domain;
pub mod images;
pub mod jobs;
pub mod queue;
pub mod sandbox;
pub mod storage;
pub mod telemetry;
pub mod templates;
pub mod verification;
