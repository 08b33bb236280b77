//! The client commands: `quire submit|batch|jobs|status|top|…` talk to a running quire over
//! its HTTP API, so they work against any deployment, local or remote. Each file holds one
//! command group: its flags (clap) and what it does. None of them reads the server's
//! configuration: a client needs only a URL and a key (`profile`).

mod batch;
mod cache;
mod certificates;
mod failure;
mod http;
mod jobs;
mod output;
mod profile;
mod schedules;
mod status;
mod submit;
mod templates;
mod workflows;

use std::io::{BufRead as _, IsTerminal as _};
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;

pub use failure::EXIT_CODES;
use failure::Failure;
use http::Api;
use output::Out;
use profile::Conn;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Saves a URL and key as a profile (mode 0600 under the user's config directory) after
    /// checking them; the key is read from --key, QUIRE_KEY or the first line of stdin.
    Login {
        #[command(flatten)]
        conn: Conn,
    },
    /// Submits one certificate, report or email job (flags, or a JSON/YAML file).
    Submit(Box<Group<submit::SubmitCommand>>),
    /// Certificate batches: submit a CSV and follow it with a progress bar, status, download.
    Batch(Group<batch::BatchCommand>),
    /// Lists, inspects, follows, retries and cancels jobs.
    Jobs(Group<jobs::JobsCommand>),
    /// Queues per kind and status, workers and their heartbeats, schedules, health.
    Status {
        #[command(flatten)]
        conn: Conn,
    },
    /// `quire status`, refreshed in place until interrupted.
    Top {
        #[command(flatten)]
        conn: Conn,
        /// Seconds between refreshes.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
        interval: u64,
        /// Stop after this many refreshes (default: until interrupted).
        #[arg(long, value_name = "N")]
        iterations: Option<u64>,
    },
    /// Maintenance schedules (admin): list, run now, pause, resume.
    Schedules(Group<schedules::SchedulesCommand>),
    /// Certificate and report templates: list, show, push a directory, preview.
    Templates(Group<templates::TemplatesCommand>),
    /// The API's template cache: stats, health, clear (admin).
    Cache(Group<cache::CacheCommand>),
    /// Verify a certificate by its code, or revoke one.
    Certificates(Group<certificates::CertificatesCommand>),
    /// Workflows: submit a file and follow it with a progress bar, show, wait, cancel, list.
    Workflows(Group<workflows::WorkflowsCommand>),
}

/// A command group: the connection flags, then the group's own command.
#[derive(Debug, clap::Args)]
pub struct Group<C: Subcommand> {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    command: C,
}

impl ClientCommand {
    fn conn(&self) -> &Conn {
        match self {
            ClientCommand::Login { conn }
            | ClientCommand::Status { conn }
            | ClientCommand::Top { conn, .. } => conn,
            ClientCommand::Submit(g) => &g.conn,
            ClientCommand::Batch(g) => &g.conn,
            ClientCommand::Jobs(g) => &g.conn,
            ClientCommand::Schedules(g) => &g.conn,
            ClientCommand::Templates(g) => &g.conn,
            ClientCommand::Cache(g) => &g.conn,
            ClientCommand::Certificates(g) => &g.conn,
            ClientCommand::Workflows(g) => &g.conn,
        }
    }
}

/// Runs a client command to its exit code.
pub fn run(command: ClientCommand) -> ExitCode {
    let out = Out {
        json: command.conn().json,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("quire: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(command, out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report(out.json);
            failure.exit_code()
        }
    }
}

async fn execute(command: ClientCommand, out: Out) -> Result<(), Failure> {
    if let ClientCommand::Login { conn } = &command {
        return login(conn, out).await;
    }
    let (url, key) = command.conn().resolve()?;
    let api = Api::new(&url, key)?;
    match command {
        ClientCommand::Login { .. } => unreachable!("handled above"),
        ClientCommand::Submit(g) => submit::run(&api, out, g.command).await,
        ClientCommand::Batch(g) => batch::run(&api, out, g.command).await,
        ClientCommand::Jobs(g) => jobs::run(&api, out, g.command).await,
        ClientCommand::Status { .. } => status::status(&api, out).await,
        ClientCommand::Top {
            interval,
            iterations,
            ..
        } => status::top(&api, out, interval, iterations).await,
        ClientCommand::Schedules(g) => schedules::run(&api, out, g.command).await,
        ClientCommand::Templates(g) => templates::run(&api, out, g.command).await,
        ClientCommand::Cache(g) => cache::run(&api, out, g.command).await,
        ClientCommand::Certificates(g) => certificates::run(&api, out, g.command).await,
        ClientCommand::Workflows(g) => workflows::run(&api, out, g.command).await,
    }
}

async fn login(conn: &Conn, out: Out) -> Result<(), Failure> {
    let url = conn
        .url
        .clone()
        .unwrap_or_else(|| profile::DEFAULT_URL.to_owned());
    // Before the key is typed: it would be refused anyway.
    conn.check_transport(&url)?;
    let key = match &conn.key {
        Some(k) => k.clone(),
        None => {
            if std::io::stdin().is_terminal() {
                eprint!("API key for {url}: ");
            }
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Failure::Other(format!("reading the key from stdin: {e}")))?;
            line.trim().to_owned()
        }
    };
    if key.is_empty() {
        return Err(Failure::Usage(
            "no key: give --key, QUIRE_KEY or the key on stdin".into(),
        ));
    }
    // Checked before it is saved: a wrong URL or key is told now, not at the next command.
    let api = Api::new(&url, Some(key.clone()))?;
    api.get_query("/v1/jobs", &[("limit", "1".into())]).await?;
    let path = profile::save(
        &conn.profile,
        profile::Profile {
            url: url.clone(),
            key,
        },
    )?;
    out.either(
        &json!({"profile": conn.profile, "url": url, "path": path}),
        || {
            println!(
                "saved profile `{}` for {url} in {}",
                conn.profile,
                path.display()
            );
        },
    );
    Ok(())
}

/// `--kind`: what the API's job filter accepts (`JobKind`).
pub(crate) fn kinds() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(shared::domain::JobKind::ALL.map(|k| k.as_str()))
}

/// `--status`: what the API's job filter accepts (`JobStatus`).
pub(crate) fn statuses() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(shared::domain::JobStatus::ALL.map(|s| s.as_str()))
}

/// `--priority`: what a submission may ask for (`PriorityChoice`).
pub(crate) fn priorities() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(
        api::placement::PriorityChoice::ALL.map(|p| p.as_str()),
    )
}

/// The `--pdf-standard` values: exactly what the API accepts.
pub(crate) fn pdf_standards() -> clap::builder::PossibleValuesParser {
    // clap keeps `'static` names: these few strings live as long as the command line.
    let names = shared::domain::PdfStandard::names();
    clap::builder::PossibleValuesParser::new(names.into_iter().map(|n| &*n.leak()))
}

/// Parses `NAME=VALUE` (a string) or `NAME:=JSON` (any JSON value), as HTTPie does.
pub(crate) fn parse_assignment(raw: &str) -> Result<(String, serde_json::Value), String> {
    if let Some((name, json)) = raw.split_once(":=")
        && !name.contains('=')
    {
        let value = serde_json::from_str(json).map_err(|e| format!("`{name}:=`: not JSON: {e}"))?;
        return Ok((name.to_owned(), value));
    }
    let (name, value) = raw
        .split_once('=')
        .ok_or_else(|| format!("`{raw}`: expected NAME=VALUE or NAME:=JSON"))?;
    if name.is_empty() {
        return Err(format!("`{raw}`: the name is empty"));
    }
    Ok((name.to_owned(), serde_json::Value::String(value.to_owned())))
}
