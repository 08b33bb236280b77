//! `Problems`: every problem with a submission, collected with its field path, so a client
//! fixes them all in one round (answered as one 422).

use shared::domain::{BoundedText, CalendarDate};

use crate::error::{ApiError, FieldError, MAX_LISTED_PROBLEMS};

type Text = BoundedText<10_000>;

/// Collects every problem with a submission, so the client fixes them in one round. Only the
/// first [`MAX_LISTED_PROBLEMS`] are kept (the rest are counted): a huge invalid request costs
/// no more memory than a small one.
#[derive(Default)]
pub(crate) struct Problems {
    listed: Vec<FieldError>,
    total: usize,
}

impl Problems {
    pub(crate) fn add(
        &mut self,
        field: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        self.total += 1;
        if self.listed.len() < MAX_LISTED_PROBLEMS {
            self.listed.push(FieldError::new(field, code, message));
        }
    }

    /// How many problems were found (listed or not).
    pub(crate) fn count(&self) -> usize {
        self.total
    }

    /// The problems so far as one 422 (leaving none behind).
    pub(crate) fn take_error(&mut self) -> ApiError {
        let total = std::mem::take(&mut self.total);
        ApiError::fields_of(std::mem::take(&mut self.listed), total)
    }

    /// One line of text, as the OpenAPI document describes it: at most `max` characters as
    /// sent, none a control character, at least one visible; stored trimmed.
    pub(crate) fn text(&mut self, field: &str, raw: &str, max: usize) -> Option<String> {
        let got = raw.chars().count();
        if got > max {
            self.add(
                field,
                "too_long",
                format!("`{field}` must be at most {max} characters (got {got})"),
            );
            return None;
        }
        match Text::parse(raw) {
            Err(e) => {
                let code = if raw.trim().is_empty() {
                    "missing_field"
                } else {
                    "invalid_field"
                };
                self.add(field, code, format!("`{field}` {e}"));
                None
            }
            Ok(text) => Some(text.into_inner()),
        }
    }

    /// `YYYY-MM-DD` exactly (the document's `format: date`).
    pub(crate) fn date(&mut self, field: &str, raw: &str) -> Option<CalendarDate> {
        match raw.parse::<CalendarDate>() {
            Ok(d) => Some(d),
            Err(_) => {
                self.add(
                    field,
                    "invalid_date",
                    format!("`{field}` must be a date as YYYY-MM-DD, e.g. 2026-11-21"),
                );
                None
            }
        }
    }

    pub(crate) fn into_result(mut self) -> Result<(), ApiError> {
        if self.total == 0 {
            Ok(())
        } else {
            Err(self.take_error())
        }
    }
}
