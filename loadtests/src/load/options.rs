//! The options of `afc-lab load` (clap), checked into the points to run: every option out of
//! range is refused up front, naming its flag, before any deployment starts.

use std::path::PathBuf;
use std::time::Duration;

use simulator::limits::MAX_CASES_PER_CITY;
use tokio::time::Instant;

use crate::bench::security::{self, Security};
use crate::deployment::CITIES;
use crate::harness::Schedule;
use crate::targets::{MAX_RATE_PER_S, MAX_SIGNAL_RATE_PER_S};

/// Longest measured duration, in seconds.
pub const MAX_DURATION_S: u64 = 600;
/// Longest warm-up, in seconds.
pub const MAX_WARMUP_S: u64 = 120;
/// Most points (rates × city counts) in one sweep: each takes a fresh deployment and
/// `warm-up + duration` seconds plus the drain.
pub const MAX_SWEEP_POINTS: usize = 64;
/// Most `--retry-disturbed` runs of one point.
pub const MAX_RETRIES: u32 = 5;
/// Longest `--quiet-wait`, in seconds.
pub const MAX_QUIET_WAIT_S: u64 = 3_600;

/// Options of `afc-lab load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadOptions {
    /// Cases submitted per second, open loop (one point).
    #[arg(long, required_unless_present = "sweep", conflicts_with = "sweep")]
    pub rate: Option<f64>,
    /// Measured seconds, after the warm-up.
    #[arg(long, default_value_t = 20)]
    pub duration: u64,
    /// Cities of the deployment (the first N of hangzhou, wenzhou, huzhou, ningbo, ...).
    #[arg(long, default_value_t = 1, conflicts_with = "sweep")]
    pub cities: usize,
    /// Seconds of load before the measured window; cases intended in them are left out.
    #[arg(long, default_value_t = 5)]
    pub warmup: u64,
    /// Seed of the generated trails and signals.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Carriers' contact signals per second for dissuasion, over the whole deployment (spread
    /// over its cities), open loop from the warm-up's start to the end of the measured window;
    /// 0: none.
    #[arg(long, default_value_t = 0.0)]
    pub signals: f64,
    /// Run the nats-servers with `sync_interval: always` (fsync every JetStream write).
    #[arg(long)]
    pub sync_always: bool,
    /// Walk every rate of --rates for every city count of --cities-list.
    #[arg(long)]
    pub sweep: bool,
    /// Rates of the sweep, cases/s.
    #[arg(long, value_delimiter = ',', default_values_t = [50.0, 100.0, 200.0, 300.0, 400.0])]
    pub rates: Vec<f64>,
    /// City counts of the sweep.
    #[arg(long = "cities-list", value_delimiter = ',', default_values_t = [1, 2, 3])]
    pub cities_list: Vec<usize>,
    /// Before each point, wait up to this many seconds for the machine to be idle (busy
    /// under 25% of one core for a second); 0 runs at once.
    #[arg(long, default_value_t = 0)]
    pub quiet_wait: u64,
    /// Run a point again, up to this many times, when something else used the machine
    /// before or during it.
    #[arg(long, default_value_t = 0)]
    pub retry_disturbed: u32,
    /// The deployment: secured (identities, permissions, TLS), insecure (anonymous, plain
    /// text), or both alternately (off, on, off, on, ...; one point, not a sweep) with a
    /// comparison of the two.
    #[arg(long, value_enum, default_value_t = Security::On)]
    pub security: Security,
    /// With `--security both`: how many times each is run.
    #[arg(long, default_value_t = security::DEFAULT_ROUNDS)]
    pub rounds: u32,
    /// Directory the sweep writes sweep.md, sweep.svg and each point's result (JSON) into;
    /// `--security both` its runs' results and security.md.
    #[arg(long, default_value = "target/load")]
    pub out: PathBuf,
    /// Also write the point's result as JSON to this file: how a sweep, which runs each
    /// point in a process of its own, reads it back (progress lines are then left to it).
    #[arg(long, conflicts_with = "sweep")]
    pub result_json: Option<PathBuf>,
}

/// An option out of range, naming the flag.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum OptionError {
    #[error("--rate {given} is out of range: it must be above 0 and at most {MAX_RATE_PER_S} cases/s")]
    Rate { given: f64 },
    #[error("--duration {given} is out of range: 1 to {MAX_DURATION_S} seconds")]
    Duration { given: u64 },
    #[error("--warmup {given} is out of range: 0 to {MAX_WARMUP_S} seconds")]
    Warmup { given: u64 },
    #[error("--cities {given} is out of range: 1 to {} (the cities afc-lab load knows)", CITIES.len())]
    Cities { given: usize },
    #[error("--quiet-wait {given} is out of range: 0 to {MAX_QUIET_WAIT_S} seconds")]
    QuietWait { given: u64 },
    #[error("--retry-disturbed {given} is out of range: 0 to {MAX_RETRIES}")]
    Retries { given: u32 },
    #[error("--signals {given} is out of range: 0 to {MAX_SIGNAL_RATE_PER_S} signals/s")]
    Signals { given: f64 },
    #[error("--rounds {given} is out of range: 1 to {}", security::MAX_ROUNDS)]
    Rounds { given: u32 },
    #[error(
        "--security both compares one point (--rate), not a sweep: run the sweep once with --security on and once with --security off"
    )]
    SweepBoth,
    #[error("--result-json takes one run: --security on or off, not both")]
    ResultJsonBoth,
    #[error("--rates is empty: give at least one rate")]
    NoRates,
    #[error("--cities-list is empty: give at least one city count")]
    NoCities,
    #[error("--rates × --cities-list is {given} points, at most {MAX_SWEEP_POINTS}")]
    SweepPoints { given: usize },
    #[error(
        "{rate} cases/s for --warmup {warmup} + --duration {duration} s is {cases} cases, {per_city} per city \
         with --cities {cities}, and a city takes at most {MAX_CASES_PER_CITY}: lower --rate or --duration"
    )]
    TooManyCases { rate: f64, warmup: u64, duration: u64, cities: usize, cases: u64, per_city: u64 },
}

/// One point of load: what is run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PointConfig {
    /// Cases submitted per second, open loop.
    pub rate: f64,
    /// Cities of the deployment: the first this many of [`CITIES`].
    pub cities: usize,
    /// The measured window, after the warm-up.
    pub duration: Duration,
    /// Load before the measured window, left out of every figure.
    pub warmup: Duration,
    /// Seed of the generated trails and signals.
    pub seed: u64,
    /// `sync_interval: always` on every nats-server.
    pub sync_always: bool,
    /// Identities, permissions and TLS on every server and connection. Results written
    /// before this field was read back as insecure: most predate the secured deployment.
    #[serde(default)]
    pub secure: bool,
    /// Contact signals per second published for dissuasion beside the cases (0: none).
    /// Results written before this field read back as 0.
    #[serde(default)]
    pub signals_per_s: f64,
}

impl PointConfig {
    /// Checks the point against every bound, naming the flag out of range.
    pub fn validate(&self) -> Result<(), OptionError> {
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE_PER_S) {
            return Err(OptionError::Rate { given: self.rate });
        }
        let duration = self.duration.as_secs();
        if duration == 0 || duration > MAX_DURATION_S {
            return Err(OptionError::Duration { given: duration });
        }
        if self.warmup.as_secs() > MAX_WARMUP_S {
            return Err(OptionError::Warmup { given: self.warmup.as_secs() });
        }
        if self.cities == 0 || self.cities > CITIES.len() {
            return Err(OptionError::Cities { given: self.cities });
        }
        if !(self.signals_per_s.is_finite() && (0.0..=MAX_SIGNAL_RATE_PER_S).contains(&self.signals_per_s)) {
            return Err(OptionError::Signals { given: self.signals_per_s });
        }
        let cases = self.cases();
        let per_city = cases.div_ceil(self.cities as u64);
        if per_city > u64::from(MAX_CASES_PER_CITY) {
            return Err(OptionError::TooManyCases {
                rate: self.rate,
                warmup: self.warmup.as_secs(),
                duration,
                cities: self.cities,
                cases,
                per_city,
            });
        }
        Ok(())
    }

    /// Cases submitted: warm-up and measured.
    pub fn cases(&self) -> u64 {
        // count_within does not depend on the start; any instant will do.
        Schedule::new(Instant::now(), self.rate).map_or(0, |s| s.count_within(self.warmup + self.duration))
    }
}

impl LoadOptions {
    /// The points to run, in order, after checking every option.
    pub fn points(&self) -> Result<Vec<PointConfig>, OptionError> {
        if self.quiet_wait > MAX_QUIET_WAIT_S {
            return Err(OptionError::QuietWait { given: self.quiet_wait });
        }
        if self.retry_disturbed > MAX_RETRIES {
            return Err(OptionError::Retries { given: self.retry_disturbed });
        }
        if security::validate_rounds(self.rounds).is_err() {
            return Err(OptionError::Rounds { given: self.rounds });
        }
        if self.security == Security::Both && self.sweep {
            return Err(OptionError::SweepBoth);
        }
        if self.security == Security::Both && self.result_json.is_some() {
            return Err(OptionError::ResultJsonBoth);
        }
        let runs = self.security.runs(self.rounds);
        let point = |rate: f64, cities: usize, secure: bool| PointConfig {
            rate,
            cities,
            duration: Duration::from_secs(self.duration),
            warmup: Duration::from_secs(self.warmup),
            seed: self.seed,
            sync_always: self.sync_always,
            secure,
            signals_per_s: self.signals,
        };
        let points: Vec<PointConfig> = if self.sweep {
            if self.rates.is_empty() {
                return Err(OptionError::NoRates);
            }
            if self.cities_list.is_empty() {
                return Err(OptionError::NoCities);
            }
            let count = self.rates.len().saturating_mul(self.cities_list.len());
            if count > MAX_SWEEP_POINTS {
                return Err(OptionError::SweepPoints { given: count });
            }
            let secure = self.security == Security::On;
            self.cities_list
                .iter()
                .flat_map(|&cities| self.rates.iter().map(move |&rate| point(rate, cities, secure)))
                .collect()
        } else {
            runs.into_iter().map(|secure| point(self.rate.unwrap_or(f64::NAN), self.cities, secure)).collect()
        };
        for p in &points {
            p.validate()?;
        }
        Ok(points)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::tests::options;

    #[test]
    fn a_point_runs_warmup_plus_duration_of_cases() {
        let points = options().points().unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].cases(), 5_000);
    }

    #[test]
    fn options_out_of_range_name_their_flag() {
        let cases = [
            (LoadOptions { rate: Some(0.0), ..options() }, "--rate"),
            (LoadOptions { rate: Some(MAX_RATE_PER_S + 1.0), ..options() }, "--rate"),
            (LoadOptions { duration: 0, ..options() }, "--duration"),
            (LoadOptions { duration: MAX_DURATION_S + 1, ..options() }, "--duration"),
            (LoadOptions { warmup: MAX_WARMUP_S + 1, ..options() }, "--warmup"),
            (LoadOptions { cities: 0, ..options() }, "--cities"),
            (LoadOptions { cities: CITIES.len() + 1, ..options() }, "--cities"),
            (LoadOptions { rate: Some(1_000.0), ..options() }, "--rate"),
            (LoadOptions { sweep: true, rates: vec![], ..options() }, "--rates"),
            (LoadOptions { sweep: true, cities_list: vec![], ..options() }, "--cities-list"),
            (LoadOptions { sweep: true, cities_list: vec![1, 99], ..options() }, "--cities"),
            (LoadOptions { sweep: true, rates: vec![1.0; 40], ..options() }, "--rates"),
            (LoadOptions { quiet_wait: MAX_QUIET_WAIT_S + 1, ..options() }, "--quiet-wait"),
            (LoadOptions { retry_disturbed: MAX_RETRIES + 1, ..options() }, "--retry-disturbed"),
            (LoadOptions { rounds: 0, ..options() }, "--rounds"),
            (LoadOptions { signals: -1.0, ..options() }, "--signals"),
            (LoadOptions { signals: MAX_SIGNAL_RATE_PER_S + 1.0, ..options() }, "--signals"),
            (LoadOptions { signals: f64::NAN, ..options() }, "--signals"),
            (LoadOptions { sweep: true, signals: f64::INFINITY, ..options() }, "--signals"),
            (LoadOptions { sweep: true, security: Security::Both, ..options() }, "not a sweep"),
            (LoadOptions { security: Security::Both, result_json: Some("x".into()), ..options() }, "--result-json"),
        ];
        for (options, flag) in cases {
            let error = options.points().unwrap_err().to_string();
            assert!(error.contains(flag), "{error:?} should name {flag}");
        }
    }

    #[test]
    fn both_runs_the_point_insecure_and_secured_alternately() {
        let points = LoadOptions { security: Security::Both, rounds: 2, ..options() }.points().unwrap();
        let secure: Vec<bool> = points.iter().map(|p| p.secure).collect();
        assert_eq!(secure, [false, true, false, true]);
        assert!(points.iter().all(|p| p.rate == 200.0));
        let off = LoadOptions { security: Security::Off, ..options() }.points().unwrap();
        assert_eq!(off.iter().map(|p| p.secure).collect::<Vec<_>>(), [false]);
    }

    #[test]
    fn a_result_without_its_security_reads_as_insecure() {
        let point = &options().points().unwrap()[0];
        assert!(point.secure, "secured by default");
        let mut json = serde_json::to_value(point).unwrap();
        json.as_object_mut().unwrap().remove("secure");
        let old: PointConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old, PointConfig { secure: false, ..point.clone() });
    }

    #[test]
    fn signals_go_to_every_point_and_a_result_without_them_had_none() {
        let both = LoadOptions { security: Security::Both, signals: 10_000.0, ..options() }.points().unwrap();
        assert!(both.iter().all(|p| p.signals_per_s == 10_000.0));
        let sweep = LoadOptions { sweep: true, rate: None, signals: 500.0, ..options() }.points().unwrap();
        assert!(sweep.iter().all(|p| p.signals_per_s == 500.0));
        assert_eq!(options().points().unwrap()[0].signals_per_s, 0.0, "none by default");
        let point = PointConfig { signals_per_s: 10_000.0, ..options().points().unwrap()[0].clone() };
        let mut json = serde_json::to_value(&point).unwrap();
        json.as_object_mut().unwrap().remove("signals_per_s");
        let old: PointConfig = serde_json::from_value(json).unwrap();
        assert_eq!(old, PointConfig { signals_per_s: 0.0, ..point });
    }

    #[test]
    fn a_sweep_walks_rates_for_each_city_count() {
        let points = LoadOptions { sweep: true, rate: None, ..options() }.points().unwrap();
        let grid: Vec<(f64, usize)> = points.iter().map(|p| (p.rate, p.cities)).collect();
        assert_eq!(grid, [(50.0, 1), (100.0, 1), (50.0, 2), (100.0, 2)]);
    }
}
