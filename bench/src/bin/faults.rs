//! `faults <scenario>|all`: quire's delivery guarantees under faults, checked on the jobs
//! table. Every scenario starts real `quire` processes (api, workers, schedulers) on a fresh
//! PostgreSQL database and Redis namespace, injects its fault while work flows (SIGKILL,
//! SIGSTOP/SIGCONT, SIGTERM, a Redis restart, a PostgreSQL stop), waits until the jobs are
//! final, and checks rows, files and logs. It prints one table row per scenario and exits
//! non-zero if any failed. `bench/faults.sh` builds and runs it.

#[path = "../faults/mod.rs"]
mod faults;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use faults::lab::Setup;
use faults::{Options, Scenario};

#[derive(Debug, Parser)]
#[command(
    name = "faults",
    about = "Fault scenarios against real quire processes on PostgreSQL and Redis."
)]
struct Args {
    /// The scenario to run: kill-workers, stale-worker, redis-restart, postgres-stop,
    /// two-schedulers, sigterm, handler-failures, workflow-kill; or `all`, every one in that
    /// order.
    #[arg(default_value = "all", value_parser = selection)]
    scenario: Selection,
    /// The `quire` binary (default: the one next to this program).
    #[arg(long, env = "FAULTS_QUIRE")]
    quire: Option<PathBuf>,
    /// A PostgreSQL URL whose user may create databases; each scenario creates its own.
    #[arg(
        long,
        env = "FAULTS_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database_url: String,
    /// The shared Redis (each scenario uses its own namespace and deletes it).
    #[arg(
        long,
        env = "FAULTS_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    /// Where scenarios keep logs and data (removed when they pass, unless --keep).
    #[arg(long, env = "FAULTS_WORK_DIR")]
    work_dir: Option<PathBuf>,
    /// Keep every scenario's logs and data, also when it passes.
    #[arg(long)]
    keep: bool,
    /// Also write the outcomes as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// kill-workers: certificate jobs.
    #[arg(long, default_value_t = 2000)]
    kill_jobs: usize,
    /// kill-workers: worker processes running at once.
    #[arg(long, default_value_t = 3)]
    kill_workers: usize,
    /// kill-workers: milliseconds between kills.
    #[arg(long, default_value_t = 1000)]
    kill_every_ms: u64,
    /// stale-worker: certificate jobs streamed while the worker is stopped.
    #[arg(long, default_value_t = 400)]
    stale_jobs: usize,
    /// redis-restart: certificate jobs.
    #[arg(long, default_value_t = 1500)]
    redis_jobs: usize,
    /// postgres-stop: seconds PostgreSQL stays down.
    #[arg(long, default_value_t = 10)]
    postgres_down_secs: u64,
    /// two-schedulers: seconds both schedulers run.
    #[arg(long, default_value_t = 180)]
    scheduler_secs: u64,
    /// Longest wait for a scenario's jobs to finish, in seconds.
    #[arg(long, default_value_t = 600)]
    finish_within_secs: u64,
}

/// The scenarios named on the command line.
#[derive(Debug, Clone)]
struct Selection(Vec<Scenario>);

fn selection(name: &str) -> Result<Selection, String> {
    if name == "all" {
        return Ok(Selection(Scenario::ALL.to_vec()));
    }
    Scenario::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .map(|s| Selection(vec![s]))
        .ok_or_else(|| {
            let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
            format!("unknown scenario; one of: {}, all", names.join(", "))
        })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("faults: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(args));
    // Children and private servers are stopped by now; the runtime's drop ends the rest.
    drop(runtime);
    code
}

async fn run(args: Args) -> ExitCode {
    let quire = match args.quire.clone().or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("quire")))
    }) {
        Some(q) if q.exists() => q,
        other => {
            eprintln!("faults: no quire binary at {other:?}; build it or pass --quire");
            return ExitCode::FAILURE;
        }
    };
    let work_root = args
        .work_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("quire-faults"));
    if let Err(e) = std::fs::create_dir_all(&work_root) {
        eprintln!("faults: cannot create {}: {e}", work_root.display());
        return ExitCode::FAILURE;
    }
    let setup = Setup {
        quire,
        admin_database_url: args.database_url.clone(),
        redis_url: args.redis_url.clone(),
        work_root,
        keep: args.keep,
    };
    let options = Options {
        kill_jobs: args.kill_jobs,
        kill_every: Duration::from_millis(args.kill_every_ms),
        kill_workers: args.kill_workers.max(1),
        stale_jobs: args.stale_jobs,
        redis_jobs: args.redis_jobs,
        postgres_down: Duration::from_secs(args.postgres_down_secs),
        scheduler_run: Duration::from_secs(args.scheduler_secs),
        finish_within: Duration::from_secs(args.finish_within_secs),
    };
    let mut outcomes = Vec::new();
    for scenario in args.scenario.0.clone() {
        // Interrupted: dropping the scenario kills its processes and drops its database
        // (the labs' and servers' `Drop`), instead of leaving them running.
        let outcome = tokio::select! {
            outcome = faults::run(scenario, &setup, &options) => outcome,
            signal = stop_signal() => {
                eprintln!("faults: {signal}; stopped everything this run started");
                return ExitCode::from(130);
            }
        };
        if let Some(path) = &args.json {
            append_json(path, &outcome);
        }
        outcomes.push(outcome);
    }
    println!("\n{}", faults::table(&outcomes));
    if outcomes.iter().all(faults::Outcome::passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// SIGINT or SIGTERM.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "interrupted",
        _ = term.recv() => "terminated",
    }
}

fn append_json(path: &std::path::Path, outcome: &faults::Outcome) {
    use std::io::Write as _;
    let line = match serde_json::to_string(outcome) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("faults: {e}");
            return;
        }
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = written {
        eprintln!("faults: cannot write {}: {e}", path.display());
    }
}
