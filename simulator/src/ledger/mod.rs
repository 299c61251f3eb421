//! The world ledger: bank accounts of every simulated bank, payment-platform orders, and the
//! authorities' holds on accounts (stop-payments and freezes).
//!
//! The ledger is pure: no I/O, no clock. Every operation takes the time it happens at, so the
//! same calls give the same ledger. Money is only created by [`Ledger::deposit`] (a victim's
//! savings) and only leaves by a cash-out or a return to an account outside the simulated
//! banks, so the sum of all balances plus everything cashed out and paid out always equals
//! everything deposited ([`Ledger::check_conservation`]).
//!
//! The adapter methods ([`Ledger::stop_payment`], [`Ledger::freeze`], [`Ledger::flows`],
//! [`Ledger::resolve`]) answer exactly what a bank or platform answers on the bus, including
//! idempotency: a repeated `request_id` gets the first answer again and changes nothing.
//!
//! This module holds the ledger's state, its errors and what it reports; the operations are
//! split by concern: `transfer` (opening accounts and orders, deposits and transfers),
//! `holds` (stop-payments and freezes, and which of them hold an account at a moment),
//! `adapter` (request ids, error replies, and the `flows` and `resolve` answers), `restrict`
//! (blocking's restrictions of channels, which refuse the transfers that need them),
//! `returns` (restitution's returns of frozen money to victims) and `audit` (what the banks
//! applied, by request, for the crash drill to check).

mod adapter;
mod audit;
mod holds;
mod restrict;
mod returns;
mod transfer;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use domain::{AccountRef, City, Fen, MoneyError, PaymentOrderRef, TimeMs};
use protocol::adapter::{AdapterError, FreezeReply, StatementEntry, StopPaymentReply};

pub use audit::HoldAudit;
pub use holds::FreezeClaimInfo;
use holds::{FreezeClaim, Stop};
pub use returns::{ExecutedReturn, ReturnCounts};

/// What a cash deposit's statement entry names as its counterparty.
pub const DEPOSIT_COUNTERPARTY: &str = "cash deposit";

/// Why an authority's hold refused a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockReason {
    /// A center's stop-payment holds the whole account.
    Stopped {
        /// The center whose stop-payment holds the account.
        center: City,
        /// When that stop-payment lapses.
        until_ms: TimeMs,
    },
    /// A center's freeze holds part (or all) of the balance and the transfer would dip into it.
    Frozen {
        /// The center whose freeze holds the money.
        center: City,
        /// The amount the freeze holds.
        frozen: Fen,
        /// When the freeze lapses.
        until_ms: TimeMs,
    },
    /// A center restricted the account (blocking's high-risk pool): the channels the transfer
    /// needs are cut.
    Restricted {
        /// A center that cut them.
        center: City,
        /// The channels the transfer could have gone through, all cut.
        channels: Vec<protocol::carrier::Channel>,
    },
    /// The bank accepted a return of money from the account to a victim and has not paid it
    /// yet: the transfer would dip into that money.
    Returning {
        /// The amount being returned.
        amount: Fen,
    },
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockReason::Stopped { center, until_ms } => {
                write!(f, "stop-payment by {center} until {until_ms}")
            }
            BlockReason::Frozen { center, frozen, until_ms } => {
                write!(f, "{frozen} frozen by {center} until {until_ms}")
            }
            BlockReason::Restricted { center, channels } => {
                let channels: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
                write!(f, "{} restricted by {center}", channels.join(" and "))
            }
            BlockReason::Returning { amount } => write!(f, "{amount} being returned to a victim"),
        }
    }
}

/// Why the ledger refused an operation. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The paying account is held by a stop-payment or a freeze.
    #[error("account {account} is blocked: {reason}")]
    Blocked {
        /// The held account.
        account: AccountRef,
        /// The hold that refused the transfer.
        reason: BlockReason,
    },
    /// The paying account does not hold the amount.
    #[error("account {account} holds {balance}, cannot pay {amount}")]
    InsufficientFunds {
        /// The paying account.
        account: AccountRef,
        /// Its balance.
        balance: Fen,
        /// The amount asked for.
        amount: Fen,
    },
    /// No such account was opened.
    #[error("unknown account {0}")]
    UnknownAccount(AccountRef),
    /// The account was opened before.
    #[error("account {0} already exists")]
    AccountExists(AccountRef),
    /// No such payment order was created.
    #[error("unknown payment order {0}")]
    UnknownOrder(PaymentOrderRef),
    /// The payment order was created before.
    #[error("payment order {0} already exists")]
    OrderExists(PaymentOrderRef),
    /// The payment order has been paid; an order is paid once.
    #[error("payment order {0} was already paid")]
    OrderAlreadyPaid(PaymentOrderRef),
    /// Transfers and deposits move a positive amount.
    #[error("a transfer must move a positive amount")]
    ZeroAmount,
    /// An account cannot pay itself, directly or through an order.
    #[error("account {0} cannot pay itself")]
    SelfTransfer(AccountRef),
    /// The operation would overflow an amount.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// The ledger does not add up: a bug in the ledger.
    #[error(
        "ledger does not add up: balances {balances} + cashed out {cashed_out} + paid out {paid_out} != minted {minted}"
    )]
    Unbalanced {
        /// Sum of all balances.
        balances: Fen,
        /// Everything cashed out.
        cashed_out: Fen,
        /// Everything returns paid to accounts outside the ledger.
        paid_out: Fen,
        /// Everything deposited.
        minted: Fen,
    },
}

/// A bank account's state.
#[derive(Debug, Clone, Default)]
struct Account {
    balance: Fen,
    statement: Vec<StatementEntry>,
    stops: BTreeMap<City, Stop>,
    /// The freezes that hold money, in the order they were placed. Together they hold at
    /// most the balance.
    freezes: Vec<FreezeClaim>,
    /// Claims made when nothing was left to freeze, in arrival order (轮候冻结): they hold
    /// nothing until a freeze lapses and leaves money free.
    queued: Vec<FreezeClaim>,
    /// The stop-payment request ids that came to it, for the audit (`audit`).
    stop_requests: audit::AccountStops,
    /// Channels each center cut (`restrict`).
    restrictions: restrict::Cuts,
    /// Money of accepted returns not paid yet (`returns`): out of the freezes, still in the
    /// balance, and held for the victims.
    returning: Fen,
}

/// How a payment-platform order settled.
#[derive(Debug, Clone)]
struct Settlement {
    amount: Fen,
    settled_at_ms: TimeMs,
    transfer_id: String,
    /// The account that paid it: what the platform names as the payer in `resolve`.
    payer: AccountRef,
}

/// A payment-platform order: which account it pays into, and its payment once made.
#[derive(Debug, Clone)]
struct Order {
    receiving: AccountRef,
    settlement: Option<Settlement>,
}

/// The world ledger. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    accounts: BTreeMap<AccountRef, Account>,
    orders: BTreeMap<PaymentOrderRef, Order>,
    minted: Fen,
    cashed_out: Fen,
    transfers_booked: u64,
    // B-trees, not hash maps: one entry per request, and a hash map doubling past 100,000
    // entries held the world lock (every bank's answers) for up to 90 ms.
    stop_replies: BTreeMap<Arc<str>, Result<StopPaymentReply, AdapterError>>,
    freeze_replies: BTreeMap<String, Result<FreezeReply, AdapterError>>,
    restrict_replies: restrict::RestrictReplies,
    duplicates: u64,
    /// What the banks did, by request, for drills to check afterwards (`audit`).
    audit: audit::HoldRecord,
    /// Returns accepted and executed (`returns`).
    returns: returns::Returns,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// An account's balance, or `None` for an unknown account.
    pub fn balance(&self, account: &AccountRef) -> Option<Fen> {
        self.accounts.get(account).map(|a| a.balance)
    }

    /// An account's whole statement, oldest first, or `None` for an unknown account.
    pub fn statement(&self, account: &AccountRef) -> Option<&[StatementEntry]> {
        self.accounts.get(account).map(|a| a.statement.as_slice())
    }

    /// Whether `account` was opened.
    pub fn has_account(&self, account: &AccountRef) -> bool {
        self.accounts.contains_key(account)
    }

    /// Whether `order` was created (paid or not).
    pub fn has_order(&self, order: &PaymentOrderRef) -> bool {
        self.orders.contains_key(order)
    }

    /// Every account, in order.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountRef> {
        self.accounts.keys()
    }

    /// Everything ever deposited.
    pub fn minted(&self) -> Fen {
        self.minted
    }

    /// Everything ever cashed out.
    pub fn cashed_out(&self) -> Fen {
        self.cashed_out
    }

    /// Transfers and deposits booked so far.
    pub fn transfers_booked(&self) -> u64 {
        self.transfers_booked
    }

    /// Sum of all balances.
    pub fn total_balances(&self) -> Result<Fen, MoneyError> {
        Fen::sum(self.accounts.values().map(|a| a.balance))
    }

    /// Checks that money is conserved: all balances plus everything cashed out and paid out
    /// equal everything deposited. An error is a bug in the ledger.
    pub fn check_conservation(&self) -> Result<(), LedgerError> {
        let balances = self.total_balances()?;
        let paid_out = self.paid_out();
        if balances.checked_add(self.cashed_out)?.checked_add(paid_out)? == self.minted {
            Ok(())
        } else {
            Err(LedgerError::Unbalanced { balances, cashed_out: self.cashed_out, paid_out, minted: self.minted })
        }
    }
}

#[cfg(test)]
mod tests;
