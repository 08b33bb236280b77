//! A workflow request validated into an order: the graph first (names, `after`, cycles,
//! depth, what each step may read from its parents, the limits in `workflows.*`), every
//! problem with its path as one 422; then each step's own content through the same checks a
//! single submission gets (`certificate_order`, `report_order`, `email_order`, a batch's rows),
//! their problems' paths under `steps[i]`. The result is one job row per step (one per row of
//! a batch step), with its parents in order, for `Db::insert_workflow`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use shared::db::{EmailCharge, NewCertificate, NewJob, NewStep, ParentFailure};
use shared::domain::{JobId, PdfStandard, Priority};
use shared::jobs::{AttachmentRef, BundleOp, BundlePayload};
use shared::templates::TemplateKind;
use utoipa::ToSchema;

use crate::certificate_order::{self, BatchItem, CertificateRequest};
use crate::email_order::{self, EmailRequest};
use crate::error::{ApiError, FieldError};
use crate::extract::Caller;
use crate::placement::{Placement, PriorityChoice};
use crate::problems::Problems;
use crate::report_order::ReportRequest;
use crate::state::AppState;
use crate::submit::{new_job, resolve_template, resolve_template_of};

/// Longest step name.
const MAX_STEP_NAME: usize = 64;
/// Longest workflow name.
const MAX_NAME: usize = 200;
/// Longest bundle file name.
const MAX_FILENAME: usize = 120;

/// A workflow: steps, each a job that runs once the steps it names in `after` have ended.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRequest {
    /// A label for people, at most 200 characters.
    #[schema(max_length = 200, example = "November certificates")]
    pub name: Option<String>,
    /// 1 to `workflows.max_named_steps` (default 1,000) steps, in any order.
    #[schema(min_items = 1)]
    pub steps: Vec<StepRequest>,
}

/// One step. Exactly the field named by `kind` is given: `certificate` (as
/// `POST /v1/certificates`), `report` (as `POST /v1/reports`), `email` (as `POST /v1/emails`,
/// but `attachments` name steps of its `after`), `batch` (certificates from rows, JSON or
/// CSV: one job per row), `merge` (its parents' PDFs as one, in the order of `after`, a
/// batch's rows in row order) or `archive` (a ZIP of its parents' files with a manifest).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    /// Unique in the workflow: 1 to 64 letters, digits, `.`, `_` or `-`.
    #[schema(pattern = "^[A-Za-z0-9._-]{1,64}$", example = "certificates")]
    pub name: String,
    pub kind: StepKind,
    /// The steps it runs after; none: it starts at once.
    #[serde(default)]
    pub after: Vec<String>,
    /// What a parent that ended `dead` or `cancelled` does to this step: `cancel` (the
    /// default: this step is cancelled with `parent_failed` and the workflow fails) or
    /// `continue` (it runs once every parent ended, with the outputs that exist).
    #[serde(default)]
    pub on_parent_failure: OnParentFailure,
    /// `low`, `bulk` or `normal` (the default; a batch's rows default to `bulk`); `high`
    /// with an admin key only.
    pub priority: Option<PriorityChoice>,
    pub certificate: Option<CertificateRequest>,
    pub report: Option<ReportRequest>,
    pub email: Option<EmailRequest>,
    pub batch: Option<StepBatch>,
    pub merge: Option<BundleRequest>,
    pub archive: Option<BundleRequest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Certificate,
    Report,
    Email,
    Batch,
    Merge,
    Archive,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Certificate => "certificate",
            StepKind::Report => "report",
            StepKind::Email => "email",
            StepKind::Batch => "batch",
            StepKind::Merge => "merge",
            StepKind::Archive => "archive",
        }
    }

    /// Its jobs end with a PDF.
    fn makes_pdf(self) -> bool {
        matches!(
            self,
            StepKind::Certificate | StepKind::Report | StepKind::Batch | StepKind::Merge
        )
    }

    /// Its jobs end with a file (a PDF, or an archive's ZIP).
    fn makes_file(self) -> bool {
        self.makes_pdf() || self == StepKind::Archive
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnParentFailure {
    #[default]
    Cancel,
    Continue,
}

/// A batch step: certificates from rows, as `POST /v1/certificates/batch` takes them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepBatch {
    /// Template name or id; default `classic`.
    pub template: Option<String>,
    /// List every certificate in the public registry.
    #[serde(default)]
    pub is_public: bool,
    /// The standards every PDF meets (default: the template's).
    #[schema(schema_with = crate::schemas::pdf_standard_or_null)]
    pub pdf_standard: Option<PdfStandard>,
    /// The rows as JSON; or `csv`.
    pub rows: Option<Vec<BatchItem>>,
    /// The rows as CSV text with a header row of field names; or `rows`.
    pub csv: Option<String>,
}

/// A `merge` or `archive` step's file.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleRequest {
    /// The file's name in downloads and attachments (default `<step>.pdf` or `<step>.zip`).
    #[schema(max_length = 120)]
    pub filename: Option<String>,
}

/// A checked workflow: its jobs in submission order, the graph to draw, and the email
/// recipients to charge.
pub(crate) struct WorkflowOrder {
    pub name: Option<String>,
    pub steps: Vec<NewStep>,
    /// Input files per job (certificate images, a report's content).
    pub inputs: Vec<(JobId, crate::report_order::InputFiles)>,
    pub graph: serde_json::Value,
    pub charge: Option<EmailCharge>,
}

/// The graph's facts once it is known to be sound.
struct Graph {
    /// Index of each step by name.
    index: HashMap<String, usize>,
    names: Vec<String>,
    kinds: Vec<StepKind>,
    policies: Vec<OnParentFailure>,
    /// Parents' indexes per step, in `after` order.
    parents: Vec<Vec<usize>>,
    /// Jobs per step (a batch: its rows).
    jobs: Vec<usize>,
}

/// Checks the request and builds every job. Steps' contents are checked as their own
/// submissions are (images in the check pool); the first step with problems answers.
pub(crate) async fn check(
    state: &AppState,
    caller: &Caller,
    req: WorkflowRequest,
) -> Result<WorkflowOrder, ApiError> {
    let limits = &state.config.workflows;
    let mut p = Problems::default();
    let name = req
        .name
        .as_deref()
        .and_then(|n| p.text("name", n, MAX_NAME));
    let mut steps = req.steps;
    if steps.is_empty() || steps.len() > limits.max_named_steps {
        p.add(
            "steps",
            if steps.is_empty() {
                "missing_field"
            } else {
                "too_many_steps"
            },
            format!(
                "a workflow has 1 to {} steps (workflows.max_named_steps); got {}",
                limits.max_named_steps,
                steps.len()
            ),
        );
        return Err(p.take_error());
    }
    // Batch rows as CSV become rows now, so counting and checking see one form.
    for (i, step) in steps.iter_mut().enumerate() {
        if let Some(batch) = step.batch.as_mut()
            && let Some(csv) = batch.csv.take()
        {
            if batch.rows.is_some() {
                p.add(
                    format!("steps[{i}].batch.csv"),
                    "conflicting_fields",
                    "give `rows` or `csv`, not both",
                );
                continue;
            }
            match certificate_order::parse_csv(csv.as_bytes()) {
                Ok(rows) => batch.rows = Some(rows),
                Err(e) => p.add(
                    format!("steps[{i}].batch.csv"),
                    "invalid_csv",
                    e.to_string(),
                ),
            }
        }
    }
    let graph = check_graph(&steps, limits, &mut p);
    if p.count() > 0 {
        return Err(p.take_error());
    }
    let graph = graph.ok_or_else(|| ApiError::Internal("graph checked without a result".into()))?;

    // Ids first: a step's parents are known before the parent's own content is checked.
    let ids: Vec<Vec<JobId>> = graph
        .jobs
        .iter()
        .map(|n| (0..*n).map(|_| JobId::new()).collect())
        .collect();
    let mut tolerated = vec![true; steps.len()];
    let mut has_children = vec![false; steps.len()];
    for (child, parents) in graph.parents.iter().enumerate() {
        for parent in parents {
            has_children[*parent] = true;
            if steps[child].on_parent_failure == OnParentFailure::Cancel {
                tolerated[*parent] = false;
            }
        }
    }

    let mut out = Vec::with_capacity(graph.jobs.iter().sum());
    let mut inputs = Vec::new();
    let mut recipients = 0u64;
    let mut charge: Option<EmailCharge> = None;
    for (i, step) in steps.into_iter().enumerate() {
        let at = |field: &str| format!("steps[{i}].{field}");
        let parents: Vec<JobId> = graph.parents[i]
            .iter()
            .flat_map(|p| ids[*p].iter().copied())
            .collect();
        let default = if step.kind == StepKind::Batch {
            Priority::Bulk
        } else {
            Priority::Normal
        };
        let placement = Placement::check(caller, default, step.priority, None, None)?;
        let policy = match step.on_parent_failure {
            OnParentFailure::Cancel => ParentFailure::Cancel,
            OnParentFailure::Continue => ParentFailure::Continue,
        };
        let mut push = |mut job: NewJob, certificate: Option<NewCertificate>| {
            placement.apply(&mut job);
            out.push(NewStep {
                job,
                certificate,
                name: step.name.clone(),
                parents: parents.clone(),
                on_parent_failure: policy,
                tolerated: has_children[i] && tolerated[i],
            });
        };
        match step.kind {
            StepKind::Certificate => {
                let req = step.certificate.unwrap_or_default();
                no_schedule(
                    &at("certificate"),
                    req.run_at.is_some() || req.delay_secs.is_some(),
                )?;
                if req.notify.is_some() {
                    return Err(not_here(&at("certificate.notify"), "an `email` step"));
                }
                let template = resolve_template(state, caller, req.template.as_deref())
                    .await
                    .map_err(|e| under(e, &at("certificate")))?;
                let order = certificate_order::check(state, &caller.key_id, &template, req)
                    .await
                    .map_err(|e| under(e, &at("certificate")))?;
                let mut job = new_job(state, caller, &order.payload, None);
                job.id = ids[i][0];
                if !order.inputs.is_empty() {
                    inputs.push((job.id, order.inputs));
                }
                push(job, Some(order.certificate));
            }
            StepKind::Batch => {
                let batch = step.batch.unwrap_or(StepBatch {
                    template: None,
                    is_public: false,
                    pdf_standard: None,
                    rows: None,
                    csv: None,
                });
                let template = resolve_template(state, caller, batch.template.as_deref())
                    .await
                    .map_err(|e| under(e, &at("batch")))?;
                let rows = batch.rows.unwrap_or_default();
                let (is_public, pdf_standard) = (batch.is_public, batch.pdf_standard);
                let (config, checked) = (state.config.clone(), template.clone());
                let prefix = at("batch");
                let orders = state
                    .checks
                    .run(&caller.key_id, move || {
                        let mut orders = Vec::with_capacity(rows.len());
                        let mut errors: Vec<FieldError> = Vec::new();
                        for (r, row) in rows.iter().enumerate() {
                            match certificate_order::validate(
                                &config.limits,
                                &checked,
                                row.request(is_public, pdf_standard),
                            ) {
                                Ok(order) => orders.push(order),
                                Err(e) => {
                                    let e = under(e, &format!("{prefix}.rows[{r}]"));
                                    match e {
                                        ApiError::InvalidMany { errors: more, .. } => {
                                            errors.extend(more)
                                        }
                                        other => return Err(other),
                                    }
                                }
                            }
                        }
                        if !errors.is_empty() {
                            let total = errors.len();
                            return Err(ApiError::fields_of(errors, total));
                        }
                        Ok(orders)
                    })
                    .await??;
                for (r, order) in orders.into_iter().enumerate() {
                    let mut job = new_job(state, caller, &order.payload, None);
                    job.id = ids[i][r];
                    if !order.inputs.is_empty() {
                        inputs.push((job.id, order.inputs));
                    }
                    push(job, Some(order.certificate));
                }
            }
            StepKind::Report => {
                let req = step.report.unwrap_or_default();
                no_schedule(
                    &at("report"),
                    req.run_at.is_some() || req.delay_secs.is_some(),
                )?;
                if req.notify.is_some() {
                    return Err(not_here(&at("report.notify"), "an `email` step"));
                }
                let template = resolve_template_of(
                    state,
                    caller,
                    req.template.as_deref(),
                    TemplateKind::Report,
                )
                .await
                .map_err(|e| under(e, &at("report")))?;
                let (standard, max_text) = (
                    req.standard(&template),
                    state.config.limits.max_report_text_bytes,
                );
                if req.text_bytes() > max_text {
                    return Err(ApiError::invalid_with_code(
                        "too_long",
                        at("report"),
                        format!(
                            "a report may hold at most {max_text} bytes of text \
                             (limits.max_report_text_bytes)"
                        ),
                    ));
                }
                let config = state.config.clone();
                let order = state
                    .checks
                    .run(&caller.key_id, move || {
                        crate::report_order::validate(&config.limits, req)
                    })
                    .await?
                    .map_err(|e| under(e, &at("report")))?;
                let (payload, files) = order.into_job(&template.record, standard, None)?;
                let mut job = new_job(state, caller, &payload, None);
                job.id = ids[i][0];
                inputs.push((job.id, files));
                push(job, None);
            }
            StepKind::Email => {
                let req = step.email.unwrap_or_default();
                no_schedule(
                    &at("email"),
                    req.run_at.is_some() || req.delay_secs.is_some(),
                )?;
                email_order::free_text_allowed(state, caller, &req)?;
                // The attachments name parents (checked with the graph): their outputs,
                // read when the email is sent.
                let attachments: Vec<AttachmentRef> = req
                    .attachments
                    .iter()
                    .flat_map(|name| {
                        let parent = graph.index[name.trim()];
                        let ext = if graph.kinds[parent] == StepKind::Archive {
                            "zip"
                        } else {
                            "pdf"
                        };
                        let many = ids[parent].len() > 1;
                        ids[parent]
                            .iter()
                            .enumerate()
                            .map(move |(r, id)| AttachmentRef {
                                job_id: *id,
                                filename: if many {
                                    format!("{}-{}.{ext}", name.trim(), r + 1)
                                } else {
                                    format!("{}.{ext}", name.trim())
                                },
                                bytes: 0,
                            })
                    })
                    .collect();
                let order =
                    email_order::check(state, caller, req, attachments, true, Problems::default())
                        .map_err(|e| under(e, &at("email")))?;
                let mut payload = order.payload;
                payload.from_parents = true;
                recipients += order.charge.recipients;
                charge = Some(EmailCharge {
                    recipients,
                    ..order.charge
                });
                let mut job = new_job(state, caller, &payload, None);
                job.id = ids[i][0];
                push(job, None);
            }
            StepKind::Merge | StepKind::Archive => {
                let (op, ext, spec) = match step.kind {
                    StepKind::Merge => (BundleOp::Merge, "pdf", step.merge),
                    _ => (BundleOp::Archive, "zip", step.archive),
                };
                let filename = match spec.and_then(|s| s.filename) {
                    Some(f) => p
                        .text(
                            &at(&format!("{}.filename", step.kind.as_str())),
                            &f,
                            MAX_FILENAME,
                        )
                        .unwrap_or_default(),
                    None => format!("{}.{ext}", step.name),
                };
                let payload = BundlePayload { op, filename };
                let mut job = new_job(state, caller, &payload, None);
                job.id = ids[i][0];
                push(job, None);
            }
        }
    }
    p.into_result()?;
    Ok(WorkflowOrder {
        name,
        steps: out,
        inputs,
        graph: graph.to_json(),
        charge,
    })
}

impl Graph {
    /// The graph as the answer draws it: named steps with their kind, parents, policy and
    /// job count (no job rows are read for it).
    fn to_json(&self) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = (0..self.jobs.len())
            .map(|i| {
                let after: Vec<&str> = self.parents[i]
                    .iter()
                    .map(|p| self.names[*p].as_str())
                    .collect();
                serde_json::json!({
                    "name": self.names[i],
                    "kind": self.kinds[i].as_str(),
                    "after": after,
                    "on_parent_failure": self.policies[i],
                    "jobs": self.jobs[i],
                })
            })
            .collect();
        serde_json::json!({ "steps": steps })
    }
}

/// A step name: 1 to 64 letters, digits, `.`, `_` or `-`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_STEP_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The graph's soundness, every problem listed: names, each kind's body, `after` (unknown
/// names, cycles, depth), what each step reads from its parents, and the limits. `None`
/// when a problem was found.
fn check_graph(
    steps: &[StepRequest],
    limits: &shared::config::WorkflowSettings,
    p: &mut Problems,
) -> Option<Graph> {
    let before = p.count();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        let field = format!("steps[{i}].name");
        if !valid_name(&step.name) {
            p.add(
                field,
                "invalid_name",
                "a step name is 1 to 64 letters, digits, `.`, `_` or `-`",
            );
        } else if let Some(first) = index.insert(step.name.clone(), i) {
            index.insert(step.name.clone(), first);
            p.add(
                field,
                "duplicate_step",
                format!("`{}` names steps[{first}] already", step.name),
            );
        }
        let bodies = [
            (
                "certificate",
                step.certificate.is_some(),
                StepKind::Certificate,
            ),
            ("report", step.report.is_some(), StepKind::Report),
            ("email", step.email.is_some(), StepKind::Email),
            ("batch", step.batch.is_some(), StepKind::Batch),
            ("merge", step.merge.is_some(), StepKind::Merge),
            ("archive", step.archive.is_some(), StepKind::Archive),
        ];
        for (name, given, kind) in bodies {
            let field = format!("steps[{i}].{name}");
            // Merge and archive have only options: their body may be left out.
            let optional = matches!(kind, StepKind::Merge | StepKind::Archive);
            if kind == step.kind && !given && !optional {
                p.add(
                    field,
                    "missing_field",
                    format!("a `{name}` step needs its `{name}` object"),
                );
            } else if kind != step.kind && given {
                p.add(
                    field,
                    "unexpected_field",
                    format!(
                        "`{name}` belongs to `{name}` steps; this one is `{}`",
                        step.kind.as_str()
                    ),
                );
            }
        }
    }

    let mut jobs = vec![1usize; steps.len()];
    for (i, step) in steps.iter().enumerate() {
        if let Some(batch) = &step.batch {
            let rows = batch.rows.as_ref().map_or(0, Vec::len);
            if rows == 0 && batch.csv.is_none() {
                p.add(
                    format!("steps[{i}].batch.rows"),
                    "empty_batch",
                    "a batch step needs at least one row",
                );
            }
            jobs[i] = rows.max(1);
        }
    }
    let total: usize = jobs.iter().sum();
    if total > limits.max_steps {
        p.add(
            "steps",
            "too_many_steps",
            format!(
                "this workflow makes {total} jobs (a batch step one per row); at most {} \
                 (workflows.max_steps)",
                limits.max_steps
            ),
        );
    }

    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (i, step) in steps.iter().enumerate() {
        for (j, name) in step.after.iter().enumerate() {
            let field = format!("steps[{i}].after[{j}]");
            match index.get(name.trim()) {
                None => p.add(
                    field,
                    "unknown_step",
                    format!(
                        "no step is named `{}`",
                        name.chars().take(64).collect::<String>()
                    ),
                ),
                Some(&k) if k == i => p.add(field, "cycle", "a step cannot run after itself"),
                Some(&k) if parents[i].contains(&k) => {
                    p.add(field, "duplicate_field", format!("`{name}` is named twice"))
                }
                Some(&k) => parents[i].push(k),
            }
        }
    }

    // Kahn's algorithm: what is never freed is on a cycle (or after one). Depth is the
    // longest chain, counted in the same pass.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
    for (child, ps) in parents.iter().enumerate() {
        for parent in ps {
            children[*parent].push(child);
        }
    }
    let mut depth = vec![1usize; steps.len()];
    let mut ready: Vec<usize> = (0..steps.len()).filter(|i| waiting[*i] == 0).collect();
    let mut done = 0;
    while let Some(i) = ready.pop() {
        done += 1;
        for &c in &children[i] {
            depth[c] = depth[c].max(depth[i] + 1);
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(c);
            }
        }
    }
    if done < steps.len() {
        let stuck: Vec<&str> = (0..steps.len())
            .filter(|i| waiting[*i] > 0)
            .map(|i| steps[i].name.as_str())
            .take(10)
            .collect();
        let first = (0..steps.len()).find(|i| waiting[*i] > 0).unwrap_or(0);
        p.add(
            format!("steps[{first}].after"),
            "cycle",
            format!(
                "the steps form a cycle: {} wait for each other",
                stuck.join(", ")
            ),
        );
    } else if let Some(deepest) = depth.iter().max()
        && *deepest > limits.max_depth
    {
        p.add(
            "steps",
            "too_deep",
            format!(
                "the longest chain of steps is {deepest} long; at most {} (workflows.max_depth)",
                limits.max_depth
            ),
        );
    }

    for (i, step) in steps.iter().enumerate() {
        match step.kind {
            StepKind::Merge | StepKind::Archive => {
                if parents[i].is_empty() {
                    p.add(
                        format!("steps[{i}].after"),
                        "missing_field",
                        format!(
                            "a `{}` step works on the steps it runs after: name at least one",
                            step.kind.as_str()
                        ),
                    );
                }
                let pdf = step.kind == StepKind::Merge;
                for (j, parent) in parents[i].iter().enumerate() {
                    let kind = steps[*parent].kind;
                    if (pdf && !kind.makes_pdf()) || !kind.makes_file() {
                        p.add(
                            format!("steps[{i}].after[{j}]"),
                            "output_not_available",
                            format!(
                                "`{}` is a `{}` step: it ends with no {} to {}",
                                steps[*parent].name,
                                kind.as_str(),
                                if pdf { "PDF" } else { "file" },
                                step.kind.as_str()
                            ),
                        );
                    }
                }
                let parts: usize = parents[i].iter().map(|p| jobs[*p]).sum();
                if parts > limits.max_merge_parts {
                    p.add(
                        format!("steps[{i}].after"),
                        "too_many_parts",
                        format!(
                            "{parts} parts; a `{}` step takes at most {} \
                             (workflows.max_merge_parts)",
                            step.kind.as_str(),
                            limits.max_merge_parts
                        ),
                    );
                }
            }
            StepKind::Email => {
                let Some(email) = &step.email else { continue };
                let mut files = 0;
                for (j, name) in email.attachments.iter().enumerate() {
                    let field = format!("steps[{i}].email.attachments[{j}]");
                    let parent = index.get(name.trim()).copied();
                    match parent.filter(|k| parents[i].contains(k)) {
                        None => p.add(
                            field,
                            "output_not_available",
                            format!(
                                "`{}` is not a step this email runs after: an email sees only \
                                 its parents' outputs (name it in `after`)",
                                name.chars().take(64).collect::<String>()
                            ),
                        ),
                        Some(k) if !steps[k].kind.makes_file() => p.add(
                            field,
                            "output_not_available",
                            format!(
                                "`{}` is an `email` step: it ends with no file",
                                steps[k].name
                            ),
                        ),
                        Some(k) => files += jobs[k],
                    }
                }
                if files > email_order::MAX_ATTACHMENTS {
                    p.add(
                        format!("steps[{i}].email.attachments"),
                        "too_many",
                        format!(
                            "{files} files; an email carries at most {} (merge or archive them \
                             first)",
                            email_order::MAX_ATTACHMENTS
                        ),
                    );
                }
            }
            _ => {}
        }
    }
    if p.count() > before {
        return None;
    }
    Some(Graph {
        index,
        names: steps.iter().map(|s| s.name.clone()).collect(),
        kinds: steps.iter().map(|s| s.kind).collect(),
        policies: steps.iter().map(|s| s.on_parent_failure).collect(),
        parents,
        jobs,
    })
}

/// A step runs when its parents end: it cannot be scheduled too.
fn no_schedule(field: &str, scheduled: bool) -> Result<(), ApiError> {
    if scheduled {
        return Err(ApiError::invalid_with_code(
            "not_in_workflow",
            field,
            "a workflow step starts when its parents end: `run_at` and `delay_secs` have no \
             place in it",
        ));
    }
    Ok(())
}

/// A field a step does not take, and what does the same in a workflow.
fn not_here(field: &str, instead: &str) -> ApiError {
    ApiError::invalid_with_code(
        "not_in_workflow",
        field,
        format!("not in a workflow step: use {instead}"),
    )
}

/// A step's own problems with their paths under the step (`steps[2].certificate.` and the
/// field); other errors as they are.
fn under(e: ApiError, prefix: &str) -> ApiError {
    let join = |field: &str| {
        if field.is_empty() {
            prefix.to_owned()
        } else {
            format!("{prefix}.{field}")
        }
    };
    match e {
        ApiError::Invalid {
            code,
            message,
            field,
        } => ApiError::Invalid {
            code,
            message,
            field: Some(join(field.as_deref().unwrap_or(""))),
        },
        ApiError::InvalidMany {
            code,
            message,
            errors,
            diagnostics,
        } => ApiError::InvalidMany {
            code,
            message,
            errors: errors
                .into_iter()
                .map(|mut e| {
                    e.field = join(&e.field);
                    e
                })
                .collect(),
            diagnostics,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, kind: StepKind, after: &[&str]) -> StepRequest {
        StepRequest {
            name: name.into(),
            kind,
            after: after.iter().map(|s| s.to_string()).collect(),
            on_parent_failure: OnParentFailure::Cancel,
            priority: None,
            certificate: (kind == StepKind::Certificate).then(CertificateRequest::default),
            report: None,
            email: (kind == StepKind::Email).then(EmailRequest::default),
            batch: None,
            merge: None,
            archive: None,
        }
    }

    fn limits() -> shared::config::WorkflowSettings {
        shared::config::WorkflowSettings {
            max_steps: 100,
            max_named_steps: 100,
            max_depth: 3,
            max_merge_parts: 2,
        }
    }

    fn problems(steps: &[StepRequest]) -> Vec<(String, &'static str)> {
        let mut p = Problems::default();
        let graph = check_graph(steps, &limits(), &mut p);
        match p.into_result() {
            Ok(()) => {
                assert!(graph.is_some());
                Vec::new()
            }
            Err(ApiError::InvalidMany { errors, .. }) => {
                errors.into_iter().map(|e| (e.field, e.code)).collect()
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_chord_is_sound() {
        let steps = [
            step("a", StepKind::Certificate, &[]),
            step("b", StepKind::Certificate, &[]),
            step("m", StepKind::Merge, &["a", "b"]),
        ];
        assert_eq!(problems(&steps), vec![]);
    }

    #[test]
    fn cycles_unknown_names_and_depth_are_named() {
        let cycle = [
            step("a", StepKind::Certificate, &["c"]),
            step("b", StepKind::Merge, &["a"]),
            step("c", StepKind::Merge, &["b"]),
        ];
        assert_eq!(problems(&cycle), vec![("steps[0].after".into(), "cycle")]);
        let unknown = [step("a", StepKind::Certificate, &["nope"])];
        assert_eq!(
            problems(&unknown),
            vec![("steps[0].after[0]".into(), "unknown_step")]
        );
        let deep = [
            step("a", StepKind::Certificate, &[]),
            step("b", StepKind::Merge, &["a"]),
            step("c", StepKind::Merge, &["b"]),
            step("d", StepKind::Merge, &["c"]),
        ];
        assert_eq!(problems(&deep), vec![("steps".into(), "too_deep")]);
    }

    #[test]
    fn a_step_reads_only_outputs_its_parents_will_have() {
        let mut email = step("e", StepKind::Email, &["a"]);
        email.email.as_mut().unwrap().attachments = vec!["a".into(), "b".into()];
        let steps = [
            step("a", StepKind::Certificate, &[]),
            step("b", StepKind::Certificate, &[]),
            email,
            step("m", StepKind::Merge, &["e"]),
        ];
        assert_eq!(
            problems(&steps),
            vec![
                (
                    "steps[2].email.attachments[1]".into(),
                    "output_not_available"
                ),
                ("steps[3].after[0]".into(), "output_not_available"),
            ]
        );
    }

    #[test]
    fn parts_per_merge_are_bounded() {
        let steps = [
            step("a", StepKind::Certificate, &[]),
            step("b", StepKind::Certificate, &[]),
            step("c", StepKind::Certificate, &[]),
            step("m", StepKind::Merge, &["a", "b", "c"]),
        ];
        assert_eq!(
            problems(&steps),
            vec![("steps[3].after".into(), "too_many_parts")]
        );
    }
}
