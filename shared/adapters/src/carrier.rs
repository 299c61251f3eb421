//! The carrier client: blocking's orders and dissuasion's SMS warnings to the three carriers (`afc.carrier.<carrier>.<verb>`,
//! `protocol::carrier`), with the bank client's timeout per attempt, bounded retries and
//! error kinds ([`crate::AdapterError`]). A carrier's reply must name the request it answers;
//! one naming another is an invalid reply. A carrier's own refusals (`not_ours`,
//! `unknown_holder`, `invalid_request`) come back as `refused` with its kind.

use std::sync::Arc;
use std::time::Duration;

use protocol::carrier::{
    BlockReply, BlockRequest, Carrier, LiftRequest, RestrictReply, RestrictRequest, SmsReply, SmsRequest,
    UnrestrictRequest,
};
use protocol::subjects::carrier_verb;

use crate::errors::AdapterErrors;
use crate::{AdapterError, Adapters, Call};

/// Talks to carriers.
#[derive(Debug, Clone)]
pub struct Carriers {
    adapters: Adapters,
}

impl Carriers {
    pub fn new(client: async_nats::Client) -> Self {
        Carriers { adapters: Adapters::new(client) }
    }

    /// The same client with another timeout per attempt and retry count (tests).
    pub fn with_limits(self, timeout: Duration, retries: u32) -> Self {
        Carriers { adapters: self.adapters.with_limits(timeout, retries) }
    }

    /// The same client counting its failed calls in `errors`.
    pub fn counting(self, errors: Arc<AdapterErrors>) -> Self {
        Carriers { adapters: self.adapters.counting(errors) }
    }

    /// Blocks a phone number, domain or IP address at `carrier` for every subscriber.
    pub async fn block(&self, carrier: Carrier, request: &BlockRequest) -> Result<BlockReply, AdapterError> {
        self.adapters.order(Call::carrier(carrier, carrier_verb::BLOCK), request).await
    }

    /// Lifts this center's block at `carrier`.
    pub async fn lift(&self, carrier: Carrier, request: &LiftRequest) -> Result<BlockReply, AdapterError> {
        self.adapters.order(Call::carrier(carrier, carrier_verb::LIFT), request).await
    }

    /// Cuts channels of a phone card (a card seller's: local voice only).
    pub async fn restrict(&self, carrier: Carrier, request: &RestrictRequest) -> Result<RestrictReply, AdapterError> {
        self.adapters.order(Call::carrier(carrier, carrier_verb::RESTRICT), request).await
    }

    /// Gives a phone card's channels back.
    pub async fn unrestrict(
        &self,
        carrier: Carrier,
        request: &UnrestrictRequest,
    ) -> Result<RestrictReply, AdapterError> {
        self.adapters.order(Call::carrier(carrier, carrier_verb::UNRESTRICT), request).await
    }

    /// Sends a subscriber the center's fraud warning (dissuasion).
    pub async fn sms(&self, carrier: Carrier, request: &SmsRequest) -> Result<SmsReply, AdapterError> {
        self.adapters.order(Call::carrier(carrier, carrier_verb::SMS), request).await
    }
}
