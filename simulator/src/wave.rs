//! Synthetic crime waves: victims, layered mule trails, the intake reports the victims file,
//! and the ground truth to score the freezing service against.
//!
//! [`generate`] builds a whole [`World`] deterministically from a seed. For each case a
//! victim pays (once or twice, directly or through a payment-platform order) into the first
//! level of a tree of mule accounts; each mule keeps a margin and splits the rest among its
//! children on the next level; leaf mules keep the money or cash it out. All of that happened
//! before the report (at `now_ms - report_delay_ms` and minutes apart after). A share of the
//! last-level forwards has not happened yet: it sits in the world's schedule, racing the
//! freeze. [`single_trail`] is the benchmark's one-case trail ([`SINGLE_TRAIL_DEPTH`] levels,
//! [`SINGLE_TRAIL_ACCOUNTS`] accounts).

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;

use domain::{AccountRef, City, Fen, FraudType, PaymentOrderRef, TimeMs};
use protocol::adapter::Counterparty;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::ledger::LedgerError;
use crate::limits;
use crate::schedule::{ScheduleError, ScheduledTransfer};
use crate::synth::{self, IdFailure, Identity, Ids, Payment};
use crate::world::World;

/// The city the single-trail preset reports in.
const SINGLE_TRAIL_CITY: &str = "hangzhou";

/// Levels of the single trail ([`WaveConfig::single_trail`]): the trail depth the
/// benchmarks measure.
pub const SINGLE_TRAIL_DEPTH: u32 = 4;
/// Mule accounts of the single trail: the stop-payments each case costs.
pub const SINGLE_TRAIL_ACCOUNTS: u32 = 25;
/// Mules on each level of the single trail, level 1 first.
pub const SINGLE_TRAIL_LEVEL_WIDTHS: [u32; SINGLE_TRAIL_DEPTH as usize] = [1, 4, 8, 12];
// The widths add up to the accounts.
const _: () = {
    let (mut level, mut accounts) = (0, 0);
    while level < SINGLE_TRAIL_LEVEL_WIDTHS.len() {
        accounts += SINGLE_TRAIL_LEVEL_WIDTHS[level];
        level += 1;
    }
    assert!(accounts == SINGLE_TRAIL_ACCOUNTS, "the single trail's widths must add up to its accounts");
};

/// Savings a victim has besides what is lost, in yuan.
const VICTIM_SAVINGS_YUAN: Range<u32> = 100..20_000;

/// How long before the first payment the victim's savings were deposited: 30 days.
const SAVINGS_AGE_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Everything that shapes a wave.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveConfig {
    /// Seed of the only random source: the same config gives the same wave.
    pub seed: u64,
    /// Cities whose victims report; cases are generated city by city.
    pub cities: Vec<City>,
    /// Cases (victims, each with a trail of its own) per city.
    pub cases_per_city: u32,
    /// Mule accounts on each level of a trail, level 1 first: `[1, 4, 8, 12]` is 25 accounts
    /// over 4 levels. Every mule has exactly one parent on the level above.
    pub layer_widths: Vec<u32>,
    /// Share of victim payments made through a payment-platform order.
    pub platform_share: f64,
    /// Share of mule-to-mule forwards made through a payment-platform order.
    pub mule_order_share: f64,
    /// A victim's loss, in whole yuan.
    pub amount_yuan: Range<u32>,
    /// Share of what it received that each forwarding mule keeps (0.0 to 1.0).
    pub margin: Range<f64>,
    /// Share of leaf mules that cashed out everything before the report.
    pub cash_out_share: f64,
    /// Delay after the report of the forwards still pending, in ms.
    pub forward_delay_ms: Range<u64>,
    /// Share of last-level forwards still pending at report time, racing the freeze.
    pub pending_share: f64,
    /// Time from the victim's first payment to the report, in ms; the past hops of the trail
    /// are spread over it.
    pub report_delay_ms: u64,
}

impl WaveConfig {
    /// The benchmark's trail: one case in hangzhou, [`SINGLE_TRAIL_DEPTH`] levels of
    /// [`SINGLE_TRAIL_LEVEL_WIDTHS`] mules ([`SINGLE_TRAIL_ACCOUNTS`] accounts), no payment
    /// orders, no cash-out, nothing pending, reported 2 hours after the payment. Raise
    /// `cases_per_city` (or add cities) for many trails of the same shape.
    pub fn single_trail(seed: u64) -> Self {
        WaveConfig {
            seed,
            cities: vec![City::parse(SINGLE_TRAIL_CITY).expect("the preset city is a valid city")],
            cases_per_city: 1,
            layer_widths: SINGLE_TRAIL_LEVEL_WIDTHS.to_vec(),
            platform_share: 0.0,
            mule_order_share: 0.0,
            amount_yuan: 50_000..500_000,
            margin: 0.0..0.3,
            cash_out_share: 0.0,
            forward_delay_ms: 60_000..3_600_000,
            pending_share: 0.0,
            report_delay_ms: 2 * 60 * 60 * 1000,
        }
    }

    /// A realistic wave: the benchmark's trail shape with payment orders, cash-outs and
    /// forwards still pending (5 minutes to 6 hours after the report).
    pub fn typical(seed: u64, cities: Vec<City>, cases_per_city: u32) -> Self {
        WaveConfig {
            cities,
            cases_per_city,
            platform_share: 0.3,
            mule_order_share: 0.1,
            amount_yuan: 5_000..500_000,
            cash_out_share: 0.2,
            forward_delay_ms: 5 * 60_000..6 * 60 * 60_000,
            pending_share: 0.3,
            ..Self::single_trail(seed)
        }
    }

    /// Checks every field against the bounds in [`limits`].
    pub fn validate(&self) -> Result<(), WaveError> {
        if self.cities.is_empty() || self.cities.len() > limits::MAX_WAVE_CITIES {
            return Err(WaveError::Cities { given: self.cities.len(), max: limits::MAX_WAVE_CITIES });
        }
        let distinct: HashSet<&City> = self.cities.iter().collect();
        if distinct.len() != self.cities.len() {
            return Err(WaveError::DuplicateCity);
        }
        if self.cases_per_city == 0 || self.cases_per_city > limits::MAX_CASES_PER_CITY {
            return Err(WaveError::CasesPerCity { given: self.cases_per_city, max: limits::MAX_CASES_PER_CITY });
        }
        if self.layer_widths.is_empty() || self.layer_widths.len() > limits::MAX_TRAIL_LEVELS {
            return Err(WaveError::Levels { given: self.layer_widths.len(), max: limits::MAX_TRAIL_LEVELS });
        }
        if let Some((level, &width)) =
            self.layer_widths.iter().enumerate().find(|(_, w)| **w == 0 || **w > limits::MAX_LAYER_WIDTH)
        {
            return Err(WaveError::LayerWidth { level: level + 1, width, max: limits::MAX_LAYER_WIDTH });
        }
        let per_case: u64 = self.layer_widths.iter().map(|w| u64::from(*w)).sum::<u64>() + 1;
        let cities = u64::try_from(self.cities.len()).unwrap_or(u64::MAX);
        let accounts = per_case.saturating_mul(u64::from(self.cases_per_city)).saturating_mul(cities);
        if accounts > limits::MAX_WAVE_ACCOUNTS {
            return Err(WaveError::TooManyAccounts { accounts, max: limits::MAX_WAVE_ACCOUNTS });
        }
        for (field, share) in [
            ("platform_share", self.platform_share),
            ("mule_order_share", self.mule_order_share),
            ("cash_out_share", self.cash_out_share),
            ("pending_share", self.pending_share),
        ] {
            check_share(field, share)?;
        }
        check_share("margin.start", self.margin.start)?;
        check_share("margin.end", self.margin.end)?;
        if self.margin.start > self.margin.end {
            return Err(WaveError::Range { field: "margin" });
        }
        if self.amount_yuan.start == 0
            || self.amount_yuan.start >= self.amount_yuan.end
            || self.amount_yuan.end > limits::MAX_LOSS_YUAN
        {
            return Err(WaveError::Range { field: "amount_yuan" });
        }
        if self.forward_delay_ms.start > self.forward_delay_ms.end
            || self.forward_delay_ms.end > limits::MAX_FORWARD_DELAY_MS
        {
            return Err(WaveError::Range { field: "forward_delay_ms" });
        }
        if self.report_delay_ms < limits::MIN_REPORT_DELAY_MS {
            return Err(WaveError::ReportDelay { given: self.report_delay_ms, min: limits::MIN_REPORT_DELAY_MS });
        }
        Ok(())
    }
}

fn check_share(field: &'static str, value: f64) -> Result<(), WaveError> {
    if (0.0..=1.0).contains(&value) { Ok(()) } else { Err(WaveError::Share { field, value }) }
}

/// Why a wave could not be generated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WaveError {
    /// No cities, or too many.
    #[error("{given} cities given, expected 1 to {max}")]
    Cities {
        /// Cities given.
        given: usize,
        /// The bound.
        max: usize,
    },
    /// A city is listed twice.
    #[error("a city is listed twice")]
    DuplicateCity,
    /// No cases, or too many.
    #[error("{given} cases per city, expected 1 to {max}")]
    CasesPerCity {
        /// Cases given.
        given: u32,
        /// The bound.
        max: u32,
    },
    /// No levels, or too many.
    #[error("{given} trail levels, expected 1 to {max}")]
    Levels {
        /// Levels given.
        given: usize,
        /// The bound.
        max: usize,
    },
    /// A level with no accounts or too many.
    #[error("level {level} has {width} accounts, expected 1 to {max}")]
    LayerWidth {
        /// The level, 1 first.
        level: usize,
        /// Its width.
        width: u32,
        /// The bound.
        max: u32,
    },
    /// The whole wave would have too many accounts.
    #[error("the wave would open {accounts} accounts, at most {max}")]
    TooManyAccounts {
        /// Accounts the wave would open.
        accounts: u64,
        /// The bound.
        max: u64,
    },
    /// A share outside 0.0 to 1.0.
    #[error("{field} is {value}, expected 0.0 to 1.0")]
    Share {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// An empty, reversed or too large range.
    #[error("{field} is empty, reversed or out of bounds")]
    Range {
        /// The field.
        field: &'static str,
    },
    /// The report comes too soon after the payment for the trail to have moved.
    #[error("report_delay_ms is {given}, at least {min}")]
    ReportDelay {
        /// Delay given.
        given: u64,
        /// The bound.
        min: u64,
    },
    /// No unused account number or order id was found.
    #[error("no unused {0} found")]
    IdsExhausted(&'static str),
    /// The ledger refused a generated transfer: a bug in the generator.
    #[error("generated transfer refused: {0}")]
    Ledger(#[from] LedgerError),
    /// An amount overflowed: the config's amounts are far too large.
    #[error(transparent)]
    Money(#[from] domain::MoneyError),
    /// The schedule refused a pending transfer.
    #[error("pending transfer refused: {0}")]
    Schedule(#[from] ScheduleError),
}

/// A generated wave.
#[derive(Debug, Clone)]
pub struct Wave {
    /// The world at report time, with the pending forwards in its schedule.
    pub world: World,
    /// The report of each case, city by city.
    pub reports: Vec<WaveReport>,
    /// The time the victims report at.
    pub now_ms: TimeMs,
}

impl WaveError {
    fn from_id(failure: IdFailure) -> Self {
        match failure {
            IdFailure::Exhausted(what) => WaveError::IdsExhausted(what),
            IdFailure::Ledger(error) => WaveError::Ledger(error),
        }
    }
}

impl Wave {
    /// All victims' losses together.
    pub fn total_loss(&self) -> Result<Fen, domain::MoneyError> {
        Fen::sum(self.reports.iter().map(|r| r.truth.loss))
    }
}

/// One victim's report and what really happened to the money.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveReport {
    /// The center the victim reports to.
    pub city: City,
    /// The intake report body (`afc.<city>.cmd.intake.report`).
    pub body: Value,
    /// Ground truth.
    pub truth: CaseTruth,
}

/// What really happened to one victim's money, at report time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseTruth {
    /// The victim's own account (not part of the trail).
    pub victim_account: AccountRef,
    /// The fraud type reported.
    pub fraud_type: FraudType,
    /// What the victim paid into the trail: the sum of the report's transfers.
    pub loss: Fen,
    /// Mule accounts that hold the victim's money at report time, with the amount. Mule
    /// accounts hold nothing else, so this is their balance.
    pub holdings: BTreeMap<AccountRef, Fen>,
    /// The victim's money cashed out before the report: gone.
    pub cashed_out: Fen,
    /// Every mule account of the trail, with its level (1 = the victim paid into it).
    pub mules: BTreeMap<AccountRef, u8>,
    /// Every payment order in the trail (the victim's and the mules').
    pub orders: Vec<PaymentOrderRef>,
    /// Forwards that will happen after the report unless the paying account is held.
    pub pending: Vec<ScheduledTransfer>,
}

impl CaseTruth {
    /// The money still in the trail at report time: what a perfect freeze saves.
    pub fn recoverable(&self) -> Result<Fen, domain::MoneyError> {
        Fen::sum(self.holdings.values().copied())
    }
}

/// Generates a wave reported at `now_ms`. The same config and time give the same wave.
pub fn generate(cfg: &WaveConfig, now_ms: TimeMs) -> Result<Wave, WaveError> {
    cfg.validate()?;
    let mut generator = Generator {
        cfg,
        now_ms,
        rng: StdRng::seed_from_u64(cfg.seed),
        world: World::new(synth::banks(), synth::platforms()),
        ids: Ids::default(),
    };
    let mut reports = Vec::new();
    for city in &cfg.cities {
        for _ in 0..cfg.cases_per_city {
            reports.push(generator.case(city)?);
        }
    }
    generator.world.ledger.check_conservation()?;
    Ok(Wave { world: generator.world, reports, now_ms })
}

/// The benchmark's single trail ([`WaveConfig::single_trail`]) reported at `now_ms`.
pub fn single_trail(seed: u64, now_ms: TimeMs) -> Wave {
    generate(&WaveConfig::single_trail(seed), now_ms).expect("the single-trail preset is a valid config")
}

struct Generator<'a> {
    cfg: &'a WaveConfig,
    now_ms: TimeMs,
    rng: StdRng,
    world: World,
    ids: Ids,
}

impl Generator<'_> {
    fn case(&mut self, city: &City) -> Result<WaveReport, WaveError> {
        let cfg = self.cfg;
        let levels = cfg.layer_widths.len();
        let fraud_type = FraudType::ALL[self.rng.random_range(0..FraudType::ALL.len())];
        let loss = Fen::yuan(self.rng.random_range(cfg.amount_yuan.clone()));
        let start = self.now_ms.saturating_sub(cfg.report_delay_ms);
        // Level k forwards in slot k; the victim pays in slot 0. Jitter stays under half a
        // slot, so every hop is after the one feeding it and before the report.
        let slot_ms = cfg.report_delay_ms / (levels as u64 + 1);
        let slot_time = |k: usize, rng: &mut StdRng| start + k as u64 * slot_ms + rng.random_range(0..slot_ms / 2);

        let victim = self.open_account()?;
        let savings = Fen::yuan(self.rng.random_range(VICTIM_SAVINGS_YUAN));
        self.world.ledger.deposit(&victim, loss.checked_add(savings)?, start.saturating_sub(SAVINGS_AGE_MS))?;

        // The trail: levels[k][i] with parent[k][i] its parent's index on level k - 1.
        let mut trail: Vec<Vec<AccountRef>> = Vec::with_capacity(levels);
        let mut parents: Vec<Vec<usize>> = Vec::with_capacity(levels);
        let mut mules = BTreeMap::new();
        for (k, &width) in cfg.layer_widths.iter().enumerate() {
            let mut level = Vec::new();
            for _ in 0..width {
                let account = self.open_account()?;
                mules.insert(account.clone(), u8::try_from(k + 1).unwrap_or(u8::MAX));
                level.push(account);
            }
            let above = if k == 0 { 0 } else { trail[k - 1].len() };
            parents.push(self.assign_parents(above, level.len()));
            trail.push(level);
        }
        let mut orders = Vec::new();

        // The victim's payments, one per level-1 mule at least.
        let first = &trail[0];
        let count = self.rng.random_range(limits::MIN_VICTIM_PAYMENTS..=limits::MAX_VICTIM_PAYMENTS).max(first.len());
        let amounts = self.split(loss, count);
        let mut times: Vec<TimeMs> = (0..count).map(|_| slot_time(0, &mut self.rng)).collect();
        times.sort_unstable();
        let mut payments = Vec::new();
        for (i, (amount, at_ms)) in amounts.into_iter().zip(times).enumerate() {
            if amount.is_zero() {
                continue;
            }
            let target = first[i % first.len()].clone();
            let share = cfg.platform_share;
            let to = self.destination(target, share, &mut orders)?;
            self.world.ledger.transfer(&victim, &to, amount, at_ms)?;
            payments.push(Payment { to, amount, at_ms, from: victim.clone() });
        }

        // Down the levels: keep a margin, split the rest among the children; leaves keep
        // the money or cash it out.
        let mut cashed_out = Fen::ZERO;
        let mut pending = Vec::new();
        for k in 0..levels {
            for (i, mule) in trail[k].iter().enumerate() {
                let received = self.world.ledger.balance(mule).unwrap_or(Fen::ZERO);
                if received.is_zero() {
                    continue;
                }
                let at_ms = slot_time(k + 1, &mut self.rng);
                let children: Vec<AccountRef> = match parents.get(k + 1) {
                    Some(of) => {
                        of.iter().zip(&trail[k + 1]).filter(|(p, _)| **p == i).map(|(_, c)| c.clone()).collect()
                    }
                    None => Vec::new(),
                };
                if children.is_empty() {
                    if self.rng.random_bool(cfg.cash_out_share) {
                        let to = Counterparty::CashOut(format!("ATM withdrawal {}", mule.bank()));
                        self.world.ledger.transfer(mule, &to, received, at_ms)?;
                        cashed_out = cashed_out.checked_add(received)?;
                    }
                    continue;
                }
                let margin = self.sample_share(&cfg.margin);
                let keep = Fen::new((received.get() as f64 * margin).floor() as u64).min(received);
                let forward = received.checked_sub(keep)?;
                let parts = self.split(forward, children.len());
                let last_hop = k + 2 == levels;
                for (n, (child, amount)) in children.into_iter().zip(parts).enumerate() {
                    if amount.is_zero() {
                        continue;
                    }
                    let to = self.destination(child, cfg.mule_order_share, &mut orders)?;
                    if last_hop && self.rng.random_bool(cfg.pending_share) {
                        let delay = self.sample_delay();
                        let transfer = ScheduledTransfer {
                            due_at_ms: self.now_ms.saturating_add(delay),
                            from: mule.clone(),
                            to,
                            amount,
                        };
                        self.world.schedule.push(transfer.clone())?;
                        pending.push(transfer);
                    } else {
                        self.world.ledger.transfer(mule, &to, amount, at_ms + n as u64)?;
                    }
                }
            }
        }

        let holdings: BTreeMap<AccountRef, Fen> = mules
            .keys()
            .filter_map(|m| self.world.ledger.balance(m).filter(|b| !b.is_zero()).map(|b| (m.clone(), b)))
            .collect();
        let truth = CaseTruth {
            victim_account: victim,
            fraud_type,
            loss: Fen::sum(payments.iter().map(|p| p.amount))?,
            holdings,
            cashed_out,
            mules,
            orders,
            pending,
        };
        let body = self.report_body(city, fraud_type, &payments);
        Ok(WaveReport { city: city.clone(), body, truth })
    }

    /// For each of `width` children, the index of its parent among `above` accounts: every
    /// parent gets a child while there are enough children, the rest go to random parents.
    fn assign_parents(&mut self, above: usize, width: usize) -> Vec<usize> {
        if above == 0 {
            return vec![0; width];
        }
        let mut order: Vec<usize> = (0..above).collect();
        order.shuffle(&mut self.rng);
        (0..width).map(|j| if j < above { order[j] } else { self.rng.random_range(0..above) }).collect()
    }

    /// `to` directly, or through a new payment order into it with probability `share`.
    fn destination(
        &mut self,
        to: AccountRef,
        share: f64,
        orders: &mut Vec<PaymentOrderRef>,
    ) -> Result<Counterparty, WaveError> {
        if !self.rng.random_bool(share) {
            return Ok(Counterparty::Account(to));
        }
        let order = self.new_order_ref()?;
        self.world.ledger.create_order(order.clone(), to)?;
        orders.push(order.clone());
        Ok(Counterparty::Order(order))
    }

    /// Splits `total` into `n` random parts that add up to it (see [`synth::split`]).
    fn split(&mut self, total: Fen, n: usize) -> Vec<Fen> {
        synth::split(&mut self.rng, total, n)
    }

    fn sample_share(&mut self, range: &Range<f64>) -> f64 {
        if range.start < range.end { self.rng.random_range(range.clone()) } else { range.start }
    }

    fn sample_delay(&mut self) -> u64 {
        let range = &self.cfg.forward_delay_ms;
        if range.start < range.end { self.rng.random_range(range.clone()) } else { range.start }
    }

    /// Opens an account with a fresh 16-19 digit number at a random bank.
    fn open_account(&mut self) -> Result<AccountRef, WaveError> {
        self.ids.open_account(&mut self.rng, &mut self.world.ledger).map_err(WaveError::from_id)
    }

    /// A fresh order id in the style of the platform.
    fn new_order_ref(&mut self) -> Result<PaymentOrderRef, WaveError> {
        self.ids.new_order_ref(&mut self.rng).map_err(WaveError::from_id)
    }

    fn report_body(&mut self, city: &City, fraud_type: FraudType, payments: &[Payment]) -> Value {
        let victim = Identity::draw(&mut self.rng, city);
        let contacts = synth::contacts(&mut self.rng);
        synth::report_body(&victim, fraud_type, payments, contacts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: TimeMs = 1_763_700_000_000;

    fn cities(names: &[&str]) -> Vec<City> {
        names.iter().map(|n| City::parse(n).unwrap()).collect()
    }

    fn typical() -> WaveConfig {
        WaveConfig::typical(42, cities(&["hangzhou", "ningbo", "wenzhou"]), 5)
    }

    /// Everything observable about a wave, for comparing two of them.
    fn fingerprint(wave: &Wave) -> (Vec<Value>, Vec<(AccountRef, Fen, usize)>, usize) {
        let ledger = &wave.world.ledger;
        let accounts = ledger
            .accounts()
            .map(|a| (a.clone(), ledger.balance(a).unwrap(), ledger.statement(a).unwrap().len()))
            .collect();
        (wave.reports.iter().map(|r| r.body.clone()).collect(), accounts, wave.world.schedule.pending_len())
    }

    #[test]
    fn the_same_seed_gives_the_same_wave() {
        let a = generate(&typical(), NOW).unwrap();
        let b = generate(&typical(), NOW).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_eq!(a.reports, b.reports);
        let c = generate(&WaveConfig { seed: 43, ..typical() }, NOW).unwrap();
        assert_ne!(fingerprint(&a).0, fingerprint(&c).0);
    }

    #[test]
    fn money_is_conserved() {
        let wave = generate(&typical(), NOW).unwrap();
        wave.world.ledger.check_conservation().unwrap();
        assert_eq!(wave.reports.len(), 15);
    }

    #[test]
    fn the_single_trail_has_its_depth_and_accounts() {
        let wave = single_trail(7, NOW);
        assert_eq!(wave.reports.len(), 1);
        let truth = &wave.reports[0].truth;
        assert_eq!(truth.mules.len(), SINGLE_TRAIL_ACCOUNTS as usize);
        let mut per_level = [0; SINGLE_TRAIL_DEPTH as usize];
        for level in truth.mules.values() {
            per_level[usize::from(*level) - 1] += 1;
        }
        assert_eq!(per_level, SINGLE_TRAIL_LEVEL_WIDTHS);
        assert!(truth.pending.is_empty());
        assert_eq!(truth.cashed_out, Fen::ZERO);
        assert!(truth.orders.is_empty());
        // Every mule got money, and every level-4 mule holds some.
        for (mule, level) in &truth.mules {
            let statement = wave.world.ledger.statement(mule).unwrap();
            assert!(!statement.is_empty(), "{mule} got nothing");
            if u32::from(*level) == SINGLE_TRAIL_DEPTH {
                assert!(truth.holdings.contains_key(mule));
            }
        }
        // Victim account plus the mules.
        assert_eq!(wave.world.ledger.accounts().count(), SINGLE_TRAIL_ACCOUNTS as usize + 1);
        assert_eq!(truth.recoverable().unwrap(), truth.loss);
        for number in wave.world.ledger.accounts().map(AccountRef::number) {
            assert!((16..=19).contains(&number.len()), "{number}");
        }
    }

    #[test]
    fn many_single_trails_have_the_same_shape() {
        let cfg = WaveConfig { cases_per_city: 20, ..WaveConfig::single_trail(3) };
        let wave = generate(&cfg, NOW).unwrap();
        assert_eq!(wave.reports.len(), 20);
        assert!(wave.reports.iter().all(|r| r.truth.mules.len() == SINGLE_TRAIL_ACCOUNTS as usize));
        assert_eq!(wave.world.ledger.accounts().count(), 20 * (SINGLE_TRAIL_ACCOUNTS as usize + 1));
    }

    #[test]
    fn truth_adds_up_to_the_loss() {
        let wave = generate(&typical(), NOW).unwrap();
        let mut pending_seen = false;
        let mut cashed_seen = false;
        for report in &wave.reports {
            let truth = &report.truth;
            let held = truth.recoverable().unwrap();
            assert_eq!(held.checked_add(truth.cashed_out).unwrap(), truth.loss);
            let reported: u64 =
                report.body["transfers"].as_array().unwrap().iter().map(|t| t["amount_fen"].as_u64().unwrap()).sum();
            assert_eq!(Fen::new(reported), truth.loss);
            for account in truth.holdings.keys() {
                assert!(truth.mules.contains_key(account));
            }
            pending_seen |= !truth.pending.is_empty();
            cashed_seen |= !truth.cashed_out.is_zero();
            // Every past hop happened before the report; pending ones after.
            for mule in truth.mules.keys() {
                assert!(wave.world.ledger.statement(mule).unwrap().iter().all(|e| e.at_ms < NOW));
            }
            assert!(truth.pending.iter().all(|p| p.due_at_ms >= NOW));
        }
        assert!(pending_seen && cashed_seen);
    }

    #[test]
    fn report_bodies_have_the_intake_format() {
        let wave = generate(&typical(), NOW).unwrap();
        let mut orders_seen = false;
        for report in &wave.reports {
            let body = &report.body;
            let id = body["victim"]["id_number"].as_str().unwrap();
            assert_eq!(id.len(), 18);
            assert!(id.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(synth::id_check_digit(&id[..17]), id.chars().last());
            let phone = body["victim"]["phone"].as_str().unwrap();
            assert!(phone.len() == 11 && phone.bytes().all(|b| b.is_ascii_digit()));
            assert!(FraudType::parse(body["fraud_type"].as_str().unwrap()).is_ok());
            for transfer in body["transfers"].as_array().unwrap() {
                if let Some(order) = transfer["order"].as_str() {
                    orders_seen = true;
                    let order = PaymentOrderRef::parse(order).unwrap();
                    // The victim names no paying account; the platform names it.
                    assert!(transfer.get("from_account").is_none());
                    let asked = protocol::adapter::ResolveOrderRequest { request_id: "t".into(), order };
                    let resolved = wave.world.ledger.resolve(&asked).unwrap();
                    assert_eq!(resolved.payer.as_ref().map(|p| p.expose()), Some(&report.truth.victim_account));
                } else {
                    assert!(AccountRef::parse(transfer["account"].as_str().unwrap()).is_ok());
                    // The victim's own account, the one that paid.
                    assert_eq!(transfer["from_account"].as_str(), Some(report.truth.victim_account.as_str()));
                }
                assert!(transfer["at_ms"].as_u64().unwrap() < NOW);
            }
            for kind in ["phones", "urls", "apps", "social"] {
                assert!(body["contacts"][kind].is_array());
            }
        }
        assert!(orders_seen);
    }

    #[test]
    fn pending_forwards_race_the_freeze() {
        let mut wave = generate(&typical(), NOW).unwrap();
        let pending: Fen =
            Fen::sum(wave.reports.iter().flat_map(|r| r.truth.pending.iter().map(|p| p.amount))).unwrap();
        assert!(!pending.is_zero());
        let outcomes = wave.world.execute_due(NOW + limits::MAX_FORWARD_DELAY_MS);
        assert!(outcomes.iter().all(|o| matches!(o, crate::Outcome::Executed { .. })), "{outcomes:?}");
        assert_eq!(wave.world.schedule.totals().executed_fen, pending);
        wave.world.ledger.check_conservation().unwrap();
    }

    #[test]
    fn invalid_configs_are_refused() {
        let base = typical();
        let cases = [
            WaveConfig { cities: vec![], ..base.clone() },
            WaveConfig { cases_per_city: 0, ..base.clone() },
            WaveConfig { layer_widths: vec![], ..base.clone() },
            WaveConfig { layer_widths: vec![1, 0], ..base.clone() },
            WaveConfig { platform_share: 1.5, ..base.clone() },
            WaveConfig { margin: 0.5..0.2, ..base.clone() },
            WaveConfig { amount_yuan: 10..10, ..base.clone() },
            WaveConfig { report_delay_ms: 10, ..base.clone() },
            WaveConfig { cities: cities(&["hangzhou", "hangzhou"]), ..base.clone() },
        ];
        for cfg in cases {
            assert!(generate(&cfg, NOW).is_err(), "{cfg:?} accepted");
        }
    }
}
