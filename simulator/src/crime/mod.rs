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
//!
//! This module holds the script's types and [`generate_script`]; the generation itself is
//! split by concern: `gang` (a gang's contacts, its victims, their payments and reports),
//! `network` (mule networks of each typology, and the money of a payment followed down one)
//! and `draw` (seeded generators and the draws from a scenario's spans and distributions).

mod draw;
mod gang;
mod network;
mod people;

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, City, Fen, FraudType, MoneyError, PaymentOrderRef, TimeMs};
use protocol::adapter::Counterparty;
use serde_json::Value;

use crate::contact::{LineKind, PlannedContact};
use crate::ledger::LedgerError;
use crate::scenario::{Scenario, Typology};
use crate::schedule::ScheduleError;
use crate::synth::{self, IdFailure, Ids};
use crate::world::World;

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
    /// How the gang first reaches the victim: who would be reached, when, and through what
    /// ([`crate::contact`]).
    pub contact: FirstContact,
}

/// How a gang first reaches a victim, as the script plans it: a drill may find the
/// identifier blocked by then (the victim is spared) or replaced (the victim is reached
/// through the replacement).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstContact {
    /// When: the victim's first payment.
    pub at_ms: TimeMs,
    /// The gang's number or site, as the victim's report names it.
    pub via: String,
    /// A number or a site.
    pub kind: LineKind,
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
        // Nothing without a population: older scripts keep their fingerprints.
        for person in self.world.population.people() {
            text.push_str(&format!("{person:?}\n"));
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
        victim: None,
    };
    let mut gangs = Vec::with_capacity(scenario.gangs.len());
    for (index, gang) in scenario.gangs.iter().enumerate() {
        gangs.push(generator.gang(index, gang)?);
    }
    generator.world.ledger.check_conservation()?;
    if let Some(spec) = &scenario.population {
        generator.population(spec)?;
        let last = generator.world.population.last_planned_ms().unwrap_or(0);
        generator.horizon_ms = generator.horizon_ms.max(last);
    }

    let Generator { mut world, orders, mut drafts, horizon_ms, .. } = generator;
    for bank in world.banks.clone() {
        world.ledger.set_return_delay(bank, scenario.banks.return_ms);
    }
    // Stable: ties keep generation order.
    drafts.sort_by_key(|draft| draft.case.report_at_ms);
    let reports = drafts
        .into_iter()
        .enumerate()
        .map(|(case, mut draft)| {
            draft.case.case = case;
            let info = &draft.case;
            let contacts = &mut world.contacts;
            let named: Vec<usize> = draft.named.iter().filter_map(|n| contacts.line_of(info.gang, n)).collect();
            let line = contacts.line_of(info.gang, &info.contact.via);
            if let Some(line) = line.filter(|_| scenario.victims.spared_by_blocks) {
                contacts.plan(PlannedContact {
                    case,
                    at_ms: info.contact.at_ms,
                    city: info.city.clone(),
                    victim_account: info.victim_account.clone(),
                    loss: info.loss,
                    gang: info.gang,
                    line,
                    named,
                });
            }
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

/// A case before reports are put in due order.
struct Draft {
    case: CaseInfo,
    body: Value,
    /// The gang's phones and sites the report names, as it names them.
    named: Vec<String>,
}

/// The state of one generation: the world so far, and what must stay unique across gangs
/// (victims, scam phones, orders).
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
    /// The victim whose money the transfers scheduled now move.
    victim: Option<AccountRef>,
}
