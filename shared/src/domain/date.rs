use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::macros::format_description;

/// A calendar day, parsed once from `YYYY-MM-DD` at the edge. It is written back the same
/// way everywhere (JSON payloads, the database's TEXT columns), so ISO order is date order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalendarDate(time::Date);

impl CalendarDate {
    pub const fn new(date: time::Date) -> Self {
        Self(date)
    }

    /// Today in UTC.
    pub fn today() -> Self {
        Self(time::OffsetDateTime::now_utc().date())
    }

    pub fn date(self) -> time::Date {
        self.0
    }

    /// `21 November 2026`: how templates print a date.
    pub fn display(self) -> String {
        self.0
            .format(format_description!(
                "[day padding:none] [month repr:long] [year]"
            ))
            .unwrap_or_else(|_| self.to_string())
    }
}

impl From<time::Date> for CalendarDate {
    fn from(date: time::Date) -> Self {
        Self(date)
    }
}

impl FromStr for CalendarDate {
    type Err = time::error::Parse;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        time::Date::parse(raw, format_description!("[year]-[month]-[day]")).map(Self)
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }
}

impl Serialize for CalendarDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CalendarDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        raw.parse()
            .map_err(|e| serde::de::Error::custom(format!("`{raw}` is not a YYYY-MM-DD date: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prints_and_displays() {
        let d: CalendarDate = "2026-01-05".parse().unwrap();
        assert_eq!(d.to_string(), "2026-01-05");
        assert_eq!(d.display(), "5 January 2026");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-01-05\"");
        let back: CalendarDate = serde_json::from_str("\"2026-11-21\"").unwrap();
        assert_eq!(back.display(), "21 November 2026");
        assert!("2026-02-30".parse::<CalendarDate>().is_err());
        assert!(serde_json::from_str::<CalendarDate>("\"garbage\"").is_err());
        assert!(d < back);
    }
}
