//! The drill report's `dissuasion` section: the population's ground truth (who was reached,
//! who would have paid, who was warned effectively before paying and what that saved:
//! `simulator::population`), what was done (SMS the carriers were asked for, the calls and
//! visits the simulated staff completed, with their outcomes), and what dissuasion recorded
//! in each city's stream: tasks opened, deadlines missed (`task_escalated` with reason
//! `deadline`, `task_overdue`), reports filed for people who had paid (`report_filed`) and the
//! open tasks of each queue over simulated time. Events name people by task and pseudonymous
//! key only; nothing here reads a number.

use std::collections::BTreeMap;

use domain::{City, MoneyError, TimeMs};
use events::dissuasion::{DissuasionEvent, Escalation, TaskId, TaskKind};
use events::{Envelope, Payload};
use serde::{Deserialize, Serialize};
use simulator::World;

use super::people::PeopleStats;
use super::score::SERIES_POINTS;

/// The queues of the backlog, in order: `sms`, `call`, then the four visit levels.
pub const BACKLOG_QUEUES: [&str; 6] =
    ["sms", "call", "visit.city_bureau", "visit.district_bureau", "visit.police_station", "visit.community"];

/// A queue's name, as dissuasion's commands spell it.
pub fn queue_name(kind: TaskKind) -> &'static str {
    BACKLOG_QUEUES[queue_index(kind)]
}

fn queue_index(kind: TaskKind) -> usize {
    match kind {
        TaskKind::Sms => 0,
        TaskKind::Call => 1,
        TaskKind::Visit(level) => 2 + level.index(),
    }
}

/// Open tasks of each queue at one moment, in [`BACKLOG_QUEUES`] order.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct BacklogPoint {
    /// Simulated ms since the epoch.
    pub at_ms: TimeMs,
    pub open: [u64; 6],
}

/// One city's dissuasion figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CityDissuasion {
    pub reached: u64,
    pub would_pay: u64,
    pub warned_before_paying: u64,
    pub loss_avoided_fen: u64,
    pub lost_fen: u64,
    pub deadline_misses: u64,
}

/// The `dissuasion` section of `report.json`. Every field defaults: a report of a scenario
/// without a population, or written before dissuasion existed, reads with an empty section.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DissuasionSection {
    /// People of the population (the scenario's `[population]`).
    pub people: u64,
    /// Whose first contact with the gang got through.
    pub reached: u64,
    /// Whose first contact a block stopped (never reached).
    pub spared_by_blocks: u64,
    /// Reached people who would have paid had nobody warned them.
    pub would_pay: u64,
    /// What they would have paid.
    pub would_pay_fen: u64,
    /// Of those, warned effectively before they paid.
    pub warned_before_paying: u64,
    /// `warned_before_paying / would_pay`.
    pub warned_before_paying_share: f64,
    /// What those warned in time would have lost (the ground truth's amounts).
    pub loss_avoided_fen: u64,
    /// The step that stopped them (`sms`, `call`, `visit`).
    pub stopped_by: BTreeMap<String, u64>,
    /// People warned effectively, whether they would have paid or not.
    pub warned: u64,
    /// People who paid by the end, and what they lost.
    pub paid: u64,
    pub lost_fen: u64,
    /// People due to pay after the end, not warned.
    pub not_paid_yet: u64,
    /// Contact signals the carriers published (acknowledged), and those lost.
    pub signals_published: u64,
    pub signals_lost: u64,
    /// SMS warnings the carriers were asked for, and delivered.
    pub sms_sent: u64,
    pub sms_delivered: u64,
    /// Calls and visits the staff completed.
    pub calls: u64,
    pub visits: u64,
    /// Completed calls and visits by queue.
    pub completed_by_queue: BTreeMap<String, u64>,
    /// Their outcomes (`persuaded`, `refused`, `unreachable`, `already_paid`,
    /// `false_positive`).
    pub outcomes: BTreeMap<String, u64>,
    /// Commands refused or not answered.
    pub staff_errors: u64,
    /// Tasks dissuasion opened, every city.
    pub tasks_opened: u64,
    /// Tasks it closed.
    pub tasks_closed: u64,
    /// Tasks moved on because their deadline passed (`task_escalated`, reason `deadline`), by
    /// the queue that missed it.
    pub deadline_misses: u64,
    pub deadline_misses_by_queue: BTreeMap<String, u64>,
    /// Tasks at the last level past their deadline (`task_overdue`).
    pub overdue: u64,
    /// People staff found had paid already, and the reports dissuasion filed for them with
    /// intake (`report_filed`).
    pub already_paid: u64,
    pub reports_filed: u64,
    /// Open tasks of each queue over simulated time, every city.
    pub backlog_series: Vec<BacklogPoint>,
    /// The most open tasks each queue had at a series point.
    pub peak_backlog: [u64; 6],
    pub by_city: BTreeMap<String, CityDissuasion>,
}

/// Computes the section from each city's dissuasion events (stream order), the world at the
/// end (the population's ground truth, the carriers' SMS log) and what the carriers and staff
/// did, sampling the backlog at [`SERIES_POINTS`] times from `origin_ms` to `end_ms`.
pub fn section(
    events: &BTreeMap<City, Vec<Envelope>>,
    world: &World,
    stats: &PeopleStats,
    origin_ms: TimeMs,
    end_ms: TimeMs,
) -> Result<DissuasionSection, MoneyError> {
    let population = &world.population;
    let truth = population.truth(end_ms)?;
    let mut out = DissuasionSection {
        people: truth.people,
        reached: truth.reached,
        spared_by_blocks: truth.spared_by_blocks,
        would_pay: truth.would_pay,
        would_pay_fen: truth.would_pay_fen,
        warned_before_paying: truth.warned_before_paying,
        warned_before_paying_share: share(truth.warned_before_paying, truth.would_pay),
        loss_avoided_fen: truth.loss_avoided_fen,
        stopped_by: truth.stopped_by,
        warned: truth.warned,
        paid: truth.paid,
        lost_fen: truth.lost_fen,
        not_paid_yet: truth.not_paid_yet,
        signals_published: stats.signals_published,
        signals_lost: stats.signals_lost,
        staff_errors: stats.staff_errors,
        ..DissuasionSection::default()
    };
    for record in world.telecom.sms_log() {
        out.sms_sent += 1;
        out.sms_delivered += u64::from(record.delivered);
    }
    for ((queue, outcome), n) in &stats.completed {
        if queue == "call" {
            out.calls += n;
        } else {
            out.visits += n;
        }
        *out.completed_by_queue.entry(queue.clone()).or_default() += n;
        *out.outcomes.entry(outcome.clone()).or_default() += n;
    }
    out.already_paid = out.outcomes.get("already_paid").copied().unwrap_or(0);

    let mut cities: Vec<&City> = events.keys().collect();
    for person in population.people() {
        if !cities.contains(&&person.city) {
            cities.push(&person.city);
        }
    }
    for city in cities {
        let truth = population.truth_in(end_ms, Some(city))?;
        let row = out.by_city.entry(city.to_string()).or_default();
        row.reached = truth.reached;
        row.would_pay = truth.would_pay;
        row.warned_before_paying = truth.warned_before_paying;
        row.loss_avoided_fen = truth.loss_avoided_fen;
        row.lost_fen = truth.lost_fen;
    }

    // (time, queue, +1 / -1) of every task entering or leaving a queue.
    let mut moves: Vec<(TimeMs, usize, i64)> = Vec::new();
    for (city, envelopes) in events {
        let mut queue_of: BTreeMap<TaskId, usize> = BTreeMap::new();
        let mut misses = 0;
        for envelope in envelopes {
            let Payload::Dissuasion(event) = &envelope.payload else { continue };
            match event {
                DissuasionEvent::TaskOpened { task, kind, opened_at_ms, .. } => {
                    out.tasks_opened += 1;
                    queue_of.insert(*task, queue_index(*kind));
                    moves.push((*opened_at_ms, queue_index(*kind), 1));
                }
                DissuasionEvent::TaskEscalated { task, to, reason, at_ms, .. } => {
                    let from = queue_of.insert(*task, queue_index(*to));
                    if let Some(from) = from {
                        moves.push((*at_ms, from, -1));
                    }
                    moves.push((*at_ms, queue_index(*to), 1));
                    if *reason == Escalation::Deadline {
                        misses += 1;
                        let missed = from.map_or("unknown", |q| BACKLOG_QUEUES[q]);
                        *out.deadline_misses_by_queue.entry(missed.to_owned()).or_default() += 1;
                    }
                }
                DissuasionEvent::TaskOverdue { .. } => out.overdue += 1,
                DissuasionEvent::TaskClosed { task, at_ms, .. } => {
                    out.tasks_closed += 1;
                    if let Some(from) = queue_of.remove(task) {
                        moves.push((*at_ms, from, -1));
                    }
                }
                DissuasionEvent::ReportFiled { .. } => out.reports_filed += 1,
                _ => {}
            }
        }
        out.deadline_misses += misses;
        out.by_city.entry(city.to_string()).or_default().deadline_misses = misses;
    }
    moves.sort_unstable();
    let end_ms = end_ms.max(origin_ms + 1);
    let step = (end_ms - origin_ms).div_ceil(SERIES_POINTS as u64).max(1);
    let (mut open, mut next) = ([0i64; 6], 0usize);
    for k in 1..=SERIES_POINTS as u64 {
        let at_ms = origin_ms + k * step;
        while next < moves.len() && moves[next].0 <= at_ms {
            open[moves[next].1] += moves[next].2;
            next += 1;
        }
        let point = BacklogPoint { at_ms, open: open.map(|n| u64::try_from(n).unwrap_or(0)) };
        for (peak, now) in out.peak_backlog.iter_mut().zip(point.open) {
            *peak = (*peak).max(now);
        }
        out.backlog_series.push(point);
    }
    Ok(out)
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

#[cfg(test)]
mod tests;
