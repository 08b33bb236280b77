//! The dashboard's overview: counts, throughput, latencies and failures, each one indexed
//! query whatever the table's size (the finished millions are read only through
//! `jobs_cleanup`'s `finished_at` ranges, never counted whole).

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use super::jobs::{AnyQuery, COLUMNS, JobRow};
use super::pool::{Db, DbError};
use crate::domain::{JobKind, Timestamp};

/// Jobs finished per time bucket, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Throughput {
    /// Bucket start -> (succeeded, dead).
    pub buckets: BTreeMap<i64, (i64, i64)>,
}

/// Waiting and running times of recently finished jobs, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latencies {
    pub sample: usize,
    pub wait_p50: i64,
    pub wait_p95: i64,
    pub run_p50: i64,
    pub run_p95: i64,
}

/// Failed and dead jobs sharing one error.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureGroup {
    pub kind: String,
    pub status: String,
    pub error_code: String,
    pub error_message: String,
    pub jobs: i64,
    pub last_at: Timestamp,
}

/// `AND owner_id = $n` when an owner is given.
fn owner_clause(owner: Option<&str>, n: usize) -> String {
    owner.map_or(String::new(), |_| format!(" AND owner_id = ${n}"))
}

/// Binds the owner of [`owner_clause`], when there is one.
fn bind_owner<'q>(query: AnyQuery<'q>, owner: Option<&str>) -> AnyQuery<'q> {
    match owner {
        Some(o) => query.bind(o.to_owned()),
        None => query,
    }
}

impl Db {
    /// Unfinished jobs (scheduled, queued, running, failed awaiting a retry) per kind and
    /// status: the `jobs_unfinished` index, however many finished jobs there are.
    pub async fn unfinished_counts(
        &self,
        owner: Option<&str>,
    ) -> Result<Vec<(String, String, i64)>, DbError> {
        let sql = format!(
            "SELECT kind, status, COUNT(*) AS n FROM jobs \
             WHERE status IN ('scheduled', 'queued', 'running', 'failed'){} \
             GROUP BY kind, status",
            owner_clause(owner, 1)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        query = bind_owner(query, owner);
        kind_status_counts(query.fetch_all(self.pool()).await?)
    }

    /// Jobs that ended (succeeded, dead, cancelled) since `since`, per kind and status.
    pub async fn finished_counts(
        &self,
        owner: Option<&str>,
        since: Timestamp,
    ) -> Result<Vec<(String, String, i64)>, DbError> {
        let sql = format!(
            "SELECT kind, status, COUNT(*) AS n FROM jobs \
             WHERE kind IN ({kinds}) AND status IN ('succeeded', 'dead', 'cancelled') \
             AND finished_at >= $1{owner} GROUP BY kind, status",
            kinds = kinds_list(),
            owner = owner_clause(owner, 2)
        );
        // Planned with this `since` each time: a generic plan cannot tell an hour from a month.
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .bind(since.millis());
        query = bind_owner(query, owner);
        kind_status_counts(query.fetch_all(self.pool()).await?)
    }

    /// Succeeded and dead jobs per `bucket_ms` since `since`.
    pub async fn throughput(
        &self,
        owner: Option<&str>,
        since: Timestamp,
        bucket_ms: i64,
    ) -> Result<Throughput, DbError> {
        let sql = format!(
            "SELECT finished_at / {bucket_ms} AS bucket, status, COUNT(*) AS n FROM jobs \
             WHERE kind IN ({kinds}) AND status IN ('succeeded', 'dead') \
             AND finished_at >= $1{owner} GROUP BY finished_at / {bucket_ms}, status",
            kinds = kinds_list(),
            owner = owner_clause(owner, 2)
        );
        // Planned with this `since` each time: a generic plan cannot tell an hour from a month.
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .persistent(false)
            .bind(since.millis());
        query = bind_owner(query, owner);
        let mut out = Throughput::default();
        for r in query.fetch_all(self.pool()).await? {
            let bucket: i64 = r.try_get("bucket")?;
            let status: String = r.try_get("status")?;
            let n: i64 = r.try_get("n")?;
            let entry = out.buckets.entry(bucket * bucket_ms).or_default();
            if status == "succeeded" {
                entry.0 += n;
            } else {
                entry.1 += n;
            }
        }
        Ok(out)
    }

    /// p50 and p95 of the waiting time (ready to started) and running time (started to
    /// finished) of the last `sample` jobs that succeeded (for one key: the last it created).
    pub async fn latencies(&self, owner: Option<&str>, sample: u32) -> Result<Latencies, DbError> {
        let sql = match owner {
            // A key's own: the newest it created, one walk of `jobs_owner_status_created`
            // (walking `finished_at` per kind would scan every job of a kind it never ran).
            Some(_) => "SELECT run_at, created_at, started_at, finished_at FROM jobs \
                        WHERE owner_id = $2 AND status = 'succeeded' \
                        ORDER BY created_at DESC LIMIT $1"
                .to_owned(),
            // Everyone's: one backward walk of `jobs_cleanup (kind, status, finished_at)` per
            // kind, each stopping after `sample` rows (one ORDER BY over every kind scans the
            // table), then the newest `sample` of those.
            None => JobKind::ALL
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    // Subqueries in FROM: SQLite takes no parentheses around a compound's
                    // parts.
                    format!(
                        "SELECT * FROM (SELECT run_at, created_at, started_at, finished_at \
                         FROM jobs WHERE kind = '{}' AND status = 'succeeded' \
                         AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT $1) AS k{i}",
                        k.as_str()
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL "),
        };
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(i64::from(sample));
        query = bind_owner(query, owner);
        let mut rows: Vec<(i64, i64, i64)> = Vec::new();
        for r in query.fetch_all(self.pool()).await? {
            let ready: i64 = r.try_get::<i64, _>("run_at")?.max(r.try_get("created_at")?);
            let started: Option<i64> = r.try_get("started_at")?;
            let finished: Option<i64> = r.try_get("finished_at")?;
            if let (Some(s), Some(f)) = (started, finished) {
                rows.push((f, (s - ready).max(0), (f - s).max(0)));
            }
        }
        rows.sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
        rows.truncate(sample as usize);
        let mut waits: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let mut runs: Vec<i64> = rows.iter().map(|r| r.2).collect();
        waits.sort_unstable();
        runs.sort_unstable();
        let at = |v: &[i64], q: f64| {
            if v.is_empty() {
                0
            } else {
                v[((v.len() - 1) as f64 * q).round() as usize]
            }
        };
        Ok(Latencies {
            sample: waits.len(),
            wait_p50: at(&waits, 0.5),
            wait_p95: at(&waits, 0.95),
            run_p50: at(&runs, 0.5),
            run_p95: at(&runs, 0.95),
        })
    }

    /// The newest failed and dead jobs.
    pub async fn recent_failures(
        &self,
        owner: Option<&str>,
        limit: u32,
    ) -> Result<Vec<JobRow>, DbError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM jobs WHERE status IN ('failed', 'dead'){} \
             ORDER BY finished_at DESC LIMIT ${}",
            owner_clause(owner, 1),
            if owner.is_some() { 2 } else { 1 }
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        query = bind_owner(query, owner);
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.iter().map(JobRow::from_row).collect()
    }

    /// Failed and dead jobs grouped by kind, status and error, the largest groups first.
    pub async fn failure_groups(
        &self,
        owner: Option<&str>,
        limit: u32,
    ) -> Result<Vec<FailureGroup>, DbError> {
        let sql = format!(
            "SELECT kind, status, COALESCE(error_code, '') AS code, \
             COALESCE(error_message, '') AS message, COUNT(*) AS n, MAX(finished_at) AS last_at \
             FROM jobs WHERE status IN ('failed', 'dead'){} \
             GROUP BY kind, status, COALESCE(error_code, ''), COALESCE(error_message, '') \
             ORDER BY n DESC, last_at DESC LIMIT ${}",
            owner_clause(owner, 1),
            if owner.is_some() { 2 } else { 1 }
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        query = bind_owner(query, owner);
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| {
                Ok(FailureGroup {
                    kind: r.try_get("kind")?,
                    status: r.try_get("status")?,
                    error_code: r.try_get("code")?,
                    error_message: r.try_get("message")?,
                    jobs: r.try_get("n")?,
                    last_at: Timestamp::from_millis(
                        r.try_get::<Option<i64>, _>("last_at")?.unwrap_or(0),
                    ),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The ids of the failed or dead jobs in one failure group (at most `limit`), for a bulk
    /// action on "all matching".
    pub async fn failure_group_ids(
        &self,
        owner: Option<&str>,
        group: &FailureGroup,
        limit: u32,
    ) -> Result<Vec<String>, DbError> {
        let sql = format!(
            "SELECT id FROM jobs WHERE status = $1 AND kind = $2 \
             AND COALESCE(error_code, '') = $3 AND COALESCE(error_message, '') = $4{} \
             ORDER BY finished_at DESC LIMIT ${}",
            owner_clause(owner, 5),
            if owner.is_some() { 6 } else { 5 }
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(group.status.clone())
            .bind(group.kind.clone())
            .bind(group.error_code.clone())
            .bind(group.error_message.clone());
        query = bind_owner(query, owner);
        let rows = query.bind(i64::from(limit)).fetch_all(self.pool()).await?;
        rows.iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }
}

/// `(kind, status, n)` rows.
fn kind_status_counts(rows: Vec<sqlx::any::AnyRow>) -> Result<Vec<(String, String, i64)>, DbError> {
    rows.iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("status")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// `'certificate', 'report', …`: every kind, so `jobs_cleanup (kind, status, finished_at)`
/// serves a `finished_at` range without a scan.
fn kinds_list() -> String {
    JobKind::ALL
        .iter()
        .map(|k| format!("'{}'", k.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
