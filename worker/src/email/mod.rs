//! Email delivery over SMTP or to `.eml` files (`mailer.rs`). The templates live in
//! `shared::email_templates` because the API renders them too, to check a submission's
//! variables before accepting it; the job handler is `jobs/email.rs`.

mod mailer;

pub use mailer::{Attachment, Mailer, MailerError, OutgoingEmail, SendError, SentEmail};
pub use shared::email_templates::{EmailError, RenderedEmail, builtin_email_templates, render};
