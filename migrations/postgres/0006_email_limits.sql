-- Per-key email limits. A NULL quota follows the settings `email.quota_per_hour` and
-- `email.quota_per_day`; 0 is unlimited. `email_domains`: the recipient domains the key may
-- email, comma-separated (a domain covers its subdomains); NULL is any domain.
ALTER TABLE api_keys ADD COLUMN email_quota_per_hour BIGINT;
ALTER TABLE api_keys ADD COLUMN email_quota_per_day BIGINT;
ALTER TABLE api_keys ADD COLUMN email_domains TEXT;

-- Recipients each key's accepted submissions will email, per minute (Unix ms / 60000). The
-- quota windows are the sums over a key's last 60 and 1440 rows, read through the primary
-- key; rows older than a day are deleted by the next submission of that key.
CREATE TABLE email_usage (
    key_id      TEXT NOT NULL,
    minute      BIGINT NOT NULL,
    recipients  BIGINT NOT NULL,
    PRIMARY KEY (key_id, minute)
);
