//! Command-line parsing and the entry point of every subcommand.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{FromArgMatches as _, Parser, Subcommand};
use shared::config::Config;
use shared::db::{KeyEmailLimits, KeyServiceLimits};
use shared::domain::EmailDomains;

use crate::app::{self, App, Roles};
use crate::client::{self, ClientCommand};

const SETTINGS: &str = "Settings are read from built-in defaults, then the TOML file given with --config \
(or QUIRE_CONFIG), then QUIRE_* environment variables; DATABASE_URL and REDIS_URL are accepted too. \
Run `quire settings` for the full list with defaults.";

/// The top-level help's epilogue: both halves of the binary.
const TOP_HELP: &str = concat!(
    "Serving commands (run, api, worker, scheduler, migrate, keys, audit) read the settings: ",
    "defaults, then --config FILE (or QUIRE_CONFIG), then QUIRE_* environment variables; ",
    "`quire settings` lists them. Client commands (login, submit, batch, jobs, status, top, ",
    "schedules, templates, cache, certificates, workflows) talk to a running quire over HTTP: --url / ",
    "QUIRE_URL, --key / QUIRE_KEY, or a profile saved by `quire login`."
);

/// The whole command line's definition, the one source of parsing, completions and the man
/// page.
fn definition() -> clap::Command {
    use clap::CommandFactory as _;
    Cli::command().after_help(format!("{TOP_HELP}\n\n{}", client::EXIT_CODES))
}

#[derive(Debug, Parser)]
#[command(
    name = "quire",
    version,
    about = "Document generation jobs: certificate and report PDFs, email, maintenance."
)]
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
    /// The scheduler only: enqueues maintenance jobs on their cron schedules and runs the rescuer (reads database_url, redis_url, schedules, rescue).
    #[command(after_help = SETTINGS)]
    Scheduler,
    /// Applies database migrations, then exits (reads database_url).
    #[command(after_help = SETTINGS)]
    Migrate,
    /// Manages API keys (reads database_url).
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Lists what people did through the dashboard that cannot be undone (jobs deleted):
    /// when, which key, what, whose; newest first (reads database_url).
    Audit {
        /// How many entries.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// Prints every setting: its environment variable, default and meaning (read from the
    /// configuration's own fields, so it cannot drift from what is read).
    Settings {
        /// The book's Markdown reference instead of text.
        #[arg(long)]
        markdown: bool,
        /// With --markdown: replace the reference inside FILE (between its markers) instead of
        /// printing it (`docs/src/settings.md`).
        #[arg(long, value_name = "FILE", requires = "markdown")]
        write: Option<PathBuf>,
    },
    /// Prints the OpenAPI document (JSON) that `quire api` serves at /v1/openapi.json with
    /// these settings, without starting anything (clients/generate.sh generates the official
    /// clients from it).
    #[command(after_help = SETTINGS)]
    Openapi,
    #[command(flatten)]
    Client(ClientCommand),
    /// Prints a shell completion script: `source <(quire completions bash)`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Prints the man page, or with --dir writes one per command (quire.1, quire-jobs-list.1,
    /// ...) into DIR.
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
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
        #[command(flatten)]
        email: EmailArgs,
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        networks: NetworkArgs,
    },
    /// Lists keys (never the keys themselves).
    List,
    /// Revokes a key by id; it stops working at once in every API process.
    Revoke { id: String },
    /// Changes a key's email and service limits (only the flags given); applies at once in
    /// every API process.
    Set {
        id: String,
        #[command(flatten)]
        email: EmailArgs,
        #[command(flatten)]
        service: ServiceArgs,
        #[command(flatten)]
        networks: NetworkArgs,
        /// Where notices about the key go (a webhook endpoint disabled after failures), or
        /// `none`.
        #[arg(long, value_name = "ADDRESS|none")]
        notify_email: Option<String>,
    },
}

/// Where a key's webhooks and callbacks may point besides public addresses.
#[derive(Debug, clap::Args)]
struct NetworkArgs {
    /// Networks the key's webhook and callback targets may resolve into although they are
    /// not public, comma-separated CIDRs (`10.0.0.0/8,fd00::/8`), besides the setting
    /// `webhooks.allow_networks`; `none` for none of its own.
    #[arg(long, value_name = "CIDRS|none", value_parser = parse_networks)]
    allow_networks: Option<shared::webhooks::Networks>,
}

fn parse_networks(raw: &str) -> Result<shared::webhooks::Networks, String> {
    match raw.trim() {
        "none" => Ok(shared::webhooks::Networks::default()),
        "" => Err("give CIDRs (10.0.0.0/8) or `none`".into()),
        list => shared::webhooks::Networks::parse(list),
    }
}

/// A key's own share of the service (see the `rate_limit.*` and `quotas.*` settings).
#[derive(Debug, clap::Args)]
struct ServiceArgs {
    /// Requests per `rate_limit.window_secs`: a number (0 = unlimited) or `default` (the
    /// setting `rate_limit.per_key`).
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    rate_limit: Option<Quota>,
    /// Jobs waiting or running at once: a number (0 = unlimited) or `default` (the setting
    /// `quotas.max_waiting_jobs`).
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    max_waiting_jobs: Option<Quota>,
    /// Turns among keys at the same priority, 1 to 100 (2 runs twice as many jobs as 1), or
    /// `default` (1).
    #[arg(long, value_name = "N|default", value_parser = parse_weight)]
    weight: Option<Quota>,
}

fn parse_weight(raw: &str) -> Result<Quota, String> {
    match parse_quota(raw) {
        Ok(Quota::Limit(n)) if !(1..=u64::from(shared::db::MAX_WEIGHT)).contains(&n) => Err(
            format!("a weight is 1 to {} or `default`", shared::db::MAX_WEIGHT),
        ),
        Err(_) => Err(format!(
            "a weight is 1 to {} or `default`",
            shared::db::MAX_WEIGHT
        )),
        ok => ok,
    }
}

impl ServiceArgs {
    /// `limits` with the flags given applied.
    fn apply(&self, mut limits: KeyServiceLimits) -> KeyServiceLimits {
        let set = |q: Quota| match q {
            Quota::Default => None,
            Quota::Limit(n) => Some(n),
        };
        if let Some(q) = self.rate_limit {
            limits.rate_limit = set(q);
        }
        if let Some(q) = self.max_waiting_jobs {
            limits.max_waiting_jobs = set(q);
        }
        if let Some(q) = self.weight {
            limits.weight = set(q);
        }
        limits
    }

    fn is_empty(&self) -> bool {
        self.rate_limit.is_none() && self.max_waiting_jobs.is_none() && self.weight.is_none()
    }
}

/// `1000/window 50000 waiting weight 1` style, `default` where the settings apply.
fn describe_service(limits: &KeyServiceLimits) -> String {
    let or_default = |n: Option<u64>| n.map_or("default".to_owned(), |n| n.to_string());
    format!(
        "rate {} waiting {} weight {}",
        or_default(limits.rate_limit),
        or_default(limits.max_waiting_jobs),
        limits.weight.unwrap_or(1)
    )
}

/// A key's own email limits (see the `email.*` settings for the defaults).
#[derive(Debug, clap::Args)]
struct EmailArgs {
    /// Most recipients per 60 minutes: a number (0 = unlimited) or `default` (the setting
    /// `email.quota_per_hour`).
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    email_quota_per_hour: Option<Quota>,
    /// Most recipients per 24 hours: a number (0 = unlimited) or `default` (the setting
    /// `email.quota_per_day`).
    #[arg(long, value_name = "N|default", value_parser = parse_quota)]
    email_quota_per_day: Option<Quota>,
    /// The only recipient domains (and their subdomains) the key may email, Reply-To and
    /// `notify` included, comma-separated; `any` lifts the restriction.
    #[arg(long, value_name = "DOMAINS|any", value_parser = parse_domains)]
    email_domains: Option<Domains>,
}

#[derive(Debug, Clone, Copy)]
enum Quota {
    Default,
    Limit(u64),
}

#[derive(Debug, Clone)]
enum Domains {
    Any,
    Only(EmailDomains),
}

fn parse_quota(raw: &str) -> Result<Quota, String> {
    if raw == "default" {
        return Ok(Quota::Default);
    }
    raw.parse()
        .map(Quota::Limit)
        .map_err(|_| "expected a number of recipients (0 = unlimited) or `default`".into())
}

fn parse_domains(raw: &str) -> Result<Domains, String> {
    if raw == "any" {
        return Ok(Domains::Any);
    }
    EmailDomains::parse(raw)
        .map(Domains::Only)
        .map_err(|e| e.to_string())
}

impl EmailArgs {
    /// `limits` with the flags given applied.
    fn apply(&self, mut limits: KeyEmailLimits) -> KeyEmailLimits {
        let quota = |q: Quota| match q {
            Quota::Default => None,
            Quota::Limit(n) => Some(n),
        };
        if let Some(q) = self.email_quota_per_hour {
            limits.quota_per_hour = quota(q);
        }
        if let Some(q) = self.email_quota_per_day {
            limits.quota_per_day = quota(q);
        }
        if let Some(d) = &self.email_domains {
            limits.domains = match d {
                Domains::Any => None,
                Domains::Only(list) => Some(list.clone()),
            };
        }
        limits
    }

    fn is_empty(&self) -> bool {
        self.email_quota_per_hour.is_none()
            && self.email_quota_per_day.is_none()
            && self.email_domains.is_none()
    }
}

/// `1000/h 10000/d any` style: a key's email limits for `keys list`.
fn describe_email(limits: &KeyEmailLimits) -> String {
    let quota = |q: Option<u64>| match q {
        None => "default".to_owned(),
        Some(0) => "unlimited".to_owned(),
        Some(n) => n.to_string(),
    };
    format!(
        "{}/h {}/d {}",
        quota(limits.quota_per_hour),
        quota(limits.quota_per_day),
        limits
            .domains
            .as_ref()
            .map_or("any".to_owned(), ToString::to_string)
    )
}

pub fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&definition().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
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
    match cli.command {
        Some(Command::Settings { markdown, write }) => return settings(markdown, write),
        // Clients of a running quire: no settings, no logging.
        Some(Command::Client(command)) => return client::run(command),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(shell, &mut definition(), "quire", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::Man { dir }) => {
            return match man_pages(dir.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("quire: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("quire: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Openapi) = cli.command {
        let doc = api::openapi::document(&config.limits);
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).expect("a JSON value prints")
        );
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("quire: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = cli.command.unwrap_or(Command::Run);
    if command.serves().is_some()
        && let Err(e) = config.check_serving()
    {
        eprintln!("quire: {e}");
        return ExitCode::from(2);
    }
    // Serving processes export traces (when OTEL_* asks); one-shot commands only log.
    let role = command.serves().map(|(roles, _)| roles.label());
    let telemetry = {
        let _inside = runtime.enter();
        shared::telemetry::init(config.log_format, role)
    };
    let outcome = runtime.block_on(execute(command, config));
    telemetry.shutdown();
    // Blocking threads still running (a render, a stuck lookup) must not keep the process
    // alive after its work has ended.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quire: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl Command {
    /// The roles a serving command runs, and whether it applies migrations first; `None` for
    /// one-shot commands.
    fn serves(&self) -> Option<(Roles, bool)> {
        match self {
            Command::Run => Some((Roles::ALL, true)),
            Command::Api => Some((Roles::API, false)),
            Command::Worker => Some((Roles::WORKER, false)),
            Command::Scheduler => Some((Roles::SCHEDULER, false)),
            _ => None,
        }
    }
}

async fn execute(command: Command, config: Config) -> anyhow::Result<()> {
    if let Some((roles, migrate)) = command.serves() {
        return serve(config, roles, migrate).await;
    }
    match command {
        Command::Run | Command::Api | Command::Worker | Command::Scheduler => {
            unreachable!("serving commands are handled above")
        }
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
                KeysCommand::Create {
                    name,
                    admin,
                    email,
                    service,
                    networks,
                } => {
                    let created = db.create_key(&name, admin).await?;
                    if !email.is_empty() {
                        let limits = email.apply(KeyEmailLimits::default());
                        db.set_key_email_limits(&created.key.id, &limits).await?;
                    }
                    if !service.is_empty() {
                        let limits = service.apply(KeyServiceLimits::default());
                        db.set_key_service_limits(&created.key.id, &limits).await?;
                    }
                    if let Some(networks) = &networks.allow_networks {
                        db.set_key_allow_networks(&created.key.id, networks).await?;
                    }
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
                        "{:<36}  {:<12}  {:<6}  {:<8}  {:<32}  {:<40}  NAME",
                        "ID",
                        "PREFIX",
                        "ADMIN",
                        "STATE",
                        "EMAIL (PER HOUR, DAY, DOMAINS)",
                        "SERVICE"
                    );
                    for key in db.list_keys().await? {
                        println!(
                            "{:<36}  {:<12}  {:<6}  {:<8}  {:<32}  {:<40}  {}",
                            key.id,
                            key.prefix,
                            key.is_admin,
                            if key.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "live"
                            },
                            describe_email(&key.email),
                            describe_service(&key.service),
                            if key.allow_networks.is_empty() {
                                key.name
                            } else {
                                format!("{} (networks {})", key.name, key.allow_networks)
                            }
                        );
                    }
                }
                KeysCommand::Revoke { id } => {
                    anyhow::ensure!(db.revoke_key(&id).await?, "no live key with id {id}");
                    println!("revoked {id}");
                }
                KeysCommand::Set {
                    id,
                    email,
                    service,
                    networks,
                    notify_email,
                } => {
                    anyhow::ensure!(
                        !email.is_empty()
                            || !service.is_empty()
                            || notify_email.is_some()
                            || networks.allow_networks.is_some(),
                        "nothing to change: give --email-quota-per-hour, --email-quota-per-day, \
                         --email-domains, --rate-limit, --max-waiting-jobs, --weight, \
                         --allow-networks or --notify-email"
                    );
                    if let Some(list) = &networks.allow_networks {
                        anyhow::ensure!(
                            db.set_key_allow_networks(&id, list).await?,
                            "no key with id {id}"
                        );
                        println!(
                            "{id}: targets may also reach {}",
                            if list.is_empty() {
                                "no networks of its own".to_owned()
                            } else {
                                list.to_string()
                            }
                        );
                    }
                    if let Some(address) = notify_email {
                        let address = match address.as_str() {
                            "none" => None,
                            a => Some(
                                shared::domain::EmailAddress::parse(a)
                                    .map_err(|e| anyhow::anyhow!("--notify-email: {e}"))?,
                            ),
                        };
                        anyhow::ensure!(
                            db.set_key_notify_email(&id, address.as_ref()).await?,
                            "no key with id {id}"
                        );
                        println!(
                            "{id}: notices to {}",
                            address.map_or("nobody".to_owned(), |a| a.to_string())
                        );
                    }
                    let key = db
                        .get_key(&id)
                        .await?
                        .with_context(|| format!("no key with id {id}"))?;
                    let limits = email.apply(key.email);
                    anyhow::ensure!(
                        db.set_key_email_limits(&id, &limits).await?,
                        "no key with id {id}"
                    );
                    let service = service.apply(key.service);
                    db.set_key_service_limits(&id, &service).await?;
                    println!(
                        "{id}: email {}; {}",
                        describe_email(&limits),
                        describe_service(&service)
                    );
                }
            }
            Ok(())
        }
        Command::Audit { limit } => {
            let (db, _) = app::connect(&config).await?;
            db.ensure_migrated().await?;
            println!(
                "{:<24}  {:<36}  {:<12}  {:<36}  {:<36}  DETAIL",
                "AT", "BY (KEY)", "ACTION", "SUBJECT", "OWNER"
            );
            for entry in db.audit_log(limit).await? {
                println!(
                    "{:<24}  {:<36}  {:<12}  {:<36}  {:<36}  {}",
                    entry.at.to_rfc3339(),
                    entry.actor,
                    entry.action,
                    entry.subject,
                    entry.owner_id.unwrap_or_default(),
                    entry.detail.unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Settings { .. }
        | Command::Openapi
        | Command::RenderSandbox { .. }
        | Command::Client(_)
        | Command::Completions { .. }
        | Command::Man { .. } => Ok(()),
    }
}

async fn serve(config: Config, roles: Roles, migrate: bool) -> anyhow::Result<()> {
    tracing::info!(config = %config.describe(), ?roles, "quire starting");
    let grace_secs = config.shutdown_grace_secs;
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
    // Past the grace period (and a margin for the drain), the process exits whatever still
    // runs: a plain thread, so it fires even if the runtime itself no longer makes progress.
    let hard_stop = std::time::Duration::from_secs(grace_secs + 15);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight work");
        token.cancel();
        std::thread::spawn(move || {
            std::thread::sleep(hard_stop);
            eprintln!(
                "quire: still running {} s after the shutdown request; exiting",
                hard_stop.as_secs()
            );
            std::process::exit(1);
        });
        // A second signal: stop now.
        shutdown_signal().await;
        eprintln!("quire: second shutdown request; exiting now");
        std::process::exit(1);
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

/// The man page on stdout, or one page per command and subcommand in `dir` (`quire.1`,
/// `quire-jobs-retry.1`, ...).
fn man_pages(dir: Option<&std::path::Path>) -> std::io::Result<()> {
    let command = definition();
    match dir {
        None => clap_mangen::Man::new(command).render(&mut std::io::stdout()),
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(command, dir)
        }
    }
}

/// `quire settings`: the reference of `shared::settings_reference`, printed or written into a
/// chapter.
fn settings(markdown: bool, write: Option<PathBuf>) -> ExitCode {
    use shared::settings_reference as reference;
    match (markdown, write) {
        (false, _) => print!("{}", reference::text()),
        (true, None) => print!("{}", reference::markdown()),
        (true, Some(path)) => {
            let spliced = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
                .and_then(|chapter| {
                    reference::splice(&chapter).ok_or_else(|| {
                        format!(
                            "{} has no reference markers (`{}` … `{}`)",
                            path.display(),
                            reference::BEGIN,
                            reference::END
                        )
                    })
                })
                .and_then(|text| {
                    std::fs::write(&path, text)
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))
                });
            if let Err(e) = spliced {
                eprintln!("quire: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
