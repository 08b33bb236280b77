//! Fault scenarios against real `quire` processes on PostgreSQL and Redis, each checked on the
//! jobs table afterwards. See `bench/faults.sh` and the README's "Fault tests".

pub mod check;
pub mod lab;
pub mod load;
pub mod scenarios;
pub mod services;

use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt as _;
use serde::Serialize;
use tokio::time::Instant;

use lab::{Lab, Setup};
use services::{PrivatePostgres, PrivateRedis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// 2,000 certificates, 3 workers, a random worker SIGKILLed every second and replaced.
    KillWorkers,
    /// A worker SIGSTOPped past its lease while holding jobs, taken over, then SIGCONTed.
    StaleWorker,
    /// Redis restarted empty in the middle of a run.
    RedisRestart,
    /// PostgreSQL stopped for 10 s in the middle of a run.
    PostgresStop,
    /// Two schedulers for minutes with a schedule every second.
    TwoSchedulers,
    /// SIGTERM to a worker running jobs shorter and longer than its grace period.
    Sigterm,
    /// Handlers that panic, time out, fail permanently or retryably; a poison pill that aborts
    /// its worker process at every attempt.
    HandlerFailures,
    /// A workflow of more than 500 steps in four layers (groups, chains, a chord, merges)
    /// while workers are SIGKILLed every second and Redis is flushed once.
    WorkflowKill,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::KillWorkers,
        Scenario::StaleWorker,
        Scenario::RedisRestart,
        Scenario::PostgresStop,
        Scenario::TwoSchedulers,
        Scenario::Sigterm,
        Scenario::HandlerFailures,
        Scenario::WorkflowKill,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::KillWorkers => "kill-workers",
            Scenario::StaleWorker => "stale-worker",
            Scenario::RedisRestart => "redis-restart",
            Scenario::PostgresStop => "postgres-stop",
            Scenario::TwoSchedulers => "two-schedulers",
            Scenario::Sigterm => "sigterm",
            Scenario::HandlerFailures => "handler-failures",
            Scenario::WorkflowKill => "workflow-kill",
        }
    }
}

/// Sizes and durations of the scenarios.
#[derive(Debug, Clone)]
pub struct Options {
    pub kill_jobs: usize,
    pub kill_every: Duration,
    pub kill_workers: usize,
    pub stale_jobs: usize,
    pub redis_jobs: usize,
    pub postgres_down: Duration,
    pub scheduler_run: Duration,
    /// Longest wait for a scenario's jobs to finish.
    pub finish_within: Duration,
}

/// One scenario's figures and verdict.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Outcome {
    pub scenario: String,
    /// Jobs the system promised to run (202s, inserted probes, schedule ticks).
    pub jobs: usize,
    /// Faults injected (SIGKILL, SIGSTOP/CONT, SIGTERM, restarts).
    pub signals: usize,
    pub signals_what: String,
    pub lost: usize,
    pub duplicates: usize,
    pub max_attempt: i64,
    pub allowed: i64,
    pub files: usize,
    pub seconds: f64,
    pub notes: Vec<String>,
    pub failures: Vec<String>,
    /// Where its logs and data were kept (failed, or --keep).
    pub kept: Option<String>,
}

impl Outcome {
    pub fn new(scenario: Scenario) -> Outcome {
        Outcome {
            scenario: scenario.name().to_owned(),
            ..Outcome::default()
        }
    }

    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Records a failure unless `ok`.
    pub fn expect(&mut self, ok: bool, failure: impl Into<String>) {
        if !ok {
            self.failures.push(failure.into());
        }
    }

    /// Takes in the certificate checks' figures and failures.
    pub fn add_verdict(&mut self, v: &check::Verdict) {
        self.jobs = v.promised;
        self.lost = v.lost.len();
        self.duplicates = v.duplicates.len();
        self.max_attempt = self.max_attempt.max(v.max_attempt);
        self.allowed = self.allowed.max(v.allowed);
        self.files = v.files_checked;
        self.failures.extend(v.failures());
        self.expect(
            v.succeeded == v.promised,
            format!("{} of {} jobs succeeded", v.succeeded, v.promised),
        );
    }
}

/// Runs one scenario in its own lab (and private servers), whatever happens: an error or a
/// panic is a failed outcome, and everything started is stopped.
pub async fn run(scenario: Scenario, setup: &Setup, options: &Options) -> Outcome {
    let started = Instant::now();
    eprintln!("\n==> {}", scenario.name());
    let mut outcome = match prepare_and_run(scenario, setup, options).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let mut o = Outcome::new(scenario);
            o.failures.push(format!("{e:#}"));
            o
        }
    };
    outcome.seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "<== {}: {} in {:.0} s",
        scenario.name(),
        if outcome.passed() { "PASS" } else { "FAIL" },
        outcome.seconds
    );
    outcome
}

/// The private servers a scenario restarts.
#[derive(Default)]
pub struct Services {
    pub redis: Option<PrivateRedis>,
    pub postgres: Option<PrivatePostgres>,
}

async fn prepare_and_run(
    scenario: Scenario,
    setup: &Setup,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let mut setup = setup.clone();
    let mut services = Services::default();
    match scenario {
        Scenario::RedisRestart | Scenario::WorkflowKill => {
            let dir = setup
                .work_root
                .join(format!("redis-{}", uuid::Uuid::new_v4().simple()));
            let redis = PrivateRedis::start(dir).await?;
            setup.redis_url = redis.url();
            services.redis = Some(redis);
        }
        Scenario::PostgresStop => {
            let pg = PrivatePostgres::start().await?;
            setup.admin_database_url = pg.admin_url();
            services.postgres = Some(pg);
        }
        _ => {}
    }
    let mut lab = Lab::new(scenario.name(), &setup).await?;
    let ran = AssertUnwindSafe(scenarios::run(scenario, &mut lab, &mut services, options))
        .catch_unwind()
        .await;
    let mut outcome = match ran {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(e)) => {
            let mut o = Outcome::new(scenario);
            o.failures.push(format!("{e:#}"));
            o
        }
        Err(panic) => {
            let mut o = Outcome::new(scenario);
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            o.failures.push(format!("panicked: {what}"));
            o
        }
    };
    // Processes that died without being told to are a failure whatever the rows say.
    for exit in lab.unexpected_exits() {
        outcome.failures.push(exit);
    }
    outcome.kept = lab
        .cleanup(outcome.passed())
        .await
        .map(|p| p.display().to_string());
    if let Some(redis) = services.redis.take() {
        redis.stop().await;
    }
    if let Some(pg) = services.postgres.take() {
        pg.remove().await;
    }
    Ok(outcome)
}

/// The summary table, then each scenario's notes and failures.
pub fn table(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | jobs | faults injected | lost | duplicates | max attempts / allowed | files checked | time | result |"
    );
    let _ = writeln!(out, "|---|---:|---|---:|---:|---|---:|---:|---|");
    for o in outcomes {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} / {} | {} | {:.0} s | {} |",
            o.scenario,
            o.jobs,
            if o.signals_what.is_empty() {
                o.signals.to_string()
            } else {
                o.signals_what.clone()
            },
            o.lost,
            o.duplicates,
            o.max_attempt,
            o.allowed,
            o.files,
            o.seconds,
            if o.passed() { "pass" } else { "FAIL" }
        );
    }
    for o in outcomes {
        if o.notes.is_empty() && o.failures.is_empty() && o.kept.is_none() {
            continue;
        }
        let _ = writeln!(out, "\n{}:", o.scenario);
        for n in &o.notes {
            let _ = writeln!(out, "  - {n}");
        }
        for f in &o.failures {
            let _ = writeln!(out, "  - FAILED: {f}");
        }
        if let Some(dir) = &o.kept {
            let _ = writeln!(out, "  - logs and data kept in {dir}");
        }
    }
    out
}
