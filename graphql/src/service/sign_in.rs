//! Password sign-ins per email address. The HTTP front's rate limit counts requests per
//! client address, which leaves a password open to guessing from many addresses at once; this
//! bounds the guesses at one account however many addresses send them. Each server process
//! keeps its own count.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// Sign-ins one email address may try at once.
pub const BURST: u32 = 10;

/// How often one more sign-in is allowed, once the burst is spent: a few a day would still
/// let a person who mistyped their password in then, and an attacker only some 1,440 guesses
/// a day at one account.
pub const REFILL: Duration = Duration::from_secs(60);

/// Addresses kept before those with full buckets again are dropped.
const ADDRESSES_BEFORE_PRUNING: usize = 10_000;

/// Each email address's bucket of sign-ins.
pub struct SignInAttempts(DefaultKeyedRateLimiter<String>);

impl Default for SignInAttempts {
    fn default() -> Self {
        let quota = Quota::with_period(REFILL)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN));
        Self(governor::RateLimiter::keyed(quota))
    }
}

impl SignInAttempts {
    /// Takes one sign-in for `email` (as typed: its case and surrounding spaces do not make
    /// another address), or says how long until one is allowed.
    pub fn take(&self, email: &str) -> Result<(), Duration> {
        if self.0.len() > ADDRESSES_BEFORE_PRUNING {
            self.0.retain_recent();
        }
        self.0
            .check_key(&email.trim().to_lowercase())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_has_its_burst_and_then_waits_while_others_go_on() {
        let attempts = SignInAttempts::default();
        for _ in 0..BURST {
            assert_eq!(attempts.take("pm@example.com"), Ok(()));
        }
        let wait = attempts.take(" PM@Example.com ").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= REFILL, "{wait:?}");
        assert_eq!(attempts.take("qa@example.com"), Ok(()));
    }
}
