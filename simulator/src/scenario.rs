//! Scenario files: a crime wave described in TOML, parsed and validated into a [`Scenario`].
//!
//! A file has a `[scenario]` header (name, seed, start, duration, time scale), the cities
//! whose centers take reports (`[[cities]]`), the gangs that work them (`[[gangs]]`: fraud
//! type, victims, amounts, the typology of their mule networks), and the behaviour of
//! mules, victims and banks (`[mules]`, `[victims]`, `[banks]`). docs/scenarios.md
//! describes every field with its unit, default and accepted values.
//!
//! Parsing goes in two steps. serde reads the file into raw structs that refuse unknown
//! fields (the error names the key, its line and the table it is in); then every value is
//! checked and turned into the validated types below, and a bad value is a
//! [`ScenarioError::Invalid`] naming its field path (`gangs[2].typology`), the value and
//! what is accepted. Numbers are read signed and checked here, so a negative count is
//! reported as such rather than as a type error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use domain::{City, FraudType, MAX_TIME_SCALE, TimeMs};
use serde::Deserialize;
use toml::Value;

use crate::limits;

/// Time scale when the file gives none: a simulated minute per real second.
pub const DEFAULT_TIME_SCALE: f64 = 60.0;

/// Local dates and times in a scenario without an offset are China Standard Time.
pub const DEFAULT_UTC_OFFSET_MINUTES: i64 = 8 * 60;

const MINUTE_MS: f64 = 60_000.0;
const HOUR_MS: f64 = 60.0 * MINUTE_MS;
const DAY_MS: f64 = 24.0 * HOUR_MS;

/// The standard normal quantile of 0.9: a log-normal's p90 is `median * exp(1.2816 σ)`.
const Z90: f64 = 1.281_551_565_545;

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`limits::MAX_SCENARIO_BYTES`].
    #[error("scenario file {path} is {bytes} bytes, at most {max}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The bound.
        max: u64,
    },
    /// The text is not TOML, or does not have the scenario's shape: an unknown or missing
    /// field, or a value of the wrong type.
    #[error("line {line}, column {column}: {}{message}", field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Syntax {
        /// Line of the offending text, 1 first.
        line: usize,
        /// Column of the offending text, 1 first.
        column: usize,
        /// The field path, when the error names a field (`gangs[0].colour`).
        field: Option<String>,
        /// What the TOML reader said.
        message: String,
    },
    /// A value is out of bounds or inconsistent with another.
    #[error("{field} is {value}, expected {expected}")]
    Invalid {
        /// The field path, e.g. `gangs[2].typology`.
        field: String,
        /// The value given, as written or as understood.
        value: String,
        /// What would be accepted.
        expected: String,
    },
}

impl ScenarioError {
    /// The path of the field at fault, when known (`gangs[2].typology`, `mules.margin`).
    pub fn field(&self) -> Option<&str> {
        match self {
            ScenarioError::Invalid { field, .. } => Some(field),
            ScenarioError::Syntax { field, .. } => field.as_deref(),
            ScenarioError::Read { .. } | ScenarioError::TooLarge { .. } => None,
        }
    }
}

fn invalid(field: impl Into<String>, value: impl std::fmt::Display, expected: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid { field: field.into(), value: value.to_string(), expected: expected.into() }
}

/// An inclusive range `min..=max` drawn uniformly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span<T> {
    /// Smallest value.
    pub min: T,
    /// Largest value.
    pub max: T,
}

impl<T: Copy> Span<T> {
    /// The range holding one value.
    pub const fn exactly(value: T) -> Self {
        Span { min: value, max: value }
    }
}

/// A log-normal distribution given by its median and 90th percentile, clamped to
/// `min..=max`, all in the unit of the field that holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogNormal {
    /// Half the draws are below it.
    pub median: f64,
    /// Nine draws in ten are below it (before clamping).
    pub p90: f64,
    /// Smaller draws become this.
    pub min: f64,
    /// Larger draws become this.
    pub max: f64,
}

impl LogNormal {
    /// σ of the underlying normal distribution.
    pub fn sigma(&self) -> f64 {
        (self.p90 / self.median).ln() / Z90
    }

    /// The draw for the standard normal deviate `z`, clamped.
    pub fn at(&self, z: f64) -> f64 {
        (self.median.ln() + self.sigma() * z).exp().clamp(self.min, self.max)
    }

    /// The expected value of a clamped draw (exact for the distribution, up to the error of
    /// the normal CDF used: below 1e-7).
    pub fn mean(&self) -> f64 {
        let sigma = self.sigma();
        let mu = self.median.ln();
        if sigma <= 0.0 {
            return self.median.clamp(self.min, self.max);
        }
        let alpha = (self.min.ln() - mu) / sigma;
        let beta = (self.max.ln() - mu) / sigma;
        let middle = (mu + sigma * sigma / 2.0).exp() * (normal_cdf(beta - sigma) - normal_cdf(alpha - sigma));
        self.min * normal_cdf(alpha) + middle + self.max * (1.0 - normal_cdf(beta))
    }
}

/// The standard normal CDF, from the complementary error function (Numerical Recipes'
/// `erfcc`, fractional error below 1.2e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = (-x / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let erfc = if -x / std::f64::consts::SQRT_2 >= 0.0 { erfc } else { 2.0 - erfc };
    0.5 * erfc
}

/// How a gang's mule network moves money. See docs/scenarios.md for diagrams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Typology {
    /// A layered stack that widens: each mule splits what it receives among its children on
    /// the next level (every account has one parent).
    FanOut,
    /// Layers that narrow to one collector: each mule forwards everything to one account on
    /// the next level, which gathers from several.
    FanIn,
    /// One account splits to many, which gather again into one collector.
    ScatterGather,
    /// Many front accounts gather into one hub, which splits to many exits.
    GatherScatter,
    /// Money goes round a ring of accounts through payment-platform orders, back to the
    /// account it entered, which then splits it to exit accounts.
    Cycle,
}

impl Typology {
    /// Every typology.
    pub const ALL: [Typology; 5] =
        [Typology::FanOut, Typology::FanIn, Typology::ScatterGather, Typology::GatherScatter, Typology::Cycle];

    /// What a scenario file accepts.
    pub const EXPECTED: &'static str = "one of fan_out, fan_in, scatter_gather, gather_scatter, cycle";

    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Typology::FanOut => "fan_out",
            Typology::FanIn => "fan_in",
            Typology::ScatterGather => "scatter_gather",
            Typology::GatherScatter => "gather_scatter",
            Typology::Cycle => "cycle",
        }
    }

    /// The typology of that name.
    pub fn parse(name: &str) -> Option<Self> {
        Typology::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The widths used when a gang gives none.
    pub fn default_widths(self) -> Vec<Span<u32>> {
        let one = Span::exactly(1);
        match self {
            Typology::FanOut => vec![one, Span { min: 2, max: 4 }, Span { min: 3, max: 8 }],
            Typology::FanIn => vec![Span { min: 4, max: 8 }, one],
            Typology::ScatterGather => vec![one, Span { min: 3, max: 6 }, one],
            Typology::GatherScatter => vec![Span { min: 3, max: 6 }, one, Span { min: 3, max: 6 }],
            Typology::Cycle => vec![Span { min: 3, max: 5 }, Span { min: 1, max: 3 }],
        }
    }

    /// Checks that `widths` has this typology's shape; `Err` says what is expected.
    fn check_shape(self, widths: &[Span<u32>]) -> Result<(), &'static str> {
        let one = |s: &Span<u32>| s.min == 1 && s.max == 1;
        let ok = match self {
            Typology::FanOut => !widths.is_empty(),
            Typology::FanIn => widths.len() >= 2 && widths.last().is_some_and(one),
            Typology::ScatterGather => widths.len() >= 3 && one(&widths[0]) && widths.last().is_some_and(one),
            Typology::GatherScatter => widths.len() >= 3 && widths[1..widths.len() - 1].iter().any(one),
            Typology::Cycle => widths.len() == 2 && widths[0].min >= 2 && widths[0].max <= limits::MAX_CYCLE_ACCOUNTS,
        };
        if ok {
            return Ok(());
        }
        Err(match self {
            Typology::FanOut => "1 or more levels",
            Typology::FanIn => "2 or more levels, the last one exactly 1 (the collector)",
            Typology::ScatterGather => "3 or more levels, the first and the last exactly 1",
            Typology::GatherScatter => "3 or more levels, one inner level exactly 1 (the hub)",
            Typology::Cycle => "[ring, exits]: a ring of 2 to 14 accounts and 1 or more exit accounts",
        })
    }
}

impl std::fmt::Display for Typology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Default loss distribution of each fraud type, in yuan: `(median, p90, min, max)`.
///
/// These are assumptions, not figures from the source documents (which give totals, not
/// distributions): small sums for shopping and loan scams, large ones for investment and
/// impersonation scams, with Wenzhou's largest single loss (¥2.7M) within the largest max.
pub fn default_amount_yuan(fraud_type: FraudType) -> LogNormal {
    let (median, p90, min, max) = match fraud_type {
        FraudType::OnlineLoan => (2_000.0, 10_000.0, 100.0, 200_000.0),
        FraudType::OrderBrushing => (3_000.0, 20_000.0, 100.0, 500_000.0),
        FraudType::FakeCustomerService => (5_000.0, 30_000.0, 100.0, 500_000.0),
        FraudType::PigButchering => (50_000.0, 300_000.0, 1_000.0, 3_000_000.0),
        FraudType::ImpersonatingAuthorities => (30_000.0, 200_000.0, 1_000.0, 3_000_000.0),
        FraudType::StockTips => (20_000.0, 150_000.0, 1_000.0, 2_000_000.0),
        FraudType::FakeEcommerce => (800.0, 4_000.0, 50.0, 50_000.0),
        FraudType::LuxuryBait => (3_000.0, 15_000.0, 100.0, 200_000.0),
    };
    LogNormal { median, p90, min, max }
}

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
}

/// How the simulated banks answer (read by the runner).
#[derive(Debug, Clone, PartialEq)]
pub struct BankSpec {
    /// Time a bank takes to answer a stop-payment, freeze or flows request, in simulated ms.
    pub answer_ms: Span<u64>,
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
        let raw: RawFile = toml::from_str(text).map_err(|e| syntax_error(text, &e))?;
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

// ---------------------------------------------------------------------------------------
// The file as serde reads it.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    scenario: RawHeader,
    #[serde(default)]
    cities: Vec<RawCity>,
    #[serde(default)]
    gangs: Vec<RawGang>,
    #[serde(default)]
    mules: RawMules,
    #[serde(default)]
    victims: RawVictims,
    #[serde(default)]
    banks: RawBanks,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    #[serde(default)]
    description: String,
    seed: i64,
    start: Value,
    duration_hours: Option<f64>,
    duration_days: Option<f64>,
    time_scale: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCity {
    name: String,
    population: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGang {
    name: Option<String>,
    fraud_type: String,
    cities: Option<Vec<String>>,
    victims: i64,
    amount_yuan: Option<RawLogNormal>,
    typology: Option<String>,
    widths: Option<Vec<Value>>,
    victims_per_network: Option<i64>,
    phones: Option<Value>,
    sites: Option<Value>,
    active_hours: Option<[f64; 2]>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogNormal {
    median: f64,
    p90: f64,
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMules {
    margin: Option<[f64; 2]>,
    forward_delay_minutes: Option<[f64; 2]>,
    cash_out_share: Option<f64>,
    order_share: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVictims {
    payments: Option<Value>,
    payment_gap_minutes: Option<[f64; 2]>,
    order_share: Option<f64>,
    report_delay_minutes: Option<RawLogNormal>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBanks {
    answer_ms: Option<[f64; 2]>,
}

/// Defaults of the `[mules]`, `[victims]` and gang fields, in the file's units.
mod defaults {
    pub const MARGIN: [f64; 2] = [0.01, 0.05];
    pub const FORWARD_DELAY_MINUTES: [f64; 2] = [5.0, 60.0];
    pub const CASH_OUT_SHARE: f64 = 0.5;
    pub const MULE_ORDER_SHARE: f64 = 0.1;
    pub const PAYMENTS: [u32; 2] = [1, 3];
    pub const PAYMENT_GAP_MINUTES: [f64; 2] = [2.0, 30.0];
    pub const VICTIM_ORDER_SHARE: f64 = 0.3;
    /// Report delay in minutes: median 90, p90 12 hours, from 10 minutes to 3 days.
    pub const REPORT_DELAY_MINUTES: (f64, f64, f64, f64) = (90.0, 720.0, 10.0, 4_320.0);
    pub const ANSWER_MS: [f64; 2] = [100.0, 1_000.0];
    pub const VICTIMS_PER_NETWORK: i64 = 4;
    pub const PHONES: [u32; 2] = [1, 3];
    pub const SITES: [u32; 2] = [0, 2];
}

impl RawFile {
    fn validate(self) -> Result<Scenario, ScenarioError> {
        let header = &self.scenario;
        if header.name.trim().is_empty() {
            return Err(invalid("scenario.name", "empty", "a name"));
        }
        let seed = u64::try_from(header.seed)
            .map_err(|_| invalid("scenario.seed", header.seed, "an integer from 0 to 9223372036854775807"))?;
        let start_ms = parse_start(&header.start)?;
        let duration_ms = match (header.duration_hours, header.duration_days) {
            (Some(hours), None) => positive_ms("scenario.duration_hours", hours, HOUR_MS)?,
            (None, Some(days)) => positive_ms("scenario.duration_days", days, DAY_MS)?,
            (Some(_), Some(_)) => {
                return Err(invalid("scenario.duration_days", "given with duration_hours", "one of the two"));
            }
            (None, None) => {
                return Err(invalid("scenario.duration_hours", "missing", "duration_hours or duration_days"));
            }
        };
        if duration_ms > limits::MAX_SCENARIO_DURATION_MS {
            let field =
                if header.duration_days.is_some() { "scenario.duration_days" } else { "scenario.duration_hours" };
            return Err(invalid(
                field,
                format!("{duration_ms} ms"),
                format!("at most {} days", limits::MAX_SCENARIO_DURATION_MS / DAY_MS as u64),
            ));
        }
        let time_scale = parse_time_scale(header.time_scale.as_ref())?;

        let cities = self.validate_cities()?;
        let known: Vec<City> = cities.iter().map(|c| c.city.clone()).collect();
        if self.gangs.is_empty() || self.gangs.len() > limits::MAX_SCENARIO_GANGS {
            return Err(invalid(
                "gangs",
                format!("{} gangs", self.gangs.len()),
                format!("1 to {} [[gangs]]", limits::MAX_SCENARIO_GANGS),
            ));
        }
        let gangs = self
            .gangs
            .iter()
            .enumerate()
            .map(|(i, gang)| gang.validate(i, &known, duration_ms))
            .collect::<Result<Vec<_>, _>>()?;
        let victims: u64 = gangs.iter().map(|g| u64::from(g.victims)).sum();
        if victims > limits::MAX_SCENARIO_VICTIMS {
            return Err(invalid(
                "gangs",
                format!("{victims} victims in all"),
                format!("at most {}", limits::MAX_SCENARIO_VICTIMS),
            ));
        }
        let accounts: u64 =
            gangs.iter().map(|g| g.networks().saturating_mul(g.max_network_accounts())).sum::<u64>() + victims;
        if accounts > limits::MAX_WAVE_ACCOUNTS {
            return Err(invalid(
                "gangs",
                format!("up to {accounts} accounts"),
                format!("at most {} accounts (victims and mules)", limits::MAX_WAVE_ACCOUNTS),
            ));
        }

        Ok(Scenario {
            name: header.name.trim().to_owned(),
            description: header.description.trim().to_owned(),
            seed,
            start_ms,
            duration_ms,
            time_scale,
            cities,
            gangs,
            mules: self.mules.validate()?,
            victims: self.victims.validate()?,
            banks: self.banks.validate()?,
            hash: 0,
        })
    }

    fn validate_cities(&self) -> Result<Vec<CitySpec>, ScenarioError> {
        if self.cities.is_empty() || self.cities.len() > limits::MAX_SCENARIO_CITIES {
            return Err(invalid(
                "cities",
                format!("{} cities", self.cities.len()),
                format!("1 to {} [[cities]]", limits::MAX_SCENARIO_CITIES),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut cities = Vec::with_capacity(self.cities.len());
        for (i, raw) in self.cities.iter().enumerate() {
            let city =
                City::parse(&raw.name).map_err(|e| invalid(format!("cities[{i}].name"), &raw.name, e.to_string()))?;
            if !seen.insert(city.clone()) {
                return Err(invalid(format!("cities[{i}].name"), &raw.name, "a city not listed before"));
            }
            let population = u64::try_from(raw.population)
                .ok()
                .filter(|p| (1..=limits::MAX_CITY_POPULATION).contains(p))
                .ok_or_else(|| {
                    invalid(
                        format!("cities[{i}].population"),
                        raw.population,
                        format!("1 to {}", limits::MAX_CITY_POPULATION),
                    )
                })?;
            cities.push(CitySpec { city, population });
        }
        Ok(cities)
    }
}

impl RawGang {
    fn validate(&self, i: usize, known: &[City], duration_ms: u64) -> Result<GangSpec, ScenarioError> {
        let at = |field: &str| format!("gangs[{i}].{field}");
        let fraud_type = FraudType::parse(&self.fraud_type)
            .map_err(|_| invalid(at("fraud_type"), format!("{:?}", self.fraud_type), FraudType::EXPECTED))?;
        let cities = match &self.cities {
            None => known.to_vec(),
            Some(names) => {
                if names.is_empty() {
                    return Err(invalid(at("cities"), "[]", "one or more of the [[cities]] names"));
                }
                let mut cities = Vec::new();
                for (j, name) in names.iter().enumerate() {
                    let city = City::parse(name).ok().filter(|c| known.contains(c)).ok_or_else(|| {
                        invalid(format!("{}[{j}]", at("cities")), format!("{name:?}"), expected_city(known))
                    })?;
                    if cities.contains(&city) {
                        return Err(invalid(
                            format!("{}[{j}]", at("cities")),
                            format!("{name:?}"),
                            "a city not listed before",
                        ));
                    }
                    cities.push(city);
                }
                cities
            }
        };
        let victims = u32::try_from(self.victims)
            .ok()
            .filter(|v| *v >= 1 && u64::from(*v) <= limits::MAX_SCENARIO_VICTIMS)
            .ok_or_else(|| invalid(at("victims"), self.victims, format!("1 to {}", limits::MAX_SCENARIO_VICTIMS)))?;
        let defaults = default_amount_yuan(fraud_type);
        let amount_yuan = match self.amount_yuan {
            None => defaults,
            Some(raw) => {
                raw.validate(&at("amount_yuan"), defaults.min, defaults.max, 1.0, f64::from(limits::MAX_LOSS_YUAN))?
            }
        };
        let typology = match &self.typology {
            None => Typology::FanOut,
            Some(name) => {
                Typology::parse(name).ok_or_else(|| invalid(at("typology"), format!("{name:?}"), Typology::EXPECTED))?
            }
        };
        let widths = match &self.widths {
            None => typology.default_widths(),
            Some(values) => {
                if values.is_empty() || values.len() > limits::MAX_TRAIL_LEVELS {
                    return Err(invalid(
                        at("widths"),
                        format!("{} levels", values.len()),
                        format!("1 to {} levels", limits::MAX_TRAIL_LEVELS),
                    ));
                }
                values
                    .iter()
                    .enumerate()
                    .map(|(k, v)| count_span(&format!("{}[{k}]", at("widths")), v, 1, limits::MAX_LAYER_WIDTH))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        typology
            .check_shape(&widths)
            .map_err(|expected| invalid(at("widths"), show_widths(&widths), format!("for {typology}: {expected}")))?;
        let victims_per_network = self.victims_per_network.unwrap_or(defaults::VICTIMS_PER_NETWORK);
        let victims_per_network = u32::try_from(victims_per_network)
            .ok()
            .filter(|v| (1..=limits::MAX_VICTIMS_PER_NETWORK).contains(v))
            .ok_or_else(|| {
                invalid(
                    at("victims_per_network"),
                    victims_per_network,
                    format!("1 to {}", limits::MAX_VICTIMS_PER_NETWORK),
                )
            })?;
        let gang = GangSpec {
            name: self.name.clone().unwrap_or_else(|| format!("{}-{i}", fraud_type.as_str())),
            fraud_type,
            cities,
            victims,
            amount_yuan,
            typology,
            widths,
            victims_per_network,
            phones: optional_count_span(
                &at("phones"),
                self.phones.as_ref(),
                defaults::PHONES,
                1,
                limits::MAX_GANG_CONTACTS,
            )?,
            sites: optional_count_span(
                &at("sites"),
                self.sites.as_ref(),
                defaults::SITES,
                0,
                limits::MAX_GANG_CONTACTS,
            )?,
            active_ms: match self.active_hours {
                None => Span { min: 0, max: duration_ms },
                Some([from, to]) => {
                    let hours = duration_ms as f64 / HOUR_MS;
                    if !(from.is_finite() && to.is_finite() && 0.0 <= from && from < to && to <= hours) {
                        return Err(invalid(
                            at("active_hours"),
                            format!("[{from}, {to}]"),
                            format!("[from, to] with 0 <= from < to <= {hours} (the duration in hours)"),
                        ));
                    }
                    Span { min: (from * HOUR_MS).round() as u64, max: (to * HOUR_MS).round() as u64 }
                }
            },
        };
        if gang.networks() > limits::MAX_NETWORKS_PER_GANG {
            return Err(invalid(
                at("victims_per_network"),
                gang.victims_per_network,
                format!("enough for at most {} networks", limits::MAX_NETWORKS_PER_GANG),
            ));
        }
        Ok(gang)
    }
}

impl RawLogNormal {
    /// Checks `min <= median <= p90 <= max`, each within `floor..=ceiling`; `min` and `max`
    /// default to `default_min` and `default_max` (moved to the median or p90 when those
    /// lie outside them).
    fn validate(
        self,
        field: &str,
        default_min: f64,
        default_max: f64,
        floor: f64,
        ceiling: f64,
    ) -> Result<LogNormal, ScenarioError> {
        let min = self.min.unwrap_or(default_min.min(self.median));
        let max = self.max.unwrap_or(default_max.max(self.p90));
        let shown = format!("{{ median = {}, p90 = {}, min = {min}, max = {max} }}", self.median, self.p90);
        let values = [min, self.median, self.p90, max];
        let ordered = values.windows(2).all(|w| w[0] <= w[1]);
        if !values.iter().all(|v| v.is_finite() && (floor..=ceiling).contains(v)) || !ordered {
            return Err(invalid(field, shown, format!("{floor} <= min <= median <= p90 <= max <= {ceiling}")));
        }
        Ok(LogNormal { median: self.median, p90: self.p90, min, max })
    }
}

impl RawMules {
    fn validate(&self) -> Result<MuleSpec, ScenarioError> {
        let [lo, hi] = self.margin.unwrap_or(defaults::MARGIN);
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi < 1.0) {
            return Err(invalid("mules.margin", format!("[{lo}, {hi}]"), "[min, max] with 0 <= min <= max < 1"));
        }
        Ok(MuleSpec {
            margin: Span { min: lo, max: hi },
            forward_delay_ms: minutes_span(
                "mules.forward_delay_minutes",
                self.forward_delay_minutes.unwrap_or(defaults::FORWARD_DELAY_MINUTES),
                limits::MIN_SCENARIO_DELAY_MS,
                limits::MAX_FORWARD_DELAY_MS,
            )?,
            cash_out_share: share("mules.cash_out_share", self.cash_out_share.unwrap_or(defaults::CASH_OUT_SHARE))?,
            order_share: share("mules.order_share", self.order_share.unwrap_or(defaults::MULE_ORDER_SHARE))?,
        })
    }
}

impl RawVictims {
    fn validate(&self) -> Result<VictimSpec, ScenarioError> {
        let (median, p90, min, max) = defaults::REPORT_DELAY_MINUTES;
        let raw = self.report_delay_minutes.unwrap_or(RawLogNormal { median, p90, min: Some(min), max: Some(max) });
        let floor = limits::MIN_SCENARIO_DELAY_MS as f64 / MINUTE_MS;
        let ceiling = limits::MAX_REPORT_DELAY_MS as f64 / MINUTE_MS;
        let minutes = raw.validate("victims.report_delay_minutes", min.max(floor), max.min(ceiling), floor, ceiling)?;
        Ok(VictimSpec {
            payments: optional_count_span(
                "victims.payments",
                self.payments.as_ref(),
                defaults::PAYMENTS,
                1,
                limits::MAX_PAYMENTS_PER_VICTIM,
            )?,
            payment_gap_ms: minutes_span(
                "victims.payment_gap_minutes",
                self.payment_gap_minutes.unwrap_or(defaults::PAYMENT_GAP_MINUTES),
                limits::MIN_SCENARIO_DELAY_MS,
                limits::MAX_PAYMENT_GAP_MS,
            )?,
            order_share: share("victims.order_share", self.order_share.unwrap_or(defaults::VICTIM_ORDER_SHARE))?,
            report_delay_ms: LogNormal {
                median: minutes.median * MINUTE_MS,
                p90: minutes.p90 * MINUTE_MS,
                min: minutes.min * MINUTE_MS,
                max: minutes.max * MINUTE_MS,
            },
        })
    }
}

impl RawBanks {
    fn validate(&self) -> Result<BankSpec, ScenarioError> {
        let [lo, hi] = self.answer_ms.unwrap_or(defaults::ANSWER_MS);
        let max = limits::MAX_BANK_ANSWER_MS as f64;
        if !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi && hi <= max) {
            return Err(invalid(
                "banks.answer_ms",
                format!("[{lo}, {hi}]"),
                format!("[min, max] with 0 <= min <= max <= {max}"),
            ));
        }
        Ok(BankSpec { answer_ms: Span { min: lo.round() as u64, max: hi.round() as u64 } })
    }
}

/// A TOML value as it would be written.
fn show(value: &Value) -> String {
    match value {
        Value::String(text) => format!("{text:?}"),
        Value::Integer(n) => n.to_string(),
        Value::Float(x) => x.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(datetime) => datetime.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Value::Table(table) => {
            let fields: Vec<String> = table.iter().map(|(k, v)| format!("{k} = {}", show(v))).collect();
            format!("{{ {} }}", fields.join(", "))
        }
    }
}

fn expected_city(known: &[City]) -> String {
    let names: Vec<&str> = known.iter().map(City::as_str).collect();
    format!("one of the [[cities]]: {}", names.join(", "))
}

fn show_widths(widths: &[Span<u32>]) -> String {
    let shown: Vec<String> = widths
        .iter()
        .map(|w| if w.min == w.max { w.min.to_string() } else { format!("[{}, {}]", w.min, w.max) })
        .collect();
    format!("[{}]", shown.join(", "))
}

/// A share from 0 to 1.
fn share(field: &str, value: f64) -> Result<f64, ScenarioError> {
    if (0.0..=1.0).contains(&value) { Ok(value) } else { Err(invalid(field, value, "a share from 0 to 1")) }
}

/// A positive amount of `unit_ms` units, in whole ms.
fn positive_ms(field: &str, value: f64, unit_ms: f64) -> Result<u64, ScenarioError> {
    if value.is_finite() && value > 0.0 && value * unit_ms >= 1.0 && value * unit_ms < u64::MAX as f64 {
        Ok((value * unit_ms).round() as u64)
    } else {
        Err(invalid(field, value, "a positive number"))
    }
}

/// A `[min, max]` range of minutes, in ms, within `floor_ms..=ceiling_ms`.
fn minutes_span(field: &str, [lo, hi]: [f64; 2], floor_ms: u64, ceiling_ms: u64) -> Result<Span<u64>, ScenarioError> {
    let (lo_ms, hi_ms) = (lo * MINUTE_MS, hi * MINUTE_MS);
    if lo.is_finite() && hi.is_finite() && floor_ms as f64 <= lo_ms && lo_ms <= hi_ms && hi_ms <= ceiling_ms as f64 {
        Ok(Span { min: lo_ms.round() as u64, max: hi_ms.round() as u64 })
    } else {
        Err(invalid(
            field,
            format!("[{lo}, {hi}]"),
            format!(
                "[min, max] minutes with {} <= min <= max <= {}",
                floor_ms as f64 / MINUTE_MS,
                ceiling_ms as f64 / MINUTE_MS
            ),
        ))
    }
}

/// A count given as `n` or `[min, max]`, within `floor..=ceiling`.
fn count_span(field: &str, value: &Value, floor: u32, ceiling: u32) -> Result<Span<u32>, ScenarioError> {
    let expected =
        || format!("a count from {floor} to {ceiling}, or [min, max] with {floor} <= min <= max <= {ceiling}");
    let count = |v: &Value| match v {
        Value::Integer(n) => u32::try_from(*n).ok().filter(|n| (floor..=ceiling).contains(n)),
        _ => None,
    };
    let span = match value {
        Value::Integer(_) => count(value).map(Span::exactly),
        Value::Array(pair) if pair.len() == 2 => match (count(&pair[0]), count(&pair[1])) {
            (Some(min), Some(max)) if min <= max => Some(Span { min, max }),
            _ => None,
        },
        _ => None,
    };
    span.ok_or_else(|| invalid(field, show(value), expected()))
}

fn optional_count_span(
    field: &str,
    value: Option<&Value>,
    default: [u32; 2],
    floor: u32,
    ceiling: u32,
) -> Result<Span<u32>, ScenarioError> {
    match value {
        None => Ok(Span { min: default[0], max: default[1] }),
        Some(value) => count_span(field, value, floor, ceiling),
    }
}

/// `start`: a TOML date or date-time (local ones are China Standard Time), the same as a
/// string, or milliseconds since the epoch.
fn parse_start(value: &Value) -> Result<TimeMs, ScenarioError> {
    const EXPECTED: &str = "a date (2025-03-01), a date-time (2025-03-01T08:00:00, +08:00 when no offset is given) \
                            or milliseconds since 1970";
    let datetime = match value {
        Value::Integer(ms) => return u64::try_from(*ms).map_err(|_| invalid("scenario.start", ms, EXPECTED)),
        Value::Datetime(datetime) => *datetime,
        Value::String(text) => text
            .parse::<toml::value::Datetime>()
            .map_err(|_| invalid("scenario.start", format!("{text:?}"), EXPECTED))?,
        other => return Err(invalid("scenario.start", show(other), EXPECTED)),
    };
    datetime_ms(&datetime).ok_or_else(|| invalid("scenario.start", datetime.to_string(), EXPECTED))
}

/// Milliseconds since the epoch of a TOML date or date-time, or `None` for a bare time or a
/// moment before 1970.
fn datetime_ms(datetime: &toml::value::Datetime) -> Option<TimeMs> {
    let date = datetime.date?;
    let days = days_from_civil(i64::from(date.year), i64::from(date.month), i64::from(date.day));
    let (hour, minute, second, nanos) = match datetime.time {
        Some(time) => (time.hour, time.minute, time.second.unwrap_or(0), time.nanosecond.unwrap_or(0)),
        None => (0, 0, 0, 0),
    };
    let offset_minutes = match datetime.offset {
        None => DEFAULT_UTC_OFFSET_MINUTES,
        Some(toml::value::Offset::Z) => 0,
        Some(toml::value::Offset::Custom { minutes }) => i64::from(minutes),
    };
    let seconds =
        days * 86_400 + i64::from(hour) * 3_600 + i64::from(minute) * 60 + i64::from(second) - offset_minutes * 60;
    let ms = seconds.checked_mul(1000)?.checked_add(i64::from(nanos / 1_000_000))?;
    u64::try_from(ms).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `time_scale`: a number from 1 to [`MAX_TIME_SCALE`], or `"real"` for 1.
fn parse_time_scale(value: Option<&Value>) -> Result<f64, ScenarioError> {
    let expected = format!("a number from 1 to {MAX_TIME_SCALE}, or \"real\" (1)");
    let scale = match value {
        None => DEFAULT_TIME_SCALE,
        Some(Value::String(word)) if word == "real" => 1.0,
        Some(Value::Integer(n)) => *n as f64,
        Some(Value::Float(x)) => *x,
        Some(other) => return Err(invalid("scenario.time_scale", show(other), expected)),
    };
    if (1.0..=MAX_TIME_SCALE).contains(&scale) {
        Ok(scale)
    } else {
        Err(invalid("scenario.time_scale", scale, expected))
    }
}

/// A TOML reader error with its line and column, and the path of the field it names when it
/// names one (an unknown or missing field).
fn syntax_error(text: &str, error: &toml::de::Error) -> ScenarioError {
    let offset = error.span().map_or(0, |span| span.start).min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let message = error.message().trim().to_owned();
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next()));
    let field = named.map(|key| {
        // An unknown key's span is the key; a missing key's span is its table, header
        // included: read the headers up to the end of the span's first line.
        let span_line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
        let mut path = table_path(&text[..span_line_end]);
        // A key inside an inline table: `amount_yuan = { median = 1, bogus = 2 }`.
        if let Some(inline) = inline_table_key(&before[line_start..]) {
            path = join_path(&path, inline);
        }
        join_path(&path, key)
    });
    ScenarioError::Syntax { line, column, field, message }
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

/// The table the text just before an error is in: `gangs[2]` after the third `[[gangs]]`,
/// `mules` after `[mules]`, empty before any header.
fn table_path(before: &str) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut path = String::new();
    for line in before.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix("[[").and_then(|rest| rest.split("]]").next()) {
            let name = name.trim();
            let count = counts.entry(name).or_insert(0);
            path = format!("{name}[{count}]");
            *count += 1;
        } else if let Some(name) = line.strip_prefix('[').and_then(|rest| rest.split(']').next()) {
            path = name.trim().to_owned();
        }
    }
    path
}

/// The key of the inline table open at the end of `line_before` (`amount_yuan` in
/// `amount_yuan = { median = 1, `), if any.
fn inline_table_key(line_before: &str) -> Option<&str> {
    let open = line_before.rfind('{')?;
    if line_before[open..].contains('}') {
        return None;
    }
    let key = line_before[..open].trim_end().strip_suffix('=')?.trim();
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[scenario]
name = "minimal"
seed = 7
start = 2025-03-01
duration_hours = 24

[[cities]]
name = "wenzhou"
population = 9300000

[[gangs]]
fraud_type = "pig_butchering"
victims = 3
"#;

    fn with(extra: &str) -> String {
        format!("{MINIMAL}{extra}")
    }

    /// Parses `text` and returns the field its error names.
    fn error_field(text: &str) -> String {
        let error = Scenario::parse(text).expect_err("accepted");
        let field = error.field().unwrap_or_else(|| panic!("no field in {error}")).to_owned();
        let shown = error.to_string();
        assert!(shown.contains(&field) || matches!(error, ScenarioError::Syntax { .. }), "{shown}");
        field
    }

    #[test]
    fn a_minimal_file_gets_the_defaults() {
        let scenario = Scenario::parse(MINIMAL).unwrap();
        assert_eq!(scenario.name, "minimal");
        assert_eq!(scenario.seed, 7);
        // 2025-03-01T00:00:00+08:00
        assert_eq!(scenario.start_ms, 1_740_758_400_000);
        assert_eq!(scenario.duration_ms, 24 * 3_600_000);
        assert_eq!(scenario.time_scale, DEFAULT_TIME_SCALE);
        let gang = &scenario.gangs[0];
        assert_eq!(gang.typology, Typology::FanOut);
        assert_eq!(gang.widths, Typology::FanOut.default_widths());
        assert_eq!(gang.cities, vec![City::parse("wenzhou").unwrap()]);
        assert_eq!(gang.amount_yuan, default_amount_yuan(FraudType::PigButchering));
        assert_eq!(gang.active_ms, Span { min: 0, max: 24 * 3_600_000 });
        assert_eq!(scenario.hash, domain::fnv1a64(MINIMAL.as_bytes()));
        assert_eq!(scenario.hash_hex().len(), 16);
        assert_eq!(scenario.mules.forward_delay_ms, Span { min: 5 * 60_000, max: 60 * 60_000 });
    }

    #[test]
    fn start_accepts_dates_date_times_strings_and_ms() {
        let base = MINIMAL.replace("start = 2025-03-01", "start = START");
        for (start, ms) in [
            ("2025-03-01", 1_740_758_400_000),
            ("\"2025-03-01\"", 1_740_758_400_000),
            ("2025-03-01T08:00:00", 1_740_787_200_000),
            ("2025-03-01T00:00:00Z", 1_740_787_200_000),
            ("2025-03-01T08:00:00+08:00", 1_740_787_200_000),
            ("1740787200000", 1_740_787_200_000),
        ] {
            let scenario = Scenario::parse(&base.replace("START", start)).unwrap();
            assert_eq!(scenario.start_ms, ms, "{start}");
        }
        for bad in ["-5", "\"yesterday\"", "08:00:00", "1969-12-01T00:00:00Z", "true"] {
            assert_eq!(error_field(&base.replace("START", bad)), "scenario.start", "{bad}");
        }
    }

    #[test]
    fn days_from_civil_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn time_scale_is_a_number_or_real() {
        let set = |v: &str| MINIMAL.replace("duration_hours = 24", &format!("duration_hours = 24\ntime_scale = {v}"));
        assert_eq!(Scenario::parse(&set("\"real\"")).unwrap().time_scale, 1.0);
        assert_eq!(Scenario::parse(&set("1440")).unwrap().time_scale, 1440.0);
        assert_eq!(Scenario::parse(&set("2.5")).unwrap().time_scale, 2.5);
        for bad in ["0", "0.5", "100000", "\"fast\"", "-60"] {
            assert_eq!(error_field(&set(bad)), "scenario.time_scale", "{bad}");
        }
    }

    #[test]
    fn unknown_fields_are_named_with_their_table() {
        let top = MINIMAL.replace("seed = 7", "seed = 7\ncolour = \"red\"");
        let error = Scenario::parse(&top).unwrap_err();
        assert_eq!(error.field(), Some("scenario.colour"), "{error}");
        assert!(matches!(error, ScenarioError::Syntax { line: 5, .. }), "{error}");

        let root = format!("speed = 3\n{MINIMAL}");
        assert_eq!(error_field(&root), "speed");

        let gang = with("\n[[gangs]]\nfraud_type = \"online_loan\"\nvictims = 2\nvictim = 3\n");
        let error = Scenario::parse(&gang).unwrap_err();
        assert_eq!(error.field(), Some("gangs[1].victim"), "{error}");
        assert!(error.to_string().contains("unknown field `victim`"), "{error}");

        let inline = with("amount_yuan = { median = 100, p90 = 200, mean = 5 }\n");
        assert_eq!(error_field(&inline), "gangs[0].amount_yuan.mean");

        let nested = with("\n[mules]\nmargin = [0.0, 0.1]\ndelay = [1, 2]\n");
        assert_eq!(error_field(&nested), "mules.delay");

        let missing = MINIMAL.replace("seed = 7\n", "");
        assert_eq!(error_field(&missing), "scenario.seed");
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases: Vec<(String, &str)> = vec![
            (MINIMAL.replace("pig_butchering", "romance"), "gangs[0].fraud_type"),
            (with("typology = \"star\"\n"), "gangs[0].typology"),
            (MINIMAL.replace("victims = 3", "victims = 0"), "gangs[0].victims"),
            (MINIMAL.replace("victims = 3", "victims = -2"), "gangs[0].victims"),
            (with("cities = [\"ningbo\"]\n"), "gangs[0].cities[0]"),
            (with("cities = []\n"), "gangs[0].cities"),
            (with("widths = [1, 0, 3]\n"), "gangs[0].widths[1]"),
            (with("widths = [1, [5, 2]]\n"), "gangs[0].widths[1]"),
            (with("widths = [1, [-1, 2]]\n"), "gangs[0].widths[1]"),
            (with("widths = []\n"), "gangs[0].widths"),
            (with("typology = \"fan_in\"\nwidths = [4, 2]\n"), "gangs[0].widths"),
            (with("typology = \"cycle\"\nwidths = [1, 2]\n"), "gangs[0].widths"),
            (with("typology = \"scatter_gather\"\nwidths = [2, 4, 1]\n"), "gangs[0].widths"),
            (with("typology = \"gather_scatter\"\nwidths = [4, 2, 4]\n"), "gangs[0].widths"),
            (with("amount_yuan = { median = 5000, p90 = 1000 }\n"), "gangs[0].amount_yuan"),
            (with("amount_yuan = { median = -5, p90 = 1000 }\n"), "gangs[0].amount_yuan"),
            (with("phones = 0\n"), "gangs[0].phones"),
            (with("sites = [3, 1]\n"), "gangs[0].sites"),
            (with("victims_per_network = 0\n"), "gangs[0].victims_per_network"),
            (with("active_hours = [10, 5]\n"), "gangs[0].active_hours"),
            (with("active_hours = [0, 25]\n"), "gangs[0].active_hours"),
            (with("\n[mules]\nmargin = [0.2, 0.1]\n"), "mules.margin"),
            (with("\n[mules]\nmargin = [-0.1, 0.1]\n"), "mules.margin"),
            (with("\n[mules]\nforward_delay_minutes = [0, 10]\n"), "mules.forward_delay_minutes"),
            (with("\n[mules]\nforward_delay_minutes = [30, 10]\n"), "mules.forward_delay_minutes"),
            (with("\n[mules]\ncash_out_share = 1.5\n"), "mules.cash_out_share"),
            (with("\n[mules]\norder_share = -0.1\n"), "mules.order_share"),
            (with("\n[victims]\npayments = 0\n"), "victims.payments"),
            (with("\n[victims]\npayments = [1, 65]\n"), "victims.payments"),
            (with("\n[victims]\npayment_gap_minutes = [5, 1]\n"), "victims.payment_gap_minutes"),
            (with("\n[victims]\nreport_delay_minutes = { median = 0, p90 = 10 }\n"), "victims.report_delay_minutes"),
            (with("\n[victims]\norder_share = 2\n"), "victims.order_share"),
            (with("\n[banks]\nanswer_ms = [500, 100]\n"), "banks.answer_ms"),
            (MINIMAL.replace("duration_hours = 24", "duration_hours = 0"), "scenario.duration_hours"),
            (MINIMAL.replace("duration_hours = 24", "duration_hours = -3"), "scenario.duration_hours"),
            (MINIMAL.replace("duration_hours = 24", "duration_days = 400"), "scenario.duration_days"),
            (MINIMAL.replace("duration_hours = 24\n", ""), "scenario.duration_hours"),
            (MINIMAL.replace("seed = 7", "seed = -7"), "scenario.seed"),
            (MINIMAL.replace("name = \"minimal\"", "name = \" \""), "scenario.name"),
            (MINIMAL.replace("population = 9300000", "population = 0"), "cities[0].population"),
            (MINIMAL.replace("name = \"wenzhou\"", "name = \"Wen Zhou\""), "cities[0].name"),
            (
                MINIMAL.replace("[[gangs]]", "[[cities]]\nname = \"wenzhou\"\npopulation = 5\n\n[[gangs]]"),
                "cities[1].name",
            ),
        ];
        for (text, field) in cases {
            assert_eq!(error_field(&text), field, "{text}");
        }
    }

    #[test]
    fn empty_cities_and_gangs_are_refused() {
        let no_cities = MINIMAL.replace("[[cities]]\nname = \"wenzhou\"\npopulation = 9300000\n", "");
        assert_eq!(error_field(&no_cities), "cities");
        let no_gangs = MINIMAL.replace("[[gangs]]\nfraud_type = \"pig_butchering\"\nvictims = 3\n", "");
        assert_eq!(error_field(&no_gangs), "gangs");
    }

    #[test]
    fn errors_say_what_is_accepted() {
        let error = Scenario::parse(&with("typology = \"star\"\n")).unwrap_err();
        let shown = error.to_string();
        assert!(shown.contains("gangs[0].typology"), "{shown}");
        assert!(shown.contains("\"star\""), "{shown}");
        assert!(shown.contains(Typology::EXPECTED), "{shown}");
        let error = Scenario::parse(&MINIMAL.replace("pig_butchering", "romance")).unwrap_err();
        assert!(error.to_string().contains(FraudType::EXPECTED), "{error}");
    }

    #[test]
    fn widths_take_counts_and_ranges() {
        let scenario = Scenario::parse(&with("widths = [1, 4, [6, 10], 12]\n")).unwrap();
        assert_eq!(
            scenario.gangs[0].widths,
            vec![Span::exactly(1), Span::exactly(4), Span { min: 6, max: 10 }, Span::exactly(12)]
        );
        for typology in Typology::ALL {
            let text = with(&format!("typology = \"{typology}\"\n"));
            let gang = &Scenario::parse(&text).unwrap().gangs[0];
            assert_eq!(gang.widths, typology.default_widths(), "{typology}");
        }
    }

    #[test]
    fn the_clamped_log_normal_mean_matches_sampling() {
        let spread = LogNormal { median: 5_000.0, p90: 30_000.0, min: 100.0, max: 500_000.0 };
        // Deterministic quadrature over the standard normal: midpoints of 200k quantile slices.
        let n = 200_000;
        let mut sum = 0.0;
        for i in 0..n {
            let p = (f64::from(i) + 0.5) / f64::from(n);
            sum += spread.at(inverse_normal(p));
        }
        let numeric = sum / f64::from(n);
        assert!((spread.mean() / numeric - 1.0).abs() < 0.01, "{} vs {numeric}", spread.mean());
        let flat = LogNormal { median: 10.0, p90: 10.0, min: 1.0, max: 100.0 };
        assert_eq!(flat.mean(), 10.0);
    }

    /// Inverse standard normal CDF by bisection (test only).
    fn inverse_normal(p: f64) -> f64 {
        let (mut lo, mut hi) = (-10.0, 10.0);
        for _ in 0..80 {
            let mid = (lo + hi) / 2.0;
            if normal_cdf(mid) < p { lo = mid } else { hi = mid }
        }
        (lo + hi) / 2.0
    }
}
