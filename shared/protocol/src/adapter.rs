//! Bank and payment-platform adapter protocols.
//!
//! Banks answer on `afc.bank.<bank>.{stop_payment,freeze,flows,restrict,unrestrict,return}`,
//! payment platforms on `afc.pay.<platform>.resolve`. Requests that change state carry a
//! `request_id`; a bank that sees the same `request_id` again answers with its first answer
//! (for `return`, the return's state now) and does nothing more, so a request re-sent after a
//! timeout or a crash is applied once.

use domain::{AccountRef, CaseId, City, Fen, PaymentOrderRef, Sensitive, TimeMs};
use serde::{Deserialize, Serialize};

/// Ask a bank to stop payments out of an account (止付) and to return its statement since the
/// traced money arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopPaymentRequest {
    /// Idempotency key, unique per case, account and stop number.
    pub request_id: String,
    /// The center asking.
    pub center: City,
    pub case_id: CaseId,
    pub account: AccountRef,
    /// Statement entries at or after this time are returned.
    pub since_ms: TimeMs,
}

/// The bank's answer to a stop-payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopPaymentReply {
    /// 1 for the first stop-payment on this account by this center, 2 for the renewal.
    pub stop_no: u8,
    /// Balance now held: it can no longer leave the account.
    pub held_fen: Fen,
    /// When this stop-payment lapses (48 h after it was applied).
    pub expires_at_ms: TimeMs,
    /// When the bank applied the stop.
    pub stopped_at_ms: TimeMs,
    /// The `since_ms` of the statement below: the request's, or — when the request repeated
    /// an earlier `request_id` — the first request's, whose answer this is.
    pub statement_since_ms: TimeMs,
    /// Entries at or after `statement_since_ms`, oldest first.
    pub statement: Vec<StatementEntry>,
}

/// Ask a bank for an account's entries since a time, without stopping it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowsRequest {
    pub account: AccountRef,
    pub since_ms: TimeMs,
}

/// An account's statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowsReply {
    pub balance_fen: Fen,
    pub statement: Vec<StatementEntry>,
}

/// One booked movement on an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementEntry {
    /// The transfer's reference, the same on both sides of a transfer.
    pub transfer_id: String,
    pub at_ms: TimeMs,
    pub direction: Direction,
    pub amount_fen: Fen,
    pub counterparty: Counterparty,
    /// The account's balance right after this entry.
    pub balance_after_fen: Fen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

/// The other side of a statement entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "ref")]
pub enum Counterparty {
    /// A bank account.
    Account(AccountRef),
    /// A payment-platform order, to be resolved to the receiving account.
    Order(PaymentOrderRef),
    /// Cash taken out (ATM, counter): the trail ends here.
    CashOut(String),
}

/// Ask a bank to freeze (冻结) an amount on an account, usually one this center stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeRequest {
    pub request_id: String,
    pub center: City,
    pub case_id: CaseId,
    pub account: AccountRef,
    /// The amount this center claims on the account.
    pub amount_fen: Fen,
}

/// The bank's answer to a freeze.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeReply {
    pub status: FreezeStatus,
    /// Amount frozen for this claim (0 when queued behind another center's freeze).
    pub frozen_fen: Fen,
    /// When the freeze lapses (6 months), or when the queued claim would lapse.
    pub expires_at_ms: TimeMs,
    pub frozen_at_ms: TimeMs,
    /// The center whose freeze this claim queues behind (轮候冻结).
    pub queued_behind: Option<City>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FreezeStatus {
    Frozen,
    Queued,
}

/// Ask a payment platform which bank account an order paid into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveOrderRequest {
    pub request_id: String,
    pub order: PaymentOrderRef,
}

/// Where an order's money went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveOrderReply {
    /// The order answered: the asker checks it is the one it asked about.
    pub order: PaymentOrderRef,
    /// The receiving bank card.
    pub account: AccountRef,
    pub amount_fen: Fen,
    /// When the money was credited to the receiving account.
    pub settled_at_ms: TimeMs,
    /// The bank transfer that settled the order.
    pub transfer_id: String,
    /// The account that paid the order, if the platform says: for the victim's own payment,
    /// the victim's account, which restitution returns the money to (原路返还). Personal data
    /// of the victim's: freezing does not record it (docs/protocols.md, `resolve`). Absent
    /// in replies of platforms that do not give it; one that is not an account is read as
    /// absent, so that it never fails the resolution freezing needs within the golden half
    /// hour. Masked when formatted, so a logged reply shows no number.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_account")]
    pub payer: Option<Sensitive<AccountRef>>,
}

/// An optional account that is absent when it is not an account (see
/// [`ResolveOrderReply::payer`]).
fn lenient_account<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Sensitive<AccountRef>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Loose {
        Text(String),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Loose>::deserialize(deserializer)? {
        Some(Loose::Text(text)) => AccountRef::parse(&text).ok().map(Sensitive::new),
        Some(Loose::Other(_)) | None => None,
    })
}

/// Ask a bank to cut channels of an account (`restrict`: a pool account keeps only the
/// counter), or to give them back (`unrestrict`: the same body, its own request id). The
/// bank answers a [`crate::holder::AccountRestrictReply`], naming the account's holder if it knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRestrictRequest {
    pub request_id: crate::carrier::RequestId,
    pub center: City,
    pub account: AccountRef,
    pub channels: crate::carrier::BankChannels,
}

/// `unrestrict` has the body of `restrict`.
pub type AccountUnrestrictRequest = AccountRestrictRequest;

impl crate::carrier::Order for AccountRestrictRequest {
    fn request_id(&self) -> &crate::carrier::RequestId {
        &self.request_id
    }
}

/// Ask a bank to pay money frozen for this center on `account` back to a victim's account
/// (资金返还, 原路返还). The bank pays at most what this center's freezes hold there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnRequest {
    /// Idempotency key: restitution derives it from the allocation and the victim; the same
    /// id again is answered with the return's state now and moves no money.
    pub request_id: String,
    /// The center whose freezes hold the money.
    pub center: City,
    pub case_id: CaseId,
    /// The frozen account the money leaves.
    pub account: AccountRef,
    /// The victim's account it goes back to. Personal data: masked when formatted.
    pub to_account: Sensitive<AccountRef>,
    pub amount_fen: Fen,
    /// The allocation that is the legal basis (its id), for the bank's records.
    pub allocation: String,
}

/// The bank's answer to a return: accepted, to be executed within 3 working days, or
/// executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnReply {
    pub status: ReturnStatus,
    /// The amount the bank accepted or executed: the instruction's.
    pub amount_fen: Fen,
    /// The transfer that returned the money, once executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
    /// When the bank booked the transfer, once executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executed_at_ms: Option<TimeMs>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    /// The bank took the money out of the freeze and will pay it within 3 working days: ask
    /// again with the same request to learn when it has.
    Accepted,
    /// The money left the account for the victim's.
    Executed,
}

/// A typed failure from a bank, payment platform or carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
#[serde(deny_unknown_fields)]
pub struct AdapterError {
    pub kind: AdapterErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdapterErrorKind {
    /// The body is not a valid request.
    InvalidRequest,
    UnknownAccount,
    UnknownOrder,
    /// The account already had two stop-payments from this center.
    StopLimitReached,
    /// Temporarily unable to answer; the request may be retried.
    Unavailable,
    /// A carrier does not serve this phone number (another carrier's, or ported out).
    NotOurs,
    /// A carrier or bank knows no holder by this key.
    UnknownHolder,
    /// A return: the account holds less money frozen for this center than asked.
    NotFrozen,
}

impl AdapterErrorKind {
    /// Whether asking again may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, AdapterErrorKind::Unavailable)
    }

    /// Its name on the wire (`stop_limit_reached`).
    pub fn as_str(self) -> &'static str {
        match self {
            AdapterErrorKind::InvalidRequest => "invalid_request",
            AdapterErrorKind::UnknownAccount => "unknown_account",
            AdapterErrorKind::UnknownOrder => "unknown_order",
            AdapterErrorKind::StopLimitReached => "stop_limit_reached",
            AdapterErrorKind::Unavailable => "unavailable",
            AdapterErrorKind::NotOurs => "not_ours",
            AdapterErrorKind::UnknownHolder => "unknown_holder",
            AdapterErrorKind::NotFrozen => "not_frozen",
        }
    }
}

impl std::fmt::Display for AdapterErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub type StopPaymentResponse = crate::Reply<StopPaymentReply, AdapterError>;
pub type FreezeResponse = crate::Reply<FreezeReply, AdapterError>;
pub type FlowsResponse = crate::Reply<FlowsReply, AdapterError>;
pub type AccountRestrictResponse = crate::Reply<crate::holder::AccountRestrictReply, AdapterError>;
pub type ResolveOrderResponse = crate::Reply<ResolveOrderReply, AdapterError>;
pub type ReturnResponse = crate::Reply<ReturnReply, AdapterError>;

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(payer: serde_json::Value) -> serde_json::Value {
        let mut reply = serde_json::json!({
            "order": "alipay:2025ABCDEF01", "account": "icbc:6222020200001234", "amount_fen": 7000,
            "settled_at_ms": 1_763_700_000_000u64, "transfer_id": "t-1",
        });
        if !payer.is_null() {
            reply["payer"] = payer;
        }
        reply
    }

    #[test]
    fn a_resolution_names_its_payer_and_one_without_or_with_a_bad_payer_still_resolves() {
        let named: ResolveOrderReply = serde_json::from_value(reply("ccb:6217000011112222".into())).unwrap();
        assert_eq!(named.payer.as_ref().map(|p| p.expose().as_str()), Some("ccb:6217000011112222"));
        assert!(!format!("{named:?}").contains("6217000011112222"), "masked when formatted");
        assert_eq!(serde_json::to_value(&named).unwrap(), reply("ccb:6217000011112222".into()));
        let before: ResolveOrderReply = serde_json::from_value(reply(serde_json::Value::Null)).unwrap();
        assert_eq!(before.payer, None);
        assert!(!serde_json::to_string(&before).unwrap().contains("payer"), "left out when absent");
        for bad in [serde_json::json!("ccb:12"), serde_json::json!(6217000011112222u64), serde_json::json!({"x": 1})] {
            let read: ResolveOrderReply = serde_json::from_value(reply(bad.clone())).unwrap();
            assert_eq!((read.payer, read.account.as_str()), (None, "icbc:6222020200001234"), "{bad}");
        }
        let mut unknown = reply(serde_json::Value::Null);
        unknown["payee"] = "x".into();
        assert!(serde_json::from_value::<ResolveOrderReply>(unknown).is_err(), "other fields are still refused");
    }

    const RETURN: &str = r#"{"request_id":"hangzhou-3f9a1c27b04e8d51/a7/v2/return","center":"hangzhou","case_id":"hangzhou-3f9a1c27b04e8d51","account":"icbc:6222020200001234","to_account":"ccb:6217000011112222","amount_fen":100000,"allocation":"hangzhou-3f9a1c27b04e8d51/a7"}"#;

    fn return_request() -> ReturnRequest {
        let city = City::parse("hangzhou").unwrap();
        ReturnRequest {
            request_id: "hangzhou-3f9a1c27b04e8d51/a7/v2/return".into(),
            center: city,
            case_id: CaseId::parse("hangzhou-3f9a1c27b04e8d51").unwrap(),
            account: AccountRef::parse("icbc:6222020200001234").unwrap(),
            to_account: Sensitive::new(AccountRef::parse("ccb:6217000011112222").unwrap()),
            amount_fen: Fen::new(100_000),
            allocation: "hangzhou-3f9a1c27b04e8d51/a7".into(),
        }
    }

    #[test]
    fn a_return_is_the_documented_json_and_back_and_the_victims_account_is_masked() {
        assert_eq!(serde_json::to_string(&return_request()).unwrap(), RETURN);
        assert_eq!(serde_json::from_str::<ReturnRequest>(RETURN).unwrap(), return_request());
        assert!(!format!("{:?}", return_request()).contains("6217000011112222"), "masked when formatted");
        let unknown = RETURN.replace(r#""amount_fen""#, r#""fee_fen":1,"amount_fen""#);
        assert!(serde_json::from_str::<ReturnRequest>(&unknown).unwrap_err().to_string().contains("fee_fen"));
        let bad_victim = RETURN.replace("ccb:6217000011112222\",", "ccb:12\",");
        assert!(serde_json::from_str::<ReturnRequest>(&bad_victim).is_err(), "the victim's account must parse");
    }

    #[test]
    fn a_return_is_accepted_then_executed_and_the_reply_leaves_out_what_is_not_there_yet() {
        let accepted = ReturnReply {
            status: ReturnStatus::Accepted,
            amount_fen: Fen::new(100_000),
            transfer_id: None,
            executed_at_ms: None,
        };
        let json = r#"{"ok":{"status":"accepted","amount_fen":100000}}"#;
        assert_eq!(String::from_utf8(crate::to_json(&ReturnResponse::Ok(accepted.clone()))).unwrap(), json);
        assert_eq!(serde_json::from_str::<ReturnResponse>(json).unwrap().into_result().unwrap(), accepted);
        let executed = ReturnReply {
            status: ReturnStatus::Executed,
            transfer_id: Some("t-2001".into()),
            executed_at_ms: Some(1_763_960_000_000),
            ..accepted
        };
        let json =
            r#"{"ok":{"status":"executed","amount_fen":100000,"transfer_id":"t-2001","executed_at_ms":1763960000000}}"#;
        assert_eq!(String::from_utf8(crate::to_json(&ReturnResponse::Ok(executed.clone()))).unwrap(), json);
        assert_eq!(serde_json::from_str::<ReturnResponse>(json).unwrap().into_result().unwrap(), executed);
        let melted = r#"{"ok":{"status":"melted","amount_fen":1}}"#;
        assert!(serde_json::from_str::<ReturnResponse>(melted).is_err());
    }

    #[test]
    fn not_frozen_is_a_kind_of_its_own_and_asking_again_does_not_cure_it() {
        let json = r#"{"error":{"kind":"not_frozen","message":"hangzhou holds 500 frozen on icbc:6222020200001234"}}"#;
        let refusal = serde_json::from_str::<ReturnResponse>(json).unwrap().into_result().unwrap_err();
        assert_eq!(refusal.kind, AdapterErrorKind::NotFrozen);
        assert_eq!(refusal.kind.to_string(), "not_frozen");
        assert_eq!(serde_json::to_string(&refusal.kind).unwrap(), r#""not_frozen""#);
        assert!(!refusal.kind.is_retryable());
    }
}
