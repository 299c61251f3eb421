//! Normalisation from the formats victims and staff really type: a table of spellings and the
//! identifier (or the problem) each gives, and properties over generated spellings.

use blocking::normalize::{ContactKind, Identifier, Reason, looks_like, normalize};
use proptest::prelude::*;

use ContactKind::{App, Domain, Phone, Social, Url};

/// `(kind, as typed, the identifier's text form or the reason it is refused)`.
const TABLE: &[(ContactKind, &str, Result<&str, Reason>)] = &[
    // Chinese mobile numbers, every way they are written.
    (Phone, "+86 170-0000-0000", Ok("phone:+8617000000000")),
    (Phone, "0086 17000000000", Ok("phone:+8617000000000")),
    (Phone, "170 0000 0000", Ok("phone:+8617000000000")),
    (Phone, "(+86) 138.0013.8000", Ok("phone:+8613800138000")),
    (Phone, "tel:+86-138-0013-8000", Ok("phone:+8613800138000")),
    (Phone, "１３８００１３８０００", Ok("phone:+8613800138000")),
    (Phone, "  13800138000\t", Ok("phone:+8613800138000")),
    (Phone, "19200001111", Ok("phone:+8619200001111")),
    // Landlines with their area codes, the trunk 0 dropped.
    (Phone, "010-12345678", Ok("phone:+861012345678")),
    (Phone, "(020) 8888 8888", Ok("phone:+862088888888")),
    (Phone, "0571-87654321", Ok("phone:+8657187654321")),
    (Phone, "+86 (0)10 1234 5678", Ok("phone:+861012345678")),
    // 400 (shared cost) and 800 (toll free) numbers scammers put on fake customer service.
    (Phone, "400-123-4567", Ok("phone:+864001234567")),
    (Phone, "800-820-8820", Ok("phone:+868008208820")),
    // International numbers, with + or the 00 international prefix.
    (Phone, "+1 650-253-0000", Ok("phone:+16502530000")),
    (Phone, "+44 20 7946 0958", Ok("phone:+442079460958")),
    (Phone, "00852 2123 4567", Ok("phone:+85221234567")),
    (Phone, "+886 2 2345 6789", Ok("phone:+886223456789")),
    (Phone, "+63 917 123 4567", Ok("phone:+639171234567")),
    // Not numbers anyone can be called from.
    (Phone, "95588", Err(Reason::InvalidNumber)),
    (Phone, "12345", Err(Reason::TooShort)),
    (Phone, "+999 123456", Err(Reason::UnknownCountryCode)),
    (Phone, "call me", Err(Reason::NotANumber)),
    (Phone, "", Err(Reason::Empty)),
    // URLs: userinfo, port, path, query, fragment, case and the trailing dot stripped; the
    // registrable domain blocked.
    (Url, "http://user:pw@WWW.Example.COM.:8080/a/b?c=d#e", Ok("domain:example.com")),
    (Url, "https://m.fake-bank.com.cn/login?from=sms", Ok("domain:fake-bank.com.cn")),
    (Url, "www.fake-bank.com.cn/login", Ok("domain:fake-bank.com.cn")),
    (Url, "fake-bank.com.cn:8443/x", Ok("domain:fake-bank.com.cn")),
    (Url, "//cdn.fake-bank.com.cn/a.js", Ok("domain:fake-bank.com.cn")),
    (Url, "HTTPS://Portal.Court-Notice.GOV.CN.example.net/", Ok("domain:example.net")),
    (Url, "http://a.b.police.gov.cn/", Ok("domain:police.gov.cn")),
    (Url, "https://a.b.c.example.co.uk/", Ok("domain:example.co.uk")),
    // Private suffixes count: a site on a shared host is its own registrable domain.
    (Url, "https://scam-shop.github.io/pay", Ok("domain:scam-shop.github.io")),
    (Url, "http://x.y.blogspot.com/", Ok("domain:y.blogspot.com")),
    (Url, "https://github.io/", Err(Reason::PublicSuffix)),
    (Url, "http://com.cn", Err(Reason::PublicSuffix)),
    // Internationalised names become punycode; full-width forms and 。 read as ASCII.
    (Url, "http://例子.中国/", Ok("domain:xn--fsqu00a.xn--fiqs8s")),
    (Url, "http://www.xn--fsqu00a.xn--fiqs8s/", Ok("domain:xn--fsqu00a.xn--fiqs8s")),
    (Url, "ｈｔｔｐｓ：／／ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ／", Ok("domain:example.com")),
    (Url, "http://www.example。com", Ok("domain:example.com")),
    (Url, "https://аpple.com/id", Ok("domain:xn--pple-43d.com")),
    // IP hosts stay IPs, in their canonical form; IPv4-mapped IPv6 is the IPv4 address.
    (Url, "http://203.0.113.7:8080/x", Err(Reason::NonPublicAddress)),
    (Url, "http://8.8.8.8:8080/x", Ok("ip:8.8.8.8")),
    (Url, "http://0x8.0x8.0x8.0x8/", Ok("ip:8.8.8.8")),
    (Url, "http://[2001:4860:4860:0:0:0:0:8888]/", Ok("ip:2001:4860:4860::8888")),
    (Url, "http://[::ffff:8.8.4.4]/", Ok("ip:8.8.4.4")),
    (Url, "http://127.0.0.1/", Err(Reason::NonPublicAddress)),
    (Url, "http://192.168.1.1/admin", Err(Reason::NonPublicAddress)),
    // Schemes that name no site.
    (Url, "javascript:alert(document.cookie)", Err(Reason::UnsupportedScheme)),
    (Url, "data:text/html;base64,PHNjcmlwdD4=", Err(Reason::UnsupportedScheme)),
    (Url, "ftp://files.example.com/", Err(Reason::UnsupportedScheme)),
    (Url, "http://-bad-.com/", Err(Reason::BadLabel)),
    (Url, "http://intranet/", Err(Reason::PublicSuffix)),
    (Url, "http://", Err(Reason::NoHost)),
    // Bare hosts.
    (Domain, "WWW.Fake-Bank.com.cn.", Ok("domain:fake-bank.com.cn")),
    (Domain, "2001:4860:4860::8888", Ok("ip:2001:4860:4860::8888")),
    (Domain, "fake-bank.com.cn/login", Err(Reason::BadLabel)),
    // Apps by package id.
    (App, "com.Example.Loan", Ok("app:com.example.loan")),
    (App, " cn.fast_cash.app2 ", Ok("app:cn.fast_cash.app2")),
    (App, "安全防护", Err(Reason::BadPackageId)),
    (App, "loanapp", Err(Reason::BadPackageId)),
    (App, "com..example", Err(Reason::BadPackageId)),
    // Social accounts.
    (Social, "WeChat:Wxid_Abc123456", Ok("social:wechat:wxid_abc123456")),
    (Social, "微信：kefu_2023", Ok("social:wechat:kefu_2023")),
    (Social, "qq:123456789", Ok("social:qq:123456789")),
    (Social, "tg:@Stock_Tips_VIP", Ok("social:telegram:stock_tips_vip")),
    (Social, "whatsapp:+63 917 123 4567", Ok("social:whatsapp:+639171234567")),
    (Social, "qq:0123", Err(Reason::BadAccountId)),
    (Social, "myspace:someone", Err(Reason::UnknownPlatform)),
    (Social, "wechat", Err(Reason::BadAccountId)),
];

#[test]
fn real_world_spellings_normalise_as_the_table_says() {
    let mut wrong = Vec::new();
    for (kind, typed, expected) in TABLE {
        let got = normalize(*kind, typed).map(|id| id.to_string()).map_err(|e| e.reason);
        if got.as_deref().map_err(|r| *r) != *expected {
            wrong.push(format!("{kind} {typed:?}: got {got:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} rows wrong:\n{}", wrong.len(), TABLE.len(), wrong.join("\n"));
    assert!(TABLE.len() >= 30);
}

#[test]
fn a_refusal_names_the_kind_the_value_truncated_and_what_is_accepted() {
    let long = format!("javascript:{}", "x".repeat(500));
    let refused = normalize(Url, &long).unwrap_err();
    assert_eq!((refused.kind, refused.reason), (Url, Reason::UnsupportedScheme));
    assert_eq!(refused.value.chars().count(), blocking::limits::MAX_ECHO_CHARS + 1, "80 characters and …");
    assert!(refused.expected().contains("http or https"), "{}", refused.expected());
    assert!(refused.to_string().starts_with("invalid url \"javascript:xxx"), "{refused}");
}

#[test]
fn hosts_past_dns_bounds_are_refused_before_any_lookup() {
    let thousands_of_labels = format!("http://{}example.com/", "a.".repeat(1_000));
    assert_eq!(normalize(Url, &thousands_of_labels).unwrap_err().reason, Reason::HostTooLong);
    let long_label = format!("http://{}.com/", "a".repeat(64));
    assert_eq!(normalize(Url, &long_label).unwrap_err().reason, Reason::HostTooLong);
    let huge = format!("http://{}.com/", "a.".repeat(100_000));
    assert_eq!(normalize(Url, &huge).unwrap_err().reason, Reason::TooLong, "refused unread");
}

#[test]
fn look_alike_domains_are_blocked_and_flagged_with_what_they_imitate() {
    let homoglyph = normalize(Url, "https://аpple.com/").unwrap();
    assert_eq!(looks_like(&homoglyph).as_deref(), Some("аpple.com"), "the Unicode form, as the victim saw it");
    let whole_script = normalize(Domain, "раураl.com").unwrap();
    assert!(looks_like(&whole_script).is_some(), "Cyrillic letters only, looking like paypal");
    for honest in ["例子.中国", "淘宝taobao.com", "example.com", "пример.рф"] {
        let id = normalize(Domain, honest).unwrap();
        assert_eq!(looks_like(&id), None, "{honest} is one script (or an allowed mix)");
    }
}

#[test]
fn the_text_form_parses_back_only_when_canonical_and_serde_goes_through_it() {
    for (kind, typed, expected) in TABLE {
        if let Ok(text) = expected {
            let id = normalize(*kind, typed).unwrap();
            assert_eq!(Identifier::parse(text).unwrap(), id);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<Identifier>(&json).unwrap(), id);
        }
    }
    for not_canonical in ["phone:13800138000", "domain:www.example.com", "app:com.Example", "fax:123", "nothing"] {
        assert_eq!(Identifier::parse(not_canonical).unwrap_err().reason, Reason::NotCanonical, "{not_canonical}");
    }
    assert!(serde_json::from_str::<Identifier>("\"domain:WWW.example.com\"").is_err());
}

fn cn_mobile() -> impl Strategy<Value = String> {
    (prop::sample::select(vec!["130", "138", "150", "170", "177", "186", "189", "199"]), 0u32..100_000_000)
        .prop_map(|(prefix, rest)| format!("{prefix}{rest:08}"))
}

/// Ways a Chinese number is written: with +86 or 0086, spaced 3-4-4, dashed, full width.
fn spelling(number: &str, style: u8) -> String {
    let (a, b, c) = (&number[..3], &number[3..7], &number[7..]);
    match style % 6 {
        0 => number.to_owned(),
        1 => format!("+86 {a}-{b}-{c}"),
        2 => format!("0086 {number}"),
        3 => format!("{a} {b} {c}"),
        4 => format!("(+86){a}.{b}.{c}"),
        _ => number.chars().map(|d| char::from_u32(d as u32 - '0' as u32 + '０' as u32).unwrap()).collect(),
    }
}

proptest! {
    #[test]
    fn two_spellings_of_one_number_give_one_identifier(number in cn_mobile(), one in 0u8..6, other in 0u8..6) {
        let first = normalize(Phone, &spelling(&number, one));
        let second = normalize(Phone, &spelling(&number, other));
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(first.unwrap().value().to_owned(), format!("+86{number}"));
    }

    #[test]
    fn normalising_an_identifier_again_gives_it_back(
        kind in prop::sample::select(ContactKind::ALL.to_vec()),
        typed in prop_oneof![
            "[a-zA-Z0-9.:/@_+() -]{0,40}",
            "(https?://)?([a-z0-9-]{1,8}\\.){1,4}(com|cn|com\\.cn|github\\.io|中国)(:[0-9]{1,5})?(/[a-z]{0,6})?",
            "\\+?[0-9 ()-]{3,20}",
            "(wechat|qq|tg|whatsapp):@?[a-zA-Z0-9_]{1,20}",
            "\\PC{0,30}",
        ],
    ) {
        if let Ok(id) = normalize(kind, &typed) {
            let again = normalize(kind, id.value()).expect("a canonical value normalises");
            prop_assert_eq!(&again, &id);
            prop_assert_eq!(Identifier::parse(&id.to_string()).unwrap(), id);
        }
    }
}
