//! The simulated carriers: blocks and lifts per center, restrictions, refusals of numbers
//! another carrier issued, a repeated request answered once, and SMS warnings delivered to the
//! carrier's own handsets that are on.

use domain::{City, HolderKey, IdentifierKind};
use protocol::adapter::AdapterErrorKind;
use protocol::carrier::{
    BlockRequest, BlockTarget, CardSubject, Phone, PhoneChannels, RequestId, RestrictRequest, SmsRequest,
};

use super::*;

const T0: TimeMs = 1_763_700_000_000;

fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

fn order(center: &str, id: &str, kind: IdentifierKind, value: &str) -> BlockRequest {
    BlockRequest {
        request_id: RequestId::parse(id).unwrap(),
        center: city(center),
        identifier: BlockTarget::new(kind, value).unwrap(),
    }
}

fn phone_block(center: &str, verb: &str) -> BlockRequest {
    order(center, &format!("{center}/cmcc/phone:+8613800138000/{verb}1"), IdentifierKind::Phone, "+8613800138000")
}

#[test]
fn a_block_is_applied_once_and_recorded_with_its_time() {
    let mut telecom = Telecom::new();
    let request = phone_block("huzhou", "block");
    let reply = telecom.block(Carrier::Cmcc, &request, T0).unwrap();
    assert_eq!((reply.applied_at_ms, reply.blocked, &reply.request_id), (T0, true, &request.request_id));
    let again = telecom.block(Carrier::Cmcc, &request, T0 + 5_000).unwrap();
    assert_eq!(again, reply, "a repeat gets the first answer");
    assert_eq!(telecom.duplicates(), 1);
    assert_eq!(telecom.log().len(), 1);
    let record = &telecom.log()[0];
    assert_eq!((record.verb, record.at_ms, record.target.as_str()), (CarrierVerb::Block, T0, "phone:+8613800138000"));
    assert_eq!(telecom.blocked_since(Carrier::Cmcc, &request.identifier), Some(T0));
    assert_eq!(telecom.blocked_since(Carrier::Cucc, &request.identifier), None);
    assert!(telecom.is_blocked(&request.identifier));
}

#[test]
fn a_lift_ends_only_the_asking_centers_block() {
    let mut telecom = Telecom::new();
    let (huzhou, wenzhou) = (phone_block("huzhou", "block"), phone_block("wenzhou", "block"));
    telecom.block(Carrier::Cmcc, &huzhou, T0).unwrap();
    telecom.block(Carrier::Cmcc, &wenzhou, T0 + 1).unwrap();
    let lifted = telecom.lift(Carrier::Cmcc, &phone_block("huzhou", "lift"), T0 + 2).unwrap();
    assert!(lifted.blocked, "wenzhou's block stands");
    assert_eq!(telecom.blocked_since(Carrier::Cmcc, &huzhou.identifier), Some(T0 + 1));
    let lifted = telecom.lift(Carrier::Cmcc, &phone_block("wenzhou", "lift"), T0 + 3).unwrap();
    assert!(!lifted.blocked);
    assert!(!telecom.is_blocked(&huzhou.identifier));
    let nothing = telecom.lift(Carrier::Cmcc, &order("huzhou", "x/lift9", IdentifierKind::Ip, "8.8.8.8"), T0).unwrap();
    assert!(!nothing.blocked, "a lift of no block is answered ok");
}

#[test]
fn a_number_another_carrier_issued_is_not_ours_and_domains_are_everyones() {
    let mut telecom = Telecom::new();
    let error = telecom.block(Carrier::Cucc, &phone_block("huzhou", "block"), T0).unwrap_err();
    assert_eq!(error.kind, AdapterErrorKind::NotOurs);
    assert!(error.message.contains("cmcc"), "{}", error.message);
    let again = telecom.block(Carrier::Cucc, &phone_block("huzhou", "block"), T0 + 1).unwrap_err();
    assert_eq!(again, error, "the first answer, error included");
    assert!(telecom.log().is_empty(), "a refusal applies nothing");
    let landline = order("huzhou", "huzhou/cucc/phone:+862088888888/block1", IdentifierKind::Phone, "+862088888888");
    assert!(telecom.block(Carrier::Cucc, &landline, T0).is_ok(), "a landline reaches every network");
    for carrier in Carrier::ALL {
        let id = format!("huzhou/{carrier}/domain:fake-bank.com.cn/block1");
        telecom.block(carrier, &order("huzhou", &id, IdentifierKind::Domain, "fake-bank.com.cn"), T0).unwrap();
    }
    assert_eq!(telecom.log().len(), 4);
}

fn restriction(center: &str, id: &str, subject: CardSubject) -> RestrictRequest {
    RestrictRequest {
        request_id: RequestId::parse(id).unwrap(),
        center: city(center),
        subject,
        channels: PhoneChannels::new(Channel::LOCAL_VOICE_ONLY.to_vec()).unwrap(),
    }
}

#[test]
fn a_card_is_restricted_to_local_voice_and_given_back() {
    let mut telecom = Telecom::new();
    let card = CardSubject::Phone(Phone::parse("+8617000000000").unwrap());
    let reply = telecom.restrict(Carrier::Ctcc, &restriction("huzhou", "r1", card.clone()), T0).unwrap();
    assert_eq!(reply.restricted, Channel::LOCAL_VOICE_ONLY);
    let mut sms_only = restriction("wenzhou", "r2", card.clone());
    sms_only.channels = PhoneChannels::new(vec![Channel::Sms]).unwrap();
    telecom.restrict(Carrier::Ctcc, &sms_only, T0).unwrap();
    let reply = telecom.unrestrict(Carrier::Ctcc, &restriction("huzhou", "u1", card.clone()), T0 + 1).unwrap();
    assert_eq!(reply.restricted, [Channel::Sms], "wenzhou's cut stands");
    assert_eq!(telecom.restricted(Carrier::Ctcc, &card).into_iter().collect::<Vec<_>>(), [Channel::Sms]);
    let error = telecom.restrict(Carrier::Cmcc, &restriction("huzhou", "r3", card), T0).unwrap_err();
    assert_eq!(error.kind, AdapterErrorKind::NotOurs);
}

#[test]
fn a_holder_is_known_by_the_carriers_own_key_only() {
    let mut telecom = Telecom::new();
    let ours = CardSubject::Holder(HolderKey::parse("cmcc:0123456789abcdef").unwrap());
    assert!(telecom.restrict(Carrier::Cmcc, &restriction("huzhou", "h1", ours), T0).is_ok());
    let banks = CardSubject::Holder(HolderKey::parse("icbc:0123456789abcdef").unwrap());
    let error = telecom.restrict(Carrier::Cmcc, &restriction("huzhou", "h2", banks), T0).unwrap_err();
    assert_eq!(error.kind, AdapterErrorKind::UnknownHolder);
}

fn sms(id: &str, to: &str) -> SmsRequest {
    SmsRequest { request_id: RequestId::parse(id).unwrap(), center: city("huzhou"), to: to.to_owned() }
}

#[test]
fn an_sms_is_sent_once_per_request_and_recorded_with_its_time() {
    let mut telecom = Telecom::new();
    let request = sms("huzhou/cmcc/sms/t1", "+8613800138000");
    let first = telecom.sms(Carrier::Cmcc, &request, T0);
    assert_eq!((first.delivered, first.at_ms, &first.request_id), (true, T0, &request.request_id));
    let again = telecom.sms(Carrier::Cmcc, &request, T0 + 5_000);
    assert_eq!(again, first, "a repeat gets the first answer, its time included");
    assert_eq!(telecom.duplicates(), 1);
    assert_eq!(telecom.sms_log().len(), 1, "and sends nothing more");
    let record = &telecom.sms_log()[0];
    assert_eq!((record.to.as_str(), record.at_ms, record.delivered), ("+8613800138000", T0, true));
    assert_eq!((record.carrier, record.center.as_str()), (Carrier::Cmcc, "huzhou"));
    assert!(telecom.log().is_empty(), "an SMS is no block");
    let other = telecom.sms(Carrier::Cmcc, &sms("huzhou/cmcc/sms/t2", "+8613800138000"), T0 + 1);
    assert!(other.delivered, "another request is another SMS");
    assert_eq!(telecom.sms_log().len(), 2);
}

#[test]
fn an_sms_reaches_only_the_carriers_own_handsets_that_are_on() {
    let mut telecom = Telecom::new();
    let not_ours = telecom.sms(Carrier::Cucc, &sms("huzhou/cucc/sms/t1", "+8613800138000"), T0);
    assert!(!not_ours.delivered, "a China Mobile number through Unicom");
    let landline = telecom.sms(Carrier::Cucc, &sms("huzhou/cucc/sms/t2", "+862088888888"), T0);
    assert!(!landline.delivered, "no carrier's mobile number");
    telecom.switch_off("+8618900000000");
    assert!(telecom.is_off("+8618900000000"));
    let off = telecom.sms(Carrier::Ctcc, &sms("huzhou/ctcc/sms/t3", "+8618900000000"), T0);
    assert!(!off.delivered, "the handset is off");
    let again = telecom.sms(Carrier::Ctcc, &sms("huzhou/ctcc/sms/t3", "+8618900000000"), T0 + 1);
    assert_eq!(again, off, "a refusal is answered once too");
    let delivered: Vec<bool> = telecom.sms_log().iter().map(|r| r.delivered).collect();
    assert_eq!(delivered, [false, false, false], "every SMS asked for is recorded");
}
