//! A simulated world of banks, payment platforms and carriers for testing and drilling afc.
//!
//! - [`ledger`]: the pure world ledger: accounts of many banks, payment-platform orders,
//!   transfers, stop-payments and freezes, answering the adapter protocol's requests.
//! - [`schedule`]: mule transfers that will happen in the future unless the account is
//!   stopped or frozen first, and a task that executes them when they fall due.
//! - [`telecom`]: the three simulated carriers: blocks of numbers, domains and IP addresses,
//!   restrictions of phone cards, each center's apart, idempotent by request id.
//! - [`contact`]: how gangs reach their victims through numbers and sites, who a block at
//!   the carriers spares, and how a gang replaces a blocked line.
//! - [`holders`]: who holds the mule accounts (card sellers hold several), as the banks name
//!   them in their answers to `restrict`, and the card sellers of a plan's ground truth.
//! - [`population`]: the people gangs reach besides their victims, the carriers' signals of
//!   their contacts, and who would have paid, who was warned in time and what it saved.
//! - [`world`]: the ledger, the schedule and the carriers together, with the banks,
//!   platforms and carriers served.
//! - [`serve`](mod@serve): NATS request/reply servers answering `afc.bank.<bank>.*`,
//!   `afc.pay.<platform>.resolve` and `afc.carrier.<carrier>.*` from a shared [`World`].
//! - [`wave`]: deterministic synthetic crime waves: victims, layered mule trails, intake
//!   report bodies and the ground truth to score the freezing service against.
//! - [`scenario`]: scenario files (TOML): cities, gangs, typologies of mule networks, and how
//!   mules, victims and banks behave, validated field by field.
//! - [`crime`]: generates a scenario's [`Script`]: the world with every transfer of the plan
//!   scheduled, and the reports the victims file over simulated time.
//! - [`truth`]: attribution of every fen to cases as transfers happen, and the ground truth
//!   of a plan played with no intervention.
//! - [`limits`]: every bound the simulator applies, by name.

#![warn(missing_docs)]

pub mod contact;
pub mod crime;
pub mod holders;
pub mod ledger;
pub mod limits;
pub mod population;
pub mod scenario;
pub mod schedule;
pub mod serve;
mod synth;
pub mod telecom;
pub mod truth;
pub mod wave;
pub mod world;

pub use contact::{Contacted, Contacts, LineKind};
pub use crime::{
    CaseInfo, FirstContact, GangInfo, Script, ScriptError, ScriptedReport, VictimPayment, generate_script,
};
pub use ledger::{BlockReason, FreezeClaimInfo, Ledger, LedgerError};
pub use scenario::{Scenario, ScenarioError, Typology};
pub use schedule::{DriverHandle, Outcome, Schedule, ScheduleError, ScheduleTotals, ScheduledTransfer, spawn_driver};
pub use serve::{ServeError, ServeHandle, ServeOptions, ServeStats, Serves, answer, serve, serve_as};
pub use telecom::{CarrierRecord, CarrierVerb, Telecom};
pub use truth::{Attribution, AttributionError, CaseMoney, CaseOutcome, GroundTruth, Reach, ReplayError};
pub use wave::{CaseTruth, Wave, WaveConfig, WaveError, WaveReport, generate, single_trail};
pub use world::World;
