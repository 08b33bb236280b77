//! The figures of one run: a readable table and one JSON line; and a table of many runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use crate::Mode;
use crate::rss::RssSample;
use crate::stats::Summary;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub label: Option<String>,
    pub mode: Mode,
    pub url: String,
    /// Jobs asked for.
    pub jobs: u64,
    pub concurrency: u64,
    pub photo: bool,
    /// Decoded size of the photo sent with every job.
    pub photo_bytes: Option<u64>,
    /// Submissions the API accepted (2xx).
    pub submitted: u64,
    /// `submit_errors + job_errors`.
    pub errors: u64,
    /// Submissions not accepted (non-2xx, timeout, transport error).
    pub submit_errors: u64,
    /// Accepted jobs that ended other than `succeeded` (burst, serial).
    pub job_errors: u64,
    /// Why submissions failed: `HTTP 503`, `timeout`, ... with counts.
    pub submit_error_kinds: BTreeMap<String, u64>,
    /// Final status of the accepted jobs, with counts (burst, serial).
    pub final_statuses: BTreeMap<String, u64>,
    /// Wall time of the submission phase (serial: of the whole run).
    pub submit_wall_s: f64,
    pub submit_per_s: Option<f64>,
    pub submit_p50_ms: Option<f64>,
    pub submit_p99_ms: Option<f64>,
    pub submit_max_ms: Option<f64>,
    /// First submission to the last `finished_at`.
    pub e2e_wall_s: Option<f64>,
    /// Finished jobs / `e2e_wall_s`.
    pub e2e_per_s: Option<f64>,
    /// `finished_at - created_at` per job.
    pub e2e_p50_ms: Option<f64>,
    pub e2e_p99_ms: Option<f64>,
    pub e2e_max_ms: Option<f64>,
    /// `started_at - created_at` (time in the queue) per job.
    pub queue_wait_p50_ms: Option<f64>,
    pub queue_wait_p99_ms: Option<f64>,
    /// `finished_at - started_at` (the run, mostly rendering) per job.
    pub run_p50_ms: Option<f64>,
    pub run_p99_ms: Option<f64>,
    /// submit-only: this run's jobs not yet final when the last submission was answered.
    pub backlog_at_end: Option<u64>,
    /// batch: the batch's id.
    pub batch_id: Option<String>,
    /// batch: from sending the request to its 202, seconds.
    pub accepted_s: Option<f64>,
    /// batch: from sending the request until `GET /v1/batches/{id}` says `complete`, seconds
    /// (to within the polling interval).
    pub finished_s: Option<f64>,
    /// batch: size of the downloaded ZIP archive.
    pub archive_bytes: Option<u64>,
    /// batch: time of the archive download, from the request to the last byte, seconds.
    pub archive_s: Option<f64>,
    /// batch: entries in the archive (PDFs + manifest), from its end-of-central-directory.
    pub archive_entries: Option<u64>,
    /// The largest peak RSS (VmHWM) among the --rss-pid processes, MiB.
    pub peak_rss_mb: Option<f64>,
    /// The --rss-pid processes at the end.
    pub rss: Vec<RssSample>,
    /// The --rss-pid processes at the start (after resetting the peaks).
    pub rss_before: Vec<RssSample>,
    /// batch: the --rss-pid processes once the batch was accepted (the 202).
    pub rss_accepted: Vec<RssSample>,
    /// batch: the --rss-pid processes once the batch was complete, before the archive.
    pub rss_complete: Vec<RssSample>,
}

impl Report {
    pub fn set_submit(&mut self, s: Option<Summary>) {
        self.submit_p50_ms = s.map(|s| s.p50_ms);
        self.submit_p99_ms = s.map(|s| s.p99_ms);
        self.submit_max_ms = s.map(|s| s.max_ms);
    }

    pub fn set_e2e(&mut self, s: Option<Summary>) {
        self.e2e_p50_ms = s.map(|s| s.p50_ms);
        self.e2e_p99_ms = s.map(|s| s.p99_ms);
        self.e2e_max_ms = s.map(|s| s.max_ms);
    }

    pub fn set_queue_wait(&mut self, s: Option<Summary>) {
        self.queue_wait_p50_ms = s.map(|s| s.p50_ms);
        self.queue_wait_p99_ms = s.map(|s| s.p99_ms);
    }

    pub fn set_run(&mut self, s: Option<Summary>) {
        self.run_p50_ms = s.map(|s| s.p50_ms);
        self.run_p99_ms = s.map(|s| s.p99_ms);
    }

    pub fn table(&self) -> String {
        let mut t = String::new();
        let mode = match self.mode {
            Mode::Burst => "burst",
            Mode::Serial => "serial",
            Mode::SubmitOnly => "submit-only",
            Mode::Batch => "batch",
        };
        let photo = match self.photo_bytes {
            Some(b) => format!("photo {:.1} KB", b as f64 / 1000.0),
            None => "no photo".to_owned(),
        };
        let label = self
            .label
            .as_deref()
            .map(|l| format!("[{l}] "))
            .unwrap_or_default();
        let _ = writeln!(
            t,
            "{label}{mode}: {} jobs, concurrency {}, {photo} against {}",
            self.jobs, self.concurrency, self.url
        );
        let row = |t: &mut String, name: &str, value: String| {
            let _ = writeln!(t, "  {name:<22} {value}");
        };
        if self.mode == Mode::Batch {
            self.batch_rows(&mut t, &row);
        } else {
            self.job_rows(&mut t, &row);
        }
        row(&mut t, "errors", self.errors.to_string());
        for s in &self.rss {
            let at = |samples: &[RssSample], when: &str, peak: bool| {
                samples
                    .iter()
                    .find(|b| b.pid == s.pid)
                    .map_or_else(String::new, |b| {
                        if peak {
                            format!("{when} {:.1} (peak {:.1}), ", b.rss_mb, b.peak_mb)
                        } else {
                            format!("{when} {:.1}, ", b.rss_mb)
                        }
                    })
            };
            row(
                &mut t,
                &format!("rss pid {} ({})", s.pid, s.name),
                format!(
                    "MiB: {}{}{}end {:.1}, peak {:.1}",
                    at(&self.rss_before, "start", false),
                    at(&self.rss_accepted, "accepted", true),
                    at(&self.rss_complete, "complete", true),
                    s.rss_mb,
                    s.peak_mb
                ),
            );
        }
        t
    }

    fn batch_rows(&self, t: &mut String, row: &impl Fn(&mut String, &str, String)) {
        row(
            t,
            "batch",
            format!(
                "{} ({} rows accepted)",
                self.batch_id.as_deref().unwrap_or("-"),
                self.submitted
            ),
        );
        row(t, "accepted in", secs(self.accepted_s));
        row(
            t,
            "finished in",
            format!("{} (from the request; polled)", secs(self.finished_s)),
        );
        row(t, "certificates/s", per_s(self.e2e_per_s));
        row(t, "final statuses", statuses(&self.final_statuses));
        row(
            t,
            "archive",
            match (self.archive_bytes, self.archive_s) {
                (Some(b), Some(s)) => format!(
                    "{:.1} MB in {s:.2} s ({:.1} MB/s), {} entries",
                    b as f64 / 1e6,
                    b as f64 / 1e6 / s.max(1e-9),
                    self.archive_entries
                        .map_or_else(|| "?".to_owned(), |n| n.to_string())
                ),
                _ => "-".to_owned(),
            },
        );
    }

    fn job_rows(&self, t: &mut String, row: &impl Fn(&mut String, &str, String)) {
        row(
            t,
            "submitted",
            format!(
                "{} accepted, {} rejected{}",
                self.submitted,
                self.submit_errors,
                kinds(&self.submit_error_kinds)
            ),
        );
        row(
            t,
            "submissions/s",
            format!(
                "{} over {:.2} s",
                per_s(self.submit_per_s),
                self.submit_wall_s
            ),
        );
        row(
            t,
            "submit latency",
            quantiles(self.submit_p50_ms, self.submit_p99_ms, self.submit_max_ms),
        );
        if self.mode == Mode::SubmitOnly {
            if let Some(backlog) = self.backlog_at_end {
                row(
                    t,
                    "backlog at end",
                    format!("{backlog} of {} not final yet", self.submitted),
                );
            }
        } else {
            row(
                t,
                "certificates/s (e2e)",
                match self.e2e_wall_s {
                    Some(w) => format!("{} over {w:.2} s", per_s(self.e2e_per_s)),
                    None => "-".to_owned(),
                },
            );
            row(
                t,
                "enqueue->done",
                quantiles(self.e2e_p50_ms, self.e2e_p99_ms, self.e2e_max_ms),
            );
            row(
                t,
                "  queued (wait)",
                quantiles(self.queue_wait_p50_ms, self.queue_wait_p99_ms, None),
            );
            row(
                t,
                "  running (render)",
                quantiles(self.run_p50_ms, self.run_p99_ms, None),
            );
            row(t, "final statuses", statuses(&self.final_statuses));
        }
    }
}

fn statuses(s: &BTreeMap<String, u64>) -> String {
    if s.is_empty() {
        return "-".to_owned();
    }
    s.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2} s"))
}

fn per_s(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}/s"))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms"))
}

fn quantiles(p50: Option<f64>, p99: Option<f64>, max: Option<f64>) -> String {
    let mut s = format!("p50 {}  p99 {}", ms(p50), ms(p99));
    if max.is_some() {
        s += &format!("  max {}", ms(max));
    }
    s
}

fn kinds(k: &BTreeMap<String, u64>) -> String {
    if k.is_empty() {
        return String::new();
    }
    let list: Vec<String> = k.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!(" ({})", list.join(", "))
}

/// A table of the JSON lines in `file` (other lines are skipped).
pub fn summarize(file: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let rows: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l.trim()).ok())
        .filter(|v| v.get("mode").is_some())
        .collect();
    anyhow::ensure!(
        !rows.is_empty(),
        "{} holds no bench JSON lines",
        file.display()
    );
    let header = [
        "label", "mode", "jobs", "C", "photo", "errors", "submit/s", "sub p50", "sub p99", "e2e/s",
        "e2e p50", "e2e p99", "peak RSS",
    ];
    let num = |v: &serde_json::Value, k: &str, digits: usize| -> String {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .map_or_else(|| "-".to_owned(), |x| format!("{x:.digits$}"))
    };
    let text_of = |v: &serde_json::Value, k: &str| -> String {
        match v.get(k) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => "-".to_owned(),
        }
    };
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for v in &rows {
        cells.push(vec![
            text_of(v, "label"),
            text_of(v, "mode"),
            text_of(v, "jobs"),
            text_of(v, "concurrency"),
            text_of(v, "photo"),
            text_of(v, "errors"),
            num(v, "submit_per_s", 1),
            num(v, "submit_p50_ms", 2),
            num(v, "submit_p99_ms", 2),
            num(v, "e2e_per_s", 1),
            num(v, "e2e_p50_ms", 1),
            num(v, "e2e_p99_ms", 1),
            v.get("peak_rss_mb")
                .and_then(serde_json::Value::as_f64)
                .map_or_else(|| "-".to_owned(), |x| format!("{x:.0} MiB")),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (n, r) in cells.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                // Text columns left-aligned, figures right-aligned.
                if i < 2 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if n == 0 {
            let total = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "{}", "-".repeat(total));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarizes_json_lines() {
        let dir = std::env::temp_dir().join(format!("bench-summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("r.jsonl");
        std::fs::write(
            &file,
            "noise\n{\"label\":\"embedded\",\"mode\":\"burst\",\"jobs\":10,\"concurrency\":2,\"photo\":true,\"errors\":0,\"submit_per_s\":123.45,\"e2e_per_s\":null,\"peak_rss_mb\":99.6}\n",
        )
        .unwrap();
        let table = summarize(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(table.contains("embedded"), "{table}");
        assert!(table.contains("123.5"), "{table}");
        assert!(table.contains("100 MiB"), "{table}");
        assert_eq!(table.lines().count(), 3, "{table}");
    }
}
