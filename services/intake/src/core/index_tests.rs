//! Given a report or a query, then these keys.

use domain::report::{Contacts, ReportedTransfer, Victim};
use domain::{Fen, FraudType, PaymentOrderRef, Sensitive};
use protocol::intake::TimelineKind;

use super::*;

fn city() -> City {
    City::parse("huzhou").unwrap()
}

fn report() -> Report {
    let transfer = |to| ReportedTransfer { to, amount: Fen::new(100), at_ms: 1, from_account: None };
    Report {
        victim: Victim {
            name: Sensitive::new("王伟".into()),
            id_number: Sensitive::new("330102198001011234".into()),
            phone: Sensitive::new("13900000000".into()),
        },
        fraud_type: FraudType::OnlineLoan,
        transfers: vec![
            transfer(Destination::Account(AccountRef::parse("icbc:6222020200001234").unwrap())),
            transfer(Destination::Account(AccountRef::parse("icbc:6222020200001234").unwrap())),
            transfer(Destination::Order(PaymentOrderRef::parse("alipay:2025ABCDEF01").unwrap())),
        ],
        contacts: Contacts {
            phones: vec!["+86 170-0000-0000".into(), "17000000000".into(), "not a number".into()],
            urls: vec!["https://m.invest-example.top/login?x=1".into()],
            apps: vec!["com.fake.loan".into()],
            social: vec![],
        },
        narrative: Sensitive::new(String::new()),
    }
}

#[test]
fn a_report_is_found_by_its_accounts_phones_and_sites_once_each_and_never_by_the_victim() {
    let keys: Vec<(String, String)> = report_keys(&report()).into_iter().map(|k| (k.key, k.matched)).collect();
    assert_eq!(
        keys,
        [
            ("account:6222020200001234".to_owned(), "icbc:6222020200001234".to_owned()),
            ("domain:invest-example.top".to_owned(), "domain:invest-example.top".to_owned()),
            ("phone:+8617000000000".to_owned(), "phone:+8617000000000".to_owned()),
        ]
    );
    assert!(!keys.iter().any(|(k, _)| k.contains("13900000000")), "the victim's phone is no key");
}

#[test]
fn the_accounts_of_a_trail_are_keys() {
    let entry = |account: Option<&str>| TimelineEntry {
        at_ms: 1,
        kind: TimelineKind::Stopped,
        account: account.map(|a| AccountRef::parse(a).unwrap()),
        amount_fen: None,
        depth: None,
        hop: None,
        parent: None,
        order: None,
        detail: String::new(),
    };
    let keys = trail_keys(&[entry(Some("abc:622848000011")), entry(None), entry(Some("abc:622848000011"))]);
    assert_eq!(keys, [IndexKey { key: "account:622848000011".into(), matched: "abc:622848000011".into() }]);
}

fn kinds(query: &str) -> Vec<(SearchKind, String)> {
    lookups(&city(), query, None).unwrap().into_iter().map(|l| (l.kind, l.shown())).collect()
}

#[test]
fn a_query_reads_as_every_kind_it_can_be_in_the_spelling_blocking_uses() {
    let case = CaseId::derive(&city(), 7);
    assert_eq!(kinds(case.as_str()), [(SearchKind::Case, format!("case:{case}"))]);
    assert_eq!(kinds("6222 0202 0000 1234"), [(SearchKind::Account, "account:6222020200001234".to_owned())]);
    assert_eq!(kinds("ICBC:6222-0202-0000-1234"), [(SearchKind::Account, "account:icbc:6222020200001234".to_owned())]);
    assert_eq!(kinds("６２２２０２０２００００１２３４")[0].1, "account:6222020200001234", "full-width digits");
    assert_eq!(
        kinds("17000000000"),
        [
            (SearchKind::Account, "account:17000000000".to_owned()),
            (SearchKind::Phone, "phone:+8617000000000".to_owned())
        ]
    );
    assert_eq!(kinds("+86 170 0000 0000"), [(SearchKind::Phone, "phone:+8617000000000".to_owned())]);
    assert_eq!(
        kinds("https://www.Invest-Example.top/a"),
        [(SearchKind::Domain, "domain:invest-example.top".to_owned())]
    );
    assert_eq!(kinds("invest-example.top"), [(SearchKind::Domain, "domain:invest-example.top".to_owned())]);

    let exact = &lookups(&city(), "icbc:6222020200001234", None).unwrap()[0];
    assert!(exact.accepts("icbc:6222020200001234") && !exact.accepts("abc:6222020200001234"));
    let any = &lookups(&city(), "6222020200001234", None).unwrap()[0];
    assert!(any.accepts("abc:6222020200001234"));
}

#[test]
fn a_query_that_is_nothing_searchable_is_refused_naming_the_field_the_value_and_what_is_accepted() {
    for bad in ["' OR 1=1; --", "<script>alert(1)</script>", "", "   ", "王伟", "12345"] {
        let error = lookups(&city(), bad, None).unwrap_err();
        assert_eq!(error.kind, IntakeErrorKind::InvalidQuery, "{bad}");
        let [problem] = error.problems.as_slice() else { panic!("one problem: {error:?}") };
        assert_eq!((problem.field.as_str(), problem.value.as_str()), ("query", bad));
        assert_eq!(problem.expected, ANY_EXPECTED);
    }
    let other = CaseId::derive(&City::parse("ningbo").unwrap(), 7);
    let error = lookups(&city(), other.as_str(), None).unwrap_err();
    assert!(error.problems[0].expected.contains("a case id of huzhou"), "{error:?}");
    let error = lookups(&city(), "17000000000", Some(SearchKind::Domain)).unwrap_err();
    assert!(error.problems[0].expected.starts_with("a domain or URL"), "{error:?}");
    let error = lookups(&city(), "invest-example.top", Some(SearchKind::Account)).unwrap_err();
    assert!(error.problems[0].expected.starts_with("an account"), "{error:?}");
    let long = "1".repeat(MAX_QUERY_BYTES + 1);
    let error = lookups(&city(), &long, None).unwrap_err();
    assert_eq!(error.problems[0].expected, format!("at most {MAX_QUERY_BYTES} bytes"));
    assert!(error.problems[0].value.chars().count() <= MAX_ECHO_CHARS + 1, "the echo is cut");
}
