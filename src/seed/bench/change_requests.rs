//! A bench project's thirty change requests, in a fixed spread of states, with their committee
//! ballots.
//!
//! Every project has the same mix ([`MIX`]): a few still on their way to a decision, three
//! awaiting the committee with an OPEN ballot and 0, 1 or 2 votes in, most decided by the
//! committee with three votes each (a split vote, so that the third one decides), and one
//! rejected by the PM below the red line. Older requests tend to be further along.
//!
//! Simplified: approvals do not produce schedule, scope or cost baseline versions, and no
//! request links scope items or shifts milestones.

use std::cmp::Reverse;

use chrono::Duration;
use rust_decimal::Decimal;
use steerco_entity::{change_request, phase};
use steerco_graphql::domain::change_request::{
    CostImpact, CrCategory, CrPriority, CrStatus, EffortImpact, Impact, RedLine, RiskImpact,
    RiskLevel, ScheduleImpact, ScopeAddition, ScopeImpact, within_red_line,
};
use steerco_graphql::domain::committee::Vote;
use steerco_graphql::domain::decision::{DecisionChoice, DecisionSubject};
use steerco_graphql::domain::scope::ItemCategory;
use steerco_graphql::service::change_request::Links;
use uuid::Uuid;

use super::ballot::{self, BallotOpening, Cast, StoredBallot};
use super::calendar::History;
use super::people::{Seat, Team};
use super::rng::SeededRng;
use super::text::CHANGE_REQUESTS;
use super::{BenchError, to_json};

/// Where a change request ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Draft,
    Submitted,
    UnderAssessment,
    InfoRequested,
    /// With the committee, this many of its three votes in.
    AwaitingDecision {
        votes_in: usize,
    },
    /// Approved by the committee, then taken as far as this status.
    Approved(CrStatus),
    RejectedByCommittee,
    /// The committee deadlocked, which defers the change.
    Deferred,
    /// Below the red line: the PM decided alone, without a ballot.
    RejectedByPm,
}

/// The change requests of every bench project: 30, of which 25 went to the committee
/// (22 decided with 3 votes each, 3 open with 0, 1 and 2 votes).
const MIX: [(Fate, usize); 14] = [
    (Fate::Draft, 1),
    (Fate::Submitted, 1),
    (Fate::UnderAssessment, 1),
    (Fate::InfoRequested, 1),
    (Fate::AwaitingDecision { votes_in: 0 }, 1),
    (Fate::AwaitingDecision { votes_in: 1 }, 1),
    (Fate::AwaitingDecision { votes_in: 2 }, 1),
    (Fate::Approved(CrStatus::Approved), 4),
    (Fate::Approved(CrStatus::InImplementation), 4),
    (Fate::Approved(CrStatus::Implemented), 5),
    (Fate::Approved(CrStatus::Closed), 3),
    (Fate::RejectedByCommittee, 4),
    (Fate::Deferred, 2),
    (Fate::RejectedByPm, 1),
];

/// Change requests per project.
pub const PER_PROJECT: usize = {
    let mut total = 0;
    let mut row = 0;
    while row < MIX.len() {
        total += MIX[row].1;
        row += 1;
    }
    total
};

impl Fate {
    /// Lifecycle steps taken, each one change of the row: create, submit, start the
    /// assessment, assess, request info or a decision, decide, start, complete, close.
    fn steps(self) -> i64 {
        match self {
            Self::Draft => 0,
            Self::Submitted => 1,
            Self::UnderAssessment => 3,
            Self::InfoRequested | Self::AwaitingDecision { .. } => 4,
            Self::RejectedByCommittee | Self::Deferred | Self::RejectedByPm => 5,
            Self::Approved(CrStatus::InImplementation) => 6,
            Self::Approved(CrStatus::Implemented) => 7,
            Self::Approved(CrStatus::Closed) => 8,
            Self::Approved(_) => 5,
        }
    }

    fn status(self) -> CrStatus {
        match self {
            Self::Draft => CrStatus::Draft,
            Self::Submitted => CrStatus::Submitted,
            Self::UnderAssessment => CrStatus::UnderAssessment,
            Self::InfoRequested => CrStatus::InfoRequested,
            Self::AwaitingDecision { .. } => CrStatus::AwaitingDecision,
            Self::Approved(status) => status,
            Self::RejectedByCommittee | Self::RejectedByPm => CrStatus::Rejected,
            Self::Deferred => CrStatus::Deferred,
        }
    }

    fn goes_to_committee(self) -> bool {
        matches!(
            self,
            Self::AwaitingDecision { .. }
                | Self::Approved(_)
                | Self::RejectedByCommittee
                | Self::Deferred
        )
    }

    /// How much of the impact is assessed: nothing, schedule and cost so far, or all of it.
    fn assessment(self) -> Assessment {
        match self {
            Self::Draft | Self::Submitted => Assessment::None,
            Self::UnderAssessment | Self::InfoRequested => Assessment::Partial,
            Self::RejectedByPm => Assessment::Minor,
            _ => Assessment::Significant,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assessment {
    None,
    Partial,
    /// Strictly below every red-line threshold: the PM decides.
    Minor,
    /// At or above the red line: the committee decides.
    Significant,
}

/// The change requests and their ballots, numbered in the order they were raised.
pub struct ChangeRequests {
    pub rows: Vec<change_request::Model>,
    pub ballots: Vec<StoredBallot>,
}

/// Who raises change requests: the people doing the work, never a committee member (who
/// would then be recused from their own ballot).
const REQUESTERS: [Seat; 5] = [
    Seat::BusinessLead,
    Seat::BusinessRep,
    Seat::ItLead,
    Seat::Qa,
    Seat::Vendor,
];

/// The requests are raised over the first 70 % of the project's history; each lifecycle
/// step then takes 2 % of it, so that the last decision still falls before the snapshot.
const RAISED_WITHIN: f64 = 0.7;
const STEP: f64 = 0.02;
/// The lifecycle step at which a request is decided (see [`Fate::steps`]).
const DECIDED_STEP: i64 = 5;

/// What every change request of a project refers to.
pub struct Context<'a> {
    pub project_id: Uuid,
    pub currency: &'a str,
    /// The project's budget in whole units of `currency`: changes cost a share of it.
    pub budget: i64,
    pub team: &'a Team,
    pub phases: &'a [phase::Model],
    pub history: History,
}

pub fn generate(rng: &mut SeededRng, context: &Context) -> Result<ChangeRequests, BenchError> {
    let fates = fates_oldest_first(rng);
    let mut titles: Vec<usize> = (0..CHANGE_REQUESTS.len()).collect();
    rng.shuffle(&mut titles);
    let mut rows = Vec::with_capacity(fates.len());
    let mut ballots = Vec::new();
    for (index, fate) in fates.into_iter().enumerate() {
        let raised = RAISED_WITHIN * (index as f64 + 0.5) / PER_PROJECT as f64;
        let (title, category) = CHANGE_REQUESTS[titles[index % titles.len()]];
        // Past the catalogue, a title comes back as a follow-up of the first request.
        let title = if index < titles.len() {
            title.to_owned()
        } else {
            format!("{title} (follow-up)")
        };
        let draft = Draft {
            number: index as i32 + 1,
            title,
            category,
            fate,
            raised,
        };
        let (row, ballot) = change_request(rng, context, draft)?;
        rows.push(row);
        ballots.extend(ballot);
    }
    Ok(ChangeRequests { rows, ballots })
}

/// The mix in the order the requests were raised: the further along, the earlier raised, with
/// enough jitter that a few old ones are still open.
fn fates_oldest_first(rng: &mut SeededRng) -> Vec<Fate> {
    let mut fates: Vec<(Fate, i64)> = MIX
        .iter()
        .flat_map(|&(fate, count)| std::iter::repeat_n(fate, count))
        .map(|fate| (fate, fate.steps() * 3 + rng.between(0, 12)))
        .collect();
    fates.sort_by_key(|&(_, rank)| Reverse(rank));
    fates.into_iter().map(|(fate, _)| fate).collect()
}

/// One request before it is written.
struct Draft {
    number: i32,
    title: String,
    category: CrCategory,
    fate: Fate,
    /// When it was raised, as a fraction of the project's history.
    raised: f64,
}

fn change_request(
    rng: &mut SeededRng,
    context: &Context,
    draft: Draft,
) -> Result<(change_request::Model, Option<StoredBallot>), BenchError> {
    let Draft {
        number,
        title,
        category,
        fate,
        raised,
    } = draft;
    let moment = |step: i64| context.history.at(raised + STEP * step as f64);
    let created_at = moment(0);
    let id = rng.id_at(created_at);
    let pm = context.team.get(Seat::ProjectManager);
    let impact = impact_for(
        rng,
        fate.assessment(),
        category == CrCategory::Scope,
        &title,
        context,
    );
    let links = Links {
        phase_id: Some(rng.pick(context.phases).id),
        ..Links::default()
    };
    let ballot = if fate.goes_to_committee() {
        let opening = BallotOpening {
            project_id: context.project_id,
            subject: DecisionSubject::ChangeRequest,
            subject_id: id,
            note: format!("CR-{number:03} {title}"),
            opened_by: pm,
            opened_at: moment(4),
        };
        let casts = committee_votes(rng, fate);
        // Whole seconds, as the services' clock would have stamped them.
        let gap = Duration::seconds((moment(5) - moment(4)).num_seconds() / 3);
        let mut committee = context.team.committee();
        rng.shuffle(&mut committee);
        Some(ballot::hold(rng, opening, committee, &casts, gap)?)
    } else {
        None
    };
    let decided_at = match fate {
        Fate::RejectedByPm => Some(moment(5)),
        _ => ballot
            .as_ref()
            .and_then(|ballot| ballot.decision.decided_at),
    };
    // A decision is the last change of a request that was not taken further.
    let updated_at = match decided_at {
        Some(decided) if fate.steps() <= DECIDED_STEP => decided,
        _ => moment(fate.steps()),
    };
    let row = change_request::Model {
        id,
        project_id: context.project_id,
        number,
        description: format!(
            "{title}: asked for by the business after the last solution walkthrough."
        ),
        title,
        justification: rng.pick(JUSTIFICATIONS).to_string(),
        category: category.as_str().to_owned(),
        priority: rng
            .weighted(&[
                (CrPriority::Must, 30),
                (CrPriority::Should, 45),
                (CrPriority::Could, 25),
            ])
            .as_str()
            .to_owned(),
        requester_id: context.team.get(*rng.pick(&REQUESTERS)),
        status: fate.status().as_str().to_owned(),
        links: to_json(&links)?,
        impact: to_json(&impact)?,
        impact_edited_by: (fate.assessment() != Assessment::None).then_some(pm),
        info_request: (fate == Fate::InfoRequested)
            .then(|| "Which regions need this, and by when?".to_owned()),
        decided_by: match fate {
            Fate::RejectedByPm => Some("PROJECT_MANAGER".to_owned()),
            _ if decided_at.is_some() => Some("COMMITTEE".to_owned()),
            _ => None,
        },
        decision_note: (fate == Fate::RejectedByPm)
            .then(|| "Below the red line; revisit after go-live.".to_owned()),
        schedule_baseline_id: None,
        scope_version_id: None,
        cost_baseline_id: None,
        created_at,
        updated_at,
        decided_at,
        version: 1 + fate.steps(),
        approved_at: decided_at.filter(|_| matches!(fate, Fate::Approved(_))),
    };
    Ok((row, ballot))
}

/// The votes of a committee ballot, in casting order. Decided ballots take three votes, the
/// first two disagreeing, so that the third decides; a deadlock is one of each.
fn committee_votes(rng: &mut SeededRng, fate: Fate) -> Vec<Cast> {
    let approve: Cast = (Vote::For(DecisionChoice::Approve), "");
    let reject: Cast = (
        Vote::For(DecisionChoice::Reject),
        *rng.pick(REJECT_COMMENTS),
    );
    let abstain: Cast = (Vote::Abstain, "");
    let mut casts = match fate {
        Fate::Approved(_) => {
            let dissent = if rng.percent(70) { reject } else { abstain };
            vec![approve, dissent, approve]
        }
        Fate::RejectedByCommittee => {
            let dissent = if rng.percent(70) { approve } else { abstain };
            vec![reject, dissent, reject]
        }
        Fate::Deferred => vec![approve, reject, abstain],
        Fate::AwaitingDecision { votes_in } => {
            let mut split = vec![approve, reject];
            rng.shuffle(&mut split);
            split.truncate(votes_in);
            split
        }
        _ => Vec::new(),
    };
    // Any order of a deadlock or an open split is possible; a decided ballot keeps its
    // deciding vote last.
    let undecided_prefix = match fate {
        Fate::Deferred | Fate::AwaitingDecision { .. } => casts.len(),
        _ => casts.len().saturating_sub(1),
    };
    rng.shuffle(&mut casts[..undecided_prefix]);
    casts
}

fn impact_for(
    rng: &mut SeededRng,
    assessment: Assessment,
    scope_change: bool,
    title: &str,
    context: &Context,
) -> Impact {
    let cost = |amount: i64| CostImpact {
        amount: Decimal::from(amount),
        currency: context.currency.to_owned(),
        budget_line: budget_line_for(amount).to_owned(),
    };
    let impact = match assessment {
        Assessment::None => Impact::default(),
        Assessment::Partial => Impact {
            schedule: Some(schedule(significant_delay(rng))),
            cost: Some(cost(significant_cost(rng, context.budget))),
            ..Impact::default()
        },
        Assessment::Minor => Impact {
            schedule: Some(schedule(rng.between(0, 4) as i32)),
            cost: Some(cost(rng.between(1, 19) * 500)),
            effort: Some(effort(rng, 1, 8)),
            risk: Some(risk(rng, RiskLevel::Low)),
            scope: None,
        },
        Assessment::Significant => {
            let level = rng.weighted(&[
                (RiskLevel::Low, 20),
                (RiskLevel::Medium, 45),
                (RiskLevel::High, 28),
                (RiskLevel::Critical, 7),
            ]);
            Impact {
                schedule: Some(schedule(significant_delay(rng))),
                cost: Some(cost(significant_cost(rng, context.budget))),
                effort: Some(effort(rng, 5, 120)),
                risk: Some(risk(rng, level)),
                scope: scope_change.then(|| ScopeImpact {
                    add: vec![ScopeAddition {
                        category: *rng.pick(&ItemCategory::ALL),
                        text: title.to_owned(),
                    }],
                    remove: Vec::new(),
                }),
            }
        }
    };
    debug_assert_eq!(
        within_red_line(&impact, &RedLine::default()),
        assessment == Assessment::Minor,
        "the PM decides exactly the minor changes"
    );
    impact
}

/// Most changes the committee sees cost little or no time; a quarter cost weeks.
fn significant_delay(rng: &mut SeededRng) -> i32 {
    let (fewest, most) = rng.weighted(&[((0, 0), 40), ((1, 5), 35), ((6, 20), 25)]);
    rng.between(fewest, most) as i32
}

/// 0.5 % to 4 % of the budget, in steps of 500, and never below the red line's 10,000: the
/// cost alone sends the change to the committee.
fn significant_cost(rng: &mut SeededRng, budget: i64) -> i64 {
    let share = budget * rng.between(5, 40) / 1_000;
    let red_line = i64::try_from(RedLine::default().cost).unwrap_or(10_000);
    (share / 500 * 500).max(red_line)
}

fn schedule(days: i32) -> ScheduleImpact {
    ScheduleImpact {
        days,
        milestone_shifts: Vec::new(),
    }
}

fn effort(rng: &mut SeededRng, fewest: i64, most: i64) -> EffortImpact {
    EffortImpact {
        person_days: Decimal::from(rng.between(fewest, most)),
        roles: vec![rng.pick(EFFORT_ROLES).to_string()],
    }
}

fn risk(rng: &mut SeededRng, level: RiskLevel) -> RiskImpact {
    RiskImpact {
        level,
        description: rng.pick(RISKS).to_string(),
    }
}

/// Small amounts come out of the services budget, large ones need licences or people.
fn budget_line_for(amount: i64) -> &'static str {
    match amount {
        ..10_000 => "Implementation services",
        10_000..60_000 => "Consulting",
        _ => "Licences and internal staff",
    }
}

const JUSTIFICATIONS: &[&str] = &[
    "Without it the teams keep working in spreadsheets next to the CRM.",
    "Required by the new data protection policy.",
    "The sales leads will not adopt the system without it.",
    "Cuts the handling time of a service case by a third.",
    "The vendor's standard does not cover the regional process.",
];

const REJECT_COMMENTS: &[&str] = &[
    "The benefit does not justify the cost.",
    "Too risky this close to go-live.",
    "Wait for the first release after go-live.",
    "Covered by the standard process.",
];

const EFFORT_ROLES: &[&str] = &[
    "Integration consultant",
    "Solution architect",
    "Data migration specialist",
    "Trainer",
    "CRM developer",
];

const RISKS: &[&str] = &[
    "Touches the ERP order interface",
    "Needs a data migration rerun",
    "Changes a process the call centre relies on",
    "Adds a dependency on a third-party service",
];
