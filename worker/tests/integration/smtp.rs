//! `Mailer::Smtp` against a real SMTP server: aiosmtpd (PyPI, ensured by
//! `deploy/test-services.sh`) running `tests/smtp_server.py` as a child process on a free port
//! (`support/smtp_server.rs`).

use std::process::Command;

use mail_parser::{MessageParser, MimeHeaders};
use shared::config::{Smtp, SmtpTls};
use worker::email::{Attachment, Mailer, OutgoingEmail, SendError};

use crate::smtp_server::{SmtpServer, free_port};

fn start_server(reject: &[&str]) -> SmtpServer {
    SmtpServer::start(reject, &[])
}

fn start_server_with(reject: &[&str], tempfail: &[&str]) -> SmtpServer {
    SmtpServer::start(reject, tempfail)
}

fn settings(port: u16) -> Smtp {
    Smtp {
        host: Some("127.0.0.1".into()),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "quire@example.com".into(),
        timeout_secs: 5,
    }
}

/// A small but complete PDF (one empty page), as a client would attach.
fn pdf() -> Vec<u8> {
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ];
    let mut out = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

fn email(to: &[&str]) -> OutgoingEmail {
    OutgoingEmail {
        from: "quire@example.com".into(),
        to: to.iter().map(|s| s.to_string()).collect(),
        cc: vec!["cc@example.com".into()],
        bcc: vec!["hidden@example.com".into()],
        reply_to: Some("support@example.com".into()),
        subject: "Report ready: SAT-001 — Línea 3".into(),
        text: "The report is attached.".into(),
        html: "<p>The report is <b>attached</b>.</p>".into(),
        attachments: vec![Attachment {
            filename: "SAT-001.pdf".into(),
            mime: "application/pdf".into(),
            bytes: pdf(),
        }],
    }
}

#[tokio::test]
async fn a_message_arrives_with_recipients_subject_both_parts_and_the_pdf() {
    let server = start_server(&[]);
    let mailer = Mailer::smtp(&settings(server.port)).unwrap();
    let sent = mailer.send(&email(&["ana@example.com"])).await.unwrap();

    let messages = server.received(1);
    assert_eq!(messages.len(), 1);
    let (envelope, raw) = &messages[0];
    assert_eq!(
        envelope,
        &[
            "quire@example.com",
            "ana@example.com",
            "cc@example.com",
            "hidden@example.com"
        ]
    );
    let m = MessageParser::default().parse(raw).unwrap();
    assert_eq!(m.message_id(), Some(sent.message_id.as_str()));
    assert_eq!(m.subject(), Some("Report ready: SAT-001 — Línea 3"));
    assert!(m.bcc().is_none(), "Bcc must not travel in the headers");
    let to: Vec<_> = m.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(to, ["ana@example.com"]);
    assert_eq!(m.body_text(0).unwrap().trim(), "The report is attached.");
    assert_eq!(
        m.body_html(0).unwrap().trim(),
        "<p>The report is <b>attached</b>.</p>"
    );
    assert_eq!(m.attachment_count(), 1);
    let a = m.attachment(0).unwrap();
    assert_eq!(a.attachment_name(), Some("SAT-001.pdf"));
    assert_eq!(a.content_type().unwrap().subtype(), Some("pdf"));
    assert_eq!(a.contents(), pdf().as_slice());
    // ... and it opens: poppler (ensured by deploy/test-services.sh) reads it.
    let file = server.dir.path().join("received.pdf");
    std::fs::write(&file, a.contents()).unwrap();
    let out = Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The pool reuses the connection for a second message.
    mailer.send(&email(&["bob@example.com"])).await.unwrap();
    assert_eq!(server.received(2).len(), 2);
}

#[tokio::test]
async fn a_rejected_recipient_is_a_permanent_error_with_the_reply() {
    let server = start_server(&["nobody@example.com"]);
    let mailer = Mailer::smtp(&settings(server.port)).unwrap();
    let mut e = email(&["nobody@example.com"]);
    e.cc.clear();
    e.bcc.clear();
    let err = mailer.send(&e).await.unwrap_err();
    assert!(!err.is_transient(), "{err}");
    assert_eq!(err.code(), Some(550), "{err:?}");
    let SendError::Rejected { reply, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(reply.contains("unknown mailbox"), "{reply}");
    assert!(err.to_string().contains("unknown mailbox"), "{err}");
    assert!(server.received(0).is_empty());
}

#[tokio::test]
async fn a_server_nobody_runs_is_a_transient_error() {
    let port = free_port();
    let mailer = Mailer::smtp(&settings(port)).unwrap();
    let err = mailer.send(&email(&["ana@example.com"])).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, SendError::Connection(_)), "{err:?}");
}

#[tokio::test]
async fn a_4xx_reply_is_a_transient_error_with_the_reply() {
    let server = start_server_with(&[], &["busy@example.com"]);
    let mailer = Mailer::smtp(&settings(server.port)).unwrap();
    let mut e = email(&["busy@example.com"]);
    e.cc.clear();
    e.bcc.clear();
    let err = mailer.send(&e).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.code(), Some(450), "{err:?}");
    assert!(err.to_string().contains("mailbox busy"), "{err}");
}

#[tokio::test]
async fn a_failed_tls_handshake_is_a_transient_error() {
    // Implicit TLS against a plain-text server: the handshake fails.
    let server = start_server(&[]);
    let mut s = settings(server.port);
    s.tls = SmtpTls::Tls;
    let mailer = Mailer::smtp(&s).unwrap();
    let err = mailer.send(&email(&["ana@example.com"])).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(matches!(err, SendError::Connection(_)), "{err:?}");
    // rustls read the server's plain-text greeting as a TLS record.
    assert!(err.to_string().contains("corrupt message"), "{err}");
    assert!(server.received(0).is_empty());
}
