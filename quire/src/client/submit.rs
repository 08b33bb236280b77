//! `quire submit certificate|report|email`: a request from a JSON or YAML file and/or flags
//! (flags set or override the file's members), then optionally followed to its end and its
//! file downloaded.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::Subcommand;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::failure::Failure;
use super::http::Api;
use super::jobs::{ended, follow, job_path, print_job};
use super::output::{self, Out, text};

#[derive(Debug, Subcommand)]
pub enum SubmitCommand {
    /// A certificate PDF (`POST /v1/certificates`).
    Certificate {
        #[command(flatten)]
        common: Common,
        /// Recipient's name, as printed.
        #[arg(long)]
        recipient: Option<String>,
        #[arg(long)]
        course: Option<String>,
        /// Template id or name [default: the service's default certificate template].
        #[arg(long)]
        template: Option<String>,
        /// YYYY-MM-DD [default: today].
        #[arg(long, value_name = "DATE")]
        issued_on: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long, value_name = "DATE")]
        expires_on: Option<String>,
        /// List it in the public registry.
        #[arg(long)]
        public: bool,
        /// A JPEG, PNG, GIF or WebP file.
        #[arg(long, value_name = "FILE")]
        photo: Option<PathBuf>,
        /// A JPEG, PNG, GIF or WebP file.
        #[arg(long, value_name = "FILE")]
        signature: Option<PathBuf>,
        /// A template field: NAME=TEXT, or NAME:=JSON for a number or other value (repeatable).
        #[arg(long = "field", value_name = "NAME=VALUE", value_parser = super::parse_assignment)]
        fields: Vec<(String, Value)>,
        /// The standards the PDF must meet (PDF/A, PDF/UA-1) [default: the template's].
        #[arg(long, value_parser = super::pdf_standards())]
        pdf_standard: Option<String>,
    },
    /// A commissioning report PDF (`POST /v1/reports`): its sections come from --file.
    Report {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        template: Option<String>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        document_number: Option<String>,
        #[arg(long)]
        revision: Option<String>,
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        client: Option<String>,
        #[arg(long)]
        site: Option<String>,
        #[arg(long)]
        system: Option<String>,
        #[arg(long)]
        scope: Option<String>,
        /// Render PDF/A-2b for archiving (the same as --pdf-standard a-2b).
        #[arg(long)]
        pdfa: bool,
        /// The standards the PDF must meet (PDF/A, PDF/UA-1) [default: the template's].
        #[arg(long, value_parser = super::pdf_standards())]
        pdf_standard: Option<String>,
    },
    /// An email from a template (`POST /v1/emails`).
    Email {
        #[command(flatten)]
        common: Common,
        /// Recipient (repeatable).
        #[arg(long)]
        to: Vec<String>,
        #[arg(long)]
        cc: Vec<String>,
        #[arg(long)]
        bcc: Vec<String>,
        #[arg(long)]
        reply_to: Option<String>,
        #[arg(long)]
        subject: Option<String>,
        /// Email template name, e.g. `certificate-ready`.
        #[arg(long)]
        template: Option<String>,
        /// A template variable: NAME=TEXT or NAME:=JSON (repeatable).
        #[arg(long = "var", value_name = "NAME=VALUE", value_parser = super::parse_assignment)]
        vars: Vec<(String, Value)>,
        /// Attach the PDF of this job (repeatable).
        #[arg(long = "attach", value_name = "JOB_ID")]
        attachments: Vec<String>,
    },
}

/// What every submission takes besides its own fields.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// The request as JSON or YAML (`-` reads stdin); flags set or override its members.
    #[arg(long, short, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Follow the job to its end (exit 1 unless it succeeds).
    #[arg(long)]
    wait: bool,
    /// Save the job's PDF here when it succeeds (implies --wait).
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    #[arg(long, value_parser = super::priorities())]
    priority: Option<String>,
    /// Run no sooner than this many seconds from now.
    #[arg(long, value_name = "SECS")]
    delay: Option<u64>,
    /// Run no sooner than this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    run_at: Option<String>,
    /// Where the finished job is POSTed.
    #[arg(long, value_name = "URL")]
    callback_url: Option<String>,
    /// The same key and request within the window answer the original job, never a second.
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
}

pub async fn run(api: &Api, out: Out, command: SubmitCommand) -> Result<(), Failure> {
    let (path, common, body) = match command {
        SubmitCommand::Certificate {
            common,
            recipient,
            course,
            template,
            issued_on,
            issuer,
            expires_on,
            public,
            photo,
            signature,
            fields,
            pdf_standard,
        } => {
            let mut body = common.base()?;
            set(&mut body, "pdf_standard", pdf_standard);
            set(&mut body, "recipient_name", recipient);
            set(&mut body, "course_name", course);
            set(&mut body, "template", template);
            set(&mut body, "issued_on", issued_on);
            set(&mut body, "issuer_name", issuer);
            set(&mut body, "expires_on", expires_on);
            if public {
                body.insert("is_public".into(), Value::Bool(true));
            }
            set(
                &mut body,
                "photo",
                photo.as_deref().map(base64_of).transpose()?,
            );
            set(
                &mut body,
                "signature",
                signature.as_deref().map(base64_of).transpose()?,
            );
            merge(&mut body, "fields", fields)?;
            ("/v1/certificates", common, body)
        }
        SubmitCommand::Report {
            common,
            template,
            title,
            document_number,
            revision,
            project,
            client,
            site,
            system,
            scope,
            pdfa,
            pdf_standard,
        } => {
            let mut body = common.base()?;
            set(&mut body, "pdf_standard", pdf_standard);
            for (name, value) in [
                ("template", template),
                ("title", title),
                ("document_number", document_number),
                ("revision", revision),
                ("project", project),
                ("client", client),
                ("site", site),
                ("system", system),
                ("scope", scope),
            ] {
                set(&mut body, name, value);
            }
            if pdfa {
                body.insert("pdfa".into(), Value::Bool(true));
            }
            ("/v1/reports", common, body)
        }
        SubmitCommand::Email {
            common,
            to,
            cc,
            bcc,
            reply_to,
            subject,
            template,
            vars,
            attachments,
        } => {
            let mut body = common.base()?;
            for (name, list) in [
                ("to", to),
                ("cc", cc),
                ("bcc", bcc),
                ("attachments", attachments),
            ] {
                if !list.is_empty() {
                    body.insert(name.into(), json!(list));
                }
            }
            set(&mut body, "reply_to", reply_to);
            set(&mut body, "subject", subject);
            set(&mut body, "template", template);
            merge(&mut body, "vars", vars)?;
            ("/v1/emails", common, body)
        }
    };
    let mut request = api.request(Method::POST, path).json(&Value::Object(body));
    if let Some(key) = &common.idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    let submitted = api.json(request).await?;
    let id = submitted["id"].as_str().unwrap_or_default().to_owned();
    if !common.wait && common.out.is_none() {
        out.either(&submitted, || {
            println!("{id} {}", text(&submitted["status"]));
        });
        return Ok(());
    }
    if !out.json {
        eprintln!("{id} {}: waiting for it to end", text(&submitted["status"]));
    }
    let job = follow(api, &id).await?;
    let mut saved = Value::Null;
    if let Some(file) = &common.out
        && job["status"] == "succeeded"
    {
        let bytes = api
            .download(
                api.request(Method::GET, &format!("{}/file", job_path(&id)?)),
                file,
            )
            .await?;
        saved = json!({"path": file, "bytes": bytes});
    }
    out.either(&json!({"job": job, "saved": saved}), || {
        print_job(&job);
        if let (Some(file), Some(bytes)) = (&common.out, saved["bytes"].as_u64()) {
            println!("saved {} ({})", file.display(), output::bytes(bytes));
        }
    });
    ended(std::slice::from_ref(&job))
}

impl Common {
    /// The request from --file (an object), with the placement flags set; `{}` without one.
    fn base(&self) -> Result<Map<String, Value>, Failure> {
        let mut body = match &self.file {
            Some(path) => read_request(path)?,
            None => Map::new(),
        };
        set(&mut body, "priority", self.priority.clone());
        set(&mut body, "run_at", self.run_at.clone());
        set(&mut body, "callback_url", self.callback_url.clone());
        if let Some(d) = self.delay {
            body.insert("delay_secs".into(), json!(d));
        }
        Ok(body)
    }
}

/// A JSON or YAML file (or stdin) holding one object.
pub fn read_request(path: &Path) -> Result<Map<String, Value>, Failure> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
            .map_err(|e| Failure::Other(format!("reading stdin: {e}")))?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?
    };
    // JSON is YAML, but JSON's own parser says where a JSON file is wrong more plainly.
    let parsed: Result<Value, String> = if text.trim_start().starts_with('{') {
        serde_json::from_str(&text).map_err(|e| e.to_string())
    } else {
        serde_norway::from_str(&text).map_err(|e| e.to_string())
    };
    match parsed {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Failure::Usage(format!(
            "{}: expected an object of request members",
            path.display()
        ))),
        Err(e) => Err(Failure::Usage(format!("{}: {e}", path.display()))),
    }
}

fn set(body: &mut Map<String, Value>, name: &str, value: Option<String>) {
    if let Some(v) = value {
        body.insert(name.into(), Value::String(v));
    }
}

/// Adds `pairs` to the object member `name` (created if absent).
fn merge(
    body: &mut Map<String, Value>,
    name: &str,
    pairs: Vec<(String, Value)>,
) -> Result<(), Failure> {
    if pairs.is_empty() {
        return Ok(());
    }
    let member = body
        .entry(name)
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(map) = member else {
        return Err(Failure::Usage(format!(
            "`{name}` in the file is not an object"
        )));
    };
    map.extend(pairs);
    Ok(())
}

fn base64_of(path: &Path) -> Result<String, Failure> {
    let bytes =
        std::fs::read(path).map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}
