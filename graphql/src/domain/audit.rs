//! The audit trail's hash chain: each event's hash covers its content and the previous hash,
//! so rewriting or removing any event breaks every hash after it.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The `prev_hash` of the first event of every chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain of events that belong to no project (users, tokens).
pub const GLOBAL_CHAIN: &str = "global";

/// The chain an event belongs to.
pub fn chain_key(project_id: Option<Uuid>) -> String {
    project_id.map_or_else(|| GLOBAL_CHAIN.to_owned(), |id| id.to_string())
}

/// Everything an event's hash covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord<'a> {
    pub chain_key: &'a str,
    pub seq: i64,
    pub project_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub action: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub occurred_at: DateTime<Utc>,
    pub request_id: Option<&'a str>,
    pub prev_hash: &'a str,
}

impl AuditRecord<'_> {
    /// Hex SHA-256 over every field, each length-prefixed so that no two records share an
    /// encoding, and `None` distinct from an empty string.
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        let mut field = |value: Option<&str>| match value {
            None => hasher.update(b"\xff"),
            Some(text) => {
                hasher.update((text.len() as u64).to_be_bytes());
                hasher.update(text.as_bytes());
            }
        };
        let project_id = self.project_id.map(|id| id.to_string());
        let actor_id = self.actor_id.map(|id| id.to_string());
        let entity_id = self.entity_id.to_string();
        let seq = self.seq.to_string();
        let occurred_at = self
            .occurred_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        field(Some("steerco-audit-v1"));
        field(Some(self.chain_key));
        field(Some(&seq));
        field(project_id.as_deref());
        field(actor_id.as_deref());
        field(Some(self.entity_type));
        field(Some(&entity_id));
        field(Some(self.action));
        field(self.before);
        field(self.after);
        field(Some(&occurred_at));
        field(self.request_id);
        field(Some(self.prev_hash));
        hex::encode(hasher.finalize())
    }
}

/// Where a chain stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainBreak {
    /// A sequence number is missing or repeated: an event was removed or inserted.
    Gap { expected_seq: i64, found_seq: i64 },
    /// The event does not point at the hash of the one before it.
    Unlinked { seq: i64 },
    /// The event's content no longer matches its stored hash: it was altered.
    Altered { seq: i64 },
}

impl ChainBreak {
    pub fn seq(&self) -> i64 {
        match self {
            Self::Gap { found_seq, .. } => *found_seq,
            Self::Unlinked { seq } | Self::Altered { seq } => *seq,
        }
    }
}

/// Checks a chain one event at a time, in `seq` order, without holding it all in memory.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
        }
    }
}

impl ChainVerifier {
    pub fn check(&mut self, record: &AuditRecord<'_>, stored_hash: &str) -> Result<(), ChainBreak> {
        if record.seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                expected_seq: self.expected_seq,
                found_seq: record.seq,
            });
        }
        if record.prev_hash != self.prev_hash {
            return Err(ChainBreak::Unlinked { seq: record.seq });
        }
        if record.hash() != stored_hash {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = stored_hash.to_owned();
        Ok(())
    }

    /// How many events checked out.
    pub fn verified(&self) -> i64 {
        self.expected_seq - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(seq: i64, prev_hash: &'a str, after: Option<&'a str>) -> AuditRecord<'a> {
        AuditRecord {
            chain_key: "global",
            seq,
            project_id: None,
            actor_id: None,
            entity_type: "User",
            entity_id: Uuid::nil(),
            action: "user.created",
            before: None,
            after,
            occurred_at: DateTime::parse_from_rfc3339("2027-01-01T00:00:00.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            request_id: Some("req-1"),
            prev_hash,
        }
    }

    fn chain() -> Vec<(AuditRecord<'static>, String)> {
        let first = record(1, GENESIS_HASH, Some("{\"a\":1}"));
        let first_hash: &'static str = Box::leak(first.hash().into_boxed_str());
        let second = record(2, first_hash, Some("{\"a\":2}"));
        let second_hash = second.hash();
        vec![(first, first_hash.to_owned()), (second, second_hash)]
    }

    #[test]
    fn an_intact_chain_verifies() {
        let mut verifier = ChainVerifier::default();
        for (record, hash) in chain() {
            verifier.check(&record, &hash).unwrap();
        }
        assert_eq!(verifier.verified(), 2);
    }

    #[test]
    fn an_altered_event_is_found() {
        let mut events = chain();
        events[1].0.after = Some("{\"a\":999}");
        let mut verifier = ChainVerifier::default();
        verifier.check(&events[0].0, &events[0].1).unwrap();
        assert_eq!(
            verifier.check(&events[1].0, &events[1].1),
            Err(ChainBreak::Altered { seq: 2 })
        );
    }

    #[test]
    fn a_removed_event_is_found() {
        let events = chain();
        let mut verifier = ChainVerifier::default();
        assert_eq!(
            verifier.check(&events[1].0, &events[1].1),
            Err(ChainBreak::Gap {
                expected_seq: 1,
                found_seq: 2
            })
        );
    }

    #[test]
    fn none_and_empty_hash_differently() {
        let none = record(1, GENESIS_HASH, None);
        let empty = record(1, GENESIS_HASH, Some(""));
        assert_ne!(none.hash(), empty.hash());
    }
}
