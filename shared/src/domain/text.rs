use std::fmt;

use serde::Serialize;

/// Text a user gave us, trimmed, non-empty, at most `MAX` characters and free of control
/// characters. Parsed once at the edge; afterwards it is trusted to be printable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct BoundedText<const MAX: usize>(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (got {got})")]
    TooLong { max: usize, got: usize },
    #[error("must not contain control characters")]
    Control,
}

impl<const MAX: usize> BoundedText<MAX> {
    /// Trimmed, non-empty, at most `MAX` characters. A control character anywhere is refused,
    /// even a line break that trimming would drop: the API documents this rule as one regex
    /// over the text as sent.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty);
        }
        let got = trimmed.chars().count();
        if got > MAX {
            return Err(TextError::TooLong { max: MAX, got });
        }
        if raw.chars().any(char::is_control) {
            return Err(TextError::Control);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl<const MAX: usize> fmt::Display for BoundedText<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CSV cell a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`, `@`
/// (or a tab or carriage return, which some programs strip first) gets a leading `'`, as
/// OWASP's CSV-injection advice says. A recipient named `=HYPERLINK(…)` stays text. The
/// manifests of batch archives and workflow archives use it.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(BoundedText::<5>::parse("  Zoë ").unwrap().as_str(), "Zoë");
        assert_eq!(BoundedText::<5>::parse("   "), Err(TextError::Empty));
        assert_eq!(
            BoundedText::<3>::parse("abcd"),
            Err(TextError::TooLong { max: 3, got: 4 })
        );
        assert_eq!(BoundedText::<9>::parse("a\u{7}b"), Err(TextError::Control));
        assert_eq!(BoundedText::<9>::parse("ab\n"), Err(TextError::Control));
    }
}
