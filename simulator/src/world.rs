//! The simulated world: the ledger of every bank and platform, the mule transfers still to
//! come, the carriers' blocks and restrictions, and which banks, platforms and carriers
//! answer on the bus.

use std::sync::{Mutex, MutexGuard, PoisonError};

use domain::{BankId, Carrier, PlatformId, TimeMs};
use protocol::adapter::{AdapterError, AdapterErrorKind, ReturnReply, ReturnRequest};

use crate::contact::Contacts;
use crate::holders::Holders;
use crate::ledger::Ledger;
use crate::population::Population;
use crate::schedule::{Outcome, Schedule};
use crate::telecom::Telecom;

/// The simulated world. Shared between the NATS servers and the schedule driver as
/// `Arc<Mutex<World>>`; see [`lock`].
#[derive(Debug, Clone, Default)]
pub struct World {
    /// Accounts, orders, stop-payments and freezes.
    pub ledger: Ledger,
    /// Mule transfers that have not happened yet.
    pub schedule: Schedule,
    /// Banks that answer `afc.bank.<bank>.*`.
    pub banks: Vec<BankId>,
    /// Payment platforms that answer `afc.pay.<platform>.resolve`.
    pub platforms: Vec<PlatformId>,
    /// The carriers' blocks and restrictions.
    pub telecom: Telecom,
    /// Carriers that answer `afc.carrier.<carrier>.*`: the three, unless a test says otherwise.
    pub carriers: Vec<Carrier>,
    /// Who holds the mule accounts, as their banks know them.
    pub holders: Holders,
    /// How the gangs reach their victims, and who a block spared (empty outside a script's
    /// world).
    pub contacts: Contacts,
    /// The people the gangs reach besides their victims (empty without a `[population]`).
    pub population: Population,
}

impl World {
    /// An empty world with these banks and platforms, and the three carriers.
    pub fn new(banks: Vec<BankId>, platforms: Vec<PlatformId>) -> Self {
        World {
            ledger: Ledger::new(),
            schedule: Schedule::new(),
            banks,
            platforms,
            telecom: Telecom::new(),
            carriers: Carrier::ALL.to_vec(),
            holders: Holders::default(),
            contacts: Contacts::default(),
            population: Population::default(),
        }
    }

    /// Decides every victim's first contact due at or before `now` against the carriers'
    /// blocks ([`Contacts::contact_due`]: a spared victim's transfers leave the schedule),
    /// executes the returns the banks accepted that are due ([`Ledger::execute_due_returns`]),
    /// then every scheduled transfer due at or before `now` (see [`Schedule::execute_due`]).
    pub fn execute_due(&mut self, now: TimeMs) -> Vec<Outcome> {
        self.contacts.contact_due(now, &self.telecom, &mut self.schedule);
        self.ledger.execute_due_returns(now);
        self.schedule.execute_due(&mut self.ledger, now)
    }

    /// Answers a bank's `return` at `now` ([`Ledger::return_money`]). A victim's account at
    /// one of the world's banks that the ledger does not hold does not exist: the simulator
    /// holds every account of its banks. One at a bank outside the world is paid out of it.
    pub fn return_money(&mut self, req: &ReturnRequest, now: TimeMs) -> Result<ReturnReply, AdapterError> {
        let to = req.to_account.expose();
        if self.banks.contains(&to.bank()) && !self.ledger.has_account(to) {
            return Err(AdapterError {
                kind: AdapterErrorKind::UnknownAccount,
                // The victim's account is personal data: the message names its bank only.
                message: format!("the victim's account is not an account of {}", to.bank()),
            });
        }
        self.ledger.return_money(req, now)
    }
}

/// Locks a shared world. A panic while the lock was held cannot leave the ledger half
/// changed (every ledger operation checks before it changes anything), so a poisoned lock is
/// taken over rather than propagated.
pub fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}
