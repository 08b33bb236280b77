//! Domain types: values that have been checked once, at the edge, and are trusted afterwards.

mod date;
mod email;
mod job;
mod pdf;
mod text;
mod timestamp;

pub use date::CalendarDate;
pub use email::{EmailAddress, EmailDomains, EmailError, MAX_ADDRESS, header_value};
pub use job::{JobId, JobKind, JobStatus, Priority, QueueName};
pub use pdf::{Archival, PdfStandard, PdfStandardError};
pub use text::{BoundedText, TextError, spreadsheet_safe};
pub use timestamp::Timestamp;
