//! The typst `World` for one render: shared fonts, library and template files
//! plus the job's data and images, and nothing else.

use std::collections::HashMap;
use std::sync::LazyLock;

use time::{OffsetDateTime, UtcOffset};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, World};
use typst_kit::fonts::FontStore;

use super::ImageSlot;

pub(super) use shared::templates::{DATA_PATH, FIELDS_DIR, MAIN_PATH};

/// The fixed file ids. FileIds are interned for the life of the process (at
/// most 65,535), so per-job paths would eventually panic: only the bytes behind
/// these ids change from job to job.
pub(super) struct FixedIds {
    pub main: FileId,
    pub data: FileId,
    pub images: [FileId; ImageSlot::COUNT],
}

pub(super) static IDS: LazyLock<FixedIds> = LazyLock::new(|| FixedIds {
    main: file_id(MAIN_PATH).expect("valid fixed path"),
    data: file_id(DATA_PATH).expect("valid fixed path"),
    images: ImageSlot::ALL.map(|slot| file_id(slot.path()).expect("valid fixed path")),
});

/// Interns a project-rooted virtual path.
pub(super) fn file_id(path: &str) -> Option<FileId> {
    let vpath = VirtualPath::new(path).ok()?;
    Some(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

/// State shared by every render: built once in `Engine::new`.
pub(super) struct Shared {
    pub library: LazyHash<Library>,
    pub fonts: FontStore,
}

/// One template's files, parsed where they are typst sources.
pub(super) struct TemplateFiles {
    /// Every file of the template directory, by its virtual path.
    pub files: HashMap<FileId, Bytes>,
    /// The `.typ` files among them, parsed once and reused by every render.
    pub sources: HashMap<FileId, Source>,
}

/// The per-render world: borrows the shared state and owns only the job's bytes.
pub(super) struct CertWorld<'a> {
    pub shared: &'a Shared,
    pub template: &'a TemplateFiles,
    pub data: Bytes,
    pub images: [Option<Bytes>; ImageSlot::COUNT],
    /// Image fields by their `/fields/<name>` id. Names come from template
    /// declarations or numbered report slots (`image-1`, `signoff-1`), so the set
    /// of interned ids stays small.
    pub field_images: HashMap<FileId, Bytes>,
    pub now: OffsetDateTime,
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().get_with_slash().into())
}

impl World for CertWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.shared.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        self.shared.fonts.book()
    }

    fn main(&self) -> FileId {
        IDS.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        // Job data is never a source: it cannot be imported or included as markup.
        self.template
            .sources
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    // Every id we serve is project-rooted, so package paths (`@preview/..`)
    // never match and fall through to NotFound.
    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == IDS.data {
            return Ok(self.data.clone());
        }
        if let Some(index) = IDS.images.iter().position(|&image| image == id) {
            return self.images[index].clone().ok_or_else(|| not_found(id));
        }
        if let Some(bytes) = self.field_images.get(&id) {
            return Ok(bytes.clone());
        }
        self.template
            .files
            .get(&id)
            .cloned()
            .ok_or_else(|| not_found(id))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.shared.fonts.font(index)
    }

    fn today(&self, offset: Option<Duration>) -> Option<Datetime> {
        // Without an offset typst wants the "local" date: for a server that is
        // the date in the timestamp's own offset (UTC when we took the clock).
        let at = match offset {
            None => self.now,
            Some(offset) => {
                let seconds = offset.seconds().trunc();
                if !seconds.is_finite() || seconds.abs() > f64::from(i32::MAX) {
                    return None;
                }
                self.now
                    .to_offset(UtcOffset::from_whole_seconds(seconds as i32).ok()?)
            }
        };
        Datetime::from_ymd(at.year(), at.month().into(), at.day())
    }
}
