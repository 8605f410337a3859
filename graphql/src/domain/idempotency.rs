//! Idempotency keys: what a key may look like, how long it is remembered, and what a request
//! carrying one gets given what is remembered.

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

/// How long a key and its answer are kept.
pub const KEY_LIFETIME: Duration = Duration::hours(24);

/// Added to a keyed request's time limit to tell when it has surely ended: for what runs
/// around its operations (the reservation's own commit, the answer's encoding), and for the
/// clocks of servers sharing one database, which may disagree by a little.
pub const ABANDONMENT_MARGIN: Duration = Duration::minutes(1);

/// When a request reserving its key at `reserved_at` has surely ended, answered or not, if
/// its work is cut off after `time_limit`: a key still unanswered then was abandoned (its
/// server stopped under it). `None` without a limit: such a key waits out its lifetime.
pub fn abandoned_after(
    reserved_at: DateTime<Utc>,
    time_limit: Option<std::time::Duration>,
) -> Option<DateTime<Utc>> {
    let limit = Duration::from_std(time_limit?).ok()?;
    reserved_at.checked_add_signed(limit.checked_add(&ABANDONMENT_MARGIN)?)
}

/// A client-chosen key (a UUID is customary): 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("an Idempotency-Key is 1 to 255 visible ASCII characters")]
pub struct BadKey;

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, BadKey> {
        let valid = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| Self(raw.to_owned())).ok_or(BadKey)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is remembered of an earlier request with the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub fingerprint: String,
    pub response: Option<String>,
    /// The earlier request ended without an answer to keep after some of its changes had
    /// been committed.
    pub unanswered: bool,
    pub created_at: DateTime<Utc>,
    /// Some of the earlier request's changes reached the database.
    pub written: bool,
    /// By when the earlier request has surely ended ([`abandoned_after`]).
    pub abandoned_after: Option<DateTime<Utc>>,
}

impl Remembered {
    /// Whether the request holding the key was cut off with its server by `now`. A limit
    /// set before the key's reservation is not its request's: a server that knows no limits
    /// took the key over then, and left the last holder's.
    pub fn is_abandoned(&self, now: DateTime<Utc>) -> bool {
        self.abandoned_after
            .is_some_and(|end| end > self.created_at && now >= end)
    }
}

/// What a request with a key gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// First time, or the earlier use expired, or its request was cut off with its server
    /// having written nothing: run it.
    Run,
    /// The same request again: answer what the first one got.
    Replay(String),
    /// The first request with this key has not finished.
    InProgress,
    /// The first request wrote its changes, then ended without an answer (it timed out, or
    /// failed after its commit, or its server stopped). Running it again would apply them
    /// twice: the client is to read what it wrote instead.
    WrittenUnanswered,
    /// The key was used for a different request.
    Reused,
}

pub fn verdict(remembered: Option<&Remembered>, fingerprint: &str, now: DateTime<Utc>) -> Verdict {
    match remembered {
        None => Verdict::Run,
        Some(earlier) if now - earlier.created_at >= KEY_LIFETIME => Verdict::Run,
        Some(earlier) if earlier.fingerprint != fingerprint => Verdict::Reused,
        Some(Remembered {
            response: Some(response),
            ..
        }) => Verdict::Replay(response.clone()),
        Some(Remembered {
            unanswered: true, ..
        }) => Verdict::WrittenUnanswered,
        Some(earlier) if earlier.is_abandoned(now) => {
            // Cut off with its server: what it wrote stands and must not be written twice;
            // having written nothing, it may run again.
            if earlier.written {
                Verdict::WrittenUnanswered
            } else {
                Verdict::Run
            }
        }
        Some(_) => Verdict::InProgress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    #[test]
    fn keys_are_short_visible_ascii() {
        assert!(IdempotencyKey::parse("0b5f7c9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f").is_ok());
        assert_eq!(IdempotencyKey::parse(""), Err(BadKey));
        assert_eq!(IdempotencyKey::parse("has space"), Err(BadKey));
        assert_eq!(IdempotencyKey::parse("ключ"), Err(BadKey));
        assert_eq!(IdempotencyKey::parse(&"k".repeat(256)), Err(BadKey));
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
    }

    #[test]
    fn a_key_replays_its_answer_for_a_day_and_only_for_the_same_request() {
        let done = Remembered {
            fingerprint: "a".into(),
            response: Some("{}".into()),
            unanswered: false,
            created_at: at(0),
            written: false,
            abandoned_after: None,
        };
        assert_eq!(verdict(None, "a", at(0)), Verdict::Run);
        assert_eq!(
            verdict(Some(&done), "a", at(23)),
            Verdict::Replay("{}".into())
        );
        assert_eq!(verdict(Some(&done), "b", at(23)), Verdict::Reused);
        assert_eq!(verdict(Some(&done), "b", at(24)), Verdict::Run);
        let running = Remembered {
            response: None,
            ..done
        };
        assert_eq!(verdict(Some(&running), "a", at(0)), Verdict::InProgress);
        assert_eq!(verdict(Some(&running), "b", at(0)), Verdict::Reused);
        let unanswered = Remembered {
            unanswered: true,
            ..running
        };
        assert_eq!(
            verdict(Some(&unanswered), "a", at(23)),
            Verdict::WrittenUnanswered
        );
        assert_eq!(verdict(Some(&unanswered), "b", at(23)), Verdict::Reused);
        assert_eq!(verdict(Some(&unanswered), "a", at(24)), Verdict::Run);
    }

    #[test]
    fn a_key_left_unanswered_past_its_requests_time_limit_is_settled_by_the_next_request() {
        let limit = std::time::Duration::from_secs(300);
        let end = abandoned_after(at(0), Some(limit)).unwrap();
        assert_eq!(end, at(0) + Duration::minutes(5) + ABANDONMENT_MARGIN);
        assert_eq!(abandoned_after(at(0), None), None);
        assert_eq!(abandoned_after(at(0), Some(std::time::Duration::MAX)), None);

        let running = Remembered {
            fingerprint: "a".into(),
            response: None,
            unanswered: false,
            created_at: at(0),
            written: false,
            abandoned_after: Some(end),
        };
        let just_before = end - Duration::milliseconds(1);
        assert_eq!(
            verdict(Some(&running), "a", just_before),
            Verdict::InProgress
        );
        assert_eq!(verdict(Some(&running), "a", end), Verdict::Run);
        assert_eq!(verdict(Some(&running), "b", end), Verdict::Reused);
        let wrote = Remembered {
            written: true,
            ..running.clone()
        };
        assert_eq!(verdict(Some(&wrote), "a", just_before), Verdict::InProgress);
        assert_eq!(verdict(Some(&wrote), "a", end), Verdict::WrittenUnanswered);
        // An answer kept, or an end recorded, is what it was, limit or not.
        let answered = Remembered {
            response: Some("{}".into()),
            ..wrote.clone()
        };
        assert_eq!(
            verdict(Some(&answered), "a", end),
            Verdict::Replay("{}".into())
        );
        let unlimited = Remembered {
            abandoned_after: None,
            ..running
        };
        assert_eq!(verdict(Some(&unlimited), "a", at(23)), Verdict::InProgress);
        let left_by_an_earlier_holder = Remembered {
            created_at: at(2),
            abandoned_after: Some(end),
            ..unlimited
        };
        assert_eq!(
            verdict(Some(&left_by_an_earlier_holder), "a", at(3)),
            Verdict::InProgress
        );
    }
}
