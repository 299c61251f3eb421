//! The figures of the provincial view and which event feeds each: a projection, updated once
//! per new event (duplicates never reach it), so a report reads O(cities) tallies.
//!
//! | figure | fed by | counted at (Beijing period of) |
//! |---|---|---|
//! | `reports`, `reported_loss` | intake `case_reported` (1, `reported_loss_fen`) | `received_at_ms` |
//! | `accounts_stopped` | freezing `account_stopped` with `stop_no == 1` (the center's first stop on the account; 0 = already held for another case, 2 = a further stop on it) | `stopped_at_ms` |
//! | `money_stopped` | freezing `account_stopped`, every one: `claim_fen`, the victim's part of what the stop holds (not `held_fen`, the balance, which cases sharing an account would count twice) | `stopped_at_ms` |
//! | `money_frozen` | freezing `account_frozen`: `frozen_fen` (one event per part frozen) | `frozen_at_ms` |
//! | time to freeze p50/p90 | freezing `trace_completed`: `time_to_freeze_ms` (report to the last stop that held money, as freezing measures it; traces that held none carry none) | `completed_at_ms` |
//! | `blocks` | blocking `identifier_blocked` (an identifier newly blocked in the city; `block_extended` is not a new block) | `blocked_at_ms` |
//! | `pool_entries` | blocking `pool_entered` | `entered_at_ms` |
//! | `sms_warnings`, `calls`, `visits` | dissuasion `task_opened` by its `kind`, and `task_escalated` by its `to` (each step a task takes is one warning, call or visit ordered) | `opened_at_ms` / `at_ms` |
//! | `persuaded` | dissuasion `task_closed` with `closure: persuaded` | `at_ms` |
//! | `money_returned` | restitution `return_confirmed`: `amount_fen` (the bank executed it) | `executed_at_ms` |
//!
//! Loss avoided: no event carries an amount a dissuasion saved (the person had not paid), so
//! the view counts the people persuaded, not fen. Claims revised later (`claim_revised`) do
//! not change `money_stopped`: the figure is what was held when stopped. Every other event
//! feeds no figure.

use domain::{Fen, MoneyError, TimeMs};
use events::{BlockingEvent, dissuasion::Closure, dissuasion::TaskKind};
use events::{DissuasionEvent, FreezingEvent, IntakeEvent, Payload, RestitutionEvent};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::limits::{MAX_TIME_TO_FREEZE_S, TIME_TO_FREEZE_SIGFIG};

/// The counters of one city (or the province) over one period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Figures {
    pub reports: u64,
    pub reported_loss: Fen,
    pub accounts_stopped: u64,
    pub money_stopped: Fen,
    pub money_frozen: Fen,
    pub blocks: u64,
    pub pool_entries: u64,
    pub sms_warnings: u64,
    pub calls: u64,
    pub visits: u64,
    pub persuaded: u64,
    pub money_returned: Fen,
}

/// Why figures could not be added: a count or an amount would leave its range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FiguresError {
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error("count overflow: {figure} past {max}", max = u64::MAX)]
    Count { figure: &'static str },
}

impl Figures {
    /// `self + other`, every counter checked.
    pub fn plus(&self, other: &Figures) -> Result<Figures, FiguresError> {
        let count = |figure: &'static str, a: u64, b: u64| a.checked_add(b).ok_or(FiguresError::Count { figure });
        Ok(Figures {
            reports: count("reports", self.reports, other.reports)?,
            reported_loss: self.reported_loss.checked_add(other.reported_loss)?,
            accounts_stopped: count("accounts_stopped", self.accounts_stopped, other.accounts_stopped)?,
            money_stopped: self.money_stopped.checked_add(other.money_stopped)?,
            money_frozen: self.money_frozen.checked_add(other.money_frozen)?,
            blocks: count("blocks", self.blocks, other.blocks)?,
            pool_entries: count("pool_entries", self.pool_entries, other.pool_entries)?,
            sms_warnings: count("sms_warnings", self.sms_warnings, other.sms_warnings)?,
            calls: count("calls", self.calls, other.calls)?,
            visits: count("visits", self.visits, other.visits)?,
            persuaded: count("persuaded", self.persuaded, other.persuaded)?,
            money_returned: self.money_returned.checked_add(other.money_returned)?,
        })
    }
}

/// What one event adds to the figures, and when it counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contribution {
    /// The business time that decides the period.
    pub at_ms: TimeMs,
    pub figures: Figures,
    /// A time-to-freeze sample, in seconds.
    pub time_to_freeze_s: Option<u64>,
}

/// The figures and the time-to-freeze samples of one city (or the province) over one period.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Tally {
    pub figures: Figures,
    /// Made with the first sample: most city-days of a drill have none.
    #[serde(with = "samples")]
    pub time_to_freeze_s: Option<Histogram<u32>>,
}

/// A time-to-freeze histogram in a snapshot: its recorded buckets as (value, count), each
/// value the highest of its bucket, so recording it again lands in the same bucket.
mod samples {
    use hdrhistogram::Histogram;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(histogram: &Option<Histogram<u32>>, to: S) -> Result<S::Ok, S::Error> {
        let buckets: Option<Vec<(u64, u64)>> = histogram
            .as_ref()
            .map(|h| h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value().into())).collect());
        buckets.serialize(to)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Option<Histogram<u32>>, D::Error> {
        let Some(buckets) = Option::<Vec<(u64, u64)>>::deserialize(from)? else { return Ok(None) };
        let mut histogram = super::new_histogram();
        for (value, count) in buckets {
            let count = u32::try_from(count).map_err(serde::de::Error::custom)?;
            histogram.record_n(value, count).map_err(serde::de::Error::custom)?;
        }
        Ok(Some(histogram))
    }
}

impl Tally {
    /// Sets the figures to `figures` (this tally's plus the contribution's, summed and checked
    /// before anything changed) and records the contribution's sample.
    pub fn commit(&mut self, figures: Figures, contribution: &Contribution) {
        self.figures = figures;
        if let Some(sample) = contribution.time_to_freeze_s {
            let histogram = self.time_to_freeze_s.get_or_insert_with(new_histogram);
            // Saturated at the histogram's highest value (see MAX_TIME_TO_FREEZE_S); a u32
            // count saturates only past four billion samples in one city and period.
            histogram.saturating_record(sample.clamp(1, MAX_TIME_TO_FREEZE_S));
        }
    }

    /// Samples of time to freeze.
    pub fn samples(&self) -> u64 {
        self.time_to_freeze_s.as_ref().map_or(0, Histogram::len)
    }

    /// The time to freeze at `quantile` (0 to 1), in seconds, if there is a sample.
    pub fn time_to_freeze_at(&self, quantile: f64) -> Option<u64> {
        self.time_to_freeze_s.as_ref().filter(|h| !h.is_empty()).map(|h| h.value_at_quantile(quantile))
    }
}

/// An empty time-to-freeze histogram: 1 s to [`MAX_TIME_TO_FREEZE_S`], [`TIME_TO_FREEZE_SIGFIG`]
/// significant digits.
pub fn new_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_TIME_TO_FREEZE_S, TIME_TO_FREEZE_SIGFIG).expect("constant bounds are valid")
}

/// What `payload` adds to the figures, if anything (see the module's table).
pub fn contribution(payload: &Payload) -> Option<Contribution> {
    let mut figures = Figures::default();
    let mut time_to_freeze_s = None;
    let at_ms = match payload {
        Payload::Intake(IntakeEvent::CaseReported { received_at_ms, reported_loss_fen, .. }) => {
            figures.reports = 1;
            figures.reported_loss = *reported_loss_fen;
            *received_at_ms
        }
        Payload::Freezing(event) => match event {
            FreezingEvent::AccountStopped { stop_no, claim_fen, stopped_at_ms, .. } => {
                figures.accounts_stopped = u64::from(*stop_no == 1);
                figures.money_stopped = *claim_fen;
                *stopped_at_ms
            }
            FreezingEvent::AccountFrozen { frozen_fen, frozen_at_ms, .. } => {
                figures.money_frozen = *frozen_fen;
                *frozen_at_ms
            }
            FreezingEvent::TraceCompleted { completed_at_ms, time_to_freeze_ms: Some(ms), .. } => {
                // Whole seconds, rounded up: a trace that held money took at least a second.
                time_to_freeze_s = Some(ms.div_ceil(1000));
                *completed_at_ms
            }
            _ => return None,
        },
        Payload::Blocking(event) => match event {
            BlockingEvent::IdentifierBlocked { blocked_at_ms, .. } => {
                figures.blocks = 1;
                *blocked_at_ms
            }
            BlockingEvent::PoolEntered { entered_at_ms, .. } => {
                figures.pool_entries = 1;
                *entered_at_ms
            }
            _ => return None,
        },
        Payload::Dissuasion(event) => match event {
            DissuasionEvent::TaskOpened { kind, opened_at_ms, .. } => {
                step(&mut figures, *kind);
                *opened_at_ms
            }
            DissuasionEvent::TaskEscalated { to, at_ms, .. } => {
                step(&mut figures, *to);
                *at_ms
            }
            DissuasionEvent::TaskClosed { closure: Closure::Persuaded, at_ms, .. } => {
                figures.persuaded = 1;
                *at_ms
            }
            _ => return None,
        },
        Payload::Restitution(RestitutionEvent::ReturnConfirmed { amount_fen, executed_at_ms, .. }) => {
            figures.money_returned = *amount_fen;
            *executed_at_ms
        }
        Payload::Restitution(_) => return None,
    };
    Some(Contribution { at_ms, figures, time_to_freeze_s })
}

/// One step of a dissuasion task: a warning, a call or a visit.
fn step(figures: &mut Figures, kind: TaskKind) {
    match kind {
        TaskKind::Sms => figures.sms_warnings = 1,
        TaskKind::Call => figures.calls = 1,
        TaskKind::Visit(_) => figures.visits = 1,
    }
}
