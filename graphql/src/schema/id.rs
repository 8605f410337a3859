//! Opaque global IDs: base64url of `Type:uuid`, so an ID names its type and cannot be
//! mistaken for another type's.

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, ID, OutputType, Positioned, ServerResult, Value};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::domain::Refusal;

/// The object types that have global IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    ApiToken,
    Project,
    ProjectMember,
    AuditEvent,
    Phase,
    ExitCriterion,
    Deliverable,
    GateCondition,
    Milestone,
    MilestoneDependency,
    ScheduleBaseline,
    Decision,
    RaciActivity,
    ScopeVersion,
    ChangeRequest,
    TestScenario,
    TestCycle,
    TestExecution,
    Defect,
    GoLivePlan,
    CutoverTask,
    ManualCriterion,
    HypercareMetric,
    Notification,
}

impl Kind {
    const ALL: [Kind; 25] = [
        Kind::User,
        Kind::ApiToken,
        Kind::Project,
        Kind::ProjectMember,
        Kind::AuditEvent,
        Kind::Phase,
        Kind::ExitCriterion,
        Kind::Deliverable,
        Kind::GateCondition,
        Kind::Milestone,
        Kind::MilestoneDependency,
        Kind::ScheduleBaseline,
        Kind::Decision,
        Kind::RaciActivity,
        Kind::ScopeVersion,
        Kind::ChangeRequest,
        Kind::TestScenario,
        Kind::TestCycle,
        Kind::TestExecution,
        Kind::Defect,
        Kind::GoLivePlan,
        Kind::CutoverTask,
        Kind::ManualCriterion,
        Kind::HypercareMetric,
        Kind::Notification,
    ];

    /// The kind a type name names, if any.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::ApiToken => "ApiToken",
            Kind::Project => "Project",
            Kind::ProjectMember => "ProjectMember",
            Kind::AuditEvent => "AuditEvent",
            Kind::Phase => "Phase",
            Kind::ExitCriterion => "ExitCriterion",
            Kind::Deliverable => "Deliverable",
            Kind::GateCondition => "GateCondition",
            Kind::Milestone => "Milestone",
            Kind::MilestoneDependency => "MilestoneDependency",
            Kind::ScheduleBaseline => "ScheduleBaseline",
            Kind::Decision => "Decision",
            Kind::RaciActivity => "RaciActivity",
            Kind::ScopeVersion => "ScopeVersion",
            Kind::ChangeRequest => "ChangeRequest",
            Kind::TestScenario => "TestScenario",
            Kind::TestCycle => "TestCycle",
            Kind::TestExecution => "TestExecution",
            Kind::Defect => "Defect",
            Kind::GoLivePlan => "GoLivePlan",
            Kind::CutoverTask => "CutoverTask",
            Kind::ManualCriterion => "ManualCriterion",
            Kind::HypercareMetric => "HypercareMetric",
            Kind::Notification => "Notification",
        }
    }
}

pub fn encode(kind: Kind, id: Uuid) -> ID {
    ID(encoded(kind, id))
}

/// Room for the longest `Type:uuid`, checked below for every kind.
const LONGEST_RAW: usize = 64;

const _: () = {
    let mut at = 0;
    while at < Kind::ALL.len() {
        assert!(Kind::ALL[at].name().len() + 1 + uuid::fmt::Simple::LENGTH <= LONGEST_RAW);
        at += 1;
    }
};

/// The text of `kind`'s global id for `id`.
fn encoded(kind: Kind, id: Uuid) -> String {
    // A dashboard encodes hundreds of ids: the bytes are put together on the stack.
    let name = kind.name().as_bytes();
    let length = name.len() + 1 + uuid::fmt::Simple::LENGTH;
    let mut raw = [0; LONGEST_RAW];
    raw[..name.len()].copy_from_slice(name);
    raw[name.len()] = b':';
    id.simple().encode_lower(&mut raw[name.len() + 1..length]);
    URL_SAFE_NO_PAD.encode(&raw[..length])
}

/// A global id as a field answers it: an `ID` in the schema, written straight into the answer.
/// A field answering an [`ID`] has async-graphql copy its text into the answer, since a scalar
/// answers by reference; a dashboard answers some two hundred ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalId(pub Kind, pub Uuid);

impl OutputType for GlobalId {
    fn type_name() -> Cow<'static, str> {
        <ID as OutputType>::type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <ID as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(Value::String(encoded(self.0, self.1)))
    }
}

/// What an interface's field answers when an object's field answers a [`GlobalId`]. (It
/// stands beside async-graphql's `From<T: Display> for ID` because a `GlobalId` is not
/// `Display`.)
impl From<GlobalId> for ID {
    fn from(GlobalId(kind, id): GlobalId) -> Self {
        encode(kind, id)
    }
}

/// The global id of an object named by its type name (as domain events and the outbox name
/// them), or `None` for a type without global ids.
pub fn encode_named(type_name: &str, id: Uuid) -> Option<ID> {
    Kind::named(type_name).map(|kind| encode(kind, id))
}

/// The kind and UUID behind a global ID, or `None` when it is not one of ours.
pub fn decode_any(id: &str) -> Option<(Kind, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(id.as_bytes()).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (kind, uuid) = text.split_once(':')?;
    Some((Kind::named(kind)?, Uuid::try_parse(uuid).ok()?))
}

/// The UUID behind a global ID of `kind`, or a `BAD_USER_INPUT` refusal on `field`.
pub fn decode(id: &ID, kind: Kind, field: &[&str]) -> Result<Uuid, Refusal> {
    match decode_any(id) {
        Some((found, uuid)) if found == kind => Ok(uuid),
        Some((found, _)) => Err(Refusal::bad_input(
            field,
            format!(
                "expected the id of a {}, got the id of a {}",
                kind.name(),
                found.name()
            ),
        )),
        None => Err(Refusal::bad_input(
            field,
            format!("not a valid {} id", kind.name()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_decodes() {
        for kind in Kind::ALL {
            let uuid = Uuid::now_v7();
            assert_eq!(decode_any(&encode(kind, uuid)), Some((kind, uuid)));
        }
    }

    /// Ids are stored by clients: their form must never change.
    #[test]
    fn an_id_is_its_type_and_uuid_in_base64() {
        let uuid = Uuid::parse_str("0192f6a1-8c2b-7d3e-9f40-123456789abc").unwrap();
        assert_eq!(
            encode(Kind::Project, uuid).0,
            URL_SAFE_NO_PAD.encode("Project:0192f6a18c2b7d3e9f40123456789abc")
        );
        assert_eq!(
            encode(Kind::Notification, uuid).0,
            "Tm90aWZpY2F0aW9uOjAxOTJmNmExOGMyYjdkM2U5ZjQwMTIzNDU2Nzg5YWJj"
        );
    }

    #[tokio::test]
    async fn a_global_id_answers_the_id_it_encodes() {
        use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

        const UUID: Uuid = Uuid::from_u128(0x0192f6a1_8c2b_7d3e_9f40_123456789abc);
        struct Query;
        #[Object]
        impl Query {
            async fn plain(&self) -> ID {
                encode(Kind::MilestoneDependency, UUID)
            }
            async fn global(&self) -> GlobalId {
                GlobalId(Kind::MilestoneDependency, UUID)
            }
            async fn maybe(&self) -> Option<GlobalId> {
                None
            }
        }
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let sdl = schema.sdl();
        for line in ["plain: ID!", "global: ID!", "maybe: ID"] {
            assert!(sdl.contains(line), "{line} in {sdl}");
        }
        let response = schema.execute("{ plain global maybe }").await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().unwrap();
        assert_eq!(data["global"], data["plain"]);
        assert_eq!(data["maybe"], serde_json::Value::Null);
        assert_eq!(
            ID::from(GlobalId(Kind::MilestoneDependency, UUID)),
            encode(Kind::MilestoneDependency, UUID)
        );
    }

    #[test]
    fn ids_round_trip_and_keep_their_type() {
        let uuid = Uuid::now_v7();
        let id = encode(Kind::Project, uuid);
        assert_eq!(decode(&id, Kind::Project, &["id"]), Ok(uuid));
        assert!(decode(&id, Kind::User, &["id"]).is_err());
        assert!(decode(&ID("garbage".into()), Kind::User, &["id"]).is_err());
        assert!(
            decode(
                &ID(URL_SAFE_NO_PAD.encode("Project:nope")),
                Kind::Project,
                &["id"]
            )
            .is_err()
        );
    }
}
