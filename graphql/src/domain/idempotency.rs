//! Idempotency keys: what a key may look like, how long it is remembered, and what a request
//! carrying one gets given what is remembered.

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

/// How long a key and its answer are kept.
pub const KEY_LIFETIME: Duration = Duration::hours(24);

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
}

/// What a request with a key gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// First time (or the earlier use expired): run it.
    Run,
    /// The same request again: answer what the first one got.
    Replay(String),
    /// The first request with this key has not finished.
    InProgress,
    /// The first request wrote its changes, then ended without an answer (it timed out, or
    /// failed after its commit). Running it again would apply them twice: the client is to
    /// read what it wrote instead.
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
}
