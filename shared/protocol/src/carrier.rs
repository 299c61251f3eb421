//! Carrier adapter protocol, and what carriers and banks answer to blocking's orders.
//!
//! Carriers answer on `afc.carrier.<carrier>.{block,lift,restrict,unrestrict}`: `block` and
//! `lift` a normalised identifier (a phone number, a domain, an IP address) for every
//! subscriber, `restrict` and `unrestrict` channels of a phone card (a card seller's, cut to
//! local voice). Banks answer `afc.bank.<bank>.{restrict,unrestrict}` on an account
//! ([`crate::adapter::AccountRestrictRequest`]). Every request carries an idempotent
//! [`RequestId`]: a counterparty that sees it again answers with its first answer and does
//! nothing more. Every reply names the request it answers ([`Answer`]); a reply naming another
//! is an invalid reply. Errors are [`crate::adapter::AdapterError`]s.

use std::fmt;

use domain::{City, HolderKey, IdentifierKind, TimeMs};
use serde::{Deserialize, Serialize};

use crate::limits::{E164_DIGITS, MAX_ECHO_CHARS, MAX_IDENTIFIER_VALUE_BYTES, MAX_REQUEST_ID_BYTES};

pub use domain::{Carrier, Channel};

/// A value of a request that is not what the protocol accepts: which field, what was given
/// (at most [`MAX_ECHO_CHARS`] characters) and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field} {value:?}: expected {expected}")]
pub struct FieldError {
    pub field: &'static str,
    pub value: String,
    pub expected: &'static str,
}

impl FieldError {
    pub fn new(field: &'static str, value: &str, expected: &'static str) -> FieldError {
        let mut chars = value.chars();
        let mut echoed: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
        if chars.next().is_some() {
            echoed.push('…');
        }
        FieldError { field, value: echoed, expected }
    }
}

/// Idempotency key of an order: 1-512 visible ASCII characters ([`MAX_REQUEST_ID_BYTES`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

impl RequestId {
    pub const EXPECTED: &'static str = "1-512 visible ASCII characters (no spaces)";

    pub fn parse(s: &str) -> Result<RequestId, FieldError> {
        let valid = !s.is_empty() && s.len() <= MAX_REQUEST_ID_BYTES && s.bytes().all(|b| b.is_ascii_graphic());
        if valid { Ok(RequestId(s.to_owned())) } else { Err(FieldError::new("request_id", s, Self::EXPECTED)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RequestId {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        RequestId::parse(&s)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> String {
        id.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a carrier blocks: a normalised identifier of a kind carriers act on (a phone number,
/// a domain, an IP address), as blocking's `Identifier` gives it: `{"kind":"phone",
/// "value":"+8617000000000"}`. The value is checked for its kind's characters, not normalised
/// again: canonical forms are blocking's (docs/blocking.md).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "BlockTargetWire", into = "BlockTargetWire")]
pub struct BlockTarget {
    kind: IdentifierKind,
    value: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockTargetWire {
    kind: IdentifierKind,
    value: String,
}

impl BlockTarget {
    pub const KIND_EXPECTED: &'static str =
        "phone, domain or ip (apps and social accounts are not a carrier's to block)";

    pub fn new(kind: IdentifierKind, value: &str) -> Result<BlockTarget, FieldError> {
        let (valid, expected) = match kind {
            IdentifierKind::Phone => (is_e164(value), Phone::EXPECTED),
            IdentifierKind::Domain => (
                value.len() <= MAX_IDENTIFIER_VALUE_BYTES
                    && value.contains('.')
                    && value.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.')),
                "a registrable domain in lower-case ASCII (punycode), at most 253 bytes",
            ),
            IdentifierKind::Ip => (value.parse::<std::net::IpAddr>().is_ok(), "an IPv4 or IPv6 address"),
            IdentifierKind::App | IdentifierKind::Social => {
                return Err(FieldError::new("identifier.kind", kind.as_str(), Self::KIND_EXPECTED));
            }
        };
        if valid {
            Ok(BlockTarget { kind, value: value.to_owned() })
        } else {
            Err(FieldError::new("identifier.value", value, expected))
        }
    }

    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }

    pub fn value(&self) -> &str {
        &self.value
    }
}

impl TryFrom<BlockTargetWire> for BlockTarget {
    type Error = FieldError;
    fn try_from(wire: BlockTargetWire) -> Result<Self, FieldError> {
        BlockTarget::new(wire.kind, &wire.value)
    }
}

impl From<BlockTarget> for BlockTargetWire {
    fn from(target: BlockTarget) -> Self {
        BlockTargetWire { kind: target.kind, value: target.value }
    }
}

impl fmt::Display for BlockTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

fn is_e164(value: &str) -> bool {
    value.strip_prefix('+').is_some_and(|digits| {
        E164_DIGITS.contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
    })
}

/// A phone number in E.164, `+8617000000000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub const EXPECTED: &'static str = "an E.164 number: + then 8-15 digits, not starting with 0";

    pub fn parse(s: &str) -> Result<Phone, FieldError> {
        if is_e164(s) { Ok(Phone(s.to_owned())) } else { Err(FieldError::new("phone", s, Self::EXPECTED)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Phone::parse(&s)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.0
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whose phone service a carrier restricts: one card by its number, or every card of a holder
/// by the carrier's pseudonymous key for them. `{"phone":"+8617000000000"}` or
/// `{"holder":"cmcc:0123456789abcdef"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CardSubject {
    Phone(Phone),
    Holder(HolderKey),
}

impl fmt::Display for CardSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CardSubject::Phone(phone) => write!(f, "phone:{phone}"),
            CardSubject::Holder(holder) => write!(f, "holder:{holder}"),
        }
    }
}

/// The channels a restriction cuts or gives back: one or more, each once, all a phone card's
/// ([`PhoneChannels`]) or all a bank account's ([`BankChannels`]).
macro_rules! channel_set {
    ($(#[$doc:meta])* $name:ident, $is_bank:literal, $expected:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "Vec<Channel>", into = "Vec<Channel>")]
        pub struct $name(Vec<Channel>);

        impl $name {
            pub const EXPECTED: &'static str = $expected;

            pub fn new(channels: Vec<Channel>) -> Result<$name, FieldError> {
                let distinct = channels.iter().enumerate().all(|(i, c)| !channels[..i].contains(c));
                if !channels.is_empty() && distinct && channels.iter().all(|c| c.is_bank() == $is_bank) {
                    Ok($name(channels))
                } else {
                    let given: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
                    Err(FieldError::new("channels", &given.join(","), Self::EXPECTED))
                }
            }

            pub fn as_slice(&self) -> &[Channel] {
                &self.0
            }
        }

        impl TryFrom<Vec<Channel>> for $name {
            type Error = FieldError;
            fn try_from(channels: Vec<Channel>) -> Result<Self, FieldError> {
                $name::new(channels)
            }
        }

        impl From<$name> for Vec<Channel> {
            fn from(set: $name) -> Vec<Channel> {
                set.0
            }
        }
    };
}

channel_set!(
    /// A phone card's channels: `data`, `sms`, `out_of_area_voice`, `international`.
    PhoneChannels,
    false,
    "1-4 distinct phone-card channels: data, sms, out_of_area_voice, international"
);
channel_set!(
    /// A bank account's channels: `online_banking`, `mobile_banking`, `third_party_payment`, `atm`.
    BankChannels,
    true,
    "1-4 distinct bank channels: online_banking, mobile_banking, third_party_payment, atm"
);

/// Ask a carrier to block an identifier for all its subscribers (`block`), or to lift this
/// center's block of it (`lift`: the same body, its own request id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    pub request_id: RequestId,
    /// The center asking: a carrier holds each center's block apart, and a lift ends only the
    /// asking center's.
    pub center: City,
    pub identifier: BlockTarget,
}

/// `lift` has the body of `block`.
pub type LiftRequest = BlockRequest;

/// A carrier's answer to `block` or `lift`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockReply {
    /// The request answered.
    pub request_id: RequestId,
    pub identifier: BlockTarget,
    /// When the carrier applied it (the first time, for a repeated request).
    pub applied_at_ms: TimeMs,
    /// Whether the identifier is blocked at the carrier now, by any center: after a lift, a
    /// block another center still holds keeps it blocked.
    pub blocked: bool,
}

/// Ask a carrier to cut channels of a phone card (`restrict`), or to give them back
/// (`unrestrict`: the same body, its own request id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictRequest {
    pub request_id: RequestId,
    pub center: City,
    pub subject: CardSubject,
    pub channels: PhoneChannels,
}

/// `unrestrict` has the body of `restrict`.
pub type UnrestrictRequest = RestrictRequest;

/// A carrier's or bank's answer to `restrict` or `unrestrict`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictReply {
    /// The request answered.
    pub request_id: RequestId,
    /// Every channel cut on the card or account now, by any center, after this request.
    pub restricted: Vec<Channel>,
    /// When it was applied (the first time, for a repeated request).
    pub applied_at_ms: TimeMs,
}

/// Ask a carrier to send one of its subscribers the center's fraud warning by SMS (`sms`,
/// dissuasion's lowest step). Idempotent: the carrier sends it once per `request_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsRequest {
    pub request_id: RequestId,
    /// The center warning: the carrier signs the text with its name (96110).
    pub center: City,
    /// The subscriber, in E.164 (`+8613800138000`): personal data, a carrier's own subscriber.
    pub to: String,
}

/// A carrier's answer to `sms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsReply {
    /// The request answered.
    pub request_id: RequestId,
    /// Whether the warning reached the handset (`false`: switched off, out of service, not
    /// the carrier's number): dissuasion calls instead.
    pub delivered: bool,
    /// When the carrier handled it (the first time, for a repeated request).
    pub at_ms: TimeMs,
}

impl Answer for SmsReply {
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

impl Order for SmsRequest {
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

/// A reply that names the request it answers: the client refuses one naming another request
/// as an invalid reply.
pub trait Answer {
    fn request_id(&self) -> &RequestId;
}

impl Answer for BlockReply {
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

impl Answer for RestrictReply {
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

/// A request whose reply names it.
pub trait Order {
    fn request_id(&self) -> &RequestId;
}

impl Order for BlockRequest {
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

impl Order for RestrictRequest {
    fn request_id(&self) -> &RequestId {
        &self.request_id
    }
}

pub type BlockResponse = crate::Reply<BlockReply, crate::adapter::AdapterError>;
pub type RestrictResponse = crate::Reply<RestrictReply, crate::adapter::AdapterError>;
pub type SmsResponse = crate::Reply<SmsReply, crate::adapter::AdapterError>;

#[cfg(test)]
mod tests;
