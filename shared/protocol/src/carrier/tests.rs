//! The carrier and restriction wire: the documented JSON, what is refused and how it is named.

use super::*;
use crate::adapter::{AccountRestrictRequest, AdapterError, AdapterErrorKind};

fn block() -> BlockRequest {
    BlockRequest {
        request_id: RequestId::parse("huzhou/cmcc/phone:+8613800138000/block1").unwrap(),
        center: City::parse("huzhou").unwrap(),
        identifier: BlockTarget::new(IdentifierKind::Phone, "+8613800138000").unwrap(),
    }
}

fn refusal<T: serde::de::DeserializeOwned + fmt::Debug>(body: &str) -> String {
    serde_json::from_str::<T>(body).unwrap_err().to_string()
}

#[test]
fn a_block_request_is_the_documented_json_and_back() {
    let json = serde_json::to_string(&block()).unwrap();
    assert_eq!(
        json,
        r#"{"request_id":"huzhou/cmcc/phone:+8613800138000/block1","center":"huzhou","identifier":{"kind":"phone","value":"+8613800138000"}}"#
    );
    assert_eq!(serde_json::from_str::<BlockRequest>(&json).unwrap(), block());
    let reply =
        BlockReply { request_id: block().request_id, identifier: block().identifier, applied_at_ms: 7, blocked: true };
    let back: BlockResponse = serde_json::from_slice(&crate::to_json(&BlockResponse::Ok(reply.clone()))).unwrap();
    assert_eq!(back.into_result().unwrap(), reply);
}

#[test]
fn a_target_carriers_do_not_block_is_refused_naming_the_field_and_what_is_accepted() {
    let app = r#"{"request_id":"x","center":"huzhou","identifier":{"kind":"app","value":"com.example.loan"}}"#;
    let refused = refusal::<BlockRequest>(app);
    assert!(refused.contains("identifier.kind") && refused.contains("phone, domain or ip"), "{refused}");
    for (kind, value) in [
        ("phone", "13800138000"),
        ("phone", "+0861380013800"),
        ("phone", "+86 138 0013 8000"),
        ("domain", "Fake-Bank.com"),
        ("domain", "localhost"),
        ("ip", "999.1.1.1"),
    ] {
        let body =
            format!(r#"{{"request_id":"x","center":"huzhou","identifier":{{"kind":"{kind}","value":"{value}"}}}}"#);
        let refused = refusal::<BlockRequest>(&body);
        assert!(refused.contains("identifier.value") && refused.contains(value), "{kind} {value}: {refused}");
    }
    let long = format!("{}.com", "a".repeat(300));
    let refused = BlockTarget::new(IdentifierKind::Domain, &long).unwrap_err();
    assert!(refused.value.chars().count() <= MAX_ECHO_CHARS + 1, "the echo is bounded");
}

#[test]
fn a_request_id_is_bounded_visible_ascii() {
    assert!(RequestId::parse(&"a".repeat(MAX_REQUEST_ID_BYTES)).is_ok());
    for refused in [String::new(), "a".repeat(MAX_REQUEST_ID_BYTES + 1), "a b".into(), "号".into()] {
        assert_eq!(RequestId::parse(&refused).unwrap_err().field, "request_id");
    }
}

#[test]
fn an_unknown_field_is_refused() {
    let body = r#"{"request_id":"x","center":"huzhou","identifier":{"kind":"ip","value":"8.8.8.8"},"why":1}"#;
    assert!(refusal::<BlockRequest>(body).contains("why"));
    let body = r#"{"request_id":"x","center":"huzhou","identifier":{"kind":"ip","value":"8.8.8.8","x":1}}"#;
    assert!(refusal::<BlockRequest>(body).contains('x'));
}

#[test]
fn a_restriction_names_a_card_or_a_holder_and_its_own_kind_of_channels() {
    let body = r#"{"request_id":"huzhou/ctcc/phone:+8617000000000/restrict1","center":"huzhou","subject":{"phone":"+8617000000000"},"channels":["data","sms","out_of_area_voice","international"]}"#;
    let request: RestrictRequest = serde_json::from_str(body).unwrap();
    assert_eq!(request.channels.as_slice(), Channel::LOCAL_VOICE_ONLY);
    assert_eq!(request.subject.to_string(), "phone:+8617000000000");
    assert_eq!(serde_json::to_string(&request).unwrap(), body);
    let holder = body.replace(r#"{"phone":"+8617000000000"}"#, r#"{"holder":"ctcc:0123456789abcdef"}"#);
    assert!(matches!(serde_json::from_str::<RestrictRequest>(&holder).unwrap().subject, CardSubject::Holder(_)));
    for channels in [r#"[]"#, r#"["sms","sms"]"#, r#"["atm"]"#, r#"["fax"]"#] {
        let refused = refusal::<RestrictRequest>(
            &body.replace(r#"["data","sms","out_of_area_voice","international"]"#, channels),
        );
        assert!(refused.contains("channels") || refused.contains("unknown variant"), "{channels}: {refused}");
    }
    let account = r#"{"request_id":"huzhou/icbc/icbc:6222020200001234/restrict1","center":"huzhou","account":"icbc:6222020200001234","channels":["online_banking","mobile_banking","third_party_payment","atm"]}"#;
    let request: AccountRestrictRequest = serde_json::from_str(account).unwrap();
    assert_eq!(request.channels.as_slice(), Channel::BANK_POOL);
    let refused = refusal::<AccountRestrictRequest>(&account.replace("\"atm\"", "\"sms\""));
    assert!(refused.contains("invalid channels") && refused.contains("online_banking"), "{refused}");
}

#[test]
fn new_error_kinds_round_trip_and_old_errors_still_decode() {
    let old: AdapterError = serde_json::from_str(r#"{"kind":"unknown_account","message":"no account"}"#).unwrap();
    assert_eq!(old.kind, AdapterErrorKind::UnknownAccount);
    for kind in [AdapterErrorKind::NotOurs, AdapterErrorKind::UnknownHolder] {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{kind}\""));
        assert!(!kind.is_retryable());
    }
}
