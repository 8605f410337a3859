//! The API's calendar dates: the `NaiveDate` scalar, `YYYY-MM-DD`.
//!
//! async-graphql's own scalar for `chrono::NaiveDate` writes every date through chrono's
//! `strftime` interpreter, which parses its format string anew for each value: on a dashboard
//! (fifty milestones with three dates each, the phases' plans) that was 2 % of the server's
//! CPU. This one writes the digits directly (chrono's `Display`, the same text for every year
//! from 0 to 9999) and reads as that one does, under the same name and description, so the
//! schema is unchanged.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::NaiveDate;

/// A calendar date as the API reads and writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(pub NaiveDate);

#[Scalar(name = "NaiveDate")]
/// ISO 8601 calendar date without timezone.
/// Format: %Y-%m-%d
///
/// # Examples
///
/// * `1994-11-13`
/// * `2000-02-24`
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Self)
                .map_err(|error| InputValueError::custom(error.to_string())),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<NaiveDate> for Date {
    fn from(date: NaiveDate) -> Self {
        Self(date)
    }
}

impl From<Date> for NaiveDate {
    fn from(date: Date) -> Self {
        date.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_and_write_as_chrono_s_own_scalar_does() {
        for text in [
            "1994-11-13",
            "2000-02-29",
            "0001-01-01",
            "9999-12-31",
            "2026-12-05",
        ] {
            let date = <Date as ScalarType>::parse(Value::String(text.to_owned())).unwrap();
            let theirs = <NaiveDate as ScalarType>::parse(Value::String(text.to_owned())).unwrap();
            assert_eq!(date.0, theirs, "{text}");
            assert_eq!(date.to_value(), theirs.to_value(), "{text}");
            assert_eq!(date.to_value(), Value::String(text.to_owned()));
        }
        for wrong in ["2026-02-30", "2026-1-5x", "05/12/2026", ""] {
            assert!(<Date as ScalarType>::parse(Value::String(wrong.to_owned())).is_err());
        }
        assert!(<Date as ScalarType>::parse(Value::Number(20261205.into())).is_err());
    }
}
