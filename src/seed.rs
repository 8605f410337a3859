//! Sample data.
//!
//! `steerco seed demo` (here): a CRM roll-out with its governance team, to try the API on,
//! built through the services. Re-running it changes nothing once the demo project exists.
//!
//! `steerco seed bench` ([`bench`]): a large deterministic portfolio for benchmarks, written
//! directly in bulk.

pub mod bench;

use std::sync::Arc;

use chrono::Duration;
use rust_decimal::Decimal;
use steerco_entity::user;
use steerco_graphql::domain::change_request::{
    CostImpact, CrAction, CrCategory, CrPriority, EffortImpact, Impact, MilestoneShift, RiskImpact,
    RiskLevel, ScheduleImpact, ScopeAddition, ScopeImpact,
};
use steerco_graphql::domain::decision::DecisionChoice;

use steerco_graphql::domain::clock::{Clock, ManualClock};
use steerco_graphql::domain::go_live::{Direction, PlanAction, Strategy, TaskStatus};
use steerco_graphql::domain::notification::{Delivery, NotificationClass};
use steerco_graphql::domain::phase::{CriterionStatus, DeliverableStatus};
use steerco_graphql::domain::phase_template::TemplateKey;
use steerco_graphql::domain::project::ProjectAction;
use steerco_graphql::domain::role::ProjectRole;
use steerco_graphql::domain::schedule::MilestoneAction;
use steerco_graphql::domain::scope::{
    DocumentInput, ItemCategory, ItemInput, ObjectiveInput, ScopeDocument, ScopeItem, Statement,
    StatementInput,
};
use steerco_graphql::domain::uat::{
    AcceptanceStage, CycleAction, DefectCategory, DefectCommand, ExecutionResult, Priority,
    RejectReason, Severity,
};
use steerco_graphql::service::change_request::CrFields;
use steerco_graphql::service::decision::VoteInput;
use steerco_graphql::service::go_live::{
    NewTask, OwnedStep, PlanInput, Preparation, RollbackPlan, RollbackTrigger, WarRoomSeat,
};
use steerco_graphql::service::milestone::{MilestoneChanges, NewMilestone};
use steerco_graphql::service::project::{MoneyInput, NewProject};
use steerco_graphql::service::uat::{ExecutionInput, NewCycle, NewDefect};
use steerco_graphql::service::user::NewUser;
use steerco_graphql::service::{self, Actor, AppState, Caller, ServiceError, ServiceResult};
use uuid::Uuid;

pub const DEMO_PROJECT_CODE: &str = "CRM-DEMO";

/// The people of the demo, with their project roles.
const TEAM: &[(&str, &str, &str, &[ProjectRole])] = &[
    (
        "wei.zhang@demo.steerco.dev",
        "Zhang Wei",
        "zh-CN",
        &[ProjectRole::Sponsor, ProjectRole::SteeringCommittee],
    ),
    (
        "lena.fischer@demo.steerco.dev",
        "Lena Fischer",
        "en",
        &[ProjectRole::SteeringCommittee, ProjectRole::FinanceRep],
    ),
    (
        "omar.haddad@demo.steerco.dev",
        "Omar Haddad",
        "en",
        &[ProjectRole::SteeringCommittee],
    ),
    (
        "mei.lin@demo.steerco.dev",
        "Lin Mei",
        "zh-CN",
        &[ProjectRole::BusinessRep, ProjectRole::SuperUser],
    ),
    (
        "raj.patel@demo.steerco.dev",
        "Raj Patel",
        "en",
        &[ProjectRole::ItRep],
    ),
    (
        "sofia.rossi@demo.steerco.dev",
        "Sofia Rossi",
        "en",
        &[ProjectRole::Qa],
    ),
    (
        "vendor@demo.steerco.dev",
        "Northwind Consulting",
        "en",
        &[ProjectRole::Vendor],
    ),
];

const PROJECT_MANAGER: (&str, &str) = ("anna.berg@demo.steerco.dev", "Anna Berg");

/// Acting as one person of the demo.
fn as_user(user_id: Uuid) -> Caller {
    Caller {
        actor: Actor {
            user_id,
            admin: false,
            token_id: Uuid::nil(),
            name: None,
        },
        request_id: Some("seed-demo".to_owned()),
    }
}

/// Milestones of the plan: (phase position, name, owner's email or the PM, days from the
/// start, days after its predecessor in the chain).
const MILESTONES: &[(i32, &str, Option<&str>, i64)] = &[
    (
        1,
        "Stakeholder interviews done",
        Some("mei.lin@demo.steerco.dev"),
        10,
    ),
    (1, "Requirements specification signed", None, 24),
    (2, "Project charter approved", None, 35),
    (3, "Vendor selected", Some("raj.patel@demo.steerco.dev"), 60),
    (
        4,
        "Lead-to-contract flow configured",
        Some("raj.patel@demo.steerco.dev"),
        95,
    ),
    (
        4,
        "ERP integration in test",
        Some("raj.patel@demo.steerco.dev"),
        110,
    ),
    (
        5,
        "Customer master data migrated",
        Some("raj.patel@demo.steerco.dev"),
        130,
    ),
    (
        6,
        "UAT signed off",
        Some("sofia.rossi@demo.steerco.dev"),
        155,
    ),
    (7, "Go-live", None, 170),
    (8, "3-month value review", None, 260),
];

/// The milestones whose achievement is announced to the whole team.
const KEY_MILESTONES: &[&str] = &[
    "Requirements specification signed",
    "UAT signed off",
    "Go-live",
];

/// Who owns each phase of the plan: (phase position, owner's email or the PM). An owner hears
/// when the phase's gate is asked for.
const PHASE_OWNERS: &[(i32, Option<&str>)] = &[
    (1, Some("mei.lin@demo.steerco.dev")),
    (2, None),
    (3, Some("raj.patel@demo.steerco.dev")),
    (4, Some("vendor@demo.steerco.dev")),
    (5, Some("raj.patel@demo.steerco.dev")),
    (6, Some("sofia.rossi@demo.steerco.dev")),
    (7, None),
    (8, Some("raj.patel@demo.steerco.dev")),
];

/// Loads the demo, printing what it made: a project in execution on the 8-stage template,
/// its first phase through its gate, a baselined schedule, a slip in the second phase, change
/// requests in several states, a running UAT cycle, and the pilot region's go-live a week ago.
pub async fn demo(state: &AppState) -> ServiceResult<()> {
    if service::project::code_taken(&state.db, DEMO_PROJECT_CODE).await? {
        println!("The demo project {DEMO_PROJECT_CODE} exists already; nothing to do.");
        return Ok(());
    }
    let pm = ensure_user(state, PROJECT_MANAGER.0, PROJECT_MANAGER.1, "en").await?;
    let caller = as_user(pm.id);
    // The plan started five weeks ago, so that its first phase can be behind it.
    let today = state.clock.now().date_naive();
    let start = today - Duration::days(35);
    let project = service::project::create(
        state,
        &caller,
        NewProject {
            code: DEMO_PROJECT_CODE.to_owned(),
            name: "Sales Cloud roll-out".to_owned(),
            description: Some(
                "Replace spreadsheets and the legacy call-centre tool with one CRM for sales, \
                 marketing and service: lead-to-contract, ticketing, 360° customer view."
                    .to_owned(),
            ),
            time_zone: Some("Asia/Shanghai".to_owned()),
            planned_start: Some(start),
            target_go_live: Some(start + Duration::days(170)),
            budget: Some(MoneyInput {
                amount: Decimal::new(185_000_000, 2),
                currency: "CNY".to_owned(),
            }),
            template: Some(TemplateKey::EightStage),
        },
    )
    .await?
    .project;
    let mut committee = Vec::new();
    let mut people = std::collections::HashMap::new();
    for (email, name, locale, roles) in TEAM {
        let person = ensure_user(state, email, name, locale).await?;
        service::member::add(state, &caller, project.id, person.id, roles).await?;
        if roles.contains(&ProjectRole::SteeringCommittee) {
            committee.push(person.id);
        }
        people.insert(*email, person.id);
    }

    // Who does what, from the standard CRM template and the members' roles.
    service::raci::seed(state, &caller, project.id).await?;
    // The scope, signed by the sponsor and the business; then a second version drafted.
    let sponsor = people
        .get("wei.zhang@demo.steerco.dev")
        .copied()
        .unwrap_or(pm.id);
    let business = people
        .get("mei.lin@demo.steerco.dev")
        .copied()
        .unwrap_or(pm.id);
    // The sponsor reads gate and milestone news once a day; votes still reach her at once.
    service::outbox::set_preferences(
        state,
        service::audit::Origin {
            actor_id: Some(sponsor),
            actor_name: None,
            request_id: None,
        },
        sponsor,
        &[
            (NotificationClass::PhaseGate, Delivery::DailyDigest),
            (NotificationClass::Milestone, Delivery::DailyDigest),
        ],
    )
    .await?;
    let first = service::scope::draft(state, &caller, project.id)
        .await?
        .version;
    let first = service::scope::update_draft(
        state,
        &caller,
        first.id,
        first.version,
        scope_document(None),
    )
    .await?
    .version;
    let first = service::scope::submit(
        state,
        &caller,
        first.id,
        first.version,
        &[sponsor, business],
    )
    .await?
    .version;
    service::scope::sign(state, &as_user(sponsor), first.id).await?;
    let baseline = service::scope::sign(state, &as_user(business), first.id)
        .await?
        .version;
    let second = service::scope::draft(state, &caller, project.id)
        .await?
        .version;
    let document = service::scope::document_of(&baseline)?;
    let second = service::scope::update_draft(
        state,
        &caller,
        second.id,
        second.version,
        scope_document(Some(&document)),
    )
    .await?
    .version;

    let phases = service::phase::phases_of(&state.db, project.id).await?;
    for phase in &phases {
        let Some((_, owner)) = PHASE_OWNERS.iter().find(|(at, _)| *at == phase.position) else {
            continue;
        };
        let owner_id = owner
            .and_then(|email| people.get(email).copied())
            .or(Some(pm.id));
        let fields = service::phase::PhaseFields {
            owner_id: Some(owner_id),
            ..Default::default()
        };
        service::phase::update(state, &caller, phase.id, phase.version, fields).await?;
    }
    let mut previous = None;
    let mut milestones = Vec::new();
    for (position, name, owner, day) in MILESTONES {
        let Some(phase) = phases.iter().find(|p| p.position == *position) else {
            continue;
        };
        let created = service::milestone::create(
            state,
            &caller,
            NewMilestone {
                phase_id: phase.id,
                name: (*name).to_owned(),
                owner_id: owner
                    .and_then(|email| people.get(email).copied())
                    .or(Some(pm.id)),
                forecast_date: None,
                baseline_date: Some(start + Duration::days(*day)),
                key: KEY_MILESTONES.contains(name),
            },
        )
        .await?
        .milestone;
        if let Some(before) = previous {
            service::milestone::link(state, &caller, before, created.id, 0).await?;
        }
        previous = Some(created.id);
        milestones.push(created);
    }
    service::project::transition(
        state,
        &caller,
        project.id,
        ProjectAction::Initiate,
        None,
        None,
    )
    .await?;
    service::project::transition(
        state,
        &caller,
        project.id,
        ProjectAction::StartExecution,
        None,
        None,
    )
    .await?;
    service::baseline::create(
        state,
        &caller,
        project.id,
        "Plan approved at the kick-off meeting",
    )
    .await?;

    // The first phase is done: criteria met, deliverables approved, milestones achieved, and
    // the committee passes its gate.
    let first = &phases[0];
    service::phase::start(state, &caller, first.id).await?;
    for criterion in service::phase::criteria_of(state, &[first.id]).await? {
        service::phase::criterion_set(
            state,
            &caller,
            criterion.id,
            CriterionStatus::Met,
            None,
            None,
        )
        .await?;
    }
    for deliverable in service::phase::deliverables_of(state, &[first.id]).await? {
        let reviewed = service::phase::deliverable_update(
            state,
            &caller,
            deliverable.id,
            deliverable.version,
            Some(DeliverableStatus::InReview),
            Some("https://wiki.example.com/crm/requirements"),
            None,
        )
        .await?;
        service::phase::deliverable_update(
            state,
            &caller,
            reviewed.id,
            reviewed.version,
            Some(DeliverableStatus::Approved),
            None,
            None,
        )
        .await?;
    }
    for (milestone, (_, _, _, day)) in milestones
        .iter()
        .zip(MILESTONES)
        .filter(|(m, _)| m.phase_id == first.id)
    {
        let achieved = (start + Duration::days(*day)).min(today);
        service::milestone::transition(
            state,
            &caller,
            milestone.id,
            MilestoneAction::Achieve,
            Some(achieved),
        )
        .await?;
    }
    let gate = service::phase::request_gate(
        state,
        &caller,
        first.id,
        Some("Requirements signed by sales, marketing and service"),
    )
    .await?;
    if let Some(ballot) = gate.decision {
        for voter in committee.iter().take(2) {
            let vote = VoteInput {
                choice: Some(DecisionChoice::Go),
                comment: Some("Ready".to_owned()),
                conditions: Vec::new(),
                on_behalf_of: None,
            };
            service::decision::cast(state, &as_user(*voter), ballot.id, vote).await?;
        }
    }

    // The charter slips twelve days; everything after it moves with it.
    if let Some(charter) = milestones
        .iter()
        .find(|m| m.name == "Project charter approved")
    {
        let charter = service::milestone::update(
            state,
            &caller,
            charter.id,
            charter.version,
            MilestoneChanges {
                forecast_date: Some(charter.forecast_date + Duration::days(12)),
                ..MilestoneChanges::default()
            },
        )
        .await?;
        println!(
            "The charter slipped 12 days; milestones moved with it: {}.",
            charter.moved.len()
        );
    }
    let integration = milestones
        .iter()
        .find(|m| m.name == "ERP integration in test")
        .map(|m| m.id);
    change_requests(state, &caller, project.id, &people, &committee, integration).await?;
    // The second scope version goes to review once CR-001 has moved the baseline it was
    // drafted from (which carried the change's item into it).
    let second = service::scope::visible(state, &caller.actor, second.id)
        .await?
        .ok_or_else(|| ServiceError::Internal("the demo's second scope version".into()))?;
    service::scope::submit(
        state,
        &caller,
        second.id,
        second.version,
        &[sponsor, business],
    )
    .await?;
    uat(state, &caller, project.id, &people).await?;
    go_live(state, &caller, project.id, &people, &committee).await?;
    let token = service::token::issue_for_operator(state, pm.id, "demo").await?;

    println!(
        "Seeded {DEMO_PROJECT_CODE} \"Sales Cloud roll-out\" (LIVE_HYPERCARE for its pilot region): {} members, 8 phases, {} milestones, 4 change requests, a UAT cycle running, a go-live a week ago.",
        TEAM.len() + 1,
        milestones.len()
    );
    println!(
        "Project manager: {} <{}>",
        PROJECT_MANAGER.1, PROJECT_MANAGER.0
    );
    println!(
        "Every step wrote its emails to the outbox: `steerco serve` delivers them (to SMTP_URL, or as .eml files in mail-outbox/)."
    );
    println!("Her API token (shown once):");
    println!("{}", token.token);
    Ok(())
}

/// Change requests in several states: one approved by the committee and applied to the
/// schedule, scope and cost baselines, one waiting for the committee, one rejected by the PM
/// below the red line, one draft.
async fn change_requests(
    state: &AppState,
    pm: &Caller,
    project_id: Uuid,
    people: &std::collections::HashMap<&str, Uuid>,
    committee: &[Uuid],
    integration_milestone: Option<Uuid>,
) -> ServiceResult<()> {
    let requester = as_user(
        people
            .get("mei.lin@demo.steerco.dev")
            .copied()
            .unwrap_or(pm.actor.user_id),
    );
    let raise = |title: &str, category: CrCategory, priority: CrPriority| CrFields {
        title: Some(title.to_owned()),
        description: Some(format!(
            "{title}, asked for by the sales and service leads."
        )),
        justification: Some(
            "Without it the teams keep working in spreadsheets next to the CRM.".to_owned(),
        ),
        category: Some(category),
        priority: Some(priority),
        links: None,
    };
    let assessed =
        |days: i32, cost: i64, person_days: i64, risk: RiskLevel, shift: bool, scope: bool| {
            Impact {
                schedule: Some(ScheduleImpact {
                    days,
                    milestone_shifts: integration_milestone
                        .filter(|_| shift)
                        .map(|milestone_id| vec![MilestoneShift { milestone_id, days }])
                        .unwrap_or_default(),
                }),
                cost: Some(CostImpact {
                    amount: Decimal::from(cost),
                    currency: "CNY".to_owned(),
                    budget_line: "Implementation services".to_owned(),
                }),
                effort: Some(EffortImpact {
                    person_days: Decimal::from(person_days),
                    roles: vec!["Integration consultant".to_owned()],
                }),
                risk: Some(RiskImpact {
                    level: risk,
                    description: "Touches the ERP order interface".to_owned(),
                }),
                scope: scope.then(|| ScopeImpact {
                    add: vec![ScopeAddition {
                        category: ItemCategory::Integration,
                        text: "WeChat lead capture".to_owned(),
                    }],
                    remove: Vec::new(),
                }),
            }
        };
    let prepare = |cr: steerco_entity::change_request::Model, impact: Impact| {
        let requester = requester.clone();
        async move {
            let cr = service::change_request::transition(
                state,
                &requester,
                cr.id,
                CrAction::Submit,
                None,
            )
            .await?
            .change_request;
            let cr = service::change_request::transition(
                state,
                pm,
                cr.id,
                CrAction::StartAssessment,
                None,
            )
            .await?
            .change_request;
            let cr = service::change_request::assess(state, pm, cr.id, cr.version, impact)
                .await?
                .change_request;
            let waiting = service::change_request::transition(
                state,
                pm,
                cr.id,
                CrAction::RequestDecision,
                None,
            )
            .await?;
            ServiceResult::Ok(waiting.change_request)
        }
    };
    let approve = |decision_id: Uuid, voter: Uuid| async move {
        let vote = VoteInput {
            choice: Some(DecisionChoice::Approve),
            comment: None,
            conditions: Vec::new(),
            on_behalf_of: None,
        };
        service::decision::cast(state, &as_user(voter), decision_id, vote).await
    };

    // CR-001: WeChat lead capture, approved by the committee and applied.
    let cr = service::change_request::create(
        state,
        &requester,
        project_id,
        raise(
            "Add WeChat lead capture",
            CrCategory::Integration,
            CrPriority::Must,
        ),
    )
    .await?
    .change_request;
    let cr = prepare(cr, assessed(10, 120_000, 40, RiskLevel::High, true, true)).await?;
    if let Some(ballot) = service::change_request::ballots_of(&state.db, cr.id)
        .await?
        .pop()
    {
        for voter in committee.iter().take(2) {
            approve(ballot.id, *voter).await?;
        }
    }
    // CR-002: offline mobile app, waiting for the committee with one vote in.
    let cr = service::change_request::create(
        state,
        &requester,
        project_id,
        raise(
            "Offline mode for the mobile app",
            CrCategory::Technical,
            CrPriority::Should,
        ),
    )
    .await?
    .change_request;
    let cr = prepare(
        cr,
        assessed(15, 80_000, 30, RiskLevel::Medium, false, false),
    )
    .await?;
    if let (Some(ballot), Some(voter)) = (
        service::change_request::ballots_of(&state.db, cr.id)
            .await?
            .pop(),
        committee.get(1),
    ) {
        approve(ballot.id, *voter).await?;
    }
    // CR-003: a small cosmetic change the PM rejects below the red line.
    let cr = service::change_request::create(
        state,
        &requester,
        project_id,
        raise(
            "Custom colours for the dashboards",
            CrCategory::Process,
            CrPriority::Could,
        ),
    )
    .await?
    .change_request;
    let cr = prepare(cr, assessed(1, 3_000, 2, RiskLevel::Low, false, false)).await?;
    service::change_request::transition(
        state,
        pm,
        cr.id,
        CrAction::Reject,
        Some("Use the standard theme; revisit after go-live"),
    )
    .await?;
    // CR-004: still a draft.
    service::change_request::create(
        state,
        &requester,
        project_id,
        raise(
            "Migrate the 2019 archives",
            CrCategory::Data,
            CrPriority::Could,
        ),
    )
    .await?;
    Ok(())
}

/// The go-live, replayed on a clock set two weeks back so that a hypercare week lies behind it:
/// a first ballot said NO_GO (no rollback plan, War Room empty); the plan was rescheduled three
/// days, prepared, its rollback approved by the sponsor and its runbook built; the committee
/// said GO with a recorded override (UAT and the schedule are not done: the pilot region goes
/// first); cutover ran, the project went live, and the War Room took a reading a day.
async fn go_live(
    state: &AppState,
    pm: &Caller,
    project_id: Uuid,
    people: &std::collections::HashMap<&str, Uuid>,
    committee: &[Uuid],
) -> ServiceResult<()> {
    let person = |email: &str| people.get(email).copied().unwrap_or(pm.actor.user_id);
    let sponsor = person("wei.zhang@demo.steerco.dev");
    let it = person("raj.patel@demo.steerco.dev");
    let business = person("mei.lin@demo.steerco.dev");
    let clock = Arc::new(ManualClock::new(state.clock.now() - Duration::days(14)));
    let past = AppState {
        clock: clock.clone(),
        ..state.clone()
    };
    let state = &past;
    let vote = |choice: DecisionChoice, comment: &str| VoteInput {
        choice: Some(choice),
        comment: Some(comment.to_owned()),
        conditions: Vec::new(),
        on_behalf_of: None,
    };

    let go_live_day = clock.now() + Duration::days(3);
    let plan = service::go_live::create(
        state,
        pm,
        project_id,
        PlanInput {
            strategy: Strategy::PilotThenFull,
            planned_go_live: go_live_day,
            cutover: (
                go_live_day - Duration::hours(30),
                go_live_day - Duration::hours(6),
            ),
            freeze: Some((go_live_day - Duration::days(2), go_live_day)),
            communications: "Go-live mail to the pilot region's users two days before; daily \
                             War Room note during hypercare."
                .to_owned(),
            max_open_critical: 0,
            max_open_major: 3,
        },
    )
    .await?
    .plan;
    let first = service::go_live::request_decision(state, pm, plan.id).await?;
    if let Some(ballot) = first.decision {
        for (voter, comment) in committee
            .iter()
            .zip(["No rollback plan yet", "The War Room is empty"])
        {
            let no_go = vote(DecisionChoice::NoGo, comment);
            service::decision::cast(state, &as_user(*voter), ballot.id, no_go).await?;
        }
    }
    let go_live_day = go_live_day + Duration::days(3);
    service::go_live::transition(
        state,
        pm,
        plan.id,
        PlanAction::Reschedule,
        Some(go_live_day),
    )
    .await?;
    let step = |text: &str, owner: Uuid| OwnedStep {
        text: text.to_owned(),
        owner_id: Some(owner),
    };
    service::go_live::prepare(
        state,
        pm,
        plan.id,
        Preparation {
            rollback: Some(RollbackPlan {
                triggers: vec![RollbackTrigger {
                    condition: "Orders cannot be created for 30 minutes".to_owned(),
                    metric: Some("Order errors".to_owned()),
                    threshold: Some("> 1%".to_owned()),
                }],
                authority_ids: vec![pm.actor.user_id, sponsor],
                max_minutes: 240,
                steps: vec![
                    step("Point users back to the legacy call-centre tool", it),
                    step("Re-enable the nightly ERP export to the legacy tool", it),
                ],
                reconciliation_steps: vec![step(
                    "Re-key leads and tickets created in the new CRM",
                    business,
                )],
                rehearsed_on: Some(clock.now().date_naive() - Duration::days(1)),
                rehearsal_passed: Some(true),
                approved_by: None,
            }),
            war_room: Some(vec![
                WarRoomSeat {
                    user_id: pm.actor.user_id,
                    shift: "Days 1-5, 08:00-20:00".to_owned(),
                    contact: "+86 21 5555 0101".to_owned(),
                },
                WarRoomSeat {
                    user_id: it,
                    shift: "Days 1-5, 20:00-08:00".to_owned(),
                    contact: "+86 21 5555 0102".to_owned(),
                },
            ]),
            hypercare_exit: Some(vec![
                "Daily active users above 90% for 5 working days".to_owned(),
                "No open critical incident".to_owned(),
            ]),
            communications: None,
        },
    )
    .await?;
    service::go_live::approve_rollback(state, &as_user(sponsor), plan.id).await?;
    let mut runbook = Vec::new();
    for (name, owner, minutes, point_of_no_return) in [
        ("Freeze the legacy call-centre tool", it, 60, false),
        ("Final customer and order migration", it, 480, true),
        ("Reconcile record counts with finance", business, 120, false),
        ("Smoke test lead-to-contract", business, 90, false),
        (
            "Open the new CRM to the pilot region",
            pm.actor.user_id,
            30,
            false,
        ),
    ] {
        let task = service::go_live::task_add(
            state,
            pm,
            plan.id,
            NewTask {
                name: name.to_owned(),
                owner_id: Some(owner),
                duration_minutes: minutes,
                dependencies: runbook.last().map(|(id, _)| *id).into_iter().collect(),
                point_of_no_return,
            },
        )
        .await?;
        runbook.push((task.id, i64::from(minutes)));
    }
    let metrics = [
        (
            "Daily active users",
            "%",
            90,
            Direction::AtLeast,
            [62, 71, 78, 84, 88, 91, 93],
        ),
        (
            "Open critical incidents",
            "count",
            0,
            Direction::AtMost,
            [3, 2, 1, 1, 0, 0, 0],
        ),
    ];
    let mut watched = Vec::new();
    for (name, unit, target, direction, readings) in metrics {
        let metric = service::go_live::metric_add(
            state,
            pm,
            plan.id,
            name,
            unit,
            Decimal::from(target),
            direction,
        )
        .await?;
        watched.push((metric.id, readings));
    }

    // The second ballot: criteria computed from the UAT data fail, so the GO needs an override.
    clock.advance(Duration::days(1));
    let second = service::go_live::request_decision(state, pm, plan.id).await?;
    service::go_live::set_override(
        state,
        pm,
        plan.id,
        "Pilot region only (120 sales users); UAT round 1 continues for the service module and \
         the full roll-out waits for its sign-off.",
    )
    .await?;
    if let Some(ballot) = second.decision {
        for voter in committee.iter().take(2) {
            let go = vote(DecisionChoice::Go, "Go for the pilot region");
            service::decision::cast(state, &as_user(*voter), ballot.id, go).await?;
        }
    }

    // Cutover, task by task, then live.
    clock.advance(go_live_day - Duration::hours(30) - clock.now());
    service::go_live::transition(state, pm, plan.id, PlanAction::StartCutover, None).await?;
    for (task, minutes) in runbook {
        service::go_live::task_set_status(state, pm, task, TaskStatus::InProgress).await?;
        clock.advance(Duration::minutes(minutes));
        service::go_live::task_set_status(state, pm, task, TaskStatus::Done).await?;
    }
    clock.advance(go_live_day - clock.now());
    service::go_live::transition(state, pm, plan.id, PlanAction::GoLive, None).await?;

    // A hypercare week: one reading a day per metric.
    for day in 0..7 {
        clock.advance(Duration::days(1));
        for (metric, readings) in &watched {
            let value = Decimal::from(readings[day]);
            service::go_live::reading_record(state, pm, *metric, value).await?;
        }
    }
    Ok(())
}

/// UAT: the library imported, a running cycle with results, and a defect in every state of
/// its lifecycle.
async fn uat(
    state: &AppState,
    pm: &Caller,
    project_id: Uuid,
    people: &std::collections::HashMap<&str, Uuid>,
) -> ServiceResult<()> {
    let person = |email: &str| as_user(people.get(email).copied().unwrap_or(pm.actor.user_id));
    let qa = person("sofia.rossi@demo.steerco.dev");
    let business = person("mei.lin@demo.steerco.dev");
    let vendor = person("vendor@demo.steerco.dev");
    let scenarios = service::uat::library_import(state, &qa, project_id).await?;
    let cycle = service::uat::cycle_create(
        state,
        &qa,
        project_id,
        NewCycle {
            name: "UAT round 1".to_owned(),
            stage: AcceptanceStage::UserTrial,
            environment: "UAT sandbox".to_owned(),
            planned_start: None,
            planned_end: None,
        },
    )
    .await?;
    service::uat::cycle_transition(state, &qa, cycle.id, CycleAction::Start).await?;
    for (index, scenario) in scenarios.iter().enumerate() {
        let result = match index % 4 {
            1 => ExecutionResult::Failed,
            3 => ExecutionResult::Blocked,
            _ => ExecutionResult::Passed,
        };
        let defect = (result == ExecutionResult::Failed).then(|| NewDefect {
            title: format!("{} does not complete", scenario.name),
            steps_to_reproduce: "Follow the scenario's steps in the UAT sandbox.".to_owned(),
            expected_result: "The last step's expected result.".to_owned(),
            actual_result: "The flow stops with an error.".to_owned(),
            category: Some(DefectCategory::LogicDeviation),
            ..NewDefect::default()
        });
        let input = ExecutionInput {
            cycle_id: cycle.id,
            scenario_id: scenario.id,
            result,
            notes: Some("Run by QA with the sales team".to_owned()),
            evidence_url: None,
            defect,
        };
        service::uat::execution_record(state, &business, input).await?;
    }

    // One defect parked in each state of the fix–retest loop.
    use DefectCommand as C;
    /// Who moves the defect, and how.
    type Step<'a> = (&'a Caller, DefectCommand);
    let assign = C::Assign {
        assignee: vendor.actor.user_id,
    };
    let paths: Vec<(&str, Severity, Vec<Step>)> = vec![
        ("Lead owner not set on import", Severity::Minor, vec![]),
        (
            "Quote PDF shows the wrong logo",
            Severity::Trivial,
            vec![(&qa, C::Triage)],
        ),
        (
            "Opportunity stage skips approval",
            Severity::Major,
            vec![(&qa, C::Triage), (&qa, assign.clone())],
        ),
        (
            "Ticket routing ignores region",
            Severity::Major,
            vec![
                (&qa, C::Triage),
                (&qa, assign.clone()),
                (&vendor, C::StartFix),
            ],
        ),
        (
            "Contract number duplicates",
            Severity::Critical,
            vec![
                (&qa, C::Triage),
                (&qa, assign.clone()),
                (&vendor, C::StartFix),
                (&vendor, C::MarkReadyForRetest),
            ],
        ),
        (
            "Discount rounding off by one cent",
            Severity::Minor,
            vec![
                (&qa, C::Triage),
                (&qa, assign.clone()),
                (&vendor, C::StartFix),
                (&vendor, C::MarkReadyForRetest),
                (&business, C::Verify),
            ],
        ),
        (
            "Follow-up reminder sent twice",
            Severity::Minor,
            vec![
                (&qa, C::Triage),
                (&qa, assign.clone()),
                (&vendor, C::StartFix),
                (&vendor, C::MarkReadyForRetest),
                (&business, C::Verify),
                (&qa, C::Close),
            ],
        ),
        (
            "Sales sees finance margin field",
            Severity::Critical,
            vec![
                (&qa, C::Triage),
                (&qa, assign.clone()),
                (&vendor, C::StartFix),
                (&vendor, C::MarkReadyForRetest),
                (
                    &business,
                    C::Reopen {
                        reason: "Still visible in the mobile app".to_owned(),
                    },
                ),
            ],
        ),
        (
            "Dashboard loads slowly on Mondays",
            Severity::Minor,
            vec![
                (&qa, C::Triage),
                (
                    &qa,
                    C::Defer {
                        reason: "After go-live".to_owned(),
                    },
                ),
            ],
        ),
    ];
    for (title, severity, steps) in paths {
        let (found, _) = service::uat::defect_create(
            state,
            &qa,
            project_id,
            NewDefect {
                title: title.to_owned(),
                steps_to_reproduce: "See the UAT round 1 notes.".to_owned(),
                actual_result: title.to_owned(),
                category: Some(DefectCategory::Other),
                severity: Some(severity),
                priority: Some(if severity <= Severity::Major {
                    Priority::P1
                } else {
                    Priority::P3
                }),
                found_in_cycle_id: Some(cycle.id),
                scenario_id: scenarios.first().map(|s| s.id),
                ..NewDefect::default()
            },
        )
        .await?;
        for (who, command) in steps {
            service::uat::defect_transition(state, who, found.id, command).await?;
        }
    }
    let (duplicate, _) = service::uat::defect_create(
        state,
        &business,
        project_id,
        NewDefect {
            title: "Contract numbers repeat".to_owned(),
            steps_to_reproduce: "Create two contracts quickly.".to_owned(),
            actual_result: "Same number twice".to_owned(),
            severity: Some(Severity::Major),
            priority: Some(Priority::P2),
            ..NewDefect::default()
        },
    )
    .await?;
    let original = service::uat::defects_of(&state.db, project_id)
        .await?
        .into_iter()
        .find(|d| d.title == "Contract number duplicates")
        .map(|d| d.id);
    service::uat::defect_transition(state, &qa, duplicate.id, C::Triage).await?;
    service::uat::defect_transition(
        state,
        &qa,
        duplicate.id,
        C::Reject {
            reason: RejectReason::Duplicate,
            duplicate_of: original,
            defect_id: duplicate.id,
        },
    )
    .await?;
    Ok(())
}

/// The demo's scope statement; given the first baseline, the second version, which keeps what
/// the project delivers (under way, it changes that only through change requests) and
/// refines the rest: the partner portal is excluded, and acceptance gains the pilot region's
/// response time.
fn scope_document(previous: Option<&ScopeDocument>) -> DocumentInput {
    let keep = |items: Option<&Vec<ScopeItem>>, category, text: &str| ItemInput {
        id: items
            .and_then(|items| items.iter().find(|i| i.text == text))
            .map(|i| i.id),
        category,
        text: text.to_owned(),
    };
    let kept_in = previous.map(|doc| &doc.in_scope);
    let in_scope = [
        (ItemCategory::Module, "Lead and opportunity management"),
        (ItemCategory::Process, "Lead to contract"),
        (ItemCategory::Integration, "ERP order and invoice sync"),
        (ItemCategory::DataObject, "Customer master data"),
        (ItemCategory::Module, "Marketing automation"),
    ]
    .into_iter()
    .map(|(category, text)| keep(kept_in, category, text))
    .collect();
    let kept_out = previous.map(|doc| &doc.out_of_scope);
    let mut out_of_scope = vec![keep(kept_out, ItemCategory::Department, "Field service")];
    let objective = previous
        .and_then(|doc| doc.objectives.first())
        .map(|o| o.id);
    let statement = |list: Option<&Vec<Statement>>, text: &str| StatementInput {
        id: list
            .and_then(|l| l.iter().find(|s| s.text == text))
            .map(|s| s.id),
        text: text.to_owned(),
    };
    let mut acceptance_criteria = vec![statement(
        previous.map(|d| &d.acceptance_criteria),
        "Core business processes pass UAT 100%",
    )];
    if previous.is_some() {
        out_of_scope.push(keep(None, ItemCategory::Module, "Partner portal"));
        acceptance_criteria.push(statement(
            None,
            "Leads answered within two hours in the pilot region",
        ));
    }
    DocumentInput {
        objectives: vec![ObjectiveInput {
            id: objective,
            text: "Raise lead-to-order conversion".to_owned(),
            kpi: Some("lead conversion rate".to_owned()),
            baseline: Some("8%".to_owned()),
            target: Some("12% within 12 months".to_owned()),
        }],
        in_scope,
        out_of_scope,
        deliverables: vec![statement(
            previous.map(|d| &d.deliverables),
            "Configured CRM with migrated customer data",
        )],
        assumptions: vec![statement(
            previous.map(|d| &d.assumptions),
            "ERP keeps its current order API",
        )],
        constraints: vec![statement(
            previous.map(|d| &d.constraints),
            "Go-live before the autumn sales campaign",
        )],
        acceptance_criteria,
    }
}

async fn ensure_user(
    state: &AppState,
    email: &str,
    name: &str,
    locale: &str,
) -> ServiceResult<user::Model> {
    let address = steerco_graphql::domain::user::EmailAddress::parse(email)
        .map_err(|e| service::ServiceError::Internal(e.to_string()))?;
    if let Some(found) = service::user::find_by_email(&state.db, &address).await? {
        return Ok(found);
    }
    let input = NewUser {
        email: email.to_owned(),
        name: name.to_owned(),
        locale: Some(locale.to_owned()),
        admin: false,
        password: None,
    };
    service::user::create(state, None, input).await
}
