//! Certificate rendering with embedded typst 0.15 (DESIGN.md sections 4 and 4a).
//!
//! [`Engine`] holds what every render shares (fonts, the standard library and
//! the parsed built-in templates); each [`Engine::render`] builds a cheap
//! `World` around it that serves only the template's own files, the job data
//! at `/data.json` and the job's images at fixed extension-less paths.

mod world;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use include_dir::{Dir, include_dir};
use time::OffsetDateTime;
use typst::diag::{SourceDiagnostic, Warned};
use typst::foundations::{Bytes, Datetime};
use typst::syntax::{DiagSpan, Source};
use typst::text::Font;
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_kit::fonts::FontStore;
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, Timestamp};

use self::world::{CertWorld, IDS, RESERVED_PATHS, Shared, Template};

/// The built-in templates, one directory each, compiled into the binary so it
/// runs from any directory. Note: rustc tracks changes to files that existed
/// at the last build, but a newly added file needs a rebuild of this crate.
static CERTIFICATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates/certificates");

/// A directory of extra fonts inside `templates/certificates` (not a template).
const FONTS_DIR: &str = "fonts";
const FONT_EXTENSIONS: [&str; 4] = ["ttf", "otf", "ttc", "otc"];

/// How many times renders have evicted typst's memoization cache; tests use it
/// to prove eviction happens on every path.
static EVICTIONS: AtomicU64 = AtomicU64::new(0);

/// Shared rendering state: fonts, library and the parsed built-in templates.
/// Cloning is an `Arc` clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Shared,
    templates: BTreeMap<String, Template>,
}

/// The job-specific inputs of one render.
#[derive(Debug, Clone, Default)]
pub struct RenderInput {
    /// Served to the template as the virtual file `/data.json`.
    pub data: serde_json::Value,
    /// Served at each slot's fixed path (see [`ImageSlot::path`]); the format is
    /// sniffed from the bytes. If a slot appears twice the last one wins.
    pub images: Vec<(ImageSlot, Vec<u8>)>,
    /// The document date: `today()` in the template and the PDF creation date.
    /// `None` means now (UTC).
    pub timestamp: Option<OffsetDateTime>,
}

/// The fixed places a template can read a job's images from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageSlot {
    Photo,
    Signature,
    Logo,
}

impl ImageSlot {
    const COUNT: usize = 3;
    const ALL: [ImageSlot; Self::COUNT] = [Self::Photo, Self::Signature, Self::Logo];

    /// The virtual path the template reads the image from, e.g. `image("/photo")`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Photo => "/photo",
            Self::Signature => "/signature",
            Self::Logo => "/logo",
        }
    }

    fn index(self) -> usize {
        self as usize
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
    #[error("unknown template {0:?}")]
    UnknownTemplate(String),
    #[error("template failed to compile: {}", join_diagnostics(.0))]
    Compile(Vec<Diagnostic>),
    #[error("PDF export failed: {0}")]
    Export(String),
    #[error("invalid render input: {0}")]
    Input(String),
    /// A built-in template is broken; only `Engine::new` returns this.
    #[error("invalid built-in template {name:?}: {reason}")]
    InvalidTemplate { name: String, reason: String },
}

fn join_diagnostics(diagnostics: &[Diagnostic]) -> String {
    let parts: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

impl Engine {
    /// Loads fonts and the built-in templates (embedded in the binary at compile
    /// time from the repo's `templates/certificates/<name>/` dirs with the
    /// `include_dir` crate, so the binary runs from any directory). Cheap to
    /// share via Arc.
    pub fn new() -> Result<Engine, RenderError> {
        let mut templates = Vec::new();
        let mut fonts = Vec::new();
        for dir in CERTIFICATES.dirs() {
            let name = dir_name(dir);
            if name.starts_with('.') {
                continue;
            }
            if name == FONTS_DIR {
                fonts.extend(
                    embedded_files(dir)
                        .into_iter()
                        .filter(|(path, _)| is_font(path))
                        .map(|(_, bytes)| bytes),
                );
            } else {
                templates.push((name, embedded_files(dir)));
            }
        }
        Self::from_parts(templates, fonts)
    }

    /// Builds an engine from templates given as (name, [(virtual path, bytes)])
    /// and extra font files. Tests use it to run templates that are not built in.
    fn from_parts(
        templates: Vec<(String, TemplateFiles)>,
        extra_fonts: Vec<&'static [u8]>,
    ) -> Result<Engine, RenderError> {
        let mut fonts = FontStore::new();
        fonts.extend(typst_kit::fonts::embedded());
        for data in extra_fonts {
            fonts.extend(Font::iter(Bytes::new(data)).map(|font| {
                let info = font.info().clone();
                (font, info)
            }));
        }

        let templates = templates
            .into_iter()
            .map(|(name, files)| {
                let template = load_template(&name, files)?;
                Ok((name, template))
            })
            .collect::<Result<_, RenderError>>()?;

        // No `sys.inputs`: data travels as /data.json, which compiles faster.
        let library = LazyHash::new(Library::builder().build());
        Ok(Engine {
            inner: Arc::new(Inner {
                shared: Shared { library, fonts },
                templates,
            }),
        })
    }

    /// Names of the built-in certificate templates, e.g. ["classic"].
    pub fn template_names(&self) -> Vec<String> {
        self.inner.templates.keys().cloned().collect()
    }

    pub fn has_template(&self, name: &str) -> bool {
        self.inner.templates.contains_key(name)
    }

    /// Synchronous and CPU-bound: callers run it on tokio's blocking pool. Calls
    /// `typst::comemo::evict(10)` after every render (success or error).
    pub fn render(&self, template: &str, input: &RenderInput) -> Result<Rendered, RenderError> {
        self.render_with_warnings(template, input)
            .map(|(rendered, _)| rendered)
    }

    /// [`Self::render`], also returning typst's warnings (tests assert that the
    /// built-in templates have none).
    fn render_with_warnings(
        &self,
        template: &str,
        input: &RenderInput,
    ) -> Result<(Rendered, Vec<Diagnostic>), RenderError> {
        // Evict on every exit, including early returns and panics: comemo
        // memoizes across compilations and otherwise grows ~1 MiB per job.
        let _evict = EvictOnDrop;

        let template = self
            .inner
            .templates
            .get(template)
            .ok_or_else(|| RenderError::UnknownTemplate(template.to_owned()))?;
        let data =
            serde_json::to_vec(&input.data).map_err(|err| RenderError::Input(err.to_string()))?;
        let mut images: [Option<Bytes>; ImageSlot::COUNT] = Default::default();
        for (slot, bytes) in &input.images {
            images[slot.index()] = Some(Bytes::new(bytes.clone()));
        }
        let now = input.timestamp.unwrap_or_else(OffsetDateTime::now_utc);

        let world = CertWorld {
            shared: &self.inner.shared,
            template,
            data: Bytes::new(data),
            images,
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
                "certificate template produced warnings"
            );
        }
        let document = output.map_err(|errors| {
            RenderError::Compile(errors.iter().map(|e| diagnostic(&world, e)).collect())
        })?;

        let options = PdfOptions {
            timestamp: pdf_timestamp(now),
            ..PdfOptions::default()
        };
        let pdf = typst_pdf::pdf(&document, &options).map_err(|errors| {
            let messages: Vec<String> = errors.iter().map(|e| e.message.to_string()).collect();
            RenderError::Export(messages.join("; "))
        })?;

        let rendered = Rendered {
            pdf,
            pages: document.pages().len(),
        };
        Ok((rendered, warnings))
    }
}

/// Evicts typst's memoization cache when dropped. Uses typst's re-exported
/// comemo: a separately versioned comemo would evict a different cache.
struct EvictOnDrop;

impl Drop for EvictOnDrop {
    fn drop(&mut self) {
        typst::comemo::evict(10);
        EVICTIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Parses a template's `.typ` files once; every render reuses the sources.
fn load_template(name: &str, files: TemplateFiles) -> Result<Template, RenderError> {
    let invalid = |reason: String| RenderError::InvalidTemplate {
        name: name.to_owned(),
        reason,
    };
    let mut template = Template {
        files: HashMap::new(),
        sources: HashMap::new(),
    };
    for (path, bytes) in files {
        if RESERVED_PATHS.contains(&path.as_str()) {
            return Err(invalid(format!("{path} is reserved for job data")));
        }
        let id = world::file_id(&path).ok_or_else(|| invalid(format!("bad path {path}")))?;
        if path.ends_with(".typ") {
            let text =
                std::str::from_utf8(bytes).map_err(|_| invalid(format!("{path} is not UTF-8")))?;
            let source = Source::new(id, text.to_owned());
            // Fail at startup, not on the first job.
            if let Some(error) = source.root().errors_and_warnings().0.first() {
                return Err(invalid(format!("{path}: syntax error: {}", error.message)));
            }
            template.sources.insert(id, source);
        }
        template.files.insert(id, Bytes::new(bytes));
    }
    if !template.sources.contains_key(&IDS.main) {
        return Err(invalid(format!("missing {}", world::MAIN_PATH)));
    }
    Ok(template)
}

fn dir_name(dir: &Dir<'_>) -> String {
    dir.path()
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A template's files as (virtual path, contents), e.g. ("/main.typ", ..).
type TemplateFiles = Vec<(String, &'static [u8])>;

/// All files below `dir`, with their virtual paths relative to it ("/main.typ").
fn embedded_files(dir: &'static Dir<'static>) -> TemplateFiles {
    fn walk(base: &Path, dir: &'static Dir<'static>, out: &mut TemplateFiles) {
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
