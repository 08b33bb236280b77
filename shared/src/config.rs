//! One typed configuration for every role: built-in defaults, then an optional TOML file
//! (`--config` or `QUIRE_CONFIG`), then `QUIRE_*` environment variables (`DATABASE_URL` and
//! `REDIS_URL` are accepted too). Nested settings use `__` in variable names, e.g.
//! `QUIRE_QUEUES__CERTIFICATES__CONCURRENCY=4`.
//!
//! Invalid settings stop start-up with an error that names the setting and what it accepts.
//! Secrets are wrapped in [`Secret`] so they never reach a log line or an error message.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::domain::QueueName;
use crate::sandbox::SandboxLimits;

pub use crate::db::DatabaseBackend;
pub use crate::schedules::{MissedTicks, ScheduleConfig};
pub use crate::secret::Secret;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded database, outputs and mail live.
    pub data_dir: PathBuf,
    /// Address the API listens on.
    pub bind: SocketAddr,
    /// Where a process answers `/health`, `/ready` and `/metrics` on a port of its own (for
    /// probes and Prometheus, not the public); `quire worker` and `quire scheduler` have no
    /// other. Unset: nowhere.
    pub health_bind: Option<SocketAddr>,
    /// `postgres://…` for production; unset means SQLite at `DATA_DIR/app.db`.
    pub database_url: Option<Secret<String>>,
    /// Pool size of the SQL database.
    pub database_max_connections: u32,
    /// `redis://…` (`rediss://` for TLS; `redis://user:password@host:port/db` for an ACL
    /// user) for production queues; unset means the SQLite queue in `DATA_DIR`. With
    /// `redis.sentinels` it gives only the scheme, user, password and database; with
    /// `redis.cluster` it is one node of the cluster.
    pub redis_url: Option<Secret<String>>,
    /// Prefix of every Redis key, so several deployments (or tests) can share one Redis.
    pub redis_namespace: String,
    pub redis: RedisSettings,
    /// `s3://bucket/optional/prefix`: inputs, outputs and mail files live in S3-compatible
    /// object storage (settings under `s3`, else the standard `AWS_*` variables); unset: files
    /// under `DATA_DIR`.
    pub storage_url: Option<String>,
    pub s3: S3Settings,
    pub metrics: MetricsSettings,
    /// Base URL clients reach the API at; used in links. Defaults to `http://{bind}`.
    pub public_base_url: Option<String>,
    /// `text` or `json` log lines. The level comes from `RUST_LOG` (default `info`).
    pub log_format: LogFormat,
    pub limits: Limits,
    pub queues: Queues,
    pub retry: Retry,
    pub rescue: Rescue,
    /// Cron schedules by name; each tick enqueues one maintenance job. The built-in ones
    /// (`cleanup`, `health`, `db-maintenance`, `cache-warm`) are present by default
    /// and can be changed or disabled; more can be added (`[schedules.<name>]`).
    pub schedules: BTreeMap<String, ScheduleConfig>,
    pub cleanup: Cleanup,
    pub health: HealthSettings,
    pub sandbox: Sandbox,
    pub smtp: Smtp,
    pub email: EmailPolicy,
    pub rate_limit: RateLimitSettings,
    pub quotas: Quotas,
    pub webhooks: WebhookSettings,
    pub workflows: WorkflowSettings,
    /// Purging a CDN in front of the public answers (verification, the public registry).
    pub cdn: CdnSettings,
    pub cache: CacheSettings,
    pub dashboard: DashboardSettings,
    pub secrets: SecretsSettings,
    /// Digital signatures (PAdES) on every PDF a worker renders.
    pub signing: SigningSettings,
    /// Seconds a worker waits for running jobs on shutdown before releasing them.
    pub shutdown_grace_secs: u64,
    /// How long an `Idempotency-Key` is remembered, in seconds.
    pub idempotency_window_secs: u64,
}

/// PAdES signatures: with an identity, every PDF a worker renders (certificates, reports,
/// batch certificates) is signed as PAdES B-B before it is stored, and the job records
/// `result.signature`. Read by workers only; the key never leaves their processes.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SigningSettings {
    /// A PEM file holding the signer's certificate, then its issuers' (`CERTIFICATE` blocks),
    /// and its PKCS#8 private key (`PRIVATE KEY`, RSA or ECDSA P-256). Unset: PDFs are not
    /// signed. A file that cannot be read or whose key is not the certificate's stops the
    /// worker at start-up, naming the problem.
    pub identity_file: Option<std::path::PathBuf>,
    /// An RFC 3161 time-stamping authority (`http://timestamp.example/tsa`): each signature
    /// is then time-stamped by it (PAdES B-T), proving when it was made by a clock other than
    /// the worker's. A job whose authority does not answer within `timestamp_timeout_secs` is
    /// retried (its backoff). Unset: B-B, the time is the worker's.
    pub timestamp_url: Option<String>,
    /// Longest one time-stamp request may take, in seconds.
    pub timestamp_timeout_secs: u64,
}

impl Default for SigningSettings {
    fn default() -> Self {
        SigningSettings {
            identity_file: None,
            timestamp_url: None,
            timestamp_timeout_secs: 10,
        }
    }
}

/// Redis for high availability: a master found through Sentinel, or a Redis Cluster (see the
/// book's "Managed Redis" chapter). Unset, `redis_url` names the one server.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// Sentinels to ask for the master, comma-separated `host:port`
    /// (`10.0.0.5:26379,10.0.0.6:26379`); a failover is followed on its own. Empty: no
    /// Sentinel.
    pub sentinels: String,
    /// The name the sentinels monitor the master under (`sentinel monitor <name> …`).
    pub sentinel_master: String,
    /// The sentinels' own ACL user, when they require one (`sentinel sentinel-user`).
    pub sentinel_username: Option<String>,
    /// The sentinels' own password (`sentinel sentinel-pass`, or `requirepass` on the
    /// sentinels); unset: none.
    pub sentinel_password: Option<Secret<String>>,
    /// `redis_url` is a node of a Redis Cluster: every key is hash-tagged so each script's
    /// keys share a slot, and the client follows the cluster's slots and failovers.
    pub cluster: bool,
    /// More nodes of the cluster to start from, comma-separated `host:port`, with
    /// `redis_url`'s scheme and credentials; any one that answers is enough.
    pub cluster_nodes: String,
    /// A PEM file of the certificate authorities that `rediss://` servers (and TLS
    /// sentinels) are checked against, in place of the system's (a managed service's own
    /// CA); unset: the system's.
    pub tls_ca_file: Option<PathBuf>,
}

impl RedisSettings {
    /// The sentinels' `host:port`s.
    pub fn sentinel_list(&self) -> Vec<String> {
        split_list(&self.sentinels)
    }

    /// The cluster's extra seed nodes' `host:port`s.
    pub fn cluster_node_list(&self) -> Vec<String> {
        split_list(&self.cluster_nodes)
    }
}

fn split_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Bounds of one workflow (`POST /v1/workflows`); a workflow past one is refused whole with a
/// `422` naming the bound.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSettings {
    /// Most jobs one workflow makes (each step one job, a `batch` step one per row).
    pub max_steps: usize,
    /// Most named steps one workflow lists.
    pub max_named_steps: usize,
    /// Longest chain of steps, each after the one before (a workflow of one layer has
    /// depth 1).
    pub max_depth: usize,
    /// Most parent outputs one `merge` or `archive` step combines.
    pub max_merge_parts: usize,
}

/// How quire reaches S3-compatible object storage when `storage_url` is set. Each setting
/// left unset comes from the standard AWS variable named beside it, then AWS's default.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// The server, for S3-compatible stores (`http://127.0.0.1:9000`, R2, Ceph); unset: AWS
    /// (`AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
    /// `AWS_REGION`; S3-compatible servers usually accept any.
    pub region: Option<String>,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<Secret<String>>,
    /// Address buckets as `endpoint/bucket/key` (what most S3-compatible servers need) rather
    /// than `bucket.endpoint/key`.
    pub path_style: bool,
    /// Permit an `http://` endpoint (`AWS_ALLOW_HTTP`); refused otherwise.
    pub allow_http: bool,
    /// Downloads answer `302` to a presigned URL valid this many seconds, so bytes do not
    /// pass through the API; 0 = the API streams them.
    pub presign_downloads_secs: u64,
    /// Seconds one request to the store may take before it counts as failed (and is retried
    /// by the client, then by the job's own retries).
    pub timeout_secs: u64,
}

/// Request rate limits of the API (GCRA: a burst of up to the limit, refilled evenly over
/// the window). Across API processes through Redis; in-process on SQLite.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    /// Requests per window per API key, on every keyed endpoint; 0 = unlimited. A key's own
    /// limit (`quire keys set --rate-limit`) replaces it.
    pub per_key: u64,
    /// Requests per window per client address on the public endpoints (verification, the
    /// public registry), so verification codes cannot be enumerated quickly; 0 = unlimited.
    /// An IPv6 client is counted by its /64.
    pub public_per_address: u64,
    /// The window, in seconds.
    pub window_secs: u64,
    /// Take the client address from the last `X-Forwarded-For` entry: only behind a proxy
    /// that sets it (otherwise any client could pick its own address).
    pub trust_forwarded_for: bool,
}

/// A CDN (or Varnish) in front of the public answers. Those answers always name what they
/// depend on in `Surrogate-Key` and `Cache-Tag` (`crate::cdn`); with `purge_url` set, every
/// change that makes one stale (a revocation, a template change, a deletion) inserts a
/// `purge` job in its own transaction, and a worker sends it until the CDN accepts it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CdnSettings {
    /// Where purges are sent: the Varnish address (`http://127.0.0.1:6081`) or the CDN's
    /// purge API (`https://api.fastly.com/service/<id>/purge`,
    /// `https://api.cloudflare.com/client/v4/zones/<zone>/purge_cache`). Unset: no purges,
    /// and public answers keep `max-age=60`.
    pub purge_url: Option<String>,
    /// How a purge is sent: `varnish-ban` (`BAN purge_url` with `X-Purge-Tags: <tags>`),
    /// `varnish-purge` (`PURGE` of each URL the tags stand for) or `surrogate-key-api`
    /// (`POST purge_url` with `Surrogate-Key: <tags>` and the JSON body `{"tags": [...]}`).
    pub style: PurgeStyle,
    /// Sent with every purge as `Authorization: Bearer <token>` (and `Fastly-Key: <token>`
    /// with `surrogate-key-api`). Unset: no credentials.
    pub token: Option<Secret<String>>,
    /// `max-age` of verification answers that only a purge changes (`valid`, `revoked`,
    /// `expired`) while `purge_url` is set, in seconds; a `valid` answer never outlives its
    /// certificate's expiry. Pending answers and the registry keep 60.
    pub max_age_secs: u64,
    /// Attempts of one purge before it is `dead` (backoff as `retry`): 20 span about an hour,
    /// the default `max_age_secs`, after which a missed purge no longer matters.
    pub max_attempts: u32,
    /// Longest one purge request may take, in seconds.
    pub timeout_secs: u64,
}

/// The API's in-process caches (`quire cache stats`). Every committed change drops the
/// entries it touches in every API process as it commits (database triggers), so these
/// lifetimes are a safety net only.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Cache at all; `false`: every read goes to the database (to measure what caching saves).
    pub enabled: bool,
    /// Lifetime of a cached API key, in seconds.
    pub keys_ttl_secs: u64,
    /// Lifetime of a cached template and of the public template list, in seconds.
    pub templates_ttl_secs: u64,
    /// Lifetime of a cached public verification, in seconds.
    pub verifications_ttl_secs: u64,
    /// Lifetime of a cached public registry page, in seconds: how late a newly issued
    /// certificate may appear in it (revocations and deletions drop pages at once).
    pub registry_ttl_secs: u64,
    /// Lifetime of a finished job's cached answer, in seconds.
    pub finished_jobs_ttl_secs: u64,
}

/// How purges reach the CDN (`cdn.style`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum PurgeStyle {
    /// `BAN` with the tags in `X-Purge-Tags` (`deploy/varnish/quire.vcl`).
    #[default]
    VarnishBan,
    /// `PURGE` of each URL the tags stand for: only verification pages and the unfiltered
    /// registry have one.
    VarnishPurge,
    /// `POST` with `Surrogate-Key` (Fastly) and `{"tags": [...]}` (Cloudflare).
    SurrogateKeyApi,
}

/// Webhook deliveries and the event log behind them and `GET /v1/events`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Permit `http://` targets (otherwise `https://` only).
    pub allow_http: bool,
    /// Networks a target may resolve into although they are private, loopback or
    /// link-local, comma-separated CIDRs (`10.0.0.0/8,fd00::/8`): for tests and private
    /// deployments. Empty: only public addresses.
    pub allow_networks: String,
    /// Ports a webhook or callback target may use, comma-separated (`443,8443`); a URL
    /// without a port uses its scheme's. Empty: any port.
    pub allowed_ports: String,
    /// DNS servers that resolve webhook and callback targets, comma-separated (`ip` or
    /// `ip:port`); empty: the system's (`/etc/resolv.conf`, and the hosts file).
    pub nameservers: String,
    /// Longest a target's name lookup may take, a wait for a turn included, in milliseconds;
    /// the lookup ends then (no thread is left waiting on it).
    pub lookup_timeout_ms: u64,
    /// Name lookups of targets at once per process; more wait for a turn within
    /// `lookup_timeout_ms`, then are refused (`503` to the API's caller, a retry for a
    /// delivery).
    pub max_lookups: u64,
    /// Longest one delivery may take, connect to last byte, in seconds.
    pub timeout_secs: u64,
    /// Backoff between a delivery's attempts (with `queues.webhooks.max_attempts`, 25 by
    /// default: at least 26 hours of retries).
    pub retry: Retry,
    /// Deliveries in a row that died (a permanent refusal, or every attempt failed) after
    /// which an endpoint is disabled; 0 = never. Attempts still to be retried do not count,
    /// so an outage shorter than the retries (a day) never disables an endpoint.
    pub disable_after_failures: u32,
    /// How often the scheduler's event pump numbers new events and creates their
    /// deliveries when no job finished to wake it, in milliseconds.
    pub pump_interval_ms: u64,
    /// How long events stay readable (`Last-Event-ID`), in hours; cleanup removes older ones
    /// and deliveries past their job's retention.
    pub events_retention_hours: u64,
}

/// The operators' web dashboard at `/dashboard` (served by the API).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardSettings {
    /// Serve it; off, `/dashboard` is 404.
    pub enabled: bool,
    /// A session unused this long ends, in seconds.
    pub idle_timeout_secs: u64,
    /// A session ends this long after sign-in however much it is used, in seconds.
    pub absolute_timeout_secs: u64,
    /// Sessions one key may hold; a sign-in beyond it ends the key's oldest session.
    pub max_sessions_per_key: u32,
}

/// The key-encryption key that seals secrets stored in the database (webhook and callback
/// secrets, the link-signing key; see `sealing.rs`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretsSettings {
    /// 32 bytes in base64 (`openssl rand -base64 32`) or 64 hex digits. Required with
    /// PostgreSQL (every process of a deployment sets the same one); unset in the embedded
    /// deployment, one is made in `DATA_DIR/secrets.key` (mode 0600).
    pub kek: Option<Secret<String>>,
    /// The key before a rotation: what it sealed is still read, and sealed again under `kek`
    /// at the next start. Remove it once every process has restarted.
    pub previous_kek: Option<Secret<String>>,
}

/// What one key may have waiting: beyond it submissions are refused (`429`) and nothing of
/// them is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quotas {
    /// Jobs not finished yet (scheduled, queued, failed, running) per key; 0 = unlimited. A
    /// key's own quota (`quire keys set --max-waiting-jobs`) replaces it.
    pub max_waiting_jobs: u64,
}

/// Prometheus metrics at `GET /metrics` (the API, and the health port of workers and
/// schedulers).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Record and serve metrics; off, nothing is recorded and `/metrics` is 404.
    pub enabled: bool,
    /// When set, `/metrics` wants `Authorization: Bearer <token>`.
    pub token: Option<Secret<String>>,
    /// Serve `/metrics` on the API's (public) port without a token. Off, the API's port
    /// serves them only with `token`; Prometheus scrapes `health_bind`, which every role
    /// serves when it is set.
    pub public: bool,
}

/// How email leaves: SMTP when `host` is set, otherwise `.eml` files under `DATA_DIR/mail`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    /// SMTP server; unset means no server: each message is written to `DATA_DIR/mail`.
    pub host: Option<String>,
    /// SMTP port.
    pub port: u16,
    /// `none` (plain text), `starttls` (upgrade required) or `tls` (implicit TLS, e.g. port 465).
    pub tls: SmtpTls,
    /// SMTP login; unset: no authentication.
    pub username: Option<String>,
    /// SMTP password (needs a username; never logged).
    pub password: Option<Secret<String>>,
    /// The `From` address of every email quire sends.
    pub from: String,
    /// Seconds to wait for the server on each connection and command.
    pub timeout_secs: u64,
}

/// What keys may make quire email. Quotas count recipients (to, cc, bcc; one per `notify`)
/// of accepted submissions per key, over the last 60 minutes and the last 24 hours; a key's
/// own quotas (`quire keys set`) replace these.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailPolicy {
    /// Most recipients per key in any 60 minutes; 0 = unlimited.
    pub quota_per_hour: u64,
    /// Most recipients per key in any 24 hours; 0 = unlimited.
    pub quota_per_day: u64,
    /// Let every key use the free-text `generic` template and the `subject` override, not
    /// only admin keys.
    pub generic_for_all: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest request body accepted where a body carries images or documents (certificates,
    /// batches, reports, templates), in bytes.
    pub max_body_bytes: usize,
    /// Largest request body of every other request (emails, webhooks, revocations, dashboard
    /// forms), in bytes.
    pub max_json_body_bytes: usize,
    /// Largest decoded image (photo) accepted, in bytes.
    pub max_image_bytes: usize,
    /// Most pixels (width × height) of an uploaded image; checked from its header before
    /// decoding, so a small file cannot expand into gigabytes (decompression bomb).
    pub max_image_pixels: u64,
    /// Longest side of an uploaded image, in pixels.
    pub max_image_side: u32,
    /// Longest name (recipient, course, issuer), in characters.
    pub max_name_chars: usize,
    /// Most result rows in one report, over all its sections.
    pub max_report_rows: usize,
    /// Most test sections in one report.
    pub max_report_sections: usize,
    /// Most images in one report, signatures included.
    pub max_report_images: usize,
    /// Most bytes of all of one report's decoded images together.
    pub max_report_image_bytes: usize,
    /// Most bytes of files attached to one email; above it the email carries download links.
    pub max_email_attachment_bytes: u64,
    /// Most bytes of free text (titles, notes, table cells, markup) in one report request, so
    /// one request cannot hold a validating thread for long.
    pub max_report_text_bytes: usize,
    /// Most CPU-heavy request checks (image decodes, report and batch validation) one API
    /// process runs at once, each on a blocking thread; more wait without holding a thread.
    /// Bounds memory too: a decode may hold `max_image_pixels` × 4 bytes.
    pub max_concurrent_decodes: usize,
    /// Most such checks one key may have running or waiting in a process; beyond it `429
    /// too_many_checks` at once.
    pub max_checks_per_key: usize,
    /// Most checks waiting for a turn in a process, all keys together; beyond it `503 busy`.
    pub max_waiting_checks: usize,
    /// Longest a request may take, headers read to answer written, in seconds.
    pub request_timeout_secs: u64,
    /// Longest a client may take to send a request's headers, in seconds (slow-loris).
    pub header_read_timeout_secs: u64,
    /// Longest a write to a client may wait, in seconds: a client that stops reading a
    /// response (an event stream, an archive, a file) is disconnected after this long.
    pub write_timeout_secs: u64,
    /// Event streams (`GET /v1/events`, the dashboard's live pages) one API process keeps
    /// open at once; more answer `503`.
    pub max_event_streams: usize,
    /// Event streams one key may have open on one API process; more answer `429
    /// too_many_streams`.
    pub max_event_streams_per_key: usize,
    /// Longest an event stream stays open, in seconds; then it ends and the client resumes
    /// with `Last-Event-ID` (browsers' `EventSource` reconnects by itself).
    pub max_event_stream_secs: u64,
    /// Long-polls (`?wait=` on a job or batch) one API process holds at once; more answer
    /// `503`.
    pub max_long_polls: usize,
    /// Long-polls one key may have waiting on one API process; more answer `429
    /// too_many_long_polls`.
    pub max_long_polls_per_key: usize,
    /// Batch archives (`GET /v1/batches/{id}/archive`) one API process streams at once;
    /// more answer `503`.
    pub max_archive_downloads: usize,
    /// Batch archives one key may be downloading from one API process; more answer `429
    /// too_many_archives`.
    pub max_archive_downloads_per_key: usize,
}

/// Per-queue settings; one entry per queue, all present after defaults are applied.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Queues {
    pub certificates: QueueSettings,
    pub reports: QueueSettings,
    pub emails: QueueSettings,
    pub maintenance: QueueSettings,
    pub webhooks: QueueSettings,
    /// Workflows' `merge` and `archive` steps.
    pub bundles: QueueSettings,
    /// How a worker picks its next job (`queues.order`, env `QUIRE_QUEUES__ORDER`).
    pub order: ClaimOrder,
}

/// How a worker picks its next job of a queue.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ClaimOrder {
    /// The highest priority first, and within one, keys in turn (the default).
    #[default]
    Fair,
    /// The job each message names, in the order messages arrive: no priorities and no
    /// turns. For measuring what fairness costs, and as an escape hatch.
    Fifo,
}

impl Queues {
    pub fn get(&self, queue: QueueName) -> &QueueSettings {
        match queue {
            QueueName::Certificates => &self.certificates,
            QueueName::Reports => &self.reports,
            QueueName::Emails => &self.emails,
            QueueName::Maintenance => &self.maintenance,
            QueueName::Webhooks => &self.webhooks,
            QueueName::Bundles => &self.bundles,
        }
    }
}

/// One queue's workers and attempts.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Jobs of this queue one worker process runs at once.
    pub concurrency: usize,
    /// Attempts before a job is `dead`.
    pub max_attempts: u32,
    /// Longest one attempt may run before it is recorded as failed.
    pub timeout_secs: u64,
    /// Most jobs of one key this queue runs at once, over every worker; 0 = no cap.
    pub max_running_per_key: u32,
}

impl QueueSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// Exponential backoff with full jitter: attempt n waits a random time up to
/// `min(base * 2^(n-1), max)`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// The first retry's longest delay, in milliseconds (doubling each attempt, jittered).
    pub base_ms: u64,
    /// The longest delay of any retry, in seconds.
    pub max_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rescue {
    /// A `queued` job whose run time passed this long ago without being claimed is pushed
    /// to its queue again (its message was lost, e.g. Redis lost its data).
    pub stale_after_secs: u64,
    /// How long a claimed job's lease lasts without a heartbeat before it is rescued.
    pub lease_secs: u64,
    /// How often the scheduler's rescuer looks for expired leases and lost messages. A dead
    /// worker's job runs again within `lease_secs` plus about this long.
    pub interval_ms: u64,
}

/// What the `cleanup` task deletes: finished jobs (their rows, files and registry entries)
/// older than their kind's retention for their status. Jobs still waiting or running are
/// never touched.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cleanup {
    /// Jobs deleted per statement: small batches keep each lock short.
    pub batch_size: u32,
    /// Most jobs one run deletes; the next run continues.
    pub max_per_run: u32,
    /// Inputs stored for no job row this long are removed (a submission writes its inputs
    /// just before its row; one that failed in between leaves them behind).
    pub orphan_inputs_after_secs: u64,
    pub retention: Retention,
}

/// Retention per job kind; days after `finished_at`, 0 = keep forever.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub certificate: KindRetention,
    pub report: KindRetention,
    pub email: KindRetention,
    pub maintenance: KindRetention,
    pub webhook: KindRetention,
    /// Workflows' `merge` and `archive` steps.
    pub bundle: KindRetention,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindRetention {
    /// Days a `succeeded` job of this kind is kept after it finished; 0 = forever.
    pub succeeded_days: u32,
    /// Days a `dead` job of this kind is kept after it finished; 0 = forever.
    pub dead_days: u32,
    /// Days a `cancelled` job of this kind is kept after it finished; 0 = forever.
    pub cancelled_days: u32,
}

impl Retention {
    pub fn get(&self, kind: crate::domain::JobKind) -> KindRetention {
        use crate::domain::JobKind;
        match kind {
            JobKind::Certificate => self.certificate,
            JobKind::Report => self.report,
            JobKind::Email => self.email,
            JobKind::Maintenance => self.maintenance,
            JobKind::Webhook => self.webhook,
            JobKind::Bundle => self.bundle,
        }
    }
}

/// What the `health` task checks and when its results are too old to trust.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthSettings {
    /// Free space under `DATA_DIR` below which the disk check fails, in MiB.
    pub min_free_disk_mb: u64,
    /// Recorded results older than this are reported as stale.
    pub stale_after_secs: u64,
    /// `/health` fails (503 `stalled`) when this process's runtime and blocking pool have
    /// completed no probe for this long: a process that can no longer make progress is
    /// restarted by its supervisor.
    pub stall_after_secs: u64,
}

/// Bounded renders of uploaded templates: a child process with a wall-clock timeout and an
/// address-space limit (see [`crate::sandbox`]).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    /// The `quire` binary the child runs; unset means this process's own executable.
    pub program: Option<PathBuf>,
    /// Longest a bounded render may take, in milliseconds, start-up included.
    pub timeout_ms: u64,
    /// The child's address-space limit in MiB. It counts every mapping (the binary, thread
    /// stacks, allocator arenas), not only the heap; see README for the measured minimum.
    pub memory_mb: u64,
    /// Most children running at once in this process. The API refuses beyond it (503 with
    /// `Retry-After`); the worker waits for a free one.
    pub max_children: usize,
    /// Largest answer read from a child, in MiB (a PDF or PNG, base64 encoded).
    pub max_output_mb: u64,
}

/// The cores this process may use (2 when the system cannot tell): what default concurrencies
/// and the worker's render slots are sized by.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Default for Config {
    fn default() -> Self {
        Config::for_cores(cores())
    }
}

impl Config {
    /// The defaults on a machine with `cores` cores (the settings' reference shows the
    /// defaults that follow the cores as such).
    pub fn for_cores(cores: usize) -> Self {
        let queue = |concurrency, max_attempts, timeout_secs| QueueSettings {
            concurrency,
            max_attempts,
            timeout_secs,
            max_running_per_key: 0,
        };
        Config {
            data_dir: PathBuf::from("./data"),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            health_bind: None,
            database_url: None,
            database_max_connections: 16,
            redis_url: None,
            redis_namespace: "quire".into(),
            redis: RedisSettings {
                sentinel_master: "mymaster".into(),
                ..RedisSettings::default()
            },
            storage_url: None,
            s3: S3Settings {
                endpoint: None,
                region: None,
                access_key_id: None,
                secret_access_key: None,
                path_style: true,
                allow_http: false,
                presign_downloads_secs: 0,
                timeout_secs: 30,
            },
            metrics: MetricsSettings {
                enabled: true,
                token: None,
                public: false,
            },
            public_base_url: None,
            log_format: LogFormat::Text,
            limits: Limits {
                max_body_bytes: 10 * 1024 * 1024,
                max_json_body_bytes: 256 * 1024,
                max_image_bytes: 2 * 1024 * 1024,
                // A 2000 × 2000 photo prints at 300 dpi across 17 cm; signatures and logos
                // need far less. Each decode holds up to 16 MB at this size.
                max_image_pixels: 4_000_000,
                max_image_side: 4_000,
                max_name_chars: 200,
                max_report_rows: 5_000,
                max_report_sections: 500,
                max_report_images: 40,
                max_report_image_bytes: 8 * 1024 * 1024,
                max_email_attachment_bytes: 10 * 1024 * 1024,
                max_report_text_bytes: 1024 * 1024,
                max_concurrent_decodes: cores,
                max_checks_per_key: 32,
                max_waiting_checks: 256,
                request_timeout_secs: 60,
                header_read_timeout_secs: 10,
                write_timeout_secs: 30,
                max_event_streams: 1024,
                // A client and a few dashboard tabs.
                max_event_streams_per_key: 8,
                max_event_stream_secs: 3600,
                max_long_polls: 1024,
                max_long_polls_per_key: 32,
                // Each holds a PDF in memory and a 256 KiB pipe while it streams.
                max_archive_downloads: 16,
                max_archive_downloads_per_key: 2,
            },
            dashboard: DashboardSettings {
                enabled: true,
                idle_timeout_secs: 30 * 60,
                absolute_timeout_secs: 12 * 60 * 60,
                max_sessions_per_key: 10,
            },
            webhooks: WebhookSettings {
                allow_http: false,
                allow_networks: String::new(),
                allowed_ports: String::new(),
                nameservers: String::new(),
                lookup_timeout_ms: 5_000,
                max_lookups: 64,
                timeout_secs: 10,
                retry: Retry {
                    base_ms: 5_000,
                    max_secs: 4 * 60 * 60,
                },
                disable_after_failures: 100,
                pump_interval_ms: 100,
                events_retention_hours: 7 * 24,
            },
            workflows: WorkflowSettings {
                max_steps: 20_000,
                max_named_steps: 1_000,
                max_depth: 32,
                max_merge_parts: 10_000,
            },
            signing: SigningSettings::default(),
            cdn: CdnSettings {
                purge_url: None,
                style: PurgeStyle::VarnishBan,
                token: None,
                max_age_secs: 3600,
                max_attempts: 20,
                timeout_secs: 10,
            },
            cache: CacheSettings {
                enabled: true,
                keys_ttl_secs: 600,
                templates_ttl_secs: 600,
                verifications_ttl_secs: 3600,
                registry_ttl_secs: 30,
                finished_jobs_ttl_secs: 600,
            },
            queues: Queues {
                // Rendering is CPU-bound: one render per core. Emails wait on the network.
                // Twice the cores: a job's database, queue and file round trips overlap another's
                // render; the worker's render slots keep in-process renders at one per core.
                certificates: queue(2 * cores, 5, 60),
                reports: queue(cores.div_ceil(2), 3, 300),
                emails: queue(8, 8, 60),
                maintenance: queue(2, 3, 600),
                // Deliveries wait on the network. 25 attempts with `webhooks.retry` span at
                // least 26 hours, whatever the jitter draws (half of each delay at worst).
                webhooks: queue(32, 25, 30),
                // A merge of 10,000 parts reads them one at a time; one per core.
                bundles: queue(cores, 3, 600),
                order: ClaimOrder::Fair,
            },
            retry: Retry {
                base_ms: 1_000,
                max_secs: 600,
            },
            rescue: Rescue {
                stale_after_secs: 30,
                lease_secs: 60,
                interval_ms: 1_000,
            },
            schedules: default_schedules(),
            cleanup: Cleanup {
                batch_size: 500,
                max_per_run: 50_000,
                orphan_inputs_after_secs: 3600,
                retention: Retention {
                    // Certificates stay: their public verification links must keep working.
                    certificate: keep(0, 90, 30),
                    report: keep(365, 90, 30),
                    email: keep(30, 90, 30),
                    maintenance: keep(7, 30, 7),
                    webhook: keep(7, 30, 7),
                    bundle: keep(30, 90, 30),
                },
            },
            health: HealthSettings {
                min_free_disk_mb: 1024,
                stale_after_secs: 300,
                stall_after_secs: 10,
            },
            sandbox: Sandbox {
                program: None,
                timeout_ms: 10_000,
                memory_mb: 1024,
                max_children: cores,
                max_output_mb: 64,
            },
            smtp: Smtp {
                host: None,
                port: 587,
                tls: SmtpTls::Starttls,
                username: None,
                password: None,
                from: "quire@localhost".into(),
                timeout_secs: 30,
            },
            rate_limit: RateLimitSettings {
                per_key: 1_000,
                public_per_address: 20,
                window_secs: 1,
                trust_forwarded_for: false,
            },
            quotas: Quotas {
                max_waiting_jobs: 50_000,
            },
            email: EmailPolicy {
                quota_per_hour: 1_000,
                quota_per_day: 10_000,
                generic_for_all: false,
            },
            secrets: SecretsSettings::default(),
            shutdown_grace_secs: 30,
            idempotency_window_secs: 24 * 60 * 60,
        }
    }
}

fn keep(succeeded_days: u32, dead_days: u32, cancelled_days: u32) -> KindRetention {
    KindRetention {
        succeeded_days,
        dead_days,
        cancelled_days,
    }
}

/// The built-in schedules: every one can be retimed or disabled in configuration.
fn default_schedules() -> BTreeMap<String, ScheduleConfig> {
    let schedule = |cron: &str, missed| ScheduleConfig {
        task: None,
        cron: cron.into(),
        timezone: "UTC".into(),
        enabled: true,
        missed,
        overlap: false,
    };
    BTreeMap::from([
        (
            "health".into(),
            schedule("*/30 * * * * *", MissedTicks::Skip),
        ),
        (
            "cache-warm".into(),
            schedule("0 */15 * * * *", MissedTicks::Skip),
        ),
        // Nightly, off the hour; run once on start if the night was missed.
        (
            "cleanup".into(),
            schedule("0 17 3 * * *", MissedTicks::RunOnce),
        ),
        (
            "db-maintenance".into(),
            schedule("0 47 3 * * *", MissedTicks::RunOnce),
        ),
    ])
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

fn bad(setting: &str, msg: &str) -> Result<(), ConfigError> {
    Err(ConfigError(format!("setting `{setting}`: {msg}")))
}

fn within(
    setting: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    bad(
        setting,
        &format!("must be between {} and {}", range.start(), range.end()),
    )
}

impl Config {
    /// Defaults, then the TOML file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let env_file = std::env::var_os("QUIRE_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        // What the operator set (file, then environment), without the defaults.
        let mut given = Figment::new();
        if let Some(file) = &file {
            if !file.exists() {
                return Err(ConfigError(format!(
                    "config file `{}` does not exist",
                    file.display()
                )));
            }
            given = given.merge(Toml::file(file));
        }
        given = given
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]))
            .merge(
                Env::prefixed("QUIRE_")
                    // The client commands' own variables (quire/src/client), not settings.
                    .ignore(&["CONFIG", "URL", "KEY", "PROFILE"])
                    .split("__")
                    .map(|k| env_key(k.as_str()).into()),
            );
        Self::from_given(given)
    }

    /// The defaults under `given` (what the operator set), then the defaults that depend on
    /// other settings.
    fn from_given(given: Figment) -> Result<Config, ConfigError> {
        let figment = Figment::from(Serialized::defaults(Config::default())).merge(given.clone());
        let mut config = Self::from_figment(figment)?;
        // On object storage each certificate waits on a few storage round trips besides its
        // render: more in flight keeps the cores busy (renders stay one per core, bounded by
        // the worker's render slots). Measured here: 4 in flight gave 0.38 of the local-files
        // rate, 16 gave 0.93. An operator's own setting wins.
        if config.storage_url.is_some() && !given.contains("queues.certificates.concurrency") {
            config.queues.certificates.concurrency = 8 * cores();
        }
        Ok(config)
    }

    /// The schedules, parsed (configuration was validated, so this cannot fail).
    pub fn schedule_specs(&self) -> Vec<crate::schedules::ScheduleSpec> {
        self.schedules
            .iter()
            .filter_map(|(name, c)| crate::schedules::ScheduleSpec::parse(name, c).ok())
            .collect()
    }

    /// The schedule `name`, parsed; `None` if there is none.
    pub fn schedule_spec(&self, name: &str) -> Option<crate::schedules::ScheduleSpec> {
        let config = self.schedules.get(name)?;
        crate::schedules::ScheduleSpec::parse(name, config).ok()
    }

    /// The defaults, then `toml`: what `load` reads from a file, without the environment.
    #[cfg(test)]
    pub(crate) fn from_toml_for_test(toml: &str) -> Result<Config, ConfigError> {
        Self::from_figment(
            Figment::from(Serialized::defaults(Config::default())).merge(Toml::string(toml)),
        )
    }

    fn from_figment(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            // figment names the key path and what it expected; never echo values (secrets).
            let key = e.path.join(".");
            let setting = if key.is_empty() {
                String::new()
            } else {
                format!(
                    "setting `{key}` (env QUIRE_{}): ",
                    key.replace('.', "__").to_ascii_uppercase()
                )
            };
            ConfigError(format!("{setting}{}", describe_figment_kind(&e.kind)))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot: schemes, ranges, contradictions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_connections()?;
        self.validate_queues()?;
        self.validate_limits()?;
        self.validate_maintenance()?;
        self.validate_webhooks()?;
        self.validate_workflows()?;
        self.validate_cdn()?;
        within(
            "dashboard.idle_timeout_secs",
            self.dashboard.idle_timeout_secs,
            60..=7 * 24 * 3600,
        )?;
        within(
            "dashboard.absolute_timeout_secs",
            self.dashboard.absolute_timeout_secs,
            self.dashboard.idle_timeout_secs..=30 * 24 * 3600,
        )?;
        within(
            "dashboard.max_sessions_per_key",
            self.dashboard.max_sessions_per_key.into(),
            1..=1000,
        )?;
        self.validate_secrets()?;
        self.validate_smtp()
    }

    /// The KEKs, when set, are keys.
    fn validate_secrets(&self) -> Result<(), ConfigError> {
        for (name, kek) in [
            ("secrets.kek", &self.secrets.kek),
            ("secrets.previous_kek", &self.secrets.previous_kek),
        ] {
            if let Some(kek) = kek
                && let Err(e) = crate::sealing::parse_kek(kek.expose())
            {
                return bad(name, &e);
            }
        }
        Ok(())
    }

    /// What a serving process needs beyond the settings' own checks: with PostgreSQL, a
    /// `secrets.kek` (`migrate` and `keys` touch no secret and run without one).
    pub fn check_serving(&self) -> Result<(), ConfigError> {
        if self.secrets.kek.is_none() && self.database_backend() == DatabaseBackend::Postgres {
            return Err(self.sealer().expect_err("no key with PostgreSQL"));
        }
        Ok(())
    }

    /// What seals stored secrets: `secrets.kek`; without it, the embedded deployment's own
    /// key file under `data_dir`. A PostgreSQL deployment without one is refused: its
    /// processes share no disk, and secrets would be stored in the clear.
    pub fn sealer(&self) -> Result<crate::sealing::Sealer, ConfigError> {
        let parse = |kek: &Option<Secret<String>>| {
            kek.as_ref()
                .map(|k| crate::sealing::parse_kek(k.expose()))
                .transpose()
        };
        let previous = parse(&self.secrets.previous_kek)
            .map_err(|e| ConfigError(format!("setting `secrets.previous_kek`: {e}")))?;
        match parse(&self.secrets.kek)
            .map_err(|e| ConfigError(format!("setting `secrets.kek`: {e}")))?
        {
            Some(kek) => Ok(crate::sealing::Sealer::new(&kek, previous.as_ref())),
            None if self.database_backend() == DatabaseBackend::Sqlite => {
                crate::sealing::Sealer::from_key_file(&self.data_dir, previous.as_ref())
                    .map_err(|e| ConfigError(format!("setting `secrets.kek` unset: {e}")))
            }
            None => Err(ConfigError(
                "setting `secrets.kek` (QUIRE_SECRETS__KEK): required with PostgreSQL, the \
                 key that seals the webhook secrets and the link-signing key stored in the \
                 database; make one with `openssl rand -base64 32` and give every process \
                 the same"
                    .into(),
            )),
        }
    }

    /// Database and Redis URLs, the namespace, the pool, the public base URL.
    fn validate_connections(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url {
            let url = url.expose();
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
            {
                return bad(
                    "database_url (DATABASE_URL)",
                    "must start with postgres://, postgresql:// or sqlite:",
                );
            }
        }
        if let Some(url) = &self.redis_url {
            let url = url.expose();
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return bad(
                    "redis_url (REDIS_URL)",
                    "must start with redis:// or rediss://",
                );
            }
        }
        self.validate_redis()?;
        if self.redis_namespace.is_empty()
            || !self
                .redis_namespace
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad(
                "redis_namespace",
                "must be non-empty and contain only letters, digits, '-' and '_'",
            );
        }
        self.validate_storage()?;
        if self.database_max_connections == 0 {
            return bad("database_max_connections", "must be at least 1");
        }
        if let Some(base) = &self.public_base_url
            && !(base.starts_with("http://") || base.starts_with("https://"))
        {
            return bad("public_base_url", "must start with http:// or https://");
        }
        Ok(())
    }

    /// Sentinel and Cluster settings: one or the other, each with a `redis_url`.
    fn validate_redis(&self) -> Result<(), ConfigError> {
        let r = &self.redis;
        let sentinels = r.sentinel_list();
        let seeds = r.cluster_node_list();
        if (!sentinels.is_empty() || r.cluster) && self.redis_url.is_none() {
            return bad(
                "redis_url (REDIS_URL)",
                "must be set with redis.sentinels or redis.cluster (it gives the scheme, user and password)",
            );
        }
        if !sentinels.is_empty() && r.cluster {
            return bad(
                "redis.cluster",
                "cannot be combined with redis.sentinels: a cluster fails over by itself",
            );
        }
        if !seeds.is_empty() && !r.cluster {
            return bad("redis.cluster_nodes", "needs redis.cluster = true");
        }
        for (name, list) in [
            ("redis.sentinels", &sentinels),
            ("redis.cluster_nodes", &seeds),
        ] {
            if let Some(bad_entry) = list.iter().find(|e| !is_host_port(e)) {
                return bad(
                    name,
                    &format!("`{bad_entry}` is not host:port (comma-separated host:port entries)"),
                );
            }
        }
        if !sentinels.is_empty() && r.sentinel_master.trim().is_empty() {
            return bad("redis.sentinel_master", "must name the monitored master");
        }
        if let Some(ca) = &r.tls_ca_file
            && !ca.is_file()
        {
            return bad(
                "redis.tls_ca_file",
                &format!("{} is not a readable file", ca.display()),
            );
        }
        Ok(())
    }

    /// The object storage URL and its S3 settings.
    fn validate_storage(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.storage_url
            && crate::storage::S3Location::parse(url).is_none()
        {
            return bad(
                "storage_url (QUIRE_STORAGE_URL)",
                "must be s3://bucket or s3://bucket/prefix (bucket: 3-63 lowercase letters, digits, '.' and '-')",
            );
        }
        if let Some(endpoint) = &self.s3.endpoint {
            if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                return bad("s3.endpoint", "must start with https:// or http://");
            }
            if endpoint.starts_with("http://") && !self.s3.allow_http {
                return bad(
                    "s3.endpoint",
                    "is http:// but s3.allow_http is false (set it to true to permit plain HTTP)",
                );
            }
        }
        if self.s3.secret_access_key.is_some() != self.s3.access_key_id.is_some() {
            return bad(
                "s3.access_key_id",
                "and s3.secret_access_key must be set together",
            );
        }
        within("s3.timeout_secs", self.s3.timeout_secs, 1..=600)?;
        within(
            "s3.presign_downloads_secs",
            self.s3.presign_downloads_secs,
            0..=7 * 24 * 60 * 60,
        )
    }

    /// Each queue's concurrency, attempts and timeout; the retry backoff.
    fn validate_queues(&self) -> Result<(), ConfigError> {
        for queue in QueueName::ALL {
            let q = self.queues.get(queue);
            let name = format!("queues.{queue}");
            within(
                &format!("{name}.concurrency"),
                q.concurrency as u64,
                1..=1024,
            )?;
            within(
                &format!("{name}.max_attempts"),
                q.max_attempts.into(),
                1..=100,
            )?;
            if q.timeout_secs == 0 {
                return bad(&format!("{name}.timeout_secs"), "must be at least 1");
            }
        }
        if self.retry.base_ms == 0 || self.retry.max_secs == 0 {
            return bad("retry", "base_ms and max_secs must be at least 1");
        }
        Ok(())
    }

    /// Webhook timeouts, backoff and allowed networks.
    fn validate_workflows(&self) -> Result<(), ConfigError> {
        let w = &self.workflows;
        within("workflows.max_steps", w.max_steps as u64, 1..=100_000)?;
        within(
            "workflows.max_named_steps",
            w.max_named_steps as u64,
            1..=10_000,
        )?;
        within("workflows.max_depth", w.max_depth as u64, 1..=256)?;
        within(
            "workflows.max_merge_parts",
            w.max_merge_parts as u64,
            1..=100_000,
        )
    }

    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        let w = &self.webhooks;
        within("webhooks.timeout_secs", w.timeout_secs, 1..=60)?;
        within("webhooks.pump_interval_ms", w.pump_interval_ms, 10..=60_000)?;
        within(
            "webhooks.events_retention_hours",
            w.events_retention_hours,
            1..=24 * 366,
        )?;
        if w.retry.base_ms == 0 || w.retry.max_secs == 0 {
            return bad("webhooks.retry", "base_ms and max_secs must be at least 1");
        }
        if let Err(e) = crate::webhooks::Networks::parse(&w.allow_networks) {
            return bad("webhooks.allow_networks", &e);
        }
        if let Err(e) = crate::webhooks::parse_ports(&w.allowed_ports) {
            return bad("webhooks.allowed_ports", &e);
        }
        if let Err(e) = crate::resolver::parse_nameservers(&w.nameservers) {
            return bad("webhooks.nameservers", &e);
        }
        within(
            "webhooks.lookup_timeout_ms",
            w.lookup_timeout_ms,
            100..=60_000,
        )?;
        within("webhooks.max_lookups", w.max_lookups, 1..=10_000)?;
        Ok(())
    }

    /// What bounds a request: body, images, report sizes, names, times.
    fn validate_limits(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        for (name, value) in [
            ("max_report_rows", l.max_report_rows as u64),
            ("max_report_sections", l.max_report_sections as u64),
            ("max_report_images", l.max_report_images as u64),
            ("max_report_image_bytes", l.max_report_image_bytes as u64),
            ("max_email_attachment_bytes", l.max_email_attachment_bytes),
        ] {
            if value == 0 {
                return bad(&format!("limits.{name}"), "must be at least 1");
            }
        }
        if l.max_body_bytes < 1024 {
            return bad("limits.max_body_bytes", "must be at least 1024");
        }
        if l.max_json_body_bytes < 1024 || l.max_json_body_bytes > l.max_body_bytes {
            return bad(
                "limits.max_json_body_bytes",
                "must be at least 1024 and not more than limits.max_body_bytes",
            );
        }
        within(
            "rate_limit.window_secs",
            self.rate_limit.window_secs,
            1..=3600,
        )?;
        within("rate_limit.per_key", self.rate_limit.per_key, 0..=1_000_000)?;
        within(
            "rate_limit.public_per_address",
            self.rate_limit.public_per_address,
            0..=1_000_000,
        )?;
        if l.max_image_bytes == 0 || l.max_image_bytes > l.max_body_bytes {
            return bad(
                "limits.max_image_bytes",
                "must be at least 1 and not more than limits.max_body_bytes",
            );
        }
        within(
            "limits.max_image_pixels",
            l.max_image_pixels,
            1..=1_000_000_000,
        )?;
        within(
            "limits.max_image_side",
            l.max_image_side as u64,
            1..=100_000,
        )?;
        within(
            "limits.max_report_text_bytes",
            l.max_report_text_bytes as u64,
            1..=64 * 1024 * 1024,
        )?;
        within(
            "limits.max_concurrent_decodes",
            l.max_concurrent_decodes as u64,
            1..=1024,
        )?;
        within(
            "limits.max_checks_per_key",
            l.max_checks_per_key as u64,
            1..=1024,
        )?;
        within(
            "limits.max_waiting_checks",
            l.max_waiting_checks as u64,
            0..=100_000,
        )?;
        within(
            "limits.request_timeout_secs",
            l.request_timeout_secs,
            1..=3600,
        )?;
        within(
            "limits.header_read_timeout_secs",
            l.header_read_timeout_secs,
            1..=600,
        )?;
        within("limits.max_name_chars", l.max_name_chars as u64, 1..=10_000)?;
        self.validate_long_lived()
    }

    /// The caps on requests that stay open: streams, long-polls, archives, and writes.
    fn validate_long_lived(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        within("limits.write_timeout_secs", l.write_timeout_secs, 1..=3600)?;
        within(
            "limits.max_event_stream_secs",
            l.max_event_stream_secs,
            1..=7 * 24 * 3600,
        )?;
        for (process, per_key, process_max, per_key_max) in [
            (
                "max_event_streams",
                "max_event_streams_per_key",
                l.max_event_streams,
                l.max_event_streams_per_key,
            ),
            (
                "max_long_polls",
                "max_long_polls_per_key",
                l.max_long_polls,
                l.max_long_polls_per_key,
            ),
            (
                "max_archive_downloads",
                "max_archive_downloads_per_key",
                l.max_archive_downloads,
                l.max_archive_downloads_per_key,
            ),
        ] {
            within(
                &format!("limits.{process}"),
                process_max as u64,
                1..=100_000,
            )?;
            within(
                &format!("limits.{per_key}"),
                per_key_max as u64,
                1..=process_max as u64,
            )?;
        }
        Ok(())
    }

    fn validate_cdn(&self) -> Result<(), ConfigError> {
        let cdn = &self.cdn;
        if let Some(raw) = &cdn.purge_url {
            // Named by its scheme and host only: a purge URL may carry credentials.
            let parsed = url::Url::parse(raw).map_err(|_| {
                ConfigError(format!(
                    "setting `cdn.purge_url`: `{}` is not a URL",
                    crate::webhooks::redact_url(raw)
                ))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return bad(
                    "cdn.purge_url",
                    "must be an http:// or https:// URL with a host",
                );
            }
        }
        within("cdn.max_age_secs", cdn.max_age_secs, 1..=7 * 24 * 3600)?;
        within("cdn.max_attempts", cdn.max_attempts.into(), 1..=100)?;
        within("cdn.timeout_secs", cdn.timeout_secs, 1..=60)
    }

    /// The sandbox, rescue, schedules, cleanup and health checks.
    fn validate_maintenance(&self) -> Result<(), ConfigError> {
        let sandbox = &self.sandbox;
        within("sandbox.timeout_ms", sandbox.timeout_ms, 100..=120_000)?;
        within("sandbox.memory_mb", sandbox.memory_mb, 128..=16_384)?;
        within("sandbox.max_children", sandbox.max_children as u64, 1..=256)?;
        within("sandbox.max_output_mb", sandbox.max_output_mb, 1..=1024)?;
        if self.rescue.lease_secs < 5 {
            return bad("rescue.lease_secs", "must be at least 5");
        }
        within("rescue.interval_ms", self.rescue.interval_ms, 50..=60_000)?;
        for (name, schedule) in &self.schedules {
            if let Err(e) = crate::schedules::ScheduleSpec::parse(name, schedule) {
                return bad(&format!("schedules.{name}.{}", e.field), &e.message);
            }
        }
        within(
            "cleanup.batch_size",
            self.cleanup.batch_size.into(),
            1..=10_000,
        )?;
        if self.cleanup.max_per_run < self.cleanup.batch_size {
            return bad("cleanup.max_per_run", "must be at least cleanup.batch_size");
        }
        if self.health.stale_after_secs == 0 {
            return bad("health.stale_after_secs", "must be at least 1");
        }
        within(
            "health.stall_after_secs",
            self.health.stall_after_secs,
            3..=3600,
        )?;
        Ok(())
    }

    fn validate_smtp(&self) -> Result<(), ConfigError> {
        let smtp = &self.smtp;
        if let Some(host) = &smtp.host
            && (host.trim().is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/'))
        {
            return bad(
                "smtp.host",
                "must be a host name or IP address (no scheme, path or spaces); unset it to write mail to DATA_DIR/mail",
            );
        }
        if smtp.port == 0 {
            return bad("smtp.port", "must be between 1 and 65535");
        }
        if smtp.password.is_some() && smtp.username.is_none() {
            return bad("smtp.password", "is set but smtp.username is not");
        }
        if smtp.username.as_deref().is_some_and(str::is_empty) {
            return bad("smtp.username", "must not be empty when set");
        }
        if !is_plain_address(&smtp.from) {
            return bad(
                "smtp.from",
                "must be one email address such as quire@example.com (no display name, spaces or line breaks)",
            );
        }
        if !(1..=600).contains(&smtp.timeout_secs) {
            return bad("smtp.timeout_secs", "must be between 1 and 600");
        }
        Ok(())
    }

    /// Where the file transport writes `.eml` files when no SMTP host is set.
    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    /// What the database pool needs: URL, backend, size, and the data directory to create
    /// first when the embedded default database file lives there.
    pub fn db_settings(&self) -> crate::db::DbSettings {
        let backend = self.database_backend();
        crate::db::DbSettings {
            url: plaintext_on_loopback(self.database_url()),
            backend,
            max_connections: self.database_max_connections,
            create_dir: (backend == DatabaseBackend::Sqlite && self.database_url.is_none())
                .then(|| self.data_dir.clone()),
        }
    }

    pub fn database_backend(&self) -> DatabaseBackend {
        match &self.database_url {
            Some(url) if !url.expose().starts_with("sqlite:") => DatabaseBackend::Postgres,
            _ => DatabaseBackend::Sqlite,
        }
    }

    /// Where webhook and callback deliveries may go (`webhooks.allow_http`,
    /// `webhooks.allow_networks`, `webhooks.allowed_ports`); checked at start.
    pub fn target_policy(&self) -> Result<crate::webhooks::TargetPolicy, String> {
        let w = &self.webhooks;
        crate::webhooks::TargetPolicy::new(w.allow_http, &w.allow_networks, &w.allowed_ports)
    }

    /// How targets' names are looked up (`webhooks.nameservers`, `webhooks.lookup_timeout_ms`,
    /// `webhooks.max_lookups`); checked at start.
    pub fn lookup_settings(&self) -> crate::resolver::LookupSettings {
        let w = &self.webhooks;
        crate::resolver::LookupSettings {
            nameservers: crate::resolver::parse_nameservers(&w.nameservers).unwrap_or_default(),
            timeout: Duration::from_millis(w.lookup_timeout_ms),
            max_lookups: w.max_lookups as usize,
        }
    }

    /// CDN purging, when `cdn.purge_url` is set.
    pub fn purging(&self) -> Option<crate::cdn::Purging> {
        self.cdn.purge_url.as_ref().map(|_| crate::cdn::Purging {
            max_attempts: self.cdn.max_attempts,
        })
    }

    /// The database URL to connect to, with the embedded default filled in.
    pub fn database_url(&self) -> Secret<String> {
        match &self.database_url {
            Some(url) => url.clone(),
            None => Secret::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("app.db").display()
            )),
        }
    }

    pub fn public_base_url(&self) -> String {
        self.public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
            .trim_end_matches('/')
            .to_owned()
    }

    /// How bounded renders run. Without `sandbox.program`, the child is this process's own
    /// executable (the `quire` binary; test binaries must set the program).
    pub fn sandbox_limits(&self) -> SandboxLimits {
        let program = self.sandbox.program.clone().unwrap_or_else(|| {
            std::env::current_exe()
                .ok()
                .or_else(|| std::env::args_os().next().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("quire"))
        });
        SandboxLimits {
            program,
            timeout: Duration::from_millis(self.sandbox.timeout_ms),
            memory_bytes: self.sandbox.memory_mb * 1024 * 1024,
            max_children: self.sandbox.max_children,
            max_output_bytes: (self.sandbox.max_output_mb * 1024 * 1024) as usize,
        }
    }

    pub fn outputs_dir(&self) -> PathBuf {
        self.data_dir.join("outputs")
    }

    /// Human-readable summary for the start-up log line; contains no secrets.
    pub fn describe(&self) -> String {
        format!(
            "database={} queue={} storage={} data_dir={}",
            match self.database_backend() {
                DatabaseBackend::Sqlite => "sqlite",
                DatabaseBackend::Postgres => "postgres",
            },
            match (&self.redis_url, &self.redis) {
                (None, _) => "sqlite",
                (Some(_), r) if r.cluster => "redis-cluster",
                (Some(_), r) if !r.sentinel_list().is_empty() => "redis-sentinel",
                (Some(_), _) => "redis",
            },
            self.storage_url.as_deref().unwrap_or("local"),
            self.data_dir.display()
        )
    }
}

/// `host:port` with a non-empty host and a port number.
fn is_host_port(entry: &str) -> bool {
    entry
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
}

/// Environment keys (already split on `__` into `.`) are lowercased; in a schedule's name `_`
/// stands for `-`, which variable names cannot hold: `QUIRE_SCHEDULES__DB_MAINTENANCE__CRON`
/// sets `schedules.db-maintenance.cron`.
fn env_key(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    match key.strip_prefix("schedules.") {
        Some(rest) => {
            let (name, field) = rest.split_once('.').unwrap_or((rest, ""));
            let name = name.replace('_', "-");
            if field.is_empty() {
                format!("schedules.{name}")
            } else {
                format!("schedules.{name}.{field}")
            }
        }
        None => key,
    }
}

/// `local@domain` with nothing that could break a header: a sanity check, not RFC 5321.
fn is_plain_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && s.chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | ';' | '"'))
}

fn describe_figment_kind(kind: &figment::error::Kind) -> String {
    use figment::error::Kind;
    match kind {
        Kind::InvalidType(actual, expected) => format!("expected {expected}, found {actual}"),
        Kind::InvalidValue(actual, expected) => format!("expected {expected}, found {actual}"),
        Kind::UnknownVariant(_, expected) => format!("accepted values: {}", expected.join(", ")),
        Kind::UnknownField(field, _) => format!("unknown setting `{field}`"),
        Kind::MissingField(field) => format!("missing setting `{field}`"),
        other => other.to_string(),
    }
}

/// A PostgreSQL URL to a server on this host (`127.0.0.1`, `::1`, `localhost`) without an
/// `sslmode` gets `sslmode=disable`: TLS on loopback protects nothing and costs every message
/// an encryption on both ends (libpq's default, `prefer`, uses it whenever the server offers
/// it, as Debian's does). A `sslmode` given in the URL is kept, and other hosts are left alone.
fn plaintext_on_loopback(url: Secret<String>) -> Secret<String> {
    let raw = url.expose();
    let Ok(parsed) = url::Url::parse(raw) else {
        return url;
    };
    let postgres = matches!(parsed.scheme(), "postgres" | "postgresql");
    let loopback = matches!(
        parsed.host_str(),
        Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
    );
    if !postgres || !loopback || parsed.query_pairs().any(|(k, _)| k == "sslmode") {
        return url;
    }
    let separator = if parsed.query().is_some() { '&' } else { '?' };
    Secret::new(format!("{raw}{separator}sslmode=disable"))
}

#[cfg(test)]
mod tests {

    #[test]
    fn loopback_postgres_urls_go_without_tls_unless_asked() {
        let of = |u: &str| {
            plaintext_on_loopback(Secret::new(u.to_owned()))
                .expose()
                .clone()
        };
        assert_eq!(
            of("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
        );
        assert_eq!(
            of("postgresql://u:p@localhost/db?application_name=x"),
            "postgresql://u:p@localhost/db?application_name=x&sslmode=disable"
        );
        assert_eq!(
            of("postgres://[::1]/db"),
            "postgres://[::1]/db?sslmode=disable"
        );
        // Asked for, or another host: as given.
        assert_eq!(
            of("postgres://127.0.0.1/db?sslmode=require"),
            "postgres://127.0.0.1/db?sslmode=require"
        );
        assert_eq!(of("postgres://db.internal/db"), "postgres://db.internal/db");
        assert_eq!(of("sqlite:///tmp/app.db"), "sqlite:///tmp/app.db");
    }
    use super::*;

    fn load(toml: &str) -> Result<Config, ConfigError> {
        Config::from_toml_for_test(toml)
    }

    #[test]
    fn object_storage_raises_the_certificates_in_flight_unless_set() {
        // Not `load`: the test process's own QUIRE_TEST_* variables are not settings.
        let given = |toml: &str| Config::from_given(Figment::from(Toml::string(toml))).unwrap();
        let c = given("storage_url = 's3://bucket/p'");
        assert_eq!(c.queues.certificates.concurrency, 8 * cores());
        let c = given("storage_url = 's3://bucket/p'\n[queues.certificates]\nconcurrency = 3");
        assert_eq!(c.queues.certificates.concurrency, 3);
        assert_eq!(given("").queues.certificates.concurrency, 2 * cores());
    }

    #[test]
    fn defaults_are_the_embedded_deployment() {
        let c = load("").unwrap();
        assert_eq!(c.database_backend(), DatabaseBackend::Sqlite);
        assert!(c.redis_url.is_none());
        assert!(c.database_url().expose().ends_with("app.db?mode=rwc"));
    }

    #[test]
    fn sentinel_and_cluster_settings_are_checked() {
        let c = load(
            "redis_url = 'redis://:pw@mymaster'\n[redis]\n\
             sentinels = '10.0.0.5:26379, 10.0.0.6:26379'\nsentinel_master = 'main'",
        )
        .unwrap();
        assert_eq!(
            c.redis.sentinel_list(),
            ["10.0.0.5:26379", "10.0.0.6:26379"]
        );
        assert!(c.describe().contains("queue=redis-sentinel"));
        let c = load(
            "redis_url = 'redis://n1:7000'\n[redis]\ncluster = true\ncluster_nodes = 'n2:7000'",
        )
        .unwrap();
        assert!(c.describe().contains("queue=redis-cluster"));
        for (toml, names) in [
            ("[redis]\nsentinels = 'h:26379'", "redis_url"),
            ("[redis]\ncluster = true", "redis_url"),
            (
                "redis_url = 'redis://h'\n[redis]\nsentinels = 'h:1'\ncluster = true",
                "redis.cluster",
            ),
            (
                "redis_url = 'redis://h'\n[redis]\ncluster_nodes = 'h:1'",
                "redis.cluster_nodes",
            ),
            (
                "redis_url = 'redis://h'\n[redis]\nsentinels = 'h'",
                "redis.sentinels",
            ),
            (
                "redis_url = 'redis://h'\n[redis]\ntls_ca_file = '/no/such/ca.pem'",
                "redis.tls_ca_file",
            ),
        ] {
            let e = load(toml).unwrap_err().to_string();
            assert!(e.contains(names), "{toml}: {e}");
        }
    }

    #[test]
    fn postgres_url_selects_postgres() {
        let c = load("database_url = 'postgres://u:pw@h/db'").unwrap();
        assert_eq!(c.database_backend(), DatabaseBackend::Postgres);
    }

    #[test]
    fn postgres_needs_a_key_encryption_key_to_serve() {
        let c = load("database_url = 'postgres://u:pw@h/db'").unwrap();
        let e = c.check_serving().unwrap_err().to_string();
        assert!(e.contains("secrets.kek"), "{e}");
        let kek = "cXVpcmUtdGVzdC1rZXktZW5jcnlwdGlvbi1rZXkhISE=";
        let c = load(&format!(
            "database_url = 'postgres://u:pw@h/db'\n[secrets]\nkek = '{kek}'"
        ))
        .unwrap();
        assert!(c.check_serving().is_ok());
        assert!(c.sealer().is_ok());
        // A key that is not one is refused at start, without showing it.
        let e = load("[secrets]\nkek = 'tooshort-s3cr3t'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("secrets.kek") && !e.contains("s3cr3t"), "{e}");
        // Embedded: no key needed to serve.
        assert!(load("").unwrap().check_serving().is_ok());
    }

    #[test]
    fn bad_settings_name_the_setting_and_hide_secrets() {
        let e = load("database_url = 'mysql://u:hunter2@h/db'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("database_url"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        let e = load("log_format = 'xml'").unwrap_err().to_string();
        assert!(e.contains("log_format") && e.contains("text"), "{e}");
        let e = load("[queues.certificates]\nconcurrency = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("queues.certificates.concurrency"), "{e}");
        let e = load("bind = 'not an address'").unwrap_err().to_string();
        assert!(e.contains("bind"), "{e}");
        let e = load("colour = 'blue'").unwrap_err().to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn image_limits_have_defaults_and_bounds() {
        let c = load("").unwrap();
        assert_eq!(c.limits.max_image_pixels, 4_000_000);
        assert_eq!(c.limits.max_image_side, 4_000);
        let e = load("[limits]\nmax_image_pixels = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("limits.max_image_pixels"), "{e}");
        let e = load("[limits]\nmax_image_side = 0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("limits.max_image_side"), "{e}");
    }

    #[test]
    fn sandbox_settings_have_defaults_and_bounds() {
        let c = load("").unwrap();
        let limits = c.sandbox_limits();
        assert_eq!(limits.timeout, Duration::from_secs(10));
        assert_eq!(limits.memory_bytes, 1024 * 1024 * 1024);
        assert_eq!(limits.program, std::env::current_exe().unwrap());
        let c = load("[sandbox]\nprogram = '/usr/bin/quire'\nmemory_mb = 512").unwrap();
        assert_eq!(c.sandbox_limits().program, PathBuf::from("/usr/bin/quire"));
        assert_eq!(c.sandbox_limits().memory_bytes, 512 * 1024 * 1024);
        let e = load("[sandbox]\ntimeout_ms = 50").unwrap_err().to_string();
        assert!(e.contains("sandbox.timeout_ms"), "{e}");
        let e = load("[sandbox]\nmemory_mb = 64").unwrap_err().to_string();
        assert!(e.contains("sandbox.memory_mb"), "{e}");
    }

    #[test]
    fn cdn_purging_is_off_unless_a_purge_url_is_set() {
        let c = load("").unwrap();
        assert_eq!(c.purging(), None);
        let c = load(
            "[cdn]\npurge_url = 'https://api.example/purge'\nstyle = 'surrogate-key-api'\n\
             token = 'cdn-secret'\nmax_attempts = 5",
        )
        .unwrap();
        assert_eq!(c.purging().unwrap().max_attempts, 5);
        assert_eq!(c.cdn.style, PurgeStyle::SurrogateKeyApi);
        assert!(!format!("{:?}", c.cdn).contains("cdn-secret"));
        // A bad URL is named by its setting, never echoed whole (it may carry credentials).
        let e = load("[cdn]\npurge_url = 'ftp://user:pw@cdn.example/'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cdn.purge_url") && !e.contains("pw"), "{e}");
        let e = load("[cdn]\npurge_url = 'not a url'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cdn.purge_url"), "{e}");
        let e = load("[cdn]\nstyle = 'akamai'").unwrap_err().to_string();
        assert!(e.contains("cdn.style") && e.contains("varnish-ban"), "{e}");
        let e = load("[cdn]\nmax_attempts = 0").unwrap_err().to_string();
        assert!(e.contains("cdn.max_attempts"), "{e}");
    }

    #[test]
    fn email_limits_have_defaults_and_can_be_lifted() {
        let c = load("").unwrap();
        assert_eq!(
            (c.email.quota_per_hour, c.email.quota_per_day),
            (1_000, 10_000)
        );
        assert!(!c.email.generic_for_all);
        let c = load("[email]\nquota_per_hour = 0\ngeneric_for_all = true").unwrap();
        assert_eq!(c.email.quota_per_hour, 0);
        assert!(c.email.generic_for_all);
        let e = load("[email]\nquota_per_hour = -1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("email.quota_per_hour"), "{e}");
    }

    #[test]
    fn smtp_settings_have_defaults_and_checks() {
        let c = load("").unwrap();
        assert!(c.smtp.host.is_none());
        assert_eq!(c.smtp.port, 587);
        assert_eq!(c.smtp.tls, SmtpTls::Starttls);
        assert_eq!(c.smtp.from, "quire@localhost");
        assert_eq!(c.smtp.timeout_secs, 30);
        assert!(c.mail_dir().ends_with("mail"));
        let c = load(
            "[smtp]\nhost = 'mail.example.com'\nport = 465\ntls = 'tls'\nusername = 'u'\npassword = 'hunter2'",
        )
        .unwrap();
        assert_eq!(c.smtp.tls, SmtpTls::Tls);
        assert_eq!(c.smtp.password.unwrap().expose(), "hunter2");
        let e = load("[smtp]\ntls = 'ssl'").unwrap_err().to_string();
        assert!(e.contains("smtp.tls") && e.contains("starttls"), "{e}");
        let e = load("[smtp]\nport = 0").unwrap_err().to_string();
        assert!(e.contains("smtp.port"), "{e}");
        let e = load("[smtp]\nhost = 'smtp://x'").unwrap_err().to_string();
        assert!(e.contains("smtp.host"), "{e}");
        let e = load("[smtp]\npassword = 'hunter2'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("smtp.password") && !e.contains("hunter2"), "{e}");
        let e = load("[smtp]\nfrom = 'Quire <q@x.org>'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("smtp.from"), "{e}");
        let e = load("[smtp]\nfrom = \"q@x.org\\r\\nBcc: a@b.c\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("smtp.from"), "{e}");
        let e = load("[smtp]\ntimeout_secs = 0").unwrap_err().to_string();
        assert!(e.contains("smtp.timeout_secs"), "{e}");
    }

    #[test]
    fn schedules_have_defaults_overrides_and_checks() {
        let c = load("").unwrap();
        let names: Vec<&str> = c.schedules.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["cache-warm", "cleanup", "db-maintenance", "health",]
        );
        assert_eq!(c.schedule_specs().len(), 4);
        // Change one field of a built-in; add a schedule with only what is required.
        let c = load(
            "[schedules.cleanup]\nenabled = false\n[schedules.hourly-health]\ntask = 'health'\ncron = '0 0 * * * *'\ntimezone = 'Europe/Berlin'",
        )
        .unwrap();
        assert!(!c.schedules["cleanup"].enabled);
        assert_eq!(c.schedules["cleanup"].cron, "0 17 3 * * *");
        assert_eq!(c.schedules["hourly-health"].missed, MissedTicks::Skip);
        let e = load("[schedules.health]\ncron = 'every minute'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("schedules.health.cron"), "{e}");
        // Rescue is the scheduler's own loop, not a schedule: an old setting says where it went.
        let e = load("[schedules.rescue]\ncron = '* * * * * *'")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("schedules.rescue.task") && e.contains("rescue.interval_ms"),
            "{e}"
        );
        let e = load("[schedules.nightly]\ncron = '0 0 3 * * *'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("schedules.nightly.task"), "{e}");
        let e = load("[schedules.health]\ntimezone = 'Mars/Base'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("schedules.health.timezone"), "{e}");
        let e = load("[schedules.health]\nmissed = 'sometimes'")
            .unwrap_err()
            .to_string();
        assert!(e.contains("run-once"), "{e}");
    }

    #[test]
    fn schedule_names_in_environment_variables_use_underscores() {
        assert_eq!(
            env_key("SCHEDULES.DB_MAINTENANCE.CRON"),
            "schedules.db-maintenance.cron"
        );
        assert_eq!(env_key("SCHEDULES.EVERY_SECOND"), "schedules.every-second");
        assert_eq!(env_key("RESCUE.LEASE_SECS"), "rescue.lease_secs");
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
    }
}
