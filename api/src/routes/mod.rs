//! HTTP routes, one module per resource; `router()` merges them in one place.

pub mod certificates;
pub mod health;
pub mod jobs;
