//! RACI: the shipped activity × role template, the rules a project's per-person matrix must keep,
//! the checks made before a letter is assigned, and how a new project's matrix is seeded.
//!
//! Source: DOMAIN §2.2. The grid there is itself [INF]; it is encoded in [`template`], where the
//! few cells we had to read or change are commented. A project stores letters per person, not
//! per role, so the rules here speak of people: exactly one accountable (A), at least one
//! responsible (R), and both held by active project members.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;
use uuid::Uuid;

use super::role::{ProjectRole, RoleSet};

/// R, A, C or I.
///
/// The derived order is the conventional spelling order (R, A, C, I), not the strength order;
/// compare strengths with [`RaciLetter::strength`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RaciLetter {
    Responsible,
    Accountable,
    Consulted,
    Informed,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown RACI letter {0:?}")]
pub struct UnknownLetter(pub String);

impl RaciLetter {
    pub const ALL: [RaciLetter; 4] = [
        Self::Responsible,
        Self::Accountable,
        Self::Consulted,
        Self::Informed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Responsible => "R",
            Self::Accountable => "A",
            Self::Consulted => "C",
            Self::Informed => "I",
        }
    }

    /// Ranks letters A > R > C > I: a grid cell such as "A/R" or a member with several roles
    /// keeps the strongest, because it carries the most obligation.
    pub fn strength(self) -> u8 {
        match self {
            Self::Accountable => 3,
            Self::Responsible => 2,
            Self::Consulted => 1,
            Self::Informed => 0,
        }
    }

    pub fn stronger(self, other: RaciLetter) -> RaciLetter {
        if other.strength() > self.strength() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for RaciLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RaciLetter {
    type Err = UnknownLetter;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|letter| letter.as_str() == code)
            .ok_or_else(|| UnknownLetter(code.to_owned()))
    }
}

/// One activity of the template: its name and the letter each project role gets.
#[derive(Debug)]
pub struct TemplateActivity {
    pub name: &'static str,
    pub letters: &'static [(ProjectRole, RaciLetter)],
}

impl TemplateActivity {
    /// The letter the template gives `role`, if the role has a column in the grid.
    pub fn letter_for(&self, role: ProjectRole) -> Option<RaciLetter> {
        self.letters
            .iter()
            .find(|(column, _)| *column == role)
            .map(|(_, letter)| *letter)
    }

    /// The strongest letter any of `roles` earns here; `None` when no role has a column.
    pub fn strongest_letter_for(&self, roles: &RoleSet) -> Option<RaciLetter> {
        roles
            .iter()
            .filter_map(|role| self.letter_for(role))
            .reduce(RaciLetter::stronger)
    }
}

/// The grid's role columns, in DOMAIN §2.2 order. HR has no project role and `VIEWER` no
/// column, so neither earns a letter.
const GRID_COLUMNS: [ProjectRole; 9] = [
    ProjectRole::Sponsor,
    ProjectRole::SteeringCommittee,
    ProjectRole::ProjectManager,
    ProjectRole::BusinessRep,
    ProjectRole::ItRep,
    ProjectRole::FinanceRep,
    ProjectRole::SuperUser,
    ProjectRole::Vendor,
    ProjectRole::Qa,
];

/// Pairs one grid row's cells with [`GRID_COLUMNS`], so the data below reads like the grid.
const fn grid_row(cells: [RaciLetter; 9]) -> [(ProjectRole, RaciLetter); 9] {
    let mut pairs = [(ProjectRole::Sponsor, RaciLetter::Informed); 9];
    let mut column = 0;
    while column < GRID_COLUMNS.len() {
        pairs[column] = (GRID_COLUMNS[column], cells[column]);
        column += 1;
    }
    pairs
}

/// The DOMAIN §2.2 grid as data (18 activities).
///
/// Cell annotations such as "(sign)", "(tech)" or "(ROI)" are dropped; a two-letter cell ("C/R",
/// "A/R") keeps its stronger letter. Two rows are changed so that every activity has exactly
/// one A and at least one R, which a seeded matrix needs to start out valid; see the comments
/// on those rows.
pub fn template() -> &'static [TemplateActivity] {
    use RaciLetter::{Accountable as A, Consulted as C, Informed as I, Responsible as R};

    // Columns: Sponsor, Steering Cttee, PM, Business Reps, IT Rep, Finance Rep, Super Users,
    // Vendor, QA/Testers.
    static TEMPLATE: [TemplateActivity; 18] = [
        TemplateActivity {
            name: "Define business goals & KPIs (baseline)",
            letters: &grid_row([A, C, R, C, C, C, I, I, I]),
        },
        TemplateActivity {
            name: "Scope statement & sign-off",
            letters: &grid_row([A, C, R, C, C, C, I, C, I]),
        },
        TemplateActivity {
            name: "Requirements spec / prioritization (MoSCoW/KANO)",
            letters: &grid_row([I, I, A, R, C, I, C, C, C]),
        },
        TemplateActivity {
            name: "Vendor selection / RFP / TCO",
            letters: &grid_row([A, C, R, C, R, R, I, C, I]),
        },
        TemplateActivity {
            name: "Project plan, milestones, budget",
            letters: &grid_row([A, I, R, C, C, C, I, C, I]),
        },
        TemplateActivity {
            name: "Process configuration",
            letters: &grid_row([I, I, A, R, R, I, C, R, I]),
        },
        TemplateActivity {
            name: "Integration (ERP/OA/HR)",
            letters: &grid_row([I, I, A, C, R, I, I, R, C]),
        },
        TemplateActivity {
            name: "Data migration (audit→cleanse→map→trial→full→validate)",
            letters: &grid_row([I, I, A, R, R, I, C, C, C]),
        },
        // The grid leaves this row without an A. The committee that approves change requests
        // (DOMAIN §2.1, §4) answers for their assessment too, so it gets A instead of I.
        TemplateActivity {
            name: "Change request assessment",
            letters: &grid_row([I, A, R, C, C, C, I, C, I]),
        },
        // The committee's "A/R" keeps only A, which would leave no R; the PM, who carries an
        // approved change into the baselines (DOMAIN §4.3), gets R instead of I.
        TemplateActivity {
            name: "Change request approval",
            letters: &grid_row([C, A, R, I, I, C, I, I, I]),
        },
        TemplateActivity {
            name: "UAT execution & defect logging",
            letters: &grid_row([I, I, A, R, C, I, R, C, R]),
        },
        TemplateActivity {
            name: "Defect fixing",
            letters: &grid_row([I, I, A, I, R, I, I, R, C]),
        },
        TemplateActivity {
            name: "Training (role-based, super-user)",
            letters: &grid_row([I, I, A, R, C, I, R, C, I]),
        },
        TemplateActivity {
            name: "Change management & comms",
            letters: &grid_row([A, I, R, R, I, I, C, I, I]),
        },
        TemplateActivity {
            name: "Go/no-go decision",
            letters: &grid_row([A, C, R, C, C, I, I, C, C]),
        },
        TemplateActivity {
            name: "Cutover & rollback execution",
            letters: &grid_row([I, I, A, C, R, I, I, R, C]),
        },
        TemplateActivity {
            name: "Hypercare / War Room",
            letters: &grid_row([I, I, A, R, R, I, R, R, I]),
        },
        TemplateActivity {
            name: "Value assessment 3/6/12 months",
            letters: &grid_row([A, I, R, C, C, R, I, I, I]),
        },
    ];
    &TEMPLATE
}

/// A person's letter on one activity, as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub user_id: Uuid,
    pub letter: RaciLetter,
    /// False once the person left the project or their account was deactivated.
    pub active_member: bool,
}

/// Why an activity's row breaks the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    NoAccountable,
    /// Assignments refuse a second A, so only stored data that bypassed them can show this.
    SeveralAccountable {
        user_ids: Vec<Uuid>,
    },
    NoResponsible,
    /// The A or an R is not an active project member (left the project or deactivated).
    InactiveHolder {
        user_id: Uuid,
        letter: RaciLetter,
    },
}

impl Violation {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoAccountable => "NO_ACCOUNTABLE",
            Self::SeveralAccountable { .. } => "SEVERAL_ACCOUNTABLE",
            Self::NoResponsible => "NO_RESPONSIBLE",
            Self::InactiveHolder { .. } => "INACTIVE_HOLDER",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::NoAccountable => "nobody is accountable (A) for the activity".to_owned(),
            Self::SeveralAccountable { user_ids } => {
                let ids = user_ids
                    .iter()
                    .map(Uuid::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("several people are accountable (A) for the activity: {ids}")
            }
            Self::NoResponsible => "nobody is responsible (R) for the activity".to_owned(),
            Self::InactiveHolder { user_id, letter } => format!(
                "{user_id} holds {letter} on the activity but is no longer an active project member"
            ),
        }
    }
}

/// Only the A and the Rs carry obligations that an absent person cannot meet.
fn must_be_active(letter: RaciLetter) -> bool {
    matches!(letter, RaciLetter::Accountable | RaciLetter::Responsible)
}

fn holders_of(assignments: &[Assignment], letter: RaciLetter) -> Vec<Uuid> {
    assignments
        .iter()
        .filter(|assignment| assignment.letter == letter)
        .map(|assignment| assignment.user_id)
        .collect()
}

/// Every rule one activity's assignments break: exactly one A; at least one R; the A and every
/// R active members. Empty when the row is valid.
pub fn violations(assignments: &[Assignment]) -> Vec<Violation> {
    let mut found = Vec::new();

    let accountable = holders_of(assignments, RaciLetter::Accountable);
    match accountable.len() {
        0 => found.push(Violation::NoAccountable),
        1 => {}
        _ => found.push(Violation::SeveralAccountable {
            user_ids: accountable,
        }),
    }

    if holders_of(assignments, RaciLetter::Responsible).is_empty() {
        found.push(Violation::NoResponsible);
    }

    found.extend(
        assignments
            .iter()
            .filter(|assignment| must_be_active(assignment.letter) && !assignment.active_member)
            .map(|assignment| Violation::InactiveHolder {
                user_id: assignment.user_id,
                letter: assignment.letter,
            }),
    );

    found
}

/// Refusals of a new assignment, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AssignRefusal {
    #[error("the activity already has an accountable person")]
    SecondAccountable { current: Uuid },
    #[error("the person is not an active member of the project")]
    NotActiveMember,
}

/// Checks giving `letter` to `user_id` on an activity whose current assignments are `current`.
/// A person holds one letter per activity: assigning a person who already has a letter replaces
/// it (so re-assigning the current A as A, or changing the A to R, is fine).
pub fn check_assignment(
    current: &[Assignment],
    user_id: Uuid,
    letter: RaciLetter,
    user_is_active_member: bool,
) -> Result<(), AssignRefusal> {
    if !user_is_active_member {
        return Err(AssignRefusal::NotActiveMember);
    }
    if letter == RaciLetter::Accountable {
        // The person's own current letter is about to be replaced, so it never blocks them.
        let other_accountable = current.iter().find(|assignment| {
            assignment.letter == RaciLetter::Accountable && assignment.user_id != user_id
        });
        if let Some(holder) = other_accountable {
            return Err(AssignRefusal::SecondAccountable {
                current: holder.user_id,
            });
        }
    }
    Ok(())
}

/// The activities (by id) where `user_id` is the only A or the only R: removing that person
/// from the project would break them. `rows` maps activity id → its assignments.
pub fn sole_holder_of(rows: &[(Uuid, Vec<Assignment>)], user_id: Uuid) -> Vec<Uuid> {
    let is_sole = |assignments: &[Assignment], letter: RaciLetter| {
        holders_of(assignments, letter) == [user_id]
    };
    rows.iter()
        .filter(|(_, assignments)| {
            is_sole(assignments, RaciLetter::Accountable)
                || is_sole(assignments, RaciLetter::Responsible)
        })
        .map(|(activity_id, _)| *activity_id)
        .collect()
}

/// Seeding a project's matrix from the template: for each template activity, the letter each
/// member gets. `members` are (user_id, roles). A member with several roles gets the strongest
/// of their letters. The A goes to the FIRST member (in the given order) whose roles earn an A;
/// any other member who would also earn A gets R instead (keeps exactly one A). Members whose
/// roles earn nothing are left out.
pub fn seed_letters(
    activity: &TemplateActivity,
    members: &[(Uuid, RoleSet)],
) -> Vec<(Uuid, RaciLetter)> {
    let mut accountable_given = false;
    members
        .iter()
        .filter_map(|(user_id, roles)| {
            let earned = activity.strongest_letter_for(roles)?;
            let letter = match earned {
                // Several holders of the accountable role (say, two sponsors) still do the
                // work, so the later ones become responsible rather than informed.
                RaciLetter::Accountable if accountable_given => RaciLetter::Responsible,
                RaciLetter::Accountable => {
                    accountable_given = true;
                    RaciLetter::Accountable
                }
                other => other,
            };
            Some((*user_id, letter))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    use RaciLetter::{Accountable as A, Consulted as C, Informed as I, Responsible as R};

    fn person(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn active(n: u128, letter: RaciLetter) -> Assignment {
        Assignment {
            user_id: person(n),
            letter,
            active_member: true,
        }
    }

    fn inactive(n: u128, letter: RaciLetter) -> Assignment {
        Assignment {
            active_member: false,
            ..active(n, letter)
        }
    }

    fn roles(list: &[ProjectRole]) -> RoleSet {
        RoleSet::from_input(list).unwrap()
    }

    fn activity_named(name: &str) -> &'static TemplateActivity {
        template()
            .iter()
            .find(|activity| activity.name == name)
            .unwrap()
    }

    #[test]
    fn letters_round_trip_through_their_codes() {
        for letter in RaciLetter::ALL {
            assert_eq!(letter.as_str().parse::<RaciLetter>(), Ok(letter));
            assert_eq!(letter.to_string(), letter.as_str());
        }
        assert_eq!(
            "X".parse::<RaciLetter>(),
            Err(UnknownLetter("X".to_owned()))
        );
        assert!("r".parse::<RaciLetter>().is_err());
    }

    #[test]
    fn the_stronger_letter_follows_a_then_r_then_c_then_i() {
        let cases = [(C, R, R), (R, A, A), (A, R, A), (I, C, C), (I, I, I)];
        for (first, second, expected) in cases {
            assert_eq!(first.stronger(second), expected, "{first} vs {second}");
        }
    }

    #[test]
    fn the_template_has_eighteen_uniquely_named_activities_each_with_one_a_and_some_r() {
        let activities = template();
        assert_eq!(activities.len(), 18);

        let names: HashSet<_> = activities.iter().map(|activity| activity.name).collect();
        assert_eq!(names.len(), activities.len());

        for activity in activities {
            let count = |wanted| {
                activity
                    .letters
                    .iter()
                    .filter(|(_, letter)| *letter == wanted)
                    .count()
            };
            assert_eq!(count(A), 1, "{}", activity.name);
            assert!(count(R) >= 1, "{}", activity.name);
        }
    }

    #[test]
    fn the_template_gives_every_grid_role_one_letter_and_the_viewer_none() {
        for activity in template() {
            let roles: HashSet<_> = activity.letters.iter().map(|(role, _)| *role).collect();
            assert_eq!(roles.len(), GRID_COLUMNS.len(), "{}", activity.name);
            assert_eq!(activity.letter_for(ProjectRole::Viewer), None);
        }
    }

    #[test]
    fn the_template_reads_two_letter_cells_as_the_stronger_letter() {
        let configuration = activity_named("Process configuration");
        assert_eq!(configuration.letter_for(ProjectRole::BusinessRep), Some(R));
        let approval = activity_named("Change request approval");
        assert_eq!(approval.letter_for(ProjectRole::SteeringCommittee), Some(A));
    }

    #[test]
    fn every_broken_rule_of_a_row_is_reported() {
        let cases: Vec<(&str, Vec<Assignment>, Vec<Violation>)> = vec![
            (
                "valid row",
                vec![active(1, A), active(2, R), active(3, C), inactive(4, I)],
                vec![],
            ),
            (
                "empty row",
                vec![],
                vec![Violation::NoAccountable, Violation::NoResponsible],
            ),
            (
                "no accountable",
                vec![active(1, R), active(2, C)],
                vec![Violation::NoAccountable],
            ),
            (
                "two accountable",
                vec![active(1, A), active(2, R), active(3, A)],
                vec![Violation::SeveralAccountable {
                    user_ids: vec![person(1), person(3)],
                }],
            ),
            (
                "no responsible",
                vec![active(1, A), active(2, C)],
                vec![Violation::NoResponsible],
            ),
            (
                "inactive accountable",
                vec![inactive(1, A), active(2, R)],
                vec![Violation::InactiveHolder {
                    user_id: person(1),
                    letter: A,
                }],
            ),
            (
                "inactive responsible beside an active one",
                vec![active(1, A), active(2, R), inactive(3, R)],
                vec![Violation::InactiveHolder {
                    user_id: person(3),
                    letter: R,
                }],
            ),
            (
                "inactive consulted only",
                vec![active(1, A), active(2, R), inactive(3, C)],
                vec![],
            ),
        ];
        for (label, row, expected) in cases {
            assert_eq!(violations(&row), expected, "{label}");
        }
    }

    #[test]
    fn violations_have_stable_codes_and_readable_descriptions() {
        let cases = [
            (Violation::NoAccountable, "NO_ACCOUNTABLE"),
            (
                Violation::SeveralAccountable {
                    user_ids: vec![person(1), person(2)],
                },
                "SEVERAL_ACCOUNTABLE",
            ),
            (Violation::NoResponsible, "NO_RESPONSIBLE"),
            (
                Violation::InactiveHolder {
                    user_id: person(1),
                    letter: R,
                },
                "INACTIVE_HOLDER",
            ),
        ];
        for (violation, code) in cases {
            assert_eq!(violation.code(), code);
            assert!(!violation.describe().is_empty());
        }
        let several = Violation::SeveralAccountable {
            user_ids: vec![person(1), person(2)],
        };
        assert!(several.describe().contains(&person(2).to_string()));
    }

    #[test]
    fn a_second_accountable_is_refused_naming_the_current_one() {
        let row = [active(1, A), active(2, R)];
        assert_eq!(
            check_assignment(&row, person(3), A, true),
            Err(AssignRefusal::SecondAccountable { current: person(1) })
        );
        assert_eq!(
            check_assignment(&row, person(2), A, true),
            Err(AssignRefusal::SecondAccountable { current: person(1) })
        );
    }

    #[test]
    fn a_person_may_replace_their_own_letter() {
        let row = [active(1, A), active(2, R)];
        let cases = [
            ("current A again as A", person(1), A),
            ("current A becomes R", person(1), R),
            ("an R becomes C", person(2), C),
            ("a newcomer as R", person(3), R),
            ("a newcomer as I", person(3), I),
        ];
        for (label, user_id, letter) in cases {
            assert_eq!(
                check_assignment(&row, user_id, letter, true),
                Ok(()),
                "{label}"
            );
        }
        assert_eq!(check_assignment(&[], person(1), A, true), Ok(()));
    }

    #[test]
    fn a_person_who_is_not_an_active_member_is_refused() {
        for letter in RaciLetter::ALL {
            assert_eq!(
                check_assignment(&[active(1, R)], person(2), letter, false),
                Err(AssignRefusal::NotActiveMember)
            );
        }
    }

    #[test]
    fn sole_holders_are_found_for_only_a_and_only_r_but_not_shared_r() {
        let me = 1;
        let only_a = person(100);
        let only_r = person(101);
        let shared_r = person(102);
        let not_involved = person(103);
        let consulted = person(104);
        let rows = vec![
            (only_a, vec![active(me, A), active(2, R)]),
            (only_r, vec![active(2, A), active(me, R)]),
            (shared_r, vec![active(2, A), active(me, R), active(3, R)]),
            (not_involved, vec![active(2, A), active(3, R)]),
            (consulted, vec![active(2, A), active(3, R), active(me, C)]),
        ];
        assert_eq!(sole_holder_of(&rows, person(me)), vec![only_a, only_r]);
        assert_eq!(
            sole_holder_of(&rows, person(3)),
            vec![not_involved, consulted]
        );
    }

    #[test]
    fn seeding_gives_a_member_with_several_roles_their_strongest_letter() {
        let goals = activity_named("Define business goals & KPIs (baseline)");
        let members = [
            (
                person(1),
                roles(&[ProjectRole::SteeringCommittee, ProjectRole::ProjectManager]),
            ),
            (
                person(2),
                roles(&[ProjectRole::Qa, ProjectRole::BusinessRep]),
            ),
            (
                person(3),
                roles(&[ProjectRole::Sponsor, ProjectRole::Viewer]),
            ),
        ];
        assert_eq!(
            seed_letters(goals, &members),
            vec![(person(1), R), (person(2), C), (person(3), A)]
        );
    }

    #[test]
    fn seeding_keeps_a_single_a_when_two_members_earn_it() {
        let goals = activity_named("Define business goals & KPIs (baseline)");
        let members = [
            (person(1), roles(&[ProjectRole::Sponsor])),
            (person(2), roles(&[ProjectRole::ProjectManager])),
            (person(3), roles(&[ProjectRole::Sponsor])),
        ];
        let seeded = seed_letters(goals, &members);
        assert_eq!(seeded, vec![(person(1), A), (person(2), R), (person(3), R)]);

        let row: Vec<_> = seeded
            .into_iter()
            .map(|(user_id, letter)| Assignment {
                user_id,
                letter,
                active_member: true,
            })
            .collect();
        assert_eq!(violations(&row), vec![]);
    }

    #[test]
    fn seeding_leaves_out_members_whose_roles_earn_nothing() {
        let goals = activity_named("Define business goals & KPIs (baseline)");
        let members = [
            (person(1), roles(&[ProjectRole::Viewer])),
            (person(2), roles(&[ProjectRole::Sponsor])),
            (person(3), RoleSet::none()),
        ];
        assert_eq!(seed_letters(goals, &members), vec![(person(2), A)]);
    }

    #[test]
    fn seeding_every_template_activity_with_one_member_per_role_yields_valid_rows() {
        let members: Vec<_> = ProjectRole::ALL
            .into_iter()
            .zip(1..)
            .map(|(role, n)| (person(n), roles(&[role])))
            .collect();
        for activity in template() {
            let row: Vec<_> = seed_letters(activity, &members)
                .into_iter()
                .map(|(user_id, letter)| Assignment {
                    user_id,
                    letter,
                    active_member: true,
                })
                .collect();
            assert_eq!(violations(&row), vec![], "{}", activity.name);
        }
    }
}
