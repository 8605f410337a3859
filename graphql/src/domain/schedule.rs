//! Milestone scheduling rules: the milestone lifecycle, finish-to-start dependencies (cycle
//! refusal and forecast propagation), slip, overdue, health, and baseline variance.
//!
//! ```text
//! PLANNED ─start─▶ IN_PROGRESS ─achieve─▶ ACHIEVED
//! PLANNED ─achieve─▶ ACHIEVED                  (the date passes without a recorded start)
//! PLANNED or IN_PROGRESS ─miss─▶ MISSED ─achieve─▶ ACHIEVED   (achieved late)
//! ```
//!
//! **Dependencies** are finish-to-start: the successor may not be forecast before the
//! predecessor's date plus the lag. The lag may be negative, down to −365 days, because CRM
//! plans overlap on purpose (training starts a week before UAT ends); it may be at most
//! 3,650 days. A link that would close a cycle, including a link from a milestone to itself,
//! is refused.
//!
//! **Propagation.** When a forecast moves, each dependant's forecast becomes at least the
//! latest of its predecessors' dates plus lags, where an achieved predecessor counts by its
//! actual date. Dependants are only ever pushed later, never pulled earlier, and achieved
//! milestones never move.
//!
//! **Slip** is the forecast minus the baseline, in days; 0 before the schedule is first
//! baselined. A milestone is **overdue** when it is not achieved and its forecast is before
//! today in the project's time zone.
//!
//! **Health**, the first rule that applies:
//!
//! 1. ACHIEVED on or before its baseline, or with no baseline → GREEN; achieved after its
//!    baseline → rules 4–6 applied to the slip of the actual date against the baseline.
//! 2. MISSED → RED.
//! 3. Overdue → RED.
//! 4. Slip ≥ the red threshold → RED.
//! 5. Slip ≥ the amber threshold → AMBER.
//! 6. Otherwise → GREEN.
//!
//! The thresholds are per project, default AMBER from 1 day and RED from 10 days, and must
//! satisfy 0 ≤ amber ≤ red ≤ 3,650. An amber threshold of 0 makes every open milestone that is
//! not ahead of its baseline AMBER, unbaselined ones included.
//!
//! A milestone counts as achieved when it has an actual date or its status is ACHIEVED; the
//! service records both together, and should they ever disagree, moving or flagging as overdue
//! a milestone that was done is the worse mistake.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, TimeDelta};
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MilestoneStatus {
    Planned,
    InProgress,
    Achieved,
    Missed,
}

impl MilestoneStatus {
    pub const ALL: [MilestoneStatus; 4] = [
        Self::Planned,
        Self::InProgress,
        Self::Achieved,
        Self::Missed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "PLANNED",
            Self::InProgress => "IN_PROGRESS",
            Self::Achieved => "ACHIEVED",
            Self::Missed => "MISSED",
        }
    }
}

impl fmt::Display for MilestoneStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown milestone status {0:?}")]
pub struct UnknownMilestoneStatus(pub String);

impl FromStr for MilestoneStatus {
    type Err = UnknownMilestoneStatus;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == code)
            .ok_or_else(|| UnknownMilestoneStatus(code.to_owned()))
    }
}

/// A finish-to-start link: `successor` may not be forecast before `predecessor`'s date + lag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dependency {
    pub predecessor: Uuid,
    pub successor: Uuid,
    pub lag_days: i32,
}

/// The most a successor may lead its predecessor by: overlaps longer than a year are a sign
/// the link is wrong rather than a plan.
pub const MIN_LAG_DAYS: i32 = -365;
/// The longest wait a link may impose, ten years.
pub const MAX_LAG_DAYS: i32 = 3_650;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("lag must be between {MIN_LAG_DAYS} and {MAX_LAG_DAYS} days, got {0}")]
pub struct LagError(pub i32);

/// Accepts a lag within [`MIN_LAG_DAYS`]..=[`MAX_LAG_DAYS`].
pub fn check_lag(lag_days: i32) -> Result<i32, LagError> {
    if (MIN_LAG_DAYS..=MAX_LAG_DAYS).contains(&lag_days) {
        Ok(lag_days)
    } else {
        Err(LagError(lag_days))
    }
}

/// What the rules need of a milestone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MilestoneDates {
    pub id: Uuid,
    pub baseline: Option<NaiveDate>,
    pub forecast: NaiveDate,
    pub actual: Option<NaiveDate>,
    pub status: MilestoneStatus,
}

/// The date the milestone was achieved, or `None` while it is open. An ACHIEVED status without
/// an actual date counts as achieved on its forecast.
pub fn achieved_on(m: &MilestoneDates) -> Option<NaiveDate> {
    match (m.actual, m.status) {
        (Some(actual), _) => Some(actual),
        (None, MilestoneStatus::Achieved) => Some(m.forecast),
        (
            None,
            MilestoneStatus::Planned | MilestoneStatus::InProgress | MilestoneStatus::Missed,
        ) => None,
    }
}

/// Refuses a link that would close a cycle; returns the cycle as the list of milestone ids
/// from the new link's successor back round to it, e.g. [b, c, a, b] when adding a→b while
/// b→c and c→a exist. Also refuses a self-link (cycle [a, a]).
///
/// When several cycles would close, the shortest is named.
pub fn find_cycle(existing: &[Dependency], new_link: Dependency) -> Option<Vec<Uuid>> {
    let start = new_link.successor;
    let target = new_link.predecessor;
    if start == target {
        return Some(vec![start, start]);
    }

    // Sorted successor lists make the named cycle the same whatever order links are loaded in.
    let mut successors: BTreeMap<Uuid, BTreeSet<Uuid>> = BTreeMap::new();
    for link in existing {
        successors
            .entry(link.predecessor)
            .or_default()
            .insert(link.successor);
    }

    let mut reached_from: HashMap<Uuid, Uuid> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &next in successors.get(&node).into_iter().flatten() {
            if next == start || reached_from.contains_key(&next) {
                continue;
            }
            reached_from.insert(next, node);
            if next == target {
                let mut cycle = vec![start, target];
                let mut cursor = target;
                while let Some(&previous) = reached_from.get(&cursor) {
                    cycle.push(previous);
                    cursor = previous;
                }
                // Built backwards from the closing link: start, target, ..., start.
                cycle.reverse();
                return Some(cycle);
            }
            queue.push_back(next);
        }
    }
    None
}

/// One milestone whose forecast moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForecastShift {
    pub id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// Applies a new forecast to `changed` and pushes dependants that would otherwise start early:
/// each successor's forecast becomes at least max over its predecessors of (predecessor's
/// effective date + lag), where a predecessor's effective date is its actual date when achieved,
/// else its forecast. Dependants are never pulled earlier. Achieved milestones (actual set) are
/// never moved. Returns every milestone that moved, the changed one first, then in topological
/// order; the changed one is listed only if its forecast differs. Works for chains and diamonds
/// (each milestone moved once, to the max of its constraints). Assumes the graph is acyclic.
///
/// The direct successors of `changed` are re-checked even when its forecast stays the same, so
/// passing its current forecast enforces a newly added link. Milestones on a cycle, and links
/// to milestones not in `milestones`, are left alone. Ties in the topological order follow the
/// order of `milestones`.
pub fn propagate(
    milestones: &[MilestoneDates],
    links: &[Dependency],
    changed: Uuid,
    new_forecast: NaiveDate,
) -> Vec<ForecastShift> {
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    for (position, milestone) in milestones.iter().enumerate() {
        index.entry(milestone.id).or_insert(position);
    }
    let Some(&changed_at) = index.get(&changed) else {
        return Vec::new();
    };

    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); milestones.len()];
    let mut predecessors: Vec<Vec<(usize, i32)>> = vec![Vec::new(); milestones.len()];
    for link in links {
        if let (Some(&from), Some(&to)) = (index.get(&link.predecessor), index.get(&link.successor))
        {
            successors[from].push(to);
            predecessors[to].push((from, link.lag_days));
        }
    }

    let mut forecasts: Vec<NaiveDate> = milestones.iter().map(|m| m.forecast).collect();
    let mut shifts = Vec::new();
    if forecasts[changed_at] != new_forecast {
        shifts.push(ForecastShift {
            id: changed,
            from: forecasts[changed_at],
            to: new_forecast,
        });
        forecasts[changed_at] = new_forecast;
    }

    // A milestone needs re-checking only when one of its predecessors may have a new date.
    let mut may_have_moved = vec![false; milestones.len()];
    may_have_moved[changed_at] = true;

    for node in topological_order(&successors, &predecessors) {
        let milestone = &milestones[node];
        if node == changed_at
            || achieved_on(milestone).is_some()
            || !predecessors[node]
                .iter()
                .any(|&(predecessor, _)| may_have_moved[predecessor])
        {
            continue;
        }
        let earliest_allowed = predecessors[node]
            .iter()
            .filter_map(|&(predecessor, lag_days)| {
                let effective =
                    achieved_on(&milestones[predecessor]).unwrap_or(forecasts[predecessor]);
                effective.checked_add_signed(TimeDelta::days(i64::from(lag_days)))
            })
            .max();
        if let Some(earliest_allowed) = earliest_allowed
            && earliest_allowed > forecasts[node]
        {
            shifts.push(ForecastShift {
                id: milestone.id,
                from: forecasts[node],
                to: earliest_allowed,
            });
            forecasts[node] = earliest_allowed;
            may_have_moved[node] = true;
        }
    }
    shifts
}

/// The earliest forecast `id` may have under its links, with the predecessor that sets it:
/// the latest of its predecessors' dates (an achieved one by its actual date) plus lags.
/// `None` when nothing constrains it.
pub fn earliest_forecast(
    milestones: &[MilestoneDates],
    links: &[Dependency],
    id: Uuid,
) -> Option<(NaiveDate, Uuid)> {
    links
        .iter()
        .filter(|link| link.successor == id)
        .filter_map(|link| {
            let predecessor = milestones.iter().find(|m| m.id == link.predecessor)?;
            let effective = achieved_on(predecessor).unwrap_or(predecessor.forecast);
            let earliest =
                effective.checked_add_signed(TimeDelta::days(i64::from(link.lag_days)))?;
            Some((earliest, predecessor.id))
        })
        .max()
}

/// A milestone an approved change would move before the date its links allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeforeItsLinks {
    pub id: Uuid,
    /// Where the change would put its forecast.
    pub asked: NaiveDate,
    /// The earliest its predecessors allow once every shift of the change is made.
    pub earliest: NaiveDate,
    /// The predecessor that sets `earliest`.
    pub predecessor: Uuid,
}

/// Moves several milestones' forecasts at once, each by its whole number of days (an approved
/// change's milestone shifts), and pushes their dependants as [`propagate`] does, so that every
/// link into and out of a moved milestone holds. Achieved milestones keep their dates. A shift
/// earlier that would put a milestone before what its predecessors allow, once every shift is
/// made and every push with it, is refused, as such a forecast set by hand would be: the first
/// such, in the order of `shifts`. A shift later is a date at least that late: a shifted
/// milestone that the links push further ends there. Returns every milestone that moved, from
/// its old forecast to its new one: the shifted ones in the order of `shifts`, then those
/// pushed.
pub fn shift_all(
    milestones: &[MilestoneDates],
    links: &[Dependency],
    shifts: &[(Uuid, i32)],
) -> Result<Vec<ForecastShift>, BeforeItsLinks> {
    let position: HashMap<Uuid, usize> = milestones
        .iter()
        .enumerate()
        .map(|(at, milestone)| (milestone.id, at))
        .collect();
    let mut planned = milestones.to_vec();
    let mut shifted = Vec::with_capacity(shifts.len());
    // The shifts earlier, with the forecast each asks for.
    let mut earlier = Vec::new();
    for &(id, days) in shifts {
        let Some(&at) = position.get(&id) else {
            continue;
        };
        let milestone = &mut planned[at];
        if achieved_on(milestone).is_some() || shifted.contains(&at) {
            continue;
        }
        if let Some(to) = milestone
            .forecast
            .checked_add_signed(TimeDelta::days(i64::from(days)))
        {
            milestone.forecast = to;
            shifted.push(at);
            if days < 0 {
                earlier.push((at, to));
            }
        }
    }
    // Pushes only ever move dates later, so one pass from each shifted milestone, itself first
    // brought up to what its links allow, leaves every link into and out of any of them, and
    // out of whatever they pushed, satisfied.
    for &at in &shifted {
        let id = planned[at].id;
        if let Some((earliest, _)) = earliest_forecast(&planned, links, id)
            && planned[at].forecast < earliest
        {
            planned[at].forecast = earliest;
        }
        let forecast = planned[at].forecast;
        for pushed in propagate(&planned, links, id, forecast) {
            if let Some(&to) = position.get(&pushed.id) {
                planned[to].forecast = pushed.to;
            }
        }
    }
    // A shift earlier that the links, with every shift and push made, hold back is refused.
    for &(at, asked) in &earlier {
        if planned[at].forecast > asked {
            let (earliest, predecessor) = earliest_forecast(&planned, links, planned[at].id)
                .unwrap_or((planned[at].forecast, planned[at].id));
            return Err(BeforeItsLinks {
                id: planned[at].id,
                asked,
                earliest,
                predecessor,
            });
        }
    }
    let pushed = (0..milestones.len()).filter(|at| !shifted.contains(at));
    Ok(shifted
        .iter()
        .copied()
        .chain(pushed)
        .filter(|&at| planned[at].forecast != milestones[at].forecast)
        .map(|at| ForecastShift {
            id: milestones[at].id,
            from: milestones[at].forecast,
            to: planned[at].forecast,
        })
        .collect())
}

/// Kahn's algorithm, lowest index first among the ready; nodes on a cycle are left out.
fn topological_order(successors: &[Vec<usize>], predecessors: &[Vec<(usize, i32)>]) -> Vec<usize> {
    let mut pending: Vec<usize> = predecessors.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<usize> = (0..pending.len()).filter(|&n| pending[n] == 0).collect();
    let mut order = Vec::with_capacity(pending.len());
    while let Some(node) = ready.pop_first() {
        order.push(node);
        for &next in &successors[node] {
            pending[next] -= 1;
            if pending[next] == 0 {
                ready.insert(next);
            }
        }
    }
    order
}

/// Per-project thresholds for health, in days of slip (forecast − baseline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthThresholds {
    pub amber_slip_days: i64,
    pub red_slip_days: i64,
}

impl Default for HealthThresholds {
    fn default() -> Self {
        Self {
            amber_slip_days: 1,
            red_slip_days: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ThresholdError {
    #[error("the amber threshold must not be negative")]
    NegativeAmber,
    #[error("the amber threshold ({amber}) must not exceed the red threshold ({red})")]
    AmberAboveRed { amber: i64, red: i64 },
    #[error("the red threshold must be at most {max} days")]
    RedTooLarge { max: i64 },
}

impl HealthThresholds {
    pub const MAX_RED_SLIP_DAYS: i64 = 3_650;

    /// Requires 0 ≤ amber ≤ red ≤ 3,650.
    pub fn new(amber_slip_days: i64, red_slip_days: i64) -> Result<Self, ThresholdError> {
        if amber_slip_days < 0 {
            return Err(ThresholdError::NegativeAmber);
        }
        if amber_slip_days > red_slip_days {
            return Err(ThresholdError::AmberAboveRed {
                amber: amber_slip_days,
                red: red_slip_days,
            });
        }
        if red_slip_days > Self::MAX_RED_SLIP_DAYS {
            return Err(ThresholdError::RedTooLarge {
                max: Self::MAX_RED_SLIP_DAYS,
            });
        }
        Ok(Self {
            amber_slip_days,
            red_slip_days,
        })
    }

    fn classify(self, slip_days: i64) -> Health {
        if slip_days >= self.red_slip_days {
            Health::Red
        } else if slip_days >= self.amber_slip_days {
            Health::Amber
        } else {
            Health::Green
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Health {
    Green,
    Amber,
    Red,
}

impl Health {
    pub const ALL: [Health; 3] = [Self::Green, Self::Amber, Self::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Green => "GREEN",
            Self::Amber => "AMBER",
            Self::Red => "RED",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown health {0:?}")]
pub struct UnknownHealth(pub String);

impl FromStr for Health {
    type Err = UnknownHealth;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|health| health.as_str() == code)
            .ok_or_else(|| UnknownHealth(code.to_owned()))
    }
}

/// slip = forecast − baseline in days; 0 without a baseline.
pub fn slip_days(m: &MilestoneDates) -> i64 {
    m.baseline
        .map_or(0, |baseline| (m.forecast - baseline).num_days())
}

/// Not achieved and its forecast date is before `today` (today in the project's time zone).
pub fn is_overdue(m: &MilestoneDates, today: NaiveDate) -> bool {
    achieved_on(m).is_none() && m.forecast < today
}

/// Documented rules, in this order: ACHIEVED → GREEN when achieved (actual) on or before the baseline
/// (or no baseline), else by the slip of actual vs baseline using the thresholds; MISSED → RED; overdue → RED;
/// slip ≥ red → RED; slip ≥ amber → AMBER; else GREEN.
pub fn health(m: &MilestoneDates, today: NaiveDate, thresholds: HealthThresholds) -> Health {
    if let Some(achieved) = achieved_on(m) {
        return match m.baseline {
            Some(baseline) if achieved > baseline => {
                thresholds.classify((achieved - baseline).num_days())
            }
            Some(_) | None => Health::Green,
        };
    }
    if m.status == MilestoneStatus::Missed || is_overdue(m, today) {
        return Health::Red;
    }
    thresholds.classify(slip_days(m))
}

/// The variance of one milestone between two baseline versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variance {
    pub id: Uuid,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub days: Option<i64>,
}

/// Compares two baseline snapshots (milestone id → baseline date); one row per milestone in
/// either, ordered by id; days = to − from when both exist.
pub fn compare_baselines(
    from: &BTreeMap<Uuid, NaiveDate>,
    to: &BTreeMap<Uuid, NaiveDate>,
) -> Vec<Variance> {
    let ids: BTreeSet<Uuid> = from.keys().chain(to.keys()).copied().collect();
    ids.into_iter()
        .map(|id| {
            let before = from.get(&id).copied();
            let after = to.get(&id).copied();
            Variance {
                id,
                from: before,
                to: after,
                days: before
                    .zip(after)
                    .map(|(before, after)| (after - before).num_days()),
            }
        })
        .collect()
}

/// The commands of the milestone lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MilestoneAction {
    Start,
    Achieve,
    Miss,
}

impl MilestoneAction {
    pub const ALL: [MilestoneAction; 3] = [Self::Start, Self::Achieve, Self::Miss];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "START",
            Self::Achieve => "ACHIEVE",
            Self::Miss => "MISS",
        }
    }
}

impl fmt::Display for MilestoneAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown milestone action {0:?}")]
pub struct UnknownMilestoneAction(pub String);

impl FromStr for MilestoneAction {
    type Err = UnknownMilestoneAction;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|action| action.as_str() == code)
            .ok_or_else(|| UnknownMilestoneAction(code.to_owned()))
    }
}

/// Milestone lifecycle: PLANNED → IN_PROGRESS → ACHIEVED; PLANNED or IN_PROGRESS → MISSED;
/// MISSED → ACHIEVED (achieved late). PLANNED → ACHIEVED is allowed too (a date passes).
///
/// The next status, or None when the lifecycle has no such edge.
pub fn milestone_target(from: MilestoneStatus, action: MilestoneAction) -> Option<MilestoneStatus> {
    use MilestoneAction as A;
    use MilestoneStatus as S;
    match (from, action) {
        (S::Planned, A::Start) => Some(S::InProgress),
        (S::Planned | S::InProgress | S::Missed, A::Achieve) => Some(S::Achieved),
        (S::Planned | S::InProgress, A::Miss) => Some(S::Missed),
        (S::InProgress | S::Achieved | S::Missed, A::Start)
        | (S::Achieved, A::Achieve)
        | (S::Achieved | S::Missed, A::Miss) => None,
    }
}

/// The actions the lifecycle allows from a status, in [`MilestoneAction::ALL`] order.
pub fn milestone_allowed_actions(from: MilestoneStatus) -> Vec<MilestoneAction> {
    MilestoneAction::ALL
        .into_iter()
        .filter(|action| milestone_target(from, *action).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(offset: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, 1).unwrap() + TimeDelta::days(offset)
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn link(predecessor: Uuid, successor: Uuid, lag_days: i32) -> Dependency {
        Dependency {
            predecessor,
            successor,
            lag_days,
        }
    }

    fn open(id: Uuid, forecast: NaiveDate) -> MilestoneDates {
        MilestoneDates {
            id,
            baseline: None,
            forecast,
            actual: None,
            status: MilestoneStatus::Planned,
        }
    }

    #[test]
    fn the_earliest_forecast_is_set_by_the_latest_predecessor_plus_lag() {
        let (build, training, uat) = (id(1), id(2), id(3));
        let mut done = open(training, day(20));
        done.status = MilestoneStatus::Achieved;
        done.actual = Some(day(4));
        let milestones = [open(build, day(10)), done, open(uat, day(30))];
        let links = [link(build, uat, 5), link(training, uat, 2)];
        assert_eq!(
            earliest_forecast(&milestones, &links, uat),
            Some((day(15), build))
        );
        // An achieved predecessor counts by its actual date; a negative lag allows overlap.
        let links = [link(training, uat, -3)];
        assert_eq!(
            earliest_forecast(&milestones, &links, uat),
            Some((day(1), training))
        );
        assert_eq!(earliest_forecast(&milestones, &links, build), None);
    }

    fn baselined(baseline: i64, forecast: i64, status: MilestoneStatus) -> MilestoneDates {
        MilestoneDates {
            id: id(1),
            baseline: Some(day(baseline)),
            forecast: day(forecast),
            actual: None,
            status,
        }
    }

    fn achieved(baseline: Option<i64>, actual: i64) -> MilestoneDates {
        MilestoneDates {
            id: id(1),
            baseline: baseline.map(day),
            forecast: day(actual),
            actual: Some(day(actual)),
            status: MilestoneStatus::Achieved,
        }
    }

    fn shift(id: Uuid, from: i64, to: i64) -> ForecastShift {
        ForecastShift {
            id,
            from: day(from),
            to: day(to),
        }
    }

    #[test]
    fn a_change_shifts_its_milestones_and_pushes_their_dependants() {
        let (build, sit, uat, training) = (id(1), id(2), id(3), id(4));
        let milestones = [
            open(build, day(0)),
            open(sit, day(9)),
            open(uat, day(20)),
            open(training, day(40)),
        ];
        // Build → SIT (5 days after), SIT → UAT (10 days after); training stands alone.
        let links = [link(build, sit, 5), link(sit, uat, 10)];
        assert_eq!(
            shift_all(&milestones, &links, &[(build, 14), (training, -3)]),
            Ok(vec![
                shift(build, 0, 14),
                shift(training, 40, 37),
                shift(sit, 9, 19),
                shift(uat, 20, 29),
            ])
        );
        // Two shifts along one chain: SIT asked for day 12 ends where Build's day 14 puts it.
        assert_eq!(
            shift_all(&milestones, &links, &[(sit, 3), (build, 14)]),
            Ok(vec![
                shift(sit, 9, 19),
                shift(build, 0, 14),
                shift(uat, 20, 29)
            ])
        );
        // Moving a milestone and its predecessor earlier together is allowed.
        assert_eq!(
            shift_all(&milestones, &links, &[(sit, -4), (build, -4)]),
            Ok(vec![shift(sit, 9, 5), shift(build, 0, -4)])
        );
    }

    #[test]
    fn a_change_may_not_move_a_milestone_before_its_links_allow() {
        let (build, sit, uat) = (id(1), id(2), id(3));
        let milestones = [open(build, day(0)), open(sit, day(9)), open(uat, day(20))];
        let links = [link(build, sit, 5), link(sit, uat, 10)];
        assert_eq!(
            shift_all(&milestones, &links, &[(uat, 2), (sit, -5)]),
            Err(BeforeItsLinks {
                id: sit,
                asked: day(4),
                earliest: day(5),
                predecessor: build,
            })
        );
        // UAT a day earlier, while Build's two weeks later push SIT, and UAT after it, later.
        assert_eq!(
            shift_all(&milestones, &links, &[(build, 14), (uat, -1)]),
            Err(BeforeItsLinks {
                id: uat,
                asked: day(19),
                earliest: day(29),
                predecessor: sit,
            })
        );
    }

    #[test]
    fn an_achieved_milestone_keeps_its_dates_when_a_change_shifts_it() {
        let (build, sit) = (id(1), id(2));
        let mut done = open(build, day(3));
        done.actual = Some(day(3));
        done.status = MilestoneStatus::Achieved;
        let milestones = [done, open(sit, day(9))];
        let links = [link(build, sit, 5)];
        assert_eq!(shift_all(&milestones, &links, &[(build, 30)]), Ok(vec![]));
        assert_eq!(
            shift_all(&milestones, &links, &[(sit, -1), (id(9), 4)]),
            Ok(vec![shift(sit, 9, 8)])
        );
    }

    #[test]
    fn every_status_and_action_pair_follows_the_lifecycle_table() {
        use MilestoneAction as A;
        use MilestoneStatus as S;
        let table = [
            (S::Planned, A::Start, Some(S::InProgress)),
            (S::Planned, A::Achieve, Some(S::Achieved)),
            (S::Planned, A::Miss, Some(S::Missed)),
            (S::InProgress, A::Start, None),
            (S::InProgress, A::Achieve, Some(S::Achieved)),
            (S::InProgress, A::Miss, Some(S::Missed)),
            (S::Achieved, A::Start, None),
            (S::Achieved, A::Achieve, None),
            (S::Achieved, A::Miss, None),
            (S::Missed, A::Start, None),
            (S::Missed, A::Achieve, Some(S::Achieved)),
            (S::Missed, A::Miss, None),
        ];
        assert_eq!(
            table.len(),
            MilestoneStatus::ALL.len() * MilestoneAction::ALL.len()
        );
        for (from, action, expected) in table {
            assert_eq!(milestone_target(from, action), expected, "{from} {action}");
        }
    }

    #[test]
    fn allowed_actions_list_exactly_the_edges_out_of_a_status() {
        use MilestoneAction as A;
        use MilestoneStatus as S;
        assert_eq!(
            milestone_allowed_actions(S::Planned),
            vec![A::Start, A::Achieve, A::Miss]
        );
        assert_eq!(
            milestone_allowed_actions(S::InProgress),
            vec![A::Achieve, A::Miss]
        );
        assert_eq!(milestone_allowed_actions(S::Achieved), vec![]);
        assert_eq!(milestone_allowed_actions(S::Missed), vec![A::Achieve]);
    }

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for status in MilestoneStatus::ALL {
            assert_eq!(status.as_str().parse::<MilestoneStatus>(), Ok(status));
        }
        for action in MilestoneAction::ALL {
            assert_eq!(action.as_str().parse::<MilestoneAction>(), Ok(action));
        }
        for health in Health::ALL {
            assert_eq!(health.as_str().parse::<Health>(), Ok(health));
        }
        assert_eq!(
            "planned".parse::<MilestoneStatus>(),
            Err(UnknownMilestoneStatus("planned".to_owned()))
        );
        assert_eq!(MilestoneStatus::InProgress.as_str(), "IN_PROGRESS");
        assert_eq!(Health::Amber.to_string(), "AMBER");
    }

    #[test]
    fn a_self_link_is_a_cycle_of_one() {
        let a = id(1);
        assert_eq!(find_cycle(&[], link(a, a, 0)), Some(vec![a, a]));
    }

    #[test]
    fn a_link_back_along_an_existing_link_is_a_two_cycle() {
        let (a, b) = (id(1), id(2));
        assert_eq!(
            find_cycle(&[link(b, a, 0)], link(a, b, 3)),
            Some(vec![b, a, b])
        );
    }

    #[test]
    fn a_three_cycle_is_named_from_the_new_successor_round_to_it() {
        let (a, b, c) = (id(1), id(2), id(3));
        let existing = [link(b, c, 0), link(c, a, 2)];
        assert_eq!(find_cycle(&existing, link(a, b, 1)), Some(vec![b, c, a, b]));
    }

    #[test]
    fn a_diamond_is_not_a_cycle() {
        let (a, b, c, d) = (id(1), id(2), id(3), id(4));
        let existing = [link(a, b, 0), link(a, c, 0), link(b, d, 0)];
        assert_eq!(find_cycle(&existing, link(c, d, 0)), None);
        // A shortcut across a chain is also no cycle.
        assert_eq!(find_cycle(&existing, link(a, d, 5)), None);
    }

    #[test]
    fn the_shortest_cycle_is_named_when_several_would_close() {
        let (a, b, c, d) = (id(1), id(2), id(3), id(4));
        let existing = [link(b, c, 0), link(c, d, 0), link(d, a, 0), link(b, a, 0)];
        assert_eq!(find_cycle(&existing, link(a, b, 0)), Some(vec![b, a, b]));
    }

    #[test]
    fn lags_from_a_year_of_lead_to_ten_years_of_wait_are_accepted() {
        assert_eq!(check_lag(0), Ok(0));
        assert_eq!(check_lag(-365), Ok(-365));
        assert_eq!(check_lag(3_650), Ok(3_650));
        assert_eq!(check_lag(-366), Err(LagError(-366)));
        assert_eq!(check_lag(3_651), Err(LagError(3_651)));
    }

    #[test]
    fn a_later_forecast_pushes_a_chain_by_its_lags() {
        let (a, b, c) = (id(1), id(2), id(3));
        let milestones = [open(a, day(0)), open(b, day(5)), open(c, day(10))];
        let links = [link(a, b, 5), link(b, c, 5)];
        assert_eq!(
            propagate(&milestones, &links, a, day(3)),
            vec![shift(a, 0, 3), shift(b, 5, 8), shift(c, 10, 13)]
        );
    }

    #[test]
    fn a_diamond_moves_its_sink_once_to_the_latest_constraint() {
        let (a, b, c, d) = (id(1), id(2), id(3), id(4));
        let milestones = [
            open(d, day(20)),
            open(c, day(4)),
            open(b, day(2)),
            open(a, day(0)),
        ];
        let links = [link(a, b, 2), link(a, c, 4), link(b, d, 18), link(c, d, 3)];
        let shifts = propagate(&milestones, &links, a, day(10));
        // b: 10+2 = 12; c: 10+4 = 14; d: max(12+18, 14+3) = 30.
        assert_eq!(
            shifts,
            vec![
                shift(a, 0, 10),
                shift(c, 4, 14),
                shift(b, 2, 12),
                shift(d, 20, 30)
            ]
        );
    }

    #[test]
    fn an_earlier_forecast_never_pulls_dependants_back() {
        let (a, b) = (id(1), id(2));
        let milestones = [open(a, day(10)), open(b, day(15))];
        assert_eq!(
            propagate(&milestones, &[link(a, b, 5)], a, day(2)),
            vec![shift(a, 10, 2)]
        );
    }

    #[test]
    fn achieved_milestones_are_not_moved_and_count_by_their_actual_date() {
        let (a, b, c, d) = (id(1), id(2), id(3), id(4));
        let done = MilestoneDates {
            actual: Some(day(3)),
            status: MilestoneStatus::Achieved,
            ..open(b, day(3))
        };
        let other_predecessor = MilestoneDates {
            actual: Some(day(9)),
            status: MilestoneStatus::Achieved,
            ..open(c, day(1))
        };
        let milestones = [open(a, day(0)), done, other_predecessor, open(d, day(5))];
        let links = [link(a, b, 5), link(b, d, 1), link(c, d, 1)];
        // b stays at day 3 although a+5 = 25; d then needs max(b's actual 3, c's actual 9) + 1.
        assert_eq!(
            propagate(&milestones, &links, a, day(20)),
            vec![shift(a, 0, 20)]
        );
        assert_eq!(
            propagate(&milestones, &links, c, day(2)),
            vec![shift(c, 1, 2), shift(d, 5, 10)]
        );
    }

    #[test]
    fn a_dependant_already_late_enough_is_not_moved_nor_its_own_dependants() {
        let (a, b, c) = (id(1), id(2), id(3));
        let milestones = [open(a, day(0)), open(b, day(30)), open(c, day(31))];
        let links = [link(a, b, 5), link(b, c, 1)];
        assert_eq!(
            propagate(&milestones, &links, a, day(25)),
            vec![shift(a, 0, 25)]
        );
    }

    #[test]
    fn an_unchanged_forecast_still_enforces_links_to_its_direct_dependants() {
        let (a, b) = (id(1), id(2));
        let milestones = [open(a, day(10)), open(b, day(5))];
        assert_eq!(
            propagate(&milestones, &[link(a, b, -2)], a, day(10)),
            vec![shift(b, 5, 8)]
        );
    }

    #[test]
    fn an_unknown_milestone_moves_nothing() {
        let milestones = [open(id(1), day(0))];
        assert_eq!(propagate(&milestones, &[], id(9), day(4)), vec![]);
    }

    #[test]
    fn slip_is_forecast_minus_baseline_and_zero_without_a_baseline() {
        assert_eq!(slip_days(&baselined(10, 14, MilestoneStatus::Planned)), 4);
        assert_eq!(slip_days(&baselined(10, 7, MilestoneStatus::Planned)), -3);
        assert_eq!(slip_days(&open(id(1), day(40))), 0);
    }

    #[test]
    fn overdue_means_open_with_a_forecast_before_today() {
        assert!(is_overdue(&open(id(1), day(9)), day(10)));
        assert!(!is_overdue(&open(id(1), day(10)), day(10)));
        assert!(!is_overdue(&achieved(None, 9), day(10)));
        let achieved_without_actual = MilestoneDates {
            status: MilestoneStatus::Achieved,
            ..open(id(1), day(9))
        };
        assert!(!is_overdue(&achieved_without_actual, day(10)));
    }

    #[test]
    fn achieved_on_or_before_the_baseline_or_without_one_is_green() {
        let thresholds = HealthThresholds::default();
        let long_after = day(400);
        assert_eq!(
            health(&achieved(Some(10), 10), long_after, thresholds),
            Health::Green
        );
        assert_eq!(
            health(&achieved(Some(10), 4), long_after, thresholds),
            Health::Green
        );
        assert_eq!(
            health(&achieved(None, 90), long_after, thresholds),
            Health::Green
        );
    }

    #[test]
    fn achieved_late_is_judged_by_the_slip_of_the_actual_date() {
        let thresholds = HealthThresholds::new(3, 10).unwrap();
        let today = day(400);
        assert_eq!(
            health(&achieved(Some(10), 12), today, thresholds),
            Health::Green
        );
        assert_eq!(
            health(&achieved(Some(10), 13), today, thresholds),
            Health::Amber
        );
        assert_eq!(
            health(&achieved(Some(10), 19), today, thresholds),
            Health::Amber
        );
        assert_eq!(
            health(&achieved(Some(10), 20), today, thresholds),
            Health::Red
        );
        // Achieved after being missed: the miss no longer counts, only the lateness.
        let late = MilestoneDates {
            actual: Some(day(11)),
            ..baselined(10, 11, MilestoneStatus::Achieved)
        };
        assert_eq!(
            health(&late, today, HealthThresholds::default()),
            Health::Amber
        );
    }

    #[test]
    fn missed_is_red_even_when_on_baseline_and_not_overdue() {
        let missed = baselined(10, 10, MilestoneStatus::Missed);
        assert_eq!(
            health(&missed, day(0), HealthThresholds::default()),
            Health::Red
        );
    }

    #[test]
    fn overdue_is_red_even_without_slip() {
        let overdue = baselined(10, 10, MilestoneStatus::InProgress);
        assert_eq!(
            health(&overdue, day(11), HealthThresholds::default()),
            Health::Red
        );
        assert_eq!(
            health(&overdue, day(10), HealthThresholds::default()),
            Health::Green
        );
    }

    #[test]
    fn open_milestones_turn_amber_and_red_exactly_at_the_thresholds() {
        let thresholds = HealthThresholds::new(3, 10).unwrap();
        let today = day(0);
        let by_slip = |slip: i64| {
            health(
                &baselined(20, 20 + slip, MilestoneStatus::Planned),
                today,
                thresholds,
            )
        };
        assert_eq!(by_slip(-5), Health::Green);
        assert_eq!(by_slip(2), Health::Green);
        assert_eq!(by_slip(3), Health::Amber);
        assert_eq!(by_slip(9), Health::Amber);
        assert_eq!(by_slip(10), Health::Red);
        assert_eq!(by_slip(60), Health::Red);
    }

    #[test]
    fn default_thresholds_are_amber_from_one_day_and_red_from_ten() {
        let thresholds = HealthThresholds::default();
        assert_eq!(
            thresholds,
            HealthThresholds {
                amber_slip_days: 1,
                red_slip_days: 10
            }
        );
        let today = day(0);
        let by_slip = |slip: i64| {
            health(
                &baselined(20, 20 + slip, MilestoneStatus::Planned),
                today,
                thresholds,
            )
        };
        assert_eq!(by_slip(0), Health::Green);
        assert_eq!(by_slip(1), Health::Amber);
        assert_eq!(by_slip(10), Health::Red);
        assert_eq!(
            health(&open(id(1), day(5)), today, thresholds),
            Health::Green
        );
    }

    #[test]
    fn equal_thresholds_go_straight_from_green_to_red() {
        let thresholds = HealthThresholds::new(5, 5).unwrap();
        let slipped = |slip: i64| baselined(20, 20 + slip, MilestoneStatus::Planned);
        assert_eq!(health(&slipped(4), day(0), thresholds), Health::Green);
        assert_eq!(health(&slipped(5), day(0), thresholds), Health::Red);
    }

    #[test]
    fn thresholds_need_zero_at_most_amber_at_most_red_at_most_ten_years() {
        assert_eq!(
            HealthThresholds::new(0, 0),
            Ok(HealthThresholds {
                amber_slip_days: 0,
                red_slip_days: 0
            })
        );
        assert!(HealthThresholds::new(1, 3_650).is_ok());
        assert_eq!(
            HealthThresholds::new(-1, 10),
            Err(ThresholdError::NegativeAmber)
        );
        assert_eq!(
            HealthThresholds::new(11, 10),
            Err(ThresholdError::AmberAboveRed { amber: 11, red: 10 })
        );
        assert_eq!(
            HealthThresholds::new(1, 3_651),
            Err(ThresholdError::RedTooLarge { max: 3_650 })
        );
    }

    #[test]
    fn baseline_comparison_has_a_row_per_milestone_in_either_ordered_by_id() {
        let (kept, removed, added) = (id(1), id(2), id(3));
        let from = BTreeMap::from([(kept, day(10)), (removed, day(20))]);
        let to = BTreeMap::from([(added, day(30)), (kept, day(14))]);
        assert_eq!(
            compare_baselines(&from, &to),
            vec![
                Variance {
                    id: kept,
                    from: Some(day(10)),
                    to: Some(day(14)),
                    days: Some(4)
                },
                Variance {
                    id: removed,
                    from: Some(day(20)),
                    to: None,
                    days: None
                },
                Variance {
                    id: added,
                    from: None,
                    to: Some(day(30)),
                    days: None
                },
            ]
        );
        assert_eq!(compare_baselines(&to, &from)[0].days, Some(-4));
        assert_eq!(
            compare_baselines(&BTreeMap::new(), &BTreeMap::new()),
            vec![]
        );
    }
}

#[cfg(test)]
mod properties {
    //! Arbitrary command sequences driven through the milestone lifecycle, and through a plan
    //! of milestones as the service runs it: links added (refused when they would close a
    //! cycle), forecasts moved and milestones achieved, each pushing dependants along. The
    //! invariants are checked after every step.

    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    use MilestoneAction as A;
    use MilestoneStatus as S;

    /// The lifecycle of the module diagram, written independently of `milestone_target`.
    fn expected_target(from: MilestoneStatus, action: MilestoneAction) -> Option<MilestoneStatus> {
        match (from, action) {
            (S::Planned, A::Start) => Some(S::InProgress),
            (S::Planned | S::InProgress | S::Missed, A::Achieve) => Some(S::Achieved),
            (S::Planned | S::InProgress, A::Miss) => Some(S::Missed),
            _ => None,
        }
    }

    fn day(offset: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, 1).expect("valid date") + TimeDelta::days(offset)
    }

    #[derive(Debug, Clone)]
    enum Step {
        Link {
            predecessor: Index,
            successor: Index,
            lag_days: i32,
        },
        /// The forecast is edited, earlier or later.
        Reforecast { milestone: Index, day: i64 },
        /// The milestone is achieved on a date, early or late.
        Achieve { milestone: Index, day: i64 },
    }

    fn link() -> impl Strategy<Value = Step> {
        (any::<Index>(), any::<Index>(), -5_i32..=15).prop_map(
            |(predecessor, successor, lag_days)| Step::Link {
                predecessor,
                successor,
                lag_days,
            },
        )
    }

    fn reforecast() -> impl Strategy<Value = Step> {
        (any::<Index>(), 0_i64..90).prop_map(|(milestone, day)| Step::Reforecast { milestone, day })
    }

    fn achieve() -> impl Strategy<Value = Step> {
        (any::<Index>(), 0_i64..90).prop_map(|(milestone, day)| Step::Achieve { milestone, day })
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![3 => link(), 2 => reforecast(), 1 => achieve()]
    }

    fn actions() -> impl Strategy<Value = Vec<MilestoneAction>> {
        prop::collection::vec(prop::sample::select(MilestoneAction::ALL.to_vec()), 0..40)
    }

    /// Two to six open milestones with forecasts within a quarter, and the steps to apply.
    fn plan() -> impl Strategy<Value = (Vec<MilestoneDates>, Vec<Step>)> {
        let forecasts = prop::collection::vec(0_i64..60, 2..=6);
        (forecasts, prop::collection::vec(step(), 0..40)).prop_map(|(forecasts, steps)| {
            let milestones = (1..)
                .zip(forecasts)
                .map(|(n, forecast)| MilestoneDates {
                    id: Uuid::from_u128(n),
                    baseline: None,
                    forecast: day(forecast),
                    actual: None,
                    status: MilestoneStatus::Planned,
                })
                .collect();
            (milestones, steps)
        })
    }

    /// What one step did to the plan.
    struct Visit {
        milestones_before: Vec<MilestoneDates>,
        links_before: Vec<Dependency>,
        milestones_after: Vec<MilestoneDates>,
        links_after: Vec<Dependency>,
        /// The milestone whose change was propagated, with the shifts it caused.
        propagated: Option<(Uuid, Vec<ForecastShift>)>,
        /// A link refused as closing a cycle, with the cycle named.
        refused: Option<(Dependency, Vec<Uuid>)>,
    }

    /// Applies the steps as the service does: a link closing a cycle is refused, a link
    /// between an already linked pair is a conflict; a new link propagates from its
    /// predecessor's current forecast, an edited forecast from its new date, an achievement
    /// from the achieved milestone. An achieved milestone keeps its dates.
    fn replay(mut milestones: Vec<MilestoneDates>, steps: &[Step]) -> Vec<Visit> {
        let mut links: Vec<Dependency> = Vec::new();
        let mut visits = Vec::with_capacity(steps.len());
        for step in steps {
            let milestones_before = milestones.clone();
            let links_before = links.clone();
            let mut propagated = None;
            let mut refused = None;
            let pick = |index: &Index| index.index(milestones.len());
            match step {
                Step::Link {
                    predecessor,
                    successor,
                    lag_days,
                } => {
                    let new_link = Dependency {
                        predecessor: milestones[pick(predecessor)].id,
                        successor: milestones[pick(successor)].id,
                        lag_days: *lag_days,
                    };
                    let already_linked = links.iter().any(|l| {
                        l.predecessor == new_link.predecessor && l.successor == new_link.successor
                    });
                    if !already_linked {
                        match find_cycle(&links, new_link) {
                            Some(cycle) => refused = Some((new_link, cycle)),
                            None => {
                                links.push(new_link);
                                let forecast = milestones[pick(predecessor)].forecast;
                                propagated = Some((
                                    new_link.predecessor,
                                    propagate(&milestones, &links, new_link.predecessor, forecast),
                                ));
                            }
                        }
                    }
                }
                Step::Reforecast {
                    milestone,
                    day: offset,
                } => {
                    let at = pick(milestone);
                    if achieved_on(&milestones[at]).is_none() {
                        let id = milestones[at].id;
                        propagated = Some((id, propagate(&milestones, &links, id, day(*offset))));
                    }
                }
                Step::Achieve {
                    milestone,
                    day: offset,
                } => {
                    let at = pick(milestone);
                    if let Some(to) = milestone_target(milestones[at].status, A::Achieve) {
                        milestones[at].status = to;
                        milestones[at].actual = Some(day(*offset));
                        let (id, forecast) = (milestones[at].id, milestones[at].forecast);
                        propagated = Some((id, propagate(&milestones, &links, id, forecast)));
                    }
                }
            }
            if let Some((_, shifts)) = &propagated {
                for shift in shifts {
                    if let Some(moved) = milestones.iter_mut().find(|m| m.id == shift.id) {
                        moved.forecast = shift.to;
                    }
                }
            }
            visits.push(Visit {
                milestones_before,
                links_before,
                milestones_after: milestones.clone(),
                links_after: links.clone(),
                propagated,
                refused,
            });
        }
        visits
    }

    /// Whether the links close a cycle: peel off milestones with no remaining predecessor
    /// until none is left (acyclic) or none can be peeled (a cycle).
    fn has_cycle(links: &[Dependency]) -> bool {
        let mut remaining = links.to_vec();
        loop {
            let sources: Vec<Uuid> = remaining
                .iter()
                .map(|l| l.predecessor)
                .filter(|p| !remaining.iter().any(|l| l.successor == *p))
                .collect();
            if remaining.is_empty() {
                return false;
            }
            if sources.is_empty() {
                return true;
            }
            remaining.retain(|l| !sources.contains(&l.predecessor));
        }
    }

    /// The fewest links from `from` to `to`, by relaxing every link until nothing changes.
    fn shortest_path_len(links: &[Dependency], from: Uuid, to: Uuid) -> Option<usize> {
        let mut distance: BTreeMap<Uuid, usize> = BTreeMap::from([(from, 0)]);
        for _ in 0..=links.len() {
            for link in links {
                if let Some(&d) = distance.get(&link.predecessor) {
                    let entry = distance.entry(link.successor).or_insert(usize::MAX);
                    *entry = (*entry).min(d + 1);
                }
            }
        }
        distance.get(&to).copied()
    }

    fn milestone_named(milestones: &[MilestoneDates], id: Uuid) -> &MilestoneDates {
        milestones
            .iter()
            .find(|m| m.id == id)
            .expect("a milestone of the plan")
    }

    fn effective_date(m: &MilestoneDates) -> NaiveDate {
        achieved_on(m).unwrap_or(m.forecast)
    }

    proptest! {
        /// Every accepted milestone action follows an edge of the lifecycle table; ACHIEVED is
        /// final, and since no status is ever entered twice a milestone cannot be achieved (or
        /// missed) twice, nor return to PLANNED.
        #[test]
        fn milestones_follow_their_lifecycle(actions in actions()) {
            let mut status = S::Planned;
            let mut entered = vec![S::Planned];
            for action in actions {
                let target = milestone_target(status, action);
                prop_assert_eq!(target, expected_target(status, action));
                let offered = milestone_allowed_actions(status);
                prop_assert_eq!(offered.contains(&action), target.is_some());
                if status == S::Achieved {
                    prop_assert_eq!(target, None);
                }
                if let Some(to) = target {
                    prop_assert!(!entered.contains(&to), "{} entered twice", to);
                    entered.push(to);
                    status = to;
                }
            }
        }

        /// A change's shifts, on any plan the service could have built: when they apply, every
        /// link out of a milestone that moved holds, achieved milestones keep their dates, a
        /// milestone nobody shifted only moves later, and a shifted one ends at least where its
        /// shift put it; when they are refused, the milestone named was shifted earlier, to
        /// before what its links allow.
        #[test]
        fn a_change_shifts_leave_every_link_of_what_moved_holding(
            (milestones, steps) in plan(),
            shifts in prop::collection::vec((any::<Index>(), -20_i32..=20), 0..4),
        ) {
            let Some(last) = replay(milestones.clone(), &steps).pop() else { return Ok(()) };
            let (plan, links) = (last.milestones_after, last.links_after);
            let mut asked: Vec<(Uuid, i32)> = Vec::new();
            for (index, days) in &shifts {
                let id = plan[index.index(plan.len())].id;
                if !asked.iter().any(|(shifted, _)| *shifted == id) {
                    asked.push((id, *days));
                }
            }
            match shift_all(&plan, &links, &asked) {
                Ok(moved) => {
                    let mut after = plan.clone();
                    for shift in &moved {
                        let m = after.iter_mut().find(|m| m.id == shift.id).expect("moved one");
                        prop_assert_eq!(m.forecast, shift.from);
                        m.forecast = shift.to;
                    }
                    for (before, now) in plan.iter().zip(&after) {
                        let shifted = asked.iter().find(|(id, _)| *id == before.id);
                        if achieved_on(before).is_some() {
                            prop_assert_eq!(now.forecast, before.forecast);
                        } else if let Some((_, days)) = shifted {
                            let wanted = before.forecast + TimeDelta::days(i64::from(*days));
                            prop_assert!(now.forecast >= wanted);
                        } else {
                            prop_assert!(now.forecast >= before.forecast);
                        }
                    }
                    for link in &links {
                        let predecessor = milestone_named(&after, link.predecessor);
                        let successor = milestone_named(&after, link.successor);
                        let moved_one = moved.iter().any(|s| s.id == link.predecessor || s.id == link.successor);
                        if moved_one && achieved_on(successor).is_none() {
                            prop_assert!(
                                successor.forecast
                                    >= effective_date(predecessor) + TimeDelta::days(i64::from(link.lag_days))
                            );
                        }
                    }
                }
                Err(refused) => {
                    let (_, days) = asked.iter().find(|(id, _)| *id == refused.id).expect("a shifted one");
                    prop_assert!(*days < 0);
                    prop_assert!(refused.asked < refused.earliest);
                    prop_assert!(links.iter().any(|l| l.predecessor == refused.predecessor && l.successor == refused.id));
                }
            }
        }

        /// The dependency graph stays acyclic whatever links are asked for, and a refused link
        /// names a real cycle: from the new link's successor along existing links to its
        /// predecessor, closed by the new link, and the shortest such cycle.
        #[test]
        fn links_never_close_a_cycle_and_a_refusal_names_the_shortest(
            (milestones, steps) in plan()
        ) {
            for visit in replay(milestones, &steps) {
                prop_assert!(!has_cycle(&visit.links_after));
                let Some((link, cycle)) = visit.refused else { continue };
                prop_assert_eq!(cycle.first(), Some(&link.successor));
                prop_assert_eq!(cycle.last(), Some(&link.successor));
                prop_assert!(cycle.len() >= 2);
                prop_assert_eq!(cycle[cycle.len() - 2], link.predecessor);
                let existing = &visit.links_before;
                for pair in cycle[..cycle.len() - 1].windows(2) {
                    let linked = existing
                        .iter()
                        .any(|l| l.predecessor == pair[0] && l.successor == pair[1]);
                    prop_assert!(linked, "{:?} is not a link", pair);
                }
                let shortest = if link.predecessor == link.successor {
                    Some(0)
                } else {
                    shortest_path_len(existing, link.successor, link.predecessor)
                };
                prop_assert_eq!(Some(cycle.len() - 2), shortest);
            }
        }

        /// Propagation only ever pushes dependants later: achieved milestones never move,
        /// nothing but the edited milestone moves earlier, each milestone moves at most once
        /// (the edited one listed first), and every shift starts from where it was.
        #[test]
        fn propagation_only_pushes_open_dependants_later((milestones, steps) in plan()) {
            for visit in replay(milestones, &steps) {
                let Some((changed, shifts)) = &visit.propagated else { continue };
                let mut seen = BTreeSet::new();
                for (position, shift) in shifts.iter().enumerate() {
                    prop_assert!(seen.insert(shift.id), "{} moved twice", shift.id);
                    let before = milestone_named(&visit.milestones_before, shift.id);
                    prop_assert_eq!(shift.from, before.forecast);
                    prop_assert_ne!(shift.from, shift.to);
                    if shift.id == *changed {
                        prop_assert_eq!(position, 0);
                    } else {
                        prop_assert!(shift.to > shift.from, "{:?} pulled earlier", shift);
                        prop_assert!(achieved_on(before).is_none(), "achieved {:?} moved", shift);
                    }
                }
            }
        }

        /// After a change has propagated, every link out of the changed milestone or out of a
        /// milestone it pushed holds: the open successor is not forecast before the
        /// predecessor's date (its actual date once achieved) plus the lag.
        #[test]
        fn after_propagation_every_link_out_of_a_moved_milestone_holds(
            (milestones, steps) in plan()
        ) {
            for visit in replay(milestones, &steps) {
                let Some((changed, shifts)) = &visit.propagated else { continue };
                let touched: BTreeSet<Uuid> =
                    shifts.iter().map(|s| s.id).chain([*changed]).collect();
                let find = |id: Uuid| milestone_named(&visit.milestones_after, id);
                for link in visit.links_after.iter().filter(|l| touched.contains(&l.predecessor)) {
                    let successor = find(link.successor);
                    if achieved_on(successor).is_some() {
                        continue;
                    }
                    let lag = TimeDelta::days(i64::from(link.lag_days));
                    let earliest = effective_date(find(link.predecessor)) + lag;
                    let forecast = successor.forecast;
                    prop_assert!(forecast >= earliest, "{:?}: {} < {}", link, forecast, earliest);
                }
            }
        }
    }
}
