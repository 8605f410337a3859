//! The API's calendar dates: the `NaiveDate` scalar, `YYYY-MM-DD`.
//!
//! async-graphql's own scalar for `chrono::NaiveDate` writes every date through chrono's
//! `strftime` interpreter, which parses its format string anew for each value: on a dashboard
//! (fifty milestones with three dates each, the phases' plans) that was 2 % of the server's
//! CPU. This one writes the ten characters of a year from 0 to 9999 itself (chrono's
//! `Display`, which writes the same text, still cost some 800 instructions a date, growing its
//! string a character at a time) and any other year with chrono's `Display`; it reads as that
//! one does, under the same name and description, so the schema is unchanged.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{Datelike, NaiveDate};

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
        Value::String(iso_text(self.0))
    }
}

/// `YYYY-MM-DD`, as chrono's `Display` writes it.
fn iso_text(date: NaiveDate) -> String {
    let Ok(year @ 0..=9999) = u32::try_from(date.year()) else {
        return date.to_string();
    };
    let mut text = String::with_capacity(10);
    push_digits(&mut text, year, 4);
    text.push('-');
    push_digits(&mut text, date.month(), 2);
    text.push('-');
    push_digits(&mut text, date.day(), 2);
    text
}

/// The last `count` decimal digits of `value`, zero-padded.
fn push_digits(text: &mut String, value: u32, count: u32) {
    for place in (0..count).rev() {
        let digit = value / 10u32.pow(place) % 10;
        text.push(char::from_digit(digit, 10).unwrap_or('0'));
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

    #[test]
    fn every_date_is_written_as_chrono_writes_it() {
        let mut date = NaiveDate::from_ymd_opt(-3, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(10_002, 12, 31).unwrap();
        let mut written = 0;
        while date <= last {
            assert_eq!(iso_text(date), date.to_string());
            // Every day of the years around the bounds, one day in seven elsewhere.
            let step = if date.year() < 3 || date.year() > 9997 {
                1
            } else {
                7
            };
            date = date + chrono::Days::new(step);
            written += 1;
        }
        assert!(written > 500_000, "{written}");
        assert_eq!(iso_text(NaiveDate::MIN), NaiveDate::MIN.to_string());
        assert_eq!(iso_text(NaiveDate::MAX), NaiveDate::MAX.to_string());
    }
}
