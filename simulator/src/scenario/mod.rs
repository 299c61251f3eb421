//! Scenario files: a crime wave described in TOML, parsed and validated into a [`Scenario`].
//!
//! A file has a `[scenario]` header (name, seed, start, duration, time scale), the cities
//! whose centers take reports (`[[cities]]`), the gangs that work them (`[[gangs]]`: fraud
//! type, victims, amounts, the typology of their mule networks), and the behaviour of
//! mules, victims and banks (`[mules]`, `[victims]`, `[banks]`), and, when the file has a
//! `[population]`, the people the gangs' campaigns reach besides their victims and the staff
//! who warn them (`[staff]`). docs/scenarios.md describes every field with its unit, default
//! and accepted values.
//!
//! Parsing goes in two steps. serde reads the file into raw structs that refuse unknown
//! fields (the error names the key, its line and the table it is in); then every value is
//! checked and turned into the validated types below, and a bad value is a
//! [`ScenarioError::Invalid`] naming its field path (`gangs[2].typology`), the value and
//! what is accepted. Numbers are read signed and checked here, so a negative count is
//! reported as such rather than as a type error.
//!
//! This module holds the validated model and [`Scenario::load`]; the rest is split by
//! concern:
//!
//! - `distribution`: [`Span`] and [`LogNormal`], the random quantities a scenario gives.
//! - `typology`: [`Typology`], the shapes of mule networks and the widths each accepts.
//! - `raw`: the file as serde reads it, and the defaults of what it may leave out.
//! - `validate`: from the raw file to the model, table by table, with every bound checked.
//! - `people`: the `[population]` and `[staff]` tables, validated the same way.
//! - `values`: readers of single values (counts or ranges, minutes, shares, the start).
//! - `error`: [`ScenarioError`], and the field path of a TOML reader's error.

mod distribution;
mod error;
mod people;
mod raw;
mod typology;
mod validate;
mod values;

use std::path::Path;

use domain::{City, FraudType, TimeMs};

use crate::limits;

pub use distribution::{LogNormal, Span};
pub use error::ScenarioError;
pub use raw::default_amount_yuan;
pub use typology::Typology;

/// Time scale when the file gives none: a simulated minute per real second.
pub const DEFAULT_TIME_SCALE: f64 = 60.0;

/// Local dates and times in a scenario without an offset are China Standard Time.
pub const DEFAULT_UTC_OFFSET_MINUTES: i64 = 8 * 60;

const MINUTE_MS: f64 = 60_000.0;
const HOUR_MS: f64 = 60.0 * MINUTE_MS;
const DAY_MS: f64 = 24.0 * HOUR_MS;

/// A city whose center takes reports.
#[derive(Debug, Clone, PartialEq)]
pub struct CitySpec {
    /// The city (its center's name on the bus).
    pub city: City,
    /// People living there: victims are drawn from them, more often from larger cities.
    pub population: u64,
}

/// A gang: who it targets, how much it takes, and how its mules move the money.
#[derive(Debug, Clone, PartialEq)]
pub struct GangSpec {
    /// A label for reports and logs (`<fraud_type>-<index>` when the file gives none).
    pub name: String,
    /// The scam it runs.
    pub fraud_type: FraudType,
    /// The cities its victims live in, in file order.
    pub cities: Vec<City>,
    /// Victims that pay over the scenario.
    pub victims: u32,
    /// Each victim's total loss, in yuan.
    pub amount_yuan: LogNormal,
    /// The shape of its mule networks.
    pub typology: Typology,
    /// Accounts on each level of a network, level 1 (the one victims pay into) first.
    pub widths: Vec<Span<u32>>,
    /// Victims that pay into one network before the gang opens a fresh one.
    pub victims_per_network: u32,
    /// Phone numbers the gang calls from.
    pub phones: Span<u32>,
    /// Websites the gang sends victims to.
    pub sites: Span<u32>,
    /// When its victims make their first payment, in ms after the scenario's start.
    pub active_ms: Span<u64>,
    /// How long after one of its numbers or sites is blocked the gang reaches victims through
    /// a fresh one, in ms (drawn for each block).
    pub adapt_ms: Span<u64>,
}

impl GangSpec {
    /// Mule networks the gang opens.
    pub fn networks(&self) -> u64 {
        u64::from(self.victims).div_ceil(u64::from(self.victims_per_network))
    }

    /// Most mule accounts one of its networks has.
    pub fn max_network_accounts(&self) -> u64 {
        self.widths.iter().map(|w| u64::from(w.max)).sum()
    }
}

/// How mules behave.
#[derive(Debug, Clone, PartialEq)]
pub struct MuleSpec {
    /// Share of each receipt a forwarding mule keeps (drawn once per mule).
    pub margin: Span<f64>,
    /// Time from receiving money to forwarding it (or cashing it out), in ms.
    pub forward_delay_ms: Span<u64>,
    /// Share of leaf mules (those with nobody to forward to) that cash out; the others keep
    /// the money in their account.
    pub cash_out_share: f64,
    /// Share of mule-to-mule forwards made through a payment-platform order (the ring of a
    /// cycle always is).
    pub order_share: f64,
    /// Share of a gang's mule accounts at one bank held by a card seller, who holds several
    /// of them; every other mule account has a holder of its own (`crate::holders`).
    pub seller_share: f64,
    /// Accounts a card seller holds at one bank.
    pub seller_accounts: Span<u32>,
    /// Phone numbers each mule holder has on record at the bank.
    pub holder_phones: Span<u32>,
}

/// How victims pay and report.
#[derive(Debug, Clone, PartialEq)]
pub struct VictimSpec {
    /// Payments each victim makes; the loss is split among them.
    pub payments: Span<u32>,
    /// Time between two payments of one victim, in ms.
    pub payment_gap_ms: Span<u64>,
    /// Share of payments made through a payment-platform order rather than to an account.
    pub order_share: f64,
    /// Time from the last payment to the report, in ms.
    pub report_delay_ms: LogNormal,
    /// Whether a victim first reached through a number or site their center has blocked is
    /// spared ([`crate::contact`]); `false` plays every victim as planned, blocks or not (to
    /// compare freezing's figures with drills from before blocking).
    pub spared_by_blocks: bool,
}

/// How the simulated banks answer (read by the runner).
#[derive(Debug, Clone, PartialEq)]
pub struct BankSpec {
    /// Time a bank takes to answer a stop-payment, freeze or flows request, in simulated ms.
    pub answer_ms: Span<u64>,
    /// Time a bank takes from accepting a return to a victim to executing it, in simulated
    /// ms (0: executed at once). Every bank of the script's world takes it.
    pub return_ms: u64,
}

/// The people a gang's contact campaign reaches besides its victims (`[population]`): each
/// would pay the gang after a delay unless a warning reaches them first
/// ([`crate::population`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationSpec {
    /// People reached per victim of each gang.
    pub per_victim: u32,
    /// Share of them who pay if nobody warns them in time.
    pub pay_share: f64,
    /// From a person's first contact to their payment, ms.
    pub pay_delay_ms: Span<u64>,
    /// Contacts (calls, page visits) the gang makes with each person.
    pub contacts: Span<u32>,
    /// Share of those who pay who receive money-transfer instructions before they pay (a
    /// signal of its own).
    pub instructions_share: f64,
    /// From a contact to the carrier's signal of it, ms.
    pub signal_delay_ms: Span<u64>,
    /// Share of people whose handset is off: an SMS warning does not reach them, nor a call.
    pub handset_off_share: f64,
    /// Chance that an SMS warning delivered stops a person from paying.
    pub sms_effect: f64,
    /// Chance that a call-back that reaches a person persuades them.
    pub call_effect: f64,
    /// Chance that a visit that reaches a person persuades them.
    pub visit_effect: f64,
    /// Of the people a call or visit does not persuade, the share it does not reach (the
    /// others refuse to believe it).
    pub unreachable_share: f64,
}

/// What the simulated staff of each city's center work a day (`[staff]`).
#[derive(Debug, Clone, PartialEq)]
pub struct StaffSpec {
    /// Call-backs a day.
    pub calls_per_day: u32,
    /// Visits a day at each level: city bureau, district bureau, police station, community.
    pub visits_per_day: [u32; 4],
}

/// How restitution plays in a drill (`[restitution]`): the notice period the centers run
/// with, and how long the lab's simulated approvers take to approve once it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestitutionSpec {
    /// The notice period of every city's restitution, in simulated ms (the rules' 30 days,
    /// shortened so that a drill sees its returns).
    pub notice_ms: u64,
    /// From the end of an allocation's notice to the simulated approvers' two approvals, in
    /// simulated ms.
    pub approve_after_ms: u64,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Its name, for reports.
    pub name: String,
    /// What it models (free text).
    pub description: String,
    /// Seed of every random draw: the same seed gives the same world and script.
    pub seed: u64,
    /// Simulated time at which it starts, ms since the epoch.
    pub start_ms: TimeMs,
    /// How long victims keep arriving, in ms.
    pub duration_ms: u64,
    /// Simulated ms per real ms when the runner plays it (1 = real time).
    pub time_scale: f64,
    /// Cities, in file order.
    pub cities: Vec<CitySpec>,
    /// Gangs, in file order.
    pub gangs: Vec<GangSpec>,
    /// Mule behaviour.
    pub mules: MuleSpec,
    /// Victim behaviour.
    pub victims: VictimSpec,
    /// Bank behaviour.
    pub banks: BankSpec,
    /// The people reached besides the victims; `None` (no `[population]`): nobody.
    pub population: Option<PopulationSpec>,
    /// The centers' dissuasion staff (used only with a population).
    pub staff: StaffSpec,
    /// Restitution's notice and the simulated approvers.
    pub restitution: RestitutionSpec,
    /// FNV-1a 64 of the file's bytes: identifies the exact file a run used.
    pub hash: u64,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let read_error = |source| ScenarioError::Read { path: path.to_owned(), source };
        let bytes = std::fs::metadata(path).map_err(read_error)?.len();
        if bytes > limits::MAX_SCENARIO_BYTES {
            return Err(ScenarioError::TooLarge { path: path.to_owned(), bytes, max: limits::MAX_SCENARIO_BYTES });
        }
        let text = std::fs::read_to_string(path).map_err(read_error)?;
        Scenario::parse(&text)
    }

    /// Parses and validates a scenario's text.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let raw: raw::RawFile = toml::from_str(text).map_err(|e| error::syntax_error(text, &e))?;
        let mut scenario = raw.validate()?;
        scenario.hash = domain::fnv1a64(text.as_bytes());
        Ok(scenario)
    }

    /// The hash as 16 hex digits, as reports print it.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.hash)
    }

    /// When victims stop arriving: `start_ms + duration_ms`.
    pub fn end_ms(&self) -> TimeMs {
        self.start_ms.saturating_add(self.duration_ms)
    }

    /// Victims of all gangs: the number of reports the scenario produces.
    pub fn total_victims(&self) -> u64 {
        self.gangs.iter().map(|g| u64::from(g.victims)).sum()
    }

    /// The expected total loss in yuan: each gang's victims times the mean of its clamped
    /// amount distribution. A generated world differs from it by chance only.
    pub fn expected_loss_yuan(&self) -> f64 {
        self.gangs.iter().map(|g| f64::from(g.victims) * g.amount_yuan.mean()).sum()
    }
}

#[cfg(test)]
mod tests;
