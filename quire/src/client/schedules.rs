//! `quire schedules` (admin): the maintenance schedules, run one now, pause, resume.

use clap::Subcommand;
use comfy_table::Cell;
use serde_json::{Value, json};

use super::failure::Failure;
use super::http::{Api, segment};
use super::output::{self, Out, status_cell, text, when};

#[derive(Debug, Subcommand)]
pub enum SchedulesCommand {
    /// Every schedule: task, cron, next run, last run, state.
    List,
    /// Runs a schedule's task now, outside its ticks (works while paused).
    Run {
        name: String,
        /// Follow the run to its end (exit 1 unless it succeeds).
        #[arg(long)]
        wait: bool,
    },
    /// Its ticks enqueue nothing until resumed.
    Pause {
        name: String,
    },
    Resume {
        name: String,
    },
}

pub async fn run(api: &Api, out: Out, command: SchedulesCommand) -> Result<(), Failure> {
    match command {
        SchedulesCommand::List => {
            let list = api.get("/v1/schedules").await?;
            out.either(&list, || {
                print_schedules(
                    list["schedules"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default(),
                );
            });
            Ok(())
        }
        SchedulesCommand::Run { name, wait } => {
            let submitted = api
                .post(
                    &format!("/v1/schedules/{}/run", segment("a schedule name", &name)?),
                    &json!({}),
                )
                .await?;
            let id = text(&submitted["id"]);
            if !wait {
                out.either(&submitted, || {
                    println!("{name}: job {id} {}", text(&submitted["status"]))
                });
                return Ok(());
            }
            let job = super::jobs::follow(api, &id).await?;
            out.either(&job, || super::jobs::print_job(&job));
            super::jobs::ended(std::slice::from_ref(&job))
        }
        SchedulesCommand::Pause { name } => switch(api, out, &name, "pause").await,
        SchedulesCommand::Resume { name } => switch(api, out, &name, "resume").await,
    }
}

async fn switch(api: &Api, out: Out, name: &str, action: &str) -> Result<(), Failure> {
    let schedule = api
        .post(
            &format!(
                "/v1/schedules/{}/{action}",
                segment("a schedule name", name)?
            ),
            &json!({}),
        )
        .await?;
    out.either(&schedule, || {
        println!("{name}: {}", state(&schedule));
    });
    Ok(())
}

fn state(s: &Value) -> &'static str {
    if s["enabled"] != true {
        "disabled"
    } else if s["paused"] == true {
        "paused"
    } else {
        "active"
    }
}

pub fn print_schedules(schedules: &[Value]) {
    let mut table = output::table(&[
        "SCHEDULE",
        "TASK",
        "CRON",
        "ZONE",
        "NEXT RUN",
        "LAST RUN",
        "LAST STATUS",
        "STATE",
    ]);
    for s in schedules {
        table.add_row(vec![
            Cell::new(text(&s["name"])),
            Cell::new(text(&s["task"])),
            Cell::new(text(&s["cron"])),
            Cell::new(text(&s["timezone"])),
            Cell::new(when(&s["next_run_at"])),
            Cell::new(when(&s["last_run"]["created_at"])),
            status_cell(s["last_run"]["status"].as_str().unwrap_or("-")),
            status_cell(state(s)),
        ]);
    }
    output::show(&table);
}
