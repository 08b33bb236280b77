//! Delivery: `Mailer::Smtp` (lettre, pooled, rustls) or `Mailer::File` (each message written
//! whole as `mail/<message-id>.eml` in file storage: the embedded default under
//! `DATA_DIR/mail`, or the bucket's `mail/` with object storage).

use std::error::Error as _;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as AttachmentPart, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use shared::config::{Config, Smtp, SmtpTls};
use shared::storage::Storage;

/// Where emails go.
#[derive(Clone)]
pub enum Mailer {
    /// Each message is written as `mail/<message-id>.eml` in file storage (no server needed).
    File { storage: Storage },
    /// A pooled SMTP transport.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::File { storage } => f
                .debug_struct("File")
                .field("storage", &storage.describe())
                .finish(),
            Mailer::Smtp(_) => f.write_str("Smtp(..)"),
        }
    }
}

/// A file attached to an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    /// e.g. `application/pdf`.
    pub mime: String,
    pub bytes: Vec<u8>,
}

/// One email ready to send. Addresses are `user@domain` or `Name <user@domain>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingEmail {
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
}

/// What a successful send returns: the `Message-ID` (without angle brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    pub message_id: String,
}

/// The transport could not be built from the settings.
#[derive(Debug, thiserror::Error)]
#[error("SMTP settings: {0}")]
pub struct MailerError(String);

/// Why a send failed; [`SendError::is_transient`] says whether a retry may succeed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message itself is unusable (bad address, line break in a header, bad MIME type):
    /// permanent.
    #[error("invalid email: {0}")]
    Invalid(String),
    /// The server answered with a negative reply: 4xx transient, 5xx permanent. `reply` is
    /// the server's own text.
    #[error("SMTP server replied {code}: {reply}")]
    Rejected { code: u16, reply: String },
    /// Connection refused or reset, timeout, TLS handshake failure, garbled reply: transient.
    #[error("SMTP connection failed: {0}")]
    Connection(String),
    /// Writing the `.eml` file failed: transient.
    #[error("writing the email file failed: {0}")]
    File(#[from] std::io::Error),
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Invalid(_) => false,
            SendError::Rejected { code, .. } => (400..500).contains(code),
            SendError::Connection(_) | SendError::File(_) => true,
        }
    }

    /// The server's reply code, for a negative reply.
    pub fn code(&self) -> Option<u16> {
        match self {
            SendError::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn from_smtp(e: lettre::transport::smtp::Error) -> SendError {
        if let Some(code) = e.status() {
            let reply = e.source().map(|s| s.to_string()).unwrap_or_default();
            let code = code
                .to_string()
                .parse()
                .unwrap_or(if e.is_permanent() { 550 } else { 451 });
            return SendError::Rejected { code, reply };
        }
        if e.is_client() {
            return SendError::Invalid(error_chain(&e));
        }
        SendError::Connection(error_chain(&e))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

impl Mailer {
    /// SMTP when `smtp.host` is set, otherwise `.eml` files under `mail/` in `storage`. Call
    /// it inside a Tokio runtime (see [`Mailer::smtp`]).
    pub fn from_config(config: &Config, storage: Storage) -> Result<Mailer, MailerError> {
        if config.smtp.host.is_some() {
            Mailer::smtp(&config.smtp)
        } else {
            Ok(Mailer::File { storage })
        }
    }

    /// A pooled SMTP transport from the settings (`host` must be set). Call it inside a Tokio
    /// runtime: the pool starts its own task. Nothing connects until the first send.
    pub fn smtp(settings: &Smtp) -> Result<Mailer, MailerError> {
        let host = settings
            .host
            .as_deref()
            .ok_or_else(|| MailerError("smtp.host is not set".into()))?;
        let tls_err = |e: lettre::transport::smtp::Error| MailerError(error_chain(&e));
        let mut builder = match settings.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host).map_err(tls_err)?
            }
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(tls_err)?,
        }
        .port(settings.port)
        .timeout(Some(Duration::from_secs(settings.timeout_secs)));
        if let Some(user) = &settings.username {
            let password = settings
                .password
                .as_ref()
                .map(|p| p.expose().clone())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Mailer::Smtp(builder.build()))
    }

    /// Whether mail can leave now (the `health` task): an SMTP connection that greets and
    /// answers NOOP, or a mail directory that exists. `Ok` describes where mail goes.
    pub async fn check(&self, timeout: Duration) -> Result<String, String> {
        match self {
            Mailer::File { storage } => storage
                .check()
                .await
                .map(|_| format!("writing .eml files to mail/ in {}", storage.describe())),
            Mailer::Smtp(transport) => {
                match tokio::time::timeout(timeout, transport.test_connection()).await {
                    Ok(Ok(true)) => Ok("SMTP server answers".into()),
                    Ok(Ok(false)) => Err("SMTP server did not answer NOOP".into()),
                    Ok(Err(e)) => Err(error_chain(&e)),
                    Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
                }
            }
        }
    }

    /// Builds the MIME message (multipart/alternative text + HTML, inside multipart/mixed when
    /// there are attachments) and delivers it.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<SentEmail, SendError> {
        let keep_bcc = matches!(self, Mailer::File { .. });
        let (message, message_id) = build_message(email, keep_bcc)?;
        match self {
            Mailer::File { storage } => {
                storage
                    .write_mail(&format!("{message_id}.eml"), message.formatted().into())
                    .await?;
            }
            Mailer::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .map_err(SendError::from_smtp)?;
            }
        }
        Ok(SentEmail { message_id })
    }
}

fn mailbox(field: &str, raw: &str) -> Result<Mailbox, SendError> {
    if raw.contains(['\r', '\n']) {
        return Err(SendError::Invalid(format!(
            "{field}: line break in address"
        )));
    }
    raw.parse()
        .map_err(|e| SendError::Invalid(format!("{field}: `{raw}`: {e}")))
}

/// The message and its id (`<uuid>@<sender's domain>`, without angle brackets).
fn build_message(email: &OutgoingEmail, keep_bcc: bool) -> Result<(Message, String), SendError> {
    if email.to.is_empty() {
        return Err(SendError::Invalid("no `to` recipient".into()));
    }
    if email.subject.contains(['\r', '\n']) {
        return Err(SendError::Invalid("subject: line break".into()));
    }
    let from = mailbox("from", &email.from)?;
    let message_id = format!("{}@{}", uuid::Uuid::new_v4().simple(), from.email.domain());
    let mut builder = Message::builder()
        .from(from)
        .subject(email.subject.clone())
        .message_id(Some(format!("<{message_id}>")));
    if keep_bcc {
        builder = builder.keep_bcc();
    }
    for to in &email.to {
        builder = builder.to(mailbox("to", to)?);
    }
    for cc in &email.cc {
        builder = builder.cc(mailbox("cc", cc)?);
    }
    for bcc in &email.bcc {
        builder = builder.bcc(mailbox("bcc", bcc)?);
    }
    if let Some(reply_to) = &email.reply_to {
        builder = builder.reply_to(mailbox("reply_to", reply_to)?);
    }
    let alternative = MultiPart::alternative_plain_html(email.text.clone(), email.html.clone());
    let body = if email.attachments.is_empty() {
        alternative
    } else {
        let mut mixed = MultiPart::mixed().multipart(alternative);
        for a in &email.attachments {
            if a.filename.contains(['\r', '\n', '"']) || a.filename.is_empty() {
                return Err(SendError::Invalid(format!(
                    "attachment filename `{}`",
                    a.filename.escape_debug()
                )));
            }
            let mime = ContentType::parse(&a.mime)
                .map_err(|e| SendError::Invalid(format!("attachment `{}`: {e}", a.filename)))?;
            mixed = mixed
                .singlepart(AttachmentPart::new(a.filename.clone()).body(a.bytes.clone(), mime));
        }
        mixed
    };
    let message = builder
        .multipart(body)
        .map_err(|e| SendError::Invalid(e.to_string()))?;
    Ok((message, message_id))
}

#[cfg(test)]
mod tests {
    use mail_parser::{MessageParser, MimeHeaders};

    use super::*;

    fn email() -> OutgoingEmail {
        OutgoingEmail {
            from: "quire@example.com".into(),
            to: vec![
                "Ana Núñez <ana@example.com>".into(),
                "bob@example.com".into(),
            ],
            cc: vec!["cc@example.com".into()],
            bcc: vec!["hidden@example.com".into()],
            reply_to: Some("support@example.com".into()),
            subject: "Report ready: Línea 3".into(),
            text: "Plain text part.".into(),
            html: "<p>HTML part.</p>".into(),
            attachments: vec![Attachment {
                filename: "report.pdf".into(),
                mime: "application/pdf".into(),
                bytes: b"%PDF-1.7\n\x00\x01\x02binary\xff".to_vec(),
            }],
        }
    }

    #[tokio::test]
    async fn file_transport_writes_a_parseable_eml_named_by_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::File {
            storage: Storage::new(dir.path()),
        };
        let sent = mailer.send(&email()).await.unwrap();
        assert!(sent.message_id.ends_with("@example.com"), "{sent:?}");
        let path = dir
            .path()
            .join("mail")
            .join(format!("{}.eml", sent.message_id));
        let raw = std::fs::read(&path).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
            .unwrap()
            .collect();
        assert_eq!(names.len(), 1, "no temporary files left behind");

        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.message_id(), Some(sent.message_id.as_str()));
        assert_eq!(m.subject(), Some("Report ready: Línea 3"));
        let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| x.address().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
        };
        assert_eq!(addrs(m.to()), ["ana@example.com", "bob@example.com"]);
        assert_eq!(m.to().unwrap().first().unwrap().name(), Some("Ana Núñez"));
        assert_eq!(addrs(m.cc()), ["cc@example.com"]);
        assert_eq!(addrs(m.bcc()), ["hidden@example.com"]);
        assert_eq!(addrs(m.reply_to()), ["support@example.com"]);
        assert_eq!(addrs(m.from()), ["quire@example.com"]);
        assert_eq!(m.body_text(0).unwrap().trim(), "Plain text part.");
        assert_eq!(m.body_html(0).unwrap().trim(), "<p>HTML part.</p>");
        assert_eq!(m.attachment_count(), 1);
        let a = m.attachment(0).unwrap();
        assert_eq!(a.attachment_name(), Some("report.pdf"));
        assert_eq!(a.content_type().unwrap().ctype(), "application");
        assert_eq!(a.content_type().unwrap().subtype(), Some("pdf"));
        assert_eq!(a.contents(), b"%PDF-1.7\n\x00\x01\x02binary\xff");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("multipart/mixed"), "{text}");
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: base64"), "{text}");
    }

    #[tokio::test]
    async fn without_attachments_the_message_is_multipart_alternative() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::File {
            storage: Storage::new(dir.path()),
        };
        let mut e = email();
        e.attachments.clear();
        let sent = mailer.send(&e).await.unwrap();
        let path = dir.path().join(format!("mail/{}.eml", sent.message_id));
        let raw = std::fs::read(path).unwrap();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(!text.contains("multipart/mixed"), "{text}");
    }

    #[tokio::test]
    async fn header_injection_and_bad_addresses_are_permanent_errors() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::File {
            storage: Storage::new(dir.path()),
        };
        let cases: [fn(&mut OutgoingEmail); 6] = [
            |e| e.subject = "Hi\r\nBcc: victim@example.com".into(),
            |e| e.to = vec!["a@example.com\r\nBcc: victim@example.com".into()],
            |e| e.to = vec!["not an address".into()],
            |e| e.to.clear(),
            |e| e.attachments[0].filename = "x\r\n.pdf".into(),
            |e| e.attachments[0].mime = "not a mime".into(),
        ];
        for (i, change) in cases.into_iter().enumerate() {
            let mut e = email();
            change(&mut e);
            let err = mailer.send(&e).await.unwrap_err();
            assert!(matches!(err, SendError::Invalid(_)), "case {i}: {err}");
            assert!(!err.is_transient(), "case {i}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn classification() {
        let rejected = |code| SendError::Rejected {
            code,
            reply: "x".into(),
        };
        assert!(rejected(421).is_transient());
        assert!(rejected(451).is_transient());
        assert!(!rejected(550).is_transient());
        assert!(!rejected(554).is_transient());
        assert!(SendError::Connection("refused".into()).is_transient());
        assert!(!SendError::Invalid("x".into()).is_transient());
    }

    #[tokio::test]
    async fn from_config_picks_the_transport() {
        let mut c = Config::default();
        assert!(matches!(
            Mailer::from_config(&c, Storage::new("d")).unwrap(),
            Mailer::File { .. }
        ));
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
            c.smtp.host = Some("localhost".into());
            c.smtp.tls = tls;
            c.smtp.username = Some("u".into());
            assert!(matches!(
                Mailer::from_config(&c, Storage::new("d")).unwrap(),
                Mailer::Smtp(_)
            ));
        }
    }
}
