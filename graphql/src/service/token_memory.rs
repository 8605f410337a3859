//! Bearer tokens checked lately, so that a caller's next requests need not read theirs again.
//!
//! Every authenticated request begins by reading its token with its user. On SQLite that read
//! is a round trip to a reading connection's thread and, as the connection goes back to its
//! pool, another for sqlx's check of it: for a request as small as `{ __typename }` the token
//! took more time and processor than the rest of the request (the bench's `W3FLOOR`).
//!
//! A server remembers each token it found usable, with the caller it stands for, its expiry
//! and its last recorded use, for a short while ([`TokenMemory::last_for`]; a second by
//! default, nothing until a server sets it). What this server changes about a token (its
//! revocation) forgets it at once. What it cannot see (another server's revocation on the
//! same PostgreSQL, a user made inactive in the database by hand) takes effect when the token
//! is read again, at most that while later. Expiry is checked against the clock at every use.
//!
//! A read that began before a token was forgotten cannot remember what it read: each read
//! carries the [`Generation`] it began in, and forgetting starts a new one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::Actor;

/// Most tokens remembered at once: a bound on memory whatever callers send. A token checked
/// when it is full is not remembered until the ones remembered longest ago are past.
pub const MOST_TOKENS: usize = 4_096;

/// What a server remembers about a usable token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsableToken {
    pub actor: Actor,
    pub expires_at: Option<DateTime<Utc>>,
    /// The last use recorded in the database, or being recorded.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token recalled for one use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recalled {
    pub actor: Actor,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether this use is the one to record: the last recorded was stale, and no other
    /// request recalling the token since has claimed the recording.
    pub record_use: bool,
}

/// When a read of a token began, relative to what was forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

/// The tokens one server checked lately. Shared by every clone of its state.
#[derive(Debug, Default)]
pub struct TokenMemory {
    /// How long a token is trusted from its read, in milliseconds; 0 remembers nothing.
    lasting_ms: AtomicU64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    tokens: HashMap<String, Remembered>,
}

#[derive(Debug)]
struct Remembered {
    token: UsableToken,
    read_at: Instant,
}

impl TokenMemory {
    /// Trusts each token read from now on for `lasting` (zero: reads every token at every
    /// use, and forgets what was remembered).
    pub fn last_for(&self, lasting: Duration) {
        let ms = u64::try_from(lasting.as_millis()).unwrap_or(u64::MAX);
        self.lasting_ms.store(ms, Ordering::Relaxed);
        if ms == 0 {
            self.forget_all();
        }
    }

    /// How long a token is trusted from its read.
    pub fn lasting(&self) -> Duration {
        Duration::from_millis(self.lasting_ms.load(Ordering::Relaxed))
    }

    /// The generation a read beginning now belongs to, for [`TokenMemory::remember`].
    pub fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    /// The token of `digest`, if it was read less than [`TokenMemory::lasting`] before `now`.
    /// `is_stale` tells whether a last use recorded then calls for this one to be recorded;
    /// if so, this use claims the recording and the next recall does not.
    pub fn recall(
        &self,
        digest: &str,
        now: Instant,
        used_at: DateTime<Utc>,
        is_stale: impl FnOnce(Option<DateTime<Utc>>) -> bool,
    ) -> Option<Recalled> {
        let lasting = self.lasting();
        let mut inner = self.lock();
        let remembered = inner.tokens.get_mut(digest)?;
        if now.saturating_duration_since(remembered.read_at) >= lasting {
            inner.tokens.remove(digest);
            return None;
        }
        let token = &mut remembered.token;
        let record_use = is_stale(token.last_used_at);
        if record_use {
            token.last_used_at = Some(used_at);
        }
        Some(Recalled {
            actor: token.actor.clone(),
            expires_at: token.expires_at,
            record_use,
        })
    }

    /// Remembers `token`, read at `read_at` in generation `read_in`, unless something was
    /// forgotten since that read began, nothing is to be remembered, or the memory is full of
    /// tokens still trusted.
    pub fn remember(
        &self,
        digest: String,
        token: UsableToken,
        read_in: Generation,
        read_at: Instant,
    ) {
        let lasting = self.lasting();
        if lasting.is_zero() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != read_in.0 {
            return;
        }
        if inner.tokens.len() >= MOST_TOKENS && !inner.tokens.contains_key(&digest) {
            inner
                .tokens
                .retain(|_, kept| read_at.saturating_duration_since(kept.read_at) < lasting);
            if inner.tokens.len() >= MOST_TOKENS {
                return;
            }
        }
        inner.tokens.insert(digest, Remembered { token, read_at });
    }

    /// Forgets the token of `digest`, and that any read begun before now may remember.
    pub fn forget(&self, digest: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.tokens.remove(digest);
    }

    fn forget_all(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.tokens.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held, and every state it leaves is whole.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const SECOND: Duration = Duration::from_secs(1);

    fn memory() -> TokenMemory {
        let memory = TokenMemory::default();
        memory.last_for(SECOND);
        memory
    }

    fn token(last_used_at: Option<DateTime<Utc>>) -> UsableToken {
        UsableToken {
            actor: Actor {
                user_id: Uuid::from_u128(1),
                admin: false,
                token_id: Uuid::from_u128(2),
                name: Some("Quinn Tester".to_owned()),
            },
            expires_at: None,
            last_used_at,
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).expect("a time")
    }

    fn never_stale(_: Option<DateTime<Utc>>) -> bool {
        false
    }

    #[test]
    fn a_token_is_recalled_while_it_lasts_and_read_again_after() {
        let memory = memory();
        let read_at = Instant::now();
        memory.remember("d".into(), token(None), memory.generation(), read_at);
        let recalled = memory.recall("d", read_at + SECOND / 2, at(0), never_stale);
        assert_eq!(recalled.map(|r| r.actor), Some(token(None).actor));
        assert_eq!(
            memory.recall("d", read_at + SECOND, at(1), never_stale),
            None
        );
        // Gone, not merely too old: an earlier instant does not bring it back.
        assert_eq!(memory.recall("d", read_at, at(1), never_stale), None);
        assert_eq!(memory.recall("other", read_at, at(0), never_stale), None);
    }

    #[test]
    fn a_memory_that_lasts_nothing_remembers_nothing() {
        let memory = TokenMemory::default();
        let now = Instant::now();
        memory.remember("d".into(), token(None), memory.generation(), now);
        assert_eq!(memory.recall("d", now, at(0), never_stale), None);

        let memory = self::memory();
        memory.remember("d".into(), token(None), memory.generation(), now);
        memory.last_for(Duration::ZERO);
        assert_eq!(memory.recall("d", now, at(0), never_stale), None);
    }

    #[test]
    fn a_forgotten_token_is_read_again_and_a_read_begun_before_cannot_remember_it() {
        let memory = memory();
        let now = Instant::now();
        let before = memory.generation();
        memory.remember("d".into(), token(None), before, now);
        memory.forget("d");
        assert_eq!(memory.recall("d", now, at(0), never_stale), None);
        // A read that began before the revocation committed saw the token still usable.
        memory.remember("d".into(), token(None), before, now);
        assert_eq!(memory.recall("d", now, at(0), never_stale), None);
        // A read begun after it may.
        memory.remember("d".into(), token(None), memory.generation(), now);
        assert!(memory.recall("d", now, at(0), never_stale).is_some());
    }

    #[test]
    fn one_use_of_a_stale_token_claims_recording_it() {
        let memory = memory();
        let now = Instant::now();
        memory.remember("d".into(), token(Some(at(0))), memory.generation(), now);
        let stale_after_a_minute = |last: Option<DateTime<Utc>>| {
            last.is_none_or(|t| at(60) - t >= chrono::Duration::minutes(1))
        };
        let first = memory.recall("d", now, at(60), stale_after_a_minute);
        let second = memory.recall("d", now, at(60), stale_after_a_minute);
        assert_eq!(first.map(|r| r.record_use), Some(true));
        assert_eq!(second.map(|r| r.record_use), Some(false));
    }

    #[test]
    fn a_full_memory_makes_room_only_from_tokens_past_their_time() {
        let memory = memory();
        let start = Instant::now();
        for n in 0..MOST_TOKENS {
            memory.remember(n.to_string(), token(None), memory.generation(), start);
        }
        let later = start + SECOND / 2;
        memory.remember("new".into(), token(None), memory.generation(), later);
        assert_eq!(memory.recall("new", later, at(0), never_stale), None);
        assert!(memory.recall("0", later, at(0), never_stale).is_some());

        let past = start + SECOND;
        memory.remember("new".into(), token(None), memory.generation(), past);
        assert!(memory.recall("new", past, at(0), never_stale).is_some());
        assert_eq!(memory.lock().tokens.len(), 1);
    }
}
