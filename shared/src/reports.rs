//! SAT reports as data: the validated content of one report (stored as the job's `report.json`
//! input file, not in the row, because a 5,000-row report is megabytes), the markdown-like
//! text it carries, and the data a report template reads from `/data.json`. The API builds
//! [`ReportContent`] from a submission; the worker turns it into [`ReportContent::template_data`].

use serde::{Deserialize, Serialize};

use crate::domain::CalendarDate;

/// The input file a report job's content is stored in.
pub const CONTENT_INPUT: &str = "report.json";

/// `report`: the row's payload. Small: the content is the job's [`CONTENT_INPUT`] file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPayload {
    /// The template's name when submitted; rendering uses the pinned id and version.
    pub template: String,
    pub template_id: String,
    pub template_version: i64,
    /// Rows written before `pdf_standard`: PDF/A-2b.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pdfa: bool,
    /// The standards the PDF must meet: the request's, else the template version's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf_standard: Option<crate::domain::PdfStandard>,
    pub document_number: String,
    pub revision: String,
    pub title: String,
    pub rows: usize,
    pub sections: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<crate::jobs::Notify>,
}

impl ReportPayload {
    /// The standards its PDF must meet.
    pub fn standard(&self) -> Option<crate::domain::PdfStandard> {
        self.pdf_standard
            .or(self.pdfa.then_some(crate::domain::PdfStandard::A2B))
    }
}

impl crate::jobs::JobPayload for ReportPayload {
    const KIND: crate::domain::JobKind = crate::domain::JobKind::Report;
}

/// One report, checked. Dates are stored as `YYYY-MM-DD`; text is plain text; images and
/// signatures are the job's input files `image-<n>` and `signoff-<n>` (1-based).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportContent {
    pub title: String,
    pub document_number: String,
    pub revision: String,
    pub project: String,
    pub client: String,
    pub site: String,
    pub system: String,
    pub issued_on: CalendarDate,
    pub test_start: Option<CalendarDate>,
    pub test_end: Option<CalendarDate>,
    pub scope: Vec<Block>,
    pub equipment: Vec<Equipment>,
    pub sections: Vec<TestSection>,
    pub punch_list: Vec<PunchItem>,
    pub text_sections: Vec<TextSection>,
    pub images: Vec<Figure>,
    pub signoffs: Vec<Signoff>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Equipment {
    pub name: String,
    pub model: String,
    pub serial: String,
    pub calibration_due: CalendarDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSection {
    pub title: String,
    pub body: Vec<Block>,
    pub rows: Vec<ResultRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub item: String,
    pub description: String,
    pub expected: String,
    pub actual: String,
    pub result: Outcome,
    pub remarks: String,
}

/// A test step's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Na,
}

impl Outcome {
    /// `pass`, `fail`, and for not applicable `na`, `n.a.`, `n/a`, any case.
    pub fn parse(raw: &str) -> Option<Outcome> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pass" | "passed" => Some(Outcome::Pass),
            "fail" | "failed" => Some(Outcome::Fail),
            "na" | "n.a." | "n/a" | "n.a" => Some(Outcome::Na),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(raw: &str) -> Option<Severity> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PunchItem {
    pub item: String,
    pub description: String,
    pub severity: Severity,
    pub owner: String,
    pub due: Option<CalendarDate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextSection {
    pub title: String,
    pub body: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub caption: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signoff {
    pub name: String,
    pub role: String,
    pub company: String,
    pub date: CalendarDate,
    pub has_signature: bool,
}

/// A paragraph or a bullet list of free text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Block {
    Paragraph { spans: Vec<Span> },
    Bullets { items: Vec<Vec<Span>> },
}

/// A run of text, bold and/or italic. Text is always data: the template shows it as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub text: String,
    pub strong: bool,
    pub emph: bool,
}

/// Markdown-like text to blocks: blank lines separate paragraphs; lines starting with `- ` or
/// `* ` are bullet items; `**bold**` and `_italic_` inside a line. Nothing else is special, so
/// any other character (typst's `#`, `$`, `[`, …) is shown as typed.
pub fn parse_blocks(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut bullets: Vec<String> = Vec::new();
    let flush_paragraph = |paragraph: &mut Vec<&str>, blocks: &mut Vec<Block>| {
        if !paragraph.is_empty() {
            blocks.push(Block::Paragraph {
                spans: parse_spans(&paragraph.join(" ")),
            });
            paragraph.clear();
        }
    };
    let flush_bullets = |bullets: &mut Vec<String>, blocks: &mut Vec<Block>| {
        if !bullets.is_empty() {
            blocks.push(Block::Bullets {
                items: bullets.drain(..).map(|item| parse_spans(&item)).collect(),
            });
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            flush_paragraph(&mut paragraph, &mut blocks);
            flush_bullets(&mut bullets, &mut blocks);
        } else if let Some(item) = line.strip_prefix("- ").or_else(|| line.strip_prefix("* ")) {
            flush_paragraph(&mut paragraph, &mut blocks);
            bullets.push(item.trim().to_owned());
        } else if let Some(last) = bullets.last_mut() {
            // A continuation line of the last bullet item.
            last.push(' ');
            last.push_str(line);
        } else {
            paragraph.push(line);
        }
    }
    flush_paragraph(&mut paragraph, &mut blocks);
    flush_bullets(&mut bullets, &mut blocks);
    blocks
}

/// `**bold**` and `_italic_`; an unclosed marker is literal text. `_` only counts at word
/// boundaries, so `snake_case_name` stays as typed.
fn parse_spans(line: &str) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    let mut push = |text: &str, strong: bool, emph: bool| {
        if text.is_empty() {
            return;
        }
        match spans.last_mut() {
            Some(last) if last.strong == strong && last.emph == emph => last.text.push_str(text),
            _ => spans.push(Span {
                text: text.to_owned(),
                strong,
                emph,
            }),
        }
    };
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let before = |at: usize| line[..at].chars().next_back();
    let after = |at: usize| line[at..].chars().next();
    // Byte offsets of markers that may open or close a span.
    let opens = |at: usize, marker: &str| {
        line[at..].starts_with(marker)
            && (marker == "**" || !word(before(at)))
            && after(at + marker.len()).is_some_and(|c| !c.is_whitespace())
    };
    let closes = |at: usize, marker: &str| {
        line[at..].starts_with(marker)
            && (marker == "**" || !word(after(at + marker.len())))
            && before(at).is_some_and(|c| !c.is_whitespace())
    };
    // Every closing position of each marker, found once; each opener then takes the first one
    // after it from a cursor that only moves forward, so the whole line is one linear pass
    // (searching to the end of the line per opener was quadratic).
    let boundaries = || line.char_indices().map(|(i, _)| i);
    let strong_closes: Vec<usize> = boundaries().filter(|&i| closes(i, "**")).collect();
    let emph_closes: Vec<usize> = boundaries().filter(|&i| closes(i, "_")).collect();
    let mut cursors = [0usize; 2];
    let mut plain_from = 0;
    let mut at = 0;
    while at < line.len() {
        let marker = if line[at..].starts_with("**") {
            "**"
        } else if line[at..].starts_with('_') {
            "_"
        } else {
            at += after(at).map_or(1, char::len_utf8);
            continue;
        };
        if opens(at, marker) {
            let inner = at + marker.len();
            let (list, cursor) = if marker == "**" {
                (&strong_closes, &mut cursors[0])
            } else {
                (&emph_closes, &mut cursors[1])
            };
            while list.get(*cursor).is_some_and(|&i| i <= inner) {
                *cursor += 1;
            }
            if let Some(&end) = list.get(*cursor) {
                push(&line[plain_from..at], false, false);
                push(&line[inner..end], marker == "**", marker == "_");
                at = end + marker.len();
                plain_from = at;
                continue;
            }
        }
        at += marker.len();
    }
    push(&line[plain_from..], false, false);
    spans
}

/// Pass, fail and n.a. counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub na: usize,
    pub total: usize,
}

impl Counts {
    fn of(rows: &[ResultRow]) -> Counts {
        let mut c = Counts::default();
        for row in rows {
            match row.result {
                Outcome::Pass => c.pass += 1,
                Outcome::Fail => c.fail += 1,
                Outcome::Na => c.na += 1,
            }
        }
        c.total = rows.len();
        c
    }

    fn add(&mut self, other: Counts) {
        self.pass += other.pass;
        self.fail += other.fail;
        self.na += other.na;
        self.total += other.total;
    }
}

impl ReportContent {
    pub fn rows(&self) -> usize {
        self.sections.iter().map(|s| s.rows.len()).sum()
    }

    /// What a report template reads from `/data.json`: display-ready strings, counts
    /// computed here (per section and overall) and images as the paths the World serves
    /// (`/fields/image-1`, `/fields/signoff-1`).
    pub fn template_data(&self) -> serde_json::Value {
        use serde_json::json;
        let mut summary = Counts::default();
        let sections: Vec<serde_json::Value> = self
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let counts = Counts::of(&s.rows);
                summary.add(counts);
                json!({
                    "number": i + 1,
                    "title": s.title,
                    "body": s.body,
                    "rows": s.rows,
                    "counts": counts,
                })
            })
            .collect();
        let verdict = if summary.fail == 0 { "pass" } else { "fail" };
        let mut summary = serde_json::to_value(summary).expect("counts serialize");
        summary["verdict"] = json!(verdict);
        json!({
            "title": self.title,
            "document_number": self.document_number,
            "revision": self.revision,
            "project": self.project,
            "client": self.client,
            "site": self.site,
            "system": self.system,
            "dates": {
                "issued": self.issued_on.display(),
                "test_start": self.test_start.map(CalendarDate::display),
                "test_end": self.test_end.map(CalendarDate::display),
            },
            "scope": self.scope,
            "equipment": self.equipment.iter().map(|e| json!({
                "name": e.name,
                "model": e.model,
                "serial": e.serial,
                "calibration_due": e.calibration_due.display(),
            })).collect::<Vec<_>>(),
            "sections": sections,
            "summary": summary,
            "punch_list": self.punch_list.iter().map(|p| json!({
                "item": p.item,
                "description": p.description,
                "severity": p.severity,
                "owner": p.owner,
                "due": p.due.map(CalendarDate::display),
            })).collect::<Vec<_>>(),
            "text_sections": self.text_sections,
            "images": self.images.iter().enumerate().map(|(i, f)| json!({
                "path": format!("{}{}", crate::templates::FIELDS_DIR, image_input(i)),
                "caption": f.caption,
            })).collect::<Vec<_>>(),
            "signoffs": self.signoffs.iter().enumerate().map(|(i, s)| json!({
                "name": s.name,
                "role": s.role,
                "company": s.company,
                "date": s.date.display(),
                "signature": s.has_signature.then(|| format!("{}{}", crate::templates::FIELDS_DIR, signoff_input(i))),
            })).collect::<Vec<_>>(),
        })
    }
}

/// A small complete report (two sections, every list filled, one image and one signature at
/// `image_input(0)` and `signoff_input(0)`): what report templates are checked and previewed
/// with.
pub fn sample() -> ReportContent {
    let row = |item: &str, result| ResultRow {
        item: item.into(),
        description: "Emergency stop trips the pump".into(),
        expected: "Pump stops within 1 s".into(),
        actual: "0.4 s".into(),
        result,
        remarks: String::new(),
    };
    let date = |raw: &str| -> CalendarDate { raw.parse().expect("a valid sample date") };
    ReportContent {
        title: "Site Acceptance Test Report".into(),
        document_number: "SAT-0000-SAMPLE".into(),
        revision: "A".into(),
        project: "Sample Project".into(),
        client: "Sample Client".into(),
        site: "Sample Site".into(),
        system: "Sample System".into(),
        issued_on: date("2026-11-21"),
        test_start: Some(date("2026-11-17")),
        test_end: Some(date("2026-11-19")),
        scope: parse_blocks("The scope of the test.\n\n- One\n- **Two**"),
        equipment: vec![Equipment {
            name: "Multimeter".into(),
            model: "Fluke 87V".into(),
            serial: "0001".into(),
            calibration_due: date("2027-03-01"),
        }],
        sections: vec![
            TestSection {
                title: "Power-up".into(),
                body: parse_blocks("Plant offline."),
                rows: vec![row("1.1", Outcome::Pass), row("1.2", Outcome::Fail)],
            },
            TestSection {
                title: "Alarms".into(),
                body: Vec::new(),
                rows: vec![row("2.1", Outcome::Na)],
            },
        ],
        punch_list: vec![PunchItem {
            item: "P-1".into(),
            description: "Label the cabinet".into(),
            severity: Severity::Low,
            owner: "J. Smith".into(),
            due: Some(date("2026-12-01")),
        }],
        text_sections: vec![TextSection {
            title: "Observations".into(),
            body: parse_blocks("None."),
        }],
        images: vec![Figure {
            caption: "Panel".into(),
        }],
        signoffs: vec![Signoff {
            name: "A. Engineer".into(),
            role: "Engineer".into(),
            company: "Acme".into(),
            date: date("2026-11-19"),
            has_signature: true,
        }],
    }
}

/// The input file (and `/fields/` name) of the report's `i`-th (0-based) image.
pub fn image_input(i: usize) -> String {
    format!("image-{}", i + 1)
}

/// The input file (and `/fields/` name) of the `i`-th (0-based) sign-off's signature.
pub fn signoff_input(i: usize) -> String {
    format!("signoff-{}", i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(spans: &[Span]) -> Vec<(String, bool, bool)> {
        spans
            .iter()
            .map(|s| (s.text.clone(), s.strong, s.emph))
            .collect()
    }

    /// The former parser (it searched to the end of the line for every opener): the linear
    /// one must split every line exactly as it did.
    fn parse_spans_by_search(line: &str) -> Vec<(String, bool, bool)> {
        let mut spans: Vec<(String, bool, bool)> = Vec::new();
        let mut push = |text: &str, strong: bool, emph: bool| {
            if text.is_empty() {
                return;
            }
            match spans.last_mut() {
                Some(last) if last.1 == strong && last.2 == emph => last.0.push_str(text),
                _ => spans.push((text.to_owned(), strong, emph)),
            }
        };
        let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        let before = |at: usize| line[..at].chars().next_back();
        let after = |at: usize| line[at..].chars().next();
        let opens = |at: usize, marker: &str| {
            line[at..].starts_with(marker)
                && (marker == "**" || !word(before(at)))
                && after(at + marker.len()).is_some_and(|c| !c.is_whitespace())
        };
        let closes = |at: usize, marker: &str| {
            line[at..].starts_with(marker)
                && (marker == "**" || !word(after(at + marker.len())))
                && before(at).is_some_and(|c| !c.is_whitespace())
        };
        let (mut plain_from, mut at) = (0, 0);
        while at < line.len() {
            let marker = if line[at..].starts_with("**") {
                "**"
            } else if line[at..].starts_with('_') {
                "_"
            } else {
                at += after(at).map_or(1, char::len_utf8);
                continue;
            };
            if opens(at, marker) {
                let inner = at + marker.len();
                let close = (inner + 1..line.len())
                    .filter(|&i| line.is_char_boundary(i))
                    .find(|&i| closes(i, marker));
                if let Some(end) = close {
                    push(&line[plain_from..at], false, false);
                    push(&line[inner..end], marker == "**", marker == "_");
                    at = end + marker.len();
                    plain_from = at;
                    continue;
                }
            }
            at += marker.len();
        }
        push(&line[plain_from..], false, false);
        spans
    }

    #[test]
    fn linear_span_parser_agrees_with_the_search() {
        const PIECES: [&str; 7] = ["_", "*", "**", "a", " ", "é", "b_c"];
        // A fixed xorshift sequence: the same 20,000 lines on every run.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut line = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 14) as usize;
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                line.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            assert_eq!(
                texts(&parse_spans(&line)),
                parse_spans_by_search(&line),
                "{line:?}"
            );
        }
    }

    #[test]
    fn paragraphs_and_bullets() {
        let blocks = parse_blocks(
            "First line\ncontinues.\n\n- one **bold**\n* two _it_\n  more\n\nLast #panic() $x$",
        );
        assert_eq!(blocks.len(), 3);
        let Block::Paragraph { spans } = &blocks[0] else {
            panic!("paragraph expected")
        };
        assert_eq!(
            texts(spans),
            [("First line continues.".into(), false, false)]
        );
        let Block::Bullets { items } = &blocks[1] else {
            panic!("bullets expected")
        };
        assert_eq!(
            texts(&items[0]),
            [("one ".into(), false, false), ("bold".into(), true, false)]
        );
        assert_eq!(
            texts(&items[1]),
            [
                ("two ".into(), false, false),
                ("it".into(), false, true),
                (" more".into(), false, false)
            ]
        );
        let Block::Paragraph { spans } = &blocks[2] else {
            panic!("paragraph expected")
        };
        assert_eq!(texts(spans), [("Last #panic() $x$".into(), false, false)]);
    }

    #[test]
    fn unclosed_markers_are_text() {
        let blocks = parse_blocks("a ** b _ c snake_case_name");
        let Block::Paragraph { spans } = &blocks[0] else {
            panic!()
        };
        let all: String = spans.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(all, "a ** b _ c snake_case_name");
        assert!(spans.iter().all(|s| !s.strong && !s.emph));
    }

    #[test]
    fn outcomes_parse_leniently() {
        assert_eq!(Outcome::parse("PASS"), Some(Outcome::Pass));
        assert_eq!(Outcome::parse("n/a"), Some(Outcome::Na));
        assert_eq!(Outcome::parse("N.A."), Some(Outcome::Na));
        assert_eq!(Outcome::parse("maybe"), None);
    }
}
