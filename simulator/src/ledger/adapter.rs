//! What every adapter answer shares: the request-id check and error replies, an account's
//! statement as the protocol lists it, and the two read-only answers, `flows` (a bank's) and
//! `resolve` (a payment platform's).

use domain::{Sensitive, TimeMs};
use protocol::adapter::{
    AdapterError, AdapterErrorKind, FlowsReply, FlowsRequest, ResolveOrderReply, ResolveOrderRequest, StatementEntry,
};

use super::{Account, Ledger};
use crate::limits;

/// An error reply of the adapter protocol.
pub(super) fn adapter_error(kind: AdapterErrorKind, message: impl Into<String>) -> AdapterError {
    AdapterError { kind, message: message.into() }
}

/// Refuses a request id that is empty or longer than the protocol allows, before the id is
/// looked up or recorded.
pub(super) fn check_request_id(request_id: &str) -> Result<(), AdapterError> {
    if request_id.is_empty() || request_id.len() > limits::MAX_REQUEST_ID_BYTES {
        return Err(adapter_error(
            AdapterErrorKind::InvalidRequest,
            format!("request_id must be 1-{} bytes, got {}", limits::MAX_REQUEST_ID_BYTES, request_id.len()),
        ));
    }
    Ok(())
}

impl Account {
    /// The statement entries from `since_ms` on, at most as many as an answer lists.
    pub(super) fn statement_since(&self, since_ms: TimeMs) -> Vec<StatementEntry> {
        self.statement.iter().filter(|e| e.at_ms >= since_ms).take(limits::MAX_STATEMENT_ENTRIES).cloned().collect()
    }
}

impl Ledger {
    /// An account's balance and statement since `since_ms`, as a bank answers `flows`.
    pub fn flows(&self, req: &FlowsRequest) -> Result<FlowsReply, AdapterError> {
        let account = self
            .accounts
            .get(&req.account)
            .ok_or_else(|| adapter_error(AdapterErrorKind::UnknownAccount, format!("no account {}", req.account)))?;
        Ok(FlowsReply { balance_fen: account.balance, statement: account.statement_since(req.since_ms) })
    }

    /// Which account a paid order settled into, and which account paid it, as a payment
    /// platform answers `resolve`. An order that does not exist or has not been paid yet is
    /// `unknown_order`.
    pub fn resolve(&self, req: &ResolveOrderRequest) -> Result<ResolveOrderReply, AdapterError> {
        let unknown = || adapter_error(AdapterErrorKind::UnknownOrder, format!("no paid order {}", req.order));
        let order = self.orders.get(&req.order).ok_or_else(unknown)?;
        let settlement = order.settlement.as_ref().ok_or_else(unknown)?;
        Ok(ResolveOrderReply {
            order: req.order.clone(),
            account: order.receiving.clone(),
            amount_fen: settlement.amount,
            settled_at_ms: settlement.settled_at_ms,
            transfer_id: settlement.transfer_id.clone(),
            payer: Some(Sensitive::new(settlement.payer.clone())),
        })
    }
}
