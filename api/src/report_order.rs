//! A SAT report request and its validation into a `ReportOrder`: every problem named by its
//! path (e.g. `sections[3].rows[12].result`), one function per part of the report, its images
//! and signatures decoded off the executor.

use serde::{Deserialize, Serialize};
use shared::config::Limits;
use shared::domain::{CalendarDate, PdfStandard};
use shared::jobs::Notify;
use shared::reports::{
    self, Block, Equipment, Figure, Outcome, PunchItem, ReportContent, ResultRow, Severity,
    Signoff, TestSection, TextSection,
};
use utoipa::ToSchema;

use crate::cache::CachedTemplate;
use crate::error::ApiError;
use crate::images::{self, ImageLimits};
use crate::problems::Problems;

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
    /// The same as `"pdf_standard": "a-2b"` (kept for older clients; `pdf_standard` wins).
    #[serde(default)]
    pub pdfa: bool,
    /// The standards the PDF meets (default: the template's, if it declares one); the job's
    /// `result.pdf_standard` records it. A document that cannot meet it ends `dead` with
    /// `nonconforming` and typst's reasons.
    #[schema(schema_with = crate::schemas::pdf_standard_or_null)]
    pub pdf_standard: Option<PdfStandard>,
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
    /// `low`, `bulk` or `normal` (the default); `high` with an admin key only (else 403
    /// `priority_not_allowed`). A worker takes the highest-priority ready job first.
    pub priority: Option<crate::placement::PriorityChoice>,
    /// Start no earlier than this RFC 3339 instant: the job is `scheduled` until then (and
    /// can be cancelled meanwhile). An instant already past means now; at most a year ahead
    /// (else 422 `too_far_ahead`). Not with `delay_secs`.
    #[schema(format = DateTime, example = "2026-12-24T18:00:00Z")]
    pub run_at: Option<String>,
    /// Start no earlier than this many seconds from now (at most a year). Not with `run_at`.
    #[schema(maximum = 31622400, minimum = 0)]
    pub delay_secs: Option<u64>,
    /// Deliver this job's end (`job.succeeded`, `job.dead` or `job.cancelled`) to this URL
    /// too, signed like a webhook with the key's callback secret
    /// (`GET /v1/webhooks/callback-secret`). Checked like a webhook's URL (422
    /// `invalid_url`, `forbidden_target`).
    #[schema(example = "https://example.com/hooks/quire")]
    pub callback_url: Option<String>,
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
    pub(crate) fn text_bytes(&self) -> usize {
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
pub(crate) struct ReportOrder {
    pub content: ReportContent,
    /// The decoded images and signatures: (input file name, bytes).
    pub inputs: Vec<(String, Vec<u8>)>,
}

/// A job's input files to store: (name, bytes).
pub(crate) type InputFiles = Vec<(String, Vec<u8>)>;

impl ReportRequest {
    /// The standards its PDF meets: `pdf_standard`, else `pdfa`'s PDF/A-2b, else the
    /// template's default.
    pub(crate) fn standard(&self, template: &CachedTemplate) -> Option<PdfStandard> {
        self.pdf_standard
            .or(self.pdfa.then_some(PdfStandard::A2B))
            .or(template.content.pdf_standard)
    }
}

impl ReportOrder {
    /// The job's payload (its summary and the pinned template) and its input files: the
    /// content as `report.json`, then the images.
    pub(crate) fn into_job(
        self,
        record: &shared::templates::TemplateRecord,
        pdf_standard: Option<PdfStandard>,
        notify: Option<Notify>,
    ) -> Result<(shared::reports::ReportPayload, InputFiles), ApiError> {
        let payload = shared::reports::ReportPayload {
            template: record.name.clone(),
            template_id: record.id.clone(),
            template_version: record.version,
            pdfa: false,
            pdf_standard,
            document_number: self.content.document_number.clone(),
            revision: self.content.revision.clone(),
            title: self.content.title.clone(),
            rows: self.content.rows(),
            sections: self.content.sections.len(),
            notify,
        };
        let content =
            serde_json::to_vec(&self.content).map_err(|e| ApiError::Internal(e.to_string()))?;
        let inputs = std::iter::once((shared::reports::CONTENT_INPUT.to_owned(), content))
            .chain(self.inputs)
            .collect();
        Ok((payload, inputs))
    }
}

/// Every check, collecting all problems: the head, the sizes (stopping there when they are out
/// of bounds), each list, then the images and signatures, decoded in order.
/// CPU-heavy (images decoded, up to `limits.max_report_text_bytes` of markup parsed): run it
/// in the check pool.
pub(crate) fn validate(limits: &Limits, req: ReportRequest) -> Result<ReportOrder, ApiError> {
    let image_limits = ImageLimits::from(limits);
    let mut c = Check::default();
    let head = c.head(&req);
    c.sizes(&req, limits)?;
    let equipment = c.equipment(&req.equipment);
    let sections = c.sections(&req.sections);
    let punch_list = c.punch_list(&req.punch_list);
    let text_sections = c.text_sections(&req.text_sections);
    let mut inputs = Vec::new();
    let images = c.figures(&image_limits, &req.images, &mut inputs);
    let signoffs = c.signoffs(&image_limits, &req.signoffs, &mut inputs);
    c.image_bytes(&inputs, limits.max_report_image_bytes);
    c.p.into_result()?;
    let content = head.content(Lists {
        equipment,
        sections,
        punch_list,
        text_sections,
        images,
        signoffs,
    })?;
    Ok(ReportOrder { content, inputs })
}

/// The report's single fields, each `None` where it has a problem.
struct Head {
    title: Option<String>,
    document_number: Option<String>,
    revision: Option<String>,
    project: Option<String>,
    client: Option<String>,
    site: Option<String>,
    system: Option<String>,
    issued_on: Option<CalendarDate>,
    test_start: Option<Option<CalendarDate>>,
    test_end: Option<Option<CalendarDate>>,
    scope: Option<Vec<Block>>,
}

/// The report's checked lists.
struct Lists {
    equipment: Vec<Equipment>,
    sections: Vec<TestSection>,
    punch_list: Vec<PunchItem>,
    text_sections: Vec<TextSection>,
    images: Vec<Figure>,
    signoffs: Vec<Signoff>,
}

impl Head {
    /// The content, once no problem was found (so every field is there).
    fn content(self, lists: Lists) -> Result<ReportContent, ApiError> {
        let missing = || ApiError::Internal("validation passed without values".into());
        Ok(ReportContent {
            title: self.title.ok_or_else(missing)?,
            document_number: self.document_number.ok_or_else(missing)?,
            revision: self.revision.ok_or_else(missing)?,
            project: self.project.ok_or_else(missing)?,
            client: self.client.ok_or_else(missing)?,
            site: self.site.ok_or_else(missing)?,
            system: self.system.ok_or_else(missing)?,
            issued_on: self.issued_on.ok_or_else(missing)?,
            test_start: self.test_start.flatten(),
            test_end: self.test_end.flatten(),
            scope: self.scope.unwrap_or_default(),
            equipment: lists.equipment,
            sections: lists.sections,
            punch_list: lists.punch_list,
            text_sections: lists.text_sections,
            images: lists.images,
            signoffs: lists.signoffs,
        })
    }
}

/// The problems found so far, and the checks the report's parts share.
#[derive(Default)]
struct Check {
    p: Problems,
}

impl Check {
    fn short(&mut self, path: &str, raw: &str) -> Option<String> {
        self.p.text(path, raw, SHORT)
    }

    fn optional(&mut self, path: &str, raw: &str, max: usize) -> Option<String> {
        // Blank is allowed, but only within the length (counted as sent, like every limit).
        if raw.trim().is_empty() && raw.chars().count() <= max {
            Some(String::new())
        } else {
            self.p.text(path, raw, max)
        }
    }

    /// Free text keeps its line breaks (they separate paragraphs and bullets).
    fn body(&mut self, path: &str, raw: &str) -> Option<Vec<Block>> {
        let text = raw.replace("\r\n", "\n");
        // Counted as sent, like the document's `maxLength`.
        let got = raw.chars().count();
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            self.p.add(
                path,
                "invalid_field",
                format!(
                    "`{path}` must not contain control characters other than line breaks and tabs"
                ),
            );
            None
        } else if got > BODY {
            self.p.add(
                path,
                "too_long",
                format!("`{path}` must be at most {BODY} characters (got {got})"),
            );
            None
        } else {
            Some(reports::parse_blocks(&text))
        }
    }

    fn too_many(&mut self, path: &str, got: usize, max: usize) {
        if got > max {
            self.p.add(
                path,
                "too_many",
                format!("`{path}` may have at most {max} entries (got {got})"),
            );
        }
    }

    /// Title, numbers, project, client, site and system; the dates (`test_end` not before
    /// `test_start`); the scope.
    fn head(&mut self, req: &ReportRequest) -> Head {
        let title = match &req.title {
            Some(t) => self.short("title", t),
            None => Some("Site Acceptance Test Report".to_owned()),
        };
        let document_number = self.short("document_number", &req.document_number);
        let revision = self.short("revision", &req.revision);
        let project = self.short("project", &req.project);
        let client = self.short("client", &req.client);
        let site = self.short("site", &req.site);
        let system = self.short("system", &req.system);
        let issued_on = match &req.issued_on {
            Some(raw) => self.p.date("issued_on", raw),
            None => Some(CalendarDate::today()),
        };
        let test_start = req
            .test_start
            .as_deref()
            .map(|raw| self.p.date("test_start", raw));
        let test_end = req
            .test_end
            .as_deref()
            .map(|raw| self.p.date("test_end", raw));
        if let (Some(Some(start)), Some(Some(end))) = (&test_start, &test_end)
            && end < start
        {
            self.p.add(
                "test_end",
                // Its own code: an order between two fields, which a schema cannot state.
                "dates_out_of_order",
                "`test_end` must not be before `test_start`",
            );
        }
        let scope = self.body("scope", &req.scope);
        Head {
            title,
            document_number,
            revision,
            project,
            client,
            site,
            system,
            issued_on,
            test_start,
            test_end,
            scope,
        }
    }

    /// The lists' lengths, the rows over all sections and the images with the signatures:
    /// when any is out of bounds, the answer is every problem so far, before the per-row work.
    fn sizes(&mut self, req: &ReportRequest, limits: &Limits) -> Result<(), ApiError> {
        let before_sizes = self.p.count();
        self.too_many("equipment", req.equipment.len(), LIST);
        self.too_many("punch_list", req.punch_list.len(), LIST);
        self.too_many("text_sections", req.text_sections.len(), LIST);
        self.too_many("signoffs", req.signoffs.len(), LIST);
        self.too_many("sections", req.sections.len(), limits.max_report_sections);
        let rows: usize = req.sections.iter().map(|s| s.rows.len()).sum();
        if rows > limits.max_report_rows {
            self.p.add(
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
            self.p.add(
                "images",
                "too_many",
                format!(
                    "a report may have at most {} images, signatures included (got {image_count})",
                    limits.max_report_images
                ),
            );
        }
        // Stop before the per-row work when the sizes alone are out of bounds.
        if self.p.count() > before_sizes {
            return Err(self.p.take_error());
        }
        Ok(())
    }

    fn equipment(&mut self, list: &[EquipmentInput]) -> Vec<Equipment> {
        let mut equipment = Vec::new();
        for (i, e) in list.iter().enumerate() {
            let at = |f: &str| format!("equipment[{i}].{f}");
            let item = (
                self.short(&at("name"), &e.name),
                self.optional(&at("model"), &e.model, SHORT),
                self.optional(&at("serial"), &e.serial, SHORT),
                self.p.date(&at("calibration_due"), &e.calibration_due),
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
        equipment
    }

    fn sections(&mut self, list: &[SectionInput]) -> Vec<TestSection> {
        let mut sections = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let title = self.short(&format!("sections[{i}].title"), &s.title);
            let body = self.body(&format!("sections[{i}].body"), &s.body);
            let mut rows = Vec::with_capacity(s.rows.len());
            for (j, r) in s.rows.iter().enumerate() {
                if let Some(row) = self.row(&format!("sections[{i}].rows[{j}]"), r) {
                    rows.push(row);
                }
            }
            if let (Some(title), Some(body)) = (title, body) {
                sections.push(TestSection { title, body, rows });
            }
        }
        sections
    }

    /// One result row, at `path` (`sections[i].rows[j]`).
    fn row(&mut self, path: &str, r: &RowInput) -> Option<ResultRow> {
        let at = |f: &str| format!("{path}.{f}");
        let result = Outcome::parse(&r.result);
        if result.is_none() {
            let path = at("result");
            self.p.add(
                &path,
                "invalid_value",
                format!("`{path}` must be `pass`, `fail` or `na`"),
            );
        }
        let (item, description, expected, actual, result, remarks) = (
            self.short(&at("item"), &r.item),
            self.p.text(&at("description"), &r.description, CELL),
            self.optional(&at("expected"), &r.expected, CELL),
            self.optional(&at("actual"), &r.actual, CELL),
            result,
            self.optional(&at("remarks"), &r.remarks, CELL),
        );
        Some(ResultRow {
            item: item?,
            description: description?,
            expected: expected?,
            actual: actual?,
            result: result?,
            remarks: remarks?,
        })
    }

    fn punch_list(&mut self, list: &[PunchInput]) -> Vec<PunchItem> {
        let mut punch_list = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let at = |f: &str| format!("punch_list[{i}].{f}");
            let severity = Severity::parse(&item.severity);
            if severity.is_none() {
                let path = at("severity");
                self.p.add(
                    &path,
                    "invalid_value",
                    format!("`{path}` must be `low`, `medium`, `high` or `critical`"),
                );
            }
            let due = match &item.due {
                Some(raw) => self.p.date(&at("due"), raw).map(Some),
                None => Some(None),
            };
            let fields = (
                self.short(&at("item"), &item.item),
                self.p.text(&at("description"), &item.description, CELL),
                severity,
                self.short(&at("owner"), &item.owner),
                due,
            );
            if let (Some(item), Some(description), Some(severity), Some(owner), Some(due)) = fields
            {
                punch_list.push(PunchItem {
                    item,
                    description,
                    severity,
                    owner,
                    due,
                });
            }
        }
        punch_list
    }

    fn text_sections(&mut self, list: &[TextSectionInput]) -> Vec<TextSection> {
        let mut text_sections = Vec::new();
        for (i, t) in list.iter().enumerate() {
            let title = self.short(&format!("text_sections[{i}].title"), &t.title);
            let body = self.body(&format!("text_sections[{i}].body"), &t.body);
            if let (Some(title), Some(body)) = (title, body) {
                text_sections.push(TextSection { title, body });
            }
        }
        text_sections
    }

    /// The images, decoded in order into `inputs` (`image-<n>`), with their captions.
    fn figures(
        &mut self,
        limits: &ImageLimits,
        list: &[ImageInput],
        inputs: &mut Vec<(String, Vec<u8>)>,
    ) -> Vec<Figure> {
        let mut images = Vec::new();
        for (i, img) in list.iter().enumerate() {
            let caption = self.optional(&format!("images[{i}].caption"), &img.caption, CELL);
            let path = format!("images[{i}].image");
            match images::check(limits, &img.image) {
                Ok(checked) => inputs.push((reports::image_input(i), checked.bytes)),
                Err((code, message)) => self.p.add(&path, code, format!("`{path}`: {message}")),
            }
            if let Some(caption) = caption {
                images.push(Figure { caption });
            }
        }
        images
    }

    /// The sign-offs, their signatures decoded in order into `inputs` (`signoff-<n>`).
    fn signoffs(
        &mut self,
        limits: &ImageLimits,
        list: &[SignoffInput],
        inputs: &mut Vec<(String, Vec<u8>)>,
    ) -> Vec<Signoff> {
        let mut signoffs = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let at = |f: &str| format!("signoffs[{i}].{f}");
            if let Some(b64) = &s.signature {
                let path = at("signature");
                match images::check(limits, b64) {
                    Ok(checked) => inputs.push((reports::signoff_input(i), checked.bytes)),
                    Err((code, message)) => self.p.add(&path, code, format!("`{path}`: {message}")),
                }
            }
            let fields = (
                self.short(&at("name"), &s.name),
                self.short(&at("role"), &s.role),
                self.short(&at("company"), &s.company),
                self.p.date(&at("date"), &s.date),
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
        signoffs
    }

    /// The decoded images and signatures (all of `inputs` so far) together within `max` bytes.
    fn image_bytes(&mut self, inputs: &[(String, Vec<u8>)], max: usize) {
        let image_bytes: usize = inputs.iter().map(|(_, bytes)| bytes.len()).sum();
        if image_bytes > max {
            self.p.add(
                "images",
                "too_large",
                format!(
                    "the report's images and signatures together may be at most {max} bytes decoded (got {image_bytes})"
                ),
            );
        }
    }
}
