//! The simulated carriers (China Mobile, Unicom, Telecom): what blocking orders of them, and
//! what it leaves in force. Pure, as the ledger is: every operation takes the time it
//! happens at.
//!
//! A carrier holds each center's block of an identifier apart: the identifier is blocked while
//! any center's block stands, and a lift ends only the asking center's. Restrictions of a
//! phone card (or of every card of a holder, by the carrier's key for them) are kept per center
//! the same way. Every request is answered once: a repeated `request_id` (for the same carrier
//! and verb) gets the first answer again, error included, and changes nothing. Every request
//! applied is recorded with its time ([`Telecom::log`]).
//!
//! A carrier also sends the centers' SMS warnings to its own subscribers (`sms`, dissuasion's
//! first step), once per request id: delivered unless the number is another carrier's (or no
//! mobile number) or the handset is off ([`Telecom::switch_off`], drawn from the scenario's
//! seed). Every SMS asked for is recorded, delivered or not, with its time
//! ([`Telecom::sms_log`]): the ground truth of who was warned and when.

use std::collections::{BTreeMap, BTreeSet};

use domain::{City, IdentifierKind, TimeMs};
use protocol::adapter::{AdapterError, AdapterErrorKind};
use protocol::carrier::{
    BlockReply, BlockRequest, BlockTarget, CardSubject, Carrier, Channel, RequestId, RestrictReply, RestrictRequest,
    SmsReply, SmsRequest,
};

/// What a carrier was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CarrierVerb {
    /// Block an identifier.
    Block,
    /// Lift a center's block.
    Lift,
    /// Cut channels of a card.
    Restrict,
    /// Give them back.
    Unrestrict,
}

/// One request a carrier applied (a repeat is not recorded again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierRecord {
    /// The carrier.
    pub carrier: Carrier,
    /// What it was asked.
    pub verb: CarrierVerb,
    /// The request's id.
    pub request_id: RequestId,
    /// The center that asked.
    pub center: City,
    /// What it acted on: an identifier's or a card's text form (`phone:+86…`, `holder:…`).
    pub target: String,
    /// When it applied it.
    pub at_ms: TimeMs,
}

/// An SMS warning a carrier was asked to send (a repeat is not recorded again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRecord {
    /// The carrier asked.
    pub carrier: Carrier,
    /// The request's id.
    pub request_id: RequestId,
    /// The center warning.
    pub center: City,
    /// The subscriber (personal data: never logged).
    pub to: String,
    /// When the carrier handled it.
    pub at_ms: TimeMs,
    /// Whether it reached the handset.
    pub delivered: bool,
}

type Cuts = BTreeMap<City, BTreeSet<Channel>>;

/// The three carriers' blocks and restrictions. See the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Telecom {
    /// Each center's block of an identifier at a carrier, since when.
    blocks: BTreeMap<(Carrier, BlockTarget), BTreeMap<City, TimeMs>>,
    /// Each center's channels cut on a card (or a holder's cards) at a carrier.
    restrictions: BTreeMap<(Carrier, CardSubject), Cuts>,
    block_replies: BTreeMap<(Carrier, CarrierVerb, RequestId), Result<BlockReply, AdapterError>>,
    restrict_replies: BTreeMap<(Carrier, CarrierVerb, RequestId), Result<RestrictReply, AdapterError>>,
    log: Vec<CarrierRecord>,
    duplicates: u64,
    /// Subscribers whose handset is off: an SMS does not reach them.
    handsets_off: BTreeSet<String>,
    sms_replies: BTreeMap<(Carrier, RequestId), SmsReply>,
    sms: Vec<SmsRecord>,
}

fn refusal(kind: AdapterErrorKind, message: String) -> AdapterError {
    AdapterError { kind, message }
}

/// Refuses a phone number another carrier issued (by the number-range table).
fn check_ours(carrier: Carrier, phone: &str) -> Result<(), AdapterError> {
    match Carrier::issuing(phone) {
        Some(issuer) if issuer != carrier => {
            Err(refusal(AdapterErrorKind::NotOurs, format!("{phone} is a {issuer} number, not one of {carrier}'s")))
        }
        _ => Ok(()),
    }
}

impl Telecom {
    /// Empty: nothing blocked or restricted.
    pub fn new() -> Telecom {
        Telecom::default()
    }

    /// Blocks `req.identifier` at `carrier` for `req.center`, as a carrier answers `block`.
    pub fn block(&mut self, carrier: Carrier, req: &BlockRequest, now: TimeMs) -> Result<BlockReply, AdapterError> {
        self.block_or_lift(carrier, CarrierVerb::Block, req, now)
    }

    /// Lifts `req.center`'s block of `req.identifier` at `carrier`, as a carrier answers `lift`.
    /// A block the center does not hold is lifted already: answered `ok`.
    pub fn lift(&mut self, carrier: Carrier, req: &BlockRequest, now: TimeMs) -> Result<BlockReply, AdapterError> {
        self.block_or_lift(carrier, CarrierVerb::Lift, req, now)
    }

    /// Cuts `req.channels` of a card at `carrier`, as a carrier answers `restrict`.
    pub fn restrict(
        &mut self,
        carrier: Carrier,
        req: &RestrictRequest,
        now: TimeMs,
    ) -> Result<RestrictReply, AdapterError> {
        self.restriction(carrier, CarrierVerb::Restrict, req, now)
    }

    /// Gives `req.channels` of a card back (those `req.center` cut), as a carrier answers
    /// `unrestrict`.
    pub fn unrestrict(
        &mut self,
        carrier: Carrier,
        req: &RestrictRequest,
        now: TimeMs,
    ) -> Result<RestrictReply, AdapterError> {
        self.restriction(carrier, CarrierVerb::Unrestrict, req, now)
    }

    /// Sends `req.center`'s SMS warning to `req.to`, as a carrier answers `sms`: delivered
    /// when the number is one `carrier` issued and its handset is on. Answered once per
    /// request id: a repeat gets the first answer (its time included) and sends nothing.
    pub fn sms(&mut self, carrier: Carrier, req: &SmsRequest, now: TimeMs) -> SmsReply {
        let key = (carrier, req.request_id.clone());
        if let Some(first) = self.sms_replies.get(&key) {
            self.duplicates += 1;
            return first.clone();
        }
        let ours = Carrier::issuing(&req.to) == Some(carrier);
        let delivered = ours && !self.handsets_off.contains(&req.to);
        self.sms.push(SmsRecord {
            carrier,
            request_id: req.request_id.clone(),
            center: req.center.clone(),
            to: req.to.clone(),
            at_ms: now,
            delivered,
        });
        let reply = SmsReply { request_id: req.request_id.clone(), delivered, at_ms: now };
        self.sms_replies.insert(key, reply.clone());
        reply
    }

    /// Turns a subscriber's handset off (E.164): no SMS reaches it from now on.
    pub fn switch_off(&mut self, phone: &str) {
        self.handsets_off.insert(phone.to_owned());
    }

    /// Whether a subscriber's handset is off.
    pub fn is_off(&self, phone: &str) -> bool {
        self.handsets_off.contains(phone)
    }

    /// Every SMS warning asked for, in order, delivered or not.
    pub fn sms_log(&self) -> &[SmsRecord] {
        &self.sms
    }

    /// Since when `target` is blocked at `carrier` (its oldest block standing), if it is.
    pub fn blocked_since(&self, carrier: Carrier, target: &BlockTarget) -> Option<TimeMs> {
        self.blocks.get(&(carrier, target.clone())).and_then(|centers| centers.values().min().copied())
    }

    /// Whether `target` is blocked at any carrier.
    pub fn is_blocked(&self, target: &BlockTarget) -> bool {
        Carrier::ALL.into_iter().any(|carrier| self.blocked_since(carrier, target).is_some())
    }

    /// Since when `center` holds a block of `target` at any carrier (its oldest standing), if
    /// it does: the rule of a drill's victims, whom a block by their own city's center protects
    /// (`crate::contact`).
    pub fn blocked_by(&self, center: &City, target: &BlockTarget) -> Option<TimeMs> {
        Carrier::ALL
            .into_iter()
            .filter_map(|carrier| self.blocks.get(&(carrier, target.clone()))?.get(center).copied())
            .min()
    }

    /// Since when `target` is blocked anywhere (any carrier, any center), if it is.
    pub fn first_blocked(&self, target: &BlockTarget) -> Option<TimeMs> {
        Carrier::ALL.into_iter().filter_map(|carrier| self.blocked_since(carrier, target)).min()
    }

    /// Every channel cut on `subject` at `carrier` now, by any center.
    pub fn restricted(&self, carrier: Carrier, subject: &CardSubject) -> BTreeSet<Channel> {
        self.restrictions
            .get(&(carrier, subject.clone()))
            .map(|cuts| cuts.values().flatten().copied().collect())
            .unwrap_or_default()
    }

    /// Every request applied, in order, with its time.
    pub fn log(&self) -> &[CarrierRecord] {
        &self.log
    }

    /// Requests answered again from their first answer.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    fn block_or_lift(
        &mut self,
        carrier: Carrier,
        verb: CarrierVerb,
        req: &BlockRequest,
        now: TimeMs,
    ) -> Result<BlockReply, AdapterError> {
        let key = (carrier, verb, req.request_id.clone());
        if let Some(first) = self.block_replies.get(&key) {
            self.duplicates += 1;
            return first.clone();
        }
        let target = &req.identifier;
        let answer = match target.kind() {
            IdentifierKind::Phone => check_ours(carrier, target.value()),
            _ => Ok(()),
        }
        .map(|()| {
            let centers = self.blocks.entry((carrier, target.clone())).or_default();
            if verb == CarrierVerb::Block {
                centers.entry(req.center.clone()).or_insert(now);
            } else {
                centers.remove(&req.center);
            }
            let blocked = !centers.is_empty();
            if !blocked {
                self.blocks.remove(&(carrier, target.clone()));
            }
            self.record(carrier, verb, &req.request_id, &req.center, target.to_string(), now);
            BlockReply { request_id: req.request_id.clone(), identifier: target.clone(), applied_at_ms: now, blocked }
        });
        self.block_replies.insert(key, answer.clone());
        answer
    }

    fn restriction(
        &mut self,
        carrier: Carrier,
        verb: CarrierVerb,
        req: &RestrictRequest,
        now: TimeMs,
    ) -> Result<RestrictReply, AdapterError> {
        let key = (carrier, verb, req.request_id.clone());
        if let Some(first) = self.restrict_replies.get(&key) {
            self.duplicates += 1;
            return first.clone();
        }
        let answer = match &req.subject {
            CardSubject::Phone(phone) => check_ours(carrier, phone.as_str()),
            CardSubject::Holder(holder) if holder.issuer() != carrier.as_str() => Err(refusal(
                AdapterErrorKind::UnknownHolder,
                format!("{carrier} knows no holder {holder}: its keys start {carrier}:"),
            )),
            CardSubject::Holder(_) => Ok(()),
        }
        .map(|()| {
            let subject = (carrier, req.subject.clone());
            let cuts = self.restrictions.entry(subject.clone()).or_default();
            let channels = req.channels.as_slice();
            if verb == CarrierVerb::Restrict {
                cuts.entry(req.center.clone()).or_default().extend(channels);
            } else if let Some(cut) = cuts.get_mut(&req.center) {
                cut.retain(|channel| !channels.contains(channel));
                if cut.is_empty() {
                    cuts.remove(&req.center);
                }
            }
            let restricted: Vec<Channel> = self.restricted(carrier, &req.subject).into_iter().collect();
            if restricted.is_empty() {
                self.restrictions.remove(&subject);
            }
            self.record(carrier, verb, &req.request_id, &req.center, req.subject.to_string(), now);
            RestrictReply { request_id: req.request_id.clone(), restricted, applied_at_ms: now }
        });
        self.restrict_replies.insert(key, answer.clone());
        answer
    }

    fn record(
        &mut self,
        carrier: Carrier,
        verb: CarrierVerb,
        request_id: &RequestId,
        center: &City,
        target: String,
        at_ms: TimeMs,
    ) {
        let (request_id, center) = (request_id.clone(), center.clone());
        self.log.push(CarrierRecord { carrier, verb, request_id, center, target, at_ms });
    }
}

#[cfg(test)]
mod tests;
