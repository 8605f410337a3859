//! A bench project's plan: ten phases in order with five milestones each, and the progress the
//! project's status implies on [`AS_OF`].
//!
//! Phases before the current one are COMPLETED, the current one is IN_PROGRESS, later ones are
//! NOT_STARTED. The project runs `slip_days` behind its plan: phases started ever later up to
//! the current one, and every open milestone is forecast that much after its baseline. In the
//! current phase, milestones already due were mostly achieved; the rest were re-forecast or
//! missed, which is what gives a portfolio its mix of green, amber and red.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use steerco_entity::{milestone, phase};
use steerco_graphql::domain::phase::PhaseStatus;
use steerco_graphql::domain::project::ProjectStatus;
use steerco_graphql::domain::schedule::{self, HealthThresholds, MilestoneDates, MilestoneStatus};
use uuid::Uuid;

use super::calendar::{AS_OF, at, plus_days};
use super::people::{Seat, Team};
use super::rng::SeededRng;
use super::text::{GO_LIVE_PHASE, PHASES};

/// Where a project stands in its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Proposed or initiated: the plan starts after [`AS_OF`].
    NotStarted,
    /// Working in this phase (index from 0); the ones before it are completed.
    InPhase(usize),
}

/// A project's planned phase windows and how far behind them it runs.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Planned (first day, last day) of each phase; each starts the day after the previous ends.
    windows: Vec<(NaiveDate, NaiveDate)>,
    pub progress: Progress,
    /// How many days the project runs behind its plan.
    pub slip_days: i64,
}

/// Who owns each phase and its milestones (the PM owns each phase's closing milestone).
const PHASE_OWNERS: [Seat; 10] = [
    Seat::BusinessLead,
    Seat::ProjectManager,
    Seat::ItLead,
    Seat::ItLead,
    Seat::Vendor,
    Seat::ItLead,
    Seat::Qa,
    Seat::BusinessLead,
    Seat::ItLead,
    Seat::BusinessLead,
];

impl Timeline {
    pub fn draw(rng: &mut SeededRng, status: ProjectStatus) -> Self {
        let durations: Vec<i64> = PHASES
            .iter()
            .map(|phase| phase.typical_days * rng.between(80, 125) / 100)
            .collect();
        let progress = progress_of(rng, status);
        // Most projects are roughly on plan; a tail runs weeks late.
        let slip_days = match progress {
            Progress::NotStarted => 0,
            Progress::InPhase(_) => {
                let band =
                    rng.weighted(&[((0, 0), 40), ((1, 6), 30), ((7, 15), 20), ((16, 45), 10)]);
                rng.between(band.0, band.1)
            }
        };
        let offsets: Vec<i64> = durations
            .iter()
            .scan(0, |elapsed, days| {
                let offset = *elapsed;
                *elapsed += days;
                Some(offset)
            })
            .collect();
        let start = match (progress, status) {
            (Progress::NotStarted, ProjectStatus::Proposed) => {
                plus_days(AS_OF, rng.between(14, 90))
            }
            (Progress::NotStarted, _) => plus_days(AS_OF, rng.between(3, 30)),
            (Progress::InPhase(current), _) => {
                let into_phase = durations[current] * rng.between(10, 90) / 100;
                plus_days(AS_OF, -(offsets[current] + into_phase + slip_days))
            }
        };
        let windows = offsets
            .iter()
            .zip(&durations)
            .map(|(offset, days)| {
                let first = plus_days(start, *offset);
                (first, plus_days(first, days - 1))
            })
            .collect();
        Self {
            windows,
            progress,
            slip_days,
        }
    }

    pub fn planned_start(&self) -> NaiveDate {
        self.windows[0].0
    }

    /// The planned go-live: the last day of the go-live phase.
    pub fn target_go_live(&self) -> NaiveDate {
        self.windows[GO_LIVE_PHASE].1
    }

    /// The go-live as forecast now: the plan plus the slip.
    pub fn forecast_go_live(&self) -> NaiveDate {
        plus_days(self.target_go_live(), self.slip_days)
    }

    /// The day the project went live, once it has.
    pub fn went_live_on(&self) -> Option<NaiveDate> {
        match self.progress {
            Progress::InPhase(current) if current > GO_LIVE_PHASE => self.actual_end(GO_LIVE_PHASE),
            _ => None,
        }
    }

    /// How far into the plan the project got: phases before this index are completed.
    pub fn phases_completed(&self) -> usize {
        match self.progress {
            Progress::NotStarted => 0,
            Progress::InPhase(current) => current,
        }
    }

    /// The days a phase started late: nothing for the first, then growing evenly to the whole
    /// slip at the current phase.
    fn start_drift(&self, phase: usize) -> i64 {
        match self.progress {
            Progress::InPhase(0) => self.slip_days,
            Progress::InPhase(current) => self.slip_days * phase as i64 / current as i64,
            Progress::NotStarted => 0,
        }
    }

    fn actual_start(&self, phase: usize) -> Option<NaiveDate> {
        let started = matches!(self.progress, Progress::InPhase(current) if phase <= current);
        started.then(|| plus_days(self.windows[phase].0, self.start_drift(phase)))
    }

    /// A completed phase ends the day before the next one starts.
    pub fn actual_end(&self, phase: usize) -> Option<NaiveDate> {
        let completed = matches!(self.progress, Progress::InPhase(current) if phase < current);
        completed
            .then(|| self.actual_start(phase + 1).map(|next| plus_days(next, -1)))
            .flatten()
    }

    fn status_of(&self, phase: usize) -> PhaseStatus {
        match self.progress {
            Progress::InPhase(current) if phase < current => PhaseStatus::Completed,
            Progress::InPhase(current) if phase == current => PhaseStatus::InProgress,
            _ => PhaseStatus::NotStarted,
        }
    }

    /// The ten phase rows.
    pub fn phases(
        &self,
        rng: &mut SeededRng,
        project_id: Uuid,
        team: &Team,
        created_at: DateTime<Utc>,
    ) -> Vec<phase::Model> {
        PHASES
            .iter()
            .enumerate()
            .map(|(index, outline)| {
                let status = self.status_of(index);
                let actual_start = self.actual_start(index);
                let actual_end = self.actual_end(index);
                let last_change = actual_end.or(actual_start);
                phase::Model {
                    id: rng.id_at(created_at),
                    project_id,
                    position: index as i32 + 1,
                    name: outline.name.to_owned(),
                    owner_id: Some(team.get(PHASE_OWNERS[index])),
                    planned_start: Some(self.windows[index].0),
                    planned_end: Some(self.windows[index].1),
                    actual_start,
                    actual_end,
                    status: status.as_str().to_owned(),
                    status_reason: None,
                    created_at,
                    updated_at: last_change.map_or(created_at, |day| at(day, 17)),
                    // Started, gate requested and gate decided are one change each.
                    version: match status {
                        PhaseStatus::Completed => 4,
                        PhaseStatus::InProgress => 2,
                        _ => 1,
                    },
                }
            })
            .collect()
    }

    /// Five milestones per phase, their baselines spread evenly over the phase.
    pub fn milestones(
        &self,
        rng: &mut SeededRng,
        phases: &[phase::Model],
        team: &Team,
        created_at: DateTime<Utc>,
    ) -> Vec<milestone::Model> {
        let mut rows = Vec::with_capacity(phases.len() * 5);
        for (index, phase) in phases.iter().enumerate() {
            let (first, last) = self.windows[index];
            let days = (last - first).num_days() + 1;
            let mut started_one = false;
            for (ordinal, name) in PHASES[index].milestones.iter().enumerate() {
                let baseline = plus_days(first, days * (ordinal as i64 + 1) / 5 - 1);
                let progress = self.milestone_progress(rng, index, baseline, &mut started_one);
                let owner = if ordinal == 4 {
                    Seat::ProjectManager
                } else {
                    PHASE_OWNERS[index]
                };
                let created = created_at + Duration::seconds(rows.len() as i64);
                let mut row = milestone_row(
                    rng,
                    phase,
                    name,
                    team.get(owner),
                    baseline,
                    progress,
                    created,
                );
                // The milestone that closes a phase is announced to the whole team.
                row.is_key = ordinal == 4;
                rows.push(row);
            }
        }
        rows
    }

    /// Where one milestone stands on [`AS_OF`].
    fn milestone_progress(
        &self,
        rng: &mut SeededRng,
        phase: usize,
        baseline: NaiveDate,
        started_one: &mut bool,
    ) -> MilestoneProgress {
        let Progress::InPhase(current) = self.progress else {
            return MilestoneProgress::open(MilestoneStatus::Planned, baseline);
        };
        // Only completed phases have ended: their milestones were all achieved within them.
        if let (Some(started), Some(ended)) = (self.actual_start(phase), self.actual_end(phase)) {
            let late = self.start_drift(phase) + rng.between(-3, 1);
            return MilestoneProgress::achieved(plus_days(baseline, late).clamp(started, ended));
        }
        let due = plus_days(baseline, self.slip_days);
        if phase > current {
            return MilestoneProgress::open(MilestoneStatus::Planned, due);
        }
        if due < AS_OF {
            let started = self.actual_start(phase).unwrap_or(AS_OF);
            return match rng.weighted(&[
                (Outcome::Achieved, 70),
                (Outcome::Reforecast, 20),
                (Outcome::Missed, 10),
            ]) {
                Outcome::Achieved => {
                    let achieved = plus_days(due, rng.between(-3, 1));
                    MilestoneProgress::achieved(achieved.min(AS_OF).max(started))
                }
                Outcome::Reforecast => MilestoneProgress {
                    changes: 1,
                    ..MilestoneProgress::open(
                        MilestoneStatus::InProgress,
                        plus_days(AS_OF, rng.between(3, 21)),
                    )
                },
                Outcome::Missed => MilestoneProgress {
                    changes: 1,
                    ..MilestoneProgress::open(MilestoneStatus::Missed, due)
                },
            };
        }
        // Work starts on the next milestone due; the ones after it wait.
        let status = if *started_one {
            MilestoneStatus::Planned
        } else {
            *started_one = true;
            MilestoneStatus::InProgress
        };
        MilestoneProgress::open(status, due)
    }
}

/// What became of a milestone already due in the current phase.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Achieved,
    Reforecast,
    Missed,
}

/// A milestone's status and dates, and how many edits got it there.
#[derive(Debug, Clone, Copy)]
struct MilestoneProgress {
    status: MilestoneStatus,
    forecast: NaiveDate,
    actual: Option<NaiveDate>,
    changes: i64,
}

impl MilestoneProgress {
    fn open(status: MilestoneStatus, forecast: NaiveDate) -> Self {
        let started = i64::from(status == MilestoneStatus::InProgress);
        Self {
            status,
            forecast,
            actual: None,
            changes: started,
        }
    }

    /// Achieved on `day`; the service records the forecast as the actual date then.
    fn achieved(day: NaiveDate) -> Self {
        Self {
            status: MilestoneStatus::Achieved,
            forecast: day,
            actual: Some(day),
            changes: 1,
        }
    }
}

fn milestone_row(
    rng: &mut SeededRng,
    phase: &phase::Model,
    name: &str,
    owner: Uuid,
    baseline: NaiveDate,
    progress: MilestoneProgress,
    created_at: DateTime<Utc>,
) -> milestone::Model {
    let id = rng.id_at(created_at);
    let dates = MilestoneDates {
        id,
        baseline: Some(baseline),
        forecast: progress.forecast,
        actual: progress.actual,
        status: progress.status,
    };
    // The stored health is the one last reported; on the snapshot day that is today's.
    let health = schedule::health(&dates, AS_OF, HealthThresholds::default());
    let updated_at = match (progress.actual, progress.changes) {
        (Some(day), _) => at(day, 16),
        (None, 0) => created_at,
        (None, _) => at(plus_days(AS_OF, -1), 11),
    };
    milestone::Model {
        id,
        project_id: phase.project_id,
        phase_id: phase.id,
        name: name.to_owned(),
        owner_id: Some(owner),
        baseline_date: Some(baseline),
        forecast_date: progress.forecast,
        actual_date: progress.actual,
        status: progress.status.as_str().to_owned(),
        last_health: health.as_str().to_owned(),
        created_at,
        updated_at: updated_at.max(created_at),
        version: 1 + progress.changes,
        is_key: false,
    }
}

/// The phase a project of `status` works in. Most projects in execution are in the long
/// middle of the plan; held and cancelled ones stopped part-way; live ones are in hypercare.
fn progress_of(rng: &mut SeededRng, status: ProjectStatus) -> Progress {
    match status {
        ProjectStatus::Proposed | ProjectStatus::Initiated => Progress::NotStarted,
        ProjectStatus::InExecution => Progress::InPhase(rng.weighted(&[
            (0, 6),
            (1, 8),
            (2, 12),
            (3, 10),
            (4, 22),
            (5, 18),
            (6, 14),
            (7, 10),
        ])),
        ProjectStatus::OnHold | ProjectStatus::Cancelled => {
            Progress::InPhase(rng.between(1, 6) as usize)
        }
        ProjectStatus::LiveHypercare => Progress::InPhase(GO_LIVE_PHASE + 1),
        // The bench deck holds no closed project; one would be in its last phase too.
        ProjectStatus::Optimization | ProjectStatus::Closed => Progress::InPhase(PHASES.len() - 1),
    }
}
