//! Command-line parsing and the entry point of every subcommand.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use shared::config::Config;

use crate::app::{self, App, Roles};

const SETTINGS: &str = "Settings are read from built-in defaults, then the TOML file given with --config \
(or QUIRE_CONFIG), then QUIRE_* environment variables; DATABASE_URL and REDIS_URL are accepted too. \
Run `quire settings` for the full list with defaults.";

#[derive(Debug, Parser)]
#[command(name = "quire", version, about = "Document generation jobs: certificate and report PDFs, email, maintenance.", after_help = SETTINGS)]
struct Cli {
    /// TOML configuration file (also QUIRE_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// API + worker + scheduler in one process; applies migrations and, on an empty database,
    /// creates and prints an admin key. With nothing configured: SQLite under ./data.
    #[command(after_help = SETTINGS)]
    Run,
    /// The HTTP API only (reads bind, database_url, redis_url, limits, public_base_url).
    #[command(after_help = SETTINGS)]
    Api,
    /// A worker only: consumes the queues and runs jobs (reads database_url, redis_url, queues, retry, rescue, cleanup, health, smtp).
    #[command(after_help = SETTINGS)]
    Worker,
    /// The scheduler only: enqueues maintenance jobs on their cron schedules (reads database_url, redis_url, schedules).
    #[command(after_help = SETTINGS)]
    Scheduler,
    /// Applies database migrations, then exits (reads database_url).
    #[command(after_help = SETTINGS)]
    Migrate,
    /// Manages API keys (reads database_url).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Prints every setting with its default.
    Settings,
    /// Internal: one bounded render, request on stdin, response on stdout (shared::sandbox).
    #[command(name = "__render-sandbox", hide = true)]
    RenderSandbox {
        /// Address-space limit the process sets on itself.
        #[arg(long)]
        memory_bytes: u64,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Creates a key and prints it alone on the last line of stdout; it is never shown again.
    Create {
        #[arg(long)]
        name: String,
        /// The key may manage keys, templates and queues and sees every job.
        #[arg(long)]
        admin: bool,
    },
    /// Lists keys (never the keys themselves).
    List,
    /// Revokes a key by id; it stops working within seconds.
    Revoke { id: String },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::RenderSandbox { memory_bytes }) = cli.command {
        // No configuration, no logging: stdout is the protocol.
        return match worker::render::serve_stdio(memory_bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("quire: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Settings) = cli.command {
        println!("{}", Config::settings_help());
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("quire: {e}");
            return ExitCode::from(2);
        }
    };
    shared::telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("quire: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command.unwrap_or(Command::Run), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quire: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Run => serve(config, Roles::ALL, true).await,
        Command::Api => serve(config, Roles::API, false).await,
        Command::Worker => serve(config, Roles::WORKER, false).await,
        Command::Scheduler => serve(config, Roles::SCHEDULER, false).await,
        Command::Migrate => {
            let (db, _) = app::connect(&config).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys(keys) => {
            let (db, _) = app::connect(&config).await?;
            db.ensure_migrated().await?;
            match keys {
                KeysCommand::Create { name, admin } => {
                    let created = db.create_key(&name, admin).await?;
                    println!(
                        "created key {} ({}{})",
                        created.key.id,
                        created.key.name,
                        if admin { ", admin" } else { "" }
                    );
                    println!("{}", created.secret.expose());
                }
                KeysCommand::List => {
                    println!(
                        "{:<36}  {:<12}  {:<6}  {:<8}  NAME",
                        "ID", "PREFIX", "ADMIN", "STATE"
                    );
                    for key in db.list_keys().await? {
                        println!(
                            "{:<36}  {:<12}  {:<6}  {:<8}  {}",
                            key.id,
                            key.prefix,
                            key.is_admin,
                            if key.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "live"
                            },
                            key.name
                        );
                    }
                }
                KeysCommand::Revoke { id } => {
                    anyhow::ensure!(db.revoke_key(&id).await?, "no live key with id {id}");
                    println!("revoked {id}");
                }
            }
            Ok(())
        }
        Command::Settings | Command::RenderSandbox { .. } => Ok(()),
    }
}

async fn serve(config: Config, roles: Roles, migrate: bool) -> anyhow::Result<()> {
    tracing::info!(config = %config.describe(), ?roles, "quire starting");
    let app = App::start(config, roles, migrate)
        .await
        .context("starting")?;
    if let Some(key) = &app.first_admin_key {
        // Printed once, on stdout, where the operator sees it; never logged.
        println!();
        println!("  An admin API key was created for this new database. It is shown only now:");
        println!();
        println!("    {}", key.expose());
        println!();
        println!(
            "  Use it as `Authorization: Bearer <key>`; create more with `quire keys create`."
        );
        println!();
    }
    if let Some(addr) = app.addr {
        tracing::info!("api on http://{addr}");
    }
    let token = app.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight work");
        token.cancel();
    });
    app.wait().await
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
