//! Email notifications as the API shows them: a project's outbox for its PMs, retrying a dead
//! email, each user's delivery preferences, and the `projectEvents` subscription that streams
//! the same domain events live.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, SimpleObject, Subscription, futures_util::Stream,
};
use chrono::{DateTime, Utc};
use futures_util::stream;
use steerco_entity::notification;
use tokio::sync::broadcast::error::RecvError;

use super::SubscriberToken;
use super::context::{actor, caller, state};
use super::error::{Payload, UserError, payload, respond, to_top_level};
use super::id::{GlobalId, Kind, decode, decode_any, encode, encode_named};
use super::idempotency::IdempotencyKeyArg;
use super::page::{Conn, PageArgs, connection};
use super::user::User;
use crate::domain::notification::{
    Delivery as DomainDelivery, NotificationClass as DomainClass,
    NotificationStatus as DomainStatus,
};
use crate::domain::{Refusal, Refusals};
use crate::service::{self, ProjectEvent};

/// Where an email stands in the outbox.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::notification::NotificationStatus")]
pub enum NotificationStatus {
    /// Waiting for its next attempt.
    Pending,
    /// Claimed by a worker, being sent.
    Sending,
    Sent,
    /// Refused for good or out of attempts; `notificationRetry` sends it again.
    Dead,
}

/// The groups of emails a user sets a delivery preference for.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::notification::NotificationClass")]
pub enum NotificationClass {
    ChangeRequest,
    /// Ballots of every subject and reminders of votes still due.
    Decision,
    Scope,
    PhaseGate,
    /// UAT: defects, and test cycles started and signed off.
    Defect,
    GoLive,
    /// Milestone health, overdue and due-soon reminders.
    Milestone,
    /// The project's own lifecycle: initiated, in execution, on hold, resumed, cancelled, closed.
    Project,
}

/// How a class of emails reaches a user.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "crate::domain::notification::Delivery")]
pub enum Delivery {
    /// One email per event, as it happens.
    Immediate,
    /// Collected into one email a day; an empty digest is never sent. Emails that ask you to
    /// act and urgent news still come at once.
    DailyDigest,
    /// Not sent. Emails that ask you to act (vote, sign, fix, retest) and urgent news still come.
    Off,
}

/// One email in the outbox.
#[derive(Clone, Debug)]
pub struct Notification(pub notification::Model);

#[Object]
impl Notification {
    pub async fn id(&self) -> GlobalId {
        GlobalId(Kind::Notification, self.0.id)
    }
    /// The message kind, e.g. `change_request.submitted`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn recipient(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        Ok(super::loader::user(ctx, self.0.recipient_id)
            .await?
            .map(User))
    }
    async fn recipient_email(&self) -> &str {
        &self.0.recipient_email
    }
    /// `en` or `zh-CN`: the recipient's language when it was written.
    async fn locale(&self) -> &str {
        &self.0.locale
    }
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// The text as mailed, its links' signed tokens hidden: they act as the recipient.
    async fn body_text(&self) -> String {
        service::notify::MailSettings::hide_link_tokens(&self.0.body_text).into_owned()
    }
    /// The type of the object it is about (`ChangeRequest`, `Defect`, ...).
    async fn aggregate_type(&self) -> &str {
        &self.0.aggregate_type
    }
    /// The global id of the object it is about.
    async fn aggregate_id(&self) -> Option<ID> {
        encode_named(&self.0.aggregate_type, self.0.aggregate_id?)
    }
    /// 0 critical (sent before anything else), 1 urgent, 2 normal.
    async fn priority(&self) -> i32 {
        i32::from(self.0.priority)
    }
    async fn status(&self) -> NotificationStatus {
        self.0
            .status
            .parse::<DomainStatus>()
            .unwrap_or(DomainStatus::Pending)
            .into()
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn next_attempt_at(&self) -> DateTime<Utc> {
        self.0.next_attempt_at
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
}

/// A user's delivery preference for one class.
#[derive(SimpleObject, Clone, Debug)]
pub struct NotificationPreference {
    pub class: NotificationClass,
    pub delivery: Delivery,
}

fn preference_views(prefs: Vec<(DomainClass, DomainDelivery)>) -> Vec<NotificationPreference> {
    prefs
        .into_iter()
        .map(|(class, delivery)| NotificationPreference {
            class: class.into(),
            delivery: delivery.into(),
        })
        .collect()
}

/// The viewer's preferences (see `User.notificationPreferences`).
pub async fn preferences_of(
    ctx: &Context<'_>,
    user_id: uuid::Uuid,
) -> async_graphql::Result<Vec<NotificationPreference>> {
    let prefs = service::outbox::preferences_of(&state(ctx).db, user_id)
        .await
        .map_err(|e| to_top_level(ctx, e))?;
    Ok(preference_views(prefs))
}

#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// A project's outbox, oldest first: for its project managers and admins. Null when the
    /// project does not exist or is not visible.
    #[graphql(complexity = "super::page::cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
        status: Option<NotificationStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Option<Conn<Notification>>> {
        let caller = caller(ctx)?;
        let window = PageArgs {
            first,
            after,
            last,
            before,
        }
        .window()?;
        let Ok(project_id) = decode(&project_id, Kind::Project, &["projectId"]) else {
            return Ok(None);
        };
        let result = service::outbox::of_project(
            state(ctx),
            &caller,
            project_id,
            status.map(Into::into),
            &window,
        )
        .await;
        match result {
            Ok(page) => Ok(Some(connection(page, |n| n.id, Notification))),
            Err(service::ServiceError::Refused(_)) => Ok(None),
            Err(error) => Err(to_top_level(ctx, error)),
        }
    }
}

#[derive(InputObject)]
pub struct NotificationRetryInput {
    /// A DEAD notification.
    pub id: ID,
}

payload!(NotificationRetryPayload {
    notification: Notification
});

#[derive(InputObject)]
pub struct NotificationPreferenceInput {
    pub class: NotificationClass,
    pub delivery: Delivery,
}

#[derive(InputObject)]
pub struct NotificationPreferencesUpdateInput {
    /// The classes to change, each at most once; the others keep their setting.
    pub preferences: Vec<NotificationPreferenceInput>,
}

/// The signed-in user's preferences after the change, every class included.
#[derive(SimpleObject)]
pub struct NotificationPreferencesUpdatePayload {
    pub preferences: Option<Vec<NotificationPreference>>,
    pub user_errors: Vec<UserError>,
}

impl Payload for NotificationPreferencesUpdatePayload {
    type Value = Vec<(DomainClass, DomainDelivery)>;
    fn ok(value: Self::Value) -> Self {
        Self {
            preferences: Some(preference_views(value)),
            user_errors: Vec::new(),
        }
    }
    fn refused(user_errors: Vec<UserError>) -> Self {
        Self {
            preferences: None,
            user_errors,
        }
    }
}

#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Sends a DEAD notification again (PM of its project, or an admin).
    async fn notification_retry(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: NotificationRetryInput,
    ) -> async_graphql::Result<NotificationRetryPayload> {
        let caller = caller(ctx)?;
        let result = match decode(&input.id, Kind::Notification, &["id"]) {
            Ok(id) => service::outbox::retry(state(ctx), &caller, id)
                .await
                .map(Notification),
            Err(refusal) => Err(refusal.into()),
        };
        respond(ctx, result)
    }

    /// Changes how classes of email reach the signed-in user.
    async fn notification_preferences_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "idempotencyKey")] _idempotency_key: Option<IdempotencyKeyArg>,
        input: NotificationPreferencesUpdateInput,
    ) -> async_graphql::Result<NotificationPreferencesUpdatePayload> {
        let caller = caller(ctx)?;
        let mut refusals = Refusals::default();
        if input.preferences.is_empty() || input.preferences.len() > DomainClass::ALL.len() {
            refusals.push(Refusal::bad_input(
                &["preferences"],
                format!("name between 1 and {} classes", DomainClass::ALL.len()),
            ));
        }
        let changes: Vec<(DomainClass, DomainDelivery)> = input
            .preferences
            .into_iter()
            .map(|p| (p.class.into(), p.delivery.into()))
            .collect();
        let result = match refusals.finish() {
            Ok(()) => {
                service::outbox::set_preferences(
                    state(ctx),
                    (&caller).into(),
                    caller.actor.user_id,
                    &changes,
                )
                .await
            }
            Err(refusals) => Err(refusals.into()),
        };
        respond(ctx, result)
    }
}

/// A domain event of a project, as it is committed.
#[derive(SimpleObject, Clone, Debug)]
pub struct ProjectEventMessage {
    /// The event kind, e.g. `change_request.status_changed`.
    pub kind: String,
    pub project_id: ID,
    /// The type of the object it is about; null for the project itself.
    pub subject_type: Option<String>,
    /// The global id of the object it is about.
    pub subject_id: Option<ID>,
    pub occurred_at: DateTime<Utc>,
}

impl From<&ProjectEvent> for ProjectEventMessage {
    fn from(event: &ProjectEvent) -> Self {
        let subject = event.event.aggregate();
        Self {
            kind: event.event.kind().to_owned(),
            project_id: encode(Kind::Project, event.project_id),
            subject_type: subject.map(|(kind, _)| kind.to_owned()),
            subject_id: subject.and_then(|(name, id)| encode_named(name, id)),
            occurred_at: event.occurred_at,
        }
    }
}

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The domain events of a project the caller can see, as each commits (on this server).
    async fn project_events(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = ProjectEventMessage> + use<>> {
        let viewer = actor(ctx)?;
        let app = state(ctx);
        let visible = match decode_any(&project_id) {
            Some((Kind::Project, id)) => service::access::visible_project(&app.db, viewer, id)
                .await
                .map_err(|e| to_top_level(ctx, e))?
                .map(|p| p.id),
            _ => None,
        };
        let Some(project_id) = visible else {
            return Err(to_top_level(
                ctx,
                Refusal::not_found(&["projectId"], "project").into(),
            ));
        };
        let receiver = app.events.subscribe();
        let watcher = Watcher {
            state: app.clone(),
            token: ctx
                .data_opt::<SubscriberToken>()
                .map(|token| token.0.clone()),
            viewer: viewer.clone(),
            project_id,
        };
        Ok(stream::unfold(receiver, move |mut receiver| {
            let watcher = watcher.clone();
            async move {
                loop {
                    match receiver.recv().await {
                        Ok(event) if event.project_id == project_id => {
                            if !watcher.still_allowed().await {
                                // The stream ends: the client hears `complete`.
                                return None;
                            }
                            return Some((ProjectEventMessage::from(&event), receiver));
                        }
                        // A slow subscriber skips what it missed rather than stall the server.
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        }))
    }
}

/// Who watches a project's events, checked again before each event is delivered.
#[derive(Clone)]
struct Watcher {
    state: service::AppState,
    token: Option<String>,
    viewer: service::Actor,
    project_id: uuid::Uuid,
}

impl Watcher {
    /// Whether the subscriber may still see the project: their token (when they signed in
    /// with one) still valid and still theirs, and the project still visible to them.
    async fn still_allowed(&self) -> bool {
        let viewer = match &self.token {
            Some(token) => match service::token::authenticate(&self.state, token).await {
                Ok(Some(actor)) if actor.user_id == self.viewer.user_id => actor,
                _ => return false,
            },
            None => self.viewer.clone(),
        };
        matches!(
            service::access::visible_project(&self.state.db, &viewer, self.project_id).await,
            Ok(Some(_))
        )
    }
}
