//! `cache-warm`: compiles the current version of every public template into this worker's
//! cache, so the first job after a start or a template change does not pay for parsing.
//! (Each worker warms itself when it runs the job; the others warm on first use.)

use crate::error::JobError;
use crate::jobs::context::JobContext;

pub async fn run(ctx: &JobContext) -> Result<serde_json::Value, JobError> {
    let templates = ctx.db.list_templates(true).await?;
    let mut warmed = 0;
    let mut failed = Vec::new();
    for template in &templates {
        match ctx.templates.get(&template.id, template.version).await {
            Ok(_) => warmed += 1,
            // One broken template must not stop the others from warming.
            Err(e) => failed.push(format!("{}: {}", template.name, e.message)),
        }
    }
    Ok(serde_json::json!({ "warmed": warmed, "failed": failed }))
}
