//! The outbox's life after commit: workers claim due rows under a lease, record each attempt's
//! outcome, and the scheduler adds reminders and daily digests. Also what people do with their
//! mail: the PM's view of a project's outbox, retrying a dead row, and delivery preferences.
//!
//! Claims are safe with any number of workers: on PostgreSQL `FOR UPDATE SKIP LOCKED` hands each
//! row to one claimer; on SQLite the write transaction itself is exclusive. A row whose worker
//! died mid-send is claimed again once its lease runs out.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait, RelationDef, Select,
};
use serde_json::json;
use steerco_entity::{
    decision, digest_item, milestone, notification, notification_preference, project,
    project_member, scheduled_reminder, server_secret, test_cycle, user,
};
use uuid::Uuid;

use super::audit::{AuditEntry, Origin, append_in_txn};
use super::notify::{
    Addressee, LinkKey, MailSettings, Occurrence, insert_all_once, notify_in_txn, pending_row,
};
use super::page::{Page, Window};
use super::{
    AppState, Caller, ServiceError, ServiceResult, Writer, access, backend_of, begin_write, commit,
    current_under_project_lock,
};
use crate::domain::Refusal;
use crate::domain::authz::ProjectOperation;
use crate::domain::decision::DecisionStatus;
use crate::domain::event::DomainEvent;
use crate::domain::notification::{
    AfterFailure, Delivery, MilestoneReminder, NotificationClass, NotificationStatus, RetryPolicy,
    SendFailure, milestone_reminder, vote_reminder_due,
};
use crate::domain::schedule::MilestoneStatus;
use crate::domain::uat::CycleStatus;
use crate::domain::user::Locale;
use crate::mail::{self, DigestLine, Person};

// ---- delivery ---------------------------------------------------------------------------

/// Claims up to `limit` due rows for `lease`: pending rows whose time has come and rows whose
/// previous claimer's lease ran out, most urgent first. Each claim counts as an attempt.
pub async fn claim(
    writer: &Writer,
    now: DateTime<Utc>,
    lease: Duration,
    limit: u64,
) -> ServiceResult<Vec<notification::Model>> {
    let txn = begin_write(writer).await?;
    let mut select = due_rows(now, limit);
    if backend_of(&txn) == DbBackend::Postgres {
        select = select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = select.all(&txn).await?;
    if rows.is_empty() {
        commit(txn).await?;
        return Ok(rows);
    }
    let lease_until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    notification::Entity::update_many()
        .col_expr(
            notification::Column::Status,
            Expr::value(NotificationStatus::Sending.as_str()),
        )
        .col_expr(notification::Column::LeaseUntil, Expr::value(lease_until))
        .col_expr(
            notification::Column::Attempts,
            Expr::col(notification::Column::Attempts).add(1),
        )
        .col_expr(
            notification::Column::Claims,
            Expr::col(notification::Column::Claims).add(1),
        )
        .filter(notification::Column::Id.is_in(rows.iter().map(|r| r.id)))
        .exec(&txn)
        .await?;
    commit(txn).await?;
    Ok(rows
        .into_iter()
        .map(|row| notification::Model {
            status: NotificationStatus::Sending.as_str().to_owned(),
            lease_until: Some(lease_until),
            attempts: row.attempts + 1,
            claims: row.claims + 1,
            ..row
        })
        .collect())
}

/// The rows a claim at `now` takes, up to `limit`, most urgent first: pending rows whose time
/// has come and rows whose claimer's lease ran out. The index `idx_notification_due_at`
/// (status, next attempt) bounds the pending rows it reads to those due; of the rows being
/// sent, few at any time, it reads all.
pub fn due_rows(now: DateTime<Utc>, limit: u64) -> Select<notification::Entity> {
    let due = Condition::any()
        .add(
            Condition::all()
                .add(notification::Column::Status.eq(NotificationStatus::Pending.as_str()))
                .add(notification::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(notification::Column::Status.eq(NotificationStatus::Sending.as_str()))
                .add(notification::Column::LeaseUntil.lt(now)),
        );
    notification::Entity::find()
        .filter(due)
        .order_by_asc(notification::Column::Priority)
        .order_by_asc(notification::Column::NextAttemptAt)
        .order_by_asc(notification::Column::Id)
        .limit(limit)
}

/// Only the claimer still holding the row may record its outcome: a worker that outlived its
/// lease must not overwrite the row another worker took over, even after a retry.
fn still_ours(claimed: &notification::Model) -> Condition {
    Condition::all()
        .add(notification::Column::Id.eq(claimed.id))
        .add(notification::Column::Status.eq(NotificationStatus::Sending.as_str()))
        .add(notification::Column::Claims.eq(claimed.claims))
}

/// Rows marked sent per statement: two bound values a row, well inside the parameter limits of
/// SQLite and PostgreSQL.
const SENT_PER_STATEMENT: usize = 500;

/// Records that the SMTP server accepted these claimed rows. One statement (per 500 rows)
/// marks them all, so a worker pays one write for a batch rather than one per email; each row
/// is still marked only while its claim is ours (`still_ours`).
pub async fn record_sent(
    writer: &Writer,
    claimed: &[notification::Model],
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    for chunk in claimed.chunks(SENT_PER_STATEMENT) {
        let ours = chunk.iter().fold(Condition::any(), |ours, row| {
            ours.add(
                Condition::all()
                    .add(notification::Column::Id.eq(row.id))
                    .add(notification::Column::Claims.eq(row.claims)),
            )
        });
        let update = notification::Entity::update_many()
            .col_expr(
                notification::Column::Status,
                Expr::value(NotificationStatus::Sent.as_str()),
            )
            .col_expr(notification::Column::SentAt, Expr::value(Some(now)))
            .col_expr(
                notification::Column::LeaseUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(notification::Column::LastError, Expr::value(None::<String>))
            .filter(notification::Column::Status.eq(NotificationStatus::Sending.as_str()))
            .filter(ours);
        writer.execute_alone(update.build(writer.backend())).await?;
    }
    Ok(())
}

/// Records a failed attempt: back to PENDING after a backoff, or DEAD.
pub async fn record_failure(
    writer: &Writer,
    claimed: &notification::Model,
    failure: SendFailure,
    error: &str,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    jitter: f64,
) -> ServiceResult<NotificationStatus> {
    let (status, next_attempt_at) = match policy.after_failure(claimed.attempts, failure, jitter) {
        AfterFailure::RetryIn(wait) => (
            NotificationStatus::Pending,
            now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX),
        ),
        AfterFailure::Dead => (NotificationStatus::Dead, claimed.next_attempt_at),
    };
    let error: String = error.chars().take(2_000).collect();
    let update = notification::Entity::update_many()
        .col_expr(notification::Column::Status, Expr::value(status.as_str()))
        .col_expr(
            notification::Column::NextAttemptAt,
            Expr::value(next_attempt_at),
        )
        .col_expr(
            notification::Column::LeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(notification::Column::LastError, Expr::value(Some(error)))
        .filter(still_ours(claimed));
    writer.execute_alone(update.build(writer.backend())).await?;
    Ok(status)
}

// ---- what people see and do -------------------------------------------------------------

/// A project's outbox, newest last, for its PMs and admins.
pub async fn of_project(
    state: &AppState,
    caller: &Caller,
    project_id: Uuid,
    status: Option<NotificationStatus>,
    window: &Window<Uuid>,
) -> ServiceResult<Page<notification::Model>> {
    access::project_for(
        &state.db,
        &caller.actor,
        project_id,
        &["projectId"],
        ProjectOperation::ManagePlan,
    )
    .await?;
    let mut select =
        notification::Entity::find().filter(notification::Column::ProjectId.eq(project_id));
    if let Some(status) = status {
        select = select.filter(notification::Column::Status.eq(status.as_str()));
    }
    Ok(super::page::fetch(&state.db, select, notification::Column::Id, window).await?)
}

/// Sends a DEAD row again: PENDING now, with a fresh count of attempts (its claims go on
/// counting: see `still_ours`).
pub async fn retry(
    state: &AppState,
    caller: &Caller,
    notification_id: Uuid,
) -> ServiceResult<notification::Model> {
    let txn = begin_write(&state.writer).await?;
    let not_found = || Refusal::not_found(&["id"], "notification");
    let row = notification::Entity::find_by_id(notification_id)
        .one(&txn)
        .await?
        .ok_or_else(not_found)?;
    match row.project_id {
        Some(project_id) => {
            access::project_for(
                &txn,
                &caller.actor,
                project_id,
                &["id"],
                ProjectOperation::ManagePlan,
            )
            .await
            .map_err(|error| match error {
                ServiceError::Refused(_) => not_found().into(),
                other => other,
            })?;
        }
        None if caller.actor.admin => {}
        None => return Err(not_found().into()),
    }
    let again = notification::Entity::find_by_id(notification_id);
    let row = current_under_project_lock(&txn, row, again)
        .await?
        .ok_or_else(not_found)?;
    let status: NotificationStatus = row
        .status
        .parse()
        .map_err(|e| ServiceError::Internal(format!("stored status: {e}")))?;
    if status != NotificationStatus::Dead {
        return Err(
            Refusal::invalid_transition(&["id"], status.as_str(), "RETRY", Vec::new()).into(),
        );
    }
    let now = state.clock.now();
    let next = notification::Model {
        status: NotificationStatus::Pending.as_str().to_owned(),
        attempts: 0,
        next_attempt_at: now,
        lease_until: None,
        ..row.clone()
    };
    notification::Entity::update(notification::ActiveModel {
        id: Set(next.id),
        status: Set(next.status.clone()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        ..Default::default()
    })
    .exec(&txn)
    .await?;
    append_in_txn(
        &txn,
        Origin::from(caller),
        now,
        AuditEntry {
            project_id: row.project_id,
            entity_type: "Notification",
            entity_id: row.id,
            action: "notification.retried",
            before: Some(json!({ "status": row.status, "attempts": row.attempts, "lastError": row.last_error })),
            after: Some(json!({ "status": next.status, "attempts": 0 })),
        },
    )
    .await?;
    commit(txn).await?;
    state.outbox_written.notify_one();
    Ok(next)
}

/// A user's delivery preference for every class (IMMEDIATE where they set none).
pub async fn preferences_of(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
) -> ServiceResult<Vec<(NotificationClass, Delivery)>> {
    let stored: BTreeMap<String, String> = notification_preference::Entity::find()
        .filter(notification_preference::Column::UserId.eq(user_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.class, p.delivery))
        .collect();
    Ok(NotificationClass::ALL
        .into_iter()
        .map(|class| {
            let delivery = stored
                .get(class.as_str())
                .and_then(|d| d.parse().ok())
                .unwrap_or(Delivery::Immediate);
            (class, delivery)
        })
        .collect())
}

/// Sets some of a user's preferences; the others keep their value.
pub async fn set_preferences(
    state: &AppState,
    origin: Origin<'_>,
    user_id: Uuid,
    changes: &[(NotificationClass, Delivery)],
) -> ServiceResult<Vec<(NotificationClass, Delivery)>> {
    let classes: BTreeSet<&str> = changes.iter().map(|(c, _)| c.as_str()).collect();
    if classes.len() != changes.len() {
        return Err(Refusal::bad_input(&["preferences"], "name each class at most once").into());
    }
    let txn = begin_write(&state.writer).await?;
    let before = preferences_of(&txn, user_id).await?;
    let now = state.clock.now();
    for (class, delivery) in changes {
        notification_preference::Entity::insert(notification_preference::ActiveModel {
            user_id: Set(user_id),
            class: Set(class.as_str().to_owned()),
            delivery: Set(delivery.as_str().to_owned()),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                notification_preference::Column::UserId,
                notification_preference::Column::Class,
            ])
            .update_columns([
                notification_preference::Column::Delivery,
                notification_preference::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    let after = preferences_of(&txn, user_id).await?;
    let as_json = |prefs: &[(NotificationClass, Delivery)]| {
        prefs
            .iter()
            .map(|(c, d)| (c.as_str().to_owned(), json!(d.as_str())))
            .collect::<serde_json::Map<_, _>>()
    };
    append_in_txn(
        &txn,
        origin,
        now,
        AuditEntry {
            project_id: None,
            entity_type: "User",
            entity_id: user_id,
            action: "user.notification_preferences_updated",
            before: Some(json!(as_json(&before))),
            after: Some(json!(as_json(&after))),
        },
    )
    .await?;
    commit(txn).await?;
    Ok(after)
}

// ---- the scheduler ----------------------------------------------------------------------

/// What one scheduler pass wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedulerPass {
    pub reminders: u64,
    pub digests: u64,
}

/// One pass of the scheduler: expired idempotency keys go, milestone and vote reminders owed
/// today are written, then the daily digests once the digest hour has come. Every server may
/// run it as often as it likes: a reminder is written once per (rule, object, day), recorded
/// in `scheduled_reminder` in the transaction that writes its emails, and the outbox's dedupe
/// keys hold each email to one per recipient besides. A pass reads what today's earlier passes
/// wrote and skips it, so a pass with nothing new to remind writes nothing. So the reminders are
/// held to one per object and day, not per recipient: someone who becomes a recipient later
/// that day (a member added, an owner named) hears of them the next day.
pub async fn run_scheduler(state: &AppState) -> ServiceResult<SchedulerPass> {
    let now = state.clock.now();
    super::idempotency::purge(&state.writer, now).await?;
    let mut today = Reminders::of_day(state, now).await?;
    let morning = now.time()
        >= NaiveTime::from_hms_opt(state.mail.reminders.digest_hour, 0, 0)
            .unwrap_or(NaiveTime::MIN);
    let mut reminders =
        remind_milestones(state, &mut today).await? + remind_votes(state, &mut today).await?;
    // Before the digests, so that a digest of defect news holds the day's report.
    if morning {
        reminders += report_open_defects(state, &mut today).await?;
    }
    if today.marked_any {
        // A pass that records a reminder clears the days before yesterday: a server whose clock
        // is still on yesterday must find that day's records.
        let gone = scheduled_reminder::Entity::delete_many()
            .filter(scheduled_reminder::Column::Day.lt(today.day - chrono::Duration::days(1)));
        state
            .writer
            .execute_alone(gone.build(state.writer.backend()))
            .await?;
    }
    let digests = if morning {
        send_digests(state, now).await?
    } else {
        0
    };
    if reminders + digests > 0 {
        state.outbox_written.notify_one();
    }
    Ok(SchedulerPass { reminders, digests })
}

/// The reminders of one pass: its time, and what today's passes have written so far.
struct Reminders {
    now: DateTime<Utc>,
    /// Today in UTC. A milestone's reminders count its project's days, which are at most a day
    /// from it either way.
    day: NaiveDate,
    /// (rule, object, day) written from yesterday to tomorrow, by this pass or an earlier one.
    written: HashSet<(&'static str, Uuid, NaiveDate)>,
    /// Whether this pass recorded a reminder.
    marked_any: bool,
}

impl Reminders {
    /// The rules a pass writes reminders under.
    const RULES: [&'static str; 4] = [MILESTONE_DUE, MILESTONE_OVERDUE, VOTE_PENDING, OPEN_DEFECTS];

    /// What the passes of the days around today (the days of every time zone) have written,
    /// read in one statement.
    async fn of_day(state: &AppState, now: DateTime<Utc>) -> ServiceResult<Self> {
        let day = now.date_naive();
        let one_day = chrono::Duration::days(1);
        let rows: Vec<(String, Uuid, NaiveDate)> = scheduled_reminder::Entity::find()
            .select_only()
            .column(scheduled_reminder::Column::Rule)
            .column(scheduled_reminder::Column::ObjectId)
            .column(scheduled_reminder::Column::Day)
            .filter(scheduled_reminder::Column::Day.between(day - one_day, day + one_day))
            .into_tuple()
            .all(&state.db)
            .await?;
        let written = rows
            .into_iter()
            .filter_map(|(rule, object, on)| {
                Self::RULES
                    .into_iter()
                    .find(|known| *known == rule)
                    .map(|rule| (rule, object, on))
            })
            .collect();
        Ok(Self {
            now,
            day,
            written,
            marked_any: false,
        })
    }

    fn is_written(&self, rule: &'static str, object: Uuid, day: NaiveDate) -> bool {
        self.written.contains(&(rule, object, day))
    }

    /// Writes the reminder of `event` under `rule` about `object`, once a `day`: records it
    /// and writes its emails in one transaction, or nothing when another server has just
    /// recorded it. Returns how many emails that made.
    async fn write(
        &mut self,
        state: &AppState,
        project_id: Uuid,
        day: NaiveDate,
        rule: &'static str,
        object: Uuid,
        event: DomainEvent,
    ) -> ServiceResult<u64> {
        let txn = begin_write(&state.writer).await?;
        let marker = scheduled_reminder::ActiveModel {
            rule: Set(rule.to_owned()),
            day: Set(day),
            object_id: Set(object),
            written_at: Set(self.now),
        };
        let recorded = scheduled_reminder::Entity::insert(marker)
            .on_conflict(
                OnConflict::columns([
                    scheduled_reminder::Column::Day,
                    scheduled_reminder::Column::Rule,
                    scheduled_reminder::Column::ObjectId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        self.written.insert((rule, object, day));
        if recorded == 0 {
            // Dropped, the transaction rolls back: it wrote nothing.
            return Ok(0);
        }
        self.marked_any = true;
        let written = notify_in_txn(
            &txn,
            &state.mail,
            Origin::SCHEDULER,
            self.now,
            project_id.into(),
            &[event],
            Occurrence::Scheduled { rule, day },
        )
        .await?;
        commit(txn).await?;
        Ok(written)
    }
}

const MILESTONE_DUE: &str = "reminder.milestone_due";
const MILESTONE_OVERDUE: &str = "milestone.overdue";
const VOTE_PENDING: &str = "reminder.vote_pending";
const OPEN_DEFECTS: &str = "defect.open_report";

/// Writes the day's report of the open defects of each project whose UAT runs (DOMAIN
/// §12.8), once a day from the digest hour, about its latest running test cycle; returns how
/// many emails that made.
async fn report_open_defects(state: &AppState, today: &mut Reminders) -> ServiceResult<u64> {
    let running: Vec<(Uuid, Uuid)> = test_cycle::Entity::find()
        .select_only()
        .column(test_cycle::Column::ProjectId)
        .column(test_cycle::Column::Id)
        .filter(test_cycle::Column::Status.eq(CycleStatus::Running.as_str()))
        .filter(
            test_cycle::Column::ProjectId.not_in_subquery(super::project::read_only_project_ids()),
        )
        .order_by_asc(test_cycle::Column::ProjectId)
        .order_by_desc(test_cycle::Column::Id)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut written = 0;
    let mut reported = HashSet::new();
    for (project_id, cycle_id) in running {
        if !reported.insert(project_id) || today.is_written(OPEN_DEFECTS, project_id, today.day) {
            continue;
        }
        let event = DomainEvent::OpenDefectsReportDue { cycle_id };
        written += today
            .write(
                state,
                project_id,
                today.day,
                OPEN_DEFECTS,
                project_id,
                event,
            )
            .await?;
    }
    Ok(written)
}

/// Writes the milestone reminders owed today; returns how many emails that made.
///
/// A milestone's days are its project's, as its health counts them: it is overdue once its
/// forecast date has passed where the project is, not in UTC.
async fn remind_milestones(state: &AppState, today: &mut Reminders) -> ServiceResult<u64> {
    let day = today.day;
    let policy = state.mail.reminders;
    // A day either way: the projects' days are at most that far from UTC's.
    // Each milestone with its project's time zone, in one statement.
    let to_project: RelationDef = milestone::Entity::belongs_to(project::Entity)
        .from(milestone::Column::ProjectId)
        .to(project::Column::Id)
        .into();
    let open: Vec<(Uuid, Uuid, NaiveDate, String)> = milestone::Entity::find()
        .select_only()
        .column(milestone::Column::Id)
        .column(milestone::Column::ProjectId)
        .column(milestone::Column::ForecastDate)
        .column(project::Column::TimeZone)
        .join(JoinType::InnerJoin, to_project)
        .filter(milestone::Column::ActualDate.is_null())
        .filter(milestone::Column::Status.is_not_in([
            MilestoneStatus::Achieved.as_str(),
            MilestoneStatus::Missed.as_str(),
        ]))
        .filter(milestone::Column::ForecastDate.gte(day - chrono::Duration::days(367)))
        .filter(
            milestone::Column::ForecastDate
                .lte(day + chrono::Duration::days(policy.milestone_due_days + 1)),
        )
        // A closed or cancelled project's milestones can no longer be edited: nobody could
        // stop their reminders.
        .filter(
            milestone::Column::ProjectId.not_in_subquery(super::project::read_only_project_ids()),
        )
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut written = 0;
    for (milestone_id, project_id, forecast_date, zone) in open {
        let local_day = super::project::today_in_zone(&zone, today.now);
        let Some(reminder) = milestone_reminder(&policy, forecast_date, local_day) else {
            continue;
        };
        let (rule, event) = match reminder {
            MilestoneReminder::DueSoon => (
                MILESTONE_DUE,
                DomainEvent::MilestoneDueSoon { milestone_id },
            ),
            MilestoneReminder::Overdue { .. } => (
                MILESTONE_OVERDUE,
                DomainEvent::MilestoneOverdue { milestone_id },
            ),
        };
        if !today.is_written(rule, milestone_id, local_day) {
            written += today
                .write(state, project_id, local_day, rule, milestone_id, event)
                .await?;
        }
    }
    Ok(written)
}

/// Writes the vote reminders owed today; returns how many emails that made.
async fn remind_votes(state: &AppState, today: &mut Reminders) -> ServiceResult<u64> {
    let policy = state.mail.reminders;
    let now = today.now;
    let open = decision::Entity::find()
        .filter(decision::Column::Status.eq(DecisionStatus::Open.as_str()))
        .filter(
            decision::Column::OpenedAt
                .lte(now - chrono::Duration::hours(policy.vote_pending_hours)),
        )
        .filter(
            decision::Column::ProjectId.not_in_subquery(super::project::read_only_project_ids()),
        )
        .all(&state.db)
        .await?;
    let mut written = 0;
    for ballot in open {
        if !vote_reminder_due(&policy, ballot.opened_at, now)
            || today.is_written(VOTE_PENDING, ballot.id, today.day)
        {
            continue;
        }
        let event = DomainEvent::VotePending {
            decision_id: ballot.id,
        };
        written += today
            .write(
                state,
                ballot.project_id,
                today.day,
                VOTE_PENDING,
                ballot.id,
                event,
            )
            .await?;
    }
    Ok(written)
}

/// Turns each user's waiting digest items into one email; an empty digest is never sent. The
/// items held by this pass's own reports (stamped `now`) go with them.
async fn send_digests(state: &AppState, now: DateTime<Utc>) -> ServiceResult<u64> {
    let waiting: BTreeSet<Uuid> = digest_item::Entity::find()
        .filter(digest_item::Column::NotificationId.is_null())
        .filter(digest_item::Column::CreatedAt.lte(now))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|item| item.user_id)
        .collect();
    let mut sent = 0;
    for user_id in waiting {
        sent += digest_for(state, &state.mail, now, user_id).await?;
    }
    Ok(sent)
}

/// Drops what digests held for `user_id` of projects they are no longer a member of.
async fn drop_items_of_projects_left(
    txn: &impl ConnectionTrait,
    user_id: Uuid,
) -> ServiceResult<()> {
    let still_a_member = Query::select()
        .column(project_member::Column::ProjectId)
        .from(project_member::Entity)
        .and_where(project_member::Column::UserId.eq(user_id))
        .to_owned();
    digest_item::Entity::delete_many()
        .filter(digest_item::Column::UserId.eq(user_id))
        .filter(digest_item::Column::NotificationId.is_null())
        .filter(digest_item::Column::ProjectId.is_not_null())
        .filter(digest_item::Column::ProjectId.not_in_subquery(still_a_member))
        .exec(txn)
        .await?;
    Ok(())
}

async fn digest_for(
    state: &AppState,
    settings: &MailSettings,
    now: DateTime<Utc>,
    user_id: Uuid,
) -> ServiceResult<u64> {
    let txn = begin_write(&state.writer).await?;
    let Some(person) = user::Entity::find_by_id(user_id).one(&txn).await? else {
        return Ok(0);
    };
    // Someone who has left a project receives no more of its emails: what its events held for
    // them is dropped, in the transaction that would have sent it. Administrators, who hear of
    // what they raised on any project, keep theirs.
    if !person.admin {
        drop_items_of_projects_left(&txn, user_id).await?;
    }
    let items = digest_item::Entity::find()
        .filter(digest_item::Column::UserId.eq(user_id))
        .filter(digest_item::Column::NotificationId.is_null())
        .filter(digest_item::Column::CreatedAt.lte(now))
        .order_by_asc(digest_item::Column::Id)
        .all(&txn)
        .await?;
    if items.is_empty() || !person.active {
        commit(txn).await?;
        return Ok(0);
    }
    let locale: Locale = person.locale.parse().unwrap_or_default();
    let lines: Vec<DigestLine> = items
        .iter()
        .map(|item| DigestLine {
            subject: item.subject.clone(),
            summary: item.summary.clone(),
            link: item.link.clone(),
        })
        .collect();
    // A link for each class the day's lines fall under, so that the reader changes the
    // delivery of what they were reading about.
    let preferences: Vec<(NotificationClass, String)> = NotificationClass::ALL
        .into_iter()
        .filter(|class| {
            items
                .iter()
                .any(|item| NotificationClass::of_kind(&item.kind) == *class)
        })
        .map(|class| (class, settings.preferences_url(user_id, class)))
        .collect();
    let rendered = mail::render_digest(
        locale,
        &Person {
            name: person.name.clone(),
        },
        &lines,
        &preferences,
    )
    .map_err(|e| ServiceError::Internal(format!("render digest: {e}")))?;
    let id = Uuid::now_v7();
    let dedupe_key = format!("{}:{}:{user_id}", mail::DIGEST_KIND, now.date_naive());
    let row = pending_row(
        id,
        &Addressee::from(&person),
        locale,
        dedupe_key,
        rendered,
        now,
    );
    let inserted = insert_all_once(
        &txn,
        vec![notification::ActiveModel {
            kind: Set(mail::DIGEST_KIND.to_owned()),
            ..row
        }],
    )
    .await?;
    if inserted == 0 {
        // Today's digest already went out (another server, or an earlier pass): the items
        // wait for tomorrow's.
        commit(txn).await?;
        return Ok(0);
    }
    digest_item::Entity::update_many()
        .col_expr(digest_item::Column::NotificationId, Expr::value(Some(id)))
        .filter(digest_item::Column::Id.is_in(items.iter().map(|i| i.id)))
        .exec(&txn)
        .await?;
    commit(txn).await?;
    Ok(1)
}

// ---- the shared secret ------------------------------------------------------------------

/// The key that signs links in emails, created by the first server to start and shared by
/// every server after it.
pub async fn link_key(db: &DatabaseConnection) -> ServiceResult<LinkKey> {
    const NAME: &str = "email_link_key";
    let candidate = hex::encode([*Uuid::new_v4().as_bytes(), *Uuid::new_v4().as_bytes()].concat());
    server_secret::Entity::insert(server_secret::ActiveModel {
        name: Set(NAME.to_owned()),
        value: Set(candidate),
    })
    .on_conflict(
        OnConflict::column(server_secret::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    let stored = server_secret::Entity::find_by_id(NAME.to_owned())
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::Internal("the link key vanished".to_owned()))?;
    hex::decode(stored.value)
        .map(|key| LinkKey::new(&key))
        .map_err(|e| ServiceError::Internal(format!("stored link key: {e}")))
}
