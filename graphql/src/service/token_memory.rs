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
pub(crate) struct UsableToken {
    pub actor: Actor,
    pub expires_at: Option<DateTime<Utc>>,
    /// The last use recorded in the database, or being recorded.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token recalled for one use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recalled {
    pub actor: Actor,
    /// Whether this use is the one to record: the last recorded was stale, and no other
    /// request recalling the token since has claimed the recording.
    pub record_use: bool,
}

/// When a read of a token began, relative to what was forgotten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(u64);

/// The tokens one server checked lately. Shared by every clone of its state, so a state
/// serves one server: the last to set [`TokenMemory::last_for`] sets it for all.
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
    /// When a full memory next has a token past its time to make room from: until then a
    /// token checked finds it full without looking through every one.
    room_at: Option<Instant>,
}

#[derive(Debug)]
struct Remembered {
    token: UsableToken,
    read_at: Instant,
}

impl TokenMemory {
    /// Trusts each token for `lasting` from its read, those remembered already included
    /// (zero: reads every token at every use, and forgets what was remembered).
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
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    /// The token of `digest`, if it was read less than [`TokenMemory::lasting`] before `now`
    /// and has not expired at `used_at`. `is_stale` tells whether a last use recorded then
    /// calls for this one to be recorded; if so, this use claims the recording and the next
    /// recall does not. `is_stale` runs under the memory's lock: a comparison, no more.
    pub(crate) fn recall(
        &self,
        digest: &str,
        now: Instant,
        used_at: DateTime<Utc>,
        is_stale: impl FnOnce(Option<DateTime<Utc>>) -> bool,
    ) -> Option<Recalled> {
        let lasting = self.lasting();
        let mut inner = self.lock();
        let remembered = inner.tokens.get_mut(digest)?;
        let expired = remembered.token.expires_at.is_some_and(|at| at <= used_at);
        if expired || now.saturating_duration_since(remembered.read_at) >= lasting {
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
            record_use,
        })
    }

    /// Remembers `token`, read at `read_at` in generation `read_in`, unless something was
    /// forgotten since that read began, nothing is to be remembered, or the memory is full of
    /// tokens still trusted.
    pub(crate) fn remember(
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
            if inner.room_at.is_some_and(|at| read_at < at) {
                return;
            }
            inner
                .tokens
                .retain(|_, kept| read_at.saturating_duration_since(kept.read_at) < lasting);
            if inner.tokens.len() >= MOST_TOKENS {
                let oldest = inner.tokens.values().map(|kept| kept.read_at).min();
                inner.room_at = oldest.map(|at| at + lasting);
                return;
            }
            inner.room_at = None;
        }
        inner.tokens.insert(digest, Remembered { token, read_at });
    }

    /// Forgets the token of `digest`, and that any read begun before now may remember.
    pub(crate) fn forget(&self, digest: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.tokens.remove(digest);
    }

    /// Forgets the token of `digest` when the guard is dropped: at the end of the command that
    /// revokes it, however it ends. Dropped mid-commit (a request's timeout), whose commit may
    /// land all the same, it forgets before the commit is seen, and a read in between may
    /// remember the token for one more [`TokenMemory::lasting`].
    pub(crate) fn forget_when_dropped(&self, digest: String) -> ForgetOnDrop<'_> {
        ForgetOnDrop {
            memory: self,
            digest,
        }
    }

    fn forget_all(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.tokens.clear();
        inner.room_at = None;
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing that runs under the lock panics, and every state it leaves is whole.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// See [`TokenMemory::forget_when_dropped`].
#[must_use = "the token is forgotten when the guard is dropped"]
pub(crate) struct ForgetOnDrop<'a> {
    memory: &'a TokenMemory,
    digest: String,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        self.memory.forget(&self.digest);
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
            memory
                .recall("d", read_at + SECOND / 2, at(0), never_stale)
                .map(|r| r.record_use),
            Some(false)
        );
        assert_eq!(
            memory.recall("d", read_at + SECOND, at(1), never_stale),
            None
        );
        // Gone, not merely too old: an earlier instant does not bring it back.
        assert_eq!(memory.recall("d", read_at, at(1), never_stale), None);
        assert_eq!(memory.recall("other", read_at, at(0), never_stale), None);
    }

    #[test]
    fn an_expired_token_is_not_recalled_nor_its_use_claimed() {
        let memory = memory();
        let now = Instant::now();
        let expiring = UsableToken {
            expires_at: Some(at(10)),
            ..token(None)
        };
        memory.remember("d".into(), expiring, memory.generation(), now);
        assert!(memory.recall("d", now, at(9), never_stale).is_some());
        let mut asked = false;
        let recalled = memory.recall("d", now, at(10), |_| {
            asked = true;
            true
        });
        assert_eq!(recalled, None);
        assert!(!asked, "an expired token's use was claimed");
        assert_eq!(memory.recall("d", now, at(9), never_stale), None, "kept");
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
        drop(memory.forget_when_dropped("d".into()));
        assert_eq!(memory.recall("d", now, at(0), never_stale), None);
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
        // Until the oldest is past its time, a token checked finds the memory full at once.
        assert_eq!(memory.lock().room_at, Some(start + SECOND));
        memory.remember("newer".into(), token(None), memory.generation(), later);
        assert_eq!(memory.recall("newer", later, at(0), never_stale), None);

        let past = start + SECOND;
        memory.remember("new".into(), token(None), memory.generation(), past);
        assert!(memory.recall("new", past, at(0), never_stale).is_some());
        assert_eq!(memory.lock().tokens.len(), 1);
        assert_eq!(memory.lock().room_at, None);
    }
}
