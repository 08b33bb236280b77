//! `bench`: a load generator for the quire API.
//!
//! Four modes:
//! - `burst`: submit `--jobs` certificate jobs from `--concurrency` clients sharing one
//!   connection pool, then wait (polling the job listing) until every job is final; reports
//!   submission latency and rate, end-to-end certificates/s and enqueue-to-done latency.
//! - `serial`: one job at a time: submit, poll that job until it is final, next.
//! - `submit-only`: like `burst` without waiting for the jobs (pure submission throughput).
//! - `batch`: `--jobs` rows as one CSV `POST /v1/certificates/batch`; reports how long the
//!   batch took to be accepted (the 202) and to finish (polling `GET /v1/batches/{id}`), then
//!   downloads the ZIP archive (size, time).
//!
//! Job timings come from the server's rows (`created_at`, `started_at`, `finished_at`), so
//! they do not include the polling delay of the bench itself.

pub mod api;
pub mod photo;
pub mod report;
pub mod rss;
mod runner;
pub mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// How the one-line measuring tools (`report_render`, `cert_ceiling`) end: their JSON line on
/// standard output, or their error on standard error and a failure status.
pub fn exit_with_line(tool: &str, line: anyhow::Result<String>) -> ExitCode {
    match line {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{tool}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// N jobs from C concurrent clients, then wait until all are final.
    Burst,
    /// One job at a time: submit, wait until it is final, next.
    Serial,
    /// N jobs from C concurrent clients; do not wait for them.
    SubmitOnly,
    /// N rows as one CSV batch; wait until complete, then download the archive.
    Batch,
}

#[derive(Debug, Parser)]
#[command(
    name = "bench",
    about = "Load generator for the quire API: submission and end-to-end throughput and latency.",
    after_help = "Examples:\n  bench --key $KEY --jobs 2000 --concurrency 32 --photo\n  bench --key $KEY --mode serial --jobs 200\n  bench --key $KEY --mode submit-only --jobs 10000 --concurrency 64 --json\n  bench --key $KEY --mode batch --jobs 10000 --rss-pid $API --rss-pid $WORKER\n  bench --summarize results.jsonl"
)]
pub struct Args {
    /// Base URL of the API.
    #[arg(long, env = "BENCH_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// API key (a non-admin key is best: the listing then holds only this key's jobs).
    #[arg(
        long,
        env = "BENCH_KEY",
        required_unless_present_any = ["summarize", "write_body"],
        hide_env_values = true
    )]
    pub key: Option<String>,
    /// Number of jobs to submit (batch: rows in the batch, at most the API's 10,000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub jobs: u64,
    /// Concurrent submitting clients (burst and submit-only).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub concurrency: u64,
    /// Include a generated 400x500 JPEG photo (~40 KB) in every request.
    #[arg(long)]
    pub photo: bool,
    #[arg(long, value_enum, default_value_t = Mode::Burst)]
    pub mode: Mode,
    /// submit-only: no worker should be consuming (e.g. only `quire api` runs); warn if any of
    /// the jobs was picked up during the run, i.e. the figures are not API-only.
    #[arg(long)]
    pub no_worker_expected: bool,
    /// A process whose peak (VmHWM) and current (VmRSS) resident memory is reported at the
    /// end, and its RSS at the start (repeatable), e.g. the API and the worker.
    #[arg(long = "rss-pid", value_name = "PID")]
    pub rss_pids: Vec<u32>,
    /// Reset the peak RSS of the --rss-pid processes at start (writes 5 to
    /// /proc/PID/clear_refs), so the peak is this run's, not the process lifetime's.
    #[arg(long)]
    pub reset_peak_rss: bool,
    /// Longest wait for the jobs to finish (burst, serial, batch), in seconds; batch: also
    /// the longest archive download.
    #[arg(long, default_value_t = 600)]
    pub timeout_secs: u64,
    /// Polling interval in milliseconds of the batch (batch, default 100), and the pause
    /// after a failed wait (serial). Burst and serial runs do not poll: they learn that jobs
    /// ended from `GET /v1/events` and `?wait=` (the watcher costs the servers nothing).
    #[arg(long)]
    pub poll_ms: Option<u64>,
    /// Timeout of one HTTP request, in seconds.
    #[arg(long, default_value_t = 60)]
    pub request_timeout_secs: u64,
    /// Also print the figures as one JSON line (last line of stdout).
    #[arg(long)]
    pub json: bool,
    /// A label carried into the JSON line (e.g. the deployment).
    #[arg(long)]
    pub label: Option<String>,
    /// Print a table of the JSON lines in FILE (as written with --json) and exit.
    #[arg(long, value_name = "FILE")]
    pub summarize: Option<PathBuf>,
    /// Write the JSON body of one certificate request (with the photo when --photo is given)
    /// to FILE and exit: the body `bench/wrk/request.lua` sends.
    #[arg(long, value_name = "FILE")]
    pub write_body: Option<PathBuf>,
}

impl Args {
    pub fn poll_interval(&self) -> Duration {
        let default = match self.mode {
            Mode::Serial => 1,
            Mode::Burst | Mode::SubmitOnly => 25,
            Mode::Batch => 100,
        };
        Duration::from_millis(self.poll_ms.unwrap_or(default).max(1))
    }
}

/// Runs the bench; the process exit code.
pub fn main(args: Args) -> ExitCode {
    if let Some(file) = &args.summarize {
        return match report::summarize(file) {
            Ok(table) => {
                print!("{table}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("bench: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(file) = &args.write_body {
        return match runner::write_body(file, args.photo) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("bench: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(runner::run(&args)) {
        Ok(report) => {
            print!("{}", report.table());
            if args.json {
                match serde_json::to_string(&report) {
                    Ok(line) => println!("{line}"),
                    Err(e) => {
                        eprintln!("bench: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
