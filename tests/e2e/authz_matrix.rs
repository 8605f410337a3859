//! Every operation against every role, as the README permission table says.
//!
//! [`table`] restates the `## Permissions` table of the README row by row: for every root field
//! of `graphql/schema.graphql` (one row per action where the README splits an operation by
//! action, one per README-named field of `project` and `me`), the outcome for the admin, the
//! PROJECT_MANAGER, the SPONSOR, each other project role, a non-member and a request without a
//! token. [`the_matrix_covers_every_root_field_and_names_only_readme_operations`] keeps the
//! table in step with the schema and the README.
//!
//! One fixture serves the whole table: a project with one member per project role (and a second
//! committee member who is not a caller, so that a ballot keeps a voter when the committee
//! caller is recused), an admin and a user who are not members, and the objects the operations
//! act on. The rules that depend on the object ("owner only", "requester", "if named", ...)
//! name one member as that person (the constants under [`Who`]), so that each rule is seen from
//! that person and from everyone else.
//!
//! A call is allowed when it passed authorization: an answer, or user errors about the object's
//! state or the input. The refusals are a top-level `UNAUTHENTICATED` or `FORBIDDEN`, "not
//! found" (`null` from queries, a `NOT_FOUND` user error from mutations), and the `NOT_ELIGIBLE`
//! and `FORBIDDEN_SEPARATION_OF_DUTIES` user errors of ballots, delegations, signatures and
//! rollbacks.
//! Refused calls go first, and must leave the row counts of `TestApp::snapshot` as they were
//! (every write appends to the audit trail, which it counts). Each allowed caller of an
//! operation that uses up its object (a removal, a versioned edit, a transition checked against
//! the state before the caller) gets an object of their own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use steerco_entity::notification;
use steerco_graphql::domain::clock::Clock;
use steerco_graphql::domain::role::ProjectRole;
use steerco_graphql::schema::id::{Kind, encode};
use steerco_graphql::service::user::NewUser;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{TestApp, TestUser};

// ---- who calls ------------------------------------------------------------------------------

/// A caller: one member per project role, the admin (a member of one fixture project only, where
/// "admins included only as such" is checked), a user who is not a member, and a request
/// without a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Admin,
    Pm,
    Sponsor,
    Committee,
    BusinessRep,
    ItRep,
    FinanceRep,
    Qa,
    SuperUser,
    Vendor,
    Viewer,
    Outsider,
    Anonymous,
}

impl Who {
    const ALL: [Who; 13] = [
        Who::Admin,
        Who::Pm,
        Who::Sponsor,
        Who::Committee,
        Who::BusinessRep,
        Who::ItRep,
        Who::FinanceRep,
        Who::Qa,
        Who::SuperUser,
        Who::Vendor,
        Who::Viewer,
        Who::Outsider,
        Who::Anonymous,
    ];

    /// The one project role of a member caller.
    fn role(self) -> Option<&'static str> {
        match self {
            Who::Pm => Some("PROJECT_MANAGER"),
            Who::Sponsor => Some("SPONSOR"),
            Who::Committee => Some("STEERING_COMMITTEE"),
            Who::BusinessRep => Some("BUSINESS_REP"),
            Who::ItRep => Some("IT_REP"),
            Who::FinanceRep => Some("FINANCE_REP"),
            Who::Qa => Some("QA"),
            Who::SuperUser => Some("SUPER_USER"),
            Who::Vendor => Some("VENDOR"),
            Who::Viewer => Some("VIEWER"),
            Who::Admin | Who::Outsider | Who::Anonymous => None,
        }
    }

    /// The README column that speaks for the caller: admin, PROJECT_MANAGER, SPONSOR, any
    /// other member, non-member. `None` for a request without a token, which the paragraph
    /// above the table covers.
    fn column(self) -> Option<usize> {
        match self {
            Who::Admin => Some(0),
            Who::Pm => Some(1),
            Who::Sponsor => Some(2),
            Who::Outsider => Some(4),
            Who::Anonymous => None,
            _ => Some(3),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Who::Admin => "admin",
            Who::Outsider => "non-member",
            Who::Anonymous => "no token",
            member => member.role().unwrap_or_default(),
        }
    }

    /// For names and codes that must differ from one caller to the next.
    fn slug(self) -> String {
        self.label().to_lowercase().replace(['_', ' '], "-")
    }
}

/// "Owner only" of a milestone: the fixture's milestones belong to the sponsor.
const MILESTONE_OWNER: Who = Who::Sponsor;
/// "Owner only" of a gate condition: the committee names QA in its conditions.
const CONDITION_OWNER: Who = Who::Qa;
/// "Requester": who raises the fixture's change requests.
const REQUESTER: Who = Who::BusinessRep;
/// Who assesses every change request's impact, and so is recused from its ballot.
const ASSESSOR: Who = Who::Pm;
/// The member the committee caller lends their vote to.
const DELEGATE: Who = Who::Viewer;
/// "If named": the signatories of the fixture's scope versions, whatever their roles.
const SIGNATORIES: &[Who] = &[Who::Sponsor, Who::BusinessRep, Who::Vendor];
/// "Reporter" of the fixture's defects.
const REPORTER: Who = Who::Sponsor;
/// "Assignee" of the fixture's defects.
const ASSIGNEE: Who = Who::Vendor;
/// "Owner only" of a manual go/no-go criterion.
const CRITERION_OWNER: Who = Who::FinanceRep;
/// "Owner only" of a runbook task.
const TASK_OWNER: Who = Who::Vendor;
/// "If an authority": the rollback plan's decision authority.
const AUTHORITY: Who = Who::ItRep;
/// "If in the War Room": the member with a seat on the roster.
const WAR_ROOM: Who = Who::SuperUser;

// ---- what the README promises ---------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Passed authorization: an answer, or user errors about the state or the input.
    Allowed,
    /// A top-level `FORBIDDEN`.
    Forbidden,
    /// The project does not exist for the caller: `null` from a query, `NOT_FOUND` from a
    /// mutation.
    NotFound,
    /// A `NOT_ELIGIBLE` user error.
    NotEligible,
    /// A `FORBIDDEN_SEPARATION_OF_DUTIES` user error.
    Recused,
    /// A top-level `UNAUTHENTICATED`.
    Unauthenticated,
    /// Anything else: another top-level error, no answer at all.
    Unexpected,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Allowed => "allowed",
            Outcome::Forbidden => "FORBIDDEN",
            Outcome::NotFound => "not found",
            Outcome::NotEligible => "NOT_ELIGIBLE",
            Outcome::Recused => "FORBIDDEN_SEPARATION_OF_DUTIES",
            Outcome::Unauthenticated => "UNAUTHENTICATED",
            Outcome::Unexpected => "an unexpected answer",
        })
    }
}

/// One cell of the README table.
#[derive(Debug, Clone, Copy)]
enum Cell {
    /// ✓
    Y,
    /// —, a top-level `FORBIDDEN`.
    N,
    /// "not found".
    NF,
    /// Only these callers; anyone else in the column gets `FORBIDDEN` ("owner only",
    /// "requester", "QA, BUSINESS_REP, SUPER_USER", ...).
    Only(&'static [Who]),
    /// Only these callers; anyone else gets `NOT_ELIGIBLE` ("if eligible", "if named", ...).
    Eligible(&'static [Who]),
    /// Anyone but these, who get `FORBIDDEN` ("✓ except a VIEWER-only member").
    Except(&'static [Who]),
    /// A CHANGE_REQUEST ballot: the recused get `FORBIDDEN_SEPARATION_OF_DUTIES`, the voters
    /// may vote, anyone else gets `NOT_ELIGIBLE`.
    Ballot {
        recused: &'static [Who],
        voters: &'static [Who],
    },
}

impl Cell {
    fn expect(self, who: Who) -> Outcome {
        let among = |callers: &[Who]| callers.contains(&who);
        match self {
            Cell::Y => Outcome::Allowed,
            Cell::N => Outcome::Forbidden,
            Cell::NF => Outcome::NotFound,
            Cell::Only(callers) if among(callers) => Outcome::Allowed,
            Cell::Only(_) => Outcome::Forbidden,
            Cell::Eligible(callers) if among(callers) => Outcome::Allowed,
            Cell::Eligible(_) => Outcome::NotEligible,
            Cell::Except(callers) if among(callers) => Outcome::Forbidden,
            Cell::Except(_) => Outcome::Allowed,
            Cell::Ballot { recused, .. } if among(recused) => Outcome::Recused,
            Cell::Ballot { voters, .. } if among(voters) => Outcome::Allowed,
            Cell::Ballot { .. } => Outcome::NotEligible,
        }
    }
}

/// ✓ for everyone, members or not.
const EVERYONE: [Cell; 5] = [Cell::Y, Cell::Y, Cell::Y, Cell::Y, Cell::Y];
/// ✓ for the admin and every member; the project does not exist for anyone else.
const MEMBERS: [Cell; 5] = [Cell::Y, Cell::Y, Cell::Y, Cell::Y, Cell::NF];
/// The admin and the PROJECT_MANAGER.
const MANAGERS: [Cell; 5] = [Cell::Y, Cell::Y, Cell::N, Cell::N, Cell::NF];
/// "✓ ✓ — QA, BUSINESS_REP, SUPER_USER": the people who run UAT.
const TESTERS: [Cell; 5] = [
    Cell::Y,
    Cell::Y,
    Cell::N,
    Cell::Only(&[Who::Qa, Who::BusinessRep, Who::SuperUser]),
    Cell::NF,
];
/// "✓ ✓ ✓ ✓ except a VIEWER-only member": raising and commenting.
const RAISERS: [Cell; 5] = [
    Cell::Y,
    Cell::Y,
    Cell::Y,
    Cell::Except(&[Who::Viewer]),
    Cell::NF,
];
/// "if eligible" in every member column: the committee members when the ballot opened.
const COMMITTEE_VOTES: [Cell; 5] = [
    Cell::Eligible(&[Who::Committee]),
    Cell::Eligible(&[Who::Committee]),
    Cell::Eligible(&[Who::Committee]),
    Cell::Eligible(&[Who::Committee]),
    Cell::NF,
];
/// The admin, the PROJECT_MANAGER and QA: triaging defects.
const TRIAGERS: [Cell; 5] = [Cell::Y, Cell::Y, Cell::N, Cell::Only(&[Who::Qa]), Cell::NF];

/// "owner only", "requester", "assignee", ... in both the SPONSOR and the other members'
/// column, after ✓ for the admin and the PROJECT_MANAGER.
const fn managers_or(person: &'static [Who]) -> [Cell; 5] {
    [
        Cell::Y,
        Cell::Y,
        Cell::Only(person),
        Cell::Only(person),
        Cell::NF,
    ]
}

/// "if eligible and not recused, or their delegate": the requester and the assessor are
/// recused, the committee member votes.
const CR_BALLOT: Cell = Cell::Ballot {
    recused: &[REQUESTER, ASSESSOR],
    voters: &[Who::Committee],
};
/// The committee member raised the change: recused with the assessor; only the second
/// committee member, who is not a caller, may vote.
const OWN_CHANGE_BALLOT: Cell = Cell::Ballot {
    recused: &[Who::Committee, ASSESSOR],
    voters: &[],
};
/// Voting `onBehalfOf` the committee member: their delegate, or the member themself.
const PROXY_VOTE: Cell = Cell::Eligible(&[Who::Committee, DELEGATE]);
/// "✓ | reporter | reporter | QA, BUSINESS_REP, reporter": judging a fix.
const RETESTERS: [Cell; 5] = [
    Cell::Y,
    Cell::Only(&[REPORTER]),
    Cell::Only(&[REPORTER]),
    Cell::Only(&[Who::Qa, Who::BusinessRep, REPORTER]),
    Cell::NF,
];

// ---- the table ------------------------------------------------------------------------------

/// Builds the input or the variables of a call.
type Build = fn(&Ctx) -> Value;

/// What a call may use to build its request.
struct Ctx<'a> {
    w: &'a World,
    /// What the row's [`Setup`] made.
    o: &'a Value,
    who: Who,
    case: &'a str,
}

impl Ctx<'_> {
    /// The action a case names: its first word (`DEFER of a MINOR defect` is a `DEFER`).
    fn action(&self) -> &str {
        self.case.split_whitespace().next().unwrap_or_default()
    }

    /// A name no other caller's call uses.
    fn unique(&self, what: &str) -> String {
        format!("{what} by {}", self.who.slug())
    }
}

/// How a query's answer shows whether the caller sees the project.
#[derive(Debug, Clone, Copy)]
enum Seen {
    /// The root field is not null.
    Answer,
    /// `projects` lists the fixture's project.
    MainProjectListed,
    /// `nodes` returns every object asked for; it is refused when it returns none.
    EveryNode,
    /// The PM's RACI letters, as the caller sees them, include the fixture project's.
    PmLetters,
}

enum Call {
    Query {
        doc: String,
        vars: Build,
        seen: Seen,
    },
    /// `op(input: …)`: the input type comes from the schema.
    Mutation { input: Build },
    /// Over the WebSocket.
    Subscription,
}

struct Row {
    /// The root field called.
    op: &'static str,
    /// How the README's permission table names the operation.
    name: &'static str,
    /// Which case of the operation: the action, the object, the state.
    case: &'static str,
    /// The README cells: admin, PROJECT_MANAGER, SPONSOR, any other member, non-member.
    cells: [Cell; 5],
    /// Without a token.
    no_token: Outcome,
    call: Call,
    setup: Setup,
    /// Each allowed caller gets objects of their own.
    fresh: bool,
}

fn query(op: &'static str, cells: [Cell; 5], doc: &str, vars: Build) -> Row {
    Row {
        op,
        name: op,
        case: "",
        cells,
        no_token: Outcome::Unauthenticated,
        call: Call::Query {
            doc: doc.to_owned(),
            vars,
            seen: Seen::Answer,
        },
        setup: Setup::Standing,
        fresh: false,
    }
}

/// A README-named field of the fixture's project: the project's visibility rules it.
fn project_field(name: &'static str, selection: &str) -> Row {
    query(
        "project",
        MEMBERS,
        &format!("query($p: ID!) {{ project(id: $p) {{ id {selection} }} }}"),
        main_project,
    )
    .named(name)
}

/// An object of the fixture fetched by `node`.
fn node(kind: &'static str, id: Build) -> Row {
    query(
        "node",
        MEMBERS,
        "query($id: ID!) { node(id: $id) { id } }",
        id,
    )
    .case(kind)
}

fn mutation(op: &'static str, cells: [Cell; 5], input: Build) -> Row {
    Row {
        call: Call::Mutation { input },
        ..query(op, cells, "", no_vars)
    }
}

impl Row {
    fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    fn case(mut self, case: &'static str) -> Self {
        self.case = case;
        self
    }

    fn on(mut self, setup: Setup) -> Self {
        self.setup = setup;
        self
    }

    /// Each allowed caller gets the setup's objects anew.
    fn fresh(mut self) -> Self {
        self.fresh = true;
        self
    }

    fn seen(mut self, seen: Seen) -> Self {
        if let Call::Query { seen: rule, .. } = &mut self.call {
            *rule = seen;
        }
        self
    }

    fn without_token(mut self, outcome: Outcome) -> Self {
        self.no_token = outcome;
        self
    }

    fn expect(&self, who: Who) -> Outcome {
        match who.column() {
            Some(column) => self.cells[column].expect(who),
            None => self.no_token,
        }
    }

    fn title(&self) -> String {
        let mut title = self.op.to_owned();
        if self.name != self.op {
            title = format!("{title} `{}`", self.name);
        }
        if !self.case.is_empty() {
            title = format!("{title} ({})", self.case);
        }
        title
    }
}

fn no_vars(_: &Ctx) -> Value {
    json!({})
}

fn main_project(c: &Ctx) -> Value {
    json!({ "p": c.w.project })
}

fn project_move(c: &Ctx) -> Value {
    json!({ "id": c.o["project"], "action": c.action(), "reason": "Matrix check" })
}

fn cr_move(c: &Ctx) -> Value {
    json!({ "id": c.o["cr"], "action": c.action(), "note": "Matrix check" })
}

fn cr_edit(c: &Ctx) -> Value {
    json!({ "id": c.o["cr"], "expectedVersion": c.o["version"], "title": c.unique("Edited") })
}

fn vote(c: &Ctx) -> Value {
    json!({ "decisionId": c.o["decision"], "choice": "APPROVE" })
}

/// A vote in the committee member's seat.
fn proxy_vote(c: &Ctx) -> Value {
    json!({ "decisionId": c.o["decision"], "choice": "APPROVE", "onBehalfOf": c.w.id(Who::Committee) })
}

fn cycle_move(c: &Ctx) -> Value {
    json!({ "id": c.o["cycle"], "action": c.action() })
}

fn defect_move(c: &Ctx) -> Value {
    let mut input = json!({ "id": c.o["defect"], "action": c.action() });
    match c.action() {
        "ASSIGN" => input["assigneeId"] = json!(c.w.id(ASSIGNEE)),
        "REJECT" => input["rejectReason"] = json!("WORKS_AS_DESIGNED"),
        "DEFER" | "REOPEN" => input["reason"] = json!("Matrix check"),
        _ => {}
    }
    input
}

fn defect_grade(c: &Ctx) -> Value {
    json!({ "id": c.o["defect"], "expectedVersion": c.o["version"], "priority": "P1" })
}

fn plan_move(c: &Ctx) -> Value {
    let mut input = json!({ "planId": c.o["plan"], "action": c.action() });
    if matches!(c.action(), "RESCHEDULE" | "REPLAN") {
        input["newGoLive"] = json!("2027-04-04T00:00:00Z");
    }
    input
}

/// The README permission table, row by row (each README row is quoted above its rows).
fn table() -> Vec<Row> {
    use Cell::{Eligible, N, NF, Only, Y};
    vec![
        // | `me`, `me.pendingVotes`, `pendingVotes`, `apiTokenCreate`, `apiTokenRevoke` (own
        // tokens) | ✓ | ✓ | ✓ | ✓ | ✓ |
        query("me", EVERYONE, "{ me { id } }", no_vars),
        query("me", EVERYONE, "{ me { pendingVotes { id } } }", no_vars).named("me.pendingVotes"),
        query("pendingVotes", EVERYONE, "{ pendingVotes { id } }", no_vars),
        mutation("apiTokenCreate", EVERYONE, |_| json!({ "name": "matrix" })),
        mutation("apiTokenRevoke", EVERYONE, |c| json!({ "id": c.w.spare_token(c.who) }))
            .case("own token"),
        // "Everything except `GET /health`, GraphiQL and `sessionCreate` needs a bearer token."
        // Sign-ins are limited per email address, so each caller tries an address of its own;
        // only the administrator's exists, and gives the row its plain success.
        mutation("sessionCreate", EVERYONE, |c| {
            let email = if c.who == Who::Admin {
                PASSWORD_USER_EMAIL.to_owned()
            } else {
                format!("matrix.password.{}@example.com", c.who.slug())
            };
            json!({ "email": email, "password": PASSWORD })
        })
        .without_token(Outcome::Allowed),
        // | `userCreate` | ✓ | — | — | — | — |
        mutation("userCreate", [Y, N, N, N, N], |c| {
            json!({ "email": format!("made.by.{}@example.com", c.who.slug()), "name": "Made Here" })
        }),
        // | `projectCreate` (creator becomes PROJECT_MANAGER) | ✓ | ✓ | ✓ | ✓ | ✓ |
        mutation("projectCreate", EVERYONE, |c| {
            json!({ "code": format!("NEW-{}", c.who.slug().to_uppercase()), "name": "Proposed", "template": null })
        }),
        // | `project`, `projects`, `node`, `auditEvents`, `auditChainVerify` | ✓ | ✓ | ✓ | ✓ |
        // not found |
        query("project", MEMBERS, "query($p: ID!) { project(id: $p) { id } }", main_project)
            .case("by id"),
        query(
            "project",
            MEMBERS,
            "query($c: String!) { project(code: $c) { id } }",
            |_| json!({ "c": MAIN_CODE }),
        )
        .case("by code"),
        query(
            "projects",
            MEMBERS,
            "query($c: String!) { projects(filter: { search: $c }) { edges { node { id } } } }",
            |_| json!({ "c": MAIN_CODE }),
        )
        .seen(Seen::MainProjectListed),
        node("Project", |c| json!({ "id": c.w.project })),
        node("ProjectMember", |c| json!({ "id": c.w.pm_member })),
        node("Phase", |c| json!({ "id": c.w.phase })),
        node("ExitCriterion", |c| json!({ "id": c.w.criterion })),
        node("Milestone", |c| json!({ "id": c.w.milestone })),
        node("Decision", |c| json!({ "id": c.o["decision"] })).on(Setup::SkipBallot),
        node("RaciActivity", |c| json!({ "id": c.w.activity })),
        node("ScopeVersion", |c| json!({ "id": c.w.scope })),
        // `nodes` is not in the table; it answers like `node` for each of its ids.
        query(
            "nodes",
            MEMBERS,
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            |c| json!({ "ids": c.w.standing_ids() }),
        )
        .seen(Seen::EveryNode),
        query(
            "auditEvents",
            MEMBERS,
            "query($p: ID!) { auditEvents(projectId: $p) { totalCount } }",
            main_project,
        ),
        query(
            "auditChainVerify",
            MEMBERS,
            "query($p: ID!) { auditChainVerify(projectId: $p) { valid } }",
            main_project,
        ),
        // | `projectUpdate` | ✓ | ✓ | — | — | not found |
        mutation("projectUpdate", MANAGERS, |c| {
            json!({ "id": c.w.project, "expectedVersion": c.o["version"], "description": c.unique("Edited") })
        })
        .on(Setup::ProjectVersion)
        .fresh(),
        // | `projectTransition`: INITIATE, HOLD, RESUME, CANCEL, CLOSE | ✓ | ✓ | ✓ | — |
        // not found |
        mutation("projectTransition", [Y, Y, Y, N, NF], project_move)
            .case("INITIATE")
            .on(Setup::Project(&[])),
        mutation("projectTransition", [Y, Y, Y, N, NF], project_move)
            .case("HOLD")
            .on(Setup::Project(&["INITIATE", "START_EXECUTION"])),
        mutation("projectTransition", [Y, Y, Y, N, NF], project_move)
            .case("RESUME")
            .on(Setup::Project(&["INITIATE", "START_EXECUTION", "HOLD"])),
        mutation("projectTransition", [Y, Y, Y, N, NF], project_move)
            .case("CANCEL")
            .on(Setup::Project(&["INITIATE"])),
        // A project reaches OPTIMIZATION through its go-live plan (GO_LIVE, then
        // CLOSE_HYPERCARE), never by `projectTransition`.
        mutation("projectTransition", [Y, Y, Y, N, NF], project_move)
            .case("CLOSE")
            .on(Setup::Plan(PlanState::Closed)),
        // | `projectTransition`: START_EXECUTION | ✓ | ✓ | — | — | not found |
        mutation("projectTransition", MANAGERS, project_move)
            .case("START_EXECUTION")
            .on(Setup::Project(&["INITIATE"])),
        // | `projectMemberAdd`, `projectMemberUpdate`, `projectMemberRemove` | ✓ | ✓ | — | — |
        // not found |
        mutation("projectMemberAdd", MANAGERS, |c| {
            json!({ "projectId": c.w.project, "userId": c.o["user"], "roles": ["VIEWER"] })
        })
        .on(Setup::Stranger)
        .fresh(),
        mutation("projectMemberUpdate", MANAGERS, |c| {
            json!({ "id": c.o["member"], "expectedVersion": c.o["version"], "roles": ["VENDOR"] })
        })
        .on(Setup::ExtraMember)
        .fresh(),
        mutation("projectMemberRemove", MANAGERS, |c| json!({ "id": c.o["member"] }))
            .on(Setup::ExtraMember)
            .fresh(),
        // | `phaseTemplates` | ✓ | ✓ | ✓ | ✓ | ✓ |
        query("phaseTemplates", EVERYONE, "{ phaseTemplates { key } }", no_vars),
        // | `phases`, `milestones`, `milestoneDependencies`, `scheduleHealth`,
        // `scheduleBaselines`, `decisions` of a project, `baselineCompare` | ✓ | ✓ | ✓ | ✓ |
        // not found |
        project_field("phases", "phases { id }"),
        project_field("milestones", "milestones { totalCount }"),
        project_field("milestoneDependencies", "milestoneDependencies { id }"),
        project_field("scheduleHealth", "scheduleHealth { green }"),
        project_field("scheduleBaselines", "scheduleBaselines { id }"),
        project_field("decisions", "decisions { id }"),
        query(
            "baselineCompare",
            MEMBERS,
            "query($b: ID!) { baselineCompare(fromId: $b, toId: $b) { varianceDays } }",
            |c| json!({ "b": c.o["baseline"] }),
        )
        .on(Setup::Baseline),
        // | `phaseCreate`, `phaseUpdate`, `phaseReorder`, `phaseRemove`, `phaseStart`,
        // `phaseGateRequest`, `phaseSkipRequest`, `exitCriterionAdd`, `exitCriterionSet`,
        // `deliverableAdd`, `deliverableUpdate`, `milestoneCreate`, `milestoneUpdate`,
        // `milestoneDependencyAdd`, `milestoneDependencyRemove`, `scheduleBaselineCreate` | ✓ |
        // ✓ | — | — | not found |
        mutation("phaseCreate", MANAGERS, |c| {
            json!({ "projectId": c.w.project, "name": c.unique("Phase") })
        }),
        mutation("phaseUpdate", MANAGERS, |c| {
            json!({ "id": c.o["phase"], "expectedVersion": c.o["version"], "name": c.unique("Renamed") })
        })
        .on(Setup::NewPhase)
        .fresh(),
        mutation("phaseReorder", MANAGERS, |c| {
            json!({ "projectId": c.w.project, "phaseIds": c.o["reversed"] })
        })
        .on(Setup::PhaseOrder),
        mutation("phaseRemove", MANAGERS, |c| json!({ "phaseId": c.o["phase"] }))
            .on(Setup::NewPhase)
            .fresh(),
        mutation("phaseStart", MANAGERS, |c| json!({ "phaseId": c.o["phase"] }))
            .on(Setup::OnlyPhase { started: false }),
        mutation("phaseGateRequest", MANAGERS, |c| {
            json!({ "phaseId": c.o["phase"], "note": "Ready" })
        })
        .on(Setup::OnlyPhase { started: true }),
        mutation("phaseSkipRequest", MANAGERS, |c| {
            json!({ "phaseId": c.o["phase"], "reason": "Reused from the pilot" })
        })
        .on(Setup::OnlyPhase { started: false }),
        mutation("exitCriterionAdd", MANAGERS, |c| {
            json!({ "phaseId": c.w.phase, "text": c.unique("Criterion") })
        }),
        mutation("exitCriterionSet", MANAGERS, |c| {
            json!({ "id": c.w.criterion, "status": "MET", "evidenceUrl": "https://wiki.example.com/x" })
        }),
        mutation("deliverableAdd", MANAGERS, |c| {
            json!({ "phaseId": c.w.phase, "name": c.unique("Deliverable") })
        }),
        mutation("deliverableUpdate", MANAGERS, |c| {
            json!({ "id": c.o["deliverable"], "expectedVersion": c.o["version"], "status": "IN_REVIEW" })
        })
        .on(Setup::NewDeliverable)
        .fresh(),
        mutation("milestoneCreate", MANAGERS, |c| {
            json!({ "phaseId": c.w.phase, "name": c.unique("Milestone"), "baselineDate": "2027-06-01" })
        }),
        mutation("milestoneUpdate", MANAGERS, |c| {
            json!({ "id": c.o["milestone"], "expectedVersion": c.o["version"], "forecastDate": "2027-06-15" })
        })
        .on(Setup::NewMilestone)
        .fresh(),
        mutation("milestoneDependencyAdd", MANAGERS, |c| {
            json!({ "predecessorId": c.o["first"], "successorId": c.o["second"], "lagDays": 0 })
        })
        .on(Setup::TwoMilestones)
        .fresh(),
        mutation("milestoneDependencyRemove", MANAGERS, |c| {
            json!({ "id": c.o["dependency"] })
        })
        .on(Setup::Dependency)
        .fresh(),
        mutation("scheduleBaselineCreate", MANAGERS, |c| {
            json!({ "projectId": c.o["project"], "reason": "Plan agreed" })
        })
        .on(Setup::Project(&[])),
        // | `milestoneTransition` | ✓ | ✓ | owner only | owner only | not found |
        mutation(
            "milestoneTransition",
            managers_or(&[MILESTONE_OWNER]),
            |c| json!({ "id": c.o["milestone"], "action": c.action() }),
        )
        .case("START")
        .on(Setup::NewMilestone)
        .fresh(),
        // | `gateConditionClose` | ✓ | ✓ | owner only | owner only | not found |
        mutation(
            "gateConditionClose",
            managers_or(&[CONDITION_OWNER]),
            |c| json!({ "id": c.o["condition"] }),
        )
        .on(Setup::GateCondition)
        .fresh(),
        // | `decisionVoteCast` | if eligible | if eligible | if eligible | if eligible | not
        // found |
        mutation("decisionVoteCast", COMMITTEE_VOTES, vote)
            .case("PHASE_SKIP ballot")
            .on(Setup::SkipBallot),
        // "(or a delegate in one's seat, with `onBehalfOf`)"
        mutation(
            "decisionVoteCast",
            [PROXY_VOTE, PROXY_VOTE, PROXY_VOTE, PROXY_VOTE, NF],
            proxy_vote,
        )
        .case("PHASE_SKIP ballot, in the committee member's seat")
        .on(Setup::SkipBallot)
        .fresh(),
        // "An admin votes only by being on the committee."
        mutation(
            "decisionVoteCast",
            [
                Eligible(&[Who::Admin]),
                Eligible(&[Who::Committee]),
                Eligible(&[Who::Committee]),
                Eligible(&[Who::Committee]),
                NF,
            ],
            vote,
        )
        .case("PHASE_SKIP ballot, the admin on the committee")
        .on(Setup::AdminOnCommittee)
        .fresh(),
        // "the committee votes on a GO_LIVE ballot like on any other"
        mutation("decisionVoteCast", COMMITTEE_VOTES, |c| {
            json!({ "decisionId": c.o["decision"], "choice": "GO" })
        })
        .case("GO_LIVE ballot")
        .on(Setup::Plan(PlanState::Ready)),
        // | `raciMatrix`, `raci`, `scope` and `scopeVersions` of a project, `scopeDiff`,
        // `me.raci` | ✓ | ✓ | ✓ | ✓ | not found |
        query(
            "raciMatrix",
            MEMBERS,
            "query($p: ID!) { raciMatrix(projectId: $p) { valid } }",
            main_project,
        ),
        query(
            "raci",
            MEMBERS,
            "query($a: ID!) { raci(activityId: $a) { id } }",
            |c| json!({ "a": c.w.activity }),
        ),
        project_field("scope", "scope { id }"),
        project_field("scopeVersions", "scopeVersions { id }"),
        query(
            "scopeDiff",
            MEMBERS,
            "query($v: ID!) { scopeDiff(fromId: $v, toId: $v) { change } }",
            |c| json!({ "v": c.w.scope }),
        ),
        // "`me.raci` lists letters in the projects the caller can see": read through the PM's
        // user, who holds a letter here and is also a member of a project of the non-member's,
        // so that everyone sees the PM and only the project's visibility decides.
        query(
            "node",
            MEMBERS,
            "query($u: ID!) { node(id: $u) { ... on User { raci { activityName } } } }",
            |c| json!({ "u": c.w.id(Who::Pm) }),
        )
        .named("me.raci")
        .case("the PM's letters")
        .seen(Seen::PmLetters),
        // | `raciSeed`, `raciActivityAdd`, `raciActivityUpdate`, `raciActivityRemove`,
        // `raciAssign`, `raciUnassign`, `scopeDraftCreate`, `scopeDraftUpdate`,
        // `scopeReviewSubmit` | ✓ | ✓ | — | — | not found |
        mutation("raciSeed", MANAGERS, |c| json!({ "projectId": c.o["project"] }))
            .on(Setup::Project(&[])),
        mutation("raciActivityAdd", MANAGERS, |c| {
            json!({ "projectId": c.w.project, "name": c.unique("Activity") })
        }),
        mutation("raciActivityUpdate", MANAGERS, |c| {
            json!({ "id": c.o["activity"], "expectedVersion": c.o["version"], "name": c.unique("Renamed") })
        })
        .on(Setup::NewActivity)
        .fresh(),
        mutation("raciActivityRemove", MANAGERS, |c| json!({ "id": c.o["activity"] }))
            .on(Setup::NewActivity)
            .fresh(),
        mutation("raciAssign", MANAGERS, |c| {
            json!({ "activityId": c.o["activity"], "userId": c.w.id(Who::Qa), "letter": "RESPONSIBLE" })
        })
        .on(Setup::NewActivity)
        .fresh(),
        mutation("raciUnassign", MANAGERS, |c| {
            json!({ "activityId": c.o["activity"], "userId": c.w.id(Who::Qa) })
        })
        .on(Setup::Assignment)
        .fresh(),
        mutation("scopeDraftCreate", MANAGERS, |c| {
            json!({ "projectId": c.o["project"] })
        })
        .on(Setup::Project(&[])),
        mutation("scopeDraftUpdate", MANAGERS, |c| {
            let mut input = scope_document();
            input["id"] = c.o["scope"].clone();
            input["expectedVersion"] = c.o["version"].clone();
            input
        })
        .on(Setup::ScopeDraft)
        .fresh(),
        mutation("scopeReviewSubmit", MANAGERS, |c| {
            json!({ "id": c.o["scope"], "expectedVersion": c.o["version"], "signatoryIds": c.w.signatory_ids() })
        })
        .on(Setup::ScopeReady),
        // | `scopeSign`, `scopeReject` | if named | if named | if named | if named | not found |
        mutation(
            "scopeSign",
            [
                Eligible(SIGNATORIES),
                Eligible(SIGNATORIES),
                Eligible(SIGNATORIES),
                Eligible(SIGNATORIES),
                NF,
            ],
            |c| json!({ "id": c.o["scope"] }),
        )
        .on(Setup::ScopeInReview),
        mutation(
            "scopeReject",
            [
                Eligible(SIGNATORIES),
                Eligible(SIGNATORIES),
                Eligible(SIGNATORIES),
                Eligible(SIGNATORIES),
                NF,
            ],
            |c| json!({ "id": c.o["scope"], "comment": "Service tickets are missing" }),
        )
        .on(Setup::ScopeInReview)
        .fresh(),
        // | `changeRequests`, `changeSummary`, `costBaselines`, `redLine` of a project, a
        // `ChangeRequest` by `node` | ✓ | ✓ | ✓ | ✓ | not found |
        project_field("changeRequests", "changeRequests { totalCount }"),
        project_field("changeSummary", "changeSummary { approvedCost }"),
        project_field("costBaselines", "costBaselines { number }"),
        project_field("redLine", "redLine { scheduleDays }"),
        node("ChangeRequest", |c| json!({ "id": c.w.cr })),
        // | `changeRequestCreate`, `changeRequestComment` | ✓ | ✓ | ✓ | ✓ except a VIEWER-only
        // member | not found |
        mutation("changeRequestCreate", RAISERS, |c| {
            json!({ "projectId": c.w.project, "title": c.unique("Change"), "justification": "Sales asked for it",
                    "category": "SCOPE", "priority": "MUST" })
        }),
        mutation("changeRequestComment", RAISERS, |c| {
            json!({ "id": c.w.cr, "body": "Worth it" })
        }),
        // | `changeRequestUpdate` | ✓ until the decision | ✓ until the decision | requester, in
        // DRAFT or INFO_REQUESTED | requester, in DRAFT or INFO_REQUESTED | not found |
        mutation("changeRequestUpdate", managers_or(&[REQUESTER]), cr_edit)
            .case("in DRAFT")
            .on(Setup::ChangeRequest(REQUESTER, CrState::Draft))
            .fresh(),
        mutation("changeRequestUpdate", managers_or(&[REQUESTER]), cr_edit)
            .case("in INFO_REQUESTED")
            .on(Setup::ChangeRequest(REQUESTER, CrState::InfoRequested))
            .fresh(),
        mutation("changeRequestUpdate", MANAGERS, cr_edit)
            .case("in UNDER_ASSESSMENT, no longer the requester's")
            .on(Setup::ChangeRequest(REQUESTER, CrState::UnderAssessment))
            .fresh(),
        // | `changeRequestAssess` | ✓ | ✓ | — | — | not found |
        mutation("changeRequestAssess", MANAGERS, |c| {
            let mut input = small_impact();
            input["id"] = c.o["cr"].clone();
            input["expectedVersion"] = c.o["version"].clone();
            input
        })
        .on(Setup::ChangeRequest(REQUESTER, CrState::UnderAssessment))
        .fresh(),
        // | `changeRequestTransition`: SUBMIT, PROVIDE_INFO | requester | requester | requester
        // | requester | not found |
        mutation(
            "changeRequestTransition",
            [
                Only(&[REQUESTER]),
                Only(&[REQUESTER]),
                Only(&[REQUESTER]),
                Only(&[REQUESTER]),
                NF,
            ],
            cr_move,
        )
        .case("SUBMIT")
        .on(Setup::ChangeRequest(REQUESTER, CrState::Draft))
        .fresh(),
        mutation(
            "changeRequestTransition",
            [
                Only(&[REQUESTER]),
                Only(&[REQUESTER]),
                Only(&[REQUESTER]),
                Only(&[REQUESTER]),
                NF,
            ],
            cr_move,
        )
        .case("PROVIDE_INFO")
        .on(Setup::ChangeRequest(REQUESTER, CrState::InfoRequested))
        .fresh(),
        // | `changeRequestTransition`: RESUBMIT, WITHDRAW | ✓ | ✓ | requester | requester | not
        // found |
        mutation("changeRequestTransition", managers_or(&[REQUESTER]), cr_move)
            .case("RESUBMIT")
            .on(Setup::ChangeRequest(REQUESTER, CrState::Deferred))
            .fresh(),
        mutation("changeRequestTransition", managers_or(&[REQUESTER]), cr_move)
            .case("WITHDRAW")
            .on(Setup::ChangeRequest(REQUESTER, CrState::Submitted))
            .fresh(),
        // | `changeRequestTransition`: START_ASSESSMENT, REQUEST_INFO, REQUEST_DECISION,
        // START_IMPLEMENTATION, COMPLETE_IMPLEMENTATION, CLOSE | ✓ | ✓ | — | — | not found |
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("START_ASSESSMENT")
            .on(Setup::ChangeRequest(REQUESTER, CrState::Submitted))
            .fresh(),
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("REQUEST_INFO")
            .on(Setup::ChangeRequest(REQUESTER, CrState::UnderAssessment))
            .fresh(),
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("REQUEST_DECISION")
            .on(Setup::ChangeRequest(REQUESTER, CrState::Assessed))
            .fresh(),
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("START_IMPLEMENTATION")
            .on(Setup::ChangeRequest(REQUESTER, CrState::Approved))
            .fresh(),
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("COMPLETE_IMPLEMENTATION")
            .on(Setup::ChangeRequest(REQUESTER, CrState::InImplementation))
            .fresh(),
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("CLOSE")
            .on(Setup::ChangeRequest(REQUESTER, CrState::Implemented))
            .fresh(),
        // | `changeRequestTransition`: APPROVE, REJECT, DEFER | below the red line | below the
        // red line | — | — | not found |
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("APPROVE below the red line")
            .on(Setup::ChangeRequest(REQUESTER, CrState::AwaitingDecision))
            .fresh(),
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("REJECT below the red line")
            .on(Setup::ChangeRequest(REQUESTER, CrState::AwaitingDecision))
            .fresh(),
        mutation("changeRequestTransition", MANAGERS, cr_move)
            .case("DEFER below the red line")
            .on(Setup::ChangeRequest(REQUESTER, CrState::AwaitingDecision))
            .fresh(),
        // | `voteDelegationCreate` | if on the committee | if on the committee | if on the
        // committee | if on the committee | not found |
        mutation("voteDelegationCreate", COMMITTEE_VOTES, |c| {
            json!({ "projectId": c.o["project"], "delegateId": c.w.id(Who::FinanceRep),
                    "startsOn": "2027-03-01", "endsOn": "2027-03-31" })
        })
        .on(Setup::Project(&[])),
        // "an active STEERING_COMMITTEE member, admins included only as such"
        mutation(
            "voteDelegationCreate",
            [
                Eligible(&[Who::Admin]),
                Eligible(&[Who::Committee]),
                Eligible(&[Who::Committee]),
                Eligible(&[Who::Committee]),
                NF,
            ],
            |c| {
                json!({ "projectId": c.o["project"], "delegateId": c.w.id(Who::FinanceRep),
                        "startsOn": "2027-03-01", "endsOn": "2027-03-31" })
            },
        )
        .case("the admin on the committee")
        .on(Setup::AdminOnCommittee)
        .fresh(),
        // | `decisionVoteCast` on a CHANGE_REQUEST ballot | if eligible and not recused, or
        // their delegate | same | same | same | not found |
        mutation("decisionVoteCast", [CR_BALLOT, CR_BALLOT, CR_BALLOT, CR_BALLOT, NF], vote)
            .case("CHANGE_REQUEST ballot")
            .on(Setup::ChangeRequest(REQUESTER, CrState::Ballot)),
        mutation(
            "decisionVoteCast",
            [
                OWN_CHANGE_BALLOT,
                OWN_CHANGE_BALLOT,
                OWN_CHANGE_BALLOT,
                OWN_CHANGE_BALLOT,
                NF,
            ],
            vote,
        )
        .case("CHANGE_REQUEST ballot on the committee member's own change")
        .on(Setup::ChangeRequest(Who::Committee, CrState::Ballot)),
        mutation(
            "decisionVoteCast",
            [PROXY_VOTE, PROXY_VOTE, PROXY_VOTE, PROXY_VOTE, NF],
            proxy_vote,
        )
        .case("CHANGE_REQUEST ballot, in the committee member's seat")
        .on(Setup::ChangeRequest(REQUESTER, CrState::Ballot))
        .fresh(),
        // | `scenarioLibrary` | ✓ | ✓ | ✓ | ✓ | ✓ |
        query("scenarioLibrary", EVERYONE, "{ scenarioLibrary { name } }", no_vars),
        // | `testScenarios`, `testScenariosCsv`, `testCycles`, `defects`, `uatMetrics` of a
        // project, `uatReadiness`, a `TestScenario`, `TestCycle` or `Defect` by `node` | ✓ | ✓ |
        // ✓ | ✓ | not found |
        project_field("testScenarios", "testScenarios { id }"),
        project_field("testScenariosCsv", "testScenariosCsv"),
        project_field("testCycles", "testCycles { id }"),
        project_field("defects", "defects { totalCount }"),
        project_field("uatMetrics", "uatMetrics { reopenRatePercent }"),
        query(
            "uatReadiness",
            MEMBERS,
            "query($p: ID!) { uatReadiness(projectId: $p) { ready } }",
            main_project,
        ),
        node("TestScenario", |c| json!({ "id": c.w.scenario })),
        node("TestCycle", |c| json!({ "id": c.w.cycle })),
        node("Defect", |c| json!({ "id": c.w.defect })),
        // | `testScenarioCreate`, `testScenarioLibraryImport`, `testScenarioCsvImport`,
        // `testCycleCreate`, `testExecutionRecord` | ✓ | ✓ | — | QA, BUSINESS_REP, SUPER_USER |
        // not found |
        mutation("testScenarioCreate", TESTERS, |c| {
            json!({ "projectId": c.w.project, "name": c.unique("Scenario"), "area": "SALES", "scenarioType": "TYPICAL",
                    "steps": [{ "action": "Create a lead", "expectedResult": "Lead saved" }] })
        }),
        mutation("testScenarioLibraryImport", TESTERS, |c| {
            json!({ "projectId": c.w.project })
        }),
        mutation("testScenarioCsvImport", TESTERS, |c| {
            let csv = format!(
                "scenario,area,core,type,step,action,expected_result\n{},SALES,false,TYPICAL,1,Create a lead,Lead saved\n",
                c.unique("Imported")
            );
            json!({ "projectId": c.w.project, "csv": csv })
        }),
        mutation("testCycleCreate", TESTERS, |c| {
            json!({ "projectId": c.w.project, "name": c.unique("Cycle"), "stage": "USER_TRIAL", "environment": "UAT sandbox" })
        }),
        mutation("testExecutionRecord", TESTERS, |c| {
            json!({ "cycleId": c.o["cycle"], "scenarioId": c.w.scenario, "result": "PASSED" })
        })
        .on(Setup::Cycle(&["START"])),
        // | `testCycleTransition`: START, COMPLETE, FAIL | ✓ | ✓ | — | QA, BUSINESS_REP,
        // SUPER_USER | not found |
        mutation("testCycleTransition", TESTERS, cycle_move)
            .case("START")
            .on(Setup::Cycle(&[])),
        mutation("testCycleTransition", TESTERS, cycle_move)
            .case("COMPLETE")
            .on(Setup::Cycle(&["START"])),
        mutation("testCycleTransition", TESTERS, cycle_move)
            .case("FAIL")
            .on(Setup::Cycle(&["START"])),
        // | `testCycleTransition`: SIGN_OFF | ✓ | — | — | BUSINESS_REP | not found |
        mutation(
            "testCycleTransition",
            [Y, N, N, Only(&[Who::BusinessRep]), NF],
            cycle_move,
        )
        .case("SIGN_OFF")
        .on(Setup::Cycle(&["START", "COMPLETE"])),
        // | `defectCreate`, `defectComment` | ✓ | ✓ | ✓ | ✓ except a VIEWER-only member | not
        // found |
        mutation("defectCreate", RAISERS, |c| {
            json!({ "projectId": c.w.project, "defect": { "title": c.unique("Defect"), "stepsToReproduce": "Save an order",
                                                           "actualResult": "Gone" } })
        }),
        mutation("defectComment", RAISERS, |c| {
            json!({ "id": c.w.defect, "body": "Seen it too" })
        }),
        // | `defectGrade` | ✓ | ✓ | reporter, while NEW | QA; reporter, while NEW | not found |
        mutation(
            "defectGrade",
            [Y, Y, Only(&[REPORTER]), Only(&[Who::Qa, REPORTER]), NF],
            defect_grade,
        )
        .case("while NEW")
        .on(Setup::Defect(REPORTER, "MAJOR", DefectState::New))
        .fresh(),
        mutation("defectGrade", TRIAGERS, defect_grade)
            .case("once TRIAGED, no longer the reporter's")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::Triaged))
            .fresh(),
        // | `defectTransition`: TRIAGE, ASSIGN, CLOSE, REJECT; DEFER of a MINOR or TRIVIAL
        // defect | ✓ | ✓ | — | QA | not found |
        mutation("defectTransition", TRIAGERS, defect_move)
            .case("TRIAGE")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::New))
            .fresh(),
        mutation("defectTransition", TRIAGERS, defect_move)
            .case("ASSIGN")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::Triaged))
            .fresh(),
        mutation("defectTransition", TRIAGERS, defect_move)
            .case("CLOSE")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::Verified))
            .fresh(),
        mutation("defectTransition", TRIAGERS, defect_move)
            .case("REJECT")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::Triaged))
            .fresh(),
        mutation("defectTransition", TRIAGERS, defect_move)
            .case("DEFER of a MINOR defect")
            .on(Setup::Defect(REPORTER, "MINOR", DefectState::Triaged))
            .fresh(),
        // | `defectTransition`: DEFER of a CRITICAL or MAJOR defect | ✓ | ✓ | — | — | not found |
        mutation("defectTransition", MANAGERS, defect_move)
            .case("DEFER of a MAJOR defect")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::Triaged))
            .fresh(),
        // | `defectTransition`: START_FIX, MARK_READY_FOR_RETEST | ✓ | ✓ | assignee | assignee |
        // not found |
        mutation("defectTransition", managers_or(&[ASSIGNEE]), defect_move)
            .case("START_FIX")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::Assigned))
            .fresh(),
        mutation("defectTransition", managers_or(&[ASSIGNEE]), defect_move)
            .case("MARK_READY_FOR_RETEST")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::InFix))
            .fresh(),
        // | `defectTransition`: VERIFY, REOPEN | ✓ | reporter | reporter | QA, BUSINESS_REP,
        // reporter | not found |
        mutation("defectTransition", RETESTERS, defect_move)
            .case("VERIFY")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::ReadyForRetest))
            .fresh(),
        mutation("defectTransition", RETESTERS, defect_move)
            .case("REOPEN")
            .on(Setup::Defect(REPORTER, "MAJOR", DefectState::ReadyForRetest))
            .fresh(),
        // "a member acts by any role they hold (a PM who is also the reporter verifies as the
        // reporter)"
        mutation(
            "defectTransition",
            [Y, Y, N, Only(&[Who::Qa, Who::BusinessRep]), NF],
            defect_move,
        )
        .case("VERIFY of a defect the PM reported")
        .on(Setup::Defect(Who::Pm, "MAJOR", DefectState::ReadyForRetest))
        .fresh(),
        // "a reporter who is also the assignee verifies or reopens only through a QA or
        // BUSINESS_REP role"
        mutation(
            "defectTransition",
            [Y, N, N, Only(&[Who::Qa, Who::BusinessRep]), NF],
            defect_move,
        )
        .case("VERIFY of a defect its assignee reported")
        .on(Setup::Defect(ASSIGNEE, "MAJOR", DefectState::ReadyForRetest))
        .fresh(),
        // | `goLivePlans` of a project, a `GoLivePlan` by `node` | ✓ | ✓ | ✓ | ✓ | not found |
        project_field("goLivePlans", "goLivePlans { id }"),
        node("GoLivePlan", |c| json!({ "id": c.w.plan["plan"] })),
        // | `goLivePlanCreate`, `goLivePlanPrepare`, `cutoverTaskAdd`, `goLiveCriterionAdd`,
        // `goLiveDecisionRequest`, `hypercareMetricAdd` | ✓ | ✓ | — | — | not found |
        mutation("goLivePlanCreate", MANAGERS, |c| {
            json!({ "projectId": c.o["project"], "strategy": "BIG_BANG", "plannedGoLive": "2027-03-28T00:00:00Z",
                    "cutoverStart": "2027-03-27T18:00:00Z", "cutoverEnd": "2027-03-28T18:00:00Z" })
        })
        .on(Setup::Project(&["INITIATE", "START_EXECUTION"])),
        mutation("goLivePlanPrepare", MANAGERS, |c| {
            json!({ "planId": c.w.plan["plan"], "hypercareExit": ["Login rate above 90% for 3 days"] })
        }),
        mutation("cutoverTaskAdd", MANAGERS, |c| {
            json!({ "planId": c.w.plan["plan"], "name": c.unique("Task"), "durationMinutes": 30 })
        }),
        mutation("goLiveCriterionAdd", MANAGERS, |c| {
            json!({ "planId": c.w.plan["plan"], "name": c.unique("Criterion") })
        }),
        mutation("goLiveDecisionRequest", MANAGERS, |c| {
            json!({ "planId": c.o["plan"] })
        })
        .on(Setup::Plan(PlanState::Draft)),
        mutation("hypercareMetricAdd", MANAGERS, |c| {
            json!({ "planId": c.w.plan["plan"], "name": c.unique("Metric"), "unit": "%", "target": "1", "direction": "AT_MOST" })
        }),
        // | `goLiveRollbackApprove` | ✓ | — | ✓ | — | not found |
        mutation("goLiveRollbackApprove", [Y, N, Y, N, NF], |c| {
            json!({ "planId": c.w.plan["plan"] })
        }),
        // | `goLiveOverride` | ✓ | ✓ | ✓ | — | not found |
        mutation("goLiveOverride", [Y, Y, Y, N, NF], |c| {
            json!({ "planId": c.o["plan"], "reason": "Pilot region only" })
        })
        .on(Setup::Plan(PlanState::Ready)),
        // | `goLiveCriterionSet`, `cutoverTaskSetStatus` | ✓ | ✓ | owner only | owner only | not
        // found |
        mutation("goLiveCriterionSet", managers_or(&[CRITERION_OWNER]), |c| {
            json!({ "id": c.w.plan["criterion"], "done": true })
        }),
        mutation("cutoverTaskSetStatus", managers_or(&[TASK_OWNER]), |c| {
            json!({ "id": c.o["task"], "status": "IN_PROGRESS" })
        })
        .on(Setup::Plan(PlanState::Cutover))
        .fresh(),
        // | `goLiveTransition`: RESCHEDULE, START_CUTOVER, GO_LIVE, CLOSE_HYPERCARE, REPLAN | ✓ |
        // ✓ | — | — | not found |
        mutation("goLiveTransition", MANAGERS, plan_move)
            .case("RESCHEDULE")
            .on(Setup::Plan(PlanState::NoGo)),
        mutation("goLiveTransition", MANAGERS, plan_move)
            .case("START_CUTOVER")
            .on(Setup::Plan(PlanState::ApprovedGo)),
        mutation("goLiveTransition", MANAGERS, plan_move)
            .case("GO_LIVE")
            .on(Setup::Plan(PlanState::CutoverDone)),
        mutation("goLiveTransition", MANAGERS, plan_move)
            .case("CLOSE_HYPERCARE")
            .on(Setup::Plan(PlanState::Live)),
        mutation("goLiveTransition", MANAGERS, plan_move)
            .case("REPLAN")
            .on(Setup::Plan(PlanState::RolledBack)),
        // | `goLiveTransition`: COMPLETE_ROLLBACK | ✓ | ✓ | if an authority | if an authority |
        // not found |
        mutation("goLiveTransition", managers_or(&[AUTHORITY]), plan_move)
            .case("COMPLETE_ROLLBACK")
            .on(Setup::Plan(PlanState::RollingBack))
            .fresh(),
        // | `rollbackStart` | ✓ | if an authority | if an authority | if an authority | not
        // found |
        mutation(
            "rollbackStart",
            [
                Y,
                Eligible(&[AUTHORITY]),
                Eligible(&[AUTHORITY]),
                Eligible(&[AUTHORITY]),
                NF,
            ],
            |c| json!({ "planId": c.o["plan"], "reason": "Orders cannot be created" }),
        )
        .on(Setup::Plan(PlanState::Cutover))
        .fresh(),
        // | `hypercareReadingRecord` | ✓ | ✓ | if in the War Room | if in the War Room | not
        // found |
        mutation("hypercareReadingRecord", managers_or(&[WAR_ROOM]), |c| {
            json!({ "metricId": c.o["metric"], "value": "95" })
        })
        .on(Setup::Plan(PlanState::Live)),
        // | `me.notificationPreferences`, `notificationPreferencesUpdate` (own preferences) | ✓ |
        // ✓ | ✓ | ✓ | ✓ |
        query(
            "me",
            EVERYONE,
            "{ me { notificationPreferences { class delivery } } }",
            no_vars,
        )
        .named("me.notificationPreferences"),
        mutation("notificationPreferencesUpdate", EVERYONE, |_| {
            json!({ "preferences": [{ "class": "DEFECT", "delivery": "DAILY_DIGEST" }] })
        }),
        // | `notifications` of a project, `notificationRetry` | ✓ | ✓ | — | — | not found |
        query(
            "notifications",
            MANAGERS,
            "query($p: ID!) { notifications(projectId: $p) { totalCount } }",
            main_project,
        ),
        mutation("notificationRetry", MANAGERS, |c| {
            json!({ "id": c.o["notification"] })
        })
        .on(Setup::DeadNotification),
        // | `projectEvents` subscription | ✓ | ✓ | ✓ | ✓ | not found |
        Row {
            call: Call::Subscription,
            ..query("projectEvents", MEMBERS, "", no_vars)
        },
    ]
}

fn scope_document() -> Value {
    json!({
        "objectives": [{ "text": "Raise lead conversion" }],
        "inScope": [{ "category": "MODULE", "text": "Lead management" }]
    })
}

/// Below the red line: the PM decides alone.
fn small_impact() -> Value {
    json!({
        "schedule": { "days": 1 },
        "cost": { "amount": "2000", "currency": "CNY", "budgetLine": "Config" },
        "effort": { "personDays": "2" },
        "risk": { "level": "LOW", "description": "A report layout" }
    })
}

/// Above the red line: the committee decides.
fn large_impact() -> Value {
    json!({
        "schedule": { "days": 14 },
        "cost": { "amount": "50000", "currency": "CNY", "budgetLine": "Implementation services" },
        "effort": { "personDays": "30" },
        "risk": { "level": "HIGH", "description": "Touches the ERP interface" }
    })
}

// ---- the fixture ----------------------------------------------------------------------------

/// The code of the project every caller is placed in.
const MAIN_CODE: &str = "AUTHZ-MAIN";
/// The RACI activity of that project on which the PM is ACCOUNTABLE.
const STANDING_ACTIVITY: &str = "Gather requirements";
/// The user who signs in with `sessionCreate`.
const PASSWORD_USER_EMAIL: &str = "matrix.password@example.com";
const PASSWORD: &str = "correct horse battery";

/// What a row's call acts on: the fixture's standing objects, or objects made for the row
/// (for each allowed caller of a fresh row).
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// The fixture's standing objects.
    Standing,
    /// The version of the fixture's project.
    ProjectVersion,
    /// A project with every member and a one-milestone plan, moved by its PM through these
    /// actions.
    Project(&'static [&'static str]),
    /// A user who is not a member.
    Stranger,
    /// A VIEWER added to the fixture's project for the occasion.
    ExtraMember,
    /// A phase added to the fixture's project.
    NewPhase,
    /// The fixture project's phases, in reverse order.
    PhaseOrder,
    /// A project with every member and one empty phase.
    OnlyPhase {
        started: bool,
    },
    /// An open gate condition owned by [`CONDITION_OWNER`].
    GateCondition,
    NewDeliverable,
    /// A milestone owned by [`MILESTONE_OWNER`].
    NewMilestone,
    TwoMilestones,
    Dependency,
    /// A schedule baseline of a new project.
    Baseline,
    /// An open ballot on skipping a phase of the fixture's project.
    SkipBallot,
    /// A new project where the admin is a STEERING_COMMITTEE member too, with an open ballot
    /// on skipping a phase.
    AdminOnCommittee,
    NewActivity,
    /// An activity on which QA is RESPONSIBLE.
    Assignment,
    /// The fixture project's scope draft at its current version.
    ScopeDraft,
    /// A new project's scope draft, filled in.
    ScopeReady,
    /// A new project's scope version in review, [`SIGNATORIES`] named.
    ScopeInReview,
    /// A change request of the fixture's project raised by the caller given.
    ChangeRequest(Who, CrState),
    /// A test cycle of the fixture's project, moved through these actions.
    Cycle(&'static [&'static str]),
    /// A defect of the given severity reported by the caller given.
    Defect(Who, &'static str, DefectState),
    /// A go-live plan of a new project in execution.
    Plan(PlanState),
    /// A DEAD email of the fixture's project.
    DeadNotification,
}

#[derive(Debug, Clone, Copy)]
enum CrState {
    Draft,
    Submitted,
    UnderAssessment,
    /// Under assessment, every impact dimension assessed (below the red line).
    Assessed,
    InfoRequested,
    /// Awaiting the PM's decision, below the red line.
    AwaitingDecision,
    /// Awaiting the committee's vote, above the red line.
    Ballot,
    Approved,
    InImplementation,
    Implemented,
    Deferred,
}

impl CrState {
    /// The steps from DRAFT: the requester submits, the PM does the rest.
    fn path(self) -> &'static [&'static str] {
        match self {
            CrState::Draft => &[],
            CrState::Submitted => &["SUBMIT"],
            CrState::UnderAssessment => &["SUBMIT", "START_ASSESSMENT"],
            CrState::Assessed => &["SUBMIT", "START_ASSESSMENT", "ASSESS"],
            CrState::InfoRequested => &["SUBMIT", "START_ASSESSMENT", "REQUEST_INFO"],
            CrState::AwaitingDecision => {
                &["SUBMIT", "START_ASSESSMENT", "ASSESS", "REQUEST_DECISION"]
            }
            CrState::Ballot => &[
                "SUBMIT",
                "START_ASSESSMENT",
                "ASSESS_ABOVE_THE_RED_LINE",
                "REQUEST_DECISION",
            ],
            CrState::Approved => &[
                "SUBMIT",
                "START_ASSESSMENT",
                "ASSESS",
                "REQUEST_DECISION",
                "APPROVE",
            ],
            CrState::InImplementation => &[
                "SUBMIT",
                "START_ASSESSMENT",
                "ASSESS",
                "REQUEST_DECISION",
                "APPROVE",
                "START_IMPLEMENTATION",
            ],
            CrState::Implemented => &[
                "SUBMIT",
                "START_ASSESSMENT",
                "ASSESS",
                "REQUEST_DECISION",
                "APPROVE",
                "START_IMPLEMENTATION",
                "COMPLETE_IMPLEMENTATION",
            ],
            CrState::Deferred => &[
                "SUBMIT",
                "START_ASSESSMENT",
                "ASSESS",
                "REQUEST_DECISION",
                "DEFER",
            ],
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum DefectState {
    New,
    Triaged,
    Assigned,
    InFix,
    ReadyForRetest,
    Verified,
}

impl DefectState {
    /// Who moves a graded NEW defect there: QA triages, assigns and verifies, the assignee
    /// fixes.
    fn path(self) -> &'static [(Who, &'static str)] {
        const TO_VERIFIED: &[(Who, &str)] = &[
            (Who::Qa, "TRIAGE"),
            (Who::Qa, "ASSIGN"),
            (ASSIGNEE, "START_FIX"),
            (ASSIGNEE, "MARK_READY_FOR_RETEST"),
            (Who::Qa, "VERIFY"),
        ];
        let steps = match self {
            DefectState::New => 0,
            DefectState::Triaged => 1,
            DefectState::Assigned => 2,
            DefectState::InFix => 3,
            DefectState::ReadyForRetest => 4,
            DefectState::Verified => 5,
        };
        &TO_VERIFIED[..steps]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlanState {
    /// Prepared, the rollback approved, with a runbook task, a manual criterion and a metric.
    Draft,
    /// A GO_LIVE ballot open.
    Ready,
    NoGo,
    ApprovedGo,
    Cutover,
    /// In cutover, every runbook task done.
    CutoverDone,
    Live,
    /// Hypercare closed: the project in OPTIMIZATION.
    Closed,
    RollingBack,
    RolledBack,
}

/// The fixture: the callers, the project they are all members of and its standing objects.
struct World {
    app: TestApp,
    people: BTreeMap<Who, TestUser>,
    /// A second STEERING_COMMITTEE member of every project, not a caller.
    deputy: TestUser,
    /// The project every caller is placed in, and its standing objects.
    project: String,
    pm_member: String,
    phase: String,
    criterion: String,
    milestone: String,
    activity: String,
    scope: String,
    cr: String,
    scenario: String,
    cycle: String,
    defect: String,
    /// The project's go-live plan (DRAFT), with its runbook task, manual criterion and metric.
    plan: Value,
    /// One token of each caller's besides the one they call with, to revoke.
    spare_tokens: BTreeMap<Who, String>,
    serial: AtomicUsize,
}

impl World {
    async fn build() -> World {
        let app = TestApp::spawn().await;
        let mut people = BTreeMap::new();
        for who in Who::ALL {
            if who != Who::Anonymous {
                let user = app
                    .user(&format!("Matrix {}", who.slug()), who == Who::Admin)
                    .await;
                people.insert(who, user);
            }
        }
        let deputy = app.user("Matrix deputy", false).await;
        steerco_graphql::service::user::create(
            &app.state,
            None,
            NewUser {
                email: PASSWORD_USER_EMAIL.to_owned(),
                name: "Matrix password".to_owned(),
                password: Some(PASSWORD.to_owned()),
                ..NewUser::default()
            },
        )
        .await
        .expect("a user with a password");
        let mut w = World {
            app,
            people,
            deputy,
            project: String::new(),
            pm_member: String::new(),
            phase: String::new(),
            criterion: String::new(),
            milestone: String::new(),
            activity: String::new(),
            scope: String::new(),
            cr: String::new(),
            scenario: String::new(),
            cycle: String::new(),
            defect: String::new(),
            plan: Value::Null,
            spare_tokens: BTreeMap::new(),
            serial: AtomicUsize::new(0),
        };
        w.project = w.project_with_everyone(MAIN_CODE).await;
        let members = w
            .read(
                Who::Pm,
                "query($p: ID!) { project(id: $p) { members { id roles } } }",
                json!({ "p": w.project }),
            )
            .await;
        w.pm_member = members["project"]["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["roles"] == json!(["PROJECT_MANAGER"]))
            .expect("the PM's membership")["id"]
            .as_str()
            .expect("member id")
            .to_owned();
        w.phase = w.phase_in(&w.project).await;
        w.criterion = id_of(
            &w.must(
                Who::Pm,
                "exitCriterionAdd",
                json!({ "phaseId": w.phase, "text": "Requirements signed off" }),
                "exitCriterion { id }",
            )
            .await["exitCriterion"]["id"],
        );
        w.milestone = id_of(&w.milestone_in(&w.phase, Some(MILESTONE_OWNER)).await["milestone"]);
        w.activity = id_of(
            &w.must(
                Who::Pm,
                "raciActivityAdd",
                json!({ "projectId": w.project, "name": STANDING_ACTIVITY }),
                "activity { id }",
            )
            .await["activity"]["id"],
        );
        w.must(
            Who::Pm,
            "raciAssign",
            json!({ "activityId": w.activity, "userId": w.id(Who::Pm), "letter": "ACCOUNTABLE" }),
            "activity { id }",
        )
        .await;
        w.scope = id_of(
            &w.must(
                Who::Pm,
                "scopeDraftCreate",
                json!({ "projectId": w.project }),
                "scope { id }",
            )
            .await["scope"]["id"],
        );
        w.cr = id_of(&w.change_request(REQUESTER, CrState::Draft).await["cr"]);
        w.scenario = id_of(
            &w.must(
                Who::Qa,
                "testScenarioCreate",
                json!({ "projectId": w.project, "name": "Lead to order", "area": "SALES", "scenarioType": "TYPICAL",
                        "steps": [{ "action": "Convert a lead", "expectedResult": "Order created" }] }),
                "scenario { id }",
            )
            .await["scenario"]["id"],
        );
        w.cycle = id_of(&w.cycle(&[]).await["cycle"]);
        w.defect = id_of(&w.defect(REPORTER, "MAJOR", DefectState::New).await["defect"]);
        // The committee member lends their vote to the delegate for the whole spring.
        w.must(
            Who::Committee,
            "voteDelegationCreate",
            json!({ "projectId": w.project, "delegateId": w.id(DELEGATE), "startsOn": "2027-02-01", "endsOn": "2027-06-30" }),
            "delegation { delegateId }",
        )
        .await;
        w.plan = w.plan_on(&w.project, PlanState::Draft).await;
        for who in Who::ALL {
            if who != Who::Anonymous {
                let token = w
                    .must(
                        who,
                        "apiTokenCreate",
                        json!({ "name": "spare" }),
                        "apiToken { id }",
                    )
                    .await;
                w.spare_tokens.insert(who, id_of(&token["apiToken"]["id"]));
            }
        }
        // The non-member runs a project of their own where the PM is a VIEWER: the non-member
        // sees the PM, but not the PM's letters in the fixture's project.
        let side = w
            .must(
                Who::Outsider,
                "projectCreate",
                json!({ "code": "AUTHZ-SIDE", "name": "Side project", "template": null }),
                "project { id }",
            )
            .await;
        w.app
            .add_member(
                w.user(Who::Outsider),
                &id_of(&side["project"]["id"]),
                w.user(Who::Pm),
                &["VIEWER"],
            )
            .await;
        w
    }

    fn user(&self, who: Who) -> &TestUser {
        self.people
            .get(&who)
            .unwrap_or_else(|| panic!("{who:?} has no user"))
    }

    fn token(&self, who: Who) -> Option<&str> {
        self.people.get(&who).map(|user| user.token.as_str())
    }

    /// The global id of a caller's user.
    fn id(&self, who: Who) -> &str {
        &self.user(who).id
    }

    /// A token of the caller's other than the one they call with; without a token, anyone's.
    fn spare_token(&self, who: Who) -> &str {
        let owner = if who == Who::Anonymous {
            Who::Outsider
        } else {
            who
        };
        &self.spare_tokens[&owner]
    }

    fn signatory_ids(&self) -> Vec<&str> {
        SIGNATORIES.iter().map(|who| self.id(*who)).collect()
    }

    /// The standing objects of the fixture's project, for `nodes`.
    fn standing_ids(&self) -> Vec<Value> {
        [
            &self.project,
            &self.pm_member,
            &self.phase,
            &self.criterion,
            &self.milestone,
            &self.activity,
            &self.scope,
            &self.cr,
            &self.scenario,
            &self.cycle,
            &self.defect,
        ]
        .into_iter()
        .map(|id| json!(id))
        .chain([self.plan["plan"].clone()])
        .collect()
    }

    fn unique(&self, what: &str) -> String {
        format!("{what} {}", self.serial.fetch_add(1, Ordering::Relaxed))
    }

    /// Runs a query for the fixture, expecting an answer.
    async fn read(&self, who: Who, query: &str, variables: Value) -> Value {
        self.app.ok(self.user(who), query, variables).await
    }

    /// Runs a mutation for the fixture as `user`, expecting it to succeed; returns its payload.
    async fn must_as(&self, user: &TestUser, op: &str, input: Value, selection: &str) -> Value {
        let doc = mutation_doc(op, selection);
        let response = self
            .app
            .gql(Some(&user.token), &doc, json!({ "input": input }))
            .await;
        let payload = &response["data"][op];
        assert!(
            response.get("errors").is_none() && payload["userErrors"] == json!([]),
            "setting up the fixture, {op} as {} failed: {response}",
            user.email
        );
        payload.clone()
    }

    async fn must(&self, who: Who, op: &str, input: Value, selection: &str) -> Value {
        self.must_as(self.user(who), op, input, selection).await
    }

    /// Sends a row's call as `who`, built on `objects`.
    async fn send(&self, row: &Row, objects: &Value, who: Who) -> Value {
        let ctx = Ctx {
            w: self,
            o: objects,
            who,
            case: row.case,
        };
        match &row.call {
            Call::Query { doc, vars, .. } => self.app.gql(self.token(who), doc, vars(&ctx)).await,
            Call::Mutation { input } => {
                let doc = mutation_doc(row.op, "");
                self.app
                    .gql(self.token(who), &doc, json!({ "input": input(&ctx) }))
                    .await
            }
            Call::Subscription => unreachable!("subscriptions go over the WebSocket"),
        }
    }

    /// A project (budget in CNY) with every member caller in their role, and the deputy.
    async fn project_with_everyone(&self, code: &str) -> String {
        let created = self
            .must(
                Who::Pm,
                "projectCreate",
                json!({ "code": code, "name": format!("Project {code}"), "template": null,
                        "budget": { "amount": "1000000", "currency": "CNY" } }),
                "project { id }",
            )
            .await;
        let project = id_of(&created["project"]["id"]);
        let pm = self.user(Who::Pm);
        for who in Who::ALL {
            if let Some(role) = who.role().filter(|_| who != Who::Pm) {
                self.app
                    .add_member(pm, &project, self.user(who), &[role])
                    .await;
            }
        }
        self.app
            .add_member(pm, &project, &self.deputy, &["STEERING_COMMITTEE"])
            .await;
        project
    }

    async fn new_project(&self) -> String {
        let code = format!("AUTHZ-{}", self.serial.fetch_add(1, Ordering::Relaxed));
        self.project_with_everyone(&code).await
    }

    async fn phase_in(&self, project: &str) -> String {
        let created = self
            .must(
                Who::Pm,
                "phaseCreate",
                json!({ "projectId": project, "name": self.unique("Phase") }),
                "phase { id }",
            )
            .await;
        id_of(&created["phase"]["id"])
    }

    async fn milestone_in(&self, phase: &str, owner: Option<Who>) -> Value {
        let created = self
            .must(
                Who::Pm,
                "milestoneCreate",
                json!({ "phaseId": phase, "name": self.unique("Milestone"), "baselineDate": "2027-06-01",
                        "ownerId": owner.map(|who| self.id(who)) }),
                "milestone { id version }",
            )
            .await;
        json!({ "milestone": created["milestone"]["id"], "version": created["milestone"]["version"] })
    }

    /// A project of everyone with a signed scope and a one-milestone plan, moved by its PM
    /// through `path`.
    async fn project_in(&self, path: &[&str]) -> Value {
        let project = self.new_project().await;
        let signatories = [self.user(Who::Sponsor), self.user(Who::BusinessRep)];
        self.app
            .baseline_scope(self.user(Who::Pm), &project, &signatories)
            .await;
        let phase = self.phase_in(&project).await;
        let milestone = self.milestone_in(&phase, Some(Who::Pm)).await;
        for action in path {
            self.must(
                Who::Pm,
                "projectTransition",
                json!({ "id": project, "action": action, "reason": "Matrix check" }),
                "project { status }",
            )
            .await;
        }
        json!({ "project": project, "phase": phase, "milestone": milestone["milestone"] })
    }

    async fn only_phase(&self, started: bool) -> Value {
        let project = self.new_project().await;
        let phase = self.phase_in(&project).await;
        if started {
            self.must(
                Who::Pm,
                "phaseStart",
                json!({ "phaseId": phase }),
                "phase { id }",
            )
            .await;
        }
        json!({ "project": project, "phase": phase })
    }

    /// Casts a vote as `voter` (the deputy when `None`).
    async fn vote(&self, voter: Option<Who>, decision: &Value, ballot: Value) {
        let mut input = ballot;
        input["decisionId"] = decision.clone();
        let user = voter.map_or(&self.deputy, |who| self.user(who));
        self.must_as(user, "decisionVoteCast", input, "decision { id }")
            .await;
    }

    async fn change_request(&self, requester: Who, state: CrState) -> Value {
        const CR: &str = "changeRequest { id version ballot { decision { id } } }";
        let mut cr = self
            .must(
                requester,
                "changeRequestCreate",
                json!({ "projectId": self.project, "title": self.unique("Change"), "justification": "Sales asked for it",
                        "category": "SCOPE", "priority": "MUST" }),
                CR,
            )
            .await["changeRequest"]
            .clone();
        for step in state.path() {
            let payload = match *step {
                "SUBMIT" => {
                    self.must(
                        requester,
                        "changeRequestTransition",
                        json!({ "id": cr["id"], "action": "SUBMIT" }),
                        CR,
                    )
                    .await
                }
                "ASSESS" | "ASSESS_ABOVE_THE_RED_LINE" => {
                    let mut impact = if *step == "ASSESS" {
                        small_impact()
                    } else {
                        large_impact()
                    };
                    impact["id"] = cr["id"].clone();
                    impact["expectedVersion"] = cr["version"].clone();
                    self.must(ASSESSOR, "changeRequestAssess", impact, CR).await
                }
                action => {
                    self.must(
                        Who::Pm,
                        "changeRequestTransition",
                        json!({ "id": cr["id"], "action": action, "note": "Matrix check" }),
                        CR,
                    )
                    .await
                }
            };
            cr = payload["changeRequest"].clone();
        }
        json!({ "cr": cr["id"], "version": cr["version"], "decision": cr["ballot"]["decision"]["id"] })
    }

    async fn cycle(&self, path: &[&str]) -> Value {
        let created = self
            .must(
                Who::Qa,
                "testCycleCreate",
                json!({ "projectId": self.project, "name": self.unique("Cycle"), "stage": "USER_TRIAL", "environment": "UAT sandbox" }),
                "cycle { id }",
            )
            .await;
        let cycle = created["cycle"]["id"].clone();
        for action in path {
            self.must(
                Who::Qa,
                "testCycleTransition",
                json!({ "id": cycle, "action": action }),
                "cycle { id }",
            )
            .await;
        }
        json!({ "cycle": cycle })
    }

    async fn defect(&self, reporter: Who, severity: &str, state: DefectState) -> Value {
        let mut defect = self
            .must(
                reporter,
                "defectCreate",
                json!({ "projectId": self.project, "defect": { "title": self.unique("Defect"), "stepsToReproduce": "Save an order",
                        "actualResult": "The order is gone", "severity": severity, "priority": "P2" } }),
                "defect { id version }",
            )
            .await["defect"]
            .clone();
        for (who, action) in state.path() {
            let mut input = json!({ "id": defect["id"], "action": action });
            if *action == "ASSIGN" {
                input["assigneeId"] = json!(self.id(ASSIGNEE));
            }
            defect = self
                .must(*who, "defectTransition", input, "defect { id version }")
                .await["defect"]
                .clone();
        }
        json!({ "defect": defect["id"], "version": defect["version"] })
    }

    /// A go-live plan of `project`, prepared: [`AUTHORITY`] decides a rollback, [`WAR_ROOM`]
    /// sits in the War Room, [`TASK_OWNER`] owns the runbook task and [`CRITERION_OWNER`] the
    /// manual criterion; then moved to `state`.
    async fn plan_on(&self, project: &str, state: PlanState) -> Value {
        use PlanState as S;
        const PLAN: &str = "plan { id } decision { id }";
        let plan = self
            .must(
                Who::Pm,
                "goLivePlanCreate",
                json!({ "projectId": project, "strategy": "BIG_BANG", "plannedGoLive": "2027-03-28T00:00:00Z",
                        "cutoverStart": "2027-03-27T18:00:00Z", "cutoverEnd": "2027-03-28T18:00:00Z" }),
                PLAN,
            )
            .await["plan"]["id"]
            .clone();
        self.must(
            Who::Pm,
            "goLivePlanPrepare",
            json!({ "planId": plan,
                    "rollbackPlan": { "authorityIds": [self.id(AUTHORITY)], "maxMinutes": 240, "rehearsedOn": "2027-02-20",
                                      "rehearsalPassed": true, "triggers": [{ "condition": "Orders cannot be created" }],
                                      "steps": [{ "text": "Switch DNS back to the legacy CRM", "ownerId": self.id(Who::Pm) }] },
                    "warRoom": [{ "userId": self.id(WAR_ROOM), "shift": "Day 1 08:00-20:00" }],
                    "hypercareExit": ["Login rate above 90% for 3 days"] }),
            PLAN,
        )
        .await;
        self.must(
            Who::Sponsor,
            "goLiveRollbackApprove",
            json!({ "planId": plan }),
            PLAN,
        )
        .await;
        let task = self
            .must(
                Who::Pm,
                "cutoverTaskAdd",
                json!({ "planId": plan, "name": "Freeze the legacy CRM", "durationMinutes": 60, "ownerId": self.id(TASK_OWNER) }),
                "taskId",
            )
            .await["taskId"]
            .clone();
        let criterion = self
            .must(
                Who::Pm,
                "goLiveCriterionAdd",
                json!({ "planId": plan, "name": "Call-centre staff trained", "ownerId": self.id(CRITERION_OWNER) }),
                "criterion { id }",
            )
            .await["criterion"]["id"]
            .clone();
        let metric = self
            .must(
                Who::Pm,
                "hypercareMetricAdd",
                json!({ "planId": plan, "name": "Login rate", "unit": "%", "target": "90", "direction": "AT_LEAST" }),
                "metric { id }",
            )
            .await["metric"]["id"]
            .clone();
        let mut decision = Value::Null;
        let transition = |action: &'static str| json!({ "planId": plan, "action": action, "newGoLive": Value::Null });
        if state != S::Draft {
            decision = self
                .must(
                    Who::Pm,
                    "goLiveDecisionRequest",
                    json!({ "planId": plan }),
                    PLAN,
                )
                .await["decision"]["id"]
                .clone();
        }
        if state == S::NoGo {
            for voter in [Some(Who::Committee), None] {
                self.vote(
                    voter,
                    &decision,
                    json!({ "choice": "NO_GO", "comment": "Not ready" }),
                )
                .await;
            }
        }
        if !matches!(state, S::Draft | S::Ready | S::NoGo) {
            self.must(
                Who::Sponsor,
                "goLiveOverride",
                json!({ "planId": plan, "reason": "Accepted risk" }),
                PLAN,
            )
            .await;
            for voter in [Some(Who::Committee), None] {
                self.vote(voter, &decision, json!({ "choice": "GO" })).await;
            }
        }
        if !matches!(state, S::Draft | S::Ready | S::NoGo | S::ApprovedGo) {
            self.must(
                Who::Pm,
                "goLiveTransition",
                transition("START_CUTOVER"),
                PLAN,
            )
            .await;
        }
        if matches!(state, S::CutoverDone | S::Live | S::Closed) {
            for status in ["IN_PROGRESS", "DONE"] {
                self.must(
                    Who::Pm,
                    "cutoverTaskSetStatus",
                    json!({ "id": task, "status": status }),
                    "status",
                )
                .await;
            }
        }
        if matches!(state, S::Live | S::Closed) {
            self.must(Who::Pm, "goLiveTransition", transition("GO_LIVE"), PLAN)
                .await;
            self.must(
                Who::Pm,
                "hypercareReadingRecord",
                json!({ "metricId": metric, "value": "93" }),
                "reading { breached }",
            )
            .await;
        }
        if state == S::Closed {
            self.must(
                Who::Pm,
                "goLiveTransition",
                transition("CLOSE_HYPERCARE"),
                PLAN,
            )
            .await;
        }
        if matches!(state, S::RollingBack | S::RolledBack) {
            // The admin may always start a rollback.
            self.must(
                Who::Admin,
                "rollbackStart",
                json!({ "planId": plan, "reason": "Orders cannot be created" }),
                PLAN,
            )
            .await;
        }
        if state == S::RolledBack {
            self.must(
                Who::Pm,
                "goLiveTransition",
                transition("COMPLETE_ROLLBACK"),
                PLAN,
            )
            .await;
        }
        json!({ "project": project, "plan": plan, "task": task, "criterion": criterion, "metric": metric, "decision": decision })
    }

    /// Asks the committee to skip `phase`.
    async fn skip_ballot(&self, phase: &str) -> Value {
        let requested = self
            .must(
                Who::Pm,
                "phaseSkipRequest",
                json!({ "phaseId": phase, "reason": "Reused from the pilot" }),
                "decision { id }",
            )
            .await;
        json!({ "decision": requested["decision"]["id"] })
    }

    async fn new_activity(&self) -> Value {
        let created = self
            .must(
                Who::Pm,
                "raciActivityAdd",
                json!({ "projectId": self.project, "name": self.unique("Activity") }),
                "activity { id version }",
            )
            .await;
        json!({ "activity": created["activity"]["id"], "version": created["activity"]["version"] })
    }

    /// Makes what a row's call acts on.
    async fn prepare(&self, setup: Setup) -> Value {
        match setup {
            Setup::Standing => Value::Null,
            Setup::ProjectVersion => {
                let data = self
                    .read(
                        Who::Pm,
                        "query($p: ID!) { project(id: $p) { version } }",
                        json!({ "p": self.project }),
                    )
                    .await;
                json!({ "version": data["project"]["version"] })
            }
            Setup::Project(path) => self.project_in(path).await,
            Setup::Stranger => {
                let user = self.app.user(&self.unique("Stranger"), false).await;
                json!({ "user": user.id })
            }
            Setup::ExtraMember => {
                let user = self.app.user(&self.unique("Extra"), false).await;
                let added = self
                    .must(
                        Who::Pm,
                        "projectMemberAdd",
                        json!({ "projectId": self.project, "userId": user.id, "roles": ["VIEWER"] }),
                        "member { id version }",
                    )
                    .await;
                json!({ "member": added["member"]["id"], "version": added["member"]["version"] })
            }
            Setup::NewPhase => {
                let created = self
                    .must(
                        Who::Pm,
                        "phaseCreate",
                        json!({ "projectId": self.project, "name": self.unique("Phase") }),
                        "phase { id version }",
                    )
                    .await;
                json!({ "phase": created["phase"]["id"], "version": created["phase"]["version"] })
            }
            Setup::PhaseOrder => {
                let data = self
                    .read(
                        Who::Pm,
                        "query($p: ID!) { project(id: $p) { phases { id } } }",
                        json!({ "p": self.project }),
                    )
                    .await;
                let mut ids: Vec<Value> = data["project"]["phases"]
                    .as_array()
                    .expect("phases")
                    .iter()
                    .map(|phase| phase["id"].clone())
                    .collect();
                ids.reverse();
                json!({ "reversed": ids })
            }
            Setup::OnlyPhase { started } => self.only_phase(started).await,
            Setup::GateCondition => {
                let phase = self.only_phase(true).await;
                let requested = self
                    .must(
                        Who::Pm,
                        "phaseGateRequest",
                        json!({ "phaseId": phase["phase"], "note": "Ready" }),
                        "decision { id }",
                    )
                    .await;
                let decision = &requested["decision"]["id"];
                let ballot = json!({ "choice": "GO_WITH_CONDITIONS", "conditions": [
                    { "text": "Name a data owner", "ownerId": self.id(CONDITION_OWNER), "dueDate": "2027-05-01" }] });
                for voter in [Some(Who::Committee), None] {
                    self.vote(voter, decision, ballot.clone()).await;
                }
                let data = self
                    .read(
                        Who::Pm,
                        "query($id: ID!) { node(id: $id) { ... on Phase { conditions { id } } } }",
                        json!({ "id": phase["phase"] }),
                    )
                    .await;
                json!({ "condition": data["node"]["conditions"][0]["id"] })
            }
            Setup::NewDeliverable => {
                let created = self
                    .must(
                        Who::Pm,
                        "deliverableAdd",
                        json!({ "phaseId": self.phase, "name": self.unique("Deliverable") }),
                        "deliverable { id version }",
                    )
                    .await;
                json!({ "deliverable": created["deliverable"]["id"], "version": created["deliverable"]["version"] })
            }
            Setup::NewMilestone => self.milestone_in(&self.phase, Some(MILESTONE_OWNER)).await,
            Setup::TwoMilestones => {
                let first = self.milestone_in(&self.phase, None).await;
                let second = self.milestone_in(&self.phase, None).await;
                json!({ "first": first["milestone"], "second": second["milestone"] })
            }
            Setup::Dependency => {
                let first = self.milestone_in(&self.phase, None).await;
                let second = self.milestone_in(&self.phase, None).await;
                let linked = self
                    .must(
                        Who::Pm,
                        "milestoneDependencyAdd",
                        json!({ "predecessorId": first["milestone"], "successorId": second["milestone"], "lagDays": 0 }),
                        "dependency { id }",
                    )
                    .await;
                json!({ "dependency": linked["dependency"]["id"] })
            }
            Setup::Baseline => {
                let project = self.project_in(&[]).await;
                let taken = self
                    .must(
                        Who::Pm,
                        "scheduleBaselineCreate",
                        json!({ "projectId": project["project"], "reason": "Plan agreed" }),
                        "baseline { id }",
                    )
                    .await;
                json!({ "baseline": taken["baseline"]["id"] })
            }
            Setup::SkipBallot => {
                let phase = self.phase_in(&self.project).await;
                self.skip_ballot(&phase).await
            }
            Setup::AdminOnCommittee => {
                let project = self.new_project().await;
                self.app
                    .add_member(
                        self.user(Who::Pm),
                        &project,
                        self.user(Who::Admin),
                        &["STEERING_COMMITTEE"],
                    )
                    .await;
                let phase = self.phase_in(&project).await;
                let mut ballot = self.skip_ballot(&phase).await;
                ballot["project"] = json!(project);
                ballot
            }
            Setup::NewActivity => self.new_activity().await,
            Setup::Assignment => {
                let activity = self.new_activity().await;
                self.must(
                    Who::Pm,
                    "raciAssign",
                    json!({ "activityId": activity["activity"], "userId": self.id(Who::Qa), "letter": "RESPONSIBLE" }),
                    "activity { id }",
                )
                .await;
                activity
            }
            Setup::ScopeDraft => {
                let data = self
                    .read(
                        Who::Pm,
                        "query($id: ID!) { node(id: $id) { ... on ScopeVersion { version } } }",
                        json!({ "id": self.scope }),
                    )
                    .await;
                json!({ "scope": self.scope, "version": data["node"]["version"] })
            }
            Setup::ScopeReady | Setup::ScopeInReview => {
                let project = self.new_project().await;
                let draft = self
                    .must(
                        Who::Pm,
                        "scopeDraftCreate",
                        json!({ "projectId": project }),
                        "scope { id version }",
                    )
                    .await;
                let mut document = scope_document();
                document["id"] = draft["scope"]["id"].clone();
                document["expectedVersion"] = draft["scope"]["version"].clone();
                let filled = self
                    .must(
                        Who::Pm,
                        "scopeDraftUpdate",
                        document,
                        "scope { id version }",
                    )
                    .await;
                let scope = &filled["scope"];
                if matches!(setup, Setup::ScopeInReview) {
                    self.must(
                        Who::Pm,
                        "scopeReviewSubmit",
                        json!({ "id": scope["id"], "expectedVersion": scope["version"], "signatoryIds": self.signatory_ids() }),
                        "scope { id }",
                    )
                    .await;
                }
                json!({ "scope": scope["id"], "version": scope["version"] })
            }
            Setup::ChangeRequest(requester, state) => self.change_request(requester, state).await,
            Setup::Cycle(path) => self.cycle(path).await,
            Setup::Defect(reporter, severity, state) => {
                self.defect(reporter, severity, state).await
            }
            Setup::Plan(state) => {
                let project = self.project_in(&["INITIATE", "START_EXECUTION"]).await;
                self.plan_on(&id_of(&project["project"]), state).await
            }
            Setup::DeadNotification => {
                let pm = self.user(Who::Pm);
                let now = self.app.clock.now();
                let id = uuid::Uuid::now_v7();
                let project = steerco_graphql::schema::id::decode(
                    &async_graphql::ID(self.project.clone()),
                    Kind::Project,
                    &[],
                )
                .expect("a project id");
                notification::Entity::insert(notification::ActiveModel {
                    id: Set(id),
                    project_id: Set(Some(project)),
                    recipient_id: Set(pm.uuid),
                    recipient_email: Set(pm.email.clone()),
                    locale: Set("en".to_owned()),
                    kind: Set("change_request.submitted".to_owned()),
                    aggregate_type: Set("Project".to_owned()),
                    aggregate_id: Set(Some(project)),
                    dedupe_key: Set(format!("matrix:{id}")),
                    subject: Set("Undeliverable".to_owned()),
                    body_text: Set("text".to_owned()),
                    body_html: Set("<p>html</p>".to_owned()),
                    unsubscribe_url: Set(None),
                    priority: Set(2),
                    status: Set("DEAD".to_owned()),
                    attempts: Set(1),
                    claims: Set(1),
                    next_attempt_at: Set(now),
                    lease_until: Set(None),
                    last_error: Set(Some("550 mailbox unavailable".to_owned())),
                    created_at: Set(now),
                    sent_at: Set(None),
                })
                .exec_without_returning(self.app.db())
                .await
                .expect("a dead email");
                json!({ "notification": encode(Kind::Notification, id).to_string() })
            }
        }
    }
}

fn id_of(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("an id, not {value}"))
        .to_owned()
}

// ---- the schema -----------------------------------------------------------------------------

/// The root types of `graphql/schema.graphql`: each root's name and its fields, with the
/// input type of each mutation.
struct Schema {
    roots: Vec<(String, Vec<String>)>,
    inputs: BTreeMap<String, String>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let sdl = read_repo_file("graphql/schema.graphql");
        let root_types: Vec<(String, String)> = sdl
            .lines()
            .skip_while(|line| !line.starts_with("schema {"))
            .skip(1)
            .take_while(|line| line.trim() != "}")
            .filter_map(|line| line.trim().split_once(": "))
            .map(|(kind, name)| (kind.to_owned(), name.to_owned()))
            .collect();
        assert!(!root_types.is_empty(), "no schema block in the SDL");
        let mut roots = Vec::new();
        let mut inputs = BTreeMap::new();
        for (kind, name) in root_types {
            let fields = fields_of(&sdl, &name);
            if kind == "mutation" {
                for (field, signature) in &fields {
                    if let Some((_, rest)) = signature.split_once("input: ") {
                        let input = rest.split(['!', ')', ',']).next().unwrap_or_default();
                        inputs.insert(field.clone(), input.to_owned());
                    }
                }
            }
            roots.push((name, fields.into_iter().map(|(field, _)| field).collect()));
        }
        Schema { roots, inputs }
    })
}

/// The fields of object type `name` with the rest of their line, descriptions skipped.
fn fields_of(sdl: &str, name: &str) -> Vec<(String, String)> {
    let header = format!("type {name} ");
    let mut in_description = false;
    let mut fields = Vec::new();
    for line in sdl
        .lines()
        .skip_while(|line| !line.starts_with(&header))
        .skip(1)
    {
        let line = line.trim();
        let quotes = line.matches("\"\"\"").count();
        if in_description || quotes > 0 {
            if quotes % 2 == 1 {
                in_description = !in_description;
            }
            continue;
        }
        if line == "}" {
            break;
        }
        if let Some(end) = line.find(['(', ':']) {
            fields.push((line[..end].to_owned(), line[end..].to_owned()));
        }
    }
    assert!(!fields.is_empty(), "no fields found for {name}");
    fields
}

/// `mutation($input: …Input!) { op(input: $input) { selection userErrors { … } } }`.
fn mutation_doc(op: &str, selection: &str) -> String {
    let input = schema()
        .inputs
        .get(op)
        .unwrap_or_else(|| panic!("{op} is not a mutation with an `input` argument"));
    format!(
        "mutation($input: {input}!) {{ {op}(input: $input) {{ {selection} userErrors {{ code field message }} }} }}"
    )
}

fn read_repo_file(path: &str) -> String {
    let full = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {full}: {e}"))
}

/// The `## Permissions` section of the README, up to the next section.
fn permissions_section(readme: &str) -> &str {
    let start = readme
        .find("## Permissions")
        .expect("a Permissions section in the README");
    let rest = &readme[start..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    &rest[..end]
}

// ---- judging answers ------------------------------------------------------------------------

impl Row {
    fn classify(&self, w: &World, response: &Value) -> Outcome {
        if let Some(errors) = response.get("errors") {
            return match errors[0]["extensions"]["code"].as_str() {
                Some("UNAUTHENTICATED") => Outcome::Unauthenticated,
                Some("FORBIDDEN") => Outcome::Forbidden,
                Some("NOT_FOUND") => Outcome::NotFound,
                _ => Outcome::Unexpected,
            };
        }
        let data = &response["data"];
        match &self.call {
            Call::Query { seen, .. } => seen.judge(w, &data[self.op]),
            Call::Mutation { .. } => {
                let payload = &data[self.op];
                let Some(errors) = payload["userErrors"].as_array() else {
                    return Outcome::Unexpected;
                };
                let has = |code: &str| errors.iter().any(|e| e["code"] == code);
                if has("NOT_FOUND") {
                    Outcome::NotFound
                } else if has("NOT_ELIGIBLE") {
                    Outcome::NotEligible
                } else if has("FORBIDDEN_SEPARATION_OF_DUTIES") {
                    Outcome::Recused
                } else {
                    Outcome::Allowed
                }
            }
            Call::Subscription => Outcome::Unexpected,
        }
    }

    /// An allowed call that did all it was asked: no error of any kind.
    fn succeeded(&self, response: &Value) -> bool {
        response.get("errors").is_none()
            && match self.call {
                Call::Mutation { .. } => response["data"][self.op]["userErrors"] == json!([]),
                _ => true,
            }
    }
}

impl Seen {
    fn judge(self, w: &World, answer: &Value) -> Outcome {
        let shown = |yes: bool| {
            if yes {
                Outcome::Allowed
            } else {
                Outcome::NotFound
            }
        };
        match self {
            Seen::Answer => shown(!answer.is_null()),
            Seen::MainProjectListed => {
                shown(answer["edges"].as_array().is_some_and(|edges| {
                    edges.iter().any(|e| e["node"]["id"] == w.project.as_str())
                }))
            }
            Seen::EveryNode => {
                let nodes = answer.as_array().cloned().unwrap_or_default();
                if !nodes.is_empty() && nodes.iter().all(|n| !n.is_null()) {
                    Outcome::Allowed
                } else if nodes.iter().all(Value::is_null) {
                    Outcome::NotFound
                } else {
                    Outcome::Unexpected
                }
            }
            Seen::PmLetters => shown(answer["raci"].as_array().is_some_and(|letters| {
                letters
                    .iter()
                    .any(|l| l["activityName"] == STANDING_ACTIVITY)
            })),
        }
    }
}

/// The cells checked and how many differed from the README.
#[derive(Default)]
struct Report {
    cells: usize,
    problems: Vec<String>,
}

impl Report {
    fn cell(&mut self, row: &Row, who: Who, expected: Outcome, got: Outcome, response: &Value) {
        self.cells += 1;
        if got != expected {
            self.problems.push(format!(
                "{} × {}: the README says {expected}, got {got}: {}",
                row.title(),
                who.label(),
                excerpt(response)
            ));
        }
    }

    fn problem(&mut self, row: &Row, who: Option<Who>, what: &str, response: &Value) {
        let caller = who.map_or(String::new(), |who| format!(" × {}", who.label()));
        self.problems.push(format!(
            "{}{caller}: {what}: {}",
            row.title(),
            excerpt(response)
        ));
    }
}

fn excerpt(response: &Value) -> String {
    let text = response.to_string();
    match text.char_indices().nth(400) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

// ---- the checks -----------------------------------------------------------------------------

#[tokio::test]
async fn every_operation_answers_every_caller_as_the_readme_table_says() {
    let w = World::build().await;
    let mut report = Report::default();
    for row in table() {
        match row.call {
            Call::Subscription => check_subscription(&w, &row, &mut report).await,
            _ => check(&w, &row, &mut report).await,
        }
    }
    assert!(
        report.problems.is_empty(),
        "{} of {} (operation × caller) cells differ from the README permission table:\n{}",
        report.problems.len(),
        report.cells,
        report.problems.join("\n")
    );
}

/// One row: the refused callers first, each leaving the row counts as they were, then the
/// allowed ones, of whom at least one must get a plain success (else what refused the others
/// may have been the fixture's state, not the permission).
async fn check(w: &World, row: &Row, report: &mut Report) {
    let shared = w.prepare(row.setup).await;
    let (refused, allowed): (Vec<Who>, Vec<Who>) = Who::ALL
        .into_iter()
        .partition(|who| row.expect(*who) != Outcome::Allowed);
    for who in refused {
        let before = w.app.snapshot().await;
        let response = w.send(row, &shared, who).await;
        let expected = row.expect(who);
        let got = row.classify(w, &response);
        report.cell(row, who, expected, got, &response);
        if got == expected && w.app.snapshot().await != before {
            report.problem(row, Some(who), "refused, yet it wrote", &response);
        }
    }
    // Refusals of allowed callers are differences from the README already reported; only when
    // every allowed caller passed authorization and none succeeded is the fixture at fault.
    let mut succeeded = allowed.is_empty();
    let mut all_passed = true;
    let mut last = Value::Null;
    for who in allowed {
        let objects = if row.fresh {
            w.prepare(row.setup).await
        } else {
            shared.clone()
        };
        let response = w.send(row, &objects, who).await;
        let got = row.classify(w, &response);
        succeeded |= got == Outcome::Allowed && row.succeeded(&response);
        all_passed &= got == Outcome::Allowed;
        report.cell(row, who, Outcome::Allowed, got, &response);
        last = response;
    }
    if all_passed && !succeeded {
        report.problem(
            row,
            None,
            "no allowed caller got a plain success, so the fixture does not exercise the row",
            &last,
        );
    }
}

/// `projectEvents` over the WebSocket: every caller subscribes, something happens on the
/// project, and each gets the event, an error, or a closed connection.
async fn check_subscription(w: &World, row: &Row, report: &mut Report) {
    type Socket = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;

    /// Why no message came.
    enum Ended {
        Closed(String),
        Silent,
    }

    /// The next text message, or how the connection ended.
    async fn next(socket: &mut Socket) -> Result<Value, Ended> {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
                Err(_) => return Err(Ended::Silent),
                Ok(None) => return Err(Ended::Closed(String::new())),
                Ok(Some(Err(error))) => return Err(Ended::Closed(error.to_string())),
                Ok(Some(Ok(Message::Text(text)))) => {
                    return Ok(serde_json::from_str(&text).expect("a JSON message"));
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Err(Ended::Closed(format!("{frame:?}")));
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }

    let url = format!("{}/graphql/ws", w.app.base_url.replacen("http", "ws", 1));
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": {
        "query": "subscription($p: ID!) { projectEvents(projectId: $p) { kind } }",
        "variables": { "p": w.project } } });
    let mut listening = Vec::new();
    for who in Who::ALL {
        let mut request = url.as_str().into_client_request().expect("a request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("a header"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("a WebSocket");
        let payload = match w.token(who) {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        let init = json!({ "type": "connection_init", "payload": payload });
        socket
            .send(Message::Text(init.to_string().into()))
            .await
            .expect("connection_init");
        match next(&mut socket).await {
            Ok(ack) if ack["type"] == "connection_ack" => {
                socket
                    .send(Message::Text(subscribe.to_string().into()))
                    .await
                    .expect("subscribe");
                listening.push((who, socket));
            }
            // The server closes the connection when the token is missing or wrong.
            Err(Ended::Closed(why)) => report.cell(
                row,
                who,
                row.expect(who),
                Outcome::Unauthenticated,
                &json!(format!("closed: {why}")),
            ),
            Err(Ended::Silent) => report.cell(
                row,
                who,
                row.expect(who),
                Outcome::Unexpected,
                &json!("no answer to connection_init"),
            ),
            Ok(other) => report.cell(row, who, row.expect(who), Outcome::Unexpected, &other),
        }
    }
    // The subscriptions start listening when first polled; then something happens.
    tokio::time::sleep(Duration::from_millis(300)).await;
    w.change_request(REQUESTER, CrState::Submitted).await;
    for (who, mut socket) in listening {
        let (got, message) = match next(&mut socket).await {
            Ok(message) => {
                // A refusal comes as a `next` whose payload carries the errors (or as an
                // `error` message); an event as a `next` with data.
                let errors = match message["type"].as_str() {
                    Some("next") => &message["payload"]["errors"],
                    _ => &message["payload"],
                };
                let got = match errors[0]["extensions"]["code"].as_str() {
                    None if message["type"] == "next" && errors.is_null() => Outcome::Allowed,
                    Some("NOT_FOUND") => Outcome::NotFound,
                    Some("FORBIDDEN") => Outcome::Forbidden,
                    Some("UNAUTHENTICATED") => Outcome::Unauthenticated,
                    _ => Outcome::Unexpected,
                };
                (got, message)
            }
            Err(Ended::Closed(why)) => (Outcome::Unexpected, json!(format!("closed: {why}"))),
            Err(Ended::Silent) => (Outcome::Unexpected, json!("no event within 5 s")),
        };
        report.cell(row, who, row.expect(who), got, &message);
    }
}

/// The matrix covers every root field of the schema, every project role has a caller, and
/// every operation in it is one the README permission table names.
#[test]
fn the_matrix_covers_every_root_field_and_names_only_readme_operations() {
    let table = table();
    let ops: BTreeSet<&str> = table.iter().map(|row| row.op).collect();
    let schema = schema();
    let missing: Vec<String> = schema
        .roots
        .iter()
        .flat_map(|(root, fields)| {
            fields
                .iter()
                .filter(|field| !ops.contains(field.as_str()))
                .map(move |field| format!("{root}.{field}"))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "root fields missing from the matrix: {missing:?}"
    );
    let in_schema: BTreeSet<&str> = schema
        .roots
        .iter()
        .flat_map(|(_, fields)| fields.iter().map(String::as_str))
        .collect();
    let stale: Vec<&str> = ops.difference(&in_schema).copied().collect();
    assert!(
        stale.is_empty(),
        "matrix rows for fields the schema lacks: {stale:?}"
    );
    let roles: Vec<&str> = ProjectRole::ALL
        .iter()
        .map(|role| role.as_str())
        .filter(|code| !Who::ALL.iter().any(|who| who.role() == Some(code)))
        .collect();
    assert!(roles.is_empty(), "project roles no caller holds: {roles:?}");
    let readme = read_repo_file("README.md");
    let section = permissions_section(&readme);
    let unnamed: BTreeSet<&str> = table
        .iter()
        .map(|row| row.name)
        .filter(|name| !section.contains(&format!("`{name}`")))
        .collect();
    assert!(
        unnamed.is_empty(),
        "operations the README permission table does not name: {unnamed:?}"
    );
}
