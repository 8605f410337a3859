//! The scope statement (DOMAIN §3, §12.5): the versioned document that draws the project's
//! boundary — objectives, what is in and out of scope, deliverables, assumptions, constraints
//! and acceptance criteria — and the sign-off lifecycle that turns one version into the scope
//! baseline.
//!
//! ```text
//! DRAFT ─edit─▶ DRAFT
//! DRAFT ─submitForReview─▶ IN_REVIEW ─sign─▶ IN_REVIEW (BASELINED once all required have signed)
//!     IN_REVIEW ─reject─▶ DRAFT
//! BASELINED ─supersede (a new version through an approved change request)─▶ SUPERSEDED
//! ```
//!
//! Every entry of the document keeps a stable id across versions, so two versions can be
//! compared entry by entry ([`diff`]) and scope creep shows up as named additions.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::decision::UnknownCode;
use super::error::{Refusal, RefusalCode, Refusals};
use super::role::{ProjectRole, RoleSet};
use super::text::single_line;

/// Longest objective, item or statement text.
pub const MAX_TEXT_CHARS: usize = 500;
/// Longest KPI name, baseline or target of an objective.
pub const MAX_MEASURE_CHARS: usize = 200;
/// Most entries in one section of the document.
pub const MAX_ENTRIES_PER_SECTION: usize = 200;

const OBJECTIVES: &str = "objectives";
const IN_SCOPE: &str = "inScope";
const OUT_OF_SCOPE: &str = "outOfScope";
const DELIVERABLES: &str = "deliverables";
const ASSUMPTIONS: &str = "assumptions";
const CONSTRAINTS: &str = "constraints";
const ACCEPTANCE_CRITERIA: &str = "acceptanceCriteria";

/// What an in-scope or out-of-scope item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ItemCategory {
    Department,
    Process,
    Module,
    Integration,
    DataObject,
    Report,
}

impl ItemCategory {
    pub const ALL: [ItemCategory; 6] = [
        Self::Department,
        Self::Process,
        Self::Module,
        Self::Integration,
        Self::DataObject,
        Self::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Department => "DEPARTMENT",
            Self::Process => "PROCESS",
            Self::Module => "MODULE",
            Self::Integration => "INTEGRATION",
            Self::DataObject => "DATA_OBJECT",
            Self::Report => "REPORT",
        }
    }
}

impl fmt::Display for ItemCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemCategory {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// Something the project includes or excludes: a department, process, module, ...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeItem {
    pub id: Uuid,
    pub category: ItemCategory,
    pub text: String,
}

/// A project objective, with the KPI that measures it when there is one (DOMAIN §10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    pub id: Uuid,
    pub text: String,
    pub kpi: Option<String>,
    pub baseline: Option<String>,
    pub target: Option<String>,
}

impl Objective {
    /// Whether the objective can be measured: a KPI, where it starts and where it must get to
    /// (DOMAIN §12.1's "quantifiable objective with baseline").
    pub fn is_measurable(&self) -> bool {
        self.kpi.is_some() && self.baseline.is_some() && self.target.is_some()
    }
}

/// A plain statement with a stable id (deliverables, assumptions, constraints, acceptance
/// criteria).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    pub id: Uuid,
    pub text: String,
}

/// The whole document of one version; stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
// A section added later must not make older stored versions unreadable.
#[serde(rename_all = "camelCase", default)]
pub struct ScopeDocument {
    pub objectives: Vec<Objective>,
    pub in_scope: Vec<ScopeItem>,
    pub out_of_scope: Vec<ScopeItem>,
    pub deliverables: Vec<Statement>,
    pub assumptions: Vec<Statement>,
    pub constraints: Vec<Statement>,
    pub acceptance_criteria: Vec<Statement>,
}

/// The in-scope items an approved change request takes out of the scope baseline and puts in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InScopeChange {
    pub removed: Vec<Uuid>,
    pub added: Vec<ScopeItem>,
}

/// Why an approved in-scope change no longer fits the scope baseline it is applied to (the
/// baseline moved since the change was assessed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InScopeConflict {
    /// A removed item the baseline no longer holds.
    RemovedItemGone(Uuid),
    /// An added item whose text the baseline already holds in scope: adding it again would
    /// list it twice.
    AlreadyInScope(String),
}

impl InScopeChange {
    /// Applies the change to the baseline it was approved against, every item added moving out
    /// of the out-of-scope list when it was there (by text, as [`Self::carry_into_draft`]
    /// does), so that the new baseline never holds an item both in and out of scope. On a
    /// conflict the baseline is left as it was.
    pub fn apply_to_baseline(&self, baseline: &mut ScopeDocument) -> Result<(), InScopeConflict> {
        let mut changed = baseline.clone();
        for id in &self.removed {
            let position = changed
                .in_scope
                .iter()
                .position(|item| item.id == *id)
                .ok_or(InScopeConflict::RemovedItemGone(*id))?;
            changed.in_scope.remove(position);
        }
        for item in &self.added {
            let key = text_key(&item.text);
            if changed
                .in_scope
                .iter()
                .any(|held| text_key(&held.text) == key)
            {
                return Err(InScopeConflict::AlreadyInScope(item.text.clone()));
            }
            changed
                .out_of_scope
                .retain(|excluded| text_key(&excluded.text) != key);
            changed.in_scope.push(item.clone());
        }
        *baseline = changed;
        Ok(())
    }

    /// Carries the change into a version drafted from the baseline it replaced, so that the
    /// draft, once baselined, does not undo it: the removed items go (a draft that already
    /// took one out stays as it is), the added ones come in, with the ids the new baseline
    /// gives them, and out of the draft's out-of-scope list. An added item whose text the
    /// draft already holds in scope (its editor saw it coming) is not added twice.
    pub fn carry_into_draft(&self, draft: &mut ScopeDocument) {
        draft
            .in_scope
            .retain(|item| !self.removed.contains(&item.id));
        for item in &self.added {
            let key = text_key(&item.text);
            draft
                .out_of_scope
                .retain(|excluded| text_key(&excluded.text) != key);
            let held = draft
                .in_scope
                .iter()
                .any(|held| held.id == item.id || text_key(&held.text) == key);
            if !held {
                draft.in_scope.push(item.clone());
            }
        }
    }
}

/// An in-scope or out-of-scope item as typed: an existing id keeps the item's identity across
/// versions; `None` gets a new id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInput {
    pub id: Option<Uuid>,
    pub category: ItemCategory,
    pub text: String,
}

/// An objective as typed; see [`ItemInput`] for the id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObjectiveInput {
    pub id: Option<Uuid>,
    pub text: String,
    pub kpi: Option<String>,
    pub baseline: Option<String>,
    pub target: Option<String>,
}

/// A statement as typed; see [`ItemInput`] for the id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatementInput {
    pub id: Option<Uuid>,
    pub text: String,
}

/// A whole document as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentInput {
    pub objectives: Vec<ObjectiveInput>,
    pub in_scope: Vec<ItemInput>,
    pub out_of_scope: Vec<ItemInput>,
    pub deliverables: Vec<StatementInput>,
    pub assumptions: Vec<StatementInput>,
    pub constraints: Vec<StatementInput>,
    pub acceptance_criteria: Vec<StatementInput>,
}

/// Validates and builds a document, reporting every bad field at once. Field paths are
/// relative to the mutation input, e.g. `["inScope", "2", "text"]`.
///
/// - Texts are single lines of 1..=500 characters; an objective's KPI, baseline and target are
///   optional (blank means absent) and at most 200 characters.
/// - A section holds at most 200 entries.
/// - An id may appear once in the whole document, and must name an entry of the same kind in
///   `previous` (the version the draft started from): objectives among objectives, scope items
///   among in- and out-of-scope items (so an item can cross the boundary and stay itself),
///   statements within their own section. Anything else is an "unknown item id".
/// - The same text twice in one section is refused (ignoring case), and so is an out-of-scope
///   item that is also in scope: the boundary must not contradict itself.
/// - Entries without an id get `new_id()` (`Uuid::now_v7` in production).
pub fn build_document(
    input: DocumentInput,
    previous: Option<&ScopeDocument>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<ScopeDocument, Vec<Refusal>> {
    let known = KnownIds::of(previous);
    let mut builder = Builder {
        refusals: Refusals::default(),
        ids_given: HashSet::new(),
        new_id,
    };

    let objectives = builder.objectives(input.objectives, &known.objectives);
    let in_scope = builder.items(IN_SCOPE, input.in_scope, &known.items, &HashSet::new());
    let in_scope_texts: HashSet<String> = in_scope.iter().map(|i| text_key(&i.text)).collect();
    let out_of_scope = builder.items(
        OUT_OF_SCOPE,
        input.out_of_scope,
        &known.items,
        &in_scope_texts,
    );
    let deliverables = builder.statements(DELIVERABLES, input.deliverables, &known.deliverables);
    let assumptions = builder.statements(ASSUMPTIONS, input.assumptions, &known.assumptions);
    let constraints = builder.statements(CONSTRAINTS, input.constraints, &known.constraints);
    let acceptance_criteria = builder.statements(
        ACCEPTANCE_CRITERIA,
        input.acceptance_criteria,
        &known.acceptance_criteria,
    );

    builder.refusals.finish()?;
    Ok(ScopeDocument {
        objectives,
        in_scope,
        out_of_scope,
        deliverables,
        assumptions,
        constraints,
        acceptance_criteria,
    })
}

/// The ids of `previous` that each kind of entry may reuse.
#[derive(Default)]
struct KnownIds {
    objectives: HashSet<Uuid>,
    items: HashSet<Uuid>,
    deliverables: HashSet<Uuid>,
    assumptions: HashSet<Uuid>,
    constraints: HashSet<Uuid>,
    acceptance_criteria: HashSet<Uuid>,
}

impl KnownIds {
    fn of(previous: Option<&ScopeDocument>) -> Self {
        let Some(doc) = previous else {
            return Self::default();
        };
        let statement_ids = |list: &[Statement]| list.iter().map(|s| s.id).collect();
        Self {
            objectives: doc.objectives.iter().map(|o| o.id).collect(),
            items: doc
                .in_scope
                .iter()
                .chain(&doc.out_of_scope)
                .map(|i| i.id)
                .collect(),
            deliverables: statement_ids(&doc.deliverables),
            assumptions: statement_ids(&doc.assumptions),
            constraints: statement_ids(&doc.constraints),
            acceptance_criteria: statement_ids(&doc.acceptance_criteria),
        }
    }
}

struct Builder<'a> {
    refusals: Refusals,
    ids_given: HashSet<Uuid>,
    new_id: &'a mut dyn FnMut() -> Uuid,
}

impl Builder<'_> {
    /// Whether the section is small enough to check entry by entry. An oversized section is
    /// refused as a whole so that one bad request cannot produce thousands of refusals.
    fn section_fits(&mut self, section: &str, len: usize) -> bool {
        if len <= MAX_ENTRIES_PER_SECTION {
            return true;
        }
        self.refusals.push(Refusal::bad_input(
            &[section],
            format!("must have at most {MAX_ENTRIES_PER_SECTION} entries"),
        ));
        false
    }

    fn resolve_id(
        &mut self,
        section: &str,
        index: &str,
        given: Option<Uuid>,
        known: &HashSet<Uuid>,
    ) -> Uuid {
        let Some(id) = given else {
            return (self.new_id)();
        };
        let field = [section, index, "id"];
        if !self.ids_given.insert(id) {
            self.refusals.push(Refusal::bad_input(
                &field,
                "this id is already used elsewhere in the document",
            ));
        } else if !known.contains(&id) {
            self.refusals.push(Refusal::new(
                RefusalCode::NotFound,
                &field,
                "unknown item id",
            ));
        }
        id
    }

    /// The entry's text, or `None` when it is malformed or repeats an earlier one.
    fn text(
        &mut self,
        section: &str,
        index: &str,
        raw: &str,
        texts_seen: &mut HashSet<String>,
    ) -> Option<String> {
        let field = [section, index, "text"];
        let text = self
            .refusals
            .field(&field, single_line(raw, MAX_TEXT_CHARS))?;
        if !texts_seen.insert(text_key(&text)) {
            self.refusals.push(Refusal::bad_input(
                &field,
                "the same text is already in this list",
            ));
            return None;
        }
        Some(text)
    }

    fn objectives(&mut self, inputs: Vec<ObjectiveInput>, known: &HashSet<Uuid>) -> Vec<Objective> {
        if !self.section_fits(OBJECTIVES, inputs.len()) {
            return Vec::new();
        }
        let mut texts_seen = HashSet::new();
        let mut objectives = Vec::with_capacity(inputs.len());
        for (position, input) in inputs.into_iter().enumerate() {
            let index = position.to_string();
            let id = self.resolve_id(OBJECTIVES, &index, input.id, known);
            let text = self.text(OBJECTIVES, &index, &input.text, &mut texts_seen);
            let kpi = self.measure(&index, "kpi", input.kpi.as_deref());
            let baseline = self.measure(&index, "baseline", input.baseline.as_deref());
            let target = self.measure(&index, "target", input.target.as_deref());
            if let (Some(text), Some(kpi), Some(baseline), Some(target)) =
                (text, kpi, baseline, target)
            {
                objectives.push(Objective {
                    id,
                    text,
                    kpi,
                    baseline,
                    target,
                });
            }
        }
        objectives
    }

    /// An optional objective measure: `Some(None)` when absent or blank, `None` when refused.
    fn measure(&mut self, index: &str, name: &str, raw: Option<&str>) -> Option<Option<String>> {
        match raw.map(str::trim) {
            None | Some("") => Some(None),
            Some(value) => self
                .refusals
                .field(
                    &[OBJECTIVES, index, name],
                    single_line(value, MAX_MEASURE_CHARS),
                )
                .map(Some),
        }
    }

    fn items(
        &mut self,
        section: &str,
        inputs: Vec<ItemInput>,
        known: &HashSet<Uuid>,
        texts_on_other_side: &HashSet<String>,
    ) -> Vec<ScopeItem> {
        if !self.section_fits(section, inputs.len()) {
            return Vec::new();
        }
        let mut texts_seen = HashSet::new();
        let mut items = Vec::with_capacity(inputs.len());
        for (position, input) in inputs.into_iter().enumerate() {
            let index = position.to_string();
            let id = self.resolve_id(section, &index, input.id, known);
            let Some(text) = self.text(section, &index, &input.text, &mut texts_seen) else {
                continue;
            };
            if texts_on_other_side.contains(&text_key(&text)) {
                self.refusals.push(Refusal::bad_input(
                    &[section, &index, "text"],
                    "this item is also listed as in scope",
                ));
                continue;
            }
            items.push(ScopeItem {
                id,
                category: input.category,
                text,
            });
        }
        items
    }

    fn statements(
        &mut self,
        section: &str,
        inputs: Vec<StatementInput>,
        known: &HashSet<Uuid>,
    ) -> Vec<Statement> {
        if !self.section_fits(section, inputs.len()) {
            return Vec::new();
        }
        let mut texts_seen = HashSet::new();
        let mut statements = Vec::with_capacity(inputs.len());
        for (position, input) in inputs.into_iter().enumerate() {
            let index = position.to_string();
            let id = self.resolve_id(section, &index, input.id, known);
            if let Some(text) = self.text(section, &index, &input.text, &mut texts_seen) {
                statements.push(Statement { id, text });
            }
        }
        statements
    }
}

/// Two texts differing only in case say the same thing.
fn text_key(text: &str) -> String {
    text.to_lowercase()
}

/// Whether two item texts name the same item: the document compares texts ignoring case.
pub fn same_item_text(one: &str, other: &str) -> bool {
    text_key(one) == text_key(other)
}

/// What review needs: at least one objective and one in-scope item, because scope must be
/// explicit before anyone signs it (DOMAIN §3). Each gap is refused on its own field.
pub fn check_ready_for_review(doc: &ScopeDocument) -> Result<(), Vec<Refusal>> {
    let mut refusals = Refusals::default();
    if doc.objectives.is_empty() {
        refusals.push(Refusal::precondition(
            &[OBJECTIVES],
            "a scope statement needs at least one objective before review",
        ));
    }
    if doc.in_scope.is_empty() {
        refusals.push(Refusal::precondition(
            &[IN_SCOPE],
            "a scope statement needs at least one in-scope item before review",
        ));
    }
    refusals.finish()
}

/// DOMAIN §3, §12.5: once a project is initiated on its signed scope, its in-scope items change
/// only through an approved change request, which baselines a version of its own. A version
/// drafted by hand may still refine the objectives, the out-of-scope list, the deliverables,
/// assumptions, constraints and acceptance criteria under its signatories' signatures, but it
/// keeps the in-scope items of `basis`, the scope baseline: none added, none dropped, none
/// reworded. Items are the same by text, ignoring case, as everywhere in the document, so
/// reordering or recategorising one is no change. Before initiation the scope is still being
/// agreed, and any version may redraw it. The refusal, on `field`, names each item added and
/// dropped.
pub fn check_boundary_kept(
    initiated: bool,
    basis: Option<&ScopeDocument>,
    draft: &ScopeDocument,
    field: &[&str],
) -> Result<(), Refusal> {
    let Some(basis) = basis.filter(|_| initiated) else {
        return Ok(());
    };
    let missing_from = |items: &[ScopeItem], other: &[ScopeItem]| -> Vec<String> {
        items
            .iter()
            .filter(|item| !other.iter().any(|o| same_item_text(&o.text, &item.text)))
            .map(|item| format!("\"{}\"", item.text))
            .collect()
    };
    let added = missing_from(&draft.in_scope, &basis.in_scope);
    let dropped = missing_from(&basis.in_scope, &draft.in_scope);
    let mut changes = Vec::new();
    if !added.is_empty() {
        changes.push(format!("adds {}", added.join(", ")));
    }
    if !dropped.is_empty() {
        changes.push(format!("drops {}", dropped.join(", ")));
    }
    if changes.is_empty() {
        return Ok(());
    }
    Err(Refusal::precondition(
        field,
        format!(
            "the project is initiated, so its in-scope items change only through a change \
             request: this version {} in scope",
            changes.join(" and ")
        ),
    ))
}

/// Where one version of the scope statement stands, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeStatus {
    Draft,
    InReview,
    /// Signed by every required signatory: the scope baseline.
    Baselined,
    /// Replaced by a newer baseline.
    Superseded,
}

impl ScopeStatus {
    pub const ALL: [ScopeStatus; 4] = [
        Self::Draft,
        Self::InReview,
        Self::Baselined,
        Self::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::InReview => "IN_REVIEW",
            Self::Baselined => "BASELINED",
            Self::Superseded => "SUPERSEDED",
        }
    }
}

impl fmt::Display for ScopeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScopeStatus {
    type Err = UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == code)
            .ok_or_else(|| UnknownCode(code.to_owned()))
    }
}

/// The commands of the scope statement lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScopeCommand {
    Edit,
    SubmitForReview,
    Sign,
    Reject,
    Supersede,
}

impl ScopeCommand {
    pub const ALL: [ScopeCommand; 5] = [
        Self::Edit,
        Self::SubmitForReview,
        Self::Sign,
        Self::Reject,
        Self::Supersede,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Edit => "EDIT",
            Self::SubmitForReview => "SUBMIT_FOR_REVIEW",
            Self::Sign => "SIGN",
            Self::Reject => "REJECT",
            Self::Supersede => "SUPERSEDE",
        }
    }
}

/// The next status, or `None` when the lifecycle has no such edge.
fn target(from: ScopeStatus, command: ScopeCommand) -> Option<ScopeStatus> {
    use ScopeCommand as C;
    use ScopeStatus as S;
    match (from, command) {
        (S::Draft, C::Edit) => Some(S::Draft),
        (S::Draft, C::SubmitForReview) => Some(S::InReview),
        // Signing alone never baselines: only the last required signature does, and only the
        // service knows who has signed (see `all_signed`).
        (S::InReview, C::Sign) => Some(S::InReview),
        (S::InReview, C::Reject) => Some(S::Draft),
        (S::Baselined, C::Supersede) => Some(S::Superseded),
        (S::Draft, C::Sign | C::Reject | C::Supersede)
        | (S::InReview, C::Edit | C::SubmitForReview | C::Supersede)
        | (S::Baselined, C::Edit | C::SubmitForReview | C::Sign | C::Reject)
        | (S::Superseded, _) => None,
    }
}

/// The commands a version in `status` accepts.
pub fn allowed_commands(status: ScopeStatus) -> Vec<ScopeCommand> {
    ScopeCommand::ALL
        .into_iter()
        .filter(|command| target(status, *command).is_some())
        .collect()
}

/// Applies a command, or refuses it naming the current status and the commands it allows. The
/// refusal points at `id`, the version the mutation acts on.
pub fn transition(from: ScopeStatus, command: ScopeCommand) -> Result<ScopeStatus, Refusal> {
    target(from, command).ok_or_else(|| {
        let allowed = allowed_commands(from)
            .into_iter()
            .map(|c| c.as_str().to_owned());
        Refusal::invalid_transition(&["id"], from.as_str(), command.as_str(), allowed)
    })
}

/// Checks the required signatories the PM names at review: each an active member, none twice,
/// and among them at least one SPONSOR and one BUSINESS_REP, so that both the money and the
/// business agree to the boundary. `members` holds `(user_id, roles, active)`.
pub fn check_signatories(
    signatories: &[Uuid],
    members: &[(Uuid, RoleSet, bool)],
) -> Result<(), Vec<Refusal>> {
    const FIELD: &str = "signatoryIds";
    let mut refusals = Refusals::default();
    let mut seen = HashSet::new();
    let mut has_sponsor = false;
    let mut has_business_rep = false;
    for (position, user_id) in signatories.iter().enumerate() {
        let index = position.to_string();
        let field = [FIELD, index.as_str()];
        if !seen.insert(*user_id) {
            refusals.push(Refusal::bad_input(&field, "this signatory is listed twice"));
            continue;
        }
        match members
            .iter()
            .find(|(member_id, _, _)| member_id == user_id)
        {
            None => refusals.push(Refusal::not_found(&field, "project member")),
            Some((_, _, false)) => refusals.push(Refusal::bad_input(
                &field,
                "this member is inactive and cannot sign",
            )),
            Some((_, roles, true)) => {
                has_sponsor |= roles.contains(ProjectRole::Sponsor);
                has_business_rep |= roles.contains(ProjectRole::BusinessRep);
            }
        }
    }
    for (present, role) in [
        (has_sponsor, ProjectRole::Sponsor),
        (has_business_rep, ProjectRole::BusinessRep),
    ] {
        if !present {
            refusals.push(Refusal::bad_input(
                &[FIELD],
                format!("the signatories must include an active {}", role.as_str()),
            ));
        }
    }
    refusals.finish()
}

/// Whether every required signatory has signed. A version nobody is required to sign is never
/// signed off: the baseline must carry the stakeholders' signatures (DOMAIN §3).
pub fn all_signed(required: &[Uuid], signed: &[Uuid]) -> bool {
    !required.is_empty() && required.iter().all(|user_id| signed.contains(user_id))
}

/// How one entry differs between two versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    Added,
    Removed,
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Removed => "REMOVED",
            Self::Changed => "CHANGED",
        }
    }
}

/// One difference between two documents, each side rendered on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDifference {
    /// "objectives", "inScope", "outOfScope", "deliverables", "assumptions", "constraints" or
    /// "acceptanceCriteria".
    pub section: &'static str,
    pub item_id: Uuid,
    pub change: Change,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Entries added, removed and changed between two versions, matched by stable id. Sections
/// come in document order; within a section, the `to` document's order, then removed entries
/// in the `from` document's order. Moving an entry within its section is not a change.
pub fn diff(from: &ScopeDocument, to: &ScopeDocument) -> Vec<ScopeDifference> {
    let mut differences = Vec::new();
    diff_section(
        &mut differences,
        OBJECTIVES,
        &rendered(&from.objectives, |o| o.id, render_objective),
        &rendered(&to.objectives, |o| o.id, render_objective),
    );
    for (section, before, after) in [
        (IN_SCOPE, &from.in_scope, &to.in_scope),
        (OUT_OF_SCOPE, &from.out_of_scope, &to.out_of_scope),
    ] {
        diff_section(
            &mut differences,
            section,
            &rendered(before, |i| i.id, render_item),
            &rendered(after, |i| i.id, render_item),
        );
    }
    for (section, before, after) in [
        (DELIVERABLES, &from.deliverables, &to.deliverables),
        (ASSUMPTIONS, &from.assumptions, &to.assumptions),
        (CONSTRAINTS, &from.constraints, &to.constraints),
        (
            ACCEPTANCE_CRITERIA,
            &from.acceptance_criteria,
            &to.acceptance_criteria,
        ),
    ] {
        diff_section(
            &mut differences,
            section,
            &rendered(before, |s| s.id, |s| s.text.clone()),
            &rendered(after, |s| s.id, |s| s.text.clone()),
        );
    }
    differences
}

fn rendered<T>(
    entries: &[T],
    id: impl Fn(&T) -> Uuid,
    render: impl Fn(&T) -> String,
) -> Vec<(Uuid, String)> {
    entries.iter().map(|e| (id(e), render(e))).collect()
}

fn diff_section(
    differences: &mut Vec<ScopeDifference>,
    section: &'static str,
    before: &[(Uuid, String)],
    after: &[(Uuid, String)],
) {
    let find = |entries: &[(Uuid, String)], id: Uuid| {
        entries
            .iter()
            .find(|(entry_id, _)| *entry_id == id)
            .map(|(_, line)| line.clone())
    };
    for (id, line) in after {
        let difference = |change, before| ScopeDifference {
            section,
            item_id: *id,
            change,
            before,
            after: Some(line.clone()),
        };
        match find(before, *id) {
            None => differences.push(difference(Change::Added, None)),
            Some(old) if old != *line => differences.push(difference(Change::Changed, Some(old))),
            Some(_) => {}
        }
    }
    for (id, line) in before {
        if find(after, *id).is_none() {
            differences.push(ScopeDifference {
                section,
                item_id: *id,
                change: Change::Removed,
                before: Some(line.clone()),
                after: None,
            });
        }
    }
}

/// "MODULE: Lead management".
fn render_item(item: &ScopeItem) -> String {
    format!("{}: {}", item.category.as_str(), item.text)
}

/// "Raise conversion — KPI Lead conversion: 12% → 18%", leaving out what is not set and
/// showing "?" for half a measure, so a missing target is visible in the comparison.
fn render_objective(objective: &Objective) -> String {
    let measure = match (objective.baseline.as_deref(), objective.target.as_deref()) {
        (None, None) => None,
        (baseline, target) => Some(format!(
            "{} → {}",
            baseline.unwrap_or("?"),
            target.unwrap_or("?")
        )),
    };
    let suffix = match (objective.kpi.as_deref(), measure) {
        (None, None) => return objective.text.clone(),
        (Some(kpi), None) => format!("KPI {kpi}"),
        (Some(kpi), Some(measure)) => format!("KPI {kpi}: {measure}"),
        (None, Some(measure)) => measure,
    };
    format!("{} — {suffix}", objective.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids 1, 2, 3, ... so that expected documents can be written out.
    fn counting_ids() -> impl FnMut() -> Uuid {
        let mut next = 0_u128;
        move || {
            next += 1;
            Uuid::from_u128(next)
        }
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn item(id: Option<Uuid>, category: ItemCategory, text: &str) -> ItemInput {
        ItemInput {
            id,
            category,
            text: text.to_owned(),
        }
    }

    fn statement(id: Option<Uuid>, text: &str) -> StatementInput {
        StatementInput {
            id,
            text: text.to_owned(),
        }
    }

    fn objective(id: Option<Uuid>, text: &str) -> ObjectiveInput {
        ObjectiveInput {
            id,
            text: text.to_owned(),
            ..ObjectiveInput::default()
        }
    }

    fn fields(refusals: &[Refusal]) -> Vec<(RefusalCode, String)> {
        refusals
            .iter()
            .map(|r| (r.code, r.field.join(".")))
            .collect()
    }

    /// The version a new draft starts from: ids in the 100s.
    fn previous() -> ScopeDocument {
        ScopeDocument {
            objectives: vec![Objective {
                id: id(101),
                text: "Raise lead conversion".into(),
                kpi: Some("Lead conversion rate".into()),
                baseline: Some("12%".into()),
                target: Some("18%".into()),
            }],
            in_scope: vec![
                ScopeItem {
                    id: id(111),
                    category: ItemCategory::Module,
                    text: "Lead management".into(),
                },
                ScopeItem {
                    id: id(112),
                    category: ItemCategory::Department,
                    text: "Sales".into(),
                },
            ],
            out_of_scope: vec![ScopeItem {
                id: id(121),
                category: ItemCategory::Module,
                text: "Marketing automation".into(),
            }],
            deliverables: vec![Statement {
                id: id(131),
                text: "Configured SFA module".into(),
            }],
            assumptions: vec![Statement {
                id: id(141),
                text: "Sales reps are available for UAT".into(),
            }],
            constraints: vec![Statement {
                id: id(151),
                text: "Go-live before the fiscal year end".into(),
            }],
            acceptance_criteria: vec![Statement {
                id: id(161),
                text: "All P1 defects closed".into(),
            }],
        }
    }

    #[test]
    fn every_status_and_command_pair_follows_the_table() {
        use ScopeCommand as C;
        use ScopeStatus as S;
        let table: [(S, C, Option<S>); 20] = [
            (S::Draft, C::Edit, Some(S::Draft)),
            (S::Draft, C::SubmitForReview, Some(S::InReview)),
            (S::Draft, C::Sign, None),
            (S::Draft, C::Reject, None),
            (S::Draft, C::Supersede, None),
            (S::InReview, C::Edit, None),
            (S::InReview, C::SubmitForReview, None),
            (S::InReview, C::Sign, Some(S::InReview)),
            (S::InReview, C::Reject, Some(S::Draft)),
            (S::InReview, C::Supersede, None),
            (S::Baselined, C::Edit, None),
            (S::Baselined, C::SubmitForReview, None),
            (S::Baselined, C::Sign, None),
            (S::Baselined, C::Reject, None),
            (S::Baselined, C::Supersede, Some(S::Superseded)),
            (S::Superseded, C::Edit, None),
            (S::Superseded, C::SubmitForReview, None),
            (S::Superseded, C::Sign, None),
            (S::Superseded, C::Reject, None),
            (S::Superseded, C::Supersede, None),
        ];
        for (from, command, expected) in table {
            match (transition(from, command), expected) {
                (Ok(to), Some(expected)) => assert_eq!(to, expected, "{from} {command:?}"),
                (Err(refusal), None) => {
                    assert_eq!(refusal.code, RefusalCode::InvalidTransition);
                    assert_eq!(refusal.current_state.as_deref(), Some(from.as_str()));
                    let allowed: Vec<String> = allowed_commands(from)
                        .into_iter()
                        .map(|c| c.as_str().to_owned())
                        .collect();
                    assert_eq!(refusal.allowed_actions, allowed, "{from} {command:?}");
                }
                (outcome, expected) => panic!("{from} {command:?}: {outcome:?}, not {expected:?}"),
            }
        }
    }

    #[test]
    fn a_superseded_version_allows_nothing_and_a_draft_allows_editing_and_submitting() {
        assert!(allowed_commands(ScopeStatus::Superseded).is_empty());
        assert_eq!(
            allowed_commands(ScopeStatus::Draft),
            [ScopeCommand::Edit, ScopeCommand::SubmitForReview]
        );
    }

    #[test]
    fn codes_round_trip() {
        for status in ScopeStatus::ALL {
            assert_eq!(status.as_str().parse::<ScopeStatus>(), Ok(status));
        }
        for category in ItemCategory::ALL {
            assert_eq!(category.as_str().parse::<ItemCategory>(), Ok(category));
            let json = serde_json::to_string(&category).unwrap();
            assert_eq!(json, format!("\"{}\"", category.as_str()));
        }
        assert!("SIGNED_OFF".parse::<ScopeStatus>().is_err());
        assert!("FEATURE".parse::<ItemCategory>().is_err());
    }

    #[test]
    fn a_first_draft_gets_new_ids_in_order_and_trimmed_texts() {
        let input = DocumentInput {
            objectives: vec![ObjectiveInput {
                id: None,
                text: " Raise lead conversion ".into(),
                kpi: Some("Lead conversion rate".into()),
                baseline: Some("  ".into()),
                target: Some("18%".into()),
            }],
            in_scope: vec![item(None, ItemCategory::Module, "Lead management")],
            out_of_scope: vec![item(None, ItemCategory::Module, "Marketing automation")],
            acceptance_criteria: vec![statement(None, "All P1 defects closed")],
            ..DocumentInput::default()
        };
        let doc = build_document(input, None, &mut counting_ids()).unwrap();
        assert_eq!(
            doc.objectives,
            [Objective {
                id: id(1),
                text: "Raise lead conversion".into(),
                kpi: Some("Lead conversion rate".into()),
                baseline: None,
                target: Some("18%".into()),
            }]
        );
        assert_eq!(doc.in_scope[0].id, id(2));
        assert_eq!(doc.out_of_scope[0].id, id(3));
        assert_eq!(doc.acceptance_criteria[0].id, id(4));
        assert!(doc.deliverables.is_empty());
    }

    #[test]
    fn given_ids_keep_their_identity_and_new_entries_get_new_ids() {
        let previous = previous();
        let input = DocumentInput {
            objectives: vec![objective(Some(id(101)), "Raise lead conversion")],
            in_scope: vec![
                item(None, ItemCategory::Integration, "ERP order sync"),
                item(Some(id(111)), ItemCategory::Module, "Lead management"),
            ],
            // Descoping keeps the item itself: it crosses the boundary with its id.
            out_of_scope: vec![item(Some(id(112)), ItemCategory::Department, "Sales")],
            deliverables: vec![statement(Some(id(131)), "Configured SFA module")],
            ..DocumentInput::default()
        };
        let doc = build_document(input, Some(&previous), &mut counting_ids()).unwrap();
        assert_eq!(doc.objectives[0].id, id(101));
        assert_eq!(
            doc.in_scope.iter().map(|i| i.id).collect::<Vec<_>>(),
            [id(1), id(111)]
        );
        assert_eq!(doc.out_of_scope[0].id, id(112));
        assert_eq!(doc.deliverables[0].id, id(131));
    }

    #[test]
    fn ids_unknown_to_the_previous_version_or_of_another_kind_are_refused() {
        let previous = previous();
        let input = DocumentInput {
            objectives: vec![objective(Some(id(111)), "An item's id on an objective")],
            in_scope: vec![item(Some(id(999)), ItemCategory::Module, "Made-up id")],
            deliverables: vec![statement(Some(id(141)), "An assumption's id")],
            ..DocumentInput::default()
        };
        let refusals = build_document(input, Some(&previous), &mut counting_ids()).unwrap_err();
        assert_eq!(
            fields(&refusals),
            [
                (RefusalCode::NotFound, "objectives.0.id".into()),
                (RefusalCode::NotFound, "inScope.0.id".into()),
                (RefusalCode::NotFound, "deliverables.0.id".into()),
            ]
        );

        let without_previous = DocumentInput {
            constraints: vec![statement(Some(id(151)), "No previous version")],
            ..DocumentInput::default()
        };
        let refusals = build_document(without_previous, None, &mut counting_ids()).unwrap_err();
        assert_eq!(
            fields(&refusals),
            [(RefusalCode::NotFound, "constraints.0.id".into())]
        );
    }

    #[test]
    fn an_id_given_twice_is_refused_on_its_second_occurrence() {
        let previous = previous();
        let input = DocumentInput {
            in_scope: vec![
                item(Some(id(111)), ItemCategory::Module, "Lead management"),
                item(
                    Some(id(111)),
                    ItemCategory::Module,
                    "Opportunity management",
                ),
            ],
            out_of_scope: vec![item(Some(id(111)), ItemCategory::Module, "Quoting")],
            ..DocumentInput::default()
        };
        let refusals = build_document(input, Some(&previous), &mut counting_ids()).unwrap_err();
        assert_eq!(
            fields(&refusals),
            [
                (RefusalCode::BadUserInput, "inScope.1.id".into()),
                (RefusalCode::BadUserInput, "outOfScope.0.id".into()),
            ]
        );
    }

    #[test]
    fn the_same_text_twice_in_a_list_or_on_both_sides_of_the_boundary_is_refused() {
        let input = DocumentInput {
            in_scope: vec![
                item(None, ItemCategory::Module, "Lead management"),
                item(None, ItemCategory::Process, "lead MANAGEMENT "),
            ],
            out_of_scope: vec![item(None, ItemCategory::Module, "Lead management")],
            // The same text in different lists is fine.
            deliverables: vec![statement(None, "Data migration")],
            constraints: vec![statement(None, "Data migration")],
            ..DocumentInput::default()
        };
        let refusals = build_document(input, None, &mut counting_ids()).unwrap_err();
        assert_eq!(
            fields(&refusals),
            [
                (RefusalCode::BadUserInput, "inScope.1.text".into()),
                (RefusalCode::BadUserInput, "outOfScope.0.text".into()),
            ]
        );
    }

    #[test]
    fn bad_texts_are_all_reported_at_once_with_their_paths() {
        let too_long = "x".repeat(MAX_TEXT_CHARS + 1);
        let measure_too_long = "m".repeat(MAX_MEASURE_CHARS + 1);
        let input = DocumentInput {
            objectives: vec![
                ObjectiveInput {
                    id: None,
                    text: "Shorten the sales cycle".into(),
                    kpi: Some(measure_too_long.clone()),
                    baseline: Some("45 days".into()),
                    target: Some("30\ndays".into()),
                },
                objective(None, "   "),
            ],
            in_scope: vec![
                item(None, ItemCategory::Module, "Lead management"),
                item(None, ItemCategory::Report, &too_long),
            ],
            assumptions: vec![statement(None, "")],
            acceptance_criteria: vec![statement(None, &"y".repeat(MAX_TEXT_CHARS))],
            ..DocumentInput::default()
        };
        let refusals = build_document(input, None, &mut counting_ids()).unwrap_err();
        assert_eq!(
            fields(&refusals),
            [
                (RefusalCode::BadUserInput, "objectives.0.kpi".into()),
                (RefusalCode::BadUserInput, "objectives.0.target".into()),
                (RefusalCode::BadUserInput, "objectives.1.text".into()),
                (RefusalCode::BadUserInput, "inScope.1.text".into()),
                (RefusalCode::BadUserInput, "assumptions.0.text".into()),
            ]
        );
    }

    #[test]
    fn a_section_over_the_limit_is_refused_as_a_whole() {
        let texts: Vec<String> = (0..=MAX_ENTRIES_PER_SECTION)
            .map(|n| format!("Assumption {n}"))
            .collect();
        let input = DocumentInput {
            assumptions: texts.iter().map(|t| statement(None, t)).collect(),
            constraints: texts[..MAX_ENTRIES_PER_SECTION]
                .iter()
                .map(|t| statement(None, t))
                .collect(),
            ..DocumentInput::default()
        };
        let refusals = build_document(input, None, &mut counting_ids()).unwrap_err();
        assert_eq!(
            fields(&refusals),
            [(RefusalCode::BadUserInput, "assumptions".into())]
        );
    }

    #[test]
    fn review_needs_an_objective_and_an_in_scope_item() {
        let refusals = check_ready_for_review(&ScopeDocument::default()).unwrap_err();
        assert_eq!(
            fields(&refusals),
            [
                (RefusalCode::PreconditionFailed, "objectives".into()),
                (RefusalCode::PreconditionFailed, "inScope".into()),
            ]
        );

        let mut only_objectives = previous();
        only_objectives.in_scope.clear();
        let refusals = check_ready_for_review(&only_objectives).unwrap_err();
        assert_eq!(
            fields(&refusals),
            [(RefusalCode::PreconditionFailed, "inScope".into())]
        );

        assert_eq!(check_ready_for_review(&previous()), Ok(()));
    }

    fn roles(roles: &[ProjectRole]) -> RoleSet {
        RoleSet::from_input(roles).unwrap()
    }

    fn members() -> Vec<(Uuid, RoleSet, bool)> {
        vec![
            (id(1), roles(&[ProjectRole::Sponsor]), true),
            (id(2), roles(&[ProjectRole::BusinessRep]), true),
            (
                id(3),
                roles(&[ProjectRole::ProjectManager, ProjectRole::ItRep]),
                true,
            ),
            (id(4), roles(&[ProjectRole::Sponsor]), false),
            (
                id(5),
                roles(&[ProjectRole::Sponsor, ProjectRole::BusinessRep]),
                true,
            ),
        ]
    }

    #[test]
    fn signatories_need_a_sponsor_and_a_business_rep_among_active_members() {
        let members = members();
        let cases = [
            (
                "sponsor and business rep",
                vec![id(1), id(2), id(3)],
                vec![],
            ),
            ("one member holding both roles", vec![id(5)], vec![]),
            (
                "missing sponsor",
                vec![id(2), id(3)],
                vec![(RefusalCode::BadUserInput, "signatoryIds".into())],
            ),
            (
                "missing business rep",
                vec![id(1)],
                vec![(RefusalCode::BadUserInput, "signatoryIds".into())],
            ),
            (
                "nobody",
                vec![],
                vec![
                    (RefusalCode::BadUserInput, "signatoryIds".into()),
                    (RefusalCode::BadUserInput, "signatoryIds".into()),
                ],
            ),
            (
                "duplicate",
                vec![id(1), id(2), id(1)],
                vec![(RefusalCode::BadUserInput, "signatoryIds.2".into())],
            ),
            (
                // The inactive sponsor does not count as the sponsor.
                "inactive sponsor",
                vec![id(4), id(2)],
                vec![
                    (RefusalCode::BadUserInput, "signatoryIds.0".into()),
                    (RefusalCode::BadUserInput, "signatoryIds".into()),
                ],
            ),
            (
                "non-member",
                vec![id(1), id(2), id(99)],
                vec![(RefusalCode::NotFound, "signatoryIds.2".into())],
            ),
        ];
        for (case, signatories, expected) in cases {
            let outcome = check_signatories(&signatories, &members);
            match outcome {
                Ok(()) => assert!(expected.is_empty(), "{case}: accepted"),
                Err(refusals) => assert_eq!(fields(&refusals), expected, "{case}"),
            }
        }
    }

    #[test]
    fn a_version_is_signed_when_every_required_signatory_has_signed() {
        let cases: [(&[Uuid], &[Uuid], bool); 5] = [
            (&[id(1), id(2)], &[id(2), id(1)], true),
            (&[id(1), id(2)], &[id(1), id(2), id(3)], true),
            (&[id(1), id(2)], &[id(1)], false),
            (&[id(1)], &[], false),
            (&[], &[id(1)], false),
        ];
        for (required, signed, expected) in cases {
            assert_eq!(
                all_signed(required, signed),
                expected,
                "{required:?} {signed:?}"
            );
        }
    }

    #[test]
    fn diff_lists_added_changed_and_removed_entries_section_by_section() {
        let from = previous();
        let mut to = previous();
        // objectives: the target moves.
        to.objectives[0].target = Some("20%".into());
        // inScope: a new integration first, "Sales" removed, lead management unchanged.
        to.in_scope = vec![
            ScopeItem {
                id: id(201),
                category: ItemCategory::Integration,
                text: "ERP order sync".into(),
            },
            from.in_scope[0].clone(),
        ];
        // outOfScope: the category is corrected.
        to.out_of_scope[0].category = ItemCategory::Process;
        // deliverables and the rest: unchanged except one removed assumption.
        to.assumptions.clear();

        let differences = diff(&from, &to);
        let summary: Vec<_> = differences
            .iter()
            .map(|d| {
                (
                    d.section,
                    d.item_id,
                    d.change,
                    d.before.as_deref(),
                    d.after.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "objectives",
                    id(101),
                    Change::Changed,
                    Some("Raise lead conversion — KPI Lead conversion rate: 12% → 18%"),
                    Some("Raise lead conversion — KPI Lead conversion rate: 12% → 20%"),
                ),
                (
                    "inScope",
                    id(201),
                    Change::Added,
                    None,
                    Some("INTEGRATION: ERP order sync"),
                ),
                (
                    "inScope",
                    id(112),
                    Change::Removed,
                    Some("DEPARTMENT: Sales"),
                    None,
                ),
                (
                    "outOfScope",
                    id(121),
                    Change::Changed,
                    Some("MODULE: Marketing automation"),
                    Some("PROCESS: Marketing automation"),
                ),
                (
                    "assumptions",
                    id(141),
                    Change::Removed,
                    Some("Sales reps are available for UAT"),
                    None,
                ),
            ]
        );
    }

    #[test]
    fn diff_of_a_version_with_itself_or_reordered_is_empty() {
        let doc = previous();
        assert!(diff(&doc, &doc).is_empty());
        let mut reordered = doc.clone();
        reordered.in_scope.reverse();
        assert!(diff(&doc, &reordered).is_empty());
    }

    #[test]
    fn objectives_render_only_the_measures_they_have() {
        let base = Objective {
            id: id(1),
            text: "Faster service".into(),
            kpi: None,
            baseline: None,
            target: None,
        };
        let cases = [
            (None, None, None, "Faster service"),
            (
                Some("First response time"),
                None,
                None,
                "Faster service — KPI First response time",
            ),
            (None, Some("8 h"), Some("2 h"), "Faster service — 8 h → 2 h"),
            (
                Some("FRT"),
                None,
                Some("2 h"),
                "Faster service — KPI FRT: ? → 2 h",
            ),
        ];
        for (kpi, baseline, target, expected) in cases {
            let objective = Objective {
                kpi: kpi.map(str::to_owned),
                baseline: baseline.map(str::to_owned),
                target: target.map(str::to_owned),
                ..base.clone()
            };
            assert_eq!(render_objective(&objective), expected);
        }
    }

    #[test]
    fn a_document_survives_a_json_round_trip_in_camel_case() {
        let doc = previous();
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["inScope"][0]["category"], "MODULE");
        assert_eq!(
            json["acceptanceCriteria"][0]["text"],
            "All P1 defects closed"
        );
        assert_eq!(json["objectives"][0]["kpi"], "Lead conversion rate");
        let back: ScopeDocument = serde_json::from_value(json).unwrap();
        assert_eq!(back, doc);

        let older: ScopeDocument = serde_json::from_str(r#"{"objectives": []}"#).unwrap();
        assert_eq!(older, ScopeDocument::default());
    }

    #[test]
    fn after_initiation_a_hand_drafted_version_keeps_the_in_scope_items_of_its_baseline() {
        let basis = previous();
        let check = |initiated: bool, draft: &ScopeDocument| {
            check_boundary_kept(initiated, Some(&basis), draft, &["inScope"])
        };

        // The rest of the document is refined by signature alone; reordering the items,
        // recategorising one or changing its case is no change to what is delivered.
        let mut refined = basis.clone();
        refined.objectives[0].target = Some("20%".into());
        refined.out_of_scope.clear();
        refined.deliverables.push(Statement {
            id: id(132),
            text: "Training material".into(),
        });
        refined.in_scope.reverse();
        refined.in_scope[0].category = ItemCategory::Process;
        refined.in_scope[1].text = "LEAD MANAGEMENT".into();
        assert_eq!(check(true, &refined), Ok(()));

        let mut redrawn = basis.clone();
        redrawn.in_scope[0].text = "Lead and opportunity management".into();
        redrawn.in_scope.push(ScopeItem {
            id: id(113),
            category: ItemCategory::Process,
            text: "Service ticketing".into(),
        });
        let refusal = check(true, &redrawn).unwrap_err();
        assert_eq!(refusal.code, RefusalCode::PreconditionFailed);
        assert_eq!(refusal.field, ["inScope"]);
        assert!(refusal.message.contains("change request"), "{refusal:?}");
        assert!(
            refusal.message.contains(
                "adds \"Lead and opportunity management\", \"Service ticketing\" and drops \
                 \"Lead management\""
            ),
            "{refusal:?}"
        );
        let mut narrowed = basis.clone();
        narrowed.in_scope.pop();
        let refusal = check(true, &narrowed).unwrap_err();
        assert!(refusal.message.contains("drops \"Sales\""), "{refusal:?}");
        assert!(!refusal.message.contains("adds"), "{refusal:?}");

        // Before initiation the scope is still being agreed; a first version has no basis.
        assert_eq!(check(false, &redrawn), Ok(()));
        assert_eq!(
            check_boundary_kept(true, None, &redrawn, &["inScope"]),
            Ok(())
        );
    }

    #[test]
    fn an_approved_change_applies_to_its_baseline_and_carries_into_an_open_draft() {
        let item = |n: u128, text: &str| ScopeItem {
            id: Uuid::from_u128(n),
            category: ItemCategory::Module,
            text: text.to_owned(),
        };
        let document = |items: Vec<ScopeItem>| ScopeDocument {
            in_scope: items,
            ..ScopeDocument::default()
        };
        let change = InScopeChange {
            removed: vec![Uuid::from_u128(2)],
            added: vec![item(9, "Service ticketing")],
        };
        let mut baseline = document(vec![item(1, "Leads"), item(2, "Marketing")]);
        change.apply_to_baseline(&mut baseline).unwrap();
        assert_eq!(
            baseline.in_scope,
            [item(1, "Leads"), item(9, "Service ticketing")]
        );
        // A removed item the baseline no longer holds is named.
        assert_eq!(
            change.apply_to_baseline(&mut baseline),
            Err(InScopeConflict::RemovedItemGone(Uuid::from_u128(2)))
        );

        // A draft that already dropped the item, and added its own, keeps its own work.
        let mut draft = document(vec![item(1, "Leads"), item(5, "Partner portal")]);
        change.carry_into_draft(&mut draft);
        change.carry_into_draft(&mut draft);
        assert_eq!(
            draft.in_scope,
            [
                item(1, "Leads"),
                item(5, "Partner portal"),
                item(9, "Service ticketing")
            ]
        );
        // One that held the added text already, in scope or out of it, holds it once, in.
        let mut draft = ScopeDocument {
            out_of_scope: vec![item(6, "SERVICE TICKETING")],
            ..document(vec![item(1, "Leads")])
        };
        change.carry_into_draft(&mut draft);
        assert_eq!(draft.out_of_scope, []);
        assert_eq!(
            draft.in_scope,
            [item(1, "Leads"), item(9, "Service ticketing")]
        );
        let mut typed_ahead = document(vec![item(7, "service ticketing")]);
        change.carry_into_draft(&mut typed_ahead);
        assert_eq!(typed_ahead.in_scope, [item(7, "service ticketing")]);
    }

    #[test]
    fn an_approved_addition_moves_an_excluded_item_into_scope_and_never_lists_one_twice() {
        let item = |n: u128, text: &str| ScopeItem {
            id: Uuid::from_u128(n),
            category: ItemCategory::Process,
            text: text.to_owned(),
        };
        let adding = |added: ScopeItem| InScopeChange {
            removed: Vec::new(),
            added: vec![added],
        };
        let mut baseline = ScopeDocument {
            in_scope: vec![item(1, "Leads")],
            out_of_scope: vec![item(2, "Field service"), item(3, "SERVICE TICKETING")],
            ..ScopeDocument::default()
        };
        adding(item(9, "Service ticketing"))
            .apply_to_baseline(&mut baseline)
            .unwrap();
        assert_eq!(
            baseline.in_scope,
            [item(1, "Leads"), item(9, "Service ticketing")]
        );
        assert_eq!(baseline.out_of_scope, [item(2, "Field service")]);

        // The baseline moved since the assessment: an item already in scope is not added again.
        let before = baseline.clone();
        assert_eq!(
            adding(item(10, "leads")).apply_to_baseline(&mut baseline),
            Err(InScopeConflict::AlreadyInScope("leads".to_owned()))
        );
        assert_eq!(baseline, before);
        // Re-adding an item the same change removes (say, to recategorise it) is fine.
        InScopeChange {
            removed: vec![Uuid::from_u128(1)],
            added: vec![item(11, "Leads")],
        }
        .apply_to_baseline(&mut baseline)
        .unwrap();
        assert_eq!(
            baseline.in_scope,
            [item(9, "Service ticketing"), item(11, "Leads")]
        );
        assert!(same_item_text("Field Service", "field service"));
        assert!(!same_item_text("Field service", "Field services"));
    }
}

#[cfg(test)]
mod properties {
    //! Arbitrary command sequences driven through a project's scope versions: drafts are
    //! edited, submitted with their signatories, signed, rejected, and the last signature
    //! baselines a version and supersedes the previous baseline, as the service does. The
    //! sign-off invariants are checked after every step.

    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    use ScopeCommand as C;
    use ScopeStatus as S;

    /// The lifecycle of the module diagram, written independently of `target`.
    fn expected_target(from: ScopeStatus, command: ScopeCommand) -> Option<ScopeStatus> {
        match (from, command) {
            (S::Draft, C::Edit) | (S::InReview, C::Reject) => Some(S::Draft),
            (S::Draft, C::SubmitForReview) | (S::InReview, C::Sign) => Some(S::InReview),
            (S::Baselined, C::Supersede) => Some(S::Superseded),
            _ => None,
        }
    }

    const PEOPLE: u128 = 4;

    fn person(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[derive(Debug, Clone)]
    enum Step {
        /// A new draft version is started.
        NewVersion,
        Edit(Index),
        /// Submitted for review with these people (possibly none) required to sign.
        SubmitForReview(Index, Vec<u128>),
        Sign(Index, u128),
        Reject(Index),
    }

    fn signatory() -> impl Strategy<Value = u128> {
        1..=PEOPLE
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            2 => Just(Step::NewVersion),
            1 => any::<Index>().prop_map(Step::Edit),
            2 => (any::<Index>(), prop::collection::vec(signatory(), 0..=2))
                .prop_map(|(at, required)| Step::SubmitForReview(at, required)),
            4 => (any::<Index>(), signatory()).prop_map(|(at, signer)| Step::Sign(at, signer)),
            1 => any::<Index>().prop_map(Step::Reject),
        ]
    }

    #[derive(Debug, Clone)]
    struct Version {
        status: ScopeStatus,
        required: Vec<Uuid>,
        signed: Vec<Uuid>,
    }

    /// The project's versions after each step, and the (before, command, outcome) of every
    /// lifecycle command the steps asked for.
    struct Run {
        snapshots: Vec<Vec<Version>>,
        commands: Vec<(ScopeStatus, ScopeCommand, Result<ScopeStatus, Refusal>)>,
    }

    fn replay(steps: &[Step]) -> Run {
        let mut versions = vec![Version {
            status: S::Draft,
            required: Vec::new(),
            signed: Vec::new(),
        }];
        let mut run = Run {
            snapshots: Vec::new(),
            commands: Vec::new(),
        };
        let apply = |run: &mut Run, version: &mut Version, command: ScopeCommand| {
            let outcome = transition(version.status, command);
            run.commands
                .push((version.status, command, outcome.clone()));
            outcome.ok().inspect(|after| version.status = *after)
        };
        for step in steps {
            match step {
                Step::NewVersion => versions.push(Version {
                    status: S::Draft,
                    required: Vec::new(),
                    signed: Vec::new(),
                }),
                Step::Edit(at) => {
                    let at = at.index(versions.len());
                    apply(&mut run, &mut versions[at], C::Edit);
                }
                Step::SubmitForReview(at, required) => {
                    let at = at.index(versions.len());
                    if apply(&mut run, &mut versions[at], C::SubmitForReview).is_some() {
                        versions[at].required = required.iter().copied().map(person).collect();
                        versions[at].signed.clear();
                    }
                }
                Step::Sign(at, signer) => {
                    let at = at.index(versions.len());
                    let signer = person(*signer);
                    let version = &versions[at];
                    // Only a named signatory signs, and only once.
                    let may_sign =
                        version.required.contains(&signer) && !version.signed.contains(&signer);
                    if may_sign && apply(&mut run, &mut versions[at], C::Sign).is_some() {
                        versions[at].signed.push(signer);
                        if all_signed(&versions[at].required, &versions[at].signed) {
                            let previous = versions.iter().position(|v| v.status == S::Baselined);
                            if let Some(previous) = previous {
                                apply(&mut run, &mut versions[previous], C::Supersede);
                            }
                            versions[at].status = S::Baselined;
                        }
                    }
                }
                Step::Reject(at) => {
                    let at = at.index(versions.len());
                    if apply(&mut run, &mut versions[at], C::Reject).is_some() {
                        versions[at].signed.clear();
                    }
                }
            }
            run.snapshots.push(versions.clone());
        }
        run
    }

    /// Someone is required to sign and everyone required has signed.
    fn is_fully_signed(version: &Version) -> bool {
        !version.required.is_empty() && version.required.iter().all(|p| version.signed.contains(p))
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        prop::collection::vec(step(), 0..40)
    }

    proptest! {
        /// Every accepted command follows an edge of the lifecycle table and every other one
        /// is refused; a superseded version accepts nothing, and a baseline nothing but being
        /// superseded, so the signed scope cannot be edited in place.
        #[test]
        fn accepted_commands_follow_the_lifecycle_table(steps in steps()) {
            for (before, command, outcome) in replay(&steps).commands {
                let expected = expected_target(before, command);
                prop_assert_eq!(outcome.ok(), expected, "{} {:?}", before, command);
                let offered = allowed_commands(before);
                prop_assert_eq!(offered.contains(&command), expected.is_some());
                match before {
                    S::Superseded => prop_assert!(offered.is_empty()),
                    S::Baselined => prop_assert_eq!(offered, vec![C::Supersede]),
                    S::Draft | S::InReview => {}
                }
            }
        }

        /// A version becomes the baseline only once every required signatory has signed it,
        /// and a version nobody is required to sign never does: the baseline always carries
        /// the stakeholders' signatures.
        #[test]
        fn a_baseline_carries_every_required_signature(steps in steps()) {
            for versions in replay(&steps).snapshots {
                for version in versions.iter().filter(|v| v.status == S::Baselined) {
                    prop_assert!(is_fully_signed(version), "{:?}", version);
                }
                for version in versions.iter().filter(|v| v.status == S::InReview) {
                    prop_assert!(!is_fully_signed(version), "signed but in review: {:?}", version);
                }
            }
        }

        /// Sign-off needs every required signature and at least one: `all_signed` holds
        /// exactly when the required list is not empty and each required signatory is among
        /// the signers, whatever the order and whoever else signed.
        #[test]
        fn sign_off_needs_every_required_signature(
            required in prop::collection::vec(signatory().prop_map(person), 0..=3),
            signed in prop::collection::vec(signatory().prop_map(person), 0..=4),
        ) {
            let expected = !required.is_empty() && required.iter().all(|p| signed.contains(p));
            prop_assert_eq!(all_signed(&required, &signed), expected);
            let mut reversed = signed.clone();
            reversed.reverse();
            prop_assert_eq!(all_signed(&required, &reversed), expected);
        }

        /// The project has one scope baseline at a time: a new baseline supersedes the
        /// previous one, and a superseded version never comes back.
        #[test]
        fn there_is_at_most_one_baseline_and_superseded_stays_superseded(steps in steps()) {
            let run = replay(&steps);
            for versions in &run.snapshots {
                prop_assert!(versions.iter().filter(|v| v.status == S::Baselined).count() <= 1);
            }
            for (before, after) in run.snapshots.iter().zip(run.snapshots.iter().skip(1)) {
                for (was, is) in before.iter().zip(after) {
                    if was.status == S::Superseded {
                        prop_assert_eq!(is.status, S::Superseded);
                    }
                }
            }
        }
    }
}
