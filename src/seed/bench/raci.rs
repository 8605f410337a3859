//! A bench project's RACI matrix: twenty activities, each with exactly one Accountable, at
//! least one Responsible, and four people in all, every one a member of the team.

use chrono::{DateTime, Duration, Utc};
use steerco_entity::{phase, raci_activity, raci_assignment};
use steerco_graphql::domain::raci::RaciLetter;
use uuid::Uuid;

use super::people::{Seat, Team};
use super::rng::SeededRng;
use super::text::RACI_ACTIVITIES;

/// People on each activity: the Accountable, the Responsible, and two more.
pub const PEOPLE_PER_ACTIVITY: usize = 4;

/// The matrix rows and their assignments, all made when the matrix was set up.
pub fn matrix(
    rng: &mut SeededRng,
    project_id: Uuid,
    team: &Team,
    phases: &[phase::Model],
    set_up: DateTime<Utc>,
) -> (Vec<raci_activity::Model>, Vec<raci_assignment::Model>) {
    let mut activities = Vec::with_capacity(RACI_ACTIVITIES.len());
    let mut assignments = Vec::with_capacity(RACI_ACTIVITIES.len() * PEOPLE_PER_ACTIVITY);
    for (index, outline) in RACI_ACTIVITIES.iter().enumerate() {
        let activity = raci_activity::Model {
            id: rng.id_at(set_up),
            project_id,
            phase_id: outline.phase.map(|phase| phases[phase].id),
            position: index as i32 + 1,
            name: outline.name.to_owned(),
            updated_at: set_up,
            version: 1,
        };
        let letters = letters_for(rng, outline.accountable, outline.responsible);
        for (order, (seat, letter)) in letters.into_iter().enumerate() {
            // A second apart, so that the matrix lists them in the order they were given.
            let assigned_at = set_up + Duration::seconds(order as i64);
            assignments.push(raci_assignment::Model {
                id: rng.id_at(assigned_at),
                activity_id: activity.id,
                project_id,
                user_id: team.get(seat),
                letter: letter.as_str().to_owned(),
                assigned_at,
            });
        }
        activities.push(activity);
    }
    (activities, assignments)
}

/// Four different seats with their letters: A and R as outlined, then a second R or a C, then
/// a C or an I.
fn letters_for(
    rng: &mut SeededRng,
    accountable: Seat,
    responsible: Seat,
) -> [(Seat, RaciLetter); PEOPLE_PER_ACTIVITY] {
    let mut others: Vec<Seat> = Seat::ALL
        .into_iter()
        .filter(|seat| *seat != accountable && *seat != responsible && *seat != Seat::Viewer)
        .collect();
    rng.shuffle(&mut others);
    let third = if rng.percent(25) {
        RaciLetter::Responsible
    } else {
        RaciLetter::Consulted
    };
    let fourth = if rng.percent(40) {
        RaciLetter::Consulted
    } else {
        RaciLetter::Informed
    };
    // Viewers follow the project: they are only ever informed.
    let fourth_seat = if fourth == RaciLetter::Informed && rng.percent(30) {
        Seat::Viewer
    } else {
        others[1]
    };
    [
        (accountable, RaciLetter::Accountable),
        (responsible, RaciLetter::Responsible),
        (others[0], third),
        (fourth_seat, fourth),
    ]
}
