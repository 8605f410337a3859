//! A bench project's go-live plan with its rollback plan, War Room and hypercare exit criteria,
//! prepared as far as the project has come; for a project that went live, the committee's GO
//! ballot and the go/no-go criteria it was decided on.
//!
//! Simplified: no cutover runbook, manual criteria or hypercare metrics are generated.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use steerco_entity::go_live_plan;
use steerco_graphql::domain::committee::Vote;
use steerco_graphql::domain::decision::{DecisionChoice, DecisionSubject};
use steerco_graphql::domain::go_live::{self, CriteriaFacts, PlanStatus, Strategy};
use steerco_graphql::domain::project::ProjectStatus;
use steerco_graphql::service::go_live::{OwnedStep, RollbackPlan, RollbackTrigger, WarRoomSeat};
use uuid::Uuid;

use super::ballot::{self, BallotOpening, Cast, StoredBallot};
use super::calendar::{AS_OF, at, plus_days};
use super::people::{Seat, Team};
use super::rng::SeededRng;
use super::schedule::Timeline;
use super::text::GO_LIVE_PHASE;
use super::{BenchError, to_json};

/// What the plan of a project refers to.
pub struct Context<'a> {
    pub project_id: Uuid,
    pub status: ProjectStatus,
    pub team: &'a Team,
    pub timeline: &'a Timeline,
    /// When the plan was drafted.
    pub drafted_at: DateTime<Utc>,
}

/// The plan, and the GO ballot of a project that went live.
pub struct GoLive {
    pub plan: go_live_plan::Model,
    pub ballot: Option<StoredBallot>,
}

/// From integration and data migration on, a team prepares its rollback plan and War Room.
const PREPARED_FROM_PHASE: usize = 5;
/// The go-live is at this hour (UTC) of its day; cutover ends six hours before.
pub const GO_LIVE_HOUR: u32 = 6;

pub fn generate(rng: &mut SeededRng, context: &Context) -> Result<GoLive, BenchError> {
    let went_live = context.timeline.went_live_on();
    let go_live_day = went_live.unwrap_or_else(|| context.timeline.forecast_go_live());
    let planned_go_live = at(go_live_day, GO_LIVE_HOUR);
    let prepared =
        went_live.is_some() || context.timeline.phases_completed() >= PREPARED_FROM_PHASE;
    let status = match (went_live, context.status) {
        (Some(_), ProjectStatus::LiveHypercare) => PlanStatus::Live,
        (Some(_), _) => PlanStatus::Closed,
        (None, _) => PlanStatus::Draft,
    };
    let team = context.team;
    let rollback = rollback_plan(rng, team, go_live_day, prepared, went_live.is_some());
    let war_room = war_room(team, prepared);
    let max_open_major: i32 = *rng.pick(&[3, 5]);
    let plan_id = rng.id_at(context.drafted_at);
    let ballot = match went_live {
        Some(day) => Some(go_ballot(rng, context, plan_id, day)?),
        None => None,
    };
    let snapshot = match went_live {
        Some(_) => Some(to_json(&criteria_when_decided(
            rng,
            max_open_major.unsigned_abs(),
            war_room.len(),
        ))?),
        None => None,
    };
    let updated_at = match status {
        // Hypercare closed when its phase ended.
        PlanStatus::Closed => context
            .timeline
            .actual_end(GO_LIVE_PHASE + 1)
            .map_or(planned_go_live, |day| at(day, 17)),
        PlanStatus::Live => planned_go_live,
        _ => context.drafted_at + Duration::days(i64::from(prepared) * 30),
    };
    let plan = go_live_plan::Model {
        id: plan_id,
        project_id: context.project_id,
        status: status.as_str().to_owned(),
        strategy: rng
            .weighted(&[
                (Strategy::BigBang, 30),
                (Strategy::Phased, 30),
                (Strategy::PilotThenFull, 40),
            ])
            .as_str()
            .to_owned(),
        planned_go_live,
        cutover_start: planned_go_live - Duration::hours(30),
        cutover_end: planned_go_live - Duration::hours(6),
        freeze_start: Some(planned_go_live - Duration::days(2)),
        freeze_end: Some(planned_go_live),
        communications: "Go-live mail to every user two days before; a daily War Room note \
                         during hypercare."
            .to_owned(),
        max_open_critical: 0,
        max_open_major,
        rollback: to_json(&rollback)?,
        war_room: to_json(&war_room)?,
        hypercare_exit: to_json(&[
            "Daily active users above 90% for 5 working days",
            "No open critical incident",
        ])?,
        decision_snapshot: snapshot,
        override_reason: None,
        status_reason: None,
        rollback_forced: false,
        attempt: 1,
        created_at: context.drafted_at,
        updated_at: updated_at.max(context.drafted_at),
        // Prepared, rollback approved, submitted, GO, cutover started, live, hypercare closed.
        version: match status {
            PlanStatus::Closed => 8,
            PlanStatus::Live => 7,
            _ => 1 + i64::from(prepared),
        },
    };
    Ok(GoLive { plan, ballot })
}

/// Every plan knows when and how to roll back; a prepared one has rehearsed it, and one that
/// went live had it approved by the sponsor.
fn rollback_plan(
    rng: &mut SeededRng,
    team: &Team,
    go_live_day: NaiveDate,
    prepared: bool,
    approved: bool,
) -> RollbackPlan {
    let step = |text: &str, seat: Seat| OwnedStep {
        text: text.to_owned(),
        owner_id: Some(team.get(seat)),
    };
    let rehearsed_on = prepared.then(|| plus_days(go_live_day, -10).min(plus_days(AS_OF, -3)));
    RollbackPlan {
        triggers: vec![RollbackTrigger {
            condition: "Orders cannot be created for 30 minutes".to_owned(),
            metric: Some("Order errors".to_owned()),
            threshold: Some("> 1%".to_owned()),
        }],
        authority_ids: vec![team.get(Seat::ProjectManager), team.get(Seat::Sponsor)],
        max_minutes: *rng.pick(&[120, 180, 240, 360]),
        steps: vec![
            step("Point users back to the legacy system", Seat::ItLead),
            step(
                "Re-enable the nightly ERP export to the legacy system",
                Seat::Vendor,
            ),
        ],
        reconciliation_steps: vec![step(
            "Re-key the records created in the new CRM",
            Seat::BusinessLead,
        )],
        rehearsed_on,
        // A rehearsal fails now and then before go-live; it passed for every plan that went live.
        rehearsal_passed: rehearsed_on.map(|_| approved || rng.percent(85)),
        approved_by: approved.then(|| team.get(Seat::Sponsor)),
    }
}

/// The project manager is always on the roster; a prepared plan adds IT and the vendor.
fn war_room(team: &Team, prepared: bool) -> Vec<WarRoomSeat> {
    let seat = |seat: Seat, shift: &str, contact: &str| WarRoomSeat {
        user_id: team.get(seat),
        shift: shift.to_owned(),
        contact: contact.to_owned(),
    };
    let mut roster = vec![seat(
        Seat::ProjectManager,
        "Days 1-5, 08:00-20:00",
        "+49 30 5555 0101",
    )];
    if prepared {
        roster.push(seat(
            Seat::ItLead,
            "Days 1-5, 20:00-08:00",
            "+49 30 5555 0102",
        ));
        roster.push(seat(Seat::Vendor, "Days 1-10, on call", "+49 30 5555 0103"));
    }
    roster
}

/// The committee said GO five days before the go-live, the third vote deciding.
fn go_ballot(
    rng: &mut SeededRng,
    context: &Context,
    plan_id: Uuid,
    went_live: NaiveDate,
) -> Result<StoredBallot, BenchError> {
    let go: Cast = (Vote::For(DecisionChoice::Go), "Ready");
    let dissent: Cast = if rng.percent(60) {
        (
            Vote::For(DecisionChoice::NoGo),
            "Training completion is below target",
        )
    } else {
        (Vote::Abstain, "")
    };
    let mut first_two = [go, dissent];
    rng.shuffle(&mut first_two);
    let opening = BallotOpening {
        project_id: context.project_id,
        subject: DecisionSubject::GoLive,
        subject_id: plan_id,
        note: format!("Go-live on {went_live} {GO_LIVE_HOUR:02}:00 UTC (attempt 1)"),
        opened_by: context.team.get(Seat::ProjectManager),
        opened_at: at(plus_days(went_live, -5), 10),
    };
    let mut committee = context.team.committee();
    rng.shuffle(&mut committee);
    ballot::hold(
        rng,
        opening,
        committee,
        &[first_two[0], first_two[1], go],
        Duration::hours(3),
    )
}

/// The go/no-go criteria as frozen when the committee decided: all of them held.
fn criteria_when_decided(
    rng: &mut SeededRng,
    max_open_major: u32,
    war_room_size: usize,
) -> Vec<go_live::Criterion> {
    go_live::evaluate(&CriteriaFacts {
        uat_ready: true,
        open_critical: 0,
        open_major: rng.between(0, i64::from(max_open_major)) as u32,
        max_open_critical: 0,
        max_open_major,
        milestones_not_achieved: Vec::new(),
        scope_baselined: true,
        pending_changes: Vec::new(),
        rollback_approved: true,
        rollback_rehearsed: true,
        war_room_size: war_room_size as u32,
        manual: Vec::new(),
    })
}
