//! The fixed day the bench portfolio describes, and the moments of a project's history.
//!
//! Nothing reads the clock: every date is an offset from [`AS_OF`], so that one seed always
//! gives the same rows. Read on a later day, more open milestones simply look overdue.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

/// The day the portfolio is a snapshot of: every achieved date, vote and defect lies before it.
pub const AS_OF: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 30) {
    Some(day) => day,
    None => panic!("a valid date"),
};

/// `day` at `hour`:00 UTC.
pub fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    (day.and_time(NaiveTime::MIN) + Duration::hours(i64::from(hour))).and_utc()
}

/// The end of the snapshot: the evening of [`AS_OF`].
pub fn as_of_instant() -> DateTime<Utc> {
    at(AS_OF, 18)
}

/// `days` after `day` (before it, when negative).
pub fn plus_days(day: NaiveDate, days: i64) -> NaiveDate {
    day + Duration::days(days)
}

/// A stretch of a project's history, from its creation to the snapshot, that events are laid
/// out on by fraction, so that they keep their order whatever the stretch's length.
#[derive(Debug, Clone, Copy)]
pub struct History {
    start: DateTime<Utc>,
    length: Duration,
}

impl History {
    /// From `start` to the end of the snapshot.
    pub fn until_snapshot(start: DateTime<Utc>) -> Self {
        let end = as_of_instant();
        debug_assert!(start < end, "a history ends after it starts");
        Self {
            start,
            length: end - start,
        }
    }

    /// The moment `fraction` (0 to 1) of the way through.
    pub fn at(&self, fraction: f64) -> DateTime<Utc> {
        let seconds = self.length.num_seconds() as f64 * fraction.clamp(0.0, 1.0);
        self.start + Duration::seconds(seconds as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_moments_keep_their_order_and_end_at_the_snapshot() {
        let history = History::until_snapshot(at(plus_days(AS_OF, -10), 9));
        assert!(history.at(0.2) < history.at(0.3));
        assert_eq!(history.at(1.5), as_of_instant());
    }
}
