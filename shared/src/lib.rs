//! The crate every role shares: configuration, domain types, job payloads, database, queues,
//! file storage and telemetry. It knows nothing of HTTP.

pub mod cdn;
pub mod config;
pub mod credentials;
pub mod db;
pub mod domain;
pub mod email_templates;
pub mod job_view;
pub mod jobs;
pub mod links;
pub mod metrics;
pub mod notify;
pub mod queue;
#[cfg(feature = "test-support")]
pub mod redis_lab;
pub mod reports;
pub mod resolver;
pub mod sandbox;
pub mod schedules;
pub mod sealing;
pub mod secret;
pub mod settings_reference;
pub mod storage;
pub mod telemetry;
pub mod templates;
pub mod urls;
pub mod verification;
pub mod webhooks;
