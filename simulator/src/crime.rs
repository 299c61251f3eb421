//! World generation: from a [`Scenario`] to a [`Script`], deterministically from its seed.
//!
//! The script is a plan with no intervention in it. Each gang opens mule networks of its
//! typology and its victims pay into them over the scenario's duration; every mule keeps a
//! margin of what it receives and forwards the rest after a random delay, and leaf mules
//! cash out or keep the money. Every one of those transfers (victim payments, mule forwards,
//! cash-outs) is in the world's [`Schedule`](crate::Schedule) with its due time and a fixed
//! amount. When the runner plays the script, a transfer out of an account stopped or frozen
//! by then is dropped, and transfers further down that lack the balance fail: that is how
//! freezing saves money. The victims' reports come at their own due times
//! ([`Script::reports`]).
//!
//! Randomness: each gang draws from its own generator seeded from the scenario's seed and
//! the gang's position, and each person's identity from one seeded from the city and the
//! person's number, so adding a gang at the end of a file leaves the others' worlds as they
//! were (unless an account number happens to collide).
//!
//! Networks are layered: money only moves from one level to the next, so the money of one
//! payment is followed level by level; an account that receives several parts of one
//! payment on one level gathers them and forwards once, after the last part arrived.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, City, Fen, FraudType, MoneyError, PaymentOrderRef, TimeMs};
use protocol::adapter::Counterparty;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::ledger::LedgerError;
use crate::limits;
use crate::scenario::{GangSpec, LogNormal, Scenario, Span, Typology};
use crate::schedule::{ScheduleError, ScheduledTransfer};
use crate::synth::{self, IdFailure, Identity, Ids, Payment};
use crate::world::World;

/// Savings a victim has besides what is lost, in yuan.
const VICTIM_SAVINGS_YUAN: std::ops::RangeInclusive<u32> = 100..=20_000;

/// How long before the scenario's start the victims' savings were deposited: 30 days.
const SAVINGS_AGE_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Most of a gang's phone numbers, and of its sites, one report names.
const CONTACTS_PER_REPORT: u32 = 2;

/// The hosts of a gang's sites, by the scam they serve.
fn site_host(fraud_type: FraudType) -> &'static str {
    match fraud_type {
        FraudType::OnlineLoan => "daikuan",
        FraudType::OrderBrushing => "jianzhi",
        FraudType::FakeCustomerService => "kefu",
        FraudType::PigButchering => "licai",
        FraudType::ImpersonatingAuthorities => "anquan-zhanghu",
        FraudType::StockTips => "gupiao",
        FraudType::FakeEcommerce => "shop",
        FraudType::LuxuryBait => "mingpin",
    }
}

/// Why a script could not be generated from a valid scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// No unused account number or order id was drawn.
    #[error("no unused {0} found")]
    IdsExhausted(&'static str),
    /// A city has no person left who was not already a victim.
    #[error("city {city} has no person left to be a victim (population {population})")]
    PopulationExhausted {
        /// The city.
        city: City,
        /// Its population.
        population: u64,
    },
    /// The ledger refused a generated account, order or deposit: a bug in the generator.
    #[error("generated world refused by the ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// An amount overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// The schedule refused a transfer (it is full).
    #[error("scheduled transfer refused: {0}")]
    Schedule(#[from] ScheduleError),
}

impl ScriptError {
    fn from_id(failure: IdFailure) -> Self {
        match failure {
            IdFailure::Exhausted(what) => ScriptError::IdsExhausted(what),
            IdFailure::Ledger(error) => ScriptError::Ledger(error),
        }
    }
}

/// A payment a victim makes into a gang's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VictimPayment {
    /// The mule account, or the payment order into it.
    pub to: Counterparty,
    /// How much.
    pub amount: Fen,
    /// When (the schedule books it then).
    pub at_ms: TimeMs,
}

/// What the script knows about one case (one victim and one report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseInfo {
    /// The case's number: its report's position in [`Script::reports`].
    pub case: usize,
    /// The gang's position in the scenario (and in [`Script::gangs`]).
    pub gang: usize,
    /// Which of the gang's networks the victim paid into.
    pub network: usize,
    /// The scam.
    pub fraud_type: FraudType,
    /// The typology of the network.
    pub typology: Typology,
    /// The city the victim lives and reports in.
    pub city: City,
    /// The victim's own account (the source of the case's money).
    pub victim_account: AccountRef,
    /// Everything the victim pays: the sum of the payments, the loss the report states.
    pub loss: Fen,
    /// The victim's payments, in time order (the report lists them).
    pub payments: Vec<VictimPayment>,
    /// When the victim reports.
    pub report_at_ms: TimeMs,
    /// Mule accounts the plan moves this victim's money through, with the depth at which it
    /// first arrives: 1 = paid by the victim, and one more than the paying account's depth
    /// after that (the rule of [`crate::truth`]; a cycle's exits, paid by the ring's first
    /// account, are at depth 2). Where several victims' money mixes in one account,
    /// pro-rata attribution may also find it in accounts not listed here.
    pub mules: BTreeMap<AccountRef, u8>,
    /// Payment orders the plan pays this victim's money through (the victim's and the
    /// mules').
    pub orders: Vec<PaymentOrderRef>,
}

/// A report the runner files at `due_at_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedReport {
    /// When the victim reports.
    pub due_at_ms: TimeMs,
    /// The center the victim reports to.
    pub city: City,
    /// The intake report body (`afc.<city>.cmd.intake.report`), as a victim files it.
    pub body: Value,
    /// What the script knows about the case.
    pub case: CaseInfo,
}

/// A gang as generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GangInfo {
    /// Its label.
    pub name: String,
    /// The scam it runs.
    pub fraud_type: FraudType,
    /// The shape of its networks.
    pub typology: Typology,
    /// Where its victims live.
    pub cities: Vec<City>,
    /// Its phone numbers (`+86170…`); its victims' reports name some of them.
    pub phones: Vec<String>,
    /// Its websites; its victims' reports name some of them.
    pub sites: Vec<String>,
    /// The mule accounts of each of its networks, in network order.
    pub networks: Vec<Vec<AccountRef>>,
}

/// A generated crime wave: the world at the scenario's start with every transfer of the
/// plan scheduled, and the reports to file.
#[derive(Debug, Clone)]
pub struct Script {
    /// The scenario's name.
    pub name: String,
    /// The seed it was generated from.
    pub seed: u64,
    /// The scenario file's hash ([`Scenario::hash`]).
    pub scenario_hash: u64,
    /// Accounts opened, victims' savings deposited (before `origin_ms`), payment orders
    /// created, and every transfer of the plan in `world.schedule`.
    pub world: World,
    /// Reports in due order (ties in generation order); `reports[i].case.case == i`.
    pub reports: Vec<ScriptedReport>,
    /// The gangs, in scenario order.
    pub gangs: Vec<GangInfo>,
    /// The scenario's start: nothing in the plan happens before it.
    pub origin_ms: TimeMs,
    /// The end of the scenario's duration: no victim pays for the first time after it.
    pub end_ms: TimeMs,
    /// The last moment anything is planned for (a transfer or a report), at or after
    /// `end_ms` when late reports or forwards spill over.
    pub horizon_ms: TimeMs,
    /// Every payment order of the plan and the account it settles into.
    pub orders: BTreeMap<PaymentOrderRef, AccountRef>,
}

impl Script {
    /// Everything the victims lose together.
    pub fn total_loss(&self) -> Result<Fen, MoneyError> {
        Fen::sum(self.reports.iter().map(|r| r.case.loss))
    }

    /// Mule accounts of all gangs.
    pub fn mule_accounts(&self) -> usize {
        self.gangs.iter().flat_map(|g| &g.networks).map(Vec::len).sum()
    }

    /// A stable digest of the whole script: the reports, every account's balance and
    /// statement, and every scheduled transfer. Two scripts from one scenario and seed have
    /// the same fingerprint.
    pub fn fingerprint(&self) -> u64 {
        let mut text = format!("{}|{}|{}|{}|{}\n", self.seed, self.origin_ms, self.end_ms, self.horizon_ms, self.name);
        for report in &self.reports {
            text.push_str(&format!("{}|{}|{}|{:?}\n", report.due_at_ms, report.city, report.body, report.case));
        }
        let ledger = &self.world.ledger;
        for account in ledger.accounts() {
            text.push_str(&format!("{account}|{:?}|{:?}\n", ledger.balance(account), ledger.statement(account)));
        }
        for transfer in self.world.schedule.pending() {
            text.push_str(&format!("{transfer:?}\n"));
        }
        domain::fnv1a64(text.as_bytes())
    }
}

/// Generates the script of a scenario. The same scenario (and seed) gives the same script.
pub fn generate_script(scenario: &Scenario) -> Result<Script, ScriptError> {
    let mut generator = Generator {
        scenario,
        world: World::new(synth::banks(), synth::platforms()),
        ids: Ids::default(),
        people: BTreeMap::new(),
        scam_phones: BTreeSet::new(),
        orders: BTreeMap::new(),
        drafts: Vec::new(),
        horizon_ms: scenario.end_ms(),
    };
    let mut gangs = Vec::with_capacity(scenario.gangs.len());
    for (index, gang) in scenario.gangs.iter().enumerate() {
        gangs.push(generator.gang(index, gang)?);
    }
    generator.world.ledger.check_conservation()?;

    let Generator { world, orders, mut drafts, horizon_ms, .. } = generator;
    // Stable: ties keep generation order.
    drafts.sort_by_key(|draft| draft.case.report_at_ms);
    let reports = drafts
        .into_iter()
        .enumerate()
        .map(|(case, mut draft)| {
            draft.case.case = case;
            ScriptedReport {
                due_at_ms: draft.case.report_at_ms,
                city: draft.case.city.clone(),
                body: draft.body,
                case: draft.case,
            }
        })
        .collect();
    Ok(Script {
        name: scenario.name.clone(),
        seed: scenario.seed,
        scenario_hash: scenario.hash,
        world,
        reports,
        gangs,
        origin_ms: scenario.start_ms,
        end_ms: scenario.end_ms(),
        horizon_ms,
        orders,
    })
}

/// A random generator for one part of the world, seeded from the scenario's seed, a tag and
/// an index.
fn sub_rng(seed: u64, tag: &str, index: u64) -> StdRng {
    let mut bytes = seed.to_le_bytes().to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes.extend_from_slice(&index.to_le_bytes());
    StdRng::seed_from_u64(domain::fnv1a64(&bytes))
}

/// A standard normal deviate (Box-Muller).
fn standard_normal(rng: &mut StdRng) -> f64 {
    // 1 - [0, 1) is (0, 1]: the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn draw_log_normal(rng: &mut StdRng, spread: &LogNormal) -> f64 {
    spread.at(standard_normal(rng))
}

fn draw_u32(rng: &mut StdRng, span: Span<u32>) -> u32 {
    rng.random_range(span.min..=span.max)
}

fn draw_u64(rng: &mut StdRng, span: Span<u64>) -> u64 {
    rng.random_range(span.min..=span.max)
}

fn draw_f64(rng: &mut StdRng, span: Span<f64>) -> f64 {
    if span.min < span.max { rng.random_range(span.min..=span.max) } else { span.min }
}

/// A case before reports are put in due order.
struct Draft {
    case: CaseInfo,
    body: Value,
}

/// A mule account of a network.
struct Mule {
    account: AccountRef,
    /// Share of each receipt it keeps when it forwards.
    margin: f64,
    /// Whether it cashes out what it receives when it has nobody to forward to.
    cashes_out: bool,
}

/// A place of an account in a network: the same account may have several (a cycle passes
/// through its first account twice).
struct Node {
    /// Index into the network's mules.
    mule: usize,
    /// Nodes on the next level it forwards to.
    children: Vec<usize>,
    /// Whether its forwards always go through a payment order (a cycle's ring).
    through_orders: bool,
}

/// A gang's mule network.
struct Network {
    mules: Vec<Mule>,
    nodes: Vec<Node>,
    /// Nodes victims pay into.
    entries: Vec<usize>,
}

struct Generator<'a> {
    scenario: &'a Scenario,
    world: World,
    ids: Ids,
    /// Numbers of the people of each city who already were victims.
    people: BTreeMap<City, BTreeSet<u64>>,
    scam_phones: BTreeSet<String>,
    orders: BTreeMap<PaymentOrderRef, AccountRef>,
    drafts: Vec<Draft>,
    horizon_ms: TimeMs,
}

impl Generator<'_> {
    fn gang(&mut self, index: usize, gang: &GangSpec) -> Result<GangInfo, ScriptError> {
        let scenario = self.scenario;
        let mut rng = sub_rng(scenario.seed, "gang", index as u64);
        let phone_count = draw_u32(&mut rng, gang.phones);
        let phones = self.scam_phones(&mut rng, phone_count)?;
        let host = site_host(gang.fraud_type);
        let sites: Vec<String> = (0..draw_u32(&mut rng, gang.sites))
            .map(|_| format!("https://{host}{}.example.cn/", synth::digits(&mut rng, 3)))
            .collect();

        // Victims in order of their first payment; consecutive victims share a network.
        let mut firsts: Vec<TimeMs> = (0..gang.victims)
            .map(|_| {
                scenario.start_ms + rng.random_range(gang.active_ms.min..gang.active_ms.max.max(gang.active_ms.min + 1))
            })
            .collect();
        firsts.sort_unstable();
        let mut networks = Vec::new();
        for (n, chunk) in firsts.chunks(gang.victims_per_network as usize).enumerate() {
            let network = self.network(&mut rng, gang)?;
            networks.push(network.mules.iter().map(|m| m.account.clone()).collect());
            for &first_ms in chunk {
                let draft = self.victim(&mut rng, index, n, gang, &network, first_ms, &phones, &sites)?;
                self.drafts.push(draft);
            }
        }
        Ok(GangInfo {
            name: gang.name.clone(),
            fraud_type: gang.fraud_type,
            typology: gang.typology,
            cities: gang.cities.clone(),
            phones,
            sites,
            networks,
        })
    }

    /// `count` phone numbers no other gang uses.
    fn scam_phones(&mut self, rng: &mut StdRng, count: u32) -> Result<Vec<String>, ScriptError> {
        let mut phones = Vec::new();
        for _ in 0..count {
            let fresh = (0..limits::MAX_ID_ATTEMPTS)
                .map(|_| synth::scam_phone(rng))
                .find(|phone| self.scam_phones.insert(phone.clone()))
                .ok_or(ScriptError::IdsExhausted("scam phone number"))?;
            phones.push(fresh);
        }
        Ok(phones)
    }

    fn open_account(&mut self, rng: &mut StdRng) -> Result<AccountRef, ScriptError> {
        self.ids.open_account(rng, &mut self.world.ledger).map_err(ScriptError::from_id)
    }

    /// Builds one network of the gang's typology, opening its accounts.
    fn network(&mut self, rng: &mut StdRng, gang: &GangSpec) -> Result<Network, ScriptError> {
        let scenario = self.scenario;
        let mules_cfg = &scenario.mules;
        let mut network = Network { mules: Vec::new(), nodes: Vec::new(), entries: Vec::new() };
        let new_mule = |generator: &mut Self, rng: &mut StdRng, network: &mut Network| {
            let account = generator.open_account(rng)?;
            let margin = draw_f64(rng, mules_cfg.margin);
            let cashes_out = rng.random_bool(mules_cfg.cash_out_share);
            network.mules.push(Mule { account, margin, cashes_out });
            Ok::<usize, ScriptError>(network.mules.len() - 1)
        };
        match gang.typology {
            Typology::Cycle => {
                let ring = draw_u32(rng, gang.widths[0]) as usize;
                let exits = draw_u32(rng, gang.widths[1]) as usize;
                let ring_mules: Vec<usize> =
                    (0..ring).map(|_| new_mule(self, rng, &mut network)).collect::<Result<_, _>>()?;
                let exit_mules: Vec<usize> =
                    (0..exits).map(|_| new_mule(self, rng, &mut network)).collect::<Result<_, _>>()?;
                // Levels 1..=ring go round the ring; level ring + 1 is the first account
                // again, which pays the exits on level ring + 2.
                for level in 0..=ring {
                    let mule = ring_mules[level % ring];
                    let children = vec![level + 1];
                    network.nodes.push(Node { mule, children, through_orders: level < ring });
                }
                let exit_nodes: Vec<usize> = (0..exits).map(|i| ring + 1 + i).collect();
                network.nodes[ring].children = exit_nodes;
                for mule in exit_mules {
                    network.nodes.push(Node { mule, children: Vec::new(), through_orders: false });
                }
                network.entries = vec![0];
            }
            Typology::FanOut | Typology::FanIn | Typology::ScatterGather | Typology::GatherScatter => {
                let mut levels: Vec<Vec<usize>> = Vec::new();
                for width in &gang.widths {
                    let width = draw_u32(rng, *width) as usize;
                    let mut nodes = Vec::with_capacity(width);
                    for _ in 0..width {
                        let mule = new_mule(self, rng, &mut network)?;
                        network.nodes.push(Node { mule, children: Vec::new(), through_orders: false });
                        nodes.push(network.nodes.len() - 1);
                    }
                    if let Some(above) = levels.last() {
                        for (parent, child) in connect(rng, above.len(), nodes.len()) {
                            network.nodes[above[parent]].children.push(nodes[child]);
                        }
                    }
                    levels.push(nodes);
                }
                network.entries = levels.first().cloned().unwrap_or_default();
            }
        }
        Ok(network)
    }

    #[allow(clippy::too_many_arguments)]
    fn victim(
        &mut self,
        rng: &mut StdRng,
        gang_index: usize,
        network_index: usize,
        gang: &GangSpec,
        network: &Network,
        first_ms: TimeMs,
        phones: &[String],
        sites: &[String],
    ) -> Result<Draft, ScriptError> {
        let scenario = self.scenario;
        let victims = &scenario.victims;
        let (city, identity) = self.person(rng, gang)?;
        let loss_yuan = draw_log_normal(rng, &gang.amount_yuan).round().max(1.0);
        // Validation bounds amounts by MAX_LOSS_YUAN, which fits u32.
        let loss = Fen::yuan(loss_yuan.min(f64::from(limits::MAX_LOSS_YUAN)) as u32);
        let victim_account = self.open_account(rng)?;
        let savings = Fen::yuan(rng.random_range(VICTIM_SAVINGS_YUAN));
        self.world.ledger.deposit(
            &victim_account,
            loss.checked_add(savings)?,
            scenario.start_ms.saturating_sub(SAVINGS_AGE_MS),
        )?;

        let count = draw_u32(rng, victims.payments) as usize;
        let amounts = synth::split(rng, loss, count);
        let mut at_ms = first_ms;
        let mut payments = Vec::with_capacity(count);
        let mut mules = BTreeMap::new();
        let mut orders = Vec::new();
        for (i, amount) in amounts.into_iter().enumerate() {
            if i > 0 {
                at_ms += draw_u64(rng, victims.payment_gap_ms);
            }
            if amount.is_zero() {
                continue;
            }
            let entry = *network.entries.choose(rng).expect("every network has an entry");
            let to = self.destination(
                rng,
                &network.mules[network.nodes[entry].mule].account,
                victims.order_share,
                &mut orders,
            )?;
            self.schedule(ScheduledTransfer {
                due_at_ms: at_ms,
                from: victim_account.clone(),
                to: to.clone(),
                amount,
            })?;
            payments.push(VictimPayment { to, amount, at_ms });
            self.cascade(rng, network, entry, amount, at_ms, &mut mules, &mut orders)?;
        }
        let report_at_ms = at_ms + draw_log_normal(rng, &victims.report_delay_ms).round() as u64;
        self.horizon_ms = self.horizon_ms.max(report_at_ms);

        let contacts = self.contacts(rng, phones, sites);
        let listed: Vec<Payment> =
            payments.iter().map(|p| Payment { to: p.to.clone(), amount: p.amount, at_ms: p.at_ms }).collect();
        let body = synth::report_body(&identity, gang.fraud_type, &listed, contacts);
        let case = CaseInfo {
            case: 0,
            gang: gang_index,
            network: network_index,
            fraud_type: gang.fraud_type,
            typology: gang.typology,
            city,
            victim_account,
            loss,
            payments,
            report_at_ms,
            mules,
            orders,
        };
        Ok(Draft { case, body })
    }

    /// A person of one of the gang's cities who was not a victim before: a city is chosen
    /// in proportion to its population, then a person number in it.
    fn person(&mut self, rng: &mut StdRng, gang: &GangSpec) -> Result<(City, Identity), ScriptError> {
        let populations: Vec<(City, u64)> = gang
            .cities
            .iter()
            .map(|city| {
                let spec = self.scenario.cities.iter().find(|c| &c.city == city);
                (city.clone(), spec.map_or(1, |c| c.population))
            })
            .collect();
        let total: u64 = populations.iter().map(|(_, p)| p).sum();
        let mut pick = rng.random_range(0..total);
        let (city, population) = populations
            .iter()
            .find(|(_, p)| {
                if pick < *p {
                    true
                } else {
                    pick -= p;
                    false
                }
            })
            .cloned()
            .expect("the pick is below the total population");
        let taken = self.people.entry(city.clone()).or_default();
        for _ in 0..limits::MAX_ID_ATTEMPTS {
            let number = rng.random_range(0..population);
            if taken.insert(number) {
                let mut person_rng = sub_rng(self.scenario.seed, city.as_str(), number);
                let identity = Identity::draw(&mut person_rng, &city);
                return Ok((city, identity));
            }
        }
        Err(ScriptError::PopulationExhausted { city, population })
    }

    /// Follows the money of one payment down the network, scheduling every forward and
    /// cash-out. Arrivals at one node on one level are gathered and forwarded once.
    #[allow(clippy::too_many_arguments)]
    fn cascade(
        &mut self,
        rng: &mut StdRng,
        network: &Network,
        entry: usize,
        amount: Fen,
        at_ms: TimeMs,
        mules: &mut BTreeMap<AccountRef, u8>,
        orders: &mut Vec<PaymentOrderRef>,
    ) -> Result<(), ScriptError> {
        let scenario = self.scenario;
        let cfg = &scenario.mules;
        // Node → (money gathered, when the last part arrived, depth of the arrival).
        let mut arrivals: BTreeMap<usize, (Fen, TimeMs, u8)> = BTreeMap::from([(entry, (amount, at_ms, 1))]);
        while !arrivals.is_empty() {
            let mut next: BTreeMap<usize, (Fen, TimeMs, u8)> = BTreeMap::new();
            for (node_index, (received, arrived_ms, arrival_depth)) in arrivals {
                let node = &network.nodes[node_index];
                let mule = &network.mules[node.mule];
                // An account's depth is that of the first arrival (a cycle passes its first
                // account twice), and what it forwards arrives one level deeper.
                let depth = *mules.entry(mule.account.clone()).or_insert(arrival_depth);
                let send_ms = arrived_ms + draw_u64(rng, cfg.forward_delay_ms);
                if node.children.is_empty() {
                    if mule.cashes_out {
                        let to = Counterparty::CashOut(format!("ATM withdrawal {}", mule.account.bank()));
                        self.schedule(ScheduledTransfer {
                            due_at_ms: send_ms,
                            from: mule.account.clone(),
                            to,
                            amount: received,
                        })?;
                    }
                    continue;
                }
                // Truncation is the intent: the margin is whole fen, at most what arrived.
                let keep = Fen::new((received.get() as f64 * mule.margin).floor() as u64).min(received);
                let forward = received.checked_sub(keep)?;
                let parts = synth::split(rng, forward, node.children.len());
                for (i, (&child, part)) in node.children.iter().zip(parts).enumerate() {
                    if part.is_zero() {
                        continue;
                    }
                    let due_at_ms = send_ms + i as u64 * limits::SPLIT_GAP_MS;
                    let share = if node.through_orders { 1.0 } else { cfg.order_share };
                    let child_account = &network.mules[network.nodes[child].mule].account;
                    let to = self.destination(rng, child_account, share, orders)?;
                    self.schedule(ScheduledTransfer { due_at_ms, from: mule.account.clone(), to, amount: part })?;
                    let child_depth = depth.saturating_add(1);
                    let gathered = next.entry(child).or_insert((Fen::ZERO, due_at_ms, child_depth));
                    gathered.0 = gathered.0.checked_add(part)?;
                    gathered.1 = gathered.1.max(due_at_ms);
                    gathered.2 = gathered.2.min(child_depth);
                }
            }
            arrivals = next;
        }
        Ok(())
    }

    /// `to` directly, or through a new payment order into it with probability `share`.
    fn destination(
        &mut self,
        rng: &mut StdRng,
        to: &AccountRef,
        share: f64,
        orders: &mut Vec<PaymentOrderRef>,
    ) -> Result<Counterparty, ScriptError> {
        if !rng.random_bool(share) {
            return Ok(Counterparty::Account(to.clone()));
        }
        let order = self.ids.new_order_ref(rng).map_err(ScriptError::from_id)?;
        self.world.ledger.create_order(order.clone(), to.clone())?;
        self.orders.insert(order.clone(), to.clone());
        orders.push(order.clone());
        Ok(Counterparty::Order(order))
    }

    fn schedule(&mut self, transfer: ScheduledTransfer) -> Result<(), ScriptError> {
        self.horizon_ms = self.horizon_ms.max(transfer.due_at_ms);
        self.world.schedule.push(transfer)?;
        Ok(())
    }

    /// The scam contacts a victim names: one or two of the gang's phones, up to two of its
    /// sites, sometimes an app or a QQ account.
    fn contacts(&mut self, rng: &mut StdRng, phones: &[String], sites: &[String]) -> Value {
        let pick = |rng: &mut StdRng, from: &[String], min: u32| -> Vec<String> {
            let most = CONTACTS_PER_REPORT.min(from.len() as u32);
            let n = if most < min { most } else { rng.random_range(min..=most) };
            from.choose_multiple(rng, n as usize).cloned().collect()
        };
        let phones = pick(rng, phones, 1);
        let urls = pick(rng, sites, 0);
        let apps: Vec<&str> =
            (0..rng.random_range(0..=1)).map(|_| synth::APPS[rng.random_range(0..synth::APPS.len())]).collect();
        let social: Vec<String> =
            (0..rng.random_range(0..=1)).map(|_| format!("qq:{}", synth::digits(rng, 9))).collect();
        json!({"phones": phones, "urls": urls, "apps": apps, "social": social})
    }
}

/// Edges between a level of `above` accounts and the next of `below`: when the next level
/// is at least as wide, each account below gets one parent and every parent a child (a
/// split); when it is narrower, each account above forwards to one account below and every
/// account below gets a sender (a merge). Returns `(parent, child)` index pairs.
fn connect(rng: &mut StdRng, above: usize, below: usize) -> Vec<(usize, usize)> {
    if below >= above {
        let mut parents: Vec<usize> = (0..above).collect();
        parents.shuffle(rng);
        (0..below)
            .map(|child| (if child < above { parents[child] } else { rng.random_range(0..above) }, child))
            .collect()
    } else {
        let mut children: Vec<usize> = (0..below).collect();
        children.shuffle(rng);
        (0..above)
            .map(|parent| (parent, if parent < below { children[parent] } else { rng.random_range(0..below) }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_splits_or_merges_covering_both_levels() {
        let mut rng = StdRng::seed_from_u64(5);
        for (above, below) in [(1, 4), (4, 8), (3, 3), (8, 1), (6, 2), (2, 7)] {
            let edges = connect(&mut rng, above, below);
            let parents: BTreeSet<usize> = edges.iter().map(|e| e.0).collect();
            let children: BTreeSet<usize> = edges.iter().map(|e| e.1).collect();
            assert_eq!(parents.len(), above, "{above}->{below}");
            assert_eq!(children.len(), below, "{above}->{below}");
            assert_eq!(edges.len(), above.max(below));
        }
    }

    #[test]
    fn the_normal_deviates_have_mean_zero_and_unit_variance() {
        let mut rng = StdRng::seed_from_u64(9);
        let n = 20_000;
        let draws: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let variance = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((variance - 1.0).abs() < 0.05, "{variance}");
    }
}
