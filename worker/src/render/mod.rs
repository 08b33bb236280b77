//! Certificate and report rendering with embedded typst 0.15: in this process for the shipped
//! templates, in the bounded child (`shared::sandbox`) for uploaded ones.
//!
//! [`Engine`] holds what every render shares (fonts and the standard library);
//! a [`Template`] is one template version's parsed files, built from the
//! template store (the worker caches them per (id, version)). Each
//! [`Engine::render`] builds a cheap `World` around both that serves only the
//! template's own files, the job data at `/data.json` and the job's images at
//! fixed paths.

mod png;
mod sandbox;
mod world;

#[cfg(test)]
mod tests;

pub use sandbox::serve_stdio;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use include_dir::{Dir, include_dir};
use shared::domain::{Archival, PdfStandard};
use time::OffsetDateTime;
use typst::diag::{SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{DiagSpan, Source};
use typst::text::Font;
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_kit::fonts::FontStore;
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandards, Timestamp};

use self::world::{CertWorld, IDS, Shared};
use shared::templates::{BuiltinTemplate, Manifest, TemplateContent, TemplateKind};

/// The built-in templates, one directory each (plus `template.json` manifests), compiled
/// into the binary so it runs from any directory. They are seeded into the template store
/// on start; renders always go through the store. rustc tracks changes to files that existed
/// at the last build, but a newly added file needs a rebuild of this crate.
static CERTIFICATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates/certificates");
/// The built-in report templates (multi-page documents such as the `sat` report).
static REPORTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates/reports");
/// Bundled fonts (Noto subsets for Greek, Cyrillic, Arabic and CJK), shared by all templates.
static FONTS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates/fonts");

const MANIFEST: &str = "template.json";
const FONT_EXTENSIONS: [&str; 4] = ["ttf", "otf", "ttc", "otc"];

/// How many times renders have evicted typst's memoization cache; tests use it
/// to prove eviction happens on every path.
static EVICTIONS: AtomicU64 = AtomicU64::new(0);

/// Shared rendering state: fonts and the standard library. Cloning is an `Arc`
/// clone. Templates are separate values ([`Template`]) so they can come from the
/// template store and be cached per (id, version).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Shared>,
}

/// A template's files, parsed once: every render with it reuses the sources.
pub struct Template {
    inner: world::TemplateFiles,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("files", &self.inner.files.len())
            .finish()
    }
}

/// The job-specific inputs of one render.
#[derive(Debug, Clone, Default)]
pub struct RenderInput {
    /// Served to the template as the virtual file `/data.json`.
    pub data: serde_json::Value,
    /// Served at each slot's fixed path (see [`ImageSlot::path`]); the format is
    /// sniffed from the bytes. If a slot appears twice the last one wins.
    pub images: Vec<(ImageSlot, Vec<u8>)>,
    /// Image fields, served at `/fields/<name>` (reports: `image-<n>`, `signoff-<n>`).
    /// Every distinct name is interned as a typst file id for the life of the process (at
    /// most 65,535 in all), so names must come from a small set: declared field names or
    /// numbered slots, never per-job values.
    pub field_images: BTreeMap<String, Vec<u8>>,
    /// The document date: `today()` in the template and the PDF creation date.
    /// `None` means now (UTC).
    pub timestamp: Option<OffsetDateTime>,
    /// The standards the PDF must meet (PDF/A, PDF/UA-1): typst checks them as it exports,
    /// and a document that does not meet them fails with [`RenderError::Nonconforming`].
    pub standard: Option<PdfStandard>,
}

/// The fixed places a template can read a job's images from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageSlot {
    Photo,
    Signature,
    Logo,
    /// The verification QR code, an SVG.
    Qr,
}

impl ImageSlot {
    const COUNT: usize = 4;
    const ALL: [ImageSlot; Self::COUNT] = [Self::Photo, Self::Signature, Self::Logo, Self::Qr];

    /// The virtual path the template reads the image from, e.g. `image("/photo")`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Photo => "/photo",
            Self::Signature => "/signature",
            Self::Logo => "/logo",
            Self::Qr => "/qr.svg",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The slot's name in a sandbox request (`photo`, `signature`, `logo`, `qr`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Signature => "signature",
            Self::Logo => "logo",
            Self::Qr => "qr",
        }
    }

    pub fn from_name(name: &str) -> Option<ImageSlot> {
        Self::ALL.into_iter().find(|slot| slot.name() == name)
    }
}

/// A finished PDF.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub pdf: Vec<u8>,
    pub pages: usize,
}

/// One typst error, located where possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// Virtual path of the file the error points into, e.g. `/main.typ` or `/data.json`.
    pub path: Option<String>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based, in characters.
    pub column: Option<usize>,
    pub hints: Vec<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line, self.column) {
            (Some(path), Some(line), Some(column)) => write!(f, "{path}:{line}:{column}: ")?,
            (Some(path), _, _) => write!(f, "{path}: ")?,
            _ => {}
        }
        f.write_str(&self.message)?;
        for hint in &self.hints {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template failed to compile: {}", join_diagnostics(.0))]
    Compile(Vec<Diagnostic>),
    #[error("PDF export failed: {0}")]
    Export(String),
    /// The document does not meet the standard it was asked to.
    #[error("the document does not meet {standard}: {}", join_diagnostics(.diagnostics))]
    Nonconforming {
        standard: PdfStandard,
        diagnostics: Vec<Diagnostic>,
    },
    #[error("invalid render input: {0}")]
    Input(String),
    /// The template's files are unusable (reserved or bad paths, no main.typ).
    #[error("invalid template: {reason}")]
    InvalidTemplate { reason: String },
}

fn join_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let parts: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

impl Engine {
    /// Loads typst's embedded fonts and the bundled ones from `templates/fonts`.
    pub fn new() -> Result<Engine, RenderError> {
        let mut fonts = FontStore::new();
        fonts.extend(typst_kit::fonts::embedded());
        for file in FONTS.files() {
            if is_font(&file.path().to_string_lossy()) {
                fonts.extend(Font::iter(Bytes::new(file.contents())).map(|font| {
                    let info = font.info().clone();
                    (font, info)
                }));
            }
        }
        // No `sys.inputs`: data travels as /data.json, which compiles faster.
        let library = LazyHash::new(Library::builder().build());
        Ok(Engine {
            inner: Arc::new(Shared { library, fonts }),
        })
    }

    /// Synchronous and CPU-bound: callers run it on tokio's blocking pool. Calls
    /// `typst::comemo::evict(10)` after every render (success or error).
    pub fn render(
        &self,
        template: &Template,
        input: &RenderInput,
    ) -> Result<Rendered, RenderError> {
        self.render_with_warnings(template, input)
            .map(|(rendered, _)| rendered)
    }

    /// [`Self::render`], also returning typst's warnings (tests assert that the
    /// built-in templates have none).
    pub fn render_with_warnings(
        &self,
        template: &Template,
        input: &RenderInput,
    ) -> Result<(Rendered, Vec<Diagnostic>), RenderError> {
        // Evict on every exit, including early returns and panics: comemo
        // memoizes across compilations and otherwise grows ~1 MiB per job.
        let _evict = EvictOnDrop;
        let (document, warnings, now) = self.compile(template, input)?;
        let options = PdfOptions {
            timestamp: pdf_timestamp(now),
            standards: pdf_standards(input.standard)?,
            ..PdfOptions::default()
        };
        let pdf = typst_pdf::pdf(&document, &options).map_err(|errors| match input.standard {
            Some(standard) => RenderError::Nonconforming {
                standard,
                diagnostics: self.locate_all(template, &errors),
            },
            None => export_error(&errors),
        })?;

        let rendered = Rendered {
            pdf,
            pages: document.pages().len(),
        };
        Ok((rendered, warnings))
    }

    /// Lays the document out: everything but the export. Callers evict (see
    /// [`EvictOnDrop`]).
    pub(crate) fn compile(
        &self,
        template: &Template,
        input: &RenderInput,
    ) -> Result<(PagedDocument, Vec<Diagnostic>, OffsetDateTime), RenderError> {
        let data =
            serde_json::to_vec(&input.data).map_err(|err| RenderError::Input(err.to_string()))?;
        let mut images: [Option<Bytes>; ImageSlot::COUNT] = Default::default();
        for (slot, bytes) in &input.images {
            images[slot.index()] = Some(Bytes::new(bytes.clone()));
        }
        let mut field_images = HashMap::new();
        for (name, bytes) in &input.field_images {
            let path = format!("{}{name}", world::FIELDS_DIR);
            let id = world::file_id(&path)
                .ok_or_else(|| RenderError::Input(format!("bad image field name {name:?}")))?;
            field_images.insert(id, Bytes::new(bytes.clone()));
        }
        let now = input.timestamp.unwrap_or_else(OffsetDateTime::now_utc);

        let world = CertWorld {
            shared: &self.inner,
            template: &template.inner,
            data: Bytes::new(data),
            images,
            field_images,
            now,
        };

        let Warned { output, warnings } = typst::compile::<PagedDocument>(&world);
        let warnings: Vec<Diagnostic> = warnings
            .iter()
            .map(|warning| diagnostic(&world, warning))
            .collect();
        if !warnings.is_empty() {
            tracing::warn!(
                warnings = %join_diagnostics(&warnings),
                "template produced warnings"
            );
        }
        let document = output.map_err(|errors| {
            RenderError::Compile(errors.iter().map(|e| diagnostic(&world, e)).collect())
        })?;
        Ok((document, warnings, now))
    }
}

impl Engine {
    /// `errors` located in `template`'s files (an export's errors carry spans into them).
    fn locate_all(&self, template: &Template, errors: &[SourceDiagnostic]) -> Vec<Diagnostic> {
        let world = CertWorld {
            shared: &self.inner,
            template: &template.inner,
            data: Bytes::new(Vec::new()),
            images: Default::default(),
            field_images: HashMap::new(),
            now: OffsetDateTime::now_utc(),
        };
        let mut located: Vec<Diagnostic> = Vec::new();
        for error in errors {
            let d = diagnostic(&world, error);
            // PDF/A reports one error per offending glyph or image: keep distinct ones.
            if located.len() < MAX_EXPORT_MESSAGES && !located.contains(&d) {
                located.push(d);
            }
        }
        located
    }
}

/// Evicts typst's memoization cache when dropped. Uses typst's re-exported
/// comemo: a separately versioned comemo would evict a different cache.
pub(crate) struct EvictOnDrop;

impl Drop for EvictOnDrop {
    fn drop(&mut self) {
        typst::comemo::evict(10);
        EVICTIONS.fetch_add(1, Ordering::Relaxed);
    }
}

impl Template {
    /// Checks and parses a template's files, given as (virtual path, bytes) with the
    /// entry point at `/main.typ`. Syntax errors are not reported here but by the
    /// first render, located, like every other compile error.
    pub fn compile(files: Vec<(String, Vec<u8>)>) -> Result<Template, RenderError> {
        let invalid = |reason: String| RenderError::InvalidTemplate { reason };
        let mut template = world::TemplateFiles {
            files: HashMap::new(),
            sources: HashMap::new(),
        };
        for (path, bytes) in files {
            if shared::templates::is_reserved_path(&path) {
                return Err(invalid(format!("{path} is reserved for job data")));
            }
            let id = world::file_id(&path).ok_or_else(|| invalid(format!("bad path {path}")))?;
            if path.ends_with(".typ") {
                let text = String::from_utf8(bytes.clone())
                    .map_err(|_| invalid(format!("{path} is not UTF-8")))?;
                template.sources.insert(id, Source::new(id, text));
            }
            template.files.insert(id, Bytes::new(bytes));
        }
        if !template.sources.contains_key(&IDS.main) {
            return Err(invalid(format!("missing {}", world::MAIN_PATH)));
        }
        Ok(Template { inner: template })
    }
}

/// The templates shipped in `templates/certificates/` (kind certificate) and
/// `templates/reports/` (kind report), for seeding the store, sorted by name.
/// True when `content`'s files are exactly those of a template shipped in this binary. Only
/// those are trusted to render in-process; any other source (uploaded, or a built-in's row
/// changed in the database) is parsed and rendered only in the bounded child.
pub fn is_shipped(content: &TemplateContent) -> bool {
    static SHIPPED: std::sync::OnceLock<std::collections::HashSet<String>> =
        std::sync::OnceLock::new();
    SHIPPED
        .get_or_init(|| {
            builtin_templates()
                .unwrap_or_default()
                .iter()
                .map(|t| t.content.files_digest())
                .collect()
        })
        .contains(&content.files_digest())
}

pub fn builtin_templates() -> Result<Vec<BuiltinTemplate>, RenderError> {
    let mut out = Vec::new();
    let kinds = [
        (&CERTIFICATES, TemplateKind::Certificate),
        (&REPORTS, TemplateKind::Report),
    ];
    for (dir, kind) in kinds
        .into_iter()
        .flat_map(|(root, kind)| root.dirs().map(move |dir| (dir, kind)))
    {
        let name = dir_name(dir);
        if name.starts_with('.') {
            continue;
        }
        let invalid = |reason: String| RenderError::InvalidTemplate {
            reason: format!("built-in template {name}: {reason}"),
        };
        let mut files = embedded_files(dir);
        let manifest: Manifest = match files.iter().position(|(p, _)| p == "/template.json") {
            Some(i) => serde_json::from_slice(files.remove(i).1)
                .map_err(|e| invalid(format!("{MANIFEST}: {e}")))?,
            None => Manifest {
                description: String::new(),
                fields: Vec::new(),
                pdf_standard: None,
            },
        };
        let mut source = None;
        let mut assets = BTreeMap::new();
        for (path, bytes) in files {
            if path == world::MAIN_PATH {
                source = Some(
                    String::from_utf8(bytes.to_vec())
                        .map_err(|_| invalid("main.typ is not UTF-8".into()))?,
                );
            } else {
                assets.insert(path, bytes.to_vec());
            }
        }
        let source = source.ok_or_else(|| invalid("missing main.typ".into()))?;
        out.push(BuiltinTemplate {
            name,
            kind,
            description: manifest.description,
            content: TemplateContent {
                source,
                assets,
                fields: manifest.fields,
                pdf_standard: manifest.pdf_standard,
            },
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn dir_name(dir: &Dir<'_>) -> String {
    dir.path()
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// All files below `dir`, with their virtual paths relative to it ("/main.typ").
fn embedded_files(dir: &'static Dir<'static>) -> Vec<(String, &'static [u8])> {
    fn walk(base: &Path, dir: &'static Dir<'static>, out: &mut Vec<(String, &'static [u8])>) {
        for file in dir.files() {
            let relative = file.path().strip_prefix(base).unwrap_or(file.path());
            let hidden = relative
                .components()
                .any(|part| part.as_os_str().to_string_lossy().starts_with('.'));
            if !hidden {
                // Virtual paths always use '/', whatever the build host.
                let parts: Vec<_> = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy())
                    .collect();
                out.push((format!("/{}", parts.join("/")), file.contents()));
            }
        }
        for sub in dir.dirs() {
            walk(base, sub, out);
        }
    }
    let mut out = Vec::new();
    walk(dir.path(), dir, &mut out);
    out
}

fn is_font(path: &str) -> bool {
    Path::new(path)
        .extension()
        .and_then(|ext| ext.to_str())
        .is_some_and(|ext| FONT_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}

/// Most distinct messages an export error lists: PDF/A reports one error per offending
/// glyph or image, which can be thousands.
const MAX_EXPORT_MESSAGES: usize = 5;

/// One [`RenderError::Export`] from typst's export errors: distinct messages (with their
/// hints), the first few of them, and how many more there were.
fn export_error(errors: &[SourceDiagnostic]) -> RenderError {
    let mut messages: Vec<String> = Vec::new();
    let mut more = 0;
    for error in errors {
        let mut message = error.message.to_string();
        for hint in &error.hints {
            message.push_str(&format!(" (hint: {})", hint.v));
        }
        if messages.contains(&message) {
            continue;
        }
        if messages.len() < MAX_EXPORT_MESSAGES {
            messages.push(message);
        } else {
            more += 1;
        }
    }
    let mut joined = messages.join("; ");
    if more > 0 {
        joined.push_str(&format!("; and {more} more"));
    }
    RenderError::Export(joined)
}

/// The PDF standards of an export: PDF 1.7 (typst's default), or those asked for.
pub(crate) fn pdf_standards(standard: Option<PdfStandard>) -> Result<PdfStandards, RenderError> {
    use typst_pdf::PdfStandard as Typst;
    let Some(standard) = standard else {
        return Ok(PdfStandards::default());
    };
    let archival = standard.archival.map(|a| match a {
        Archival::A1b => Typst::A_1b,
        Archival::A1a => Typst::A_1a,
        Archival::A2b => Typst::A_2b,
        Archival::A2u => Typst::A_2u,
        Archival::A2a => Typst::A_2a,
        Archival::A3b => Typst::A_3b,
        Archival::A3u => Typst::A_3u,
        Archival::A3a => Typst::A_3a,
        Archival::A4 => Typst::A_4,
        Archival::A4f => Typst::A_4f,
        Archival::A4e => Typst::A_4e,
    });
    let list: Vec<Typst> = archival
        .into_iter()
        .chain(standard.ua1.then_some(Typst::Ua_1))
        .collect();
    PdfStandards::new(&list)
        .map_err(|err| RenderError::Export(format!("{standard}: {}", err.message())))
}

/// The PDF creation date, in UTC.
fn pdf_timestamp(now: OffsetDateTime) -> Option<Timestamp> {
    let utc = now.to_offset(time::UtcOffset::UTC);
    let datetime = Datetime::from_ymd_hms(
        utc.year(),
        utc.month().into(),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
    )?;
    Some(Timestamp::new_utc(datetime))
}

/// Converts a typst diagnostic, resolving its span to file, line and column.
fn diagnostic(world: &CertWorld<'_>, diag: &SourceDiagnostic) -> Diagnostic {
    let (path, position) = locate(world, diag.span);
    Diagnostic {
        message: diag.message.to_string(),
        path,
        line: position.map(|(line, _)| line + 1),
        column: position.map(|(_, column)| column + 1),
        hints: diag.hints.iter().map(|hint| hint.v.to_string()).collect(),
    }
}

fn locate(world: &CertWorld<'_>, span: DiagSpan) -> (Option<String>, Option<(usize, usize)>) {
    let Some(id) = span.id() else {
        return (None, None);
    };
    let path = Some(id.vpath().get_with_slash().to_owned());
    let position = world.range(span).and_then(|range| match world.source(id) {
        Ok(source) => source.lines().byte_to_line_column(range.start),
        // Errors in data files (e.g. bad JSON) carry byte ranges into the file.
        Err(_) => world
            .file(id)
            .ok()?
            .lines()
            .ok()?
            .byte_to_line_column(range.start),
    });
    (path, position)
}
