//! Money coming in and moving: opening accounts and payment orders, deposits (the only way
//! money is created) and transfers, which check every hold and balance before booking
//! anything.

use domain::{AccountRef, Fen, PaymentOrderRef, TimeMs};
use protocol::adapter::{Counterparty, Direction, StatementEntry};

use super::{Account, BlockReason, DEPOSIT_COUNTERPARTY, Ledger, LedgerError, Order, Settlement};

impl Ledger {
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
    /// channel the transfer needs is restricted, when the transfer would take money a freeze
    /// holds ([`LedgerError::Blocked`]), or when `from` lacks the balance.
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
        if let Some(reason) = payer.restriction_refusal(to) {
            return Err(LedgerError::Blocked { account: from.clone(), reason });
        }
        let payer_after = payer.balance.checked_sub(amount).map_err(|_| LedgerError::InsufficientFunds {
            account: from.clone(),
            balance: payer.balance,
            amount,
        })?;
        // The freezes in force (lapsed ones went above) hold their amounts together, and the
        // money of accepted returns waits to leave for the victims.
        if payer_after < payer.held() {
            let reason = match payer.freezes.first() {
                Some(first) => BlockReason::Frozen {
                    center: first.center.clone(),
                    frozen: payer.frozen(),
                    until_ms: first.expires_at_ms,
                },
                None => BlockReason::Returning { amount: payer.returning },
            };
            return Err(LedgerError::Blocked { account: from.clone(), reason });
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
            record.settlement = Some(Settlement {
                amount,
                settled_at_ms: at_ms,
                transfer_id: transfer_id.clone(),
                payer: from.clone(),
            });
        }
        Ok(transfer_id)
    }

    pub(super) fn next_transfer_id(&self) -> String {
        format!("SIM{:013}", self.transfers_booked + 1)
    }
}
