//! Request rates per caller: a token bucket per signed-in user, or per client address for
//! requests without a token (password sign-in among them), so that one caller cannot starve
//! the others or guess passwords at speed. Limits are per server process.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use uuid::Uuid;

/// Requests per second a caller may sustain, and how many may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

/// Whose bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    User(Uuid),
    Address(IpAddr),
}

impl RateKey {
    /// The bucket of a client without a token: its IPv4 address, or the /64 network of its
    /// IPv6 address, the least a provider hands one subscriber, who would otherwise have 2^64
    /// buckets. An IPv4 address mapped into IPv6 counts as itself.
    pub fn address(address: IpAddr) -> Self {
        let address = match address {
            IpAddr::V4(_) => address,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
            },
        };
        RateKey::Address(address)
    }
}

/// Buckets kept before idle ones (full again) are dropped.
const BUCKETS_BEFORE_PRUNING: usize = 10_000;

pub struct RateLimiter {
    buckets: DefaultKeyedRateLimiter<RateKey>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let quota = Quota::per_second(limit.per_second).allow_burst(limit.burst);
        Self {
            buckets: governor::RateLimiter::keyed(quota),
        }
    }

    /// Takes one request from the caller's bucket, or says how long until one is available.
    pub fn check(&self, key: RateKey) -> Result<(), Duration> {
        if self.buckets.len() > BUCKETS_BEFORE_PRUNING {
            self.buckets.retain_recent();
        }
        self.buckets
            .check_key(&key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32) -> RateLimiter {
        RateLimiter::new(RateLimit {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        })
    }

    #[test]
    fn a_burst_passes_then_the_caller_waits_while_others_do_not() {
        let limiter = limiter(1, 3);
        let anna = RateKey::User(Uuid::from_u128(1));
        for _ in 0..3 {
            assert_eq!(limiter.check(anna), Ok(()));
        }
        let wait = limiter.check(anna).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert_eq!(limiter.check(RateKey::User(Uuid::from_u128(2))), Ok(()));
        assert_eq!(
            limiter.check(RateKey::Address(IpAddr::from([127, 0, 0, 1]))),
            Ok(())
        );
    }

    #[test]
    fn an_ipv6_network_shares_one_bucket_and_a_mapped_ipv4_address_is_itself() {
        let address = |text: &str| RateKey::address(text.parse().unwrap());
        assert_eq!(address("2001:db8:1:2::1"), address("2001:db8:1:2:ffff::9"));
        assert_ne!(address("2001:db8:1:2::1"), address("2001:db8:1:3::1"));
        assert_eq!(address("::ffff:192.0.2.7"), address("192.0.2.7"));
        assert_ne!(address("192.0.2.7"), address("192.0.2.8"));
        let limiter = limiter(1, 2);
        assert_eq!(limiter.check(address("2001:db8::1")), Ok(()));
        assert_eq!(limiter.check(address("2001:db8::2")), Ok(()));
        assert!(limiter.check(address("2001:db8::3")).is_err());
    }
}
