//! Clients of the external systems a service asks over NATS request/reply: bank gateways
//! (`afc.bank.<bank>.<verb>`) and payment platforms (`afc.pay.<platform>.<verb>`), with the
//! JSON bodies of `protocol::adapter`, and carriers (`afc.carrier.<carrier>.<verb>`,
//! [`carrier::Carriers`]) with those of `protocol::carrier`.
//!
//! Every call has a timeout per attempt and retries a bounded number of times when asking
//! again may help (no answer in time, nobody listening, a bank answering `unavailable`).
//! A call that fails for good returns an [`AdapterError`] whose [`kind`](AdapterError::kind)
//! says why — timeout, no responders, refused (with the bank's own kind), invalid reply — so
//! a service's core can match on it.

pub mod carrier;
pub mod errors;
pub mod limits;

use std::sync::Arc;
use std::time::Duration;

use domain::{BankId, Carrier, PlatformId};
use protocol::adapter::{
    AccountRestrictRequest, AccountUnrestrictRequest, AdapterError as WireError, AdapterErrorKind as RefusalKind,
    FlowsReply, FlowsRequest, FreezeReply, FreezeRequest, ResolveOrderReply, ResolveOrderRequest, ReturnReply,
    ReturnRequest, ReturnStatus, StopPaymentReply, StopPaymentRequest,
};
use protocol::carrier::{Answer, Order, RestrictReply};
use protocol::holder::{AccountHolder, AccountRestrictAnswer};
use protocol::subjects::{self, bank_verb, platform_verb};
use protocol::{Reply, to_json};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::{Adapter, AdapterErrors};
use crate::limits::{ADAPTER_RETRIES, ADAPTER_RETRY_BACKOFF, ADAPTER_TIMEOUT};

/// Why an adapter call failed for good, after its bounded retries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{subject}: {kind} (after {attempts} attempt(s))")]
pub struct AdapterError {
    /// The subject asked.
    pub subject: String,
    pub kind: AdapterErrorKind,
    /// Attempts made, the first included.
    pub attempts: u32,
}

impl AdapterError {
    pub fn kind(&self) -> &AdapterErrorKind {
        &self.kind
    }
}

/// What went wrong with an adapter call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterErrorKind {
    /// No answer within the timeout, on every attempt.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Nobody subscribes to the subject: the bank's gateway (or platform) is not connected.
    #[error("no responders")]
    NoResponders,
    /// The request could not be sent or its answer not received (connection lost).
    #[error("request failed: {0}")]
    Transport(String),
    /// The request cannot be sent at all (a subject or body NATS refuses): asking again
    /// would fail the same way.
    #[error("request not sendable: {0}")]
    Unsendable(String),
    /// The bank or platform answered with a typed refusal.
    #[error("refused: {0}")]
    Refused(WireError),
    /// The answer is not a reply of the protocol.
    #[error("invalid reply: {0}")]
    InvalidReply(String),
}

impl AdapterErrorKind {
    /// Whether asking again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            AdapterErrorKind::Timeout(_) | AdapterErrorKind::NoResponders | AdapterErrorKind::Transport(_) => true,
            AdapterErrorKind::Refused(refusal) => refusal.kind.is_retryable(),
            AdapterErrorKind::Unsendable(_) | AdapterErrorKind::InvalidReply(_) => false,
        }
    }

    /// The bank's or platform's own kind, when it refused.
    pub fn refusal(&self) -> Option<RefusalKind> {
        match self {
            AdapterErrorKind::Refused(refusal) => Some(refusal.kind),
            _ => None,
        }
    }
}

/// A bank's confirmation of `restrict`, and the account's holder if it named one.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountRestricted {
    pub reply: RestrictReply,
    /// `None`: the bank named no holder. `Err`: it named one the protocol refuses (an
    /// [`AdapterErrorKind::InvalidReply`] naming the field, never a phone number): the caller
    /// logs it; the restriction in `reply` holds all the same.
    pub holder: Option<Result<AccountHolder, AdapterError>>,
}

/// One adapter call: its subject, and who it asks what (how a failure is counted).
pub(crate) struct Call {
    subject: String,
    adapter: Adapter,
    party: String,
    verb: &'static str,
}

impl Call {
    fn bank(bank: &BankId, verb: &'static str) -> Call {
        Call { subject: subjects::bank(bank, verb), adapter: Adapter::Bank, party: bank.to_string(), verb }
    }

    fn platform(platform: &PlatformId, verb: &'static str) -> Call {
        let subject = subjects::platform(platform, verb);
        Call { subject, adapter: Adapter::Platform, party: platform.to_string(), verb }
    }

    pub(crate) fn carrier(carrier: Carrier, verb: &'static str) -> Call {
        let subject = subjects::carrier(carrier, verb);
        Call { subject, adapter: Adapter::Carrier, party: carrier.as_str().to_owned(), verb }
    }
}

/// Talks to banks and payment platforms (and, through [`carrier::Carriers`], to carriers).
#[derive(Debug, Clone)]
pub struct Adapters {
    client: async_nats::Client,
    timeout: Duration,
    retries: u32,
    /// Where calls that fail for good are counted (the service's, for its metrics).
    errors: Arc<AdapterErrors>,
}

impl Adapters {
    pub fn new(client: async_nats::Client) -> Self {
        Adapters { client, timeout: ADAPTER_TIMEOUT, retries: ADAPTER_RETRIES, errors: Arc::default() }
    }

    /// The same client counting its failed calls in `errors`.
    pub fn counting(self, errors: Arc<AdapterErrors>) -> Self {
        Adapters { errors, ..self }
    }

    /// The same client with another timeout per attempt and retry count (tests).
    pub fn with_limits(self, timeout: Duration, retries: u32) -> Self {
        Adapters { timeout, retries, ..self }
    }

    pub async fn stop_payment(&self, request: &StopPaymentRequest) -> Result<StopPaymentReply, AdapterError> {
        self.call(Call::bank(&request.account.bank(), bank_verb::STOP_PAYMENT), request).await
    }

    pub async fn flows(&self, request: &FlowsRequest) -> Result<FlowsReply, AdapterError> {
        self.call(Call::bank(&request.account.bank(), bank_verb::FLOWS), request).await
    }

    pub async fn freeze(&self, request: &FreezeRequest) -> Result<FreezeReply, AdapterError> {
        self.call(Call::bank(&request.account.bank(), bank_verb::FREEZE), request).await
    }

    /// Cuts channels of an account (blocking's high-risk pool). The bank may name the
    /// account's holder: a malformed holder is an invalid reply of its own
    /// ([`AccountRestricted::holder`]), and the restriction is confirmed all the same.
    pub async fn restrict(&self, request: &AccountRestrictRequest) -> Result<AccountRestricted, AdapterError> {
        let call = Call::bank(&request.account.bank(), bank_verb::RESTRICT);
        let subject = call.subject.clone();
        let answer: AccountRestrictAnswer = self.order(call, request).await?;
        let (reply, holder) = answer.split(&request.account);
        let holder = holder.map(|read| {
            read.map_err(|error| AdapterError {
                subject,
                kind: AdapterErrorKind::InvalidReply(error.to_string()),
                attempts: 1,
            })
        });
        Ok(AccountRestricted { reply, holder })
    }

    /// Gives an account's channels back.
    pub async fn unrestrict(&self, request: &AccountUnrestrictRequest) -> Result<RestrictReply, AdapterError> {
        self.order(Call::bank(&request.account.bank(), bank_verb::UNRESTRICT), request).await
    }

    /// Asks the bank holding `request.account` to pay money frozen there for the center back
    /// to the victim's account. The request is idempotent: asking again with the same request
    /// (after a timeout, or to learn whether an `accepted` return was executed) answers the
    /// return's state and moves no money twice. A reply for another amount, or `executed`
    /// without its transfer, is an invalid reply.
    pub async fn return_money(&self, request: &ReturnRequest) -> Result<ReturnReply, AdapterError> {
        let call = Call::bank(&request.account.bank(), bank_verb::RETURN);
        self.ask(call, request, |reply: &ReturnReply| check_return(request, reply)).await
    }

    pub async fn resolve(&self, request: &ResolveOrderRequest) -> Result<ResolveOrderReply, AdapterError> {
        self.call(Call::platform(&request.order.platform(), platform_verb::RESOLVE), request).await
    }

    /// Asks an order (a request with an idempotent id) and takes only a reply that names it:
    /// one naming another request is an invalid reply.
    pub(crate) async fn order<Q: Serialize + Order, A: DeserializeOwned + Answer>(
        &self,
        call: Call,
        request: &Q,
    ) -> Result<A, AdapterError> {
        let asked = request.request_id();
        self.ask(call, request, |answer: &A| {
            let named = answer.request_id();
            if named == asked { Ok(()) } else { Err(format!("the reply names request {named}, not {asked}")) }
        })
        .await
    }

    async fn call<Q: Serialize, A: DeserializeOwned>(&self, call: Call, request: &Q) -> Result<A, AdapterError> {
        self.ask(call, request, |_: &A| Ok(())).await
    }

    /// Asks with bounded retries; `check` refuses an answer that is well-formed but not this
    /// request's (an invalid reply). A call that fails for good is counted once.
    async fn ask<Q: Serialize, A: DeserializeOwned>(
        &self,
        call: Call,
        request: &Q,
        check: impl Fn(&A) -> Result<(), String>,
    ) -> Result<A, AdapterError> {
        let body = bytes::Bytes::from(to_json(request));
        let mut backoff = ADAPTER_RETRY_BACKOFF;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let kind = match self.attempt::<A>(&call.subject, body.clone()).await {
                Ok(answer) => match check(&answer) {
                    Ok(()) => return Ok(answer),
                    Err(why) => AdapterErrorKind::InvalidReply(why),
                },
                Err(kind) => kind,
            };
            if !kind.is_transient() || attempts > self.retries {
                self.errors.count(call.adapter, &call.party, call.verb, &kind);
                return Err(AdapterError { subject: call.subject, kind, attempts });
            }
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
        }
    }

    async fn attempt<A: DeserializeOwned>(&self, subject: &str, body: bytes::Bytes) -> Result<A, AdapterErrorKind> {
        let asked = self.client.request(subject.to_owned(), body);
        let message = match tokio::time::timeout(self.timeout, asked).await {
            Err(_) => return Err(AdapterErrorKind::Timeout(self.timeout)),
            Ok(Err(error)) => {
                return Err(match error.kind() {
                    async_nats::RequestErrorKind::NoResponders => AdapterErrorKind::NoResponders,
                    async_nats::RequestErrorKind::TimedOut => AdapterErrorKind::Timeout(self.timeout),
                    async_nats::RequestErrorKind::InvalidSubject | async_nats::RequestErrorKind::MaxPayloadExceeded => {
                        AdapterErrorKind::Unsendable(error.to_string())
                    }
                    async_nats::RequestErrorKind::Other => AdapterErrorKind::Transport(error.to_string()),
                });
            }
            Ok(Ok(message)) => message,
        };
        match serde_json::from_slice::<Reply<A, WireError>>(&message.payload) {
            Ok(Reply::Ok(answer)) => Ok(answer),
            Ok(Reply::Error(refusal)) => Err(AdapterErrorKind::Refused(refusal)),
            Err(error) => Err(AdapterErrorKind::InvalidReply(error.to_string())),
        }
    }
}

/// Whether `reply` answers `request`: the instruction's amount, and an executed return names
/// its transfer and time.
fn check_return(request: &ReturnRequest, reply: &ReturnReply) -> Result<(), String> {
    if reply.amount_fen != request.amount_fen {
        return Err(format!("the reply is for {}, the return asked {}", reply.amount_fen, request.amount_fen));
    }
    match (reply.status, &reply.transfer_id, reply.executed_at_ms) {
        (ReturnStatus::Executed, None, _) | (ReturnStatus::Executed, _, None) => {
            Err("an executed return names its transfer_id and executed_at_ms".to_owned())
        }
        _ => Ok(()),
    }
}
