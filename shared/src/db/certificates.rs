//! The certificate registry and batches. A certificate row is written in the same transaction
//! as its job row; its status derives from the job's status and the row's revocation and
//! expiry, in SQL, so a listing is one indexed query whatever the filters.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::email::{EmailCharge, OverQuota, charge_inserted};
use super::idempotency::{KeyHolder, holder_of, release_expired};
use super::jobs::{
    COLUMNS as JOB_COLUMNS, InsertOutcome, JobRow, NewJob, fair_base, insert_job_in, vtime_sql,
};
use super::pool::DatabaseBackend;
use super::pool::{Db, DbError, placeholders, values};
use super::purges::insert_purge_in;
use crate::cdn::Purging;
use crate::domain::{CalendarDate, JobId, JobStatus, Timestamp};

/// The registry entry written with a certificate job.
#[derive(Debug, Clone)]
pub struct NewCertificate {
    pub template_id: String,
    pub template_version: i64,
    pub template_name: String,
    pub verification_code: String,
    pub recipient_name: String,
    pub course_name: String,
    pub issuer_name: Option<String>,
    pub issued_on: CalendarDate,
    pub expires_on: Option<CalendarDate>,
    pub is_public: bool,
}

/// A certificate's status as verifiers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateStatus {
    /// Not rendered yet (queued, running or waiting for a retry).
    Pending,
    Valid,
    Expired,
    Revoked,
    /// Rendering failed for good.
    Failed,
    Cancelled,
}

impl CertificateStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Valid,
        Self::Expired,
        Self::Revoked,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Valid => "valid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The SQL condition for this status, from [`RULES`]; `today` is the placeholder the
    /// caller binds today's date to.
    fn condition(self, today: &str) -> String {
        let rule = RULES
            .iter()
            .find(|r| r.status == self)
            .expect("every status has a rule");
        let mut parts = vec![if rule.revoked {
            "c.revoked_at IS NOT NULL".to_owned()
        } else {
            "c.revoked_at IS NULL".to_owned()
        }];
        if let Some(jobs) = rule.jobs {
            let list: Vec<_> = jobs.iter().map(|s| format!("'{}'", s.as_str())).collect();
            parts.push(format!("j.status IN ({})", list.join(", ")));
        }
        match rule.expiry {
            Expiry::Any => {}
            Expiry::Current => {
                parts.push(format!("(c.expires_on IS NULL OR c.expires_on >= {today})"))
            }
            Expiry::Passed => parts.push(format!("c.expires_on < {today}")),
        }
        parts.join(" AND ")
    }
}

/// What a rule asks of `expires_on` against today.
#[derive(Debug, Clone, Copy)]
enum Expiry {
    Any,
    /// None, or not before today.
    Current,
    /// Before today.
    Passed,
}

/// One status's condition on a registry row and its job.
struct Rule {
    status: CertificateStatus,
    revoked: bool,
    /// The job statuses it covers; `None`: any.
    jobs: Option<&'static [JobStatus]>,
    expiry: Expiry,
}

/// The certificate status rule, stated once: [`CertificateRow::status`] reads it in Rust and
/// [`CertificateStatus::condition`] turns it into SQL for listings. Exactly one rule holds for
/// any row: a revoked certificate is revoked whatever its job did; otherwise its job's status
/// decides, and a rendered certificate whose `expires_on` is before today has expired.
const RULES: [Rule; 6] = [
    Rule {
        status: CertificateStatus::Revoked,
        revoked: true,
        jobs: None,
        expiry: Expiry::Any,
    },
    Rule {
        status: CertificateStatus::Pending,
        revoked: false,
        jobs: Some(&[
            JobStatus::Scheduled,
            JobStatus::Waiting,
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Failed,
        ]),
        expiry: Expiry::Any,
    },
    Rule {
        status: CertificateStatus::Valid,
        revoked: false,
        jobs: Some(&[JobStatus::Succeeded]),
        expiry: Expiry::Current,
    },
    Rule {
        status: CertificateStatus::Expired,
        revoked: false,
        jobs: Some(&[JobStatus::Succeeded]),
        expiry: Expiry::Passed,
    },
    Rule {
        status: CertificateStatus::Failed,
        revoked: false,
        jobs: Some(&[JobStatus::Dead]),
        expiry: Expiry::Any,
    },
    Rule {
        status: CertificateStatus::Cancelled,
        revoked: false,
        jobs: Some(&[JobStatus::Cancelled]),
        expiry: Expiry::Any,
    },
];

impl Rule {
    fn holds(&self, row: &CertificateRow, today: CalendarDate) -> bool {
        self.revoked == row.revoked_at.is_some()
            && self.jobs.is_none_or(|jobs| jobs.contains(&row.job_status))
            && match self.expiry {
                Expiry::Any => true,
                Expiry::Current => row.expires_on.is_none_or(|until| until >= today),
                Expiry::Passed => row.expires_on.is_some_and(|until| until < today),
            }
    }
}

impl std::str::FromStr for CertificateStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                let all: Vec<_> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("must be one of {}", all.join(", "))
            })
    }
}

/// A registry entry with what the job produced.
#[derive(Debug, Clone)]
pub struct CertificateRow {
    pub job_id: JobId,
    pub owner_id: String,
    pub template_id: String,
    pub template_version: i64,
    pub template_name: String,
    pub batch_id: Option<String>,
    pub verification_code: String,
    pub recipient_name: String,
    pub course_name: String,
    pub issuer_name: Option<String>,
    pub issued_on: CalendarDate,
    pub expires_on: Option<CalendarDate>,
    pub is_public: bool,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    pub created_at: i64,
    pub job_status: JobStatus,
    /// The job's result: `file`, `bytes`, `sha256`, `pages` once it succeeded.
    pub result: Option<serde_json::Value>,
    pub finished_at: Option<i64>,
    /// Its entry in the revocation status lists (`credentials.rs`), once its credential was
    /// first served.
    pub status_index: Option<i64>,
}

impl CertificateRow {
    /// The status on `today`, by [`RULES`].
    pub fn status(&self, today: CalendarDate) -> CertificateStatus {
        RULES
            .iter()
            .find(|rule| rule.holds(self, today))
            .map_or(CertificateStatus::Pending, |rule| rule.status)
    }

    pub fn sha256(&self) -> Option<&str> {
        self.result.as_ref()?.get("sha256")?.as_str()
    }

    pub fn file(&self) -> Option<&str> {
        self.result.as_ref()?.get("file")?.as_str()
    }

    /// Who signed the issued PDF (its signer certificate's subject), when it is signed.
    pub fn signer(&self) -> Option<&str> {
        self.result
            .as_ref()?
            .get("signature")?
            .get("signer")?
            .as_str()
    }
}

/// One certificate with its job's outcome, or the one kept when an operator deleted the job
/// (`Db::delete_jobs_by`): a certificate's verification, its page and its revocation never
/// depend on its job row still existing. Listings join their jobs (`list_sql`): a deleted
/// job's certificate leaves them, and their plans stay index scans.
const ONE: &str = "certificates c LEFT JOIN jobs j ON j.id = c.job_id";

const COLUMNS: &str = "c.job_id, c.owner_id, c.template_id, c.template_version, c.template_name, \
     c.batch_id, c.verification_code, c.recipient_name, c.course_name, c.issuer_name, \
     c.issued_on, c.expires_on, c.is_public, c.revoked_at, c.revoked_reason, c.created_at, \
     COALESCE(j.status, c.kept_status) AS job_status, COALESCE(j.result, c.kept_result) AS result, \
     COALESCE(j.finished_at, c.kept_finished_at) AS finished_at, c.status_index";

fn certificate(row: &AnyRow) -> Result<CertificateRow, DbError> {
    let corrupt = |what: &str, e: &dyn std::fmt::Display| {
        DbError::Corrupt(format!("certificate {what}: {e}"))
    };
    let text = |n: &str| row.try_get::<String, _>(n).map_err(|e| corrupt(n, &e));
    let opt_text = |n: &str| {
        row.try_get::<Option<String>, _>(n)
            .map_err(|e| corrupt(n, &e))
    };
    let int = |n: &str| row.try_get::<i64, _>(n).map_err(|e| corrupt(n, &e));
    let opt_int = |n: &str| row.try_get::<Option<i64>, _>(n).map_err(|e| corrupt(n, &e));
    let date = |n: &str| text(n)?.parse::<CalendarDate>().map_err(|e| corrupt(n, &e));
    let opt_date = |n: &str| {
        opt_text(n)?
            .map(|d| d.parse::<CalendarDate>())
            .transpose()
            .map_err(|e| corrupt(n, &e))
    };
    Ok(CertificateRow {
        job_id: text("job_id")?
            .parse::<JobId>()
            .map_err(|e| corrupt("job_id", &e))?,
        owner_id: text("owner_id")?,
        template_id: text("template_id")?,
        template_version: int("template_version")?,
        template_name: text("template_name")?,
        batch_id: opt_text("batch_id")?,
        verification_code: text("verification_code")?,
        recipient_name: text("recipient_name")?,
        course_name: text("course_name")?,
        issuer_name: opt_text("issuer_name")?,
        issued_on: date("issued_on")?,
        expires_on: opt_date("expires_on")?,
        is_public: int("is_public")? != 0,
        revoked_at: opt_int("revoked_at")?,
        revoked_reason: opt_text("revoked_reason")?,
        created_at: int("created_at")?,
        job_status: text("job_status")?
            .parse()
            .map_err(|e: String| corrupt("job_status", &e))?,
        result: opt_text("result")?
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| corrupt("result", &e))?,
        finished_at: opt_int("finished_at")?,
        status_index: opt_int("status_index")?,
    })
}

/// Which certificates a listing shows.
#[derive(Debug, Clone, Default)]
pub struct CertificateFilter {
    /// `None`: every owner's (admin) or, with `public_only`, everyone's public ones.
    pub owner_id: Option<String>,
    /// Only those issued with `is_public` and rendered: the public registry.
    pub public_only: bool,
    pub template_id: Option<String>,
    pub status: Option<CertificateStatus>,
    /// Case-insensitive substring of the recipient's name.
    pub recipient: Option<String>,
    /// Inclusive bounds on the issue date.
    pub issued_from: Option<CalendarDate>,
    pub issued_to: Option<CalendarDate>,
    pub batch_id: Option<String>,
}

/// Listing order: by creation or issue date, newest or oldest first; ties by job id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertificateSort {
    #[default]
    CreatedDesc,
    CreatedAsc,
    IssuedDesc,
    IssuedAsc,
}

impl CertificateSort {
    pub const NAMES: [&str; 4] = ["-created_at", "created_at", "-issued_on", "issued_on"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "-created_at" => Self::CreatedDesc,
            "created_at" => Self::CreatedAsc,
            "-issued_on" => Self::IssuedDesc,
            "issued_on" => Self::IssuedAsc,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::CreatedDesc => "-created_at",
            Self::CreatedAsc => "created_at",
            Self::IssuedDesc => "-issued_on",
            Self::IssuedAsc => "issued_on",
        }
    }

    fn column(self) -> &'static str {
        match self {
            Self::CreatedDesc | Self::CreatedAsc => "c.created_at",
            Self::IssuedDesc | Self::IssuedAsc => "c.issued_on",
        }
    }

    fn descending(self) -> bool {
        matches!(self, Self::CreatedDesc | Self::IssuedDesc)
    }
}

/// Where the previous page ended: the sort key and the job id of its last row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Int(i64),
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateCursor {
    pub key: SortKey,
    pub job_id: JobId,
}

impl CertificateCursor {
    pub fn after(row: &CertificateRow, sort: CertificateSort) -> Self {
        let key = match sort {
            CertificateSort::CreatedDesc | CertificateSort::CreatedAsc => {
                SortKey::Int(row.created_at)
            }
            _ => SortKey::Text(row.issued_on.to_string()),
        };
        Self {
            key,
            job_id: row.job_id,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    AlreadyRevoked,
    NotFound,
}

/// A batch of certificate jobs.
#[derive(Debug, Clone)]
pub struct BatchRow {
    pub id: String,
    pub owner_id: String,
    pub template_id: String,
    pub template_version: i64,
    pub total: i64,
    pub created_at: i64,
    /// Where to deliver `batch.completed`, signed with the owner's callback secret.
    pub callback_url: Option<String>,
}

/// A `batches` row (id, owner, template and version, total, created, callback URL).
fn batch_row(r: &AnyRow) -> Result<BatchRow, sqlx::Error> {
    Ok(BatchRow {
        id: r.try_get("id")?,
        owner_id: r.try_get("owner_id")?,
        template_id: r.try_get("template_id")?,
        template_version: r.try_get("template_version")?,
        total: r.try_get("total")?,
        created_at: r.try_get("created_at")?,
        callback_url: r.try_get("callback_url")?,
    })
}

/// An open batch transaction; see [`Db::begin_batch`].
pub struct BatchWriter {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    rows: usize,
    /// The virtual time of the last row written (see `vtime_sql`): read once for the
    /// batch's first row, then one step per row, so a batch is spaced like its owner's
    /// single submissions.
    vtime: Option<i64>,
}

impl BatchWriter {
    /// Rows per statement for this database: a good size for the caller's chunks.
    pub fn chunk_rows(&self) -> usize {
        self.rows
    }

    /// Inserts jobs (with `batch_id` set) and their registry rows, in multi-row statements.
    pub async fn insert(&mut self, jobs: &[(NewJob, NewCertificate)]) -> Result<(), DbError> {
        let now = Timestamp::now().millis();
        let Some((first, _)) = jobs.first() else {
            return Ok(());
        };
        let mut vtime = match self.vtime {
            Some(v) => v,
            None => {
                let queue = first.kind.queue();
                fair_base(&mut self.tx, &first.owner_id, queue, first.priority, now).await?
            }
        };
        for chunk in jobs.chunks(self.rows) {
            let sql = insert_jobs_sql(chunk.len(), now);
            // Not prepared for reuse: the text is new every batch (the time is in it, and the
            // last chunk's size varies), and a cached statement of 32,000 parameters per pool
            // connection made the API's memory grow with every batch.
            let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for (job, _) in chunk {
                vtime += job.fair_step();
                query = bind_job(query, job, now).bind(vtime);
            }
            query.execute(&mut *self.tx).await?;
            let pairs: Vec<_> = chunk.iter().map(|(j, c)| (j, c)).collect();
            insert_certificates(&mut self.tx, &pairs, self.rows).await?;
        }
        self.vtime = Some(vtime);
        Ok(())
    }

    pub async fn commit(self) -> Result<(), DbError> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// A finished certificate's file, for the batch archive.
#[derive(Debug, Clone)]
pub struct BatchFile {
    pub job_id: JobId,
    pub recipient_name: String,
    pub result: serde_json::Value,
}

/// Rows per multi-row INSERT, per dialect, measured with 10,000-row batches: PostgreSQL is
/// fastest with few large statements (its cost is per statement), SQLite with small ones (a
/// statement's cost grows faster than its rows). Both stay under the bind-parameter limits.
fn chunk_rows(backend: DatabaseBackend) -> usize {
    match backend {
        DatabaseBackend::Postgres => PG_CHUNK,
        DatabaseBackend::Sqlite => SQLITE_CHUNK,
    }
}
const PG_CHUNK: usize = 4000;
const SQLITE_CHUNK: usize = 40;
// 15 parameters per certificate row (12 per job row): PostgreSQL allows 65,535 per
// statement, SQLite 32,766.
const _: () = assert!(PG_CHUNK * 15 <= 65_535 && SQLITE_CHUNK * 15 <= 32_766);

impl Db {
    /// Inserts a certificate job and its registry row in one transaction. An idempotent
    /// replay returns the original job and writes nothing.
    /// A `notify` email is charged to the key's quotas in the same transaction (see
    /// [`Db::insert_job_charged`]).
    pub async fn insert_certificate_job(
        &self,
        job: &NewJob,
        cert: &NewCertificate,
        charge: Option<&EmailCharge>,
    ) -> Result<Result<InsertOutcome, OverQuota>, DbError> {
        if self.backend() == DatabaseBackend::Postgres
            && job.idempotency_key.is_none()
            && charge.is_none()
        {
            return Ok(Ok(self.insert_certificate_job_at_once(job, cert).await?));
        }
        let mut tx = self.pool().begin().await?;
        let outcome = insert_job_in(&mut tx, job).await?;
        if let InsertOutcome::Inserted(_) = &outcome {
            insert_certificates(&mut tx, &[(job, cert)], 1).await?;
        }
        if let Err(over) = charge_inserted(&mut tx, self.backend(), &outcome, charge).await? {
            return Ok(Err(over));
        }
        tx.commit().await?;
        Ok(Ok(outcome))
    }

    /// The common case on PostgreSQL (no `Idempotency-Key`, no email charge): the job and its
    /// registry row in one statement, atomic as any statement, in one round trip instead of
    /// four (`BEGIN`, two `INSERT`s, `COMMIT`). SQLite has no `INSERT` in a `WITH`.
    async fn insert_certificate_job_at_once(
        &self,
        job: &NewJob,
        cert: &NewCertificate,
    ) -> Result<InsertOutcome, DbError> {
        let now = Timestamp::now().millis();
        let vtime = vtime_sql("$4", "$3", "$10", "$12", "$24");
        let sql = format!(
            "WITH job AS (INSERT INTO jobs (id, kind, queue, owner_id, max_attempts, run_at, \
             payload, batch_id, trace_parent, priority, status, attempt, pushed_at, created_at, \
             updated_at, vtime, callback_url) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
             $11, 0, $12, $12, $12, {vtime}, $25) \
             RETURNING {JOB_COLUMNS}), \
             certificate AS (INSERT INTO certificates (job_id, owner_id, batch_id, template_id, \
             template_version, template_name, verification_code, recipient_name, recipient_key, \
             course_name, issuer_name, issued_on, expires_on, is_public, created_at) \
             SELECT id, owner_id, $8, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $12 \
             FROM job) \
             SELECT {JOB_COLUMNS} FROM job"
        );
        let query = bind_job(sqlx::query(AssertSqlSafe(sql)), job, now).bind(now);
        let row = bind_certificate(query, cert)
            .bind(job.fair_step())
            .bind(job.callback_url.clone())
            .fetch_one(self.pool())
            .await?;
        Ok(InsertOutcome::Inserted(JobRow::from_row(&row)?))
    }

    /// Starts writing a batch: its row now, its jobs chunk by chunk through the returned
    /// writer, all in one transaction that `BatchWriter::commit` ends (dropping the writer
    /// rolls everything back). The caller holds one chunk in memory at a time.
    /// `idempotency`: the request's `Idempotency-Key` and the hash of its body; a second
    /// batch with the same key for the same owner fails on the unique index (see
    /// [`Db::batch_by_idempotency_key`]).
    pub async fn begin_batch(
        &self,
        batch: &BatchRow,
        idempotency: Option<(&str, &str)>,
    ) -> Result<BatchWriter, DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO batches (id, owner_id, template_id, template_version, total, created_at, \
             idempotency_key, request_hash, callback_url) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(batch.id.clone())
        .bind(batch.owner_id.clone())
        .bind(batch.template_id.clone())
        .bind(batch.template_version)
        .bind(batch.total)
        .bind(batch.created_at)
        .bind(idempotency.map(|(key, _)| key.to_owned()))
        .bind(idempotency.map(|(_, hash)| hash.to_owned()))
        .bind(batch.callback_url.clone())
        .execute(&mut *tx)
        .await?;
        Ok(BatchWriter {
            tx,
            rows: chunk_rows(self.backend()),
            vtime: None,
        })
    }

    /// A whole batch at once: [`Db::begin_batch`], one insert, commit.
    pub async fn insert_batch(
        &self,
        batch: &BatchRow,
        jobs: &[(NewJob, NewCertificate)],
    ) -> Result<(), DbError> {
        let mut writer = self.begin_batch(batch, None).await?;
        writer.insert(jobs).await?;
        writer.commit().await
    }

    /// Removes a batch none of whose jobs anyone was told about (its push failed).
    pub async fn delete_unacknowledged_batch(&self, id: &str) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM certificates WHERE batch_id = $1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM jobs WHERE batch_id = $1 AND status IN ('queued', 'scheduled') \
             AND attempt = 0",
        )
        .bind(id.to_owned())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM batches WHERE id = $1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One page of the registry in one indexed query (certificates joined to their jobs by
    /// primary key), never loading more than `limit` rows.
    pub async fn list_certificates(
        &self,
        filter: &CertificateFilter,
        sort: CertificateSort,
        cursor: Option<&CertificateCursor>,
        limit: u32,
        today: CalendarDate,
    ) -> Result<Vec<CertificateRow>, DbError> {
        let (sql, binds) = list_sql(filter, sort, cursor, limit, today);
        let rows = if filter.public_only && self.backend() == DatabaseBackend::Postgres {
            // The public registry needs no key: no search of it may hold a connection long.
            let mut tx = self.pool().begin().await?;
            sqlx::query(AssertSqlSafe(format!(
                "SET LOCAL statement_timeout = {PUBLIC_SEARCH_TIMEOUT_MS}"
            )))
            .execute(&mut *tx)
            .await?;
            let rows = bound(sql, binds).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows
        } else {
            bound(sql, binds).fetch_all(self.pool()).await?
        };
        rows.iter().map(certificate).collect()
    }

    /// The plan PostgreSQL chooses for a listing (`EXPLAIN`), for tests and diagnostics.
    pub async fn explain_list_certificates(
        &self,
        filter: &CertificateFilter,
        sort: CertificateSort,
        limit: u32,
    ) -> Result<String, DbError> {
        let (sql, binds) = list_sql(filter, sort, None, limit, CalendarDate::today());
        let rows = bound(format!("EXPLAIN {sql}"), binds)
            .fetch_all(self.pool())
            .await?;
        let lines: Vec<String> = rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>(0).ok())
            .collect();
        Ok(lines.join("\n"))
    }

    /// One certificate by its job id, if it exists and (when `owner_id` is given) is theirs.
    pub async fn get_certificate(
        &self,
        job_id: JobId,
        owner_id: Option<&str>,
    ) -> Result<Option<CertificateRow>, DbError> {
        self.one_certificate(
            "c.job_id = $1 AND ($2 IS NULL OR c.owner_id = $2)",
            &[Some(&job_id.to_string()), owner_id],
        )
        .await
    }

    /// The certificate a verification code belongs to.
    pub async fn find_certificate_by_code(
        &self,
        code: &str,
    ) -> Result<Option<CertificateRow>, DbError> {
        self.one_certificate("c.verification_code = $1", &[Some(code)])
            .await
    }

    /// The certificate matching `condition`, whose `$1`, `$2`… are `binds` in order.
    async fn one_certificate(
        &self,
        condition: &str,
        binds: &[Option<&str>],
    ) -> Result<Option<CertificateRow>, DbError> {
        let mut query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM {ONE} WHERE {condition}"
        )));
        for bind in binds {
            query = query.bind(bind.map(str::to_owned));
        }
        let row = query.fetch_optional(self.pool()).await?;
        row.as_ref().map(certificate).transpose()
    }

    /// True when a signed link to this job's file may still be served: neither the job's
    /// certificate (if it is one) nor the key that owns the job has been revoked.
    pub async fn link_is_live(&self, job_id: JobId, owner_id: &str) -> Result<bool, DbError> {
        let revoked: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM certificates WHERE job_id = $1 AND revoked_at IS NOT NULL) \
                  + (SELECT COUNT(*) FROM api_keys WHERE id = $2 AND revoked_at IS NOT NULL)",
        )
        .bind(job_id.to_string())
        .bind(owner_id.to_owned())
        .fetch_one(self.pool())
        .await?;
        Ok(revoked == 0)
    }

    /// Gives the certificate its index in the revocation status lists (`credentials.rs`),
    /// unless it has one, and returns it. Callers first look at `CertificateRow::status_index`:
    /// this runs once per certificate (the change drops its cached row, which then carries it).
    pub async fn assign_status_index(&self, job_id: JobId) -> Result<i64, DbError> {
        let next = match self.backend() {
            DatabaseBackend::Postgres => "nextval('certificate_status_index')",
            DatabaseBackend::Sqlite => {
                "(SELECT COALESCE(MAX(status_index) + 1, 0) FROM certificates)"
            }
        };
        // Only a row without one takes one: of two first reads at once, one sets it and both
        // read it back.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE certificates SET status_index = {next} \
             WHERE job_id = $1 AND status_index IS NULL"
        )))
        .bind(job_id.to_string())
        .execute(self.pool())
        .await?;
        sqlx::query_scalar::<_, Option<i64>>(
            "SELECT status_index FROM certificates WHERE job_id = $1",
        )
        .bind(job_id.to_string())
        .fetch_optional(self.pool())
        .await?
        .flatten()
        .ok_or_else(|| DbError::Other(format!("certificate {job_id} is gone")))
    }

    /// The revoked indexes of status list `list` (`LIST_SIZE` indexes from `list *
    /// LIST_SIZE`), with the time of the latest revocation among them.
    pub async fn revoked_status_indexes(
        &self,
        list: i64,
    ) -> Result<(Vec<i64>, Option<i64>), DbError> {
        use crate::credentials::LIST_SIZE;
        let rows = sqlx::query(
            "SELECT status_index, revoked_at FROM certificates \
             WHERE status_index >= $1 AND status_index < $2 \
               AND status_index IS NOT NULL AND revoked_at IS NOT NULL",
        )
        .bind(list * LIST_SIZE)
        .bind((list + 1) * LIST_SIZE)
        .fetch_all(self.pool())
        .await?;
        let mut indexes = Vec::with_capacity(rows.len());
        let mut latest = None;
        for row in &rows {
            indexes.push(row.try_get::<i64, _>("status_index")?);
            let at: i64 = row.try_get("revoked_at")?;
            latest = latest.max(Some(at));
        }
        Ok((indexes, latest))
    }

    /// Revokes a certificate; the first revocation's reason stands. With `purging`, the purge
    /// of its verification (and the registry, if it is listed) is inserted in the same
    /// transaction and returned, to be pushed.
    pub async fn revoke_certificate(
        &self,
        job_id: JobId,
        owner_id: Option<&str>,
        reason: &str,
        purging: Option<Purging>,
    ) -> Result<(RevokeOutcome, Option<NewJob>), DbError> {
        let now = Timestamp::now().millis();
        let mut tx = self.pool().begin().await?;
        let revoked = sqlx::query(
            "UPDATE certificates SET revoked_at = $3, revoked_reason = $4 \
             WHERE job_id = $1 AND ($2 IS NULL OR owner_id = $2) AND revoked_at IS NULL \
             RETURNING verification_code, is_public",
        )
        .bind(job_id.to_string())
        .bind(owner_id.map(str::to_owned))
        .bind(now)
        .bind(reason.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = revoked {
            let code: String = row.try_get("verification_code")?;
            let public = row.try_get::<i64, _>("is_public")? != 0;
            let tags = crate::cdn::certificate_tags(&code, public);
            let purge = insert_purge_in(&mut tx, purging, tags).await?;
            tx.commit().await?;
            return Ok((RevokeOutcome::Revoked, purge));
        }
        tx.rollback().await?;
        let outcome = match self.get_certificate(job_id, owner_id).await? {
            Some(_) => RevokeOutcome::AlreadyRevoked,
            None => RevokeOutcome::NotFound,
        };
        Ok((outcome, None))
    }

    /// The owner's batch submitted with `key` within the last `window`, with its request
    /// hash. An older batch holding the key gives it up first, so the key can be used again.
    pub async fn batch_by_idempotency_key(
        &self,
        owner_id: &str,
        key: &str,
        window: std::time::Duration,
    ) -> Result<Option<(BatchRow, String)>, DbError> {
        release_expired(self.pool(), KeyHolder::Batches, owner_id, key, window).await?;
        let Some((id, hash)) = holder_of(self.pool(), KeyHolder::Batches, owner_id, key).await?
        else {
            return Ok(None);
        };
        Ok(self
            .get_batch(&id, Some(owner_id))
            .await?
            .map(|batch| (batch, hash)))
    }

    pub async fn get_batch(
        &self,
        id: &str,
        owner_id: Option<&str>,
    ) -> Result<Option<BatchRow>, DbError> {
        let row = sqlx::query(
            "SELECT id, owner_id, template_id, template_version, total, created_at, callback_url \
             FROM batches \
             WHERE id = $1 AND ($2 IS NULL OR owner_id = $2)",
        )
        .bind(id.to_owned())
        .bind(owner_id.map(str::to_owned))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref()
            .map(batch_row)
            .transpose()
            .map_err(DbError::from)
    }

    /// The batches `owner_id` made (every batch when `None`), newest first, after `cursor`.
    pub async fn list_batches(
        &self,
        owner_id: Option<&str>,
        cursor: Option<&super::ListCursor>,
        limit: u32,
    ) -> Result<Vec<BatchRow>, DbError> {
        let mut sql = String::from(
            "SELECT id, owner_id, template_id, template_version, total, created_at, callback_url \
             FROM batches WHERE 1 = 1",
        );
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        if owner_id.is_some() {
            sql += &format!(" AND owner_id = {}", next());
        }
        if cursor.is_some() {
            let (a, b) = (next(), next());
            sql += &format!(" AND (created_at < {a} OR (created_at = {a} AND id < {b}))");
        }
        sql += &format!(" ORDER BY created_at DESC, id DESC LIMIT {}", next());
        let mut query = sqlx::query(AssertSqlSafe(sql));
        if let Some(owner) = owner_id {
            query = query.bind(owner.to_owned());
        }
        if let Some(c) = cursor {
            query = query.bind(c.created_at).bind(c.id.clone());
        }
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.iter()
            .map(batch_row)
            .collect::<Result<_, _>>()
            .map_err(DbError::from)
    }

    /// Jobs per status of each of `ids` (one grouped query for a page of batches).
    pub async fn batches_counts(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<(JobStatus, i64)>>, DbError> {
        let mut counts: HashMap<String, Vec<(JobStatus, i64)>> = HashMap::new();
        if ids.is_empty() {
            return Ok(counts);
        }
        let sql = format!(
            "SELECT batch_id, status, COUNT(*) AS n FROM jobs WHERE batch_id IN ({}) \
             GROUP BY batch_id, status",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.clone());
        }
        for r in query.fetch_all(self.pool()).await? {
            let batch: String = r.try_get("batch_id")?;
            let status: String = r.try_get("status")?;
            let n: i64 = r.try_get("n")?;
            let status = status.parse().map_err(|e: String| DbError::Corrupt(e))?;
            counts.entry(batch).or_default().push((status, n));
        }
        Ok(counts)
    }

    /// How many of a batch's jobs are in each status (one grouped, indexed query).
    pub async fn batch_counts(&self, id: &str) -> Result<Vec<(JobStatus, i64)>, DbError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM jobs WHERE batch_id = $1 GROUP BY status",
        )
        .bind(id.to_owned())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let n: i64 = r.try_get("n")?;
                Ok((status.parse().map_err(|e: String| DbError::Corrupt(e))?, n))
            })
            .collect()
    }

    /// Succeeded jobs of a batch with their files, in job id order: at most `limit` after
    /// job `after` (from the first without), so an archive of 10,000 files is read a page at
    /// a time, never held whole.
    pub async fn batch_files_page(
        &self,
        id: &str,
        after: Option<JobId>,
        limit: u32,
    ) -> Result<Vec<BatchFile>, DbError> {
        let rows = sqlx::query(
            "SELECT j.id, j.result, c.recipient_name FROM jobs j \
             JOIN certificates c ON c.job_id = j.id \
             WHERE j.batch_id = $1 AND j.status = 'succeeded' AND j.id > $2 \
             ORDER BY j.id LIMIT $3",
        )
        .bind(id.to_owned())
        .bind(after.map(|a| a.to_string()).unwrap_or_default())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let result: String = r.try_get("result")?;
                let id: String = r.try_get("id")?;
                Ok(BatchFile {
                    job_id: id
                        .parse()
                        .map_err(|e| DbError::Corrupt(format!("job id `{id}`: {e}")))?,
                    recipient_name: r.try_get("recipient_name")?,
                    result: serde_json::from_str(&result)
                        .map_err(|e| DbError::Corrupt(format!("result: {e}")))?,
                })
            })
            .collect()
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

/// `sql` with `binds` bound in order.
fn bound(
    sql: String,
    binds: Vec<Bind>,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for bind in binds {
        query = match bind {
            Bind::Text(t) => query.bind(t),
            Bind::Int(i) => query.bind(i),
        };
    }
    query
}

fn list_sql(
    filter: &CertificateFilter,
    sort: CertificateSort,
    cursor: Option<&CertificateCursor>,
    limit: u32,
    today: CalendarDate,
) -> (String, Vec<Bind>) {
    let mut binds = Vec::new();
    let mut next = |b: Bind| {
        binds.push(b);
        format!("${}", binds.len())
    };
    let mut sql =
        format!("SELECT {COLUMNS} FROM certificates c JOIN jobs j ON j.id = c.job_id WHERE 1 = 1");
    if let Some(owner) = &filter.owner_id {
        sql += &format!(" AND c.owner_id = {}", next(Bind::Text(owner.clone())));
    }
    if filter.public_only {
        // Literal, so PostgreSQL can match the partial indexes' predicate.
        sql += " AND c.is_public = 1 AND j.status = 'succeeded'";
    }
    if let Some(template) = &filter.template_id {
        sql += &format!(
            " AND c.template_id = {}",
            next(Bind::Text(template.clone()))
        );
    }
    if let Some(batch) = &filter.batch_id {
        sql += &format!(" AND c.batch_id = {}", next(Bind::Text(batch.clone())));
    }
    if let Some(status) = filter.status {
        let today = next(Bind::Text(today.to_string()));
        sql += &format!(" AND ({})", status.condition(&today));
    }
    if let Some(recipient) = &filter.recipient {
        let escaped = recipient
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let p = next(Bind::Text(format!("%{escaped}%")));
        sql += &format!(" AND c.recipient_key LIKE {p} ESCAPE '\\'");
    }
    if let Some(from) = &filter.issued_from {
        sql += &format!(" AND c.issued_on >= {}", next(Bind::Text(from.to_string())));
    }
    if let Some(to) = &filter.issued_to {
        sql += &format!(" AND c.issued_on <= {}", next(Bind::Text(to.to_string())));
    }
    let column = sort.column();
    let (cmp, dir) = if sort.descending() {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(c) = cursor {
        let key = next(match &c.key {
            SortKey::Int(i) => Bind::Int(*i),
            SortKey::Text(t) => Bind::Text(t.clone()),
        });
        let id = next(Bind::Text(c.job_id.to_string()));
        sql +=
            &format!(" AND ({column} {cmp} {key} OR ({column} = {key} AND c.job_id {cmp} {id}))");
    }
    let limit = next(Bind::Int(i64::from(limit)));
    sql += &format!(" ORDER BY {column} {dir}, c.job_id {dir} LIMIT {limit}");
    (sql, binds)
}

/// Longest a public registry search may run on PostgreSQL; beyond it the client gets a 503.
const PUBLIC_SEARCH_TIMEOUT_MS: u64 = 2_000;

/// Writes registry rows for jobs already inserted in `tx`.
pub(super) async fn insert_certificates(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    rows: &[(&NewJob, &NewCertificate)],
    chunk_rows: usize,
) -> Result<(), DbError> {
    let now = Timestamp::now().millis();
    for chunk in rows.chunks(chunk_rows) {
        let sql = format!(
            "INSERT INTO certificates (job_id, owner_id, batch_id, template_id, template_version, \
             template_name, verification_code, recipient_name, recipient_key, course_name, \
             issuer_name, issued_on, expires_on, is_public, created_at) VALUES {}",
            values(chunk.len(), 15, "")
        );
        // A single row (every single submission) has the same text each time: prepared once
        // per connection. A batch's multi-row text is one-off (see `BatchWriter::insert`).
        let mut query = sqlx::query(AssertSqlSafe(sql)).persistent(chunk.len() == 1);
        for (job, cert) in chunk {
            query = query
                .bind(job.id.to_string())
                .bind(job.owner_id.clone())
                .bind(job.batch_id.clone());
            query = bind_certificate(query, cert).bind(now);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// A multi-row insert of `rows` new jobs, each bound by [`bind_job`] and then its `vtime`:
/// batches and webhook deliveries.
pub(super) fn insert_jobs_sql(rows: usize, now: i64) -> String {
    format!(
        "INSERT INTO jobs (id, kind, queue, owner_id, max_attempts, run_at, payload, \
         batch_id, trace_parent, priority, status, vtime, attempt, pushed_at, \
         created_at, updated_at) VALUES {}",
        values(rows, 12, &format!(", 0, {now}, {now}, {now}"))
    )
}

/// Binds a new job's columns, in the order both inserts list them: `id`, `kind`, `queue`,
/// `owner_id`, `max_attempts`, `run_at`, `payload`, `batch_id`, `trace_parent`, `priority`,
/// `status` (as of `now`).
pub(super) fn bind_job<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    job: &NewJob,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(job.id.to_string())
        .bind(job.kind.as_str())
        .bind(job.kind.queue().as_str())
        .bind(job.owner_id.clone())
        .bind(i64::from(job.max_attempts))
        .bind(job.run_at.millis())
        .bind(job.payload.to_string())
        .bind(job.batch_id.clone())
        .bind(job.trace_parent.clone())
        .bind(job.priority.level())
        .bind(job.initial_status(now).as_str())
}

/// Binds a registry row's own columns, in the order both inserts list them: `template_id`,
/// `template_version`, `template_name`, `verification_code`, `recipient_name`,
/// `recipient_key`, `course_name`, `issuer_name`, `issued_on`, `expires_on`, `is_public`.
fn bind_certificate<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    cert: &NewCertificate,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    query
        .bind(cert.template_id.clone())
        .bind(cert.template_version)
        .bind(cert.template_name.clone())
        .bind(cert.verification_code.clone())
        .bind(cert.recipient_name.clone())
        .bind(cert.recipient_name.to_lowercase())
        .bind(cert.course_name.clone())
        .bind(cert.issuer_name.clone())
        .bind(cert.issued_on.to_string())
        .bind(cert.expires_on.map(|d| d.to_string()))
        .bind(i64::from(cert.is_public))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        revoked: bool,
        job_status: JobStatus,
        expires_on: Option<CalendarDate>,
    ) -> CertificateRow {
        CertificateRow {
            job_id: JobId::new(),
            owner_id: "k".into(),
            template_id: "t".into(),
            template_version: 1,
            template_name: "classic".into(),
            batch_id: None,
            verification_code: "ABCD-EFGH-JKLM".into(),
            recipient_name: "Ada".into(),
            course_name: "Math".into(),
            issuer_name: None,
            issued_on: "2026-01-01".parse().unwrap(),
            expires_on,
            is_public: false,
            revoked_at: revoked.then_some(1),
            revoked_reason: None,
            created_at: 0,
            job_status,
            result: None,
            finished_at: None,
            status_index: None,
        }
    }

    /// The rule as it was written by hand before it became a table: the table must agree.
    fn by_hand(row: &CertificateRow, today: CalendarDate) -> CertificateStatus {
        if row.revoked_at.is_some() {
            return CertificateStatus::Revoked;
        }
        match row.job_status {
            JobStatus::Succeeded => match row.expires_on {
                Some(until) if until < today => CertificateStatus::Expired,
                _ => CertificateStatus::Valid,
            },
            JobStatus::Dead => CertificateStatus::Failed,
            JobStatus::Cancelled => CertificateStatus::Cancelled,
            _ => CertificateStatus::Pending,
        }
    }

    #[test]
    fn exactly_one_rule_holds_for_every_row() {
        let today: CalendarDate = "2026-06-15".parse().unwrap();
        let expiries = [
            None,
            Some("2026-06-14".parse().unwrap()),
            Some(today),
            Some("2026-06-16".parse().unwrap()),
        ];
        for revoked in [false, true] {
            for job_status in JobStatus::ALL {
                for expires_on in expiries {
                    let row = row(revoked, job_status, expires_on);
                    let holding: Vec<_> = RULES.iter().filter(|r| r.holds(&row, today)).collect();
                    assert_eq!(holding.len(), 1, "{revoked} {job_status} {expires_on:?}");
                    assert_eq!(row.status(today), by_hand(&row, today));
                }
            }
        }
    }

    #[test]
    fn every_status_has_a_sql_condition() {
        for status in CertificateStatus::ALL {
            let sql = status.condition("$1");
            assert!(sql.contains("c.revoked_at"), "{sql}");
        }
        assert_eq!(
            CertificateStatus::Valid.condition("$1"),
            "c.revoked_at IS NULL AND j.status IN ('succeeded') \
             AND (c.expires_on IS NULL OR c.expires_on >= $1)"
        );
    }
}
