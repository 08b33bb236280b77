//! Why a client command did not succeed, its exit code, and how it is told: the API's own
//! message and the inputs at fault, plainly, on stderr (and as JSON on stdout with `--json`).

use std::process::ExitCode;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

/// The exit codes scripts can rely on (also in `quire --help`).
pub const EXIT_CODES: &str = "Exit codes of the client commands: 0 done; 1 a job failed (dead or \
cancelled; for a batch, any of its jobs), or another error; 2 usage (bad flags, or the API refused \
the request as invalid); 3 quire unreachable or unavailable; 4 the key is missing, wrong or not \
allowed.";

#[derive(Debug)]
pub enum Failure {
    /// Bad flags or input, found before or by the API (exit 2).
    Usage(String),
    /// No answer, or the service is unavailable (exit 3).
    Unreachable(String),
    /// The key is missing, unknown, revoked or not allowed this (exit 4).
    Auth(String),
    /// The API refused the request: its status and error body.
    Api { status: u16, body: Value },
    /// A job ended other than `succeeded` (exit 1); with `--json` the command has printed it.
    JobFailed(String),
    /// Anything else, e.g. a local file that cannot be written (exit 1).
    Other(String),
    /// One already told (e.g. per job of several): only its exit code remains.
    Quiet(Box<Failure>),
}

impl Failure {
    /// The failure an unsuccessful answer stands for.
    pub async fn from_response(response: Response) -> Failure {
        let status = response.status();
        let url = response.url().clone();
        let body = response.json::<Value>().await.ok().filter(|b| {
            b.get("error")
                .and_then(|e| e.get("message"))
                .is_some_and(Value::is_string)
        });
        let Some(body) = body else {
            // Not quire's answer (a proxy, another server at that URL).
            let message = format!(
                "{}{}: HTTP {status} without quire's error body (is --url quire's address?)",
                url.origin().ascii_serialization(),
                url.path()
            );
            return if status.is_server_error() {
                Failure::Unreachable(message)
            } else {
                Failure::Other(message)
            };
        };
        match status {
            StatusCode::UNAUTHORIZED => Failure::Auth(format!(
                "{} (give a key with --key, QUIRE_KEY or `quire login`)",
                message_of(&body)
            )),
            StatusCode::FORBIDDEN => Failure::Auth(message_of(&body)),
            _ => Failure::Api {
                status: status.as_u16(),
                body,
            },
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code_number())
    }

    fn code_number(&self) -> u8 {
        match self {
            Failure::Quiet(inner) => inner.code_number(),
            Failure::JobFailed(_) | Failure::Other(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Unreachable(_) => 3,
            Failure::Auth(_) => 4,
            Failure::Api { status, .. } => match status {
                502..=504 => 3,
                400..=499 => 2,
                _ => 1,
            },
        }
    }

    /// Tells the failure: lines on stderr; with `json`, also the error body on stdout.
    pub fn report(&self, json: bool) {
        match self {
            Failure::Api { body, .. } => {
                eprintln!("quire: {}", message_of(body));
                for line in details(body) {
                    eprintln!("  {line}");
                }
            }
            Failure::Usage(m)
            | Failure::Unreachable(m)
            | Failure::JobFailed(m)
            | Failure::Auth(m)
            | Failure::Other(m) => eprintln!("quire: {m}"),
            Failure::Quiet(_) => return,
        }
        // A failed job's JSON is the command's own output (the job, the batch), already
        // printed: one document on stdout, always.
        if json && !matches!(self, Failure::JobFailed(_)) {
            println!("{}", self.body());
        }
    }

    /// The failure as the API's error body: the API's own, or one in its shape.
    pub fn body(&self) -> Value {
        match self {
            Failure::Api { body, .. } => body.clone(),
            Failure::Quiet(inner) => inner.body(),
            other => json!({"error": {"code": other.code(), "message": other.message()}}),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Failure::Usage(_) => "usage",
            Failure::Unreachable(_) => "unreachable",
            Failure::Auth(_) => "unauthorized",
            Failure::JobFailed(_) => "job_failed",
            Failure::Other(_) | Failure::Api { .. } | Failure::Quiet(_) => "failed",
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Api { body, .. } => message_of(body),
            Failure::Quiet(inner) => inner.message(),
            Failure::Usage(m)
            | Failure::Unreachable(m)
            | Failure::Auth(m)
            | Failure::JobFailed(m)
            | Failure::Other(m) => m.clone(),
        }
    }

    /// Whether the API answered `404`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Failure::Api { status: 404, .. })
    }
}

fn message_of(body: &Value) -> String {
    let error = &body["error"];
    let message = error["message"].as_str().unwrap_or("request refused");
    match error["field"].as_str() {
        Some(field) if !message.contains(field) => format!("{message} (at `{field}`)"),
        _ => message.to_owned(),
    }
}

/// One line per listed problem (batch rows, fields) and typst diagnostic.
fn details(body: &Value) -> Vec<String> {
    let error = &body["error"];
    let mut lines = Vec::new();
    for e in error["errors"].as_array().into_iter().flatten() {
        let place = match (e["row"].as_u64(), e["field"].as_str()) {
            (Some(row), Some(field)) => format!("row {row}, {field}"),
            (None, Some(field)) => field.to_owned(),
            (Some(row), None) => format!("row {row}"),
            (None, None) => String::new(),
        };
        lines.push(format!(
            "{place}: {}",
            e["message"].as_str().unwrap_or_default()
        ));
    }
    for d in error["diagnostics"].as_array().into_iter().flatten() {
        let at = match (d["path"].as_str(), d["line"].as_u64(), d["column"].as_u64()) {
            (Some(p), Some(l), Some(c)) => format!("{p}:{l}:{c}: "),
            (Some(p), _, _) => format!("{p}: "),
            _ => String::new(),
        };
        lines.push(format!("{at}{}", d["message"].as_str().unwrap_or_default()));
        for hint in d["hints"].as_array().into_iter().flatten() {
            lines.push(format!("  hint: {}", hint.as_str().unwrap_or_default()));
        }
    }
    lines
}
