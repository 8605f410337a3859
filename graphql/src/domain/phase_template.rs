//! The three shipped phase templates: ordered phase lists, each phase with its default required
//! deliverables and exit criteria, from which a project instantiates its phases.
//!
//! Content comes from DOMAIN §1.1 (the phase lists side by side) and §1.3 (what each phase must
//! produce), with the gate shape of §1.4 (every phase has `required_deliverables[]` and
//! `exit_criteria[]`):
//!
//! - [`TemplateKey::FivePhase`]: S1's five phases (Zhidao);
//! - [`TemplateKey::SixPhase`]: S2's six phases with durations (FanRuan/FineReport);
//! - [`TemplateKey::EightStage`]: S4's eight stages (Jiandaoyun), the project default.
//!
//! Each line follows its template's own source unless a trailing comment names another source
//! (`S0`, `S3`, `S4 FAQ`, ...) or marks it `INF`: our inference where the source is silent, kept
//! concrete and checkable. These are defaults only; a PM adjusts a project's phases (DOMAIN §1.2).

use std::str::FromStr;

use thiserror::Error;

/// Which shipped template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TemplateKey {
    /// S1's five phases.
    FivePhase,
    /// S2's six phases, with durations.
    SixPhase,
    /// S4's eight stages; projects default to it.
    #[default]
    EightStage,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown phase template {0:?}")]
pub struct UnknownTemplate(pub String);

impl TemplateKey {
    pub const ALL: [TemplateKey; 3] = [Self::FivePhase, Self::SixPhase, Self::EightStage];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FivePhase => "FIVE_PHASE",
            Self::SixPhase => "SIX_PHASE",
            Self::EightStage => "EIGHT_STAGE",
        }
    }
}

impl FromStr for TemplateKey {
    type Err = UnknownTemplate;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|key| key.as_str() == code)
            .ok_or_else(|| UnknownTemplate(code.to_owned()))
    }
}

/// One shipped template: an ordered list of phase definitions.
#[derive(Debug)]
pub struct PhaseTemplate {
    pub key: TemplateKey,
    /// Short label naming the source article's publisher, e.g. "8-stage (Jiandaoyun)".
    pub name: &'static str,
    /// One sentence on where the list comes from and how it is shaped.
    pub description: &'static str,
    /// The phases in execution order.
    pub phases: &'static [PhaseDefinition],
}

/// One phase of a template, with the defaults a new project phase starts from.
#[derive(Debug)]
pub struct PhaseDefinition {
    /// English name, from DOMAIN §1.1.
    pub name: &'static str,
    /// The Chinese name the source gives (DOMAIN §1.1).
    pub name_zh: &'static str,
    /// Only where the source gives one (S2).
    pub typical_duration: Option<&'static str>,
    /// Default required deliverables (DOMAIN §1.3).
    pub deliverables: &'static [&'static str],
    /// Default exit criteria, phrased as checkable statements (DOMAIN §1.3, §1.4).
    pub exit_criteria: &'static [&'static str],
}

/// The template a key names.
pub fn template(key: TemplateKey) -> &'static PhaseTemplate {
    match key {
        TemplateKey::FivePhase => &FIVE_PHASE,
        TemplateKey::SixPhase => &SIX_PHASE,
        TemplateKey::EightStage => &EIGHT_STAGE,
    }
}

/// Every shipped template, in [`TemplateKey::ALL`] order.
pub fn all() -> [&'static PhaseTemplate; 3] {
    TemplateKey::ALL.map(template)
}

/// S1's five-phase blueprint (DOMAIN §1.1, §1.3 "S1, five phases and their outputs"). S3's
/// preparation outputs enrich the first phase; S1's go-live and migration details come from §7.2,
/// §9.1 and §10.2.
static FIVE_PHASE: PhaseTemplate = PhaseTemplate {
    key: TemplateKey::FivePhase,
    name: "5-phase (Zhidao)",
    description: "Zhidao's five-phase blueprint: strategy, selection, implementation with data migration, testing with training and go-live, then optimization and value assessment.",
    phases: &[
        PhaseDefinition {
            name: "Strategy & Preparation",
            name_zh: "战略规划与准备",
            typical_duration: None,
            deliverables: &[
                "Requirements specification (需求说明书)",
                "Quantified business goals document",
                "Project team roster with roles, responsibilities and KPIs",
                "Current-state process flowcharts across the customer lifecycle", // S3
                "Implementation plan and timetable with owners, milestones, buffer time and budget", // S3
            ],
            exit_criteria: &[
                "Business goals are quantified (e.g. \"increase customer satisfaction 15%\") and endorsed by senior management", // + S3
                "Sales, marketing and service have been interviewed and their answers recorded",
                "Requirements specification approved by business representatives", // approval: INF
                "Requirements prioritized as Must-have / Should-have / Could-have", // S3
                "Cross-department team formed, every role with a named person and KPIs",
                "Implementation plan gives every phase an owner, start and end dates and deliverables", // S3
            ],
        },
        PhaseDefinition {
            name: "System Selection & Evaluation",
            name_zh: "系统选型与评估",
            typical_duration: None,
            deliverables: &[
                "Vendor evaluation scorecard on the six dimensions (business fit, scalability, integration, deployment model, TCO, vendor viability)", // scorecard: INF
                "Request for proposal (RFP) with goals, requirements, implementation scope and budget constraints", // S3
                "Selection decision record", // INF
            ],
            exit_criteria: &[
                "Every shortlisted vendor is scored on all six evaluation dimensions",
                "Every shortlisted vendor has demonstrated our key processes (e.g. key-account follow-up SOP) in its system",
                "Every shortlisted vendor has supplied a multi-year TCO model for our team size",
                "Selection decision approved by the executive sponsor", // INF
            ],
        },
        PhaseDefinition {
            name: "Implementation & Data Migration",
            name_zh: "系统实施与数据迁移",
            typical_duration: None,
            deliverables: &[
                "Configured forms and workflows in the test environment",
                "Data source inventory with owner, data structure and data volume per source",
                "Data cleansing rules agreed with business departments",
                "Field mapping and transformation document",
                "Pilot migration validation record",
            ],
            exit_criteria: &[
                "Every approved requirement is configured in the test environment", // INF
                "Every data source is inventoried with its owner, data structure and data volume",
                "Cleansing rules are defined jointly with business departments and approved",
                "Field mapping checked field by field and signed off",
                "Pilot migration of a small subset (e.g. one sales team) validated by business users in the test environment",
            ],
        },
        PhaseDefinition {
            name: "Testing, Training & Go-Live",
            name_zh: "测试、培训与上线",
            typical_duration: None,
            deliverables: &[
                "UAT test report",
                "Role-based \"Day in the Life\" training materials",
                "Go-live plan with date and time, rollback plan, monitoring indicators and War Room roster",
                "Full-migration sampling verification record",
            ],
            exit_criteria: &[
                "Core business processes pass UAT 100% (\"run 100% smoothly\")",
                "Every UAT issue is recorded, graded and fixed",
                "Role-based training delivered and super users named in every department",
                "Go-live plan approved, including a rollback plan to switch back to the old system", // approval: INF
                "Full migration run in a low-impact window and re-verified by sampling",
            ],
        },
        PhaseDefinition {
            name: "Optimization & Value Assessment",
            name_zh: "持续优化与价值评估",
            typical_duration: None,
            deliverables: &[
                "KPI before/after comparison reports at 3 months, 6 months and 1 year",
                "Quarterly user feedback summary from forums and in-system questionnaires",
            ],
            exit_criteria: &[
                "KPIs compared with the pre-implementation baseline at 3 months, 6 months and 1 year after go-live",
                "Results reviewed against the business goals set in the first phase",
                "Quarterly user feedback collected and turned into optimization backlog items",
            ],
        },
    ],
};

/// S2's six-phase flow with durations (DOMAIN §1.1, §1.3 "S2, six-phase implementation table").
/// Each success sign is an exit criterion; S2's top-level design outputs enrich the first two
/// phases, and S2's advice (change control, seed users, support team) the middle ones.
static SIX_PHASE: PhaseTemplate = PhaseTemplate {
    key: TemplateKey::SixPhase,
    name: "6-phase (FanRuan/FineReport)",
    description: "FanRuan/FineReport's six-phase flow with typical durations, each phase ending on its stated success sign.",
    phases: &[
        PhaseDefinition {
            name: "Requirements analysis",
            name_zh: "需求分析",
            typical_duration: Some("2–4 weeks"),
            deliverables: &[
                "Requirements document",
                "Business process flow diagrams",
                "Project vision and goals document", // S2 top-level design
                "Current-state issue list",          // S2 top-level design
            ],
            exit_criteria: &[
                "Requirements document approved by business representatives", // approval: INF
                "Process flow diagrams cover every in-scope business process",
                "Conflicting requirements between departments resolved against business scenarios and recorded",
            ],
        },
        PhaseDefinition {
            name: "Solution design",
            name_zh: "方案设计",
            typical_duration: Some("2–3 weeks"),
            deliverables: &[
                "Design specification",
                "Interface list",
                "Data architecture design",
                "Selection report and integration plan", // S2 top-level design
            ],
            exit_criteria: &[
                "Design specification approved by business and IT representatives", // approval: INF
                "Interface list names every system to integrate, with an owner for each interface", // owner: INF
                "Data architecture design covers every data entity to be migrated", // INF
            ],
        },
        PhaseDefinition {
            name: "System development & configuration",
            name_zh: "系统开发与配置",
            typical_duration: Some("1–3 months"),
            deliverables: &[
                "Live test environment with configured processes and developed interfaces",
                "Change log of requirement changes during development", // INF
            ],
            exit_criteria: &[
                "Test environment is live",
                "Every interface in the interface list is developed and connected in the test environment", // INF
                "Every requirement change during development went through change control",
            ],
        },
        PhaseDefinition {
            name: "Data migration & testing",
            name_zh: "数据迁移与测试",
            typical_duration: Some("2–4 weeks"),
            deliverables: &[
                "Migration validation report",
                "UAT test report", // S4 FAQ
            ],
            exit_criteria: &[
                "Data accurate: record counts reconcile and sampled records match the source", // methods: S0
                "Processes usable: core business processes pass UAT 100%", // 100%: S1
                "Permission tests confirm no user sees data outside their role (e.g. sales cannot see finance data)", // S2 FAQ
            ],
        },
        PhaseDefinition {
            name: "Training & go-live",
            name_zh: "培训与上线",
            typical_duration: Some("2–3 weeks"),
            deliverables: &[
                "Go-live report",
                "User feedback summary",
                "Scenario-based training materials with hands-on drills",
            ],
            exit_criteria: &[
                "Go-live report published",
                "Seed users used the system and gave feedback before rollout to all users",
                "Every trained user has completed one real task (e.g. a customer follow-up) in the CRM",
                "Dedicated support team in place to respond to user problems",
            ],
        },
        PhaseDefinition {
            name: "Operations & optimization",
            name_zh: "运营与优化",
            typical_duration: Some("Ongoing"),
            deliverables: &[
                "Business metrics report against the pre-implementation baseline",
                "User satisfaction survey results",
            ],
            exit_criteria: &[
                "Business metrics improved against the pre-implementation baseline",
                "User satisfaction survey meets the target set for the project", // target: INF
                "Regular data-quality spot checks on customer and transaction data are scheduled",
            ],
        },
    ],
};

/// S4's eight stages (DOMAIN §1.1, §1.3 "S4, eight stages", "S4 stage details" and the S4 FAQ
/// stage SOP), the default template. Acceptance follows the FAQ's stages: requirements,
/// functional, integration, user trial; and "acceptance needs a test report".
static EIGHT_STAGE: PhaseTemplate = PhaseTemplate {
    key: TemplateKey::EightStage,
    name: "8-stage (Jiandaoyun)",
    description: "Jiandaoyun's eight-stage project-management flow, with an explicit initiation stage and a separate go-live and promotion stage.",
    phases: &[
        PhaseDefinition {
            name: "Requirements research",
            name_zh: "需求调研",
            typical_duration: None,
            deliverables: &[
                "Requirements document",
                "Process maps and pain-point list",
                "Archived interview and questionnaire records", // S4 FAQ
                "Prioritized requirement list (must-implement / optional, KANO)",
            ],
            exit_criteria: &[
                "Every affected department took part in interviews, questionnaires or workshops",
                "Requirements split into must-implement and optional, and prioritized with the KANO model",
                "Requirements document reviewed and confirmed by business representatives", // S4 FAQ
            ],
        },
        PhaseDefinition {
            name: "Project initiation",
            name_zh: "项目立项",
            typical_duration: None,
            deliverables: &[
                "Project charter with goals, KPIs and acceptance criteria",
                "Project plan with schedule, milestones and owners",
                "Project team roster naming the project manager and business backbone",
            ],
            exit_criteria: &[
                "Project goals, KPIs and acceptance criteria are written down",
                "Project manager and business backbone designated",
                "Project plan gives every stage a schedule, milestones and an owner",
                "Initiation approved, with senior leadership endorsement recorded", // approval: S4 FAQ
            ],
        },
        PhaseDefinition {
            name: "System design & selection",
            name_zh: "系统设计与选型",
            typical_duration: None,
            deliverables: &[
                "Option evaluation and selection report",
                "System design",
                "Ecosystem integration plan",
            ],
            exit_criteria: &[
                "Every candidate option is evaluated against the requirements, including flexibility and customization",
                "System design approved by business and IT representatives", // INF
                "Integration plan names every system to connect (e.g. ERP, OA, DingTalk)",
            ],
        },
        PhaseDefinition {
            name: "Development & configuration",
            name_zh: "开发与配置",
            typical_duration: None,
            deliverables: &[
                "Configured modules and processes in the test environment",
                "Phased release plan for core modules",
            ],
            exit_criteria: &[
                "Requirements acceptance and functional acceptance passed", // S4 FAQ
                "Every requirement change during development went through change control", // S4 FAQ
                "Core modules demonstrated to business representatives",    // INF
            ],
        },
        PhaseDefinition {
            name: "Data preparation & migration",
            name_zh: "数据准备与迁移",
            typical_duration: None,
            deliverables: &[
                "Data cleansing and format-unification rules",
                "Data permission configuration",
                "Migration verification record",
            ],
            exit_criteria: &[
                "Legacy data cleansed and formats unified",
                "Data permissions and sensitive-information protection configured",
                "Migrated data verified by automated checks plus manual verification",
                "Data standards and business terms (e.g. \"customer tag\") defined once and shared by every department",
            ],
        },
        PhaseDefinition {
            name: "Testing & training",
            name_zh: "测试与培训",
            typical_duration: None,
            deliverables: &[
                "Test report", // S4 FAQ
                "Tiered training materials",
                "Knowledge base and FAQ",
            ],
            exit_criteria: &[
                "UAT covers typical scenarios and exception flows, and core business processes pass 100%", // 100%: S1
                "System integration testing passed", // S4 FAQ
                "Every bug is logged in the system with a responsible person, and found bugs are fixed", // S4 FAQ
                "Test report archived", // S4 FAQ
                "Tiered training delivered: business backbone, then ordinary employees, then IT support",
                "Knowledge base and FAQ published",
            ],
        },
        PhaseDefinition {
            name: "Go-live & promotion",
            name_zh: "上线与推广",
            typical_duration: None,
            deliverables: &["Publicity and incentive plan", "Usage-data tracking report"],
            exit_criteria: &[
                "Users trialed the system before the formal go-live", // S4 FAQ
                "Publicity and incentive plan launched",
                "Usage data tracked per department, with every problem found logged and assigned",
                "At least one benchmark department uses the system in daily work", // INF
                "Go-live bug rate measured",                                       // S4 FAQ
            ],
        },
        PhaseDefinition {
            name: "Continuous optimization & O&M",
            name_zh: "持续优化与运维",
            typical_duration: None,
            deliverables: &[
                "System monitoring of stability and data security",
                "Optimization suggestion pool",
                "Retrospective report with improvement points", // S4 FAQ
            ],
            exit_criteria: &[
                "Continuous-optimization group of product manager, IT and business formed",
                "Retrospective held with all members and improvement points recorded", // S4 FAQ
                "Next regular system evaluation scheduled",
                "Training continues after go-live for new hires and feature updates",
            ],
        },
    ],
};

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    const LONGEST_TEXT: usize = 200;

    fn phase_names(key: TemplateKey) -> Vec<&'static str> {
        template(key)
            .phases
            .iter()
            .map(|phase| phase.name)
            .collect()
    }

    #[test]
    fn the_five_phase_template_follows_s1_in_order() {
        let names = phase_names(TemplateKey::FivePhase);
        assert_eq!(names.len(), 5);
        assert_eq!(names.first(), Some(&"Strategy & Preparation"));
        assert_eq!(names.last(), Some(&"Optimization & Value Assessment"));
    }

    #[test]
    fn the_six_phase_template_follows_s2_in_order_with_durations() {
        let six_phase = template(TemplateKey::SixPhase);
        let names = phase_names(TemplateKey::SixPhase);
        assert_eq!(names.len(), 6);
        assert_eq!(names.first(), Some(&"Requirements analysis"));
        assert_eq!(names.last(), Some(&"Operations & optimization"));
        assert!(
            six_phase
                .phases
                .iter()
                .all(|phase| phase.typical_duration.is_some())
        );
        assert_eq!(six_phase.phases[0].typical_duration, Some("2–4 weeks"));
        assert_eq!(six_phase.phases[2].typical_duration, Some("1–3 months"));
    }

    #[test]
    fn the_eight_stage_template_follows_s4_in_order() {
        let names = phase_names(TemplateKey::EightStage);
        assert_eq!(names.len(), 8);
        assert_eq!(names.first(), Some(&"Requirements research"));
        assert_eq!(names[1], "Project initiation");
        assert_eq!(names.last(), Some(&"Continuous optimization & O&M"));
    }

    #[test]
    fn only_the_six_phase_template_gives_durations() {
        for key in [TemplateKey::FivePhase, TemplateKey::EightStage] {
            assert!(
                template(key)
                    .phases
                    .iter()
                    .all(|phase| phase.typical_duration.is_none())
            );
        }
    }

    #[test]
    fn every_template_is_found_under_its_own_key() {
        for key in TemplateKey::ALL {
            assert_eq!(template(key).key, key);
        }
        let listed: Vec<TemplateKey> = all().iter().map(|shipped| shipped.key).collect();
        assert_eq!(listed, TemplateKey::ALL);
    }

    #[test]
    fn every_phase_has_a_deliverable_and_two_exit_criteria() {
        for shipped in all() {
            for phase in shipped.phases {
                assert!(
                    !phase.deliverables.is_empty(),
                    "{} / {}",
                    shipped.name,
                    phase.name
                );
                assert!(
                    phase.exit_criteria.len() >= 2,
                    "{} / {}",
                    shipped.name,
                    phase.name
                );
            }
        }
    }

    #[test]
    fn every_text_is_non_empty_trimmed_and_at_most_200_characters() {
        for shipped in all() {
            let phase_texts = shipped.phases.iter().flat_map(|phase| {
                [phase.name, phase.name_zh]
                    .into_iter()
                    .chain(phase.typical_duration)
                    .chain(phase.deliverables.iter().copied())
                    .chain(phase.exit_criteria.iter().copied())
            });
            for text in [shipped.name, shipped.description]
                .into_iter()
                .chain(phase_texts)
            {
                assert!(!text.trim().is_empty(), "empty text in {}", shipped.name);
                assert_eq!(text, text.trim(), "untrimmed text {text:?}");
                assert!(text.chars().count() <= LONGEST_TEXT, "too long: {text:?}");
            }
        }
    }

    #[test]
    fn no_phase_lists_a_deliverable_or_exit_criterion_twice() {
        for shipped in all() {
            for phase in shipped.phases {
                let deliverables: HashSet<_> = phase.deliverables.iter().collect();
                assert_eq!(
                    deliverables.len(),
                    phase.deliverables.len(),
                    "{}",
                    phase.name
                );
                let criteria: HashSet<_> = phase.exit_criteria.iter().collect();
                assert_eq!(criteria.len(), phase.exit_criteria.len(), "{}", phase.name);
            }
        }
    }

    #[test]
    fn phase_names_are_unique_within_each_template() {
        for shipped in all() {
            let names: HashSet<_> = shipped.phases.iter().map(|phase| phase.name).collect();
            assert_eq!(names.len(), shipped.phases.len(), "{}", shipped.name);
            let names_zh: HashSet<_> = shipped.phases.iter().map(|phase| phase.name_zh).collect();
            assert_eq!(names_zh.len(), shipped.phases.len(), "{}", shipped.name);
        }
    }

    #[test]
    fn template_names_are_unique() {
        let names: HashSet<_> = all().iter().map(|shipped| shipped.name).collect();
        assert_eq!(names.len(), TemplateKey::ALL.len());
    }

    #[test]
    fn every_key_round_trips_through_its_code() {
        for key in TemplateKey::ALL {
            assert_eq!(key.as_str().parse::<TemplateKey>(), Ok(key));
        }
        assert_eq!(
            "SEVEN_PHASE".parse::<TemplateKey>(),
            Err(UnknownTemplate("SEVEN_PHASE".to_owned()))
        );
        assert!("eight_stage".parse::<TemplateKey>().is_err());
    }

    #[test]
    fn projects_default_to_the_eight_stage_template() {
        assert_eq!(TemplateKey::default(), TemplateKey::EightStage);
    }
}
