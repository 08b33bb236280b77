//! `POST /v1/reports`: a structured SAT report, checked field by field (every problem named
//! by its path, e.g. `sections[3].rows[12].result`), its images decoded, its content stored
//! as the job's `report.json` input, then queued on `reports`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::jobs::Notify;
use shared::reports::{
    self, Block, Equipment, Figure, Outcome, PunchItem, ReportContent, ReportPayload, ResultRow,
    Severity, Signoff, TestSection, TextSection,
};
use shared::templates::TemplateKind;
use utoipa::ToSchema;

use crate::AppState;
use crate::email_limits::notify_charge;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, Caller};
use crate::offload::off_executor;
use crate::problems::Problems;
use crate::submit::{
    self, Idempotency, Submission, SubmissionResponses, image, resolve_template_of,
};
use crate::views::SubmittedView;

/// Longest short text (names, numbers, table cells' item), in characters.
const SHORT: usize = 200;
/// Longest table cell or caption.
const CELL: usize = 2_000;
/// Longest free text (scope, a section's body).
const BODY: usize = 20_000;
/// Most rows in the equipment list, the punch list, text sections and sign-offs each.
const LIST: usize = 500;

/// A Site Acceptance Test report to render.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Report template name or id; default `sat`.
    pub template: Option<String>,
    /// Produce PDF/A-2b.
    #[serde(default)]
    pub pdfa: bool,
    /// Default "Site Acceptance Test Report".
    #[schema(max_length = 200)]
    pub title: Option<String>,
    #[schema(example = "SAT-2026-0042", max_length = 200)]
    pub document_number: String,
    #[schema(example = "B", max_length = 200)]
    pub revision: String,
    #[schema(max_length = 200)]
    pub project: String,
    #[schema(max_length = 200)]
    pub client: String,
    #[schema(max_length = 200)]
    pub site: String,
    /// The system under test.
    #[schema(max_length = 200)]
    pub system: String,
    /// `YYYY-MM-DD`; default today (UTC).
    #[schema(format = Date)]
    pub issued_on: Option<String>,
    #[schema(format = Date)]
    pub test_start: Option<String>,
    /// Not before `test_start` (else 422).
    #[schema(format = Date)]
    pub test_end: Option<String>,
    /// Free text: blank lines separate paragraphs, `- ` starts a bullet, `**bold**`,
    /// `_italic_`. Never interpreted as typst markup. Line breaks and tabs are the only
    /// control characters allowed.
    #[serde(default)]
    #[schema(
        max_length = 20000,
        pattern = "^(?:[^\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]|\\r\\n)*$"
    )]
    pub scope: String,
    #[serde(default)]
    #[schema(max_items = 500)]
    pub equipment: Vec<EquipmentInput>,
    /// At most `limits.max_report_sections` (default 500), with at most
    /// `limits.max_report_rows` (default 5000) result rows over all of them (else 422).
    #[serde(default)]
    #[schema(max_items = 500)]
    pub sections: Vec<SectionInput>,
    #[serde(default)]
    #[schema(max_items = 500)]
    pub punch_list: Vec<PunchInput>,
    #[serde(default)]
    #[schema(max_items = 500)]
    pub text_sections: Vec<TextSectionInput>,
    /// At most `limits.max_report_images` (default 40) images and signatures together, at
    /// most `limits.max_report_image_bytes` decoded (else 422).
    #[serde(default)]
    #[schema(max_items = 40)]
    pub images: Vec<ImageInput>,
    #[serde(default)]
    #[schema(max_items = 500)]
    pub signoffs: Vec<SignoffInput>,
    /// Email someone when the report is ready (and, with `on_failure`, when it fails).
    pub notify: Option<Notify>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EquipmentInput {
    #[schema(max_length = 200)]
    pub name: String,
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = "^(?:[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*|[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*)$"
    )]
    pub model: String,
    #[serde(default)]
    #[schema(
        max_length = 200,
        pattern = "^(?:[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*|[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*)$"
    )]
    pub serial: String,
    /// `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub calibration_due: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionInput {
    #[schema(max_length = 200)]
    pub title: String,
    /// Free text shown before the results table.
    #[serde(default)]
    #[schema(
        max_length = 20000,
        pattern = "^(?:[^\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]|\\r\\n)*$"
    )]
    pub body: String,
    #[serde(default)]
    #[schema(max_items = 5000)]
    pub rows: Vec<RowInput>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowInput {
    #[schema(max_length = 200)]
    pub item: String,
    #[schema(max_length = 2000)]
    pub description: String,
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^(?:[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*|[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*)$"
    )]
    pub expected: String,
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^(?:[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*|[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*)$"
    )]
    pub actual: String,
    /// `pass`, `fail` or `na` (also `passed`, `failed`, `n.a.`, `n.a`, `n/a`; any case).
    #[schema(
        example = "pass",
        pattern = "^[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?:[Pp][Aa][Ss][Ss](?:[Ee][Dd])?|[Ff][Aa][Ii][Ll](?:[Ee][Dd])?|[Nn](?:[Aa]|\\.[Aa]\\.?|/[Aa]))[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$"
    )]
    pub result: String,
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^(?:[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*|[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*)$"
    )]
    pub remarks: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PunchInput {
    #[schema(max_length = 200)]
    pub item: String,
    #[schema(max_length = 2000)]
    pub description: String,
    /// `low`, `medium`, `high` or `critical` (any case).
    #[schema(
        pattern = "^[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*(?:[Ll][Oo][Ww]|[Mm][Ee][Dd][Ii][Uu][Mm]|[Hh][Ii][Gg][Hh]|[Cc][Rr][Ii][Tt][Ii][Cc][Aa][Ll])[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$"
    )]
    pub severity: String,
    #[schema(max_length = 200)]
    pub owner: String,
    /// `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub due: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextSectionInput {
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(
        max_length = 20000,
        pattern = "^(?:[^\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f]|\\r\\n)*$"
    )]
    pub body: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageInput {
    /// Base64 JPEG, PNG or WebP, checked like certificate photos (else 422).
    #[schema(content_encoding = "base64")]
    pub image: String,
    #[serde(default)]
    #[schema(
        max_length = 2000,
        pattern = "^(?:[\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*|[^\\x00-\\x1f\\x7f-\\x9f]*[^\\x00-\\x20\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\x00-\\x1f\\x7f-\\x9f]*)$"
    )]
    pub caption: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignoffInput {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 200)]
    pub role: String,
    #[schema(max_length = 200)]
    pub company: String,
    /// `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub date: String,
    /// Base64 JPEG, PNG or WebP (else 422).
    #[schema(content_encoding = "base64")]
    pub signature: Option<String>,
}

impl ReportRequest {
    /// Bytes of free text in all fields (images and signatures aside): bounded per request.
    fn text_bytes(&self) -> usize {
        let strs = |items: &[&str]| items.iter().map(|s| s.len()).sum::<usize>();
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let mut n = strs(&[
            &self.document_number,
            &self.revision,
            &self.project,
            &self.client,
            &self.site,
            &self.system,
            &self.scope,
        ]) + opt(&self.title)
            + opt(&self.issued_on)
            + opt(&self.test_start)
            + opt(&self.test_end);
        n += self
            .equipment
            .iter()
            .map(|e| strs(&[&e.name, &e.model, &e.serial, &e.calibration_due]))
            .sum::<usize>();
        for s in &self.sections {
            n += strs(&[&s.title, &s.body]);
            n += s
                .rows
                .iter()
                .map(|r| {
                    strs(&[
                        &r.item,
                        &r.description,
                        &r.expected,
                        &r.actual,
                        &r.result,
                        &r.remarks,
                    ])
                })
                .sum::<usize>();
        }
        n += self
            .punch_list
            .iter()
            .map(|p| strs(&[&p.item, &p.description, &p.severity, &p.owner]) + opt(&p.due))
            .sum::<usize>();
        n += self
            .text_sections
            .iter()
            .map(|t| strs(&[&t.title, &t.body]))
            .sum::<usize>();
        n += self.images.iter().map(|i| i.caption.len()).sum::<usize>();
        n += self
            .signoffs
            .iter()
            .map(|s| strs(&[&s.name, &s.role, &s.company, &s.date]))
            .sum::<usize>();
        n
    }
}

/// A checked report: its content, and the input files to store.
struct ReportOrder {
    content: ReportContent,
    inputs: Vec<(String, Vec<u8>)>,
}

/// Every check, collecting all problems.
async fn validate(state: &AppState, req: ReportRequest) -> Result<ReportOrder, ApiError> {
    let limits = &state.config.limits;
    let mut p = Problems::default();
    let short = |p: &mut Problems, path: &str, raw: &str| p.text(path, raw, SHORT);
    let optional = |p: &mut Problems, path: &str, raw: &str, max: usize| {
        // Blank is allowed, but only within the length (counted as sent, like every limit).
        if raw.trim().is_empty() && raw.chars().count() <= max {
            Some(String::new())
        } else {
            p.text(path, raw, max)
        }
    };
    // Free text keeps its line breaks (they separate paragraphs and bullets).
    let body = |p: &mut Problems, path: &str, raw: &str| {
        let text = raw.replace("\r\n", "\n");
        // Counted as sent, like the document's `maxLength`.
        let got = raw.chars().count();
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            p.add(
                path,
                "invalid_field",
                format!(
                    "`{path}` must not contain control characters other than line breaks and tabs"
                ),
            );
            None
        } else if got > BODY {
            p.add(
                path,
                "too_long",
                format!("`{path}` must be at most {BODY} characters (got {got})"),
            );
            None
        } else {
            Some(reports::parse_blocks(&text))
        }
    };
    let date = |p: &mut Problems, path: &str, raw: &str| p.date(path, raw).map(|d| d.to_string());
    let too_many = |p: &mut Problems, path: &str, got: usize, max: usize| {
        if got > max {
            p.add(
                path,
                "too_many",
                format!("`{path}` may have at most {max} entries (got {got})"),
            );
        }
    };

    let title = match &req.title {
        Some(t) => short(&mut p, "title", t),
        None => Some("Site Acceptance Test Report".to_owned()),
    };
    let document_number = short(&mut p, "document_number", &req.document_number);
    let revision = short(&mut p, "revision", &req.revision);
    let project = short(&mut p, "project", &req.project);
    let client = short(&mut p, "client", &req.client);
    let site = short(&mut p, "site", &req.site);
    let system = short(&mut p, "system", &req.system);
    let issued_on = match &req.issued_on {
        Some(raw) => date(&mut p, "issued_on", raw),
        None => Some(time::OffsetDateTime::now_utc().date().to_string()),
    };
    let test_start = req
        .test_start
        .as_deref()
        .map(|raw| date(&mut p, "test_start", raw));
    let test_end = req
        .test_end
        .as_deref()
        .map(|raw| date(&mut p, "test_end", raw));
    if let (Some(Some(start)), Some(Some(end))) = (&test_start, &test_end)
        && end < start
    {
        p.add(
            "test_end",
            "invalid_date",
            "`test_end` must not be before `test_start`",
        );
    }
    let scope = body(&mut p, "scope", &req.scope);

    let before_sizes = p.0.len();
    too_many(&mut p, "equipment", req.equipment.len(), LIST);
    too_many(&mut p, "punch_list", req.punch_list.len(), LIST);
    too_many(&mut p, "text_sections", req.text_sections.len(), LIST);
    too_many(&mut p, "signoffs", req.signoffs.len(), LIST);
    too_many(
        &mut p,
        "sections",
        req.sections.len(),
        limits.max_report_sections,
    );
    let rows: usize = req.sections.iter().map(|s| s.rows.len()).sum();
    if rows > limits.max_report_rows {
        p.add(
            "sections",
            "too_many",
            format!(
                "a report may have at most {} result rows over all sections (got {rows})",
                limits.max_report_rows
            ),
        );
    }
    let signatures = req
        .signoffs
        .iter()
        .filter(|s| s.signature.is_some())
        .count();
    let image_count = req.images.len() + signatures;
    if image_count > limits.max_report_images {
        p.add(
            "images",
            "too_many",
            format!(
                "a report may have at most {} images, signatures included (got {image_count})",
                limits.max_report_images
            ),
        );
    }
    // Stop before the per-row work when the sizes alone are out of bounds.
    if p.0.len() > before_sizes {
        return Err(ApiError::fields(p.0));
    }

    let mut equipment = Vec::new();
    for (i, e) in req.equipment.iter().enumerate() {
        let at = |f: &str| format!("equipment[{i}].{f}");
        let item = (
            short(&mut p, &at("name"), &e.name),
            optional(&mut p, &at("model"), &e.model, SHORT),
            optional(&mut p, &at("serial"), &e.serial, SHORT),
            date(&mut p, &at("calibration_due"), &e.calibration_due),
        );
        if let (Some(name), Some(model), Some(serial), Some(calibration_due)) = item {
            equipment.push(Equipment {
                name,
                model,
                serial,
                calibration_due,
            });
        }
    }

    let mut sections = Vec::new();
    for (i, s) in req.sections.iter().enumerate() {
        let title = short(&mut p, &format!("sections[{i}].title"), &s.title);
        let body = body(&mut p, &format!("sections[{i}].body"), &s.body);
        let mut rows = Vec::with_capacity(s.rows.len());
        for (j, r) in s.rows.iter().enumerate() {
            let at = |f: &str| format!("sections[{i}].rows[{j}].{f}");
            let result = Outcome::parse(&r.result);
            if result.is_none() {
                let path = at("result");
                p.add(
                    &path,
                    "invalid_value",
                    format!("`{path}` must be `pass`, `fail` or `na`"),
                );
            }
            let row = (
                short(&mut p, &at("item"), &r.item),
                p.text(&at("description"), &r.description, CELL),
                optional(&mut p, &at("expected"), &r.expected, CELL),
                optional(&mut p, &at("actual"), &r.actual, CELL),
                result,
                optional(&mut p, &at("remarks"), &r.remarks, CELL),
            );
            if let (
                Some(item),
                Some(description),
                Some(expected),
                Some(actual),
                Some(result),
                Some(remarks),
            ) = row
            {
                rows.push(ResultRow {
                    item,
                    description,
                    expected,
                    actual,
                    result,
                    remarks,
                });
            }
        }
        if let (Some(title), Some(body)) = (title, body) {
            sections.push(TestSection { title, body, rows });
        }
    }

    let mut punch_list = Vec::new();
    for (i, item) in req.punch_list.iter().enumerate() {
        let at = |f: &str| format!("punch_list[{i}].{f}");
        let severity = Severity::parse(&item.severity);
        if severity.is_none() {
            let path = at("severity");
            p.add(
                &path,
                "invalid_value",
                format!("`{path}` must be `low`, `medium`, `high` or `critical`"),
            );
        }
        let due = match &item.due {
            Some(raw) => date(&mut p, &at("due"), raw).map(Some),
            None => Some(None),
        };
        let fields = (
            short(&mut p, &at("item"), &item.item),
            p.text(&at("description"), &item.description, CELL),
            severity,
            short(&mut p, &at("owner"), &item.owner),
            due,
        );
        if let (Some(item), Some(description), Some(severity), Some(owner), Some(due)) = fields {
            punch_list.push(PunchItem {
                item,
                description,
                severity,
                owner,
                due,
            });
        }
    }

    let mut text_sections = Vec::new();
    for (i, t) in req.text_sections.iter().enumerate() {
        let title = short(&mut p, &format!("text_sections[{i}].title"), &t.title);
        let body = body(&mut p, &format!("text_sections[{i}].body"), &t.body);
        if let (Some(title), Some(body)) = (title, body) {
            text_sections.push(TextSection { title, body });
        }
    }

    let mut inputs = Vec::new();
    let mut image_bytes = 0usize;
    let mut images = Vec::new();
    for (i, img) in req.images.iter().enumerate() {
        let caption = optional(&mut p, &format!("images[{i}].caption"), &img.caption, CELL);
        let path = format!("images[{i}].image");
        match image(state, img.image.clone()).await {
            Ok(checked) => {
                image_bytes += checked.bytes.len();
                inputs.push((reports::image_input(i), checked.bytes));
            }
            Err((code, message)) => p.add(&path, code, format!("`{path}`: {message}")),
        }
        if let Some(caption) = caption {
            images.push(Figure { caption });
        }
    }

    let mut signoffs = Vec::new();
    for (i, s) in req.signoffs.iter().enumerate() {
        let at = |f: &str| format!("signoffs[{i}].{f}");
        if let Some(b64) = &s.signature {
            let path = at("signature");
            match image(state, b64.clone()).await {
                Ok(checked) => {
                    image_bytes += checked.bytes.len();
                    inputs.push((reports::signoff_input(i), checked.bytes));
                }
                Err((code, message)) => p.add(&path, code, format!("`{path}`: {message}")),
            }
        }
        let fields = (
            short(&mut p, &at("name"), &s.name),
            short(&mut p, &at("role"), &s.role),
            short(&mut p, &at("company"), &s.company),
            date(&mut p, &at("date"), &s.date),
        );
        if let (Some(name), Some(role), Some(company), Some(date)) = fields {
            signoffs.push(Signoff {
                name,
                role,
                company,
                date,
                has_signature: s.signature.is_some(),
            });
        }
    }
    if image_bytes > limits.max_report_image_bytes {
        p.add(
            "images",
            "too_large",
            format!(
                "the report's images and signatures together may be at most {} bytes decoded (got {image_bytes})",
                limits.max_report_image_bytes
            ),
        );
    }
    p.into_result()?;

    let missing = || ApiError::Internal("validation passed without values".into());
    let content = ReportContent {
        title: title.ok_or_else(missing)?,
        document_number: document_number.ok_or_else(missing)?,
        revision: revision.ok_or_else(missing)?,
        project: project.ok_or_else(missing)?,
        client: client.ok_or_else(missing)?,
        site: site.ok_or_else(missing)?,
        system: system.ok_or_else(missing)?,
        issued_on: issued_on.ok_or_else(missing)?,
        test_start: test_start.flatten(),
        test_end: test_end.flatten(),
        scope: scope.unwrap_or_else(Vec::<Block>::new),
        equipment,
        sections,
        punch_list,
        text_sections,
        images,
        signoffs,
    };
    Ok(ReportOrder { content, inputs })
}

/// Submit a SAT report job.
#[utoipa::path(
    post,
    path = "/v1/reports",
    tag = "reports",
    request_body = ReportRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body return the original job; 1 to 255 visible ASCII characters", pattern = "^[!-~]{1,255}$")),
    responses(
        (status = 202, description = "Accepted; poll the Location (its `progress` says validating, rendering or writing)", body = SubmittedView),
        SubmissionResponses,
        (status = 422, description = "Invalid fields, each with its path; `domain_not_allowed` for a `notify.email` outside the key's domains", body = ErrorBody),
        (status = 429, description = "With `notify`: the key's hourly or daily email quota is used up (`quota_exceeded`); see `Retry-After`", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until enough of the quota frees up"))),
    ),
    security(("api_key" = []))
)]
pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: ApiJson<ReportRequest>,
) -> Result<Response, ApiError> {
    let idempotency = Idempotency::of_body(&headers, &body.raw)?;
    let charge = notify_charge(&state, &caller, body.value.notify.as_ref())?;
    let template = resolve_template_of(
        &state,
        &caller,
        body.value.template.as_deref(),
        TemplateKind::Report,
    )
    .await?;
    let pdfa = body.value.pdfa;
    let notify = body.value.notify.clone();
    let text = body.value.text_bytes();
    let max_text = state.config.limits.max_report_text_bytes;
    if text > max_text {
        return Err(ApiError::Invalid {
            code: "too_long",
            message: format!(
                "a report may hold at most {max_text} bytes of text in all its fields \
                 (got {text}; setting limits.max_report_text_bytes)"
            ),
            field: None,
        });
    }
    let checking = state.clone();
    let req = body.value;
    let order = off_executor(async move { validate(&checking, req).await }).await??;
    let record = &template.record;
    let payload = ReportPayload {
        template: record.name.clone(),
        template_id: record.id.clone(),
        template_version: record.version,
        pdfa,
        document_number: order.content.document_number.clone(),
        revision: order.content.revision.clone(),
        title: order.content.title.clone(),
        rows: order.content.rows(),
        sections: order.content.sections.len(),
        notify,
    };
    let content =
        serde_json::to_vec(&order.content).map_err(|e| ApiError::Internal(e.to_string()))?;
    let inputs = std::iter::once((reports::CONTENT_INPUT.to_owned(), content))
        .chain(order.inputs)
        .collect();
    let job = Submission {
        payload: &payload,
        inputs,
        certificate: None,
        charge: charge.as_ref(),
    };
    submit::submit(&state, &caller, idempotency, job).await
}
