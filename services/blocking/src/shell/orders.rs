//! Orders to carriers and banks: each in a task of its own (at most
//! [`MAX_ORDERS_IN_FLIGHT`] at once), through `shared/adapters` (a timeout per attempt,
//! bounded retries, typed errors); the answer goes back to the engine as
//! [`Input::OrderAnswered`], where the core records it, or schedules the next attempt under
//! the same request id.
//!
//! The core's [`Order`] names its target as text (an identifier's `<kind>:<value>`, or an
//! account); here it becomes the wire's typed request. A target the wire refuses is an order
//! that can never succeed: it is answered `refused` at once, and the core records it failed,
//! for the liaison.

use std::sync::Arc;

use adapters::carrier::Carriers;
use adapters::{AdapterError, AdapterErrorKind, Adapters};
use domain::{AccountRef, City};
use protocol::adapter::AccountRestrictRequest;
use protocol::carrier::{
    BankChannels, BlockRequest, BlockTarget, CardSubject, FieldError, Phone, PhoneChannels, RequestId, RestrictRequest,
};
use tokio::sync::Semaphore;

use super::engine::{EngineMsg, EngineTx};
use super::holders::Named;
use crate::core::{Counterparty, Input, Order, Verb};
use crate::events::OrderErrorKind;
use crate::limits::MAX_ORDERS_IN_FLIGHT;
use crate::normalize::Identifier;

/// What the order tasks share.
pub(super) struct Orders {
    city: City,
    carriers: Carriers,
    banks: Adapters,
    engine: EngineTx,
    in_flight: Semaphore,
}

impl Orders {
    pub(super) fn new(city: City, carriers: Carriers, banks: Adapters, engine: EngineTx) -> Orders {
        Orders { city, carriers, banks, engine, in_flight: Semaphore::new(MAX_ORDERS_IN_FLIGHT) }
    }

    /// Sends `order` in its own task; its answer goes back to the engine.
    pub(super) fn send(self: Arc<Self>, order: Order) {
        tokio::spawn(async move {
            // A carrier's answer settles a block: urgent; a bank's settles a pool restriction.
            let queue = match order.to {
                Counterparty::Carrier(_) => &self.engine.urgent,
                Counterparty::Bank(_) => &self.engine.routine,
            };
            let permit = self.in_flight.acquire().await.expect("semaphore never closes");
            let result = self.ask(&order).await;
            drop(permit);
            let result = match result {
                Ok(named) => {
                    // The holder first: should the engine stop between the two, the order is
                    // sent again (it is not confirmed), and the bank's first answer names the
                    // holder again.
                    if let Some(named) = named {
                        let _ = queue.send(EngineMsg::Holder(named)).await;
                    }
                    Ok(())
                }
                Err(kind) => {
                    tracing::info!(request_id = %order.request_id, error = ?kind, "order not confirmed");
                    Err(kind)
                }
            };
            let answer = Input::OrderAnswered { request_id: order.request_id, result };
            let _ = queue.send(EngineMsg::Answer(answer)).await;
        });
    }

    /// Asks the order's counterparty; a bank's confirmation of `restrict` may name the
    /// account's holder.
    async fn ask(&self, order: &Order) -> Result<Option<Named>, OrderErrorKind> {
        let request_id = RequestId::parse(&order.request_id).map_err(unsendable)?;
        let center = self.city.clone();
        match (&order.to, order.verb) {
            (Counterparty::Carrier(carrier), Verb::Block | Verb::Lift) => {
                let identifier = Identifier::parse(&order.target).map_err(|e| {
                    tracing::error!(target = %order.target, error = %e, "an order's target is not an identifier");
                    OrderErrorKind::Refused
                })?;
                let target = BlockTarget::new(identifier.kind(), identifier.value()).map_err(unsendable)?;
                let request = BlockRequest { request_id, center, identifier: target };
                let reply = if order.verb == Verb::Block {
                    self.carriers.block(*carrier, &request).await
                } else {
                    self.carriers.lift(*carrier, &request).await
                };
                reply.map(|_| None).map_err(kind_of)
            }
            (Counterparty::Carrier(carrier), _) => {
                let phone = order.target.strip_prefix("phone:").unwrap_or(&order.target);
                let subject = CardSubject::Phone(Phone::parse(phone).map_err(unsendable)?);
                let channels = PhoneChannels::new(order.channels.clone()).map_err(unsendable)?;
                let request = RestrictRequest { request_id, center, subject, channels };
                let reply = if order.verb == Verb::Unrestrict {
                    self.carriers.unrestrict(*carrier, &request).await
                } else {
                    self.carriers.restrict(*carrier, &request).await
                };
                reply.map(|_| None).map_err(kind_of)
            }
            (Counterparty::Bank(_), verb) => {
                let account = AccountRef::parse(&order.target).map_err(|e| {
                    tracing::error!(target = %order.target, error = %e, "a bank order's target is not an account");
                    OrderErrorKind::Refused
                })?;
                let channels = BankChannels::new(order.channels.clone()).map_err(unsendable)?;
                let request = AccountRestrictRequest { request_id, center, account, channels };
                if verb == Verb::Unrestrict {
                    return self.banks.unrestrict(&request).await.map(|_| None).map_err(kind_of);
                }
                let restricted = self.banks.restrict(&request).await.map_err(kind_of)?;
                match restricted.holder {
                    None => Ok(None),
                    Some(Ok(holder)) => Ok(Some(Named { account: request.account, holder })),
                    // The bank applied the restriction: it is confirmed; only the holder is lost.
                    Some(Err(error)) => {
                        tracing::warn!(request_id = %order.request_id, %error, "the bank's holder refused; the restriction is confirmed");
                        Ok(None)
                    }
                }
            }
        }
    }
}

/// An order the wire refuses to carry can never succeed.
fn unsendable(error: FieldError) -> OrderErrorKind {
    tracing::error!(%error, "an order cannot be put on the wire");
    OrderErrorKind::Refused
}

/// The core's kind of an adapter's failure: what it matches on to retry or give up.
pub(super) fn kind_of(error: AdapterError) -> OrderErrorKind {
    match error.kind {
        AdapterErrorKind::Timeout(_) => OrderErrorKind::Timeout,
        AdapterErrorKind::NoResponders => OrderErrorKind::NoResponders,
        AdapterErrorKind::Transport(_) => OrderErrorKind::Transport,
        AdapterErrorKind::InvalidReply(_) => OrderErrorKind::InvalidReply,
        AdapterErrorKind::Refused(refusal) if refusal.kind.is_retryable() => OrderErrorKind::Unavailable,
        AdapterErrorKind::Refused(_) | AdapterErrorKind::Unsendable(_) => OrderErrorKind::Refused,
    }
}
