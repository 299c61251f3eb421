//! The holder of a bank's `restrict` answer: optional, bounded, checked against the account,
//! never echoing a phone number.

use super::*;

const ACCOUNT: &str = "icbc:6222020200001234";
const OLD_REPLY: &str = r#"{"request_id":"huzhou/icbc/icbc:6222020200001234/restrict1","restricted":["online_banking","mobile_banking","third_party_payment","atm"],"applied_at_ms":1763700000300}"#;
const DOCUMENTED: &str = r#"{"request_id":"huzhou/icbc/icbc:6222020200001234/restrict1","restricted":["online_banking","mobile_banking","third_party_payment","atm"],"applied_at_ms":1763700000300,"holder":{"key":"icbc:5f0c6e1d2a9b8c7d5f0c6e1d2a9b8c7d","phones":["+8613800138000"],"accounts":["icbc:6222020200005678"]}}"#;

fn account() -> AccountRef {
    AccountRef::parse(ACCOUNT).unwrap()
}

fn with_holder(holder: &str) -> String {
    OLD_REPLY.replace("}", &format!(r#","holder":{holder}}}"#))
}

fn answer(body: &str) -> (RestrictReply, Option<Result<AccountHolder, FieldError>>) {
    serde_json::from_str::<AccountRestrictAnswer>(body).unwrap().split(&account())
}

#[test]
fn a_reply_without_a_holder_still_reads_and_names_none() {
    let reply: AccountRestrictReply = serde_json::from_str(OLD_REPLY).unwrap();
    assert_eq!(reply.holder, None);
    assert_eq!(String::from_utf8(crate::to_json(&reply)).unwrap(), OLD_REPLY, "no holder, no field");
    let (confirmed, holder) = answer(OLD_REPLY);
    assert_eq!((confirmed.applied_at_ms, holder), (1763700000300, None));
    let (_, holder) = answer(&with_holder("null"));
    assert!(holder.is_none(), "null is no holder");
}

#[test]
fn the_documented_holder_reads_and_writes_back() {
    let reply: AccountRestrictReply = serde_json::from_str(DOCUMENTED).unwrap();
    let holder = reply.holder.clone().unwrap();
    assert_eq!(holder.key().as_str(), "icbc:5f0c6e1d2a9b8c7d5f0c6e1d2a9b8c7d");
    assert_eq!(holder.phones()[0].as_str(), "+8613800138000");
    assert_eq!(holder.accounts()[0].as_str(), "icbc:6222020200005678");
    assert_eq!(String::from_utf8(crate::to_json(&reply)).unwrap(), DOCUMENTED);
    let (confirmed, read) = answer(DOCUMENTED);
    assert_eq!(read.unwrap().unwrap(), holder);
    assert_eq!(confirmed.restricted, Channel::BANK_POOL);
    assert!(!format!("{holder:?}").contains("13800138000"), "Debug never shows a phone number");
    let bare = with_holder(r#"{"key":"icbc:5f0c6e1d2a9b8c7d"}"#);
    let holder = answer(&bare).1.unwrap().unwrap();
    assert!(holder.phones().is_empty() && holder.accounts().is_empty(), "the lists may be left out");
}

#[test]
fn a_malformed_holder_is_refused_by_name_but_the_restriction_still_reads() {
    let too_many_phones = format!(
        r#"{{"key":"icbc:5f0c6e1d2a9b8c7d","phones":[{}]}}"#,
        vec![r#""+8613800138000""#; MAX_HOLDER_PHONES + 1].join(",")
    );
    let too_many_accounts = format!(
        r#"{{"key":"icbc:5f0c6e1d2a9b8c7d","accounts":[{}]}}"#,
        vec![r#""icbc:6222020200005678""#; MAX_HOLDER_ACCOUNTS + 1].join(",")
    );
    for (holder, field) in [
        (r#"{"key":"Zhang San"}"#, "holder.key"),
        (r#"{"key":"icbc:xyz"}"#, "holder.key"),
        (r#"{"key":"abc:5f0c6e1d2a9b8c7d"}"#, "holder.key"),
        (r#"{"key":"icbc:5f0c6e1d2a9b8c7d","phones":["13800138000"]}"#, "holder.phones"),
        (r#"{"key":"icbc:5f0c6e1d2a9b8c7d","phones":[13800138000]}"#, "holder"),
        (r#"{"key":"icbc:5f0c6e1d2a9b8c7d","accounts":["icbc:12"]}"#, "holder.accounts"),
        (r#"{"key":"icbc:5f0c6e1d2a9b8c7d","accounts":["abc:6222020200005678"]}"#, "holder.accounts"),
        (r#"{"key":"icbc:5f0c6e1d2a9b8c7d","name":"Zhang San"}"#, "holder"),
        (r#""icbc:5f0c6e1d2a9b8c7d""#, "holder"),
        (too_many_phones.as_str(), "holder.phones"),
        (too_many_accounts.as_str(), "holder.accounts"),
    ] {
        let body = with_holder(holder);
        let (confirmed, read) = answer(&body);
        assert_eq!(confirmed.applied_at_ms, 1763700000300, "{holder}: the confirmation is kept");
        let refused = read.unwrap().unwrap_err();
        assert_eq!(refused.field, field, "{holder}: {refused}");
        assert!(!refused.to_string().contains("13800138000"), "{refused}: a phone number is never echoed");
        if !holder.contains("abc:") {
            assert!(
                serde_json::from_str::<AccountRestrictReply>(&body).is_err(),
                "{holder}: the strict reply refuses it"
            );
        }
    }
    assert!(serde_json::from_str::<AccountRestrictAnswer>(&OLD_REPLY.replace("}", r#","extra":1}"#)).is_err());
}

#[test]
fn the_bounds_are_the_ones_the_errors_state() {
    assert!(PHONES_EXPECTED.contains(&MAX_HOLDER_PHONES.to_string()));
    assert!(ACCOUNTS_EXPECTED.contains(&MAX_HOLDER_ACCOUNTS.to_string()));
}
