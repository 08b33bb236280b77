//! Domain types: values that have been checked once, at the edge, and are trusted afterwards.

mod job;
mod text;
mod timestamp;

pub use job::{JobId, JobKind, JobStatus, QueueName};
pub use text::{BoundedText, TextError};
pub use timestamp::Timestamp;
