//! Templates as data: what a template declares (its input fields) and what one version holds
//! (typst source and assets). Rendering lives in the worker; storage in `db::templates`;
//! the per-process cache in `cache`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::PdfStandard;

/// What a template produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    Certificate,
    Report,
}

impl TemplateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Certificate => "certificate",
            Self::Report => "report",
        }
    }
}

impl std::str::FromStr for TemplateKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "certificate" => Ok(Self::Certificate),
            "report" => Ok(Self::Report),
            other => Err(format!("unknown template kind {other:?}")),
        }
    }
}

/// The type of a declared input field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    /// `YYYY-MM-DD`.
    Date,
    Number,
    /// A base64 JPEG, PNG or WebP, served to the template at `/fields/<name>`.
    Image,
}

/// One declared template-specific input (`fields.<name>` in a submission).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// 1 to 64 ASCII letters, digits or `_`.
    #[schema(pattern = "^[A-Za-z0-9_]{1,64}$")]
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub required: bool,
    /// Characters, for text fields only (on another type it is a 422).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    pub max_length: Option<u32>,
}

/// Longest declared field name; names are letters, digits and `_`.
pub const MAX_FIELD_NAME: usize = 64;
/// Most fields one template may declare.
pub const MAX_FIELDS: usize = 50;

impl FieldSpec {
    /// Why this declaration is unusable, if it is.
    pub fn problem(&self) -> Option<String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_FIELD_NAME
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Some(format!(
                "field names must be 1 to {MAX_FIELD_NAME} ASCII letters, digits or '_' (got {:?})",
                self.name.chars().take(80).collect::<String>()
            ));
        }
        if self.max_length.is_some() && self.field_type != FieldType::Text {
            return Some(format!(
                "`max_length` applies to text fields only (field `{}`)",
                self.name
            ));
        }
        None
    }
}

/// The content of one immutable template version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateContent {
    /// `main.typ`.
    pub source: String,
    /// Other files by virtual path (`/logo.svg`), served to typst as the template's own.
    pub assets: BTreeMap<String, Vec<u8>>,
    pub fields: Vec<FieldSpec>,
    /// The standards its documents meet unless a job asks for others; checked at upload.
    pub pdf_standard: Option<PdfStandard>,
}

/// Virtual path of a template's entry point.
pub const MAIN_PATH: &str = "/main.typ";
/// Virtual path of a job's data.
pub const DATA_PATH: &str = "/data.json";
/// Where a job's images are served: photo, signature, logo, QR code.
pub const IMAGE_PATHS: [&str; 4] = ["/photo", "/signature", "/logo", "/qr.svg"];
/// Image fields are served at `/fields/<name>`.
pub const FIELDS_DIR: &str = "/fields/";

/// Paths a template may not ship files at, because a job's data is served there.
pub fn is_reserved_path(path: &str) -> bool {
    path == DATA_PATH || IMAGE_PATHS.contains(&path) || path.starts_with(FIELDS_DIR)
}

impl TemplateContent {
    /// A stable fingerprint: equal content, equal digest.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.source.as_bytes());
        for (path, bytes) in &self.assets {
            hash.update([0]);
            hash.update(path.as_bytes());
            hash.update([0]);
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        }
        hash.update([1]);
        hash.update(serde_json::to_vec(&self.fields).unwrap_or_default());
        // Only when declared: versions written before the column keep their digests.
        if let Some(standard) = self.pdf_standard {
            hash.update([2]);
            hash.update(standard.to_string().as_bytes());
        }
        hex::encode(hash.finalize())
    }

    /// A fingerprint of the files alone (what typst runs), not the field declarations: the
    /// worker renders in-process only content whose files digest is a shipped template's.
    pub fn files_digest(&self) -> String {
        let mut hash = Sha256::new();
        let main = (MAIN_PATH, self.source.as_bytes());
        let assets = self.assets.iter().map(|(p, b)| (p.as_str(), b.as_slice()));
        // The same bytes `files()` gives typst, without copying them.
        for (path, bytes) in std::iter::once(main).chain(assets) {
            hash.update((path.len() as u64).to_le_bytes());
            hash.update(path.as_bytes());
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        }
        hex::encode(hash.finalize())
    }

    /// All files as typst sees them: `/main.typ` and the assets.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = vec![(MAIN_PATH.to_owned(), self.source.as_bytes().to_vec())];
        files.extend(self.assets.iter().map(|(p, b)| (p.clone(), b.clone())));
        files
    }

    pub fn total_bytes(&self) -> usize {
        self.source.len() + self.assets.values().map(Vec::len).sum::<usize>()
    }
}

/// A template as stored: identity, metadata and the current version number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateRecord {
    pub id: String,
    pub name: String,
    pub kind: TemplateKind,
    pub description: String,
    pub is_public: bool,
    pub builtin: bool,
    pub owner_id: String,
    /// The current version; every change adds one.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

/// One version of a template with its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVersion {
    pub template_id: String,
    pub version: i64,
    pub content: TemplateContent,
    pub digest: String,
    pub created_at: i64,
}

/// A template shipped in `templates/` and seeded into the database on start.
#[derive(Debug, Clone)]
pub struct BuiltinTemplate {
    pub name: String,
    pub kind: TemplateKind,
    pub description: String,
    pub content: TemplateContent,
}

/// `template.json` beside a built-in template's `main.typ`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub description: String,
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    #[serde(default)]
    pub pdf_standard: Option<PdfStandard>,
}

/// A template name: 1 to 64 of `a-z 0-9 - _`, starting with a letter or digit. Names are
/// how submissions refer to templates, so they are URL- and CSV-safe.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
}

/// An asset path: `/` then segments of `A-Z a-z 0-9 . - _`, no `..`, at most 128 bytes.
pub fn valid_asset_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    path.len() <= 128
        && !rest.is_empty()
        && rest.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_changes_with_any_part() {
        let base = TemplateContent {
            source: "= Hi".into(),
            assets: BTreeMap::from([("/logo.svg".into(), b"<svg/>".to_vec())]),
            fields: vec![],
            pdf_standard: None,
        };
        let mut other = base.clone();
        assert_eq!(base.digest(), other.digest());
        other.assets.insert("/logo.svg".into(), b"<svg />".to_vec());
        assert_ne!(base.digest(), other.digest());
        let mut fields = base.clone();
        fields.fields.push(FieldSpec {
            name: "grade".into(),
            field_type: FieldType::Text,
            required: false,
            max_length: None,
        });
        assert_ne!(base.digest(), fields.digest());
    }

    #[test]
    fn names_and_paths() {
        assert!(valid_name("classic") && valid_name("sat-report_2"));
        assert!(!valid_name("Classic") && !valid_name("-x") && !valid_name("a b"));
        assert!(valid_asset_path("/logo.svg") && valid_asset_path("/img/bg-1.png"));
        for bad in ["logo.svg", "/", "/../x", "/a//b", "/a/./b", "/a b", "/x\\y"] {
            assert!(!valid_asset_path(bad), "{bad}");
        }
    }
}
