//! Mule transfers still to come: money a mule will forward at a set time unless its account
//! is stopped or frozen first.
//!
//! [`Schedule::execute_due`] is the pure part: it books every transfer that has fallen due.
//! A transfer refused by a hold is recorded as blocked and dropped: that money stays where
//! it is, saved. [`spawn_driver`] runs it in a task that wakes when the next transfer falls
//! due by the injected clock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use domain::{AccountRef, Fen, SharedClock, TimeMs};
use protocol::adapter::Counterparty;
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;

use crate::ledger::{BlockReason, Ledger, LedgerError};
use crate::limits;
use crate::world::{self, World};

/// A transfer a mule will make at `due_at_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledTransfer {
    /// When the mule moves the money.
    pub due_at_ms: TimeMs,
    /// The paying account.
    pub from: AccountRef,
    /// Where the money goes: an account, a payment order, or cash.
    pub to: Counterparty,
    /// How much.
    pub amount: Fen,
}

/// What became of a scheduled transfer when it fell due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The money moved.
    Executed {
        /// The transfer.
        transfer: ScheduledTransfer,
        /// The ledger's transfer id.
        transfer_id: String,
        /// When it was booked.
        at_ms: TimeMs,
    },
    /// A stop-payment or freeze refused it: the money stayed.
    Blocked {
        /// The transfer.
        transfer: ScheduledTransfer,
        /// The hold that refused it.
        reason: BlockReason,
        /// When it was attempted.
        at_ms: TimeMs,
    },
    /// The ledger refused it for another reason (e.g. the balance was not there).
    Failed {
        /// The transfer.
        transfer: ScheduledTransfer,
        /// Why.
        error: LedgerError,
        /// When it was attempted.
        at_ms: TimeMs,
    },
}

/// Counts and amounts of what the schedule did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleTotals {
    /// Transfers executed.
    pub executed: u64,
    /// Money they moved.
    pub executed_fen: Fen,
    /// Transfers refused by a hold.
    pub blocked: u64,
    /// Money that stayed because of a hold: saved fen.
    pub blocked_fen: Fen,
    /// Transfers refused for another reason.
    pub failed: u64,
    /// Transfers taken out before they fell due: the payments of a victim a block spared, and
    /// the mule transfers that would have moved that money ([`Schedule::cancel_for`]).
    pub cancelled: u64,
}

/// Why a transfer could not be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The schedule already holds [`limits::MAX_SCHEDULED_TRANSFERS`] pending transfers.
    #[error("schedule is full: {pending} transfers pending, at most {max}")]
    Full {
        /// Transfers pending.
        pending: usize,
        /// The bound.
        max: usize,
    },
    /// Scheduled transfers move a positive amount.
    #[error("a scheduled transfer must move a positive amount")]
    ZeroAmount,
}

/// Pending transfers in due order (ties in the order they were added), and totals of what
/// became of the executed ones.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    pending: BTreeMap<(TimeMs, u64), ScheduledTransfer>,
    /// The keys of each victim's transfers ([`Schedule::push_for`]), pending or not.
    by_victim: BTreeMap<AccountRef, Vec<(TimeMs, u64)>>,
    next_seq: u64,
    totals: ScheduleTotals,
}

impl Schedule {
    /// An empty schedule.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a transfer.
    pub fn push(&mut self, transfer: ScheduledTransfer) -> Result<(), ScheduleError> {
        if self.pending.len() >= limits::MAX_SCHEDULED_TRANSFERS {
            return Err(ScheduleError::Full { pending: self.pending.len(), max: limits::MAX_SCHEDULED_TRANSFERS });
        }
        if transfer.amount.is_zero() {
            return Err(ScheduleError::ZeroAmount);
        }
        self.pending.insert((transfer.due_at_ms, self.next_seq), transfer);
        self.next_seq += 1;
        Ok(())
    }

    /// Adds a transfer that moves `victim`'s money: their payment, or a mule's transfer of
    /// it. [`Schedule::cancel_for`] takes them all out again.
    pub fn push_for(&mut self, transfer: ScheduledTransfer, victim: &AccountRef) -> Result<(), ScheduleError> {
        let key = (transfer.due_at_ms, self.next_seq);
        self.push(transfer)?;
        self.by_victim.entry(victim.clone()).or_default().push(key);
        Ok(())
    }

    /// Takes every pending transfer of `victim`'s money out (a victim who never pays), and
    /// returns them in due order.
    pub fn cancel_for(&mut self, victim: &AccountRef) -> Vec<ScheduledTransfer> {
        let mut keys = self.by_victim.remove(victim).unwrap_or_default();
        keys.sort_unstable();
        let cancelled: Vec<ScheduledTransfer> = keys.iter().filter_map(|key| self.pending.remove(key)).collect();
        self.totals.cancelled += cancelled.len() as u64;
        cancelled
    }

    /// When the next pending transfer falls due.
    pub fn next_due_ms(&self) -> Option<TimeMs> {
        self.pending.keys().next().map(|(due, _)| *due)
    }

    /// Pending transfers, in due order.
    pub fn pending(&self) -> impl Iterator<Item = &ScheduledTransfer> {
        self.pending.values()
    }

    /// How many transfers are pending.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// What the schedule did so far.
    pub fn totals(&self) -> ScheduleTotals {
        self.totals
    }

    /// Books every transfer due at or before `now`, in due order, at time `now`. A transfer
    /// refused by the ledger is dropped, not retried; the outcomes say what happened.
    pub fn execute_due(&mut self, ledger: &mut Ledger, now: TimeMs) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let transfer = entry.remove();
            let outcome = match ledger.transfer(&transfer.from, &transfer.to, transfer.amount, now) {
                Ok(transfer_id) => {
                    self.totals.executed += 1;
                    self.totals.executed_fen = add_capped(self.totals.executed_fen, transfer.amount);
                    Outcome::Executed { transfer, transfer_id, at_ms: now }
                }
                Err(LedgerError::Blocked { reason, .. }) => {
                    self.totals.blocked += 1;
                    self.totals.blocked_fen = add_capped(self.totals.blocked_fen, transfer.amount);
                    Outcome::Blocked { transfer, reason, at_ms: now }
                }
                Err(error) => {
                    self.totals.failed += 1;
                    Outcome::Failed { transfer, error, at_ms: now }
                }
            };
            outcomes.push(outcome);
        }
        outcomes
    }
}

/// Adds to a running total; a total past `u64::MAX` fen (far beyond any world) stays there.
fn add_capped(total: Fen, amount: Fen) -> Fen {
    total.checked_add(amount).unwrap_or(Fen::new(u64::MAX))
}

/// A running schedule driver. Dropping it stops the driver.
#[derive(Debug)]
pub struct DriverHandle {
    task: JoinHandle<()>,
    wake: Arc<Notify>,
    outcomes: broadcast::Sender<Outcome>,
}

impl DriverHandle {
    /// Makes the driver look at the schedule now (after adding a transfer, or after moving a
    /// manual clock forward).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Every outcome from now on. A receiver that falls more than
    /// [`limits::DRIVER_OUTCOME_BUFFER`] outcomes behind loses the oldest ones.
    pub fn subscribe(&self) -> broadcast::Receiver<Outcome> {
        self.outcomes.subscribe()
    }

    /// Stops the driver and waits until it has stopped.
    pub async fn shutdown(mut self) {
        self.task.abort();
        // The task was aborted: the join error says only that.
        let _ = (&mut self.task).await;
    }
}

impl Drop for DriverHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a task that executes the world's scheduled transfers when they fall due by
/// `clock`. It sleeps until the next transfer is due (at most
/// [`limits::DRIVER_MAX_IDLE_MS`], so transfers added meanwhile and fast clocks are
/// noticed) or until [`DriverHandle::poke`]. Must be called within a tokio runtime.
pub fn spawn_driver(world: Arc<Mutex<World>>, clock: SharedClock) -> DriverHandle {
    let wake = Arc::new(Notify::new());
    let (outcomes, _) = broadcast::channel(limits::DRIVER_OUTCOME_BUFFER);
    let task = tokio::spawn(drive(world, clock, Arc::clone(&wake), outcomes.clone()));
    DriverHandle { task, wake, outcomes }
}

async fn drive(world: Arc<Mutex<World>>, clock: SharedClock, wake: Arc<Notify>, outcomes: broadcast::Sender<Outcome>) {
    loop {
        let now = clock.now_ms();
        let (done, next_due) = {
            let mut world = world::lock(&world);
            let done = world.execute_due(now);
            (done, world.schedule.next_due_ms())
        };
        for outcome in done {
            tracing::debug!(?outcome, "scheduled transfer fell due");
            // No receiver is fine: the schedule's totals keep count.
            let _ = outcomes.send(outcome);
        }
        let wait_ms = next_due
            .map_or(limits::DRIVER_MAX_IDLE_MS, |due| due.saturating_sub(clock.now_ms()))
            .min(limits::DRIVER_MAX_IDLE_MS);
        tokio::select! {
            () = tokio::time::sleep(clock.real_duration(wait_ms)) => {}
            () = wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{CaseId, City, Clock};
    use protocol::adapter::StopPaymentRequest;
    use std::sync::atomic::{AtomicU64, Ordering};

    const T0: TimeMs = 1_763_700_000_000;

    fn acct(n: u32) -> AccountRef {
        AccountRef::parse(&format!("ccb:62170000{n:08}")).unwrap()
    }

    fn world() -> World {
        let mut world = World::new(vec![], vec![]);
        for n in 1..=3 {
            world.ledger.open_account(acct(n)).unwrap();
        }
        world.ledger.deposit(&acct(1), Fen::yuan(100), T0).unwrap();
        world.ledger.deposit(&acct(2), Fen::yuan(100), T0).unwrap();
        world
    }

    fn forward(due: TimeMs, from: u32, to: u32, yuan: u32) -> ScheduledTransfer {
        ScheduledTransfer {
            due_at_ms: due,
            from: acct(from),
            to: Counterparty::Account(acct(to)),
            amount: Fen::yuan(yuan),
        }
    }

    fn stop(world: &mut World, account: u32, now: TimeMs) {
        let center = City::parse("hangzhou").unwrap();
        let req = StopPaymentRequest {
            request_id: format!("stop-{account}"),
            case_id: CaseId::derive(&center, 1),
            center,
            account: acct(account),
            since_ms: 0,
        };
        world.ledger.stop_payment(&req, now).unwrap();
    }

    #[test]
    fn executes_due_transfers_in_order_and_records_blocked_ones() {
        let mut world = world();
        world.schedule.push(forward(T0 + 300, 2, 3, 10)).unwrap();
        world.schedule.push(forward(T0 + 100, 1, 3, 40)).unwrap();
        world.schedule.push(forward(T0 + 900, 1, 3, 1)).unwrap();
        stop(&mut world, 2, T0 + 50);
        assert_eq!(world.schedule.next_due_ms(), Some(T0 + 100));

        assert!(world.execute_due(T0 + 99).is_empty());
        let outcomes = world.execute_due(T0 + 500);
        assert_eq!(outcomes.len(), 2);
        assert!(
            matches!(&outcomes[0], Outcome::Executed { transfer, at_ms, .. } if transfer.from == acct(1) && *at_ms == T0 + 500)
        );
        assert!(matches!(&outcomes[1], Outcome::Blocked { reason: BlockReason::Stopped { .. }, .. }));
        assert_eq!(world.ledger.balance(&acct(2)), Some(Fen::yuan(100)));
        assert_eq!(world.ledger.balance(&acct(3)), Some(Fen::yuan(40)));
        let totals = world.schedule.totals();
        assert_eq!((totals.executed, totals.blocked, totals.blocked_fen), (1, 1, Fen::yuan(10)));
        assert_eq!(world.schedule.pending_len(), 1);
        world.ledger.check_conservation().unwrap();
    }

    #[test]
    fn insufficient_balance_is_a_failure_not_a_block() {
        let mut world = world();
        world.schedule.push(forward(T0, 3, 1, 1)).unwrap();
        let outcomes = world.execute_due(T0);
        assert!(matches!(&outcomes[0], Outcome::Failed { error: LedgerError::InsufficientFunds { .. }, .. }));
        assert_eq!(world.schedule.totals().failed, 1);
    }

    #[test]
    fn zero_transfers_are_refused() {
        let mut schedule = Schedule::new();
        let mut transfer = forward(T0, 1, 2, 0);
        transfer.amount = Fen::ZERO;
        assert_eq!(schedule.push(transfer), Err(ScheduleError::ZeroAmount));
    }

    /// A clock the test moves by hand.
    #[derive(Debug, Default)]
    struct ManualClock(AtomicU64);

    impl Clock for ManualClock {
        fn now_ms(&self) -> TimeMs {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn driver_executes_when_the_clock_reaches_the_due_time() {
        let world = Arc::new(Mutex::new(world()));
        world::lock(&world).schedule.push(forward(T0 + 1_000, 1, 3, 25)).unwrap();
        let clock = Arc::new(ManualClock(AtomicU64::new(T0)));
        let driver = spawn_driver(Arc::clone(&world), clock.clone());
        let mut outcomes = driver.subscribe();
        clock.0.store(T0 + 1_000, Ordering::SeqCst);
        driver.poke();
        let outcome = outcomes.recv().await.unwrap();
        assert!(matches!(outcome, Outcome::Executed { at_ms, .. } if at_ms == T0 + 1_000));
        assert_eq!(world::lock(&world).ledger.balance(&acct(3)), Some(Fen::yuan(25)));
        driver.shutdown().await;
    }
}
