//! The committee decision engine: who may vote on a ballot, by which rule, and whether the votes
//! cast so far decide it, deadlock it or leave it open.
//!
//! Phase gate reviews, change requests and go/no-go decisions all vote through the same
//! [`Ballot`], so it is generic over the ballot's choices and never needs to know them all.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;
use uuid::Uuid;

/// How many votes decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VotingRule {
    /// Every eligible voter has voted and all non-abstaining votes agree (at least one).
    Unanimous,
    /// One choice holds more than half of the eligible voters.
    Majority,
    /// At least n votes cast (abstentions count toward the quorum), and one choice holds more
    /// than half of the non-abstaining votes cast.
    Quorum(u32),
    /// The first non-abstaining vote decides.
    AnyOne,
}

impl VotingRule {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Unanimous => "UNANIMOUS",
            Self::Majority => "MAJORITY",
            Self::Quorum(_) => "QUORUM",
            Self::AnyOne => "ANY_ONE",
        }
    }
}

/// A vote: one of the ballot's choices, or an abstention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Vote<C> {
    For(C),
    Abstain,
}

/// Where a ballot stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tally<C> {
    /// Not decided yet; more votes may decide it.
    Open,
    /// Decided: the rule is met for this choice. Final.
    Decided(C),
    /// No choice can meet the rule any more, whatever the remaining voters do. Final.
    Deadlocked,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VoteRefusal {
    #[error("only the eligible voters of this ballot may vote")]
    NotEligible,
    #[error("this voter has already voted")]
    AlreadyVoted,
    #[error("the ballot is already decided")]
    Closed,
    #[error("a ballot needs at least one eligible voter")]
    NoVoters,
    #[error("a quorum must be between 1 and the number of eligible voters")]
    BadQuorum,
}

/// A ballot: who may vote, by which rule, and the votes so far. Plain data the service layer
/// loads from and saves to the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot<C: Copy + Ord> {
    eligible: BTreeSet<Uuid>,
    rule: VotingRule,
    votes: BTreeMap<Uuid, Vote<C>>,
}

impl<C: Copy + Ord> Ballot<C> {
    /// Opens a ballot; refuses an empty electorate or a quorum of 0 or above the electorate.
    pub fn open(eligible: BTreeSet<Uuid>, rule: VotingRule) -> Result<Self, VoteRefusal> {
        if eligible.is_empty() {
            return Err(VoteRefusal::NoVoters);
        }
        if let VotingRule::Quorum(quorum) = rule {
            let within_electorate = usize::try_from(quorum).is_ok_and(|q| q <= eligible.len());
            if quorum == 0 || !within_electorate {
                return Err(VoteRefusal::BadQuorum);
            }
        }
        Ok(Self {
            eligible,
            rule,
            votes: BTreeMap::new(),
        })
    }

    /// Rebuilds a ballot from stored votes. Stored data that no sequence of accepted casts could
    /// have produced is refused rather than repaired, so that corruption is visible: a vote by a
    /// non-eligible voter is `NotEligible`, and votes beyond the one that closed the ballot (for
    /// instance two different choices under `AnyOne`) are `Closed`.
    pub fn restore(
        eligible: BTreeSet<Uuid>,
        rule: VotingRule,
        votes: BTreeMap<Uuid, Vote<C>>,
    ) -> Result<Self, VoteRefusal> {
        let empty = Self::open(eligible, rule)?;
        if votes.keys().any(|voter| !empty.eligible.contains(voter)) {
            return Err(VoteRefusal::NotEligible);
        }
        let ballot = Self { votes, ..empty };
        let (_, count) = ballot.count_votes();
        let electorate = ballot.eligible.len();
        if !could_have_been_cast(rule, electorate, &count, &mut BTreeSet::new()) {
            return Err(VoteRefusal::Closed);
        }
        Ok(ballot)
    }

    pub fn eligible(&self) -> &BTreeSet<Uuid> {
        &self.eligible
    }

    pub fn rule(&self) -> VotingRule {
        self.rule
    }

    pub fn votes(&self) -> &BTreeMap<Uuid, Vote<C>> {
        &self.votes
    }

    /// Eligible voters who have not voted yet.
    pub fn pending_voters(&self) -> Vec<Uuid> {
        self.eligible
            .iter()
            .filter(|voter| !self.votes.contains_key(voter))
            .copied()
            .collect()
    }

    /// The current tally (pure function of eligible, rule, votes).
    pub fn tally(&self) -> Tally<C> {
        let (choices, count) = self.count_votes();
        let electorate = self.eligible.len();
        let winner = winning_choice(self.rule, electorate, &count).and_then(|i| choices.get(i));
        if let Some(&choice) = winner {
            Tally::Decided(choice)
        } else if can_still_be_decided(self.rule, electorate, &count) {
            Tally::Open
        } else {
            Tally::Deadlocked
        }
    }

    /// Casts one vote. Refused when the voter is not eligible, has voted already, or the ballot
    /// is no longer Open. Returns the tally after the vote: the moment the rule is met, the
    /// ballot is Decided and no further vote is accepted.
    pub fn cast(&mut self, voter: Uuid, vote: Vote<C>) -> Result<Tally<C>, VoteRefusal> {
        if !self.eligible.contains(&voter) {
            return Err(VoteRefusal::NotEligible);
        }
        if self.votes.contains_key(&voter) {
            return Err(VoteRefusal::AlreadyVoted);
        }
        if !matches!(self.tally(), Tally::Open) {
            return Err(VoteRefusal::Closed);
        }
        self.votes.insert(voter, vote);
        Ok(self.tally())
    }

    /// The votes reduced to counts, with the choice each count belongs to.
    fn count_votes(&self) -> (Vec<C>, VoteCount) {
        let mut per_choice: BTreeMap<C, usize> = BTreeMap::new();
        let mut abstentions = 0;
        for vote in self.votes.values() {
            match vote {
                Vote::For(choice) => *per_choice.entry(*choice).or_default() += 1,
                Vote::Abstain => abstentions += 1,
            }
        }
        let (choices, per_choice) = per_choice.into_iter().unzip();
        (
            choices,
            VoteCount {
                per_choice,
                abstentions,
            },
        )
    }
}

/// What the rules read from the votes. No rule depends on who voted, so voters are dropped; and
/// no reachable ballot depends on the order of votes either (`AnyOne` closes at its first
/// non-abstaining vote, so it never holds two choices), so order is not kept. Counts are indexed
/// like the ballot's distinct choices; a zero count stands for a choice nobody has voted for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct VoteCount {
    per_choice: Vec<usize>,
    abstentions: usize,
}

impl VoteCount {
    fn non_abstaining(&self) -> usize {
        self.per_choice.iter().sum()
    }

    fn cast(&self) -> usize {
        self.non_abstaining() + self.abstentions
    }

    /// The only choice holding votes, when exactly one does.
    fn sole_choice(&self) -> Option<usize> {
        let mut holding_votes = self
            .per_choice
            .iter()
            .enumerate()
            .filter(|(_, votes)| **votes > 0)
            .map(|(choice, _)| choice);
        match (holding_votes.next(), holding_votes.next()) {
            (Some(choice), None) => Some(choice),
            _ => None,
        }
    }

    /// These votes plus `extra` votes for `choice`; an index past the known choices stands for a
    /// choice nobody has voted for yet.
    fn with_votes_for(&self, choice: usize, extra: usize) -> Self {
        let mut next = self.clone();
        match next.per_choice.get_mut(choice) {
            Some(votes) => *votes += extra,
            None => next.per_choice.push(extra),
        }
        next
    }

    /// Every count one vote short of this one.
    fn one_vote_earlier(&self) -> Vec<Self> {
        let mut earlier: Vec<Self> = (0..self.per_choice.len())
            .filter(|&choice| self.per_choice[choice] > 0)
            .map(|choice| {
                let mut previous = self.clone();
                previous.per_choice[choice] -= 1;
                previous
            })
            .collect();
        if self.abstentions > 0 {
            earlier.push(Self {
                abstentions: self.abstentions - 1,
                ..self.clone()
            });
        }
        earlier
    }
}

/// `part` is strictly more than half of `whole`; `part > whole / 2` is the same test for
/// integers and cannot overflow.
fn is_strict_majority(part: usize, whole: usize) -> bool {
    part > whole / 2
}

/// The index of the choice the rule is met for, if any.
fn winning_choice(rule: VotingRule, electorate: usize, count: &VoteCount) -> Option<usize> {
    match rule {
        VotingRule::Unanimous => {
            if count.cast() == electorate {
                count.sole_choice()
            } else {
                None
            }
        }
        VotingRule::Majority => count
            .per_choice
            .iter()
            .position(|&votes| is_strict_majority(votes, electorate)),
        VotingRule::Quorum(quorum) => {
            let quorum_reached = usize::try_from(quorum).is_ok_and(|q| count.cast() >= q);
            if !quorum_reached {
                return None;
            }
            let non_abstaining = count.non_abstaining();
            count
                .per_choice
                .iter()
                .position(|&votes| is_strict_majority(votes, non_abstaining))
        }
        VotingRule::AnyOne => count.sole_choice(),
    }
}

/// Whether the pending voters can still make some choice meet the rule. Under every rule a
/// choice's best chance is all pending voters voting for it: that adds the most votes to it,
/// none to its rivals, and reaches any quorum. So it suffices to try each choice voted for so
/// far, plus one choice nobody has voted for yet.
fn can_still_be_decided(rule: VotingRule, electorate: usize, count: &VoteCount) -> bool {
    let pending = electorate.saturating_sub(count.cast());
    pending > 0
        && (0..=count.per_choice.len()).any(|choice| {
            let best_case = count.with_votes_for(choice, pending);
            winning_choice(rule, electorate, &best_case).is_some()
        })
}

fn is_open(rule: VotingRule, electorate: usize, count: &VoteCount) -> bool {
    winning_choice(rule, electorate, count).is_none()
        && can_still_be_decided(rule, electorate, count)
}

/// Whether some order of casting these votes has every one accepted, i.e. finds the ballot
/// still open before each vote. `Quorum` can be decided by fewer votes and undecided by more,
/// so it is not enough to look at the votes as a whole: this searches backwards one vote at a
/// time, over counts rather than over orders of voters, and remembers counts that lead nowhere.
fn could_have_been_cast(
    rule: VotingRule,
    electorate: usize,
    count: &VoteCount,
    dead_ends: &mut BTreeSet<VoteCount>,
) -> bool {
    if count.cast() == 0 {
        return true;
    }
    count.one_vote_earlier().into_iter().any(|earlier| {
        if dead_ends.contains(&earlier) {
            return false;
        }
        let reachable = is_open(rule, electorate, &earlier)
            && could_have_been_cast(rule, electorate, &earlier, dead_ends);
        if !reachable {
            dead_ends.insert(earlier);
        }
        reachable
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    enum Choice {
        A,
        B,
        C,
    }

    use Choice::{A, B, C};

    const ALL_VOTES: [Vote<Choice>; 4] = [Vote::For(A), Vote::For(B), Vote::For(C), Vote::Abstain];

    fn voter(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn electorate(size: u128) -> BTreeSet<Uuid> {
        (1..=size).map(voter).collect()
    }

    fn ballot(size: u128, rule: VotingRule) -> Ballot<Choice> {
        Ballot::open(electorate(size), rule).expect("valid ballot")
    }

    /// Casts the votes in order by voters 1, 2, ... and returns each tally.
    fn cast_in_order(ballot: &mut Ballot<Choice>, votes: &[Vote<Choice>]) -> Vec<Tally<Choice>> {
        (1..)
            .zip(votes)
            .map(|(n, &vote)| ballot.cast(voter(n), vote).expect("vote accepted"))
            .collect()
    }

    #[test]
    fn voting_rules_have_stable_names() {
        assert_eq!(VotingRule::Unanimous.as_str(), "UNANIMOUS");
        assert_eq!(VotingRule::Majority.as_str(), "MAJORITY");
        assert_eq!(VotingRule::Quorum(2).as_str(), "QUORUM");
        assert_eq!(VotingRule::AnyOne.as_str(), "ANY_ONE");
    }

    #[test]
    fn majority_of_three_is_decided_at_the_second_agreeing_vote() {
        let mut ballot = ballot(3, VotingRule::Majority);
        let tallies = cast_in_order(&mut ballot, &[Vote::For(A), Vote::For(A)]);
        assert_eq!(tallies, [Tally::Open, Tally::Decided(A)]);
        assert_eq!(ballot.pending_voters(), [voter(3)]);
    }

    #[test]
    fn majority_counts_the_eligible_voters_not_the_votes_cast() {
        let mut ballot = ballot(4, VotingRule::Majority);
        let tallies = cast_in_order(&mut ballot, &[Vote::For(A), Vote::For(A), Vote::For(A)]);
        assert_eq!(tallies, [Tally::Open, Tally::Open, Tally::Decided(A)]);
    }

    #[test]
    fn majority_is_deadlocked_once_no_choice_can_reach_more_than_half() {
        let mut ballot = ballot(4, VotingRule::Majority);
        let tallies = cast_in_order(&mut ballot, &[Vote::For(A), Vote::For(B), Vote::Abstain]);
        assert_eq!(tallies, [Tally::Open, Tally::Open, Tally::Deadlocked]);
    }

    #[test]
    fn unanimity_waits_for_every_eligible_voter_and_ignores_abstentions() {
        let mut ballot = ballot(3, VotingRule::Unanimous);
        let tallies = cast_in_order(&mut ballot, &[Vote::For(A), Vote::For(A), Vote::Abstain]);
        assert_eq!(tallies, [Tally::Open, Tally::Open, Tally::Decided(A)]);
    }

    #[test]
    fn unanimity_is_deadlocked_by_one_dissent() {
        let mut ballot = ballot(4, VotingRule::Unanimous);
        let tallies = cast_in_order(&mut ballot, &[Vote::For(A), Vote::For(B)]);
        assert_eq!(tallies, [Tally::Open, Tally::Deadlocked]);
    }

    #[test]
    fn unanimity_with_everyone_abstaining_is_deadlocked() {
        let mut ballot = ballot(2, VotingRule::Unanimous);
        let tallies = cast_in_order(&mut ballot, &[Vote::Abstain, Vote::Abstain]);
        assert_eq!(tallies, [Tally::Open, Tally::Deadlocked]);
    }

    #[test]
    fn quorum_is_not_met_until_n_votes_are_cast_counting_abstentions() {
        let mut ballot = ballot(5, VotingRule::Quorum(3));
        let tallies = cast_in_order(&mut ballot, &[Vote::For(A), Vote::For(A), Vote::Abstain]);
        assert_eq!(tallies, [Tally::Open, Tally::Open, Tally::Decided(A)]);
    }

    #[test]
    fn quorum_needs_more_than_half_of_the_non_abstaining_votes() {
        let mut ballot = ballot(3, VotingRule::Quorum(2));
        let tallies = cast_in_order(&mut ballot, &[Vote::For(A), Vote::For(B), Vote::Abstain]);
        assert_eq!(tallies, [Tally::Open, Tally::Open, Tally::Deadlocked]);
    }

    #[test]
    fn quorum_with_everyone_abstaining_is_deadlocked() {
        let mut ballot = ballot(2, VotingRule::Quorum(1));
        let tallies = cast_in_order(&mut ballot, &[Vote::Abstain, Vote::Abstain]);
        assert_eq!(tallies, [Tally::Open, Tally::Deadlocked]);
    }

    #[test]
    fn any_one_is_decided_by_the_first_non_abstaining_vote() {
        let mut ballot = ballot(3, VotingRule::AnyOne);
        let tallies = cast_in_order(&mut ballot, &[Vote::Abstain, Vote::For(B)]);
        assert_eq!(tallies, [Tally::Open, Tally::Decided(B)]);
    }

    #[test]
    fn any_one_with_everyone_abstaining_is_deadlocked() {
        let mut ballot = ballot(2, VotingRule::AnyOne);
        let tallies = cast_in_order(&mut ballot, &[Vote::Abstain, Vote::Abstain]);
        assert_eq!(tallies, [Tally::Open, Tally::Deadlocked]);
    }

    #[test]
    fn a_voter_outside_the_electorate_is_refused() {
        let mut ballot = ballot(2, VotingRule::Majority);
        assert_eq!(
            ballot.cast(voter(99), Vote::For(A)),
            Err(VoteRefusal::NotEligible)
        );
        assert!(ballot.votes().is_empty());
    }

    #[test]
    fn a_voter_cannot_vote_twice() {
        let mut ballot = ballot(3, VotingRule::Majority);
        cast_in_order(&mut ballot, &[Vote::For(A)]);
        assert_eq!(
            ballot.cast(voter(1), Vote::For(B)),
            Err(VoteRefusal::AlreadyVoted)
        );
        assert_eq!(ballot.votes().get(&voter(1)), Some(&Vote::For(A)));
    }

    #[test]
    fn a_decided_ballot_refuses_further_votes() {
        let mut ballot = ballot(3, VotingRule::AnyOne);
        cast_in_order(&mut ballot, &[Vote::For(A)]);
        assert_eq!(
            ballot.cast(voter(2), Vote::For(B)),
            Err(VoteRefusal::Closed)
        );
        assert_eq!(ballot.tally(), Tally::Decided(A));
    }

    #[test]
    fn an_empty_electorate_is_refused() {
        let opened = Ballot::<Choice>::open(BTreeSet::new(), VotingRule::AnyOne);
        assert_eq!(opened, Err(VoteRefusal::NoVoters));
    }

    #[test]
    fn a_quorum_of_zero_or_above_the_electorate_is_refused() {
        for quorum in [0, 4] {
            let opened = Ballot::<Choice>::open(electorate(3), VotingRule::Quorum(quorum));
            assert_eq!(opened, Err(VoteRefusal::BadQuorum));
        }
        assert!(Ballot::<Choice>::open(electorate(3), VotingRule::Quorum(3)).is_ok());
    }

    #[test]
    fn pending_voters_are_the_eligible_who_have_not_voted() {
        let mut ballot = ballot(3, VotingRule::Unanimous);
        ballot.cast(voter(2), Vote::Abstain).expect("vote accepted");
        assert_eq!(ballot.pending_voters(), [voter(1), voter(3)]);
    }

    #[test]
    fn restoring_stored_votes_gives_back_the_same_ballot() {
        let mut ballot = ballot(3, VotingRule::Majority);
        cast_in_order(&mut ballot, &[Vote::For(A), Vote::Abstain]);
        let restored = Ballot::restore(electorate(3), VotingRule::Majority, ballot.votes().clone());
        assert_eq!(restored, Ok(ballot));
    }

    #[test]
    fn restoring_a_strangers_vote_is_refused_as_not_eligible() {
        let votes = BTreeMap::from([(voter(1), Vote::For(A)), (voter(99), Vote::For(A))]);
        let restored = Ballot::restore(electorate(3), VotingRule::Majority, votes);
        assert_eq!(restored, Err(VoteRefusal::NotEligible));
    }

    #[test]
    fn restoring_votes_cast_after_the_decision_is_refused_as_closed() {
        let votes = BTreeMap::from([(voter(1), Vote::For(A)), (voter(2), Vote::For(B))]);
        let restored = Ballot::restore(electorate(3), VotingRule::AnyOne, votes);
        assert_eq!(restored, Err(VoteRefusal::Closed));
    }

    fn rules_for(size: usize) -> Vec<VotingRule> {
        let quorums = (1..=size).map(|q| VotingRule::Quorum(u32::try_from(q).expect("small")));
        [
            VotingRule::Unanimous,
            VotingRule::Majority,
            VotingRule::AnyOne,
        ]
        .into_iter()
        .chain(quorums)
        .collect()
    }

    /// The rule's verdict on a sequence of votes, computed from raw counts and written
    /// independently of the engine.
    fn rule_met_for(rule: VotingRule, size: usize, history: &[Vote<Choice>]) -> Option<Choice> {
        let votes_for = |choice| history.iter().filter(|v| **v == Vote::For(choice)).count();
        let non_abstaining = history.iter().filter(|v| **v != Vote::Abstain).count();
        let choices = [A, B, C];
        match rule {
            VotingRule::Unanimous => {
                let backed: Vec<Choice> =
                    choices.into_iter().filter(|&c| votes_for(c) > 0).collect();
                (history.len() == size && backed.len() == 1).then(|| backed[0])
            }
            VotingRule::Majority => choices.into_iter().find(|&c| 2 * votes_for(c) > size),
            VotingRule::Quorum(quorum) => {
                let quorum = usize::try_from(quorum).expect("small");
                choices
                    .into_iter()
                    .find(|&c| history.len() >= quorum && 2 * votes_for(c) > non_abstaining)
            }
            VotingRule::AnyOne => history.iter().find_map(|vote| match vote {
                Vote::For(choice) => Some(*choice),
                Vote::Abstain => None,
            }),
        }
    }

    /// Whether some sequence of votes by the remaining voters meets the rule along the way.
    fn some_completion_decides(
        rule: VotingRule,
        size: usize,
        history: &mut Vec<Vote<Choice>>,
    ) -> bool {
        if rule_met_for(rule, size, history).is_some() {
            return true;
        }
        if history.len() == size {
            return false;
        }
        ALL_VOTES.iter().any(|&vote| {
            history.push(vote);
            let decides = some_completion_decides(rule, size, history);
            history.pop();
            decides
        })
    }

    /// Every sequence of `size` votes, voter 1 first.
    fn every_sequence(size: usize) -> Vec<Vec<Vote<Choice>>> {
        (0..size).fold(vec![Vec::new()], |sequences, _| {
            sequences
                .iter()
                .flat_map(|sequence| {
                    ALL_VOTES.iter().map(move |&vote| {
                        let mut longer = sequence.clone();
                        longer.push(vote);
                        longer
                    })
                })
                .collect()
        })
    }

    fn sorted(votes: impl IntoIterator<Item = Vote<Choice>>) -> Vec<Vote<Choice>> {
        let mut votes: Vec<Vote<Choice>> = votes.into_iter().collect();
        votes.sort();
        votes
    }

    /// Replays every sequence under every rule, checks each tally against the independent
    /// verdict, and returns the vote multisets of every ballot the casts reached.
    fn replay_every_sequence(size: usize, rule: VotingRule) -> BTreeSet<Vec<Vote<Choice>>> {
        let size_id = u128::try_from(size).expect("small");
        let mut reached = BTreeSet::from([Vec::new()]);
        for sequence in every_sequence(size) {
            let mut ballot = ballot(size_id, rule);
            let mut history = Vec::new();
            for (n, &vote) in (1..).zip(&sequence) {
                let before = ballot.clone();
                let outcome = ballot.cast(voter(n), vote);
                if before.tally() != Tally::Open {
                    assert_eq!(outcome, Err(VoteRefusal::Closed), "{rule:?} {sequence:?}");
                    assert_eq!(ballot, before);
                    continue;
                }
                history.push(vote);
                let tally = outcome.expect("an open ballot accepts a pending voter");
                assert_eq!(tally, ballot.tally());
                let verdict = rule_met_for(rule, size, &history);
                let context = format!("{rule:?} of {size}, votes {history:?}");
                assert_eq!(
                    verdict.map(Tally::Decided),
                    match tally {
                        Tally::Decided(_) => Some(tally.clone()),
                        _ => None,
                    },
                    "{context}"
                );
                let deadlocked =
                    verdict.is_none() && !some_completion_decides(rule, size, &mut history.clone());
                assert_eq!(tally == Tally::Deadlocked, deadlocked, "{context}");
                if history.len() == size {
                    assert_ne!(tally, Tally::Open, "{context}");
                }
                let restored = Ballot::restore(electorate(size_id), rule, ballot.votes().clone());
                assert_eq!(restored.as_ref(), Ok(&ballot), "{context}");
                reached.insert(sorted(history.iter().copied()));
            }
        }
        reached
    }

    /// Every way the electorate might have voted so far: each voter has not voted or cast one of
    /// the four votes.
    fn every_stored_vote_map(size: u128) -> Vec<BTreeMap<Uuid, Vote<Choice>>> {
        (1..=size).fold(vec![BTreeMap::new()], |maps, n| {
            maps.iter()
                .flat_map(|map| {
                    let skipped = std::iter::once(map.clone());
                    let voted = ALL_VOTES.iter().map(move |&vote| {
                        let mut longer = map.clone();
                        longer.insert(voter(n), vote);
                        longer
                    });
                    skipped.chain(voted)
                })
                .collect()
        })
    }

    #[test]
    fn exhaustively_every_tally_matches_the_rule_and_closed_ballots_refuse_votes() {
        for size in 1..=4 {
            for rule in rules_for(size) {
                replay_every_sequence(size, rule);
            }
        }
    }

    #[test]
    fn exhaustively_restore_accepts_exactly_the_votes_some_casting_order_produces() {
        for size in 1..=4 {
            let size_id = u128::try_from(size).expect("small");
            for rule in rules_for(size) {
                let reached = replay_every_sequence(size, rule);
                for votes in every_stored_vote_map(size_id) {
                    let producible = reached.contains(&sorted(votes.values().copied()));
                    let restored = Ballot::restore(electorate(size_id), rule, votes.clone());
                    let expected = if producible {
                        Ok(())
                    } else {
                        Err(VoteRefusal::Closed)
                    };
                    assert_eq!(
                        restored.map(|_| ()),
                        expected,
                        "{rule:?} of {size}: {votes:?}"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod properties {
    //! Arbitrary sequences of votes cast on ballots of up to nine voters (beyond the exhaustive
    //! tests, which stop at four), each voter drawn from the electorate or from a few strangers,
    //! with the engine checked after every cast against the rules recomputed naively.

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    enum Choice {
        A,
        B,
        C,
    }

    const CHOICES: [Choice; 3] = [Choice::A, Choice::B, Choice::C];
    const MAX_ELECTORATE: u128 = 9;
    /// People outside the electorate who try to vote anyway.
    const STRANGERS: u128 = 2;

    fn voter(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn vote() -> impl Strategy<Value = Vote<Choice>> {
        prop_oneof![
            prop::sample::select(CHOICES.to_vec()).prop_map(Vote::For),
            Just(Vote::Abstain),
        ]
    }

    /// Any rule, with any quorum the electorate allows.
    fn rule(electorate: u128) -> impl Strategy<Value = VotingRule> {
        let largest_quorum = u32::try_from(electorate).expect("small electorate");
        prop_oneof![
            Just(VotingRule::Unanimous),
            Just(VotingRule::Majority),
            Just(VotingRule::AnyOne),
            (1..=largest_quorum).prop_map(VotingRule::Quorum),
        ]
    }

    #[derive(Debug, Clone)]
    struct Session {
        electorate: u128,
        rule: VotingRule,
        /// Voter numbers 1..=electorate sit on the ballot; higher ones are strangers.
        casts: Vec<(u128, Vote<Choice>)>,
    }

    fn session() -> impl Strategy<Value = Session> {
        (1..=MAX_ELECTORATE)
            .prop_flat_map(|electorate| {
                let cast = (1..=electorate + STRANGERS, vote());
                (
                    Just(electorate),
                    rule(electorate),
                    prop::collection::vec(cast, 0..40),
                )
            })
            .prop_map(|(electorate, rule, casts)| Session {
                electorate,
                rule,
                casts,
            })
    }

    /// One cast: the ballot before it, who voted what, and the engine's answer.
    struct Cast {
        before: Ballot<Choice>,
        voter: u128,
        vote: Vote<Choice>,
        outcome: Result<Tally<Choice>, VoteRefusal>,
        after: Ballot<Choice>,
        /// The accepted votes so far, in the order they were cast (this one included).
        history: Vec<Vote<Choice>>,
    }

    fn replay(session: &Session) -> Vec<Cast> {
        let eligible = (1..=session.electorate).map(voter).collect();
        let mut ballot = Ballot::open(eligible, session.rule).expect("a valid ballot");
        let mut history = Vec::new();
        session
            .casts
            .iter()
            .map(|&(n, vote)| {
                let before = ballot.clone();
                let outcome = ballot.cast(voter(n), vote);
                if outcome.is_ok() {
                    history.push(vote);
                }
                Cast {
                    before,
                    voter: n,
                    vote,
                    outcome,
                    after: ballot.clone(),
                    history: history.clone(),
                }
            })
            .collect()
    }

    /// The rule's verdict on the votes cast so far, in cast order, from raw counts.
    fn naive_verdict(
        rule: VotingRule,
        electorate: usize,
        history: &[Vote<Choice>],
    ) -> Option<Choice> {
        let votes_for = |choice| history.iter().filter(|v| **v == Vote::For(choice)).count();
        let non_abstaining = history.iter().filter(|v| **v != Vote::Abstain).count();
        match rule {
            VotingRule::Unanimous => {
                let backed: Vec<Choice> =
                    CHOICES.into_iter().filter(|&c| votes_for(c) > 0).collect();
                match backed[..] {
                    [only] if history.len() == electorate => Some(only),
                    _ => None,
                }
            }
            VotingRule::Majority => CHOICES.into_iter().find(|&c| 2 * votes_for(c) > electorate),
            VotingRule::Quorum(quorum) => {
                let quorum = usize::try_from(quorum).expect("small quorum");
                CHOICES
                    .into_iter()
                    .find(|&c| history.len() >= quorum && 2 * votes_for(c) > non_abstaining)
            }
            VotingRule::AnyOne => history.iter().find_map(|vote| match vote {
                Vote::For(choice) => Some(*choice),
                Vote::Abstain => None,
            }),
        }
    }

    /// Whether the voters still pending could decide the ballot. A choice's best chance is
    /// every pending voter backing it (that adds the most votes to it, none to its rivals and
    /// reaches any quorum), so it is enough to try, for each choice, each number of pending
    /// voters backing it in turn.
    fn could_still_be_decided(
        rule: VotingRule,
        electorate: usize,
        history: &[Vote<Choice>],
    ) -> bool {
        let pending = electorate - history.len();
        CHOICES.into_iter().any(|choice| {
            let mut completed = history.to_vec();
            (0..pending).any(|_| {
                completed.push(Vote::For(choice));
                naive_verdict(rule, electorate, &completed).is_some()
            })
        })
    }

    fn electorate_size(session: &Session) -> usize {
        usize::try_from(session.electorate).expect("small electorate")
    }

    proptest! {
        /// A voter counts once: a cast is accepted only from an eligible voter who has not
        /// voted, on an open ballot, and then adds exactly that one vote; a refused cast
        /// changes nothing and says which rule refused it, checked in that order.
        #[test]
        fn a_voter_counts_once_and_a_refused_vote_changes_nothing(session in session()) {
            for cast in replay(&session) {
                let id = voter(cast.voter);
                let expected_refusal = if !cast.before.eligible().contains(&id) {
                    Some(VoteRefusal::NotEligible)
                } else if cast.before.votes().contains_key(&id) {
                    Some(VoteRefusal::AlreadyVoted)
                } else if cast.before.tally() != Tally::Open {
                    Some(VoteRefusal::Closed)
                } else {
                    None
                };
                prop_assert_eq!(cast.outcome.as_ref().err(), expected_refusal.as_ref());
                if cast.outcome.is_err() {
                    prop_assert_eq!(&cast.after, &cast.before);
                } else {
                    let mut expected_votes = cast.before.votes().clone();
                    expected_votes.insert(id, cast.vote);
                    prop_assert_eq!(cast.after.votes(), &expected_votes);
                }
            }
        }

        /// The tally agrees with the rule recomputed from the votes: DECIDED for exactly the
        /// choice the rule is met for, DEADLOCKED exactly when it is met for none and the
        /// pending voters can no longer change that, OPEN otherwise; and a cast reports the
        /// tally the ballot then shows.
        #[test]
        fn the_tally_agrees_with_the_rule_recomputed_from_the_votes(session in session()) {
            let (rule, electorate) = (session.rule, electorate_size(&session));
            for cast in replay(&session) {
                let tally = cast.after.tally();
                if let Ok(reported) = &cast.outcome {
                    prop_assert_eq!(reported, &tally);
                }
                let history = &cast.history;
                let expected = match naive_verdict(rule, electorate, history) {
                    Some(choice) => Tally::Decided(choice),
                    None if could_still_be_decided(rule, electorate, history) => Tally::Open,
                    None => Tally::Deadlocked,
                };
                prop_assert_eq!(tally, expected, "{:?} of {}: {:?}", rule, electorate, history);
            }
        }

        /// DECIDED and DEADLOCKED are final: once a ballot leaves OPEN its tally never changes
        /// again and no later vote is accepted, so a decision acted upon cannot be overturned
        /// by a late voter. And once everyone has voted, the ballot is no longer open.
        #[test]
        fn a_closed_ballot_stays_closed(session in session()) {
            let mut closed_as: Option<Tally<Choice>> = None;
            for cast in replay(&session) {
                if let Some(closed) = &closed_as {
                    prop_assert!(cast.outcome.is_err());
                    prop_assert_eq!(&cast.after.tally(), closed);
                }
                let tally = cast.after.tally();
                if tally != Tally::Open {
                    closed_as.get_or_insert(tally.clone());
                }
                if cast.after.pending_voters().is_empty() {
                    prop_assert_ne!(tally, Tally::Open);
                }
            }
        }

        /// Abstentions never supply the winning votes: a ballot where only abstentions were
        /// cast is never decided, and under MAJORITY and ANY_ONE an abstention never turns an
        /// open ballot decided. (Under UNANIMOUS and QUORUM it may, by completing the turnout
        /// those rules wait for.)
        #[test]
        fn abstentions_never_decide(session in session()) {
            for cast in replay(&session) {
                let tally = cast.after.tally();
                if cast.history.iter().all(|vote| *vote == Vote::Abstain) {
                    prop_assert!(!matches!(tally, Tally::Decided(_)));
                }
                let counts_only_choices =
                    matches!(session.rule, VotingRule::Majority | VotingRule::AnyOne);
                let abstained_on_open_ballot =
                    cast.vote == Vote::Abstain && cast.before.tally() == Tally::Open;
                if counts_only_choices && abstained_on_open_ballot {
                    prop_assert!(!matches!(tally, Tally::Decided(_)));
                }
            }
        }

        /// What is stored is what was cast: restoring a ballot from its stored votes, at any
        /// point, gives back the same ballot, so a decision survives a reload unchanged.
        #[test]
        fn restoring_the_stored_votes_gives_back_the_same_ballot(session in session()) {
            for cast in replay(&session) {
                let restored = Ballot::restore(
                    cast.after.eligible().clone(),
                    cast.after.rule(),
                    cast.after.votes().clone(),
                );
                prop_assert_eq!(restored, Ok(cast.after));
            }
        }
    }
}
