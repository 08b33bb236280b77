use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A PDF/A part and conformance level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Archival {
    A1b,
    A1a,
    A2b,
    A2u,
    A2a,
    A3b,
    A3u,
    A3a,
    A4,
    A4f,
    A4e,
}

impl Archival {
    const ALL: [Archival; 11] = [
        Self::A1b,
        Self::A1a,
        Self::A2b,
        Self::A2u,
        Self::A2a,
        Self::A3b,
        Self::A3u,
        Self::A3a,
        Self::A4,
        Self::A4f,
        Self::A4e,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::A1b => "a-1b",
            Self::A1a => "a-1a",
            Self::A2b => "a-2b",
            Self::A2u => "a-2u",
            Self::A2a => "a-2a",
            Self::A3b => "a-3b",
            Self::A3u => "a-3u",
            Self::A3a => "a-3a",
            Self::A4 => "a-4",
            Self::A4f => "a-4f",
            Self::A4e => "a-4e",
        }
    }

    /// The part (1–4), as XMP's `pdfaid:part` says it.
    fn part(self) -> u8 {
        match self {
            Self::A1b | Self::A1a => 1,
            Self::A2b | Self::A2u | Self::A2a => 2,
            Self::A3b | Self::A3u | Self::A3a => 3,
            Self::A4 | Self::A4f | Self::A4e => 4,
        }
    }
}

/// The standards a document is exported to meet (`pdf_standard`): at most one PDF/A level
/// and PDF/UA-1, written `a-2b`, `ua-1` or `a-2a+ua-1`. typst checks the document against
/// them as it exports, so a PDF that does not meet them is never written. Parsed once at the
/// edge; PDF/UA-1 does not combine with PDF/A-4 (PDF 2.0), which typst would refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PdfStandard {
    pub archival: Option<Archival>,
    /// PDF/UA-1 (universal accessibility).
    pub ua1: bool,
}

/// Why a `pdf_standard` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a PDF standard quire exports: one of {list}", list = PdfStandard::names().join(", "))]
pub struct PdfStandardError(String);

impl PdfStandard {
    /// PDF/A-2b: what `"pdfa": true` asks for.
    pub const A2B: PdfStandard = PdfStandard {
        archival: Some(Archival::A2b),
        ua1: false,
    };

    /// Every accepted value, in a stable order (the OpenAPI enum).
    pub fn all() -> Vec<PdfStandard> {
        let mut all: Vec<PdfStandard> = Archival::ALL
            .iter()
            .map(|a| PdfStandard {
                archival: Some(*a),
                ua1: false,
            })
            .collect();
        all.push(PdfStandard {
            archival: None,
            ua1: true,
        });
        all.extend(
            Archival::ALL
                .iter()
                .filter(|a| a.part() < 4)
                .map(|a| PdfStandard {
                    archival: Some(*a),
                    ua1: true,
                }),
        );
        all
    }

    pub fn names() -> Vec<String> {
        Self::all().iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for PdfStandard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.archival, self.ua1) {
            (Some(a), true) => write!(f, "{}+ua-1", a.as_str()),
            (Some(a), false) => f.write_str(a.as_str()),
            (None, _) => f.write_str("ua-1"),
        }
    }
}

impl FromStr for PdfStandard {
    type Err = PdfStandardError;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let wanted = raw.trim().to_ascii_lowercase();
        Self::all()
            .into_iter()
            .find(|s| s.to_string() == wanted)
            .ok_or_else(|| PdfStandardError(raw.chars().take(40).collect()))
    }
}

impl Serialize for PdfStandard {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PdfStandard {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_to_itself() {
        let all = PdfStandard::all();
        assert_eq!(all.len(), 11 + 1 + 8);
        for s in all {
            assert_eq!(s.to_string().parse::<PdfStandard>(), Ok(s));
        }
        assert_eq!("A-2B".parse(), Ok(PdfStandard::A2B));
        assert!(
            "a-4+ua-1".parse::<PdfStandard>().is_err(),
            "PDF 2.0 and UA-1"
        );
        assert!("ua-1+a-2b".parse::<PdfStandard>().is_err(), "one spelling");
        let err = "pdf/x".parse::<PdfStandard>().unwrap_err().to_string();
        assert!(
            err.contains("`pdf/x`") && err.contains("a-2a+ua-1"),
            "{err}"
        );
    }
}
