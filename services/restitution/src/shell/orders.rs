//! What leaves restitution: statement reads (`flows`) for proposals, and returns
//! (`afc.bank.<bank>.return`) to the victims' own accounts (原路返还).
//!
//! A return is sent once its `return_instructed` is committed. The victim's account is read
//! when it is sent, never kept: from intake (`payers`: the account the report named for the
//! case's transfers) or, for a payment order, from the platform that holds the order
//! (`resolve`'s `payer`). The bank's first answer may be `accepted`: the same request is
//! asked again every [`RETURN_POLL_MS`] of business time until it is `executed` (the bank
//! answers a repeated `request_id` with the state of the first, moving no money twice), the
//! core raising `return_overdue` after three working days. A refusal for good, or no
//! account to pay, goes back to the core as [`Input::ReturnImpossible`] for staff.

use std::sync::Arc;
use std::time::Duration;

use adapters::Adapters;
use domain::report::Destination;
use domain::{AccountRef, CaseId, City, Sensitive, Service, SharedClock};
use events::restitution::{AllocationNo, ReturnProblem};
use protocol::adapter::{FlowsRequest, ResolveOrderRequest, ReturnRequest, ReturnStatus};
use protocol::intake::{PayersRequest, PayersResponse, VERB_PAYERS};
use protocol::{Reply, subjects};
use tokio::sync::{Semaphore, mpsc};

use super::Shared;
use super::engine::EngineMsg;
use crate::core::Entry;
use crate::core::process::{Input, Order, Phase};
use crate::limits::{
    INTAKE_TIMEOUT, MAX_ORDERS_IN_FLIGHT, RETURN_POLL_MS, RETURN_RETRY_BACKOFF, STATEMENT_READ_ATTEMPTS,
};

pub(super) struct Orders {
    pub city: City,
    pub client: async_nats::Client,
    pub adapters: Adapters,
    pub state: Shared,
    pub clock: SharedClock,
    pub engine: mpsc::Sender<EngineMsg>,
    pub in_flight: Semaphore,
}

impl Orders {
    pub(super) fn new(
        city: City,
        client: async_nats::Client,
        adapters: Adapters,
        state: Shared,
        clock: SharedClock,
        engine: mpsc::Sender<EngineMsg>,
    ) -> Orders {
        Orders { city, client, adapters, state, clock, engine, in_flight: Semaphore::new(MAX_ORDERS_IN_FLIGHT) }
    }

    /// Carries out `order` in a task of its own; what comes back goes to the engine.
    pub(super) fn send(self: Arc<Self>, order: Order) {
        tokio::spawn(async move {
            let input = match order {
                Order::ReadStatement { account, since_ms, rule, by } => {
                    let statement = self.statement(&account, since_ms).await;
                    Some(Input::StatementRead { account, statement, rule, by })
                }
                Order::Return { allocation, case_id, request_id, account, amount_fen } => {
                    self.ret(allocation, case_id, request_id, account, amount_fen).await
                }
            };
            if let Some(input) = input {
                let _ = self.engine.send(EngineMsg::Answer(input)).await;
            }
        });
    }

    /// The account's statement from `since_ms`, or `None` when the bank could not give it
    /// after [`STATEMENT_READ_ATTEMPTS`] calls (each with the adapters' own retries).
    pub(super) async fn statement(&self, account: &AccountRef, since_ms: u64) -> Option<Vec<Entry>> {
        let request = FlowsRequest { account: account.clone(), since_ms };
        for attempt in 1..=STATEMENT_READ_ATTEMPTS {
            let permit = self.in_flight.acquire().await.expect("semaphore never closes");
            let reply = self.adapters.flows(&request).await;
            drop(permit);
            match reply {
                Ok(reply) => return Some(reply.statement.iter().map(Entry::from).collect()),
                Err(error) if error.kind().is_transient() && attempt < STATEMENT_READ_ATTEMPTS => {
                    tracing::info!(%account, %error, attempt, "statement not read yet");
                    tokio::time::sleep(RETURN_RETRY_BACKOFF).await;
                }
                Err(error) => {
                    tracing::warn!(%account, %error, "statement not read: the allocation is proposed without it");
                    return None;
                }
            }
        }
        None
    }

    async fn ret(
        &self,
        allocation: AllocationNo,
        case_id: CaseId,
        request_id: String,
        account: AccountRef,
        amount_fen: domain::Fen,
    ) -> Option<Input> {
        let impossible = |problem, detail: String| {
            Some(Input::ReturnImpossible { allocation, case_id: case_id.clone(), problem, detail })
        };
        let to_account = loop {
            if !self.awaited(allocation, &case_id) {
                return None;
            }
            match self.payer(&case_id).await {
                Ok(Some(account)) => break account,
                Ok(None) => {
                    let detail = "neither the report nor the platform names the victim's paying account".to_owned();
                    return impossible(ReturnProblem::NoPayingAccount, detail);
                }
                Err(why) => {
                    tracing::warn!(%request_id, %why, "the victim's account could not be read yet");
                    tokio::time::sleep(RETURN_RETRY_BACKOFF).await;
                }
            }
        };
        let request = ReturnRequest {
            request_id: request_id.clone(),
            center: self.city.clone(),
            case_id: case_id.clone(),
            account,
            to_account,
            amount_fen,
            allocation: format!("a{allocation}"),
        };
        loop {
            if !self.awaited(allocation, &case_id) {
                return None;
            }
            let permit = self.in_flight.acquire().await.expect("semaphore never closes");
            let reply = self.adapters.return_money(&request).await;
            drop(permit);
            let wait = match reply {
                Ok(reply) if reply.status == ReturnStatus::Executed => {
                    let executed = reply
                        .transfer_id
                        .map(|id| (reply.amount_fen, id, reply.executed_at_ms.unwrap_or_else(|| self.clock.now_ms())));
                    if executed.is_none() {
                        tracing::warn!(%request_id, "the bank says executed but names no transfer; asked again");
                    }
                    match executed {
                        Some(executed) => {
                            return Some(Input::ReturnAnswered { allocation, case_id, executed: Some(executed) });
                        }
                        None => self.clock.real_duration(RETURN_POLL_MS),
                    }
                }
                Ok(_) => self.clock.real_duration(RETURN_POLL_MS),
                Err(error) if error.kind().is_transient() => {
                    tracing::info!(%request_id, %error, "return not answered; asked again");
                    RETURN_RETRY_BACKOFF
                }
                Err(error) => {
                    let kind = error.kind().refusal().map_or_else(|| "invalid_reply".to_owned(), |k| k.to_string());
                    // The bank's words go into an event the province receives: no account
                    // number it may quote (the victim's own) goes with them.
                    return impossible(ReturnProblem::Refused { kind }, without_numbers(&error.to_string()));
                }
            };
            tokio::time::sleep(wait.min(Duration::from_secs(3600))).await;
        }
    }

    /// Whether the core still awaits this return (not settled, allocation executing).
    fn awaited(&self, allocation: AllocationNo, case_id: &CaseId) -> bool {
        let state = self.state.read().expect("the engine never panics holding the state");
        state
            .allocations
            .get(&allocation)
            .is_some_and(|a| a.phase == Phase::Executing && a.returns.get(case_id).is_some_and(|r| r.outcome.is_none()))
    }

    /// The victim's paying account: the first the report named (intake's `payers`), else the
    /// payer the platform names for the case's first order. `Err` when one of them cannot
    /// answer now.
    async fn payer(&self, case_id: &CaseId) -> Result<Option<Sensitive<AccountRef>>, String> {
        let subject = subjects::command(&self.city, Service::Intake, VERB_PAYERS);
        let body = serde_json::to_vec(&PayersRequest { case_id: case_id.clone() }).expect("requests encode");
        let asked = tokio::time::timeout(INTAKE_TIMEOUT, self.client.request(subject, body.into())).await;
        let answer = asked.map_err(|_| "intake: no answer".to_owned())?.map_err(|e| format!("intake: {e}"))?;
        let response: PayersResponse =
            serde_json::from_slice(&answer.payload).map_err(|e| format!("intake: unreadable answer: {e}"))?;
        let payers = match response {
            Reply::Ok(payers) => payers,
            Reply::Error(error) => return Err(format!("intake: {}", error.message)),
        };
        if let Some(first) = payers.transfers.into_iter().min_by_key(|t| t.index) {
            return Ok(Some(first.from_account));
        }
        let order = {
            let state = self.state.read().expect("the engine never panics holding the state");
            state.cases.get(case_id).and_then(|case| {
                case.hops.values().filter(|h| h.depth == 1).find_map(|h| match &h.target {
                    Destination::Order(order) => Some(order.clone()),
                    Destination::Account(_) => None,
                })
            })
        };
        let Some(order) = order else { return Ok(None) };
        let request = ResolveOrderRequest { request_id: format!("{}/restitution/payer/{case_id}", self.city), order };
        match self.adapters.resolve(&request).await {
            Ok(reply) => Ok(reply.payer),
            Err(error) if error.kind().is_transient() => Err(error.to_string()),
            Err(_) => Ok(None),
        }
    }
}

/// Digits in a row, possibly split by spaces or dashes, from which a run is taken for an
/// account or card number (bank accounts have 10–19 digits; a phone 11).
const NUMBER_RUN_DIGITS: usize = 6;

/// `text` with every run of [`NUMBER_RUN_DIGITS`] or more digits (spaces and dashes between
/// them allowed) replaced by `[number]`: what a bank's refusal may quote of an account or a
/// phone stays out of the events.
pub(super) fn without_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            // The run: digits, with single spaces or dashes between them.
            let (mut end, mut digits) = (i, 0);
            let mut j = i;
            while j < chars.len() {
                if chars[j].is_ascii_digit() {
                    digits += 1;
                    end = j + 1;
                    j += 1;
                } else if matches!(chars[j], ' ' | '-') && chars.get(j + 1).is_some_and(char::is_ascii_digit) {
                    j += 1;
                } else {
                    break;
                }
            }
            if digits >= NUMBER_RUN_DIGITS {
                out.push_str("[number]");
            } else {
                out.extend(&chars[i..end]);
            }
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::without_numbers;

    #[test]
    fn a_banks_refusal_loses_every_account_or_phone_number_it_quotes_and_keeps_the_rest() {
        assert_eq!(
            without_numbers("account 6222 0200 0000 0001 is closed (code 41); call 138-0013-8000"),
            "account [number] is closed (code 41); call [number]"
        );
        assert_eq!(without_numbers("to_account icbc:6222020000000001 refused"), "to_account icbc:[number] refused");
        assert_eq!(without_numbers("limit 50000 fen, 2 tries"), "limit 50000 fen, 2 tries");
        assert_eq!(without_numbers("账户6222020000000001已销户"), "账户[number]已销户");
    }
}
