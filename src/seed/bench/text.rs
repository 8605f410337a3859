//! The words of the bench data: people's names, the phase plan with its milestones, RACI
//! activities, change request and defect titles. Plain tables, so that reading the data through
//! the API looks like a CRM portfolio rather than `lorem ipsum`.

use steerco_graphql::domain::change_request::CrCategory;

use super::people::Seat;

pub const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Chen", "Diana", "Emil", "Fatima", "Georg", "Hana", "Ivan", "Julia", "Kenji",
    "Lena", "Marco", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wei", "Xenia", "Yusuf", "Zoe", "Li", "Mei", "Raj", "Sofia", "Tomas", "Ingrid",
];

pub const LAST_NAMES: &[&str] = &[
    "Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ito", "Jansen",
    "Kowalski", "Lin", "Meyer", "Novak", "Okafor", "Patel", "Rossi", "Schmidt", "Tanaka", "Uddin",
    "Varga", "Wang", "Zhang", "Nguyen", "Silva", "Brown", "Khan", "Moreau", "Larsen",
];

/// Client organisations; a project is named after one and a CRM scope.
pub const COMPANIES: &[&str] = &[
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Litware",
    "Adatum",
    "Proseware",
    "Wingtip",
    "Woodgrove",
    "Lucerne",
    "Coho",
    "Alpine Ski House",
    "Blue Yonder",
    "Fourth Coffee",
    "Margie's Travel",
    "Trey Research",
    "Humongous Insurance",
    "Wide World Importers",
];

pub const PROJECT_SCOPES: &[&str] = &[
    "Sales Cloud roll-out",
    "Service desk CRM",
    "Partner portal and CRM",
    "Marketing automation and CRM",
    "Field sales CRM",
    "Customer 360 programme",
    "Contact centre CRM replacement",
    "B2B commerce and CRM",
];

/// IANA time zones with the currency a project there budgets in.
pub const LOCATIONS: &[(&str, &str)] = &[
    ("Europe/Berlin", "EUR"),
    ("Europe/Paris", "EUR"),
    ("Europe/London", "GBP"),
    ("America/New_York", "USD"),
    ("America/Chicago", "USD"),
    ("Asia/Shanghai", "CNY"),
    ("Asia/Singapore", "SGD"),
    ("Australia/Sydney", "AUD"),
];

/// A phase of the bench plan: its name, typical length in days, and its five milestones.
pub struct PhaseOutline {
    pub name: &'static str,
    pub typical_days: i64,
    pub milestones: [&'static str; 5],
}

/// The ten phases of a bench project, in order. The go-live is the end of phase 8
/// ([`GO_LIVE_PHASE`]); hypercare and optimisation follow it.
pub const PHASES: [PhaseOutline; 10] = [
    PhaseOutline {
        name: "Discovery & requirements",
        typical_days: 30,
        milestones: [
            "Stakeholder interviews done",
            "Current processes mapped",
            "Pain points prioritised",
            "Requirements catalogue drafted",
            "Requirements specification signed",
        ],
    },
    PhaseOutline {
        name: "Initiation & charter",
        typical_days: 20,
        milestones: [
            "Business case approved",
            "Budget released",
            "Governance model agreed",
            "Project team staffed",
            "Project charter approved",
        ],
    },
    PhaseOutline {
        name: "Solution design",
        typical_days: 35,
        milestones: [
            "Target processes designed",
            "Data model agreed",
            "Integration architecture agreed",
            "Security concept approved",
            "Solution design signed",
        ],
    },
    PhaseOutline {
        name: "Platform & vendor setup",
        typical_days: 20,
        milestones: [
            "Vendor contract signed",
            "Environments provisioned",
            "Single sign-on connected",
            "Release pipeline running",
            "Sprint zero closed",
        ],
    },
    PhaseOutline {
        name: "Configuration & development",
        typical_days: 60,
        milestones: [
            "Lead management configured",
            "Opportunity pipeline configured",
            "Quote-to-order flow built",
            "Service cases configured",
            "Build complete",
        ],
    },
    PhaseOutline {
        name: "Integration & data migration",
        typical_days: 45,
        milestones: [
            "ERP interface in test",
            "Customer master cleansed",
            "Trial migration 1 done",
            "Trial migration 2 done",
            "Migration rehearsal passed",
        ],
    },
    PhaseOutline {
        name: "Testing & UAT",
        typical_days: 40,
        milestones: [
            "System test passed",
            "Integration test passed",
            "UAT round 1 done",
            "UAT round 2 done",
            "UAT signed off",
        ],
    },
    PhaseOutline {
        name: "Training & go-live",
        typical_days: 25,
        milestones: [
            "Trainers certified",
            "End users trained",
            "Cutover rehearsal passed",
            "Go/no-go decided",
            "Go-live",
        ],
    },
    PhaseOutline {
        name: "Hypercare",
        typical_days: 30,
        milestones: [
            "War Room staffed",
            "First week reviewed",
            "Incident backlog under control",
            "Adoption targets met",
            "Hypercare exit",
        ],
    },
    PhaseOutline {
        name: "Optimisation & value review",
        typical_days: 60,
        milestones: [
            "Backlog re-prioritised",
            "Release 1.1 shipped",
            "KPI baseline compared",
            "Lessons learned held",
            "3-month value review",
        ],
    },
];

/// The index (from 0) of the phase that ends with the go-live.
pub const GO_LIVE_PHASE: usize = 7;

/// A RACI activity: its name, the phase it belongs to (index from 0, or none for activities
/// spanning the project), and who is accountable and who responsible (two people: one person
/// holds one letter per activity).
pub struct RaciOutline {
    pub name: &'static str,
    pub phase: Option<usize>,
    pub accountable: Seat,
    pub responsible: Seat,
}

const fn raci(
    name: &'static str,
    phase: Option<usize>,
    accountable: Seat,
    responsible: Seat,
) -> RaciOutline {
    RaciOutline {
        name,
        phase,
        accountable,
        responsible,
    }
}

/// The twenty rows of every bench project's RACI matrix.
pub const RACI_ACTIVITIES: [RaciOutline; 20] = [
    raci(
        "Business goals & KPIs",
        Some(0),
        Seat::Sponsor,
        Seat::BusinessLead,
    ),
    raci(
        "Requirements specification",
        Some(0),
        Seat::ProjectManager,
        Seat::BusinessLead,
    ),
    raci(
        "Scope statement & sign-off",
        Some(1),
        Seat::Sponsor,
        Seat::ProjectManager,
    ),
    raci(
        "Budget & business case",
        Some(1),
        Seat::Sponsor,
        Seat::Finance,
    ),
    raci(
        "Project plan & milestones",
        Some(1),
        Seat::Sponsor,
        Seat::ProjectManager,
    ),
    raci("Process design", Some(2), Seat::BusinessLead, Seat::Vendor),
    raci(
        "Data model & integration design",
        Some(2),
        Seat::ItLead,
        Seat::Vendor,
    ),
    raci(
        "Vendor management",
        Some(3),
        Seat::ProjectManager,
        Seat::ItLead,
    ),
    raci(
        "Environment & security setup",
        Some(3),
        Seat::ItLead,
        Seat::Vendor,
    ),
    raci(
        "Configuration & customisation",
        Some(4),
        Seat::ItLead,
        Seat::Vendor,
    ),
    raci("ERP integration", Some(5), Seat::ItLead, Seat::Vendor),
    raci(
        "Data cleansing & migration",
        Some(5),
        Seat::BusinessLead,
        Seat::ItLead,
    ),
    raci(
        "Test strategy & test cases",
        Some(6),
        Seat::ProjectManager,
        Seat::Qa,
    ),
    raci(
        "User acceptance testing",
        Some(6),
        Seat::BusinessLead,
        Seat::BusinessRep,
    ),
    raci(
        "Training & adoption",
        Some(7),
        Seat::BusinessLead,
        Seat::BusinessRep,
    ),
    raci(
        "Cutover & go-live",
        Some(7),
        Seat::ProjectManager,
        Seat::ItLead,
    ),
    raci("Hypercare support", Some(8), Seat::ItLead, Seat::Vendor),
    raci("Change control", None, Seat::Sponsor, Seat::ProjectManager),
    raci(
        "Steering committee reporting",
        None,
        Seat::Sponsor,
        Seat::ProjectManager,
    ),
    raci(
        "Benefits tracking",
        Some(9),
        Seat::Sponsor,
        Seat::BusinessLead,
    ),
];

/// Change request titles with their category.
pub const CHANGE_REQUESTS: &[(&str, CrCategory)] = &[
    ("Add WeChat lead capture", CrCategory::Integration),
    ("Offline mode for the mobile app", CrCategory::Technical),
    ("Custom colours for the dashboards", CrCategory::Process),
    ("Migrate the 2019 archives", CrCategory::Data),
    ("Add a partner deal registration flow", CrCategory::Scope),
    (
        "Second approval step for large discounts",
        CrCategory::Process,
    ),
    (
        "Move UAT by two weeks for the year-end close",
        CrCategory::Schedule,
    ),
    (
        "Extra integration consultant for the ERP interface",
        CrCategory::Resource,
    ),
    ("Add e-signature to quotes", CrCategory::Integration),
    ("Territory management for field sales", CrCategory::Scope),
    (
        "Replace the address validation service",
        CrCategory::Technical,
    ),
    ("Budget for a second training wave", CrCategory::Budget),
    ("De-duplicate accounts before migration", CrCategory::Data),
    ("Case routing by customer tier", CrCategory::Process),
    ("Drop the legacy fax integration", CrCategory::Scope),
    ("Licence uplift for service agents", CrCategory::Budget),
    ("Single sign-on for partners", CrCategory::Technical),
    ("Product catalogue sync every hour", CrCategory::Integration),
    ("Go-live in two waves by region", CrCategory::Schedule),
    (
        "Backfill the business lead during parental leave",
        CrCategory::Resource,
    ),
];

/// What a defect is about, and what goes wrong with it: titles are "<subject> <symptom>".
pub const DEFECT_SUBJECTS: &[&str] = &[
    "Lead import",
    "Opportunity stage change",
    "Quote PDF",
    "Discount approval",
    "Contract numbering",
    "Case escalation",
    "Ticket routing",
    "Customer merge",
    "Address validation",
    "ERP order sync",
    "Invoice status sync",
    "Sales dashboard",
    "Mobile app login",
    "Email-to-case",
    "Territory assignment",
    "Product catalogue sync",
    "Activity reminder",
    "Partner portal search",
    "Forecast report",
    "Field-level permissions",
];

pub const DEFECT_SYMPTOMS: &[&str] = &[
    "fails with a server error",
    "shows stale data",
    "is slow on large accounts",
    "ignores the user's region",
    "duplicates records",
    "loses the last change",
    "shows the wrong currency",
    "is visible to the wrong role",
    "breaks on non-Latin characters",
    "times out during the nightly batch",
];

/// The mailbox domain of bench users: they never collide with real users, and a second run
/// can tell that bench data is there.
pub const BENCH_EMAIL_DOMAIN: &str = "bench.steerco.dev";
