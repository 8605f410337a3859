//! Projects: create, edit, move through the lifecycle, list.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Func, LikeExpr},
};
use serde_json::json;
use steerco_entity::{cost_baseline, project, project_member};
use uuid::Uuid;

use super::access::{self, stored_roles};
use super::audit::{AuditEntry, Origin, append_in_txn};
use super::page::{Page, Window};
use super::whole_row;
use super::{
    AppState, Caller, ServiceError, ServiceResult, begin_write, commit_with_events,
    unique_violation_as,
};
use crate::domain::authz::ProjectOperation;
use crate::domain::change_request::RedLine;
use crate::domain::committee::VotingRule;
use crate::domain::event::DomainEvent;
use crate::domain::go_live::ProjectPosition;
use crate::domain::money::{CurrencyCode, Money};
use crate::domain::project::{
    self as rules, PlanReadiness, ProjectAction, ProjectCode, ProjectSnapshot, ProjectStatus,
    ScopeReadiness, TimeZone, check_schedule,
};
use crate::domain::role::{ProjectRole, RoleSet};
use crate::domain::schedule::HealthThresholds;
use crate::domain::{Refusal, Refusals};

/// A money amount as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoneyInput {
    pub amount: Decimal,
    pub currency: String,
}

/// Input for a new project, as typed.
#[derive(Debug, Clone, Default)]
pub struct NewProject {
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub time_zone: Option<String>,
    pub planned_start: Option<NaiveDate>,
    pub target_go_live: Option<NaiveDate>,
    pub budget: Option<MoneyInput>,
    /// The phases to start from; `None` for an empty plan.
    pub template: Option<crate::domain::phase_template::TemplateKey>,
}

/// A change to an optional attribute: leave it, clear it, or set it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

/// Edits to a project; unset fields keep their value.
#[derive(Debug, Clone, Default)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub time_zone: Option<String>,
    pub planned_start: Patch<NaiveDate>,
    pub target_go_live: Patch<NaiveDate>,
    pub budget: Patch<MoneyInput>,
    /// How the steering committee decides, with the quorum for `QUORUM`.
    pub decision_rule: Option<(String, Option<i32>)>,
    /// Milestone slip thresholds (amber, red), in days.
    pub health_thresholds: Option<(i32, i32)>,
    /// The change-request red line.
    pub red_line: Option<RedLine>,
}

/// Filters for listing projects.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    pub statuses: Vec<ProjectStatus>,
    /// Matches code or name, case-insensitively.
    pub search: Option<String>,
}

/// The project and the events its change emitted.
#[derive(Debug, Clone)]
pub struct ProjectChange {
    pub project: project::Model,
    pub events: Vec<DomainEvent>,
}

pub const DEFAULT_TIME_ZONE: &str = "UTC";

fn parse_money(refusals: &mut Refusals, input: &MoneyInput) -> Option<Money> {
    let currency = refusals.field(
        &["budget", "currency"],
        CurrencyCode::parse(&input.currency),
    )?;
    refusals.field(&["budget", "amount"], Money::new(input.amount, currency))
}

/// Creates a project in `PROPOSED`; the creator becomes its project manager.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    input: NewProject,
) -> ServiceResult<ProjectChange> {
    let mut refusals = Refusals::default();
    let code = refusals.field(&["code"], ProjectCode::parse(&input.code));
    let name = refusals.field(&["name"], rules::parse_name(&input.name));
    let description = refusals.field(
        &["description"],
        rules::parse_description(input.description.as_deref().unwrap_or("")),
    );
    let time_zone = refusals.field(
        &["timeZone"],
        TimeZone::parse(input.time_zone.as_deref().unwrap_or(DEFAULT_TIME_ZONE)),
    );
    let budget = input
        .budget
        .as_ref()
        .map(|money| parse_money(&mut refusals, money));
    if let Err(refusal) = check_schedule(input.planned_start, input.target_go_live) {
        refusals.push(refusal);
    }
    let (Some(code), Some(name), Some(description), Some(time_zone)) =
        (code, name, description, time_zone)
    else {
        return Err(refusals.finish().err().unwrap_or_default().into());
    };
    refusals.finish()?;
    let budget = budget.flatten();

    let txn = begin_write(&state.writer).await?;
    let taken = project::Entity::find()
        .filter(project::Column::Code.eq(code.as_str()))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(Refusal::conflict(
            &["code"],
            format!("the project code {} is taken", code.as_str()),
        )
        .into());
    }
    let now = state.clock.now();
    let model = project::Model {
        id: Uuid::now_v7(),
        code: code.as_str().to_owned(),
        name,
        description,
        time_zone: time_zone.name().to_owned(),
        planned_start: input.planned_start,
        target_go_live: input.target_go_live,
        budget_amount: budget.as_ref().map(Money::amount_text),
        budget_currency: budget.as_ref().map(|m| m.currency().as_str().to_owned()),
        status: ProjectStatus::Proposed.as_str().to_owned(),
        status_reason: None,
        status_before_hold: None,
        decision_rule: "MAJORITY".to_owned(),
        decision_quorum: None,
        amber_slip_days: HealthThresholds::default().amber_slip_days as i32,
        red_slip_days: HealthThresholds::default().red_slip_days as i32,
        red_line_schedule_days: RedLine::default().schedule_days,
        red_line_cost: RedLine::default().cost.to_string(),
        red_line_risk: RedLine::default().risk.as_str().to_owned(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    whole_row::insert(&txn, model.clone())
        .await
        .map_err(unique_violation_as(&["code"], "the project code is taken"))?;
    let origin = Origin::from(caller);
    append_in_txn(
        &txn,
        origin,
        now,
        project_entry(&model, "project.created", None),
    )
    .await?;
    let roles = RoleSet::from_input(&[ProjectRole::ProjectManager])
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    let member =
        super::member::insert_in_txn(&txn, origin, now, model.id, caller.actor.user_id, &roles)
            .await?;
    if let Some(key) = input.template {
        super::phase::create_from_template_in_txn(&txn, origin, now, model.id, key).await?;
    }
    let events = vec![
        DomainEvent::ProjectCreated,
        DomainEvent::MemberAdded {
            user_id: member.user_id,
            roles: roles.iter().collect(),
        },
    ];
    commit_with_events(state, txn, origin, &model, &events).await?;
    Ok(ProjectChange {
        project: model,
        events,
    })
}

/// Edits a project's attributes, if nobody changed it since `expected_version`.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    expected_version: i64,
    changes: ProjectChanges,
) -> ServiceResult<ProjectChange> {
    let mut refusals = Refusals::default();
    let name = changes
        .name
        .as_deref()
        .map(|raw| refusals.field(&["name"], rules::parse_name(raw)));
    let description = changes
        .description
        .as_deref()
        .map(|raw| refusals.field(&["description"], rules::parse_description(raw)));
    let time_zone = changes
        .time_zone
        .as_deref()
        .map(|raw| refusals.field(&["timeZone"], TimeZone::parse(raw)));
    let budget = match &changes.budget {
        Patch::Keep => Patch::Keep,
        Patch::Clear => Patch::Clear,
        Patch::Set(money) => parse_money(&mut refusals, money).map_or(Patch::Keep, Patch::Set),
    };
    let rule = changes.decision_rule.as_ref().and_then(|(code, quorum)| {
        let rule = super::decision::parse_rule(code, *quorum);
        if rule.is_none() {
            refusals.push(Refusal::bad_input(
                &["decisionQuorum"],
                "QUORUM needs a quorum of at least 1",
            ));
        }
        rule
    });
    let thresholds = changes.health_thresholds.and_then(|(amber, red)| {
        refusals.field(
            &["healthThresholds"],
            HealthThresholds::new(i64::from(amber), i64::from(red)),
        )
    });
    refusals.finish()?;

    let txn = begin_write(&state.writer).await?;
    let (current, _) = access::project_for(
        &txn,
        &caller.actor,
        project_id,
        &["id"],
        ProjectOperation::Update,
    )
    .await?;
    refuse_if_read_only(&current, &["id"], |status| {
        format!("a {status} project can no longer be edited")
    })?;
    if current.version != expected_version {
        return Err(Refusal::stale_version(current.version).into());
    }
    let planned_start = apply(current.planned_start, &changes.planned_start);
    let target_go_live = apply(current.target_go_live, &changes.target_go_live);
    let field_at_fault = if changes.target_go_live == Patch::Keep {
        "plannedStart"
    } else {
        "targetGoLive"
    };
    check_schedule(planned_start, target_go_live).map_err(|refusal| Refusal {
        field: vec![field_at_fault.to_owned()],
        ..refusal
    })?;

    let now = state.clock.now();
    let mut next = current.clone();
    if let Some(Some(name)) = name {
        next.name = name;
    }
    if let Some(Some(description)) = description {
        next.description = description;
    }
    if let Some(Some(time_zone)) = time_zone {
        next.time_zone = time_zone.name().to_owned();
    }
    next.planned_start = planned_start;
    next.target_go_live = target_go_live;
    if budget != Patch::Keep {
        let stored = stored_budget(&current)?;
        let edited = match &budget {
            Patch::Set(money) => Some(money),
            Patch::Keep | Patch::Clear => None,
        };
        let baselined = cost_baseline::Entity::find()
            .filter(cost_baseline::Column::ProjectId.eq(current.id))
            .one(&txn)
            .await?
            .is_some();
        rules::check_budget_edit(baselined, stored.as_ref(), edited)?;
    }
    match budget {
        Patch::Keep => {}
        Patch::Clear => (next.budget_amount, next.budget_currency) = (None, None),
        Patch::Set(money) => {
            next.budget_amount = Some(money.amount_text());
            next.budget_currency = Some(money.currency().as_str().to_owned());
        }
    }
    if let Some(rule) = rule {
        let committee = super::decision::committee_of(&txn, current.id).await?.len();
        if let VotingRule::Quorum(n) = rule
            && n as usize > committee
        {
            return Err(Refusal::bad_input(
                &["decisionQuorum"],
                format!("the quorum {n} is larger than the steering committee ({committee})"),
            )
            .into());
        }
        next.decision_rule = rule.as_str().to_owned();
        next.decision_quorum = match rule {
            VotingRule::Quorum(n) => Some(n as i32),
            _ => None,
        };
    }
    if let Some(line) = &changes.red_line {
        if line.schedule_days < 0 || line.cost.is_sign_negative() {
            return Err(Refusal::bad_input(
                &["redLine"],
                "red-line thresholds must not be negative",
            )
            .into());
        }
        next.red_line_schedule_days = line.schedule_days;
        next.red_line_cost = line.cost.to_string();
        next.red_line_risk = line.risk.as_str().to_owned();
    }
    if let Some(thresholds) = thresholds {
        next.amber_slip_days = thresholds.amber_slip_days as i32;
        next.red_slip_days = thresholds.red_slip_days as i32;
    }
    next.updated_at = now;
    next.version = current.version + 1;
    save(&txn, &next).await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        project_entry(&next, "project.updated", Some(&current)),
    )
    .await?;
    let mut events = vec![DomainEvent::ProjectUpdated];
    if changes.red_line.is_some() {
        events.extend(
            super::change_request::send_past_the_red_line_in_txn(
                &txn,
                Origin::from(caller),
                now,
                &current,
                &next,
            )
            .await?,
        );
    }
    commit_with_events(state, txn, Origin::from(caller), &next, &events).await?;
    Ok(ProjectChange {
        project: next,
        events,
    })
}

fn apply<T: Copy>(current: Option<T>, patch: &Patch<T>) -> Option<T> {
    match patch {
        Patch::Keep => current,
        Patch::Clear => None,
        Patch::Set(value) => Some(*value),
    }
}

/// Moves a project through its lifecycle.
pub async fn transition(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    action: ProjectAction,
    reason: Option<&str>,
    expected_version: Option<i64>,
) -> ServiceResult<ProjectChange> {
    let txn = begin_write(&state.writer).await?;
    let (current, _) = access::project_for(
        &txn,
        &caller.actor,
        project_id,
        &["id"],
        ProjectOperation::Transition(action),
    )
    .await?;
    if expected_version.is_some_and(|expected| expected != current.version) {
        return Err(Refusal::stale_version(current.version).into());
    }
    let snapshot = snapshot_of(&txn, &current, action).await?;
    let decided = rules::decide(&snapshot, action, reason)?;

    let now = state.clock.now();
    let mut next = current.clone();
    next.status = decided.status.as_str().to_owned();
    next.status_before_hold = decided.held_from.map(|s| s.as_str().to_owned());
    next.status_reason = decided.reason.clone();
    next.updated_at = now;
    next.version = current.version + 1;
    save(&txn, &next).await?;
    let action_name = format!("project.{}", action.as_str().to_ascii_lowercase());
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        project_entry(&next, &action_name, Some(&current)),
    )
    .await?;
    commit_with_events(state, txn, Origin::from(caller), &next, &decided.events).await?;
    Ok(ProjectChange {
        project: next,
        events: decided.events,
    })
}

/// What the lifecycle needs to know of a project to decide `action`. The scope baseline is
/// read for initiation alone and the plan for execution alone, the only guards that look at
/// them (the domain's tests hold `decide` to that); other actions see both as ready.
async fn snapshot_of(
    conn: &impl ConnectionTrait,
    project: &project::Model,
    action: ProjectAction,
) -> ServiceResult<ProjectSnapshot> {
    let members = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project.id))
        .all(conn)
        .await?;
    let mut has_sponsor = false;
    let mut has_project_manager = false;
    for member in &members {
        let roles = stored_roles(&member.roles)?;
        has_sponsor |= roles.contains(ProjectRole::Sponsor);
        has_project_manager |= roles.contains(ProjectRole::ProjectManager);
    }
    let plan = match action {
        ProjectAction::StartExecution => {
            let milestones: Vec<(String, Option<Uuid>)> = steerco_entity::milestone::Entity::find()
                .select_only()
                .column(steerco_entity::milestone::Column::Name)
                .column(steerco_entity::milestone::Column::OwnerId)
                .filter(steerco_entity::milestone::Column::ProjectId.eq(project.id))
                .order_by_asc(steerco_entity::milestone::Column::ForecastDate)
                .order_by_asc(steerco_entity::milestone::Column::Id)
                .into_tuple()
                .all(conn)
                .await?;
            PlanReadiness::of_milestones(milestones.iter().map(|(name, owner)| {
                let owned = owner.is_some_and(|owner| members.iter().any(|m| m.user_id == owner));
                (name.as_str(), owned)
            }))
        }
        _ => PlanReadiness::Ready,
    };
    let hypercare_held_by_a_plan = steerco_entity::go_live_plan::Entity::find()
        .filter(steerco_entity::go_live_plan::Column::ProjectId.eq(project.id))
        .filter(
            steerco_entity::go_live_plan::Column::Status
                .eq(crate::domain::go_live::PlanStatus::Live.as_str()),
        )
        .one(conn)
        .await?
        .is_some();
    let scope = match action {
        ProjectAction::Initiate => {
            let baseline = super::scope::baseline_document(conn, project.id).await?;
            ScopeReadiness::of_baseline(baseline.as_ref().map(|d| d.objectives.as_slice()))
        }
        _ => ScopeReadiness::Ready,
    };
    let ProjectPosition { status, held_from } = position_of(project)?;
    Ok(ProjectSnapshot {
        plan,
        hypercare_held_by_a_plan,
        scope,
        status,
        held_from,
        has_sponsor,
        has_project_manager,
    })
}

/// The ids of the closed and cancelled projects, which are read-only: a subquery for reads
/// that leave them out (their ballots take no more votes, so nobody is asked for one).
pub(crate) fn read_only_project_ids() -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(
            project::Column::Status.is_in(
                ProjectStatus::ALL
                    .into_iter()
                    .filter(|status| status.is_terminal())
                    .map(ProjectStatus::as_str),
            ),
        )
        .to_owned()
}

/// Where a project stands in its lifecycle: its status and, while on hold, the status it
/// resumes to.
pub(crate) fn position_of(project: &project::Model) -> ServiceResult<ProjectPosition> {
    Ok(ProjectPosition {
        status: parse_status(&project.status)?,
        held_from: project
            .status_before_hold
            .as_deref()
            .map(parse_status)
            .transpose()?,
    })
}

pub fn parse_status(code: &str) -> ServiceResult<ProjectStatus> {
    code.parse()
        .map_err(|e| ServiceError::Internal(format!("stored project status: {e}")))
}

/// A project's budget as stored, if it has one.
fn stored_budget(project: &project::Model) -> ServiceResult<Option<Money>> {
    project
        .budget_amount
        .as_deref()
        .zip(project.budget_currency.as_deref())
        .map(|(amount, currency)| Money::from_stored(amount, currency))
        .transpose()
        .map_err(|e| ServiceError::Internal(format!("stored budget: {e}")))
}

/// Refuses a change to a closed or cancelled project, which is read-only, as a precondition
/// failed at `field`, in the words `refusal` gives for the project's status.
pub(crate) fn refuse_if_read_only(
    project: &project::Model,
    field: &[&str],
    refusal: impl FnOnce(ProjectStatus) -> String,
) -> ServiceResult<()> {
    let status = parse_status(&project.status)?;
    if status.is_terminal() {
        return Err(Refusal::precondition(field, refusal(status)).into());
    }
    Ok(())
}

async fn save(conn: &impl ConnectionTrait, project: &project::Model) -> ServiceResult<()> {
    // Every column is rewritten: one full UPDATE, whatever changed.
    whole_row::update(conn, project.clone()).await?;
    Ok(())
}

fn project_entry<'a>(
    project: &project::Model,
    action: &'a str,
    before: Option<&project::Model>,
) -> AuditEntry<'a> {
    AuditEntry {
        project_id: Some(project.id),
        entity_type: "Project",
        entity_id: project.id,
        action,
        before: before.map(snapshot),
        after: Some(snapshot(project)),
    }
}

/// What the audit trail records of a project.
pub fn snapshot(project: &project::Model) -> serde_json::Value {
    json!({
        "code": project.code,
        "name": project.name,
        "description": project.description,
        "timeZone": project.time_zone,
        "plannedStart": project.planned_start,
        "targetGoLive": project.target_go_live,
        "budgetAmount": project.budget_amount,
        "budgetCurrency": project.budget_currency,
        "status": project.status,
        "statusReason": project.status_reason,
        "decisionRule": project.decision_rule,
        "decisionQuorum": project.decision_quorum,
        "amberSlipDays": project.amber_slip_days,
        "redSlipDays": project.red_slip_days,
        "version": project.version,
    })
}

/// Whether a project with this code exists, visible or not (for the command line).
pub async fn code_taken(conn: &impl ConnectionTrait, code: &str) -> ServiceResult<bool> {
    Ok(project::Entity::find()
        .filter(project::Column::Code.eq(code))
        .one(conn)
        .await?
        .is_some())
}

/// A project code as stored, or `None` for text that cannot be one (and so names no project).
pub fn stored_code(code: &str) -> Option<String> {
    ProjectCode::parse(code)
        .ok()
        .map(|code| code.as_str().to_owned())
}

/// A project by id, if the caller may see it.
pub async fn by_id(
    state: &AppState,
    actor: &super::Actor,
    id: Uuid,
) -> ServiceResult<Option<project::Model>> {
    access::visible_project(&state.db, actor, id).await
}

/// The projects the caller may see, filtered, one page at a time in creation order.
pub async fn list(
    state: &AppState,
    actor: &super::Actor,
    filter: &ProjectFilter,
    window: &Window<Uuid>,
) -> ServiceResult<Page<project::Model>> {
    let mut select = project::Entity::find();
    if !actor.admin {
        let mine = access::projects_of_member(actor.user_id);
        select = select.filter(project::Column::Id.in_subquery(mine));
    }
    if !filter.statuses.is_empty() {
        select = select
            .filter(project::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        select = select.filter(search_condition(search));
    }
    Ok(super::page::fetch(&state.db, select, project::Column::Id, window).await?)
}

/// Projects whose code or name holds `search`, ignoring case.
fn search_condition(search: &str) -> Condition {
    // No code or name holds a control character (both are checked on the way in), and
    // PostgreSQL refuses a NUL in any text it is sent: such a search matches nothing.
    if search.chars().any(char::is_control) {
        return Condition::all().add(Expr::val(1).eq(0));
    }
    let pattern = format!(
        "%{}%",
        search
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    Condition::any()
        .add(
            Expr::expr(Func::lower(Expr::col(project::Column::Code)))
                .like(LikeExpr::new(pattern.clone()).escape('\\')),
        )
        .add(
            Expr::expr(Func::lower(Expr::col(project::Column::Name)))
                .like(LikeExpr::new(pattern).escape('\\')),
        )
}

/// The caller's roles on a project, for a project they can see.
pub async fn my_roles(
    state: &AppState,
    actor: &super::Actor,
    project_id: Uuid,
) -> ServiceResult<RoleSet> {
    Ok(access::subject_on(&state.db, actor, project_id)
        .await?
        .roles)
}

/// Today's date where the project is: deadlines and actual dates are the project's local days.
pub fn today_in(project: &project::Model, now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    today_in_zone(&project.time_zone, now)
}

/// The date it is at `now` in the time zone named `time_zone` (UTC for a name not known).
pub fn today_in_zone(time_zone: &str, now: chrono::DateTime<chrono::Utc>) -> NaiveDate {
    let zone = TimeZone::parse(time_zone)
        .map(|tz| tz.tz())
        .unwrap_or(chrono_tz::UTC);
    now.with_timezone(&zone).date_naive()
}

/// Whether the project's schedule has been baselined at least once.
pub async fn is_baselined(conn: &impl ConnectionTrait, project_id: Uuid) -> ServiceResult<bool> {
    use steerco_entity::schedule_baseline;
    Ok(schedule_baseline::Entity::find()
        .filter(schedule_baseline::Column::ProjectId.eq(project_id))
        .one(conn)
        .await?
        .is_some())
}

/// Projects by id, for loaders (visibility is checked by whoever reached them).
pub async fn by_ids(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> ServiceResult<Vec<project::Model>> {
    Ok(project::Entity::find()
        .filter(project::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}
