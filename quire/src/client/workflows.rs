//! `quire workflows`: submit a workflow from a JSON file, show one (its steps and their
//! states), follow one to its end with a progress bar, cancel one, list them.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use comfy_table::Cell;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use reqwest::Method;
use serde_json::Value;

use super::failure::Failure;
use super::http::{Api, segment};
use super::output::{self, Out, text, when};

#[derive(Debug, Subcommand)]
pub enum WorkflowsCommand {
    /// Submits a workflow request (JSON: `{"name": …, "steps": [...]}`).
    Submit {
        file: PathBuf,
        /// The same key and body within the window answer the original workflow.
        #[arg(long, value_name = "KEY")]
        idempotency_key: Option<String>,
        /// Follow it with a progress bar until it ends (exit 1 unless it completed).
        #[arg(long)]
        wait: bool,
    },
    /// A workflow's steps, their states and outputs.
    Show { id: String },
    /// Follows a workflow with a progress bar until it ends (exit 1 unless it completed).
    Wait { id: String },
    /// Cancels a workflow's unfinished steps.
    Cancel { id: String },
    /// Workflows, newest first.
    List {
        /// `running`, `completed`, `failed` or `cancelled`.
        #[arg(long, value_parser = ["running", "completed", "failed", "cancelled"])]
        status: Option<String>,
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
    },
}

pub async fn run(api: &Api, out: Out, command: WorkflowsCommand) -> Result<(), Failure> {
    match command {
        WorkflowsCommand::Submit {
            file,
            idempotency_key,
            wait,
        } => {
            let body = std::fs::read(&file)
                .map_err(|e| Failure::Usage(format!("{}: {e}", file.display())))?;
            let mut request = api
                .request(Method::POST, "/v1/workflows")
                .header("Content-Type", "application/json");
            if let Some(key) = idempotency_key {
                request = request.header("Idempotency-Key", key);
            }
            let workflow = api.json(request.body(body)).await?;
            if !wait {
                out.either(&workflow, || print_workflow(&workflow));
                return Ok(());
            }
            if !out.json {
                eprintln!(
                    "workflow {}: {} jobs accepted",
                    text(&workflow["id"]),
                    text(&workflow["total"])
                );
            }
            follow(api, out, &text(&workflow["id"])).await
        }
        WorkflowsCommand::Show { id } => {
            let workflow = api.get(&path(&id)?).await?;
            out.either(&workflow, || print_workflow(&workflow));
            Ok(())
        }
        WorkflowsCommand::Wait { id } => follow(api, out, &id).await,
        WorkflowsCommand::Cancel { id } => {
            let workflow = api
                .json(api.request(Method::POST, &format!("{}/cancel", path(&id)?)))
                .await?;
            out.either(&workflow, || print_workflow(&workflow));
            Ok(())
        }
        WorkflowsCommand::List { status, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(s) = status {
                query.push(("status", s));
            }
            let page = api.get_query("/v1/workflows", &query).await?;
            out.either(&page, || {
                let mut table =
                    output::table(&["ID", "NAME", "STATUS", "DONE", "TOTAL", "CREATED"]);
                for w in page["workflows"].as_array().into_iter().flatten() {
                    table.add_row(vec![
                        Cell::new(text(&w["id"])),
                        Cell::new(text(&w["name"])),
                        Cell::new(text(&w["status"])),
                        Cell::new(text(&w["finished"])),
                        Cell::new(text(&w["total"])),
                        Cell::new(when(&w["created_at"])),
                    ]);
                }
                output::show(&table);
            });
            Ok(())
        }
    }
}

fn path(id: &str) -> Result<String, Failure> {
    Ok(format!("/v1/workflows/{}", segment("a workflow id", id)?))
}

/// Long-polls the workflow (the server answers when it ends, or every few seconds with its
/// progress) until it is no longer `running`; exit 1 unless it completed.
async fn follow(api: &Api, out: Out, id: &str) -> Result<(), Failure> {
    let path = path(id)?;
    let mut workflow = api.get(&path).await?;
    let total = workflow["total"].as_u64().unwrap_or_default();
    let bar = (!out.json && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40.cyan/blue} {pos}/{len} {percent}% ETA {eta} {msg}",
            )
            .expect("a valid template")
            .progress_chars("█▉▊▋▌▍▎▏ "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    while workflow["status"] == "running" {
        if let Some(bar) = &bar {
            bar.set_position(workflow["finished"].as_u64().unwrap_or_default());
        } else if !out.json {
            eprintln!("{}/{total} jobs ended", text(&workflow["finished"]));
        }
        workflow = api.get_query(&path, &[("wait", "5".into())]).await?;
    }
    if let Some(bar) = &bar {
        bar.set_position(workflow["finished"].as_u64().unwrap_or_default());
        bar.finish();
    }
    out.either(&workflow, || print_workflow(&workflow));
    match workflow["status"].as_str() {
        Some("completed") => Ok(()),
        other => Err(Failure::JobFailed(format!(
            "workflow {id} is {} (`quire workflows show {id}`)",
            other.unwrap_or("unknown")
        ))),
    }
}

fn print_workflow(workflow: &Value) {
    output::show(&output::record(&[
        ("workflow", text(&workflow["id"])),
        ("name", text(&workflow["name"])),
        ("status", text(&workflow["status"])),
        (
            "progress",
            format!(
                "{}/{} jobs ended",
                text(&workflow["finished"]),
                text(&workflow["total"])
            ),
        ),
        ("created", when(&workflow["created_at"])),
    ]));
    let Some(steps) = workflow["steps"].as_array() else {
        return;
    };
    let mut table = output::table(&["STEP", "KIND", "AFTER", "STATUS", "JOBS", "OUTPUT"]);
    for s in steps {
        let after = s["after"]
            .as_array()
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
            .unwrap_or_default();
        let output = match &s["job"] {
            Value::Null => String::new(),
            job if !job["error"].is_null() => format!("error: {}", text(&job["error"]["code"])),
            job => job["links"]["file"]
                .as_str()
                .filter(|_| job["status"] == "succeeded" && !job["result"].is_null())
                .unwrap_or_default()
                .to_owned(),
        };
        table.add_row(vec![
            Cell::new(text(&s["name"])),
            Cell::new(text(&s["kind"])),
            Cell::new(after),
            Cell::new(text(&s["status"])),
            Cell::new(text(&s["jobs"])),
            Cell::new(output),
        ]);
    }
    output::show(&table);
}
