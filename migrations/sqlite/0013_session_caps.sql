-- Dashboard sessions of the embedded deployment: each belongs to a key, which may hold at
-- most `dashboard.max_sessions_per_key` (a sign-in beyond it ends the key's oldest), and
-- expired ones are removed by the cleanup job rather than on every write. Sessions from
-- before this migration carry no key: they end here (operators sign in again).
DELETE FROM dashboard_sessions;
ALTER TABLE dashboard_sessions ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE dashboard_sessions ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX dashboard_sessions_key ON dashboard_sessions (key_id, created_at);
CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at);
