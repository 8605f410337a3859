//! The seeded generator behind every choice of the bench data, and the ids drawn from it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit word of state, full period, and good
/// enough statistics for test data. Written out here so that the data cannot change with a
/// dependency's release.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

/// The increment of SplitMix64, also used to spread stream numbers apart.
const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl SeededRng {
    /// One independent stream of `seed`. Each project draws from its own stream (and the user
    /// pool from stream 0), so a project's data does not depend on how many come after it.
    pub fn stream(seed: u64, stream: u64) -> Self {
        let mut mixer = Self {
            state: seed ^ stream.wrapping_mul(GOLDEN_GAMMA).rotate_left(17),
        };
        Self {
            state: mixer.next_u64(),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-and-shift: the bias is below 2⁻⁵⁰ for the
    /// small `n` used here.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        debug_assert!(low <= high);
        low + self.below((high - low + 1) as usize) as i64
    }

    /// True `percent` times in a hundred.
    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One of the values, each as likely as its weight.
    pub fn weighted<T: Copy>(&mut self, table: &[(T, usize)]) -> T {
        let total: usize = table.iter().map(|(_, weight)| weight).sum();
        let mut ticket = self.below(total);
        for &(value, weight) in table {
            if ticket < weight {
                return value;
            }
            ticket -= weight;
        }
        unreachable!("the ticket is below the total weight")
    }

    /// Fisher–Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            items.swap(last, self.below(last + 1));
        }
    }

    /// A version 7 UUID stamped with `at`, its random bits drawn from this stream. Like the
    /// services' `Uuid::now_v7()` ids, they sort in creation order, which lists ordered by id
    /// (members "in joining order", ballot rounds) rely on.
    pub fn id_at(&mut self, at: DateTime<Utc>) -> Uuid {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        random[8..].copy_from_slice(&self.next_u64().to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_repeats_itself_and_streams_differ() {
        let draw = |seed, stream| {
            let mut rng = SeededRng::stream(seed, stream);
            (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(42, 1), draw(42, 1));
        assert_ne!(draw(42, 1), draw(42, 2));
        assert_ne!(draw(42, 1), draw(43, 1));
    }

    #[test]
    fn draws_stay_in_range() {
        let mut rng = SeededRng::stream(7, 0);
        for _ in 0..1_000 {
            assert!(rng.below(3) < 3);
            assert!((-2..=2).contains(&rng.between(-2, 2)));
        }
        assert_eq!(rng.weighted(&[("never", 0), ("always", 5)]), "always");
    }

    #[test]
    fn ids_are_version_7_and_sort_by_time() {
        let mut rng = SeededRng::stream(1, 0);
        let early = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let first = rng.id_at(early);
        let second = rng.id_at(early + chrono::Duration::milliseconds(1));
        assert_eq!(first.get_version_num(), 7);
        assert!(first < second);
    }
}
