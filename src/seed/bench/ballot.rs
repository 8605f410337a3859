//! Committee ballots of bench projects, counted by the domain's own engine.
//!
//! The votes are cast in order through [`committee::Ballot`], so a stored ballot is always one
//! the service could have produced: its status and outcome are the engine's tally, and no vote
//! follows the one that closed it (the API refuses to restore ballots that break this).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use steerco_entity::{decision, decision_vote};
use steerco_graphql::domain::committee::{self, Tally, Vote, VotingRule};
use steerco_graphql::domain::decision::{DecisionChoice, DecisionStatus, DecisionSubject};
use uuid::Uuid;

use super::BenchError;
use super::rng::SeededRng;

/// What a ballot is about and when it opened.
pub struct BallotOpening {
    pub project_id: Uuid,
    pub subject: DecisionSubject,
    pub subject_id: Uuid,
    pub note: String,
    pub opened_by: Uuid,
    pub opened_at: DateTime<Utc>,
}

/// One vote to cast: the choice (or an abstention) and the voter's comment.
pub type Cast = (Vote<DecisionChoice>, &'static str);

/// The stored ballot: the decision row and its votes.
pub struct StoredBallot {
    pub decision: decision::Model,
    pub votes: Vec<decision_vote::Model>,
}

/// Casts `casts` in order, one voter of `committee` each, `gap` apart after the opening.
/// Fails when the engine refuses a vote: the caller asked for a sequence no committee could
/// have cast.
pub fn hold(
    rng: &mut SeededRng,
    opening: BallotOpening,
    committee: [Uuid; 3],
    casts: &[Cast],
    gap: Duration,
) -> Result<StoredBallot, BenchError> {
    let eligible: BTreeSet<Uuid> = committee.into_iter().collect();
    let rule = VotingRule::Majority;
    let mut engine = committee::Ballot::open(eligible.clone(), rule).map_err(refused)?;
    let decision_id = rng.id_at(opening.opened_at);
    let mut votes = Vec::with_capacity(casts.len());
    let mut cast_at = opening.opened_at;
    for (&voter, &(vote, comment)) in committee.iter().zip(casts) {
        engine.cast(voter, vote).map_err(refused)?;
        cast_at += gap;
        votes.push(decision_vote::Model {
            id: rng.id_at(cast_at),
            decision_id,
            voter_id: voter,
            choice: match vote {
                Vote::For(choice) => choice.as_str(),
                Vote::Abstain => "ABSTAIN",
            }
            .to_owned(),
            comment: comment.to_owned(),
            detail: None,
            cast_at,
            cast_by: None,
        });
    }
    let (status, outcome) = match engine.tally() {
        Tally::Open => (DecisionStatus::Open, None),
        Tally::Decided(choice) => (DecisionStatus::Decided, Some(choice)),
        Tally::Deadlocked => (DecisionStatus::Deadlocked, None),
    };
    let closed = status != DecisionStatus::Open;
    let decision = decision::Model {
        id: decision_id,
        project_id: opening.project_id,
        subject_type: opening.subject.as_str().to_owned(),
        subject_id: opening.subject_id,
        choices: opening
            .subject
            .choices()
            .iter()
            .map(|choice| choice.as_str())
            .collect::<Vec<_>>()
            .join(","),
        rule: rule.as_str().to_owned(),
        quorum: None,
        eligible_voters: eligible
            .iter()
            .map(Uuid::to_string)
            .collect::<Vec<_>>()
            .join(","),
        status: status.as_str().to_owned(),
        outcome: outcome.map(|choice| choice.as_str().to_owned()),
        note: opening.note,
        opened_by: Some(opening.opened_by),
        opened_at: opening.opened_at,
        decided_at: closed.then_some(cast_at),
        version: 1 + i64::from(closed),
    };
    Ok(StoredBallot { decision, votes })
}

fn refused(refusal: committee::VoteRefusal) -> BenchError {
    BenchError::Inconsistent(format!("a bench ballot was refused: {refusal}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn opening() -> BallotOpening {
        BallotOpening {
            project_id: Uuid::nil(),
            subject: DecisionSubject::ChangeRequest,
            subject_id: Uuid::nil(),
            note: "CR-001".to_owned(),
            opened_by: Uuid::nil(),
            opened_at: Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap(),
        }
    }

    fn committee() -> [Uuid; 3] {
        [Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3)]
    }

    #[test]
    fn a_split_committee_decides_on_the_third_vote() {
        let casts: [Cast; 3] = [
            (Vote::For(DecisionChoice::Approve), ""),
            (Vote::For(DecisionChoice::Reject), "Too costly"),
            (Vote::For(DecisionChoice::Approve), ""),
        ];
        let mut rng = SeededRng::stream(1, 1);
        let ballot = hold(&mut rng, opening(), committee(), &casts, Duration::hours(2)).unwrap();
        assert_eq!(ballot.decision.status, "DECIDED");
        assert_eq!(ballot.decision.outcome.as_deref(), Some("APPROVE"));
        assert_eq!(ballot.decision.choices, "APPROVE,REJECT");
        assert_eq!(ballot.decision.decided_at, Some(ballot.votes[2].cast_at));
        assert_eq!(ballot.votes.len(), 3);
    }

    #[test]
    fn a_vote_after_the_deciding_one_is_refused() {
        let approve: Cast = (Vote::For(DecisionChoice::Approve), "");
        let mut rng = SeededRng::stream(1, 1);
        let result = hold(
            &mut rng,
            opening(),
            committee(),
            &[approve, approve, approve],
            Duration::hours(2),
        );
        assert!(matches!(result, Err(BenchError::Inconsistent(_))));
    }
}
