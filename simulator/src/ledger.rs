//! The world ledger: bank accounts of every simulated bank, payment-platform orders, and the
//! authorities' holds on accounts (stop-payments and freezes).
//!
//! The ledger is pure: no I/O, no clock. Every operation takes the time it happens at, so the
//! same calls give the same ledger. Money is only created by [`Ledger::deposit`] (a victim's
//! savings) and only leaves by a cash-out, so the sum of all balances plus everything cashed
//! out always equals everything deposited ([`Ledger::check_conservation`]).
//!
//! The adapter methods ([`Ledger::stop_payment`], [`Ledger::freeze`], [`Ledger::flows`],
//! [`Ledger::resolve`]) answer exactly what a bank or platform answers on the bus, including
//! idempotency: a repeated `request_id` gets the first answer again and changes nothing.

use std::collections::BTreeMap;
use std::fmt;

use domain::{AccountRef, CaseId, City, Fen, MoneyError, PaymentOrderRef, TimeMs};
use protocol::adapter::{
    AdapterError, AdapterErrorKind, Counterparty, Direction, FlowsReply, FlowsRequest, FreezeReply, FreezeRequest,
    FreezeStatus, ResolveOrderReply, ResolveOrderRequest, StatementEntry, StopPaymentReply, StopPaymentRequest,
};

use crate::limits;

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
    #[error("ledger does not add up: balances {balances} + cashed out {cashed_out} != minted {minted}")]
    Unbalanced {
        /// Sum of all balances.
        balances: Fen,
        /// Everything cashed out.
        cashed_out: Fen,
        /// Everything deposited.
        minted: Fen,
    },
}

/// One center's stop-payments on one account.
#[derive(Debug, Clone)]
struct Stop {
    /// Stop-payments applied so far (at most [`limits::MAX_STOPS_PER_CENTER`]).
    count: u8,
    /// When the latest one lapses.
    expires_at_ms: TimeMs,
}

/// One center's freeze claim on an account: the active freeze or a queued one.
#[derive(Debug, Clone)]
struct FreezeClaim {
    center: City,
    case_id: CaseId,
    /// The amount the center asked to freeze.
    claimed: Fen,
    /// The amount actually held (only meaningful for the active freeze).
    frozen: Fen,
    expires_at_ms: TimeMs,
}

/// A bank account's state.
#[derive(Debug, Clone, Default)]
struct Account {
    balance: Fen,
    statement: Vec<StatementEntry>,
    stops: BTreeMap<City, Stop>,
    /// The freeze that holds money (the first center's), if any.
    freeze: Option<FreezeClaim>,
    /// Later centers' claims, in arrival order (轮候冻结).
    queued: Vec<FreezeClaim>,
}

impl Account {
    /// The stop-payment in force at `now` that lapses last, if any.
    fn active_stop(&self, now: TimeMs) -> Option<(&City, &Stop)> {
        self.stops.iter().filter(|(_, stop)| stop.expires_at_ms > now).max_by_key(|(_, stop)| stop.expires_at_ms)
    }

    /// Lets a lapsed freeze go and promotes the oldest queued claim still in force, which
    /// then holds what it claimed, up to the balance.
    fn promote_freeze(&mut self, now: TimeMs) {
        while self.freeze.as_ref().is_some_and(|f| f.expires_at_ms <= now) {
            self.queued.retain(|claim| claim.expires_at_ms > now);
            self.freeze = if self.queued.is_empty() {
                None
            } else {
                let mut next = self.queued.remove(0);
                next.frozen = next.claimed.min(self.balance);
                Some(next)
            };
        }
    }

    fn statement_since(&self, since_ms: TimeMs) -> Vec<StatementEntry> {
        self.statement.iter().filter(|e| e.at_ms >= since_ms).take(limits::MAX_STATEMENT_ENTRIES).cloned().collect()
    }
}

/// How a payment-platform order settled.
#[derive(Debug, Clone)]
struct Settlement {
    amount: Fen,
    settled_at_ms: TimeMs,
    transfer_id: String,
}

/// A payment-platform order: which account it pays into, and its payment once made.
#[derive(Debug, Clone)]
struct Order {
    receiving: AccountRef,
    settlement: Option<Settlement>,
}

/// One claim on an account as reported by [`Ledger::freeze_claims`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreezeClaimInfo {
    /// The claiming center.
    pub center: City,
    /// The case the claim is for.
    pub case_id: CaseId,
    /// Held amount for the active freeze; the claimed amount for a queued claim.
    pub amount: Fen,
    /// Whether the claim waits behind another freeze.
    pub queued: bool,
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
    stop_replies: BTreeMap<String, Result<StopPaymentReply, AdapterError>>,
    freeze_replies: BTreeMap<String, Result<FreezeReply, AdapterError>>,
    duplicates: u64,
}

fn adapter_error(kind: AdapterErrorKind, message: impl Into<String>) -> AdapterError {
    AdapterError { kind, message: message.into() }
}

fn check_request_id(request_id: &str) -> Result<(), AdapterError> {
    if request_id.is_empty() || request_id.len() > limits::MAX_REQUEST_ID_BYTES {
        return Err(adapter_error(
            AdapterErrorKind::InvalidRequest,
            format!("request_id must be 1-{} bytes, got {}", limits::MAX_REQUEST_ID_BYTES, request_id.len()),
        ));
    }
    Ok(())
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens an empty account.
    pub fn open_account(&mut self, account: AccountRef) -> Result<(), LedgerError> {
        if self.accounts.contains_key(&account) {
            return Err(LedgerError::AccountExists(account));
        }
        self.accounts.insert(account, Account::default());
        Ok(())
    }

    /// Creates a payment-platform order that will settle into `receiving`, once paid.
    pub fn create_order(&mut self, order: PaymentOrderRef, receiving: AccountRef) -> Result<(), LedgerError> {
        if self.orders.contains_key(&order) {
            return Err(LedgerError::OrderExists(order));
        }
        if !self.accounts.contains_key(&receiving) {
            return Err(LedgerError::UnknownAccount(receiving));
        }
        self.orders.insert(order, Order { receiving, settlement: None });
        Ok(())
    }

    /// Brings outside money into an account (a victim's savings): the only way money is
    /// created. Returns the transfer id of the deposit.
    pub fn deposit(&mut self, account: &AccountRef, amount: Fen, at_ms: TimeMs) -> Result<String, LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::ZeroAmount);
        }
        let minted = self.minted.checked_add(amount)?;
        let transfer_id = self.next_transfer_id();
        let entry = self.accounts.get_mut(account).ok_or_else(|| LedgerError::UnknownAccount(account.clone()))?;
        let balance = entry.balance.checked_add(amount)?;
        entry.balance = balance;
        entry.statement.push(StatementEntry {
            transfer_id: transfer_id.clone(),
            at_ms,
            direction: Direction::In,
            amount_fen: amount,
            counterparty: Counterparty::CashOut(DEPOSIT_COUNTERPARTY.to_owned()),
            balance_after_fen: balance,
        });
        self.minted = minted;
        self.transfers_booked += 1;
        Ok(transfer_id)
    }

    /// Moves `amount` out of `from` at `at_ms`: into an account, into a payment order (which
    /// settles into its receiving account at once), or out as cash. Returns the transfer id,
    /// which both sides' statement entries carry.
    ///
    /// Refused, with nothing moved, when `from` is under a stop-payment in force, when the
    /// transfer would take money a freeze holds ([`LedgerError::Blocked`]), or when `from`
    /// lacks the balance.
    pub fn transfer(
        &mut self,
        from: &AccountRef,
        to: &Counterparty,
        amount: Fen,
        at_ms: TimeMs,
    ) -> Result<String, LedgerError> {
        if amount.is_zero() {
            return Err(LedgerError::ZeroAmount);
        }
        // Check everything before changing anything.
        let receiving = match to {
            Counterparty::Account(account) => Some(account.clone()),
            Counterparty::Order(order) => {
                let record = self.orders.get(order).ok_or_else(|| LedgerError::UnknownOrder(order.clone()))?;
                if record.settlement.is_some() {
                    return Err(LedgerError::OrderAlreadyPaid(order.clone()));
                }
                Some(record.receiving.clone())
            }
            Counterparty::CashOut(_) => None,
        };
        if receiving.as_ref() == Some(from) {
            return Err(LedgerError::SelfTransfer(from.clone()));
        }
        let payer = self.accounts.get_mut(from).ok_or_else(|| LedgerError::UnknownAccount(from.clone()))?;
        payer.promote_freeze(at_ms);
        if let Some((center, stop)) = payer.active_stop(at_ms) {
            return Err(LedgerError::Blocked {
                account: from.clone(),
                reason: BlockReason::Stopped { center: center.clone(), until_ms: stop.expires_at_ms },
            });
        }
        let payer_after = payer.balance.checked_sub(amount).map_err(|_| LedgerError::InsufficientFunds {
            account: from.clone(),
            balance: payer.balance,
            amount,
        })?;
        if let Some(freeze) = payer.freeze.as_ref().filter(|f| f.expires_at_ms > at_ms && payer_after < f.frozen) {
            return Err(LedgerError::Blocked {
                account: from.clone(),
                reason: BlockReason::Frozen {
                    center: freeze.center.clone(),
                    frozen: freeze.frozen,
                    until_ms: freeze.expires_at_ms,
                },
            });
        }
        let receiver_after = match &receiving {
            Some(account) => {
                let receiver =
                    self.accounts.get(account).ok_or_else(|| LedgerError::UnknownAccount(account.clone()))?;
                Some(receiver.balance.checked_add(amount)?)
            }
            None => None,
        };
        let cashed_out_after = match to {
            Counterparty::CashOut(_) => self.cashed_out.checked_add(amount)?,
            _ => self.cashed_out,
        };

        // Book it.
        let transfer_id = self.next_transfer_id();
        self.transfers_booked += 1;
        self.cashed_out = cashed_out_after;
        if let Some(payer) = self.accounts.get_mut(from) {
            payer.balance = payer_after;
            payer.statement.push(StatementEntry {
                transfer_id: transfer_id.clone(),
                at_ms,
                direction: Direction::Out,
                amount_fen: amount,
                counterparty: to.clone(),
                balance_after_fen: payer_after,
            });
        }
        if let (Some(account), Some(balance)) = (&receiving, receiver_after) {
            let counterparty = match to {
                Counterparty::Order(order) => Counterparty::Order(order.clone()),
                _ => Counterparty::Account(from.clone()),
            };
            if let Some(receiver) = self.accounts.get_mut(account) {
                receiver.balance = balance;
                receiver.statement.push(StatementEntry {
                    transfer_id: transfer_id.clone(),
                    at_ms,
                    direction: Direction::In,
                    amount_fen: amount,
                    counterparty,
                    balance_after_fen: balance,
                });
            }
        }
        if let Counterparty::Order(order) = to
            && let Some(record) = self.orders.get_mut(order)
        {
            record.settlement = Some(Settlement { amount, settled_at_ms: at_ms, transfer_id: transfer_id.clone() });
        }
        Ok(transfer_id)
    }

    /// Applies a center's stop-payment (止付) at `now`, as a bank does.
    ///
    /// Idempotent by `request_id`: a repeated id gets the first reply (or error) again and
    /// changes nothing. The third stop by the same center on the same account is refused with
    /// `stop_limit_reached`. The reply holds the whole balance and lists the statement since
    /// `since_ms`.
    pub fn stop_payment(&mut self, req: &StopPaymentRequest, now: TimeMs) -> Result<StopPaymentReply, AdapterError> {
        check_request_id(&req.request_id)?;
        if let Some(first) = self.stop_replies.get(&req.request_id) {
            self.duplicates += 1;
            return first.clone();
        }
        let result = self.apply_stop(req, now);
        self.stop_replies.insert(req.request_id.clone(), result.clone());
        result
    }

    fn apply_stop(&mut self, req: &StopPaymentRequest, now: TimeMs) -> Result<StopPaymentReply, AdapterError> {
        let account = self
            .accounts
            .get_mut(&req.account)
            .ok_or_else(|| adapter_error(AdapterErrorKind::UnknownAccount, format!("no account {}", req.account)))?;
        let count = account.stops.get(&req.center).map_or(0, |stop| stop.count);
        if count >= limits::MAX_STOPS_PER_CENTER {
            return Err(adapter_error(
                AdapterErrorKind::StopLimitReached,
                format!(
                    "{} already applied {} stop-payments to {}; only a freeze can hold it longer",
                    req.center,
                    limits::MAX_STOPS_PER_CENTER,
                    req.account
                ),
            ));
        }
        let expires_at_ms = now.saturating_add(limits::STOP_DURATION_MS);
        let stop_no = count + 1;
        account.stops.insert(req.center.clone(), Stop { count: stop_no, expires_at_ms });
        Ok(StopPaymentReply {
            stop_no,
            held_fen: account.balance,
            expires_at_ms,
            stopped_at_ms: now,
            statement: account.statement_since(req.since_ms),
        })
    }

    /// Applies a center's freeze (冻结) at `now`, as a bank does.
    ///
    /// Idempotent by `request_id`. The first freeze in force on an account holds the claimed
    /// amount, up to the balance, for [`limits::FREEZE_DURATION_MS`]; a claim made while
    /// another freeze is in force (also by the same center) is queued behind it (轮候冻结),
    /// holds nothing yet, and takes over when that freeze lapses.
    pub fn freeze(&mut self, req: &FreezeRequest, now: TimeMs) -> Result<FreezeReply, AdapterError> {
        check_request_id(&req.request_id)?;
        if let Some(first) = self.freeze_replies.get(&req.request_id) {
            self.duplicates += 1;
            return first.clone();
        }
        let result = self.apply_freeze(req, now);
        self.freeze_replies.insert(req.request_id.clone(), result.clone());
        result
    }

    fn apply_freeze(&mut self, req: &FreezeRequest, now: TimeMs) -> Result<FreezeReply, AdapterError> {
        let account = self
            .accounts
            .get_mut(&req.account)
            .ok_or_else(|| adapter_error(AdapterErrorKind::UnknownAccount, format!("no account {}", req.account)))?;
        account.promote_freeze(now);
        let expires_at_ms = now.saturating_add(limits::FREEZE_DURATION_MS);
        let mut claim = FreezeClaim {
            center: req.center.clone(),
            case_id: req.case_id.clone(),
            claimed: req.amount_fen,
            frozen: Fen::ZERO,
            expires_at_ms,
        };
        if let Some(first) = account.freeze.as_ref() {
            let queued_behind = Some(first.center.clone());
            account.queued.push(claim);
            return Ok(FreezeReply {
                status: FreezeStatus::Queued,
                frozen_fen: Fen::ZERO,
                expires_at_ms,
                frozen_at_ms: now,
                queued_behind,
            });
        }
        claim.frozen = req.amount_fen.min(account.balance);
        let frozen_fen = claim.frozen;
        account.freeze = Some(claim);
        Ok(FreezeReply {
            status: FreezeStatus::Frozen,
            frozen_fen,
            expires_at_ms,
            frozen_at_ms: now,
            queued_behind: None,
        })
    }

    /// An account's balance and statement since `since_ms`, as a bank answers `flows`.
    pub fn flows(&self, req: &FlowsRequest) -> Result<FlowsReply, AdapterError> {
        let account = self
            .accounts
            .get(&req.account)
            .ok_or_else(|| adapter_error(AdapterErrorKind::UnknownAccount, format!("no account {}", req.account)))?;
        Ok(FlowsReply { balance_fen: account.balance, statement: account.statement_since(req.since_ms) })
    }

    /// Which account a paid order settled into, as a payment platform answers `resolve`.
    /// An order that does not exist or has not been paid yet is `unknown_order`.
    pub fn resolve(&self, req: &ResolveOrderRequest) -> Result<ResolveOrderReply, AdapterError> {
        let unknown = || adapter_error(AdapterErrorKind::UnknownOrder, format!("no paid order {}", req.order));
        let order = self.orders.get(&req.order).ok_or_else(unknown)?;
        let settlement = order.settlement.as_ref().ok_or_else(unknown)?;
        Ok(ResolveOrderReply {
            account: order.receiving.clone(),
            amount_fen: settlement.amount,
            settled_at_ms: settlement.settled_at_ms,
            transfer_id: settlement.transfer_id.clone(),
        })
    }

    /// Stop-payments `center` has applied to `account` (0 to [`limits::MAX_STOPS_PER_CENTER`]).
    pub fn stops_applied(&self, center: &City, account: &AccountRef) -> u8 {
        self.accounts.get(account).and_then(|a| a.stops.get(center)).map_or(0, |stop| stop.count)
    }

    /// Stop-payment and freeze requests that repeated an earlier `request_id`.
    pub fn duplicate_requests(&self) -> u64 {
        self.duplicates
    }

    /// An account's balance, or `None` for an unknown account.
    pub fn balance(&self, account: &AccountRef) -> Option<Fen> {
        self.accounts.get(account).map(|a| a.balance)
    }

    /// An account's whole statement, oldest first, or `None` for an unknown account.
    pub fn statement(&self, account: &AccountRef) -> Option<&[StatementEntry]> {
        self.accounts.get(account).map(|a| a.statement.as_slice())
    }

    /// Whether any center's stop-payment holds `account` at `now`.
    pub fn is_stopped(&self, account: &AccountRef, now: TimeMs) -> bool {
        self.accounts.get(account).is_some_and(|a| a.active_stop(now).is_some())
    }

    /// Whether a freeze holds money on `account` at `now` (the active freeze, or a queued
    /// claim that takes over when the active one lapses).
    pub fn is_frozen(&self, account: &AccountRef, now: TimeMs) -> bool {
        self.accounts
            .get(account)
            .is_some_and(|a| a.freeze.iter().chain(a.queued.iter()).any(|claim| claim.expires_at_ms > now))
    }

    /// Every freeze claim on `account`: the active freeze first (with the amount it holds),
    /// then the queued claims in arrival order (with the amount they claim).
    pub fn freeze_claims(&self, account: &AccountRef) -> Vec<FreezeClaimInfo> {
        let Some(account) = self.accounts.get(account) else {
            return Vec::new();
        };
        let active = account.freeze.iter().map(|c| FreezeClaimInfo {
            center: c.center.clone(),
            case_id: c.case_id.clone(),
            amount: c.frozen,
            queued: false,
        });
        let queued = account.queued.iter().map(|c| FreezeClaimInfo {
            center: c.center.clone(),
            case_id: c.case_id.clone(),
            amount: c.claimed,
            queued: true,
        });
        active.chain(queued).collect()
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

    /// Checks that money is conserved: all balances plus everything cashed out equal
    /// everything deposited. An error is a bug in the ledger.
    pub fn check_conservation(&self) -> Result<(), LedgerError> {
        let balances = self.total_balances()?;
        if balances.checked_add(self.cashed_out)? == self.minted {
            Ok(())
        } else {
            Err(LedgerError::Unbalanced { balances, cashed_out: self.cashed_out, minted: self.minted })
        }
    }

    fn next_transfer_id(&self) -> String {
        format!("SIM{:013}", self.transfers_booked + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: TimeMs = 1_763_700_000_000;

    fn acct(n: u32) -> AccountRef {
        AccountRef::parse(&format!("icbc:62220202{n:08}")).unwrap()
    }

    fn city(name: &str) -> City {
        City::parse(name).unwrap()
    }

    fn case(city_name: &str) -> CaseId {
        CaseId::derive(&city(city_name), 7)
    }

    fn stop_req(id: &str, center: &str, account: &AccountRef) -> StopPaymentRequest {
        StopPaymentRequest {
            request_id: id.to_owned(),
            center: city(center),
            case_id: case(center),
            account: account.clone(),
            since_ms: 0,
        }
    }

    fn freeze_req(id: &str, center: &str, account: &AccountRef, amount: Fen) -> FreezeRequest {
        FreezeRequest {
            request_id: id.to_owned(),
            center: city(center),
            case_id: case(center),
            account: account.clone(),
            amount_fen: amount,
        }
    }

    /// Victim 1 with 1000 yuan, mules 2 and 3 empty.
    fn small_world() -> Ledger {
        let mut ledger = Ledger::new();
        for n in 1..=3 {
            ledger.open_account(acct(n)).unwrap();
        }
        ledger.deposit(&acct(1), Fen::yuan(1000), T0).unwrap();
        ledger
    }

    #[test]
    fn transfer_moves_money_and_books_both_sides() {
        let mut ledger = small_world();
        let id = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(300), T0 + 1).unwrap();
        assert_eq!(ledger.balance(&acct(1)), Some(Fen::yuan(700)));
        assert_eq!(ledger.balance(&acct(2)), Some(Fen::yuan(300)));
        let out = ledger.statement(&acct(1)).unwrap().last().unwrap().clone();
        let inn = ledger.statement(&acct(2)).unwrap().last().unwrap().clone();
        assert_eq!(out.transfer_id, id);
        assert_eq!(inn.transfer_id, id);
        assert_eq!(out.direction, Direction::Out);
        assert_eq!(inn.direction, Direction::In);
        assert_eq!(out.balance_after_fen, Fen::yuan(700));
        assert_eq!(inn.counterparty, Counterparty::Account(acct(1)));
        ledger.check_conservation().unwrap();
    }

    #[test]
    fn insufficient_funds_and_unknowns_move_nothing() {
        let mut ledger = small_world();
        let err = ledger.transfer(&acct(2), &Counterparty::Account(acct(3)), Fen::new(1), T0).unwrap_err();
        assert!(matches!(err, LedgerError::InsufficientFunds { .. }));
        let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(9)), Fen::new(1), T0).unwrap_err();
        assert_eq!(err, LedgerError::UnknownAccount(acct(9)));
        assert_eq!(ledger.balance(&acct(1)), Some(Fen::yuan(1000)));
        assert_eq!(ledger.statement(&acct(1)).unwrap().len(), 1);
    }

    #[test]
    fn orders_settle_into_the_receiving_account_and_resolve() {
        let mut ledger = small_world();
        let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
        ledger.create_order(order.clone(), acct(2)).unwrap();
        let req = ResolveOrderRequest { request_id: "r1".into(), order: order.clone() };
        assert_eq!(ledger.resolve(&req).unwrap_err().kind, AdapterErrorKind::UnknownOrder);
        let id = ledger.transfer(&acct(1), &Counterparty::Order(order.clone()), Fen::yuan(200), T0 + 5).unwrap();
        let reply = ledger.resolve(&req).unwrap();
        assert_eq!(reply.account, acct(2));
        assert_eq!(reply.amount_fen, Fen::yuan(200));
        assert_eq!(reply.settled_at_ms, T0 + 5);
        assert_eq!(reply.transfer_id, id);
        assert_eq!(ledger.balance(&acct(2)), Some(Fen::yuan(200)));
        let err = ledger.transfer(&acct(1), &Counterparty::Order(order.clone()), Fen::yuan(1), T0 + 6).unwrap_err();
        assert_eq!(err, LedgerError::OrderAlreadyPaid(order));
    }

    #[test]
    fn cash_out_leaves_the_ledger_but_is_conserved() {
        let mut ledger = small_world();
        ledger.transfer(&acct(1), &Counterparty::CashOut("ATM".into()), Fen::yuan(100), T0 + 1).unwrap();
        assert_eq!(ledger.cashed_out(), Fen::yuan(100));
        assert_eq!(ledger.total_balances().unwrap(), Fen::yuan(900));
        ledger.check_conservation().unwrap();
    }

    #[test]
    fn stop_blocks_until_it_lapses_and_is_idempotent() {
        let mut ledger = small_world();
        let reply = ledger.stop_payment(&stop_req("s1", "hangzhou", &acct(1)), T0 + 10).unwrap();
        assert_eq!(reply.stop_no, 1);
        assert_eq!(reply.held_fen, Fen::yuan(1000));
        assert_eq!(reply.stopped_at_ms, T0 + 10);
        assert_eq!(reply.expires_at_ms, T0 + 10 + limits::STOP_DURATION_MS);
        assert_eq!(reply.statement.len(), 1);
        assert!(ledger.is_stopped(&acct(1), T0 + 11));

        let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(1), T0 + 11).unwrap_err();
        assert!(matches!(err, LedgerError::Blocked { reason: BlockReason::Stopped { .. }, .. }));
        assert_eq!(ledger.balance(&acct(2)), Some(Fen::ZERO));

        // The same request again: the same reply, nothing applied.
        let again = ledger.stop_payment(&stop_req("s1", "hangzhou", &acct(1)), T0 + 99).unwrap();
        assert_eq!(again, reply);
        assert_eq!(ledger.duplicate_requests(), 1);
        assert_eq!(ledger.stops_applied(&city("hangzhou"), &acct(1)), 1);

        // After 48 h the money moves again.
        let after = T0 + 10 + limits::STOP_DURATION_MS;
        assert!(!ledger.is_stopped(&acct(1), after));
        ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(1), after).unwrap();
    }

    #[test]
    fn a_center_may_stop_an_account_twice() {
        let mut ledger = small_world();
        assert_eq!(ledger.stop_payment(&stop_req("a", "hangzhou", &acct(1)), T0).unwrap().stop_no, 1);
        assert_eq!(ledger.stop_payment(&stop_req("b", "hangzhou", &acct(1)), T0 + 1).unwrap().stop_no, 2);
        let err = ledger.stop_payment(&stop_req("c", "hangzhou", &acct(1)), T0 + 2).unwrap_err();
        assert_eq!(err.kind, AdapterErrorKind::StopLimitReached);
        // Another center still may.
        assert_eq!(ledger.stop_payment(&stop_req("d", "ningbo", &acct(1)), T0 + 3).unwrap().stop_no, 1);
        assert_eq!(ledger.stops_applied(&city("hangzhou"), &acct(1)), 2);
        let err = ledger.stop_payment(&stop_req("e", "ningbo", &acct(9)), T0).unwrap_err();
        assert_eq!(err.kind, AdapterErrorKind::UnknownAccount);
        let err = ledger.stop_payment(&stop_req("", "ningbo", &acct(1)), T0).unwrap_err();
        assert_eq!(err.kind, AdapterErrorKind::InvalidRequest);
    }

    #[test]
    fn statement_since_filters_by_time() {
        let mut ledger = small_world();
        ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(1), T0 + 100).unwrap();
        let mut req = stop_req("s", "hangzhou", &acct(1));
        req.since_ms = T0 + 100;
        let reply = ledger.stop_payment(&req, T0 + 200).unwrap();
        assert_eq!(reply.statement.len(), 1);
        assert_eq!(reply.statement[0].at_ms, T0 + 100);
        let flows = ledger.flows(&FlowsRequest { account: acct(1), since_ms: T0 + 101 }).unwrap();
        assert!(flows.statement.is_empty());
        assert_eq!(flows.balance_fen, Fen::yuan(999));
    }

    #[test]
    fn freeze_holds_money_and_later_claims_queue() {
        let mut ledger = small_world();
        let first = ledger.freeze(&freeze_req("f1", "hangzhou", &acct(1), Fen::yuan(600)), T0).unwrap();
        assert_eq!(first.status, FreezeStatus::Frozen);
        assert_eq!(first.frozen_fen, Fen::yuan(600));
        assert_eq!(first.expires_at_ms, T0 + limits::FREEZE_DURATION_MS);
        assert!(ledger.is_frozen(&acct(1), T0 + 1));

        // 400 yuan are free, the frozen 600 are not.
        ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(400), T0 + 1).unwrap();
        let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::new(1), T0 + 2).unwrap_err();
        assert!(matches!(err, LedgerError::Blocked { reason: BlockReason::Frozen { .. }, .. }));

        let second = ledger.freeze(&freeze_req("f2", "ningbo", &acct(1), Fen::yuan(50)), T0 + 3).unwrap();
        assert_eq!(second.status, FreezeStatus::Queued);
        assert_eq!(second.frozen_fen, Fen::ZERO);
        assert_eq!(second.queued_behind, Some(city("hangzhou")));
        assert_eq!(ledger.freeze(&freeze_req("f2", "ningbo", &acct(1), Fen::yuan(50)), T0 + 4).unwrap(), second);
        assert_eq!(ledger.duplicate_requests(), 1);
        let claims = ledger.freeze_claims(&acct(1));
        assert_eq!(claims.len(), 2);
        assert_eq!(
            (claims[0].center.as_str(), claims[0].amount, claims[0].queued),
            ("hangzhou", Fen::yuan(600), false)
        );
        assert_eq!((claims[1].center.as_str(), claims[1].amount, claims[1].queued), ("ningbo", Fen::yuan(50), true));

        // When the first freeze lapses the queued claim takes over.
        let lapse = T0 + limits::FREEZE_DURATION_MS;
        ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(550), lapse).unwrap();
        let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::new(1), lapse).unwrap_err();
        assert!(matches!(err, LedgerError::Blocked { reason: BlockReason::Frozen { .. }, .. }));
        ledger.check_conservation().unwrap();
    }

    #[test]
    fn freeze_holds_at_most_the_balance() {
        let mut ledger = small_world();
        let reply = ledger.freeze(&freeze_req("f", "hangzhou", &acct(2), Fen::yuan(10)), T0).unwrap();
        assert_eq!(reply.status, FreezeStatus::Frozen);
        assert_eq!(reply.frozen_fen, Fen::ZERO);
    }

    /// One random operation on a five-account ledger.
    #[derive(Debug, Clone)]
    enum Op {
        Deposit(u32, u64),
        Transfer(u32, u32, u64),
        CashOut(u32, u64),
        PayOrder(u32, u32, u64),
        Stop(u32, u8),
        Freeze(u32, u8, u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u32..=5, 1u64..1_000_000).prop_map(|(a, x)| Op::Deposit(a, x)),
            (1u32..=5, 1u32..=5, 1u64..1_000_000).prop_map(|(a, b, x)| Op::Transfer(a, b, x)),
            (1u32..=5, 1u64..1_000_000).prop_map(|(a, x)| Op::CashOut(a, x)),
            (1u32..=5, 1u32..=5, 1u64..1_000_000).prop_map(|(a, b, x)| Op::PayOrder(a, b, x)),
            (1u32..=5, 0u8..3).prop_map(|(a, c)| Op::Stop(a, c)),
            (1u32..=5, 0u8..3, 0u64..1_000_000).prop_map(|(a, c, x)| Op::Freeze(a, c, x)),
        ]
    }

    proptest! {
        #[test]
        fn money_is_conserved_and_blocked_transfers_move_nothing(ops in proptest::collection::vec(op(), 1..80)) {
            let centers = ["hangzhou", "ningbo", "wenzhou"];
            let mut ledger = Ledger::new();
            for n in 1..=5 {
                ledger.open_account(acct(n)).unwrap();
            }
            for (i, op) in ops.into_iter().enumerate() {
                // An hour between operations, so stop-payments lapse now and then.
                let now = T0 + i as u64 * 3_600_000;
                let before: Vec<Option<Fen>> = (1..=5).map(|n| ledger.balance(&acct(n))).collect();
                let result = match op {
                    Op::Deposit(a, x) => ledger.deposit(&acct(a), Fen::new(x), now).map(drop),
                    Op::Transfer(a, b, x) => {
                        ledger.transfer(&acct(a), &Counterparty::Account(acct(b)), Fen::new(x), now).map(drop)
                    }
                    Op::CashOut(a, x) => {
                        ledger.transfer(&acct(a), &Counterparty::CashOut("ATM".into()), Fen::new(x), now).map(drop)
                    }
                    Op::PayOrder(a, b, x) => {
                        let order = PaymentOrderRef::parse(&format!("alipay:{i:08}")).unwrap();
                        ledger.create_order(order.clone(), acct(b)).unwrap();
                        ledger.transfer(&acct(a), &Counterparty::Order(order), Fen::new(x), now).map(drop)
                    }
                    Op::Stop(a, c) => {
                        let _ = ledger.stop_payment(&stop_req(&format!("s{i}"), centers[usize::from(c)], &acct(a)), now);
                        Ok(())
                    }
                    Op::Freeze(a, c, x) => {
                        let req = freeze_req(&format!("f{i}"), centers[usize::from(c)], &acct(a), Fen::new(x));
                        let _ = ledger.freeze(&req, now);
                        Ok(())
                    }
                };
                if result.is_err() {
                    let after: Vec<Option<Fen>> = (1..=5).map(|n| ledger.balance(&acct(n))).collect();
                    prop_assert_eq!(before, after);
                }
                prop_assert!(ledger.check_conservation().is_ok());
            }
            for n in 1..=5 {
                // Every statement's last balance is the balance.
                let account = acct(n);
                let last = ledger.statement(&account).unwrap().last().map_or(Fen::ZERO, |e| e.balance_after_fen);
                prop_assert_eq!(Some(last), ledger.balance(&account));
            }
        }
    }
}
