//! Project roles (DOMAIN §2.1) and the set of roles one member holds.

use std::collections::BTreeSet;
use std::str::FromStr;

use thiserror::Error;

/// A role a member holds on one project. A person may hold several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProjectRole {
    Sponsor,
    ProjectManager,
    SteeringCommittee,
    BusinessRep,
    ItRep,
    FinanceRep,
    Qa,
    SuperUser,
    Vendor,
    Viewer,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown project role {0:?}")]
pub struct UnknownRole(pub String);

impl ProjectRole {
    pub const ALL: [ProjectRole; 10] = [
        Self::Sponsor,
        Self::ProjectManager,
        Self::SteeringCommittee,
        Self::BusinessRep,
        Self::ItRep,
        Self::FinanceRep,
        Self::Qa,
        Self::SuperUser,
        Self::Vendor,
        Self::Viewer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sponsor => "SPONSOR",
            Self::ProjectManager => "PROJECT_MANAGER",
            Self::SteeringCommittee => "STEERING_COMMITTEE",
            Self::BusinessRep => "BUSINESS_REP",
            Self::ItRep => "IT_REP",
            Self::FinanceRep => "FINANCE_REP",
            Self::Qa => "QA",
            Self::SuperUser => "SUPER_USER",
            Self::Vendor => "VENDOR",
            Self::Viewer => "VIEWER",
        }
    }
}

impl FromStr for ProjectRole {
    type Err = UnknownRole;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == code)
            .ok_or_else(|| UnknownRole(code.to_owned()))
    }
}

/// The roles of one member: never empty, no duplicates, stored sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleSet(BTreeSet<ProjectRole>);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoleSetError {
    #[error("a member needs at least one role")]
    Empty,
    #[error("{0} is listed twice")]
    Duplicate(&'static str),
}

impl RoleSet {
    /// Builds a member's role set from input: at least one role, each once.
    pub fn from_input(roles: &[ProjectRole]) -> Result<Self, RoleSetError> {
        let mut set = BTreeSet::new();
        for role in roles {
            if !set.insert(*role) {
                return Err(RoleSetError::Duplicate(role.as_str()));
            }
        }
        if set.is_empty() {
            return Err(RoleSetError::Empty);
        }
        Ok(Self(set))
    }

    /// The empty set: what a non-member holds.
    pub fn none() -> Self {
        Self::default()
    }

    /// Reads the stored form (`A,B`).
    pub fn from_stored(stored: &str) -> Result<Self, UnknownRole> {
        stored
            .split(',')
            .filter(|code| !code.is_empty())
            .map(ProjectRole::from_str)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// The stored form: sorted codes joined by commas.
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn contains(&self, role: ProjectRole) -> bool {
        self.0.contains(&role)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = ProjectRole> + '_ {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_round_trips_through_its_code() {
        for role in ProjectRole::ALL {
            assert_eq!(role.as_str().parse::<ProjectRole>(), Ok(role));
        }
        assert!("OWNER".parse::<ProjectRole>().is_err());
    }

    #[test]
    fn role_sets_are_sorted_non_empty_and_unique() {
        let set = RoleSet::from_input(&[ProjectRole::Viewer, ProjectRole::Sponsor]).unwrap();
        assert_eq!(set.to_stored(), "SPONSOR,VIEWER");
        assert_eq!(RoleSet::from_stored(&set.to_stored()), Ok(set));
        assert_eq!(RoleSet::from_input(&[]), Err(RoleSetError::Empty));
        assert_eq!(
            RoleSet::from_input(&[ProjectRole::Qa, ProjectRole::Qa]),
            Err(RoleSetError::Duplicate("QA"))
        );
        assert!(RoleSet::from_stored("QA,NOPE").is_err());
    }
}
