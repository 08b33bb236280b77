//! The worker crate's one integration-test binary: the queue consumer against real Redis and
//! SQLite, the built-in report template rendered through `worker::render`, and the mailer
//! against a real SMTP server.

mod consumer;
mod report_render;
mod smtp;

#[path = "../support/pdf.rs"]
mod pdf;
#[path = "../support/smtp_server.rs"]
mod smtp_server;
