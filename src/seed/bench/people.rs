//! Who works on bench projects: a shared pool of users, each with one job (project manager,
//! sponsor, QA lead, ...), and each project's team of ten drawn from it.

use chrono::{DateTime, Duration, Utc};
use steerco_entity::{project_member, user};
use steerco_graphql::domain::role::{ProjectRole, RoleSet};
use uuid::Uuid;

use super::BenchError;
use super::calendar::{AS_OF, at, plus_days};
use super::rng::SeededRng;
use super::text::{BENCH_EMAIL_DOMAIN, FIRST_NAMES, LAST_NAMES};

/// A seat on a project team. Every project fills each seat once, from the pool of people who do
/// that job; the sponsor, the finance representative and one more member form the steering
/// committee, the three voters of every ballot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    ProjectManager,
    Sponsor,
    Finance,
    Committee,
    Qa,
    BusinessLead,
    BusinessRep,
    ItLead,
    Vendor,
    Viewer,
}

impl Seat {
    /// In joining order: the project manager creates the project and adds the others.
    pub const ALL: [Seat; 10] = [
        Self::ProjectManager,
        Self::Sponsor,
        Self::Finance,
        Self::Committee,
        Self::Qa,
        Self::BusinessLead,
        Self::BusinessRep,
        Self::ItLead,
        Self::Vendor,
        Self::Viewer,
    ];

    /// The voters of every ballot.
    pub const COMMITTEE: [Seat; 3] = [Self::Sponsor, Self::Finance, Self::Committee];

    fn roles(self) -> &'static [ProjectRole] {
        use ProjectRole as R;
        match self {
            Self::ProjectManager => &[R::ProjectManager],
            Self::Sponsor => &[R::Sponsor, R::SteeringCommittee],
            Self::Finance => &[R::SteeringCommittee, R::FinanceRep],
            Self::Committee => &[R::SteeringCommittee],
            Self::Qa => &[R::Qa],
            Self::BusinessLead => &[R::BusinessRep, R::SuperUser],
            Self::BusinessRep => &[R::BusinessRep],
            Self::ItLead => &[R::ItRep],
            Self::Vendor => &[R::Vendor],
            Self::Viewer => &[R::Viewer],
        }
    }

    /// How many people of the pool do this job: 330 in all. At 1,000 projects each person
    /// sits on 25 to 50 teams, so one person's portfolio is about as big as a benchmark's.
    fn pool_size(self) -> usize {
        match self {
            Self::ProjectManager | Self::Sponsor | Self::Committee => 40,
            Self::BusinessLead | Self::BusinessRep => 40,
            Self::Finance | Self::Qa | Self::ItLead => 30,
            Self::Vendor | Self::Viewer => 20,
        }
    }

    /// The seat's place in [`Seat::ALL`], which lists the seats in declaration order.
    fn index(self) -> usize {
        self as usize
    }
}

/// The shared pool: the ids of the people doing each job, by [`Seat`].
pub struct UserPool {
    by_seat: Vec<Vec<Uuid>>,
}

/// Every bench user exists long before the oldest bench project.
const POOL_JOINED_DAYS_BEFORE: i64 = 800;

/// The pool's users (rows) and their ids by job. The same for every project count.
pub fn user_pool(rng: &mut SeededRng) -> (Vec<user::Model>, UserPool) {
    let joined = at(plus_days(AS_OF, -POOL_JOINED_DAYS_BEFORE), 8);
    let mut users = Vec::new();
    let mut by_seat = Vec::new();
    for seat in Seat::ALL {
        let mut ids = Vec::with_capacity(seat.pool_size());
        for _ in 0..seat.pool_size() {
            let created_at = joined + Duration::seconds(users.len() as i64);
            let person = pool_user(rng, users.len() + 1, created_at);
            ids.push(person.id);
            users.push(person);
        }
        by_seat.push(ids);
    }
    (users, UserPool { by_seat })
}

fn pool_user(rng: &mut SeededRng, number: usize, created_at: DateTime<Utc>) -> user::Model {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let locale = if rng.percent(15) { "zh-CN" } else { "en" };
    user::Model {
        id: rng.id_at(created_at),
        // The number keeps addresses unique however the names fall.
        email: format!("{first}.{last}.{number:03}@{BENCH_EMAIL_DOMAIN}").to_lowercase(),
        name: format!("{first} {last}"),
        locale: locale.to_owned(),
        active: true,
        admin: false,
        password_hash: None,
        created_at,
        updated_at: created_at,
        version: 1,
    }
}

/// One project's people, one per [`Seat`].
#[derive(Debug, Clone)]
pub struct Team {
    by_seat: [Uuid; Seat::ALL.len()],
}

impl Team {
    /// Fills every seat from the pool.
    pub fn draw(rng: &mut SeededRng, pool: &UserPool) -> Self {
        let by_seat = Seat::ALL.map(|seat| *rng.pick(&pool.by_seat[seat.index()]));
        Self { by_seat }
    }

    pub fn get(&self, seat: Seat) -> Uuid {
        self.by_seat[seat.index()]
    }

    /// The steering committee: the eligible voters of every ballot.
    pub fn committee(&self) -> [Uuid; 3] {
        Seat::COMMITTEE.map(|seat| self.get(seat))
    }

    /// The membership rows, one a minute from the project's creation, in [`Seat::ALL`] order.
    pub fn members(
        &self,
        rng: &mut SeededRng,
        project_id: Uuid,
        project_created: DateTime<Utc>,
    ) -> Result<Vec<project_member::Model>, BenchError> {
        Seat::ALL
            .iter()
            .enumerate()
            .map(|(order, &seat)| {
                let joined = project_created + Duration::minutes(order as i64);
                let roles = RoleSet::from_input(seat.roles())
                    .map_err(|e| BenchError::Inconsistent(e.to_string()))?;
                Ok(project_member::Model {
                    id: rng.id_at(joined),
                    project_id,
                    user_id: self.get(seat),
                    roles: roles.to_stored(),
                    created_at: joined,
                    updated_at: joined,
                    version: 1,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seat_is_listed_once_in_declaration_order() {
        for (position, seat) in Seat::ALL.into_iter().enumerate() {
            assert_eq!(seat.index(), position, "{seat:?}");
        }
    }
}
