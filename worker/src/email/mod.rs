//! Email building blocks: built-in templates rendered with minijinja (`templates.rs`) and
//! delivery over SMTP or to `.eml` files (`mailer.rs`). No job handler lives here yet.

mod mailer;
mod templates;

pub use mailer::{Attachment, Mailer, MailerError, OutgoingEmail, SendError, SentEmail};
pub use templates::{EmailError, RenderedEmail, builtin_email_templates, render};
