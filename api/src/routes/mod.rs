//! HTTP routes, one module per resource; `router()` merges them in one place.

pub mod assets;
pub mod batches;
pub mod certificates;
pub mod credentials;
pub mod emails;
pub mod events;
pub mod health;
pub mod jobs;
pub mod reports;
pub mod schedules;
pub mod system;
pub mod templates;
pub mod verify;
pub mod webhooks;
pub mod workflows;
