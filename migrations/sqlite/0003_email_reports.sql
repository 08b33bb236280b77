-- Emails handed to the SMTP server (or written as .eml files), one row per email job. The
-- worker writes it right after the server accepts the message and before anything else, and
-- a retried email job that finds its row does not send again.
CREATE TABLE email_sends (
    job_id      TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL,
    recipients  BIGINT NOT NULL,
    sent_at     BIGINT NOT NULL
);

-- Settings every process must agree on and that nobody has to configure, such as the key that
-- signs download links in emails (created by whichever process needs it first).
CREATE TABLE settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
