//! The outbox writer: turns a command's domain events into emails inside the command's own
//! transaction, so that a change and the news of it commit or roll back together. It reads who
//! the parties are, asks the domain's routing table who must hear and each recipient's
//! preference how, renders the message in the recipient's language, and writes an outbox row
//! (or a digest item). Delivery is the worker's business.

use std::borrow::Cow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, JoinType, QueryFilter,
    QueryResult, QueryTrait, Statement,
};
use sha2::Sha256;
use steerco_entity::{
    change_request, decision, decision_vote, defect, digest_item, go_live_plan, hypercare_metric,
    milestone, notification, notification_preference, phase, project, project_member,
    raci_activity, raci_assignment, scope_signatory, scope_version, test_cycle, user,
};
use uuid::Uuid;

use super::access::stored_roles;
use super::audit::Origin;
use super::sql_once::SqlOnce;
use super::{ServiceError, ServiceResult, WriteTxn};
use crate::domain::change_request::CrStatus;
use crate::domain::decision::DecisionSubject;
use crate::domain::event::DomainEvent;
use crate::domain::notification::{
    Delivery, Member, NotificationClass, NotificationStatus, Parties, ReminderPolicy, Route,
    Urgency, delivery, hears_of_project, recipients, route,
};
use crate::domain::uat::Severity;
use crate::domain::user::Locale;
use crate::mail::{self, Facts, Links, ObjectFacts, OpenDefectFacts, Person, ProjectFacts};
use crate::schema::id::{Kind, encode};

/// What outbound mail needs to know about the deployment.
#[derive(Clone)]
pub struct MailSettings {
    /// The address people reach Steerco at, for links in emails.
    pub public_url: String,
    /// Signs unsubscribe links; shared by every server of a deployment.
    pub link_key: LinkKey,
    pub reminders: ReminderPolicy,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("public_url", &self.public_url)
            .field("reminders", &self.reminders)
            .finish_non_exhaustive()
    }
}

impl MailSettings {
    /// Settings for a single local server: links to localhost and a key of its own.
    pub fn local() -> Self {
        Self {
            public_url: "http://localhost:8080".to_owned(),
            link_key: LinkKey::new(&Uuid::new_v4().as_bytes().repeat(2)),
            reminders: ReminderPolicy::default(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }

    /// The page where a user changes how a class of messages reaches them, and whose POST
    /// unsubscribes in one click (RFC 8058).
    pub fn preferences_url(&self, user_id: Uuid, class: NotificationClass) -> String {
        self.url(&format!(
            "/notifications/preferences?token={}",
            self.link_token(user_id, class)
        ))
    }

    /// A token naming a user and a class, signed so that nobody can forge another's.
    pub fn link_token(&self, user_id: Uuid, class: NotificationClass) -> String {
        let claim = format!("{}.{}", user_id.simple(), class.as_str());
        format!("{claim}.{}", URL_SAFE_NO_PAD.encode(self.sign(&claim)))
    }

    /// The user and class a token names, when its signature holds.
    pub fn verify_link_token(&self, token: &str) -> Option<(Uuid, NotificationClass)> {
        let (claim, signature) = token.rsplit_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let mut mac = self.link_key.mac();
        mac.update(claim.as_bytes());
        mac.verify_slice(&signature).ok()?;
        let (user_id, class) = claim.split_once('.')?;
        Some((Uuid::try_parse(user_id).ok()?, class.parse().ok()?))
    }

    /// `text` with the signed tokens of its links hidden: read by anyone but its recipient (a
    /// PM reading the project's outbox), a token would let them change the recipient's delivery
    /// preferences as the recipient.
    pub fn hide_link_tokens(text: &str) -> Cow<'_, str> {
        const MARK: &str = "?token=";
        const HIDDEN: &str = "hidden";
        if !text.contains(MARK) {
            return Cow::Borrowed(text);
        }
        let mut shown = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(MARK) {
            let (before, after) = rest.split_at(at + MARK.len());
            shown.push_str(before);
            let token_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
                .unwrap_or(after.len());
            if token_len > 0 {
                shown.push_str(HIDDEN);
            }
            rest = &after[token_len..];
        }
        shown.push_str(rest);
        Cow::Owned(shown)
    }

    fn sign(&self, claim: &str) -> Vec<u8> {
        let mut mac = self.link_key.mac();
        mac.update(claim.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// The link to an object, by its global id.
    pub fn object_url(&self, kind: Kind, id: Uuid) -> String {
        self.url(&format!("/objects/{}", encode(kind, id).as_str()))
    }
}

/// The key that signs the links in emails, kept keyed: keying an HMAC hashes the key's two
/// pads, which was half of what signing each link cost, two links an email.
#[derive(Clone)]
pub struct LinkKey(Hmac<Sha256>);

impl LinkKey {
    pub fn new(key: &[u8]) -> Self {
        // An HMAC takes a key of any length, so this cannot fail.
        Self(
            Hmac::new_from_slice(key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts any key length")),
        )
    }

    /// An HMAC ready for a message.
    fn mac(&self) -> Hmac<Sha256> {
        self.0.clone()
    }
}

/// What makes one message unique in the outbox.
#[derive(Debug, Clone, Copy)]
pub enum Occurrence<'a> {
    /// A command's event: unique per event and recipient.
    Event,
    /// A scheduler rule: at most once per rule, object, day and recipient, however many
    /// servers run the scheduler and however often.
    Scheduled { rule: &'a str, day: NaiveDate },
}

/// The project a command's events are about: its id, or its row as the command leaves it,
/// which spares reading it again.
#[derive(Debug, Clone, Copy)]
pub enum About<'a> {
    Id(Uuid),
    Row(&'a project::Model),
}

impl From<Uuid> for About<'_> {
    fn from(id: Uuid) -> Self {
        About::Id(id)
    }
}

impl<'a> From<&'a project::Model> for About<'a> {
    fn from(row: &'a project::Model) -> Self {
        About::Row(row)
    }
}

impl About<'_> {
    pub fn id(self) -> Uuid {
        match self {
            About::Id(id) => id,
            About::Row(row) => row.id,
        }
    }
}

/// What a command's events are about: its project, and the rows the command holds as it
/// leaves them (and the project's team, if it read it first), which spare the outbox writer
/// reading them again.
#[derive(Debug, Clone, Copy)]
pub struct Concerning<'a> {
    pub project: About<'a>,
    /// The defect the events name, if the command holds it.
    pub defect: Option<&'a defect::Model>,
    /// The project's team, if the command read it before its transaction
    /// ([`Directory::of_project`]); otherwise, or if it is another project's, the outbox
    /// writer reads it in the transaction.
    pub(crate) team: Option<&'a Directory>,
}

impl From<Uuid> for Concerning<'_> {
    fn from(id: Uuid) -> Self {
        About::Id(id).into()
    }
}

impl<'a> From<&'a project::Model> for Concerning<'a> {
    fn from(row: &'a project::Model) -> Self {
        About::Row(row).into()
    }
}

impl<'a> From<About<'a>> for Concerning<'a> {
    fn from(project: About<'a>) -> Self {
        Concerning {
            project,
            defect: None,
            team: None,
        }
    }
}

/// Writes the emails (and digest items) `events` call for, in the caller's transaction;
/// returns how many outbox rows it wrote. The emails name `origin`'s actor as who acted.
pub async fn notify_in_txn(
    txn: &impl ConnectionTrait,
    settings: &MailSettings,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    concerning: Concerning<'_>,
    events: &[DomainEvent],
    occurrence: Occurrence<'_>,
) -> ServiceResult<u64> {
    let outbox =
        outbox_rows_in_txn(txn, settings, origin, now, concerning, events, occurrence).await?;
    insert_all_once(txn, outbox).await
}

/// What [`notify_in_txn`] writes, but for the outbox rows, which it returns for the caller to
/// write ([`insert_all_once`]): the digest items are written, the emails rendered.
pub(crate) async fn outbox_rows_in_txn(
    txn: &impl ConnectionTrait,
    settings: &MailSettings,
    origin: Origin<'_>,
    now: DateTime<Utc>,
    concerning: Concerning<'_>,
    events: &[DomainEvent],
    occurrence: Occurrence<'_>,
) -> ServiceResult<Vec<notification::ActiveModel>> {
    let routed: Vec<(&DomainEvent, Route)> = events
        .iter()
        .filter_map(|event| route(event).map(|route| (event, route)))
        .collect();
    if routed.is_empty() {
        return Ok(Vec::new());
    }
    // The milestones the events name, read together: a push that turns a chain red names
    // each milestone it moved.
    let named: Vec<Uuid> = routed
        .iter()
        .filter_map(|(event, _)| milestone_named(event))
        .collect();
    let milestones = if named.is_empty() {
        HashMap::new()
    } else {
        milestone::Entity::find()
            .filter(milestone::Column::Id.is_in(named))
            .all(txn)
            .await?
            .into_iter()
            .map(|row| (row.id, row))
            .collect()
    };
    let project = match concerning.project {
        About::Row(row) => Cow::Borrowed(row),
        About::Id(id) => match project::Entity::find_by_id(id).one(txn).await? {
            Some(row) => Cow::Owned(row),
            None => return Ok(Vec::new()),
        },
    };
    let project_id = project.id;
    let in_hand = InHand {
        project_id,
        defect: concerning.defect,
        milestones: &milestones,
    };
    let mut directory = match concerning.team {
        Some(team) if team.project_id == project_id => Cow::Borrowed(team),
        _ => Cow::Owned(Directory::of_project(txn, project_id).await?),
    };
    // The actor is read only when neither the team nor the caller's token gave their name.
    let unnamed_actor = origin.actor_id.filter(|_| origin.actor_name.is_none());
    // Every immediate email of the command, and every item held for a digest, written at the
    // end a few hundred to a statement.
    let mut outbox: Vec<notification::ActiveModel> = Vec::new();
    let mut held: Vec<digest_item::ActiveModel> = Vec::new();
    for (event, route) in routed {
        let Some(context) = context_of(txn, settings, now, event, &in_hand).await? else {
            continue;
        };
        let parties = Parties {
            members: directory.members.clone(),
            ..context.parties
        };
        let people = recipients(&route, &parties);
        if people.is_empty() {
            continue;
        }
        let others = directory.unknown(people.iter().copied().chain(unnamed_actor));
        if !others.is_empty() {
            directory.to_mut().read_users(txn, others).await?;
        }
        let actor_shown = origin
            .actor_id
            .and_then(|id| directory.users.get(&id))
            .map(|actor| actor.name.as_str())
            .or(origin.actor_name)
            .unwrap_or_default()
            .to_owned();
        let class = route.class();
        let event_key = Uuid::now_v7();
        let (aggregate_type, aggregate_id) = event.aggregate().unwrap_or(("Project", project_id));
        for recipient in people
            .iter()
            .filter_map(|id| directory.users.get(id))
            .filter(|u| u.active && hears_of_project(u.id, &directory.members, u.admin))
        {
            let preference = directory
                .preference(recipient.id, class)
                .unwrap_or(Delivery::Immediate);
            let how = delivery(&route, preference);
            if how == Delivery::Off {
                continue;
            }
            let locale: Locale = recipient.locale.parse().unwrap_or_default();
            let facts = Facts {
                project: ProjectFacts {
                    code: project.code.clone(),
                    name: project.name.clone(),
                },
                actor: Person {
                    name: actor_shown.clone(),
                },
                recipient: Person {
                    name: recipient.name.clone(),
                },
                ..context.facts.clone()
            };
            let preferences = settings.preferences_url(recipient.id, route.class());
            let links = Links {
                object: Some(context.link.clone()),
                unsubscribe: (!route.action_required).then(|| preferences.clone()),
                preferences,
            };
            let rendered = mail::render(locale, route.kind, &facts, route.action_required, &links)
                .map_err(|e| ServiceError::Internal(format!("render {}: {e}", route.kind)))?;
            let dedupe_key = match occurrence {
                Occurrence::Event => format!("event:{event_key}:{}", recipient.id),
                Occurrence::Scheduled { rule, day } => {
                    format!("{rule}:{aggregate_id}:{day}:{}", recipient.id)
                }
            };
            match how {
                Delivery::Immediate => {
                    let row =
                        pending_row(Uuid::now_v7(), recipient, locale, dedupe_key, rendered, now);
                    outbox.push(notification::ActiveModel {
                        project_id: Set(Some(project_id)),
                        kind: Set(route.kind.to_owned()),
                        aggregate_type: Set(aggregate_type.to_owned()),
                        aggregate_id: Set(Some(aggregate_id)),
                        unsubscribe_url: Set(links.unsubscribe),
                        priority: Set(route.urgency.priority()),
                        ..row
                    });
                }
                Delivery::DailyDigest => held.push(digest_item::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    user_id: Set(recipient.id),
                    project_id: Set(Some(project_id)),
                    kind: Set(route.kind.to_owned()),
                    subject: Set(rendered.subject),
                    summary: Set(rendered.summary),
                    link: Set(context.link.clone()),
                    created_at: Set(now),
                    notification_id: Set(None),
                }),
                Delivery::Off => {}
            }
        }
    }
    super::insert_in_batches(txn, held, None).await?;
    Ok(outbox)
}

/// A PENDING outbox row to `recipient`, due `now`, about no project or object, at normal
/// priority; callers set what differs.
pub(crate) fn pending_row(
    id: Uuid,
    recipient: &Addressee,
    locale: Locale,
    dedupe_key: String,
    rendered: mail::Rendered,
    now: DateTime<Utc>,
) -> notification::ActiveModel {
    notification::ActiveModel {
        id: Set(id),
        project_id: Set(None),
        recipient_id: Set(recipient.id),
        recipient_email: Set(recipient.email.clone()),
        locale: Set(locale.as_str().to_owned()),
        kind: Set(String::new()),
        aggregate_type: Set("User".to_owned()),
        aggregate_id: Set(Some(recipient.id)),
        dedupe_key: Set(dedupe_key),
        subject: Set(rendered.subject),
        body_text: Set(rendered.text),
        body_html: Set(rendered.html),
        unsubscribe_url: Set(None),
        priority: Set(Urgency::Normal.priority()),
        status: Set(NotificationStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        claims: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        sent_at: Set(None),
    }
}

/// Inserts outbox rows, each unless one with its dedupe key exists, a few hundred to a
/// statement; returns how many were inserted.
pub(crate) async fn insert_all_once(
    txn: &impl ConnectionTrait,
    rows: Vec<notification::ActiveModel>,
) -> ServiceResult<u64> {
    Ok(super::insert_in_batches(txn, rows, Some(once_per_dedupe_key())).await?)
}

/// An email is queued once per dedupe key: a second row with the key is skipped.
fn once_per_dedupe_key() -> OnConflict {
    OnConflict::column(notification::Column::DedupeKey)
        .do_nothing()
        .to_owned()
}

/// Writes a command's outbox `rows` and commits it, the last of the rows' statements carrying
/// the commit where SQLite's writer allows ([`WriteTxn::commit_with`]).
pub(crate) async fn commit_writing(
    txn: WriteTxn,
    mut rows: Vec<notification::ActiveModel>,
) -> ServiceResult<()> {
    if rows.is_empty() {
        return Ok(txn.commit().await?);
    }
    let last_batch = rows.split_off(super::last_batch_start(rows.len()));
    insert_all_once(&txn, rows).await?;
    let last = notification::Entity::insert_many(last_batch)
        .on_conflict(once_per_dedupe_key())
        .build(txn.get_database_backend());
    Ok(txn.commit_with(last).await?)
}

/// The parties and wording of one event, read from the rows it is about.
struct EventContext {
    parties: Parties,
    facts: Facts,
    link: String,
}

/// The people a command's emails may go to: the project's members with their roles, and every
/// person read so far with their delivery preferences.
///
/// The outbox writer reads a project's team in the command's transaction. A command that leaves
/// the team as it is may read it first, on a reading connection, and hand it over
/// ([`Concerning::team`]), so that SQLite's one writer, at which commands take turns, is not
/// held while the team is read and decoded. Its emails then go to the team as it stood when the
/// command began: a member removed, or a user deactivated, while the command waited for its
/// turn (a few milliseconds under load) may still receive them. `defect_create` does so on
/// SQLite when others hold the writer ([`Writer::is_busy`]). On PostgreSQL the team is read in
/// the transaction: there a command waits only for those holding the same project's locks,
/// and the read spares a connection's checkout.
///
/// [`Writer::is_busy`]: super::writer::Writer::is_busy
#[derive(Debug, Default, Clone)]
pub(crate) struct Directory {
    /// The project whose team this is.
    project_id: Uuid,
    members: Vec<Member>,
    users: BTreeMap<Uuid, Addressee>,
    /// Each user's chosen delivery per notification class; no entry is the default.
    preferences: HashMap<(Uuid, NotificationClass), Delivery>,
}

/// What an email needs of a person: where it goes, in which language, the name it greets, and
/// whether they still receive mail. The directory reads these columns and no others: most
/// commands read their team inside SQLite's write turn, where decoding every column of every
/// member's user row (timestamps, password hashes) cost as much as the statement itself.
#[derive(Debug, Clone)]
pub(crate) struct Addressee {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub locale: String,
    pub active: bool,
    pub admin: bool,
}

impl From<&user::Model> for Addressee {
    fn from(user: &user::Model) -> Self {
        Addressee {
            id: user.id,
            email: user.email.clone(),
            name: user.name.clone(),
            locale: user.locale.clone(),
            active: user.active,
            admin: user.admin,
        }
    }
}

/// Column aliases of the rows [`Directory`] reads. The rows are read by position, in the
/// order the columns are selected; the aliases name them for whoever reads the statement.
const MEMBER_PREFIX: &str = "m_";
const USER_PREFIX: &str = "u_";
const PREFERENCE_PREFIX: &str = "p_";

/// The member's columns a team's rows start with.
const MEMBER_COLUMNS: [project_member::Column; 2] = [
    project_member::Column::UserId,
    project_member::Column::Roles,
];

/// The columns of an [`Addressee`], as `user` holds them, in the order
/// [`Directory::add`] reads them.
const ADDRESSEE_COLUMNS: [user::Column; 6] = [
    user::Column::Id,
    user::Column::Email,
    user::Column::Name,
    user::Column::Locale,
    user::Column::Active,
    user::Column::Admin,
];

/// The columns of a preference, after the addressee's.
const PREFERENCE_COLUMNS: [notification_preference::Column; 2] = [
    notification_preference::Column::Class,
    notification_preference::Column::Delivery,
];

impl Directory {
    /// The members of a project, their users and their preferences, in one statement.
    pub(crate) async fn of_project(
        conn: &impl ConnectionTrait,
        project_id: Uuid,
    ) -> ServiceResult<Self> {
        let rows = conn
            .query_all_raw(team_statement(project_id, conn.get_database_backend()))
            .await?;
        let mut directory = Self {
            project_id,
            ..Self::default()
        };
        for row in rows {
            let user_id: Uuid = row.try_get_by_index(0)?;
            // A member's later rows, one per preference, find them known already.
            if !directory.users.contains_key(&user_id) {
                let roles: String = row.try_get_by_index(1)?;
                directory.members.push(Member {
                    user_id,
                    roles: stored_roles(&roles)?,
                });
            }
            directory.add(&row, MEMBER_COLUMNS.len())?;
        }
        Ok(directory)
    }

    /// Those of `ids` not read yet: people an event names who are no longer members, an
    /// administrator acting on a project.
    fn unknown(&self, ids: impl Iterator<Item = Uuid>) -> BTreeSet<Uuid> {
        ids.filter(|id| !self.users.contains_key(id)).collect()
    }

    /// Reads `others` ([`Directory::unknown`]) in one statement.
    async fn read_users(
        &mut self,
        conn: &impl ConnectionTrait,
        others: BTreeSet<Uuid>,
    ) -> ServiceResult<()> {
        if others.is_empty() {
            return Ok(());
        }
        for row in conn.query_all(&users_query(others)).await? {
            self.add(&row, 0)?;
        }
        Ok(())
    }

    /// Keeps the person and the preference on a row, if any (a member whose user is gone has
    /// neither): the [`ADDRESSEE_COLUMNS`] from position `first` on, then the
    /// [`PREFERENCE_COLUMNS`].
    fn add(&mut self, row: &QueryResult, first: usize) -> ServiceResult<()> {
        let Some(id) = row.try_get_by_index::<Option<Uuid>>(first)? else {
            return Ok(());
        };
        let preference_at = first + ADDRESSEE_COLUMNS.len();
        let class: Option<String> = row.try_get_by_index(preference_at)?;
        let delivery: Option<String> = row.try_get_by_index(preference_at + 1)?;
        if let (Some(class), Some(delivery)) = (class, delivery)
            && let (Ok(class), Ok(delivery)) = (class.parse(), delivery.parse())
        {
            self.preferences.insert((id, class), delivery);
        }
        if let Entry::Vacant(unknown) = self.users.entry(id) {
            unknown.insert(Addressee {
                id,
                email: row.try_get_by_index(first + 1)?,
                name: row.try_get_by_index(first + 2)?,
                locale: row.try_get_by_index(first + 3)?,
                active: row.try_get_by_index(first + 4)?,
                admin: row.try_get_by_index(first + 5)?,
            });
        }
        Ok(())
    }

    /// How `user_id` chose to receive `class`, if they chose.
    fn preference(&self, user_id: Uuid, class: NotificationClass) -> Option<Delivery> {
        self.preferences.get(&(user_id, class)).copied()
    }
}

/// A project's members with their users and preferences ([`Directory::of_project`]), its text
/// built once per backend.
fn team_statement(project_id: Uuid, backend: DbBackend) -> Statement {
    static KEPT: SqlOnce = SqlOnce::new();
    KEPT.statement(
        backend,
        || backend.build(&team_query(project_id)),
        vec![project_id.into()],
    )
}

fn team_query(project_id: Uuid) -> SelectStatement {
    let mut members = Query::select();
    members
        .from(project_member::Entity)
        .and_where(
            Expr::col((project_member::Entity, project_member::Column::ProjectId)).eq(project_id),
        )
        .join(
            JoinType::LeftJoin,
            user::Entity,
            Expr::col((user::Entity, user::Column::Id))
                .equals((project_member::Entity, project_member::Column::UserId)),
        );
    select_prefixed(&mut members, MEMBER_COLUMNS, MEMBER_PREFIX);
    with_preferences(members)
}

/// The users with these ids, with their preferences ([`with_preferences`]).
fn users_query(ids: BTreeSet<Uuid>) -> SelectStatement {
    let mut users = Query::select();
    users
        .from(user::Entity)
        .and_where(Expr::col((user::Entity, user::Column::Id)).is_in(ids));
    with_preferences(users)
}

/// A query that joins `user` (with whatever else it selects), given the user's [`Addressee`]
/// columns under [`USER_PREFIX`] and one of the user's preferences per row, if any, under
/// [`PREFERENCE_PREFIX`].
fn with_preferences(mut users: SelectStatement) -> SelectStatement {
    select_prefixed(&mut users, ADDRESSEE_COLUMNS, USER_PREFIX);
    users.join(
        JoinType::LeftJoin,
        notification_preference::Entity,
        Expr::col((
            notification_preference::Entity,
            notification_preference::Column::UserId,
        ))
        .equals((user::Entity, user::Column::Id)),
    );
    select_prefixed(&mut users, PREFERENCE_COLUMNS, PREFERENCE_PREFIX);
    users
}

/// Selects `columns` of their table, each as `{prefix}{column}`.
fn select_prefixed<C: ColumnTrait>(
    query: &mut SelectStatement,
    columns: impl IntoIterator<Item = C>,
    prefix: &str,
) {
    for column in columns {
        query.expr_as(
            Expr::col((column.entity_name(), column)),
            format!("{prefix}{}", column.as_str()),
        );
    }
}

fn object(code: impl Into<String>, title: impl Into<String>) -> ObjectFacts {
    ObjectFacts {
        code: code.into(),
        title: title.into(),
    }
}

/// Rows that [`context_of`] takes from the command or from one read for all its events,
/// rather than reading them event by event.
struct InHand<'a> {
    /// The project the events are of.
    project_id: Uuid,
    /// The defect the command holds, if any.
    defect: Option<&'a defect::Model>,
    /// Every milestone the events name ([`milestone_named`]), by id.
    milestones: &'a HashMap<Uuid, milestone::Model>,
}

/// The milestone an event is about, for the events whose emails describe one.
fn milestone_named(event: &DomainEvent) -> Option<Uuid> {
    match event {
        DomainEvent::MilestoneHealthChanged { milestone_id, .. }
        | DomainEvent::MilestoneAchieved { milestone_id, .. }
        | DomainEvent::MilestoneOverdue { milestone_id }
        | DomainEvent::MilestoneMissed { milestone_id }
        | DomainEvent::MilestoneDueSoon { milestone_id } => Some(*milestone_id),
        _ => None,
    }
}

async fn context_of(
    conn: &impl ConnectionTrait,
    settings: &MailSettings,
    now: DateTime<Utc>,
    event: &DomainEvent,
    in_hand: &InHand<'_>,
) -> ServiceResult<Option<EventContext>> {
    let mut parties = Parties::default();
    let mut facts = Facts::default();
    let link;
    match event {
        DomainEvent::ChangeRequestStatusChanged {
            change_request_id,
            to,
            ..
        } => {
            let Some(cr) = change_request::Entity::find_by_id(*change_request_id)
                .one(conn)
                .await?
            else {
                return Ok(None);
            };
            parties.requester = Some(cr.requester_id);
            parties.informed = informed_on(conn, &cr).await?;
            let impact = super::change_request::impact_of(&cr)?;
            parties.costed = crate::domain::change_request::cost_moved(&impact).is_some();
            parties.impacted_milestone_owners =
                owners_of_milestones_touched(conn, &cr, &impact).await?;
            if *to == CrStatus::InfoRequested {
                facts.reason.clone_from(&cr.info_request);
            }
            facts.object = object(super::change_request::code_of(&cr), &cr.title);
            link = settings.object_url(Kind::ChangeRequest, cr.id);
        }
        DomainEvent::DecisionOpened { decision_id, .. }
        | DomainEvent::VoteCast { decision_id, .. }
        | DomainEvent::DecisionClosed { decision_id, .. }
        | DomainEvent::VotePending { decision_id } => {
            let Some(ballot) = decision::Entity::find_by_id(*decision_id).one(conn).await? else {
                return Ok(None);
            };
            let eligible = super::decision::eligible_of(&ballot)?;
            let voted: BTreeSet<Uuid> = decision_vote::Entity::find()
                .filter(decision_vote::Column::DecisionId.eq(ballot.id))
                .all(conn)
                .await?
                .into_iter()
                .map(|v| v.voter_id)
                .collect();
            parties.pending_voters = eligible.difference(&voted).copied().collect();
            parties.eligible_voters = eligible.into_iter().collect();
            facts.decision_subject = Some(ballot.subject_type.clone());
            facts.outcome = Some(ballot.outcome.clone().unwrap_or_default());
            facts.hours = Some((now - ballot.opened_at).num_hours());
            let subject: DecisionSubject = ballot
                .subject_type
                .parse()
                .map_err(|e| ServiceError::Internal(format!("stored subject: {e:?}")))?;
            match subject {
                DecisionSubject::ChangeRequest => {
                    if let Some(cr) = change_request::Entity::find_by_id(ballot.subject_id)
                        .one(conn)
                        .await?
                    {
                        parties.requester = Some(cr.requester_id);
                        facts.object = object(super::change_request::code_of(&cr), &cr.title);
                    }
                }
                DecisionSubject::PhaseGate | DecisionSubject::PhaseSkip => {
                    if let Some(phase) = phase::Entity::find_by_id(ballot.subject_id)
                        .one(conn)
                        .await?
                    {
                        facts.object = object("", phase.name);
                    }
                }
                DecisionSubject::GoLive => {
                    if let Some(plan) = go_live_plan::Entity::find_by_id(ballot.subject_id)
                        .one(conn)
                        .await?
                    {
                        facts.object = plan_object(&plan);
                    }
                }
                // A re-baseline has no object of its own: its reason names it.
                DecisionSubject::ScheduleRebaseline => {
                    facts.object = object("", &ballot.note);
                }
            }
            link = settings.object_url(Kind::Decision, ballot.id);
        }
        DomainEvent::ScopeReviewOpened { version_id }
        | DomainEvent::ScopeRejected { version_id, .. }
        | DomainEvent::ScopeBaselined { version_id, .. } => {
            let Some(version) = scope_version::Entity::find_by_id(*version_id)
                .one(conn)
                .await?
            else {
                return Ok(None);
            };
            let signatories = scope_signatory::Entity::find()
                .filter(scope_signatory::Column::ScopeVersionId.eq(version.id))
                .all(conn)
                .await?;
            parties.signatories = signatories
                .into_iter()
                .filter(|s| s.signed_at.is_none())
                .map(|s| s.user_id)
                .collect();
            facts.object = object(format!("v{}", version.number), "");
            link = settings.object_url(Kind::ScopeVersion, version.id);
        }
        DomainEvent::GateRequested { phase_id, .. } | DomainEvent::GateDecided { phase_id, .. } => {
            let Some(phase) = phase::Entity::find_by_id(*phase_id).one(conn).await? else {
                return Ok(None);
            };
            if let DomainEvent::GateDecided { outcome, .. } = event {
                facts.outcome = Some(outcome.map(|o| o.as_str().to_owned()).unwrap_or_default());
            }
            parties.phase_owner = phase.owner_id;
            facts.object = object("", phase.name);
            link = settings.object_url(Kind::Phase, phase.id);
        }
        DomainEvent::DefectLogged { defect_id, .. }
        | DomainEvent::DefectEscalated { defect_id }
        | DomainEvent::DefectAssigned { defect_id, .. }
        | DomainEvent::DefectReadyForRetest { defect_id }
        | DomainEvent::DefectReopened { defect_id } => {
            let found = match in_hand.defect.filter(|row| row.id == *defect_id) {
                Some(row) => Cow::Borrowed(row),
                None => match defect::Entity::find_by_id(*defect_id).one(conn).await? {
                    Some(row) => Cow::Owned(row),
                    None => return Ok(None),
                },
            };
            parties.defect_assignee = found.assignee_id;
            parties.defect_reporter = Some(found.reporter_id);
            facts.severity = found.severity.clone();
            facts.object = object(super::uat::key_of(&found), &found.title);
            link = settings.object_url(Kind::Defect, found.id);
        }
        DomainEvent::ProjectStatusChanged { reason, .. } => {
            facts.reason.clone_from(reason);
            link = settings.object_url(Kind::Project, in_hand.project_id);
        }
        DomainEvent::TestCycleStatusChanged { cycle_id, .. }
        | DomainEvent::OpenDefectsReportDue { cycle_id } => {
            let Some(cycle) = test_cycle::Entity::find_by_id(*cycle_id).one(conn).await? else {
                return Ok(None);
            };
            if let DomainEvent::OpenDefectsReportDue { .. } = event {
                let counts = super::uat::open_defect_counts_in(conn, &[cycle.project_id]).await?;
                facts.open_defects =
                    Some(open_defect_facts(&super::uat::open_by_severity(&counts)));
            }
            facts.object = object("", cycle.name);
            link = settings.object_url(Kind::TestCycle, cycle.id);
        }
        DomainEvent::GoLiveStatusChanged { plan_id, .. }
        | DomainEvent::RollbackStarted { plan_id, .. } => {
            let Some(plan) = go_live_plan::Entity::find_by_id(*plan_id).one(conn).await? else {
                return Ok(None);
            };
            if let DomainEvent::RollbackStarted { forced, .. } = event {
                facts.forced = Some(*forced);
            }
            facts.object = plan_object(&plan);
            link = settings.object_url(Kind::GoLivePlan, plan.id);
        }
        DomainEvent::HypercareMetricBreached { metric_id } => {
            let Some(metric) = hypercare_metric::Entity::find_by_id(*metric_id)
                .one(conn)
                .await?
            else {
                return Ok(None);
            };
            if let Some(plan) = go_live_plan::Entity::find_by_id(metric.plan_id)
                .one(conn)
                .await?
            {
                parties.war_room = super::go_live::war_room_of(&plan)
                    .into_iter()
                    .map(|seat| seat.user_id)
                    .collect();
            }
            facts.object = object("", &metric.name);
            link = settings.object_url(Kind::GoLivePlan, metric.plan_id);
        }
        DomainEvent::MilestoneHealthChanged { milestone_id, .. }
        | DomainEvent::MilestoneAchieved { milestone_id, .. }
        | DomainEvent::MilestoneOverdue { milestone_id }
        | DomainEvent::MilestoneMissed { milestone_id }
        | DomainEvent::MilestoneDueSoon { milestone_id } => {
            let Some(found) = in_hand.milestones.get(milestone_id) else {
                return Ok(None);
            };
            parties.milestone_owner = found.owner_id;
            if let DomainEvent::MilestoneHealthChanged { to, .. } = event {
                facts.health = Some(to.as_str().to_owned());
            }
            let today = now.date_naive();
            // An achieved milestone's date is the day it was reached.
            facts.due_date = Some(found.actual_date.unwrap_or(found.forecast_date).to_string());
            facts.days = Some((found.forecast_date - today).num_days().abs());
            facts.object = object("", &found.name);
            link = settings.object_url(Kind::Milestone, found.id);
        }
        _ => return Ok(None),
    }
    Ok(Some(EventContext {
        parties,
        facts,
        link,
    }))
}

/// The counts of [`super::uat::open_by_severity`] as an email tells them.
fn open_defect_facts(by_severity: &[(Option<Severity>, u32)]) -> OpenDefectFacts {
    let mut facts = OpenDefectFacts::default();
    for (severity, count) in by_severity {
        let slot = match severity {
            Some(Severity::Critical) => &mut facts.critical,
            Some(Severity::Major) => &mut facts.major,
            Some(Severity::Minor) => &mut facts.minor,
            Some(Severity::Trivial) => &mut facts.trivial,
            None => &mut facts.ungraded,
        };
        *slot = slot.saturating_add(*count);
        facts.total = facts.total.saturating_add(*count);
    }
    facts
}

fn plan_object(plan: &go_live_plan::Model) -> ObjectFacts {
    object(
        "",
        plan.planned_go_live
            .format("%Y-%m-%d %H:%M UTC")
            .to_string(),
    )
}

/// The owners of the milestones a change request, of `impact`, shifts or links.
async fn owners_of_milestones_touched(
    conn: &impl ConnectionTrait,
    cr: &change_request::Model,
    impact: &crate::domain::change_request::Impact,
) -> ServiceResult<Vec<Uuid>> {
    let shifted = impact
        .schedule
        .iter()
        .flat_map(|schedule| &schedule.milestone_shifts)
        .map(|shift| shift.milestone_id);
    let touched: BTreeSet<Uuid> = super::change_request::links_of(cr)?
        .milestone_ids
        .into_iter()
        .chain(shifted)
        .collect();
    if touched.is_empty() {
        return Ok(Vec::new());
    }
    Ok(milestone::Entity::find()
        .filter(milestone::Column::ProjectId.eq(cr.project_id))
        .filter(milestone::Column::Id.is_in(touched))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|m| m.owner_id)
        .collect())
}

/// The members Informed (RACI I) on the activities a change request touches: those of the
/// phase it names and of the phases of the milestones it links.
async fn informed_on(
    conn: &impl ConnectionTrait,
    cr: &change_request::Model,
) -> ServiceResult<Vec<Uuid>> {
    let links = super::change_request::links_of(cr)?;
    let mut phases: BTreeSet<Uuid> = links.phase_id.into_iter().collect();
    if !links.milestone_ids.is_empty() {
        phases.extend(
            milestone::Entity::find()
                .filter(milestone::Column::Id.is_in(links.milestone_ids.iter().copied()))
                .all(conn)
                .await?
                .into_iter()
                .map(|m| m.phase_id),
        );
    }
    if phases.is_empty() {
        return Ok(Vec::new());
    }
    let activities: Vec<Uuid> = raci_activity::Entity::find()
        .filter(raci_activity::Column::ProjectId.eq(cr.project_id))
        .filter(raci_activity::Column::PhaseId.is_in(phases))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    Ok(raci_assignment::Entity::find()
        .filter(raci_assignment::Column::ActivityId.is_in(activities))
        .filter(raci_assignment::Column::Letter.eq("I"))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| a.user_id)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_tokens_are_hidden_and_the_rest_kept() {
        let settings = MailSettings::local();
        let user = Uuid::now_v7();
        let link = settings.preferences_url(user, NotificationClass::Decision);
        let text = format!("Vote here.\nManage: {link}\n<a href=\"{link}\">x</a> end");
        let shown = MailSettings::hide_link_tokens(&text);
        assert!(!shown.contains(&settings.link_token(user, NotificationClass::Decision)));
        assert_eq!(
            shown,
            "Vote here.\nManage: http://localhost:8080/notifications/preferences?token=hidden\n\
             <a href=\"http://localhost:8080/notifications/preferences?token=hidden\">x</a> end"
        );
        assert!(matches!(
            MailSettings::hide_link_tokens("no links"),
            Cow::Borrowed("no links")
        ));
        assert_eq!(MailSettings::hide_link_tokens("?token="), "?token=");
    }

    #[test]
    fn the_kept_team_statement_is_the_one_sea_query_builds_for_each_project() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            for _ in 0..3 {
                let project_id = Uuid::now_v7();
                assert_eq!(
                    team_statement(project_id, backend),
                    backend.build(&team_query(project_id))
                );
            }
        }
    }

    /// The aliases a statement selects, in order.
    fn aliases(query: &SelectStatement) -> Vec<String> {
        let sql = query.to_string(sea_orm::sea_query::SqliteQueryBuilder);
        sql.split(" AS \"")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
            .collect()
    }

    #[test]
    fn the_directorys_rows_hold_its_columns_where_it_reads_them() {
        let addressee_and_preference = [
            "u_id",
            "u_email",
            "u_name",
            "u_locale",
            "u_active",
            "u_admin",
            "p_class",
            "p_delivery",
        ];
        let team = aliases(&team_query(Uuid::now_v7()));
        assert_eq!(team[..MEMBER_COLUMNS.len()], ["m_user_id", "m_roles"]);
        assert_eq!(team[MEMBER_COLUMNS.len()..], addressee_and_preference);
        let others = aliases(&users_query(BTreeSet::from([Uuid::now_v7()])));
        assert_eq!(others, addressee_and_preference);
    }

    #[test]
    fn link_tokens_name_their_user_and_class_and_cannot_be_forged() {
        let settings = MailSettings::local();
        let user = Uuid::now_v7();
        let token = settings.link_token(user, NotificationClass::Defect);
        assert_eq!(
            settings.verify_link_token(&token),
            Some((user, NotificationClass::Defect))
        );
        let other = token.replacen("DEFECT", "SCOPE", 1);
        assert_eq!(settings.verify_link_token(&other), None);
        assert_eq!(MailSettings::local().verify_link_token(&token), None);
        assert_eq!(settings.verify_link_token("garbage"), None);
    }

    #[test]
    fn servers_sharing_a_link_key_verify_each_others_tokens_and_sign_alike() {
        let key = Uuid::now_v7().as_bytes().repeat(2);
        let server = |key: &[u8]| MailSettings {
            link_key: LinkKey::new(key),
            ..MailSettings::local()
        };
        let (one, another) = (server(&key), server(&key));
        let user = Uuid::now_v7();
        let token = one.link_token(user, NotificationClass::Defect);
        // The same claim signs the same each time: the kept key is not consumed by a signature.
        assert_eq!(one.link_token(user, NotificationClass::Defect), token);
        assert_eq!(another.link_token(user, NotificationClass::Defect), token);
        assert_eq!(
            another.verify_link_token(&token),
            Some((user, NotificationClass::Defect))
        );
        assert_eq!(server(&key[1..]).verify_link_token(&token), None);
    }
}
