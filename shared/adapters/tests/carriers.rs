//! The carrier client (and the bank's restrictions) against a real nats-server and stub
//! carriers written here: a confirmation is taken only when it names the request asked, a
//! carrier's refusal keeps its kind, and only what asking again may cure is retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use adapters::carrier::Carriers;
use adapters::{AdapterErrorKind, Adapters};
use domain::{AccountRef, City, IdentifierKind};
use futures::StreamExt;
use protocol::adapter::{AccountRestrictRequest, AdapterErrorKind as Refusal};
use protocol::carrier::{
    BankChannels, BlockRequest, BlockTarget, CardSubject, Carrier, Channel, Phone, PhoneChannels, RequestId,
    RestrictRequest,
};
use protocol::subjects::{self, bank_verb, carrier_verb};
use serde_json::Value;
use testkit::NatsServer;

/// Per attempt in these tests: long enough for a loopback answer, short for a silent one.
const TIMEOUT: Duration = Duration::from_millis(300);
const RETRIES: u32 = 2;

fn center() -> City {
    City::parse("huzhou").unwrap()
}

fn block() -> BlockRequest {
    BlockRequest {
        request_id: RequestId::parse("huzhou/cmcc/phone:+8613800138000/block1").unwrap(),
        center: center(),
        identifier: BlockTarget::new(IdentifierKind::Phone, "+8613800138000").unwrap(),
    }
}

/// What a stub answers to the `attempt`-th request (1-based) with its body, or silence.
type Answer = fn(u32, &Value) -> Option<String>;

/// Answers every request on `subject`; counts the attempts.
async fn stub(client: &async_nats::Client, subject: String, answer: Answer) -> Arc<AtomicU32> {
    let mut requests = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    let attempts = Arc::new(AtomicU32::new(0));
    let (counted, client) = (attempts.clone(), client.clone());
    tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
            let body: Value = serde_json::from_slice(&message.payload).unwrap();
            if let (Some(reply), Some(answer)) = (message.reply, answer(attempt, &body)) {
                client.publish(reply, answer.into()).await.unwrap();
            }
        }
    });
    attempts
}

/// A carrier's confirmation of a block, naming `request_id`.
fn blocked(request_id: &str, body: &Value) -> String {
    serde_json::json!({"ok": {"request_id": request_id, "identifier": body["identifier"], "applied_at_ms": 7, "blocked": true}})
        .to_string()
}

fn confirms(_: u32, body: &Value) -> Option<String> {
    Some(blocked(body["request_id"].as_str().unwrap(), body))
}

async fn setup() -> (NatsServer, async_nats::Client, Carriers) {
    let server = NatsServer::single().await.unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let carriers = Carriers::new(client.clone()).with_limits(TIMEOUT, RETRIES);
    (server, client, carriers)
}

#[tokio::test]
async fn a_block_is_asked_of_the_carrier_named_and_its_confirmation_taken() {
    let (_server, client, carriers) = setup().await;
    let attempts = stub(&client, subjects::carrier(Carrier::Cmcc, carrier_verb::BLOCK), confirms).await;
    let reply = carriers.block(Carrier::Cmcc, &block()).await.unwrap();
    assert_eq!((reply.request_id, reply.identifier, reply.blocked), (block().request_id, block().identifier, true));
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    let error = carriers.block(Carrier::Cucc, &block()).await.unwrap_err();
    assert_eq!(error.kind, AdapterErrorKind::NoResponders, "another carrier's subject has nobody");
    assert_eq!(error.subject, subjects::carrier(Carrier::Cucc, carrier_verb::BLOCK));
    assert_eq!(error.attempts, RETRIES + 1);
}

#[tokio::test]
async fn a_reply_naming_another_request_is_invalid_and_not_taken() {
    let (_server, client, carriers) = setup().await;
    let attempts = stub(&client, subjects::carrier(Carrier::Cmcc, carrier_verb::LIFT), |_, body| {
        Some(blocked("huzhou/cmcc/phone:+8613800138001/lift1", body))
    })
    .await;
    let error = carriers.lift(Carrier::Cmcc, &block()).await.unwrap_err();
    let AdapterErrorKind::InvalidReply(why) = &error.kind else { panic!("{error}") };
    assert!(why.contains("+8613800138001/lift1") && why.contains("+8613800138000/block1"), "{why}");
    assert_eq!((error.attempts, attempts.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test]
async fn an_unavailable_carrier_is_asked_again_and_a_silent_one_times_out() {
    let (_server, client, carriers) = setup().await;
    let attempts = stub(&client, subjects::carrier(Carrier::Ctcc, carrier_verb::BLOCK), |attempt, body| {
        if attempt == 1 {
            Some(r#"{"error":{"kind":"unavailable","message":"switch maintenance"}}"#.to_owned())
        } else {
            confirms(attempt, body)
        }
    })
    .await;
    carriers.block(Carrier::Ctcc, &block()).await.unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2);

    let silent = stub(&client, subjects::carrier(Carrier::Cucc, carrier_verb::BLOCK), |_, _| None).await;
    let error = carriers.block(Carrier::Cucc, &block()).await.unwrap_err();
    assert_eq!(error.kind, AdapterErrorKind::Timeout(TIMEOUT));
    assert!(error.kind.is_transient());
    assert_eq!(silent.load(Ordering::SeqCst), RETRIES + 1);
}

#[tokio::test]
async fn a_card_not_the_carriers_is_refused_with_its_kind_and_not_retried() {
    let (_server, client, carriers) = setup().await;
    let attempts = stub(&client, subjects::carrier(Carrier::Cucc, carrier_verb::RESTRICT), |_, _| {
        Some(r#"{"error":{"kind":"not_ours","message":"+8617000000000 is not a China Unicom number"}}"#.to_owned())
    })
    .await;
    let request = RestrictRequest {
        request_id: RequestId::parse("huzhou/cucc/phone:+8617000000000/restrict1").unwrap(),
        center: center(),
        subject: CardSubject::Phone(Phone::parse("+8617000000000").unwrap()),
        channels: PhoneChannels::new(Channel::LOCAL_VOICE_ONLY.to_vec()).unwrap(),
    };
    let error = carriers.restrict(Carrier::Cucc, &request).await.unwrap_err();
    assert_eq!(error.kind.refusal(), Some(Refusal::NotOurs));
    assert!(!error.kind.is_transient());
    assert_eq!((error.attempts, attempts.load(Ordering::SeqCst)), (1, 1));
}

#[tokio::test]
async fn a_bank_restricts_an_account_on_its_own_subject_and_names_the_request() {
    let (_server, client, _) = setup().await;
    let adapters = Adapters::new(client.clone()).with_limits(TIMEOUT, RETRIES);
    let bank = AccountRef::parse("icbc:6222020200001234").unwrap().bank();
    stub(&client, subjects::bank(&bank, bank_verb::RESTRICT), |_, body| {
        let mut json = serde_json::json!({"ok": {"request_id": body["request_id"], "restricted": body["channels"], "applied_at_ms": 9}});
        // Another account's owner is named; a third's holder is malformed.
        let holder = match body["account"].as_str() {
            Some("icbc:6222020200005678") => serde_json::json!({"key": "icbc:0123456789abcdef", "phones": ["+8613800138000"], "accounts": ["icbc:6222020200001234"]}),
            Some("icbc:6222020200009999") => serde_json::json!({"key": "icbc:0123456789abcdef", "phones": ["13800138000"]}),
            _ => serde_json::Value::Null,
        };
        if !holder.is_null() {
            json["ok"]["holder"] = holder;
        }
        Some(json.to_string())
    })
    .await;
    stub(&client, subjects::bank(&bank, bank_verb::UNRESTRICT), |_, _| {
        Some(r#"{"ok":{"request_id":"someone-else","restricted":[],"applied_at_ms":9}}"#.to_owned())
    })
    .await;
    let request = AccountRestrictRequest {
        request_id: RequestId::parse("huzhou/icbc/icbc:6222020200001234/restrict1").unwrap(),
        center: center(),
        account: AccountRef::parse("icbc:6222020200001234").unwrap(),
        channels: BankChannels::new(Channel::BANK_POOL.to_vec()).unwrap(),
    };
    let restricted = adapters.restrict(&request).await.unwrap();
    assert_eq!((restricted.reply.restricted.as_slice(), restricted.holder), (Channel::BANK_POOL.as_slice(), None));
    let named =
        AccountRestrictRequest { account: AccountRef::parse("icbc:6222020200005678").unwrap(), ..request.clone() };
    let holder = adapters.restrict(&named).await.unwrap().holder.unwrap().unwrap();
    assert_eq!((holder.key().as_str(), holder.phones().len()), ("icbc:0123456789abcdef", 1));
    assert_eq!(holder.accounts(), std::slice::from_ref(&request.account));
    let malformed =
        AccountRestrictRequest { account: AccountRef::parse("icbc:6222020200009999").unwrap(), ..request.clone() };
    let restricted = adapters.restrict(&malformed).await.unwrap();
    assert_eq!(restricted.reply.restricted, Channel::BANK_POOL, "the restriction is confirmed all the same");
    let error = restricted.holder.unwrap().unwrap_err();
    assert!(matches!(&error.kind, AdapterErrorKind::InvalidReply(why) if why.contains("holder.phones")), "{error}");
    assert!(!error.to_string().contains("13800138000"), "{error}: no phone number in the error");
    let error = adapters.unrestrict(&request).await.unwrap_err();
    assert!(matches!(error.kind, AdapterErrorKind::InvalidReply(_)), "{error}");
}
