//! Clients of the bank and payment-platform adapters: JSON request/reply over NATS with a
//! timeout per attempt and bounded retries on timeouts and `unavailable` answers.

use std::time::Duration;

use protocol::adapter::{
    AdapterError, FlowsReply, FlowsRequest, FreezeReply, FreezeRequest, ResolveOrderReply, ResolveOrderRequest,
    StopPaymentReply, StopPaymentRequest,
};
use protocol::subjects::{self, bank_verb, platform_verb};
use protocol::{Reply, to_json};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::core::AdapterFailure;
use crate::limits::{ADAPTER_RETRIES, ADAPTER_RETRY_BACKOFF, ADAPTER_TIMEOUT};

/// Talks to banks and payment platforms.
#[derive(Debug, Clone)]
pub struct Adapters {
    client: async_nats::Client,
    timeout: Duration,
}

impl Adapters {
    pub fn new(client: async_nats::Client) -> Self {
        Adapters { client, timeout: ADAPTER_TIMEOUT }
    }

    pub async fn stop_payment(&self, request: &StopPaymentRequest) -> Result<StopPaymentReply, AdapterFailure> {
        self.call(subjects::bank(&request.account.bank(), bank_verb::STOP_PAYMENT), request).await
    }

    pub async fn flows(&self, request: &FlowsRequest) -> Result<FlowsReply, AdapterFailure> {
        self.call(subjects::bank(&request.account.bank(), bank_verb::FLOWS), request).await
    }

    pub async fn freeze(&self, request: &FreezeRequest) -> Result<FreezeReply, AdapterFailure> {
        self.call(subjects::bank(&request.account.bank(), bank_verb::FREEZE), request).await
    }

    pub async fn resolve(&self, request: &ResolveOrderRequest) -> Result<ResolveOrderReply, AdapterFailure> {
        self.call(subjects::platform(&request.order.platform(), platform_verb::RESOLVE), request).await
    }

    async fn call<Q: Serialize, A: DeserializeOwned>(&self, subject: String, request: &Q) -> Result<A, AdapterFailure> {
        let body = bytes::Bytes::from(to_json(request));
        let mut backoff = ADAPTER_RETRY_BACKOFF;
        let mut last_error = String::new();
        for attempt in 0..=ADAPTER_RETRIES {
            if attempt > 0 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let answer = tokio::time::timeout(self.timeout, self.client.request(subject.clone(), body.clone())).await;
            let message = match answer {
                Err(_) => {
                    last_error = format!("no answer on {subject} within {:?}", self.timeout);
                    continue;
                }
                Ok(Err(error)) => {
                    last_error = format!("request on {subject} failed: {error}");
                    continue;
                }
                Ok(Ok(message)) => message,
            };
            match serde_json::from_slice::<Reply<A, AdapterError>>(&message.payload) {
                Ok(Reply::Ok(answer)) => return Ok(answer),
                Ok(Reply::Error(error)) if error.kind.is_retryable() => last_error = format!("{subject}: {error}"),
                Ok(Reply::Error(error)) => {
                    return Err(AdapterFailure(format!("{subject}: {error}")));
                }
                Err(error) => {
                    return Err(AdapterFailure(format!("{subject}: unreadable reply: {error}")));
                }
            }
        }
        Err(AdapterFailure(format!("{last_error} (gave up after {} attempts)", ADAPTER_RETRIES + 1)))
    }
}
