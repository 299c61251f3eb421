//! Report validation: a JSON value in, a [`Report`] or every problem found out.
//!
//! Validation reads the raw JSON value rather than deserializing into a struct, so one pass
//! reports every bad field at once (a typed deserializer stops at the first). Personal data
//! is never echoed back: a bad victim field is described by its length only. Text is made
//! canonical ([`super::normalize`]) before it is checked and kept, and a control character
//! in it is refused.

use domain::report::{
    Contacts, Destination, MAX_CONTACTS_PER_KIND, MAX_TEXT_BYTES, MAX_TRANSFERS, Report, ReportedTransfer, Victim,
};
use domain::{AccountRef, Fen, FraudType, PaymentOrderRef, Sensitive, TimeMs};
use protocol::intake::Problem;
use serde_json::{Map, Value};

use super::normalize;
use crate::limits::{MAX_AMOUNT_FEN, MAX_CLOCK_SKEW_MS, MAX_CONTACT_CHARS, MAX_ECHO_CHARS};

const TOP_LEVEL: [&str; 5] = ["victim", "fraud_type", "transfers", "contacts", "narrative"];
const CONTACT_KINDS: [&str; 4] = ["phones", "urls", "apps", "social"];
const TRANSFER_FIELDS: [&str; 5] = ["account", "order", "from_account", "amount_fen", "at_ms"];

struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, field: impl Into<String>, value: impl Into<String>, expected: impl Into<String>) {
        self.0.push(Problem { field: field.into(), value: value.into(), expected: expected.into() });
    }
}

fn echo(value: &Value) -> String {
    let text = match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    if text.chars().count() > MAX_ECHO_CHARS {
        format!("{}…", text.chars().take(MAX_ECHO_CHARS).collect::<String>())
    } else {
        text
    }
}

fn missing() -> String {
    "missing".into()
}

/// Validates a report body received at `now`.
pub fn validate(body: &Value, now: TimeMs) -> Result<Report, Vec<Problem>> {
    let mut problems = Problems(Vec::new());
    let Some(object) = body.as_object() else {
        problems.push("$", echo(body), "a JSON object with victim, fraud_type, transfers, contacts, narrative");
        return Err(problems.0);
    };
    for key in object.keys().filter(|k| !TOP_LEVEL.contains(&k.as_str())) {
        problems.push(key.clone(), "present", format!("no such field; fields are {}", TOP_LEVEL.join(", ")));
    }
    let victim = victim(object.get("victim"), &mut problems);
    let fraud_type = match object.get("fraud_type") {
        Some(Value::String(s)) => FraudType::parse(s)
            .map_err(|e| problems.push("fraud_type", echo(&Value::String(s.clone())), e.expected))
            .ok(),
        Some(other) => {
            problems.push("fraud_type", echo(other), FraudType::EXPECTED);
            None
        }
        None => {
            problems.push("fraud_type", missing(), FraudType::EXPECTED);
            None
        }
    };
    let transfers = transfers(object.get("transfers"), now, &mut problems);
    let contacts = contacts(object.get("contacts"), &mut problems);
    let narrative = match object.get("narrative") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if normalize::forbidden(s).is_some() => {
            let c = normalize::forbidden(s).unwrap_or_default();
            problems.push("narrative", normalize::describe(c), "text without control characters");
            String::new()
        }
        Some(Value::String(s)) => {
            let text = normalize::narrative(s);
            if text.len() > MAX_TEXT_BYTES {
                problems.push("narrative", format!("{} bytes", text.len()), format!("at most {MAX_TEXT_BYTES} bytes"));
            }
            text
        }
        Some(other) => {
            problems.push("narrative", echo(other), "a string");
            String::new()
        }
    };
    match (victim, fraud_type, transfers) {
        (Some(victim), Some(fraud_type), Some(transfers)) if problems.0.is_empty() => {
            Ok(Report { victim, fraud_type, transfers, contacts, narrative: Sensitive::new(narrative) })
        }
        _ => Err(problems.0),
    }
}

fn victim(value: Option<&Value>, problems: &mut Problems) -> Option<Victim> {
    let Some(Value::Object(victim)) = value else {
        problems.push("victim", value.map_or_else(missing, echo), "an object with name, id_number, phone");
        return None;
    };
    for key in victim.keys().filter(|k| !["name", "id_number", "phone"].contains(&k.as_str())) {
        problems.push(format!("victim.{key}"), "present", "no such field; fields are name, id_number, phone");
    }
    let field = |name: &str, ok: fn(&str) -> bool, expected: &str, problems: &mut Problems| -> Option<String> {
        match victim.get(name).map(|v| (v, v.as_str().map(|s| (s, normalize::line(s))))) {
            // Personal data: describe, never echo.
            Some((_, Some((s, _)))) if normalize::forbidden(s).is_some() => {
                let c = normalize::forbidden(s).unwrap_or_default();
                let value = format!("<redacted, {} chars, with {}>", s.chars().count(), normalize::describe(c));
                problems.push(format!("victim.{name}"), value, expected);
                None
            }
            Some((_, Some((_, text)))) if ok(&text) => Some(text),
            Some((_, Some((_, text)))) => {
                problems.push(
                    format!("victim.{name}"),
                    format!("<redacted, {} chars>", text.chars().count()),
                    expected,
                );
                None
            }
            Some((_, None)) => {
                problems.push(format!("victim.{name}"), "<redacted, not a string>", expected);
                None
            }
            None => {
                problems.push(format!("victim.{name}"), missing(), expected);
                None
            }
        }
    };
    let name =
        field("name", |s| !s.trim().is_empty() && s.chars().count() <= 64, "a name of 1-64 characters", problems);
    let id_number =
        field("id_number", is_id_number, "an 18-character resident ID number (17 digits, then a digit or X)", problems);
    let phone = field("phone", is_phone, "a phone number of 5-15 digits, optionally starting with +", problems);
    Some(Victim { name: Sensitive::new(name?), id_number: Sensitive::new(id_number?), phone: Sensitive::new(phone?) })
}

fn is_id_number(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 18 && bytes[..17].iter().all(u8::is_ascii_digit) && (bytes[17].is_ascii_digit() || bytes[17] == b'X')
}

fn is_phone(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (5..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn transfers(value: Option<&Value>, now: TimeMs, problems: &mut Problems) -> Option<Vec<ReportedTransfer>> {
    let expected = format!("a list of 1-{MAX_TRANSFERS} transfers");
    let list = match value {
        Some(Value::Array(list)) if !list.is_empty() && list.len() <= MAX_TRANSFERS => list,
        Some(Value::Array(list)) => {
            problems.push("transfers", format!("{} transfers", list.len()), expected);
            return None;
        }
        Some(other) => {
            problems.push("transfers", echo(other), expected);
            return None;
        }
        None => {
            problems.push("transfers", missing(), expected);
            return None;
        }
    };
    let before = problems.0.len();
    let mut transfers = Vec::with_capacity(list.len());
    let mut total = Fen::ZERO;
    for (index, item) in list.iter().enumerate() {
        let at = |field: &str| format!("transfers[{index}].{field}");
        let Some(item) = item.as_object() else {
            problems.push(
                format!("transfers[{index}]"),
                echo(item),
                "an object with account or order, from_account, amount_fen, at_ms",
            );
            continue;
        };
        for key in item.keys().filter(|k| !TRANSFER_FIELDS.contains(&k.as_str())) {
            problems.push(at(key), "present", format!("no such field; fields are {}", TRANSFER_FIELDS.join(", ")));
        }
        let to = destination(item, index, problems);
        let from_account = from_account(item, index, to.as_ref(), problems);
        let amount = match item.get("amount_fen") {
            Some(Value::Number(n)) => match n.as_u64() {
                Some(fen) if fen > 0 && fen <= MAX_AMOUNT_FEN => Some(Fen::new(fen)),
                _ => {
                    problems.push(
                        at("amount_fen"),
                        n.to_string(),
                        format!("a whole number of fen from 1 to {MAX_AMOUNT_FEN}"),
                    );
                    None
                }
            },
            other => {
                problems.push(
                    at("amount_fen"),
                    other.map_or_else(missing, echo),
                    format!("a whole number of fen from 1 to {MAX_AMOUNT_FEN}"),
                );
                None
            }
        };
        let at_ms = match item.get("at_ms").and_then(Value::as_u64) {
            Some(ms) if ms > 0 && ms <= now + MAX_CLOCK_SKEW_MS => Some(ms),
            Some(ms) => {
                problems.push(
                    at("at_ms"),
                    ms.to_string(),
                    format!("a time in ms since 1970, not after now ({now}) + {MAX_CLOCK_SKEW_MS} ms"),
                );
                None
            }
            None => {
                problems.push(at("at_ms"), item.get("at_ms").map_or_else(missing, echo), "a time in ms since 1970");
                None
            }
        };
        if let Some(amount) = amount {
            match total.checked_add(amount) {
                Ok(sum) => total = sum,
                Err(_) => {
                    problems.push(at("amount_fen"), amount.get().to_string(), "amounts whose total fits in 64 bits")
                }
            }
        }
        if let (Some(to), Some(amount), Some(at_ms), Ok(from_account)) = (to, amount, at_ms, from_account) {
            transfers.push(ReportedTransfer { to, amount, at_ms, from_account });
        }
    }
    (problems.0.len() == before).then_some(transfers)
}

fn destination(item: &Map<String, Value>, index: usize, problems: &mut Problems) -> Option<Destination> {
    let field = |name: &str| format!("transfers[{index}].{name}");
    match (item.get("account"), item.get("order")) {
        (Some(Value::String(s)), None) => AccountRef::parse(s)
            .map(Destination::Account)
            .map_err(|e| problems.push(field("account"), echo(&Value::String(s.clone())), e.expected))
            .ok(),
        (None, Some(Value::String(s))) => PaymentOrderRef::parse(s)
            .map(Destination::Order)
            .map_err(|e| problems.push(field("order"), echo(&Value::String(s.clone())), e.expected))
            .ok(),
        (Some(account), Some(_)) => {
            problems.push(field("account"), echo(account), "either account or order, not both");
            None
        }
        (Some(other), None) | (None, Some(other)) => {
            let name = if item.contains_key("account") { "account" } else { "order" };
            problems.push(field(name), echo(other), "a string");
            None
        }
        (None, None) => {
            problems.push(
                format!("transfers[{index}]"),
                "no account or order",
                "an account (<bank>:<digits>) or an order (<platform>:<id>)",
            );
            None
        }
    }
}

/// The victim's own account the money left from (`from_account`): optional, for a bank
/// transfer and a payment order alike; absent or `null` means not given. It is the victim's
/// personal data, so a bad one is described by its length, never echoed (as a victim field).
/// The account the money went to is refused: the money is returned to this account, and must
/// not go back to the mule.
fn from_account(
    item: &Map<String, Value>,
    index: usize,
    to: Option<&Destination>,
    problems: &mut Problems,
) -> Result<Option<Sensitive<AccountRef>>, ()> {
    let field = format!("transfers[{index}].from_account");
    let expected = || format!("the victim's own account the money left from: {}", AccountRef::EXPECTED);
    let refuse = |problems: &mut Problems, value: String, expected: String| {
        problems.push(field.clone(), value, expected);
        Err(())
    };
    match item.get("from_account") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => match AccountRef::parse(s) {
            Ok(account) if to.is_some_and(|to| *to == Destination::Account(account.clone())) => refuse(
                problems,
                format!("<redacted, the same as transfers[{index}].account>"),
                "the victim's own account the money left from, not the account it was paid into".into(),
            ),
            Ok(account) => Ok(Some(Sensitive::new(account))),
            Err(_) => refuse(problems, format!("<redacted, {} chars>", s.chars().count()), expected()),
        },
        Some(_) => refuse(problems, "<redacted, not a string>".into(), expected()),
    }
}

fn contacts(value: Option<&Value>, problems: &mut Problems) -> Contacts {
    let mut contacts = Contacts::default();
    let object = match value {
        None | Some(Value::Null) => return contacts,
        Some(Value::Object(object)) => object,
        Some(other) => {
            problems.push("contacts", echo(other), "an object with phones, urls, apps, social (lists of strings)");
            return contacts;
        }
    };
    for key in object.keys().filter(|k| !CONTACT_KINDS.contains(&k.as_str())) {
        problems.push(format!("contacts.{key}"), "present", "no such field; fields are phones, urls, apps, social");
    }
    for kind in CONTACT_KINDS {
        let Some(value) = object.get(kind) else {
            continue;
        };
        let expected = format!("a list of at most {MAX_CONTACTS_PER_KIND} strings of 1-{MAX_CONTACT_CHARS} characters");
        let Some(list) = value.as_array().filter(|l| l.len() <= MAX_CONTACTS_PER_KIND) else {
            problems.push(format!("contacts.{kind}"), echo(value), expected);
            continue;
        };
        let mut items = Vec::with_capacity(list.len());
        for (index, item) in list.iter().enumerate() {
            let field = format!("contacts.{kind}[{index}]");
            match item.as_str() {
                Some(s) if normalize::forbidden(s).is_some() => {
                    let c = normalize::forbidden(s).unwrap_or_default();
                    problems.push(field, normalize::describe(c), "text without control characters");
                }
                Some(s) => {
                    let text = normalize::line(s);
                    if !text.is_empty() && text.chars().count() <= MAX_CONTACT_CHARS {
                        items.push(text);
                    } else {
                        problems.push(field, echo(item), expected.clone());
                    }
                }
                None => problems.push(field, echo(item), expected.clone()),
            }
        }
        match kind {
            "phones" => contacts.phones = items,
            "urls" => contacts.urls = items,
            "apps" => contacts.apps = items,
            _ => contacts.social = items,
        }
    }
    contacts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: TimeMs = 1_763_700_000_000;

    fn valid() -> Value {
        json!({
            "victim": {"name": "张三", "id_number": "33010219900101123X", "phone": "13800138000"},
            "fraud_type": "pig_butchering",
            "transfers": [
                {"account": "icbc:6222020200001234", "amount_fen": 500000, "at_ms": NOW - 60_000},
                {"order": "wechatpay:4200001234ABC", "amount_fen": 20000, "at_ms": NOW - 30_000}
            ],
            "contacts": {"phones": ["+8617000000000"], "urls": ["https://x.example.cn"]},
            "narrative": "met online"
        })
    }

    fn fields(body: Value) -> Vec<String> {
        validate(&body, NOW).unwrap_err().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_valid_report_passes_with_every_field_kept() {
        let report = validate(&valid(), NOW).unwrap();
        assert_eq!(report.fraud_type, FraudType::PigButchering);
        assert_eq!(report.transfers.len(), 2);
        assert_eq!(report.reported_loss(), Fen::new(520_000));
        assert_eq!(report.contacts.phones, vec!["+8617000000000"]);
    }

    #[test]
    fn every_problem_is_listed_at_once_with_its_field() {
        let mut body = valid();
        body["fraud_type"] = json!("lottery");
        body["transfers"][0]["amount_fen"] = json!(0);
        body["transfers"][1]["order"] = json!("wechatpay:1");
        body["extra"] = json!(true);
        assert_eq!(fields(body), vec!["extra", "fraud_type", "transfers[0].amount_fen", "transfers[1].order"]);
    }

    #[test]
    fn amounts_must_be_positive_whole_fen_within_bounds() {
        for bad in [json!(0), json!(-5), json!(1.5), json!("100"), json!(18_446_744_073_709_551_615u64), json!(1e30)] {
            let mut body = valid();
            body["transfers"][0]["amount_fen"] = bad.clone();
            assert_eq!(fields(body), vec!["transfers[0].amount_fen"], "{bad} accepted");
        }
    }

    #[test]
    fn a_transfer_in_the_future_is_refused() {
        let mut body = valid();
        body["transfers"][0]["at_ms"] = json!(NOW + 3_600_000);
        let problems = validate(&body, NOW).unwrap_err();
        assert_eq!(problems[0].field, "transfers[0].at_ms");
        assert_eq!(problems[0].value, (NOW + 3_600_000).to_string());
    }

    #[test]
    fn transfers_must_be_present_and_name_one_destination() {
        let mut body = valid();
        body["transfers"] = json!([]);
        assert_eq!(fields(body), vec!["transfers"]);
        let mut body = valid();
        body["transfers"][0]["order"] = json!("alipay:ABCDEF123");
        assert_eq!(fields(body), vec!["transfers[0].account"]);
        let mut body = valid();
        body["transfers"][0] = json!({"amount_fen": 5, "at_ms": NOW});
        assert_eq!(fields(body), vec!["transfers[0]"]);
    }

    #[test]
    fn victim_data_is_never_echoed_back() {
        let mut body = valid();
        body["victim"]["id_number"] = json!("123456");
        body["victim"]["phone"] = json!("call me at 138");
        let problems = validate(&body, NOW).unwrap_err();
        assert_eq!(problems.len(), 2);
        for problem in problems {
            assert!(problem.value.starts_with("<redacted"), "{problem:?}");
            assert!(!problem.value.contains("123456") && !problem.value.contains("138"));
        }
    }

    #[test]
    fn the_victims_paying_account_is_kept_for_a_bank_transfer_and_a_payment_order() {
        let mut body = valid();
        body["transfers"][0]["from_account"] = json!("ccb:6217000011112222");
        body["transfers"][1]["from_account"] = json!("abc:6228480000000001");
        let report = validate(&body, NOW).unwrap();
        let from: Vec<_> =
            report.transfers.iter().map(|t| t.from_account.as_ref().map(|a| a.expose().as_str())).collect();
        assert_eq!(from, vec![Some("ccb:6217000011112222"), Some("abc:6228480000000001")]);
        let printed = format!("{report:?}");
        assert!(!printed.contains("6217000011112222") && !printed.contains("6228480000000001"), "masked: {printed}");
    }

    #[test]
    fn a_report_without_paying_accounts_is_accepted_as_before() {
        // Reports and clients from before `from_account` send none; `null` is none too.
        let report = validate(&valid(), NOW).unwrap();
        assert!(report.transfers.iter().all(|t| t.from_account.is_none()));
        let mut body = valid();
        body["transfers"][0]["from_account"] = Value::Null;
        assert!(validate(&body, NOW).unwrap().transfers[0].from_account.is_none());
    }

    #[test]
    fn a_malformed_paying_account_is_named_described_and_never_echoed() {
        for (bad, value) in [
            (json!("6217000011112222"), "<redacted, 16 chars>"),
            (json!("ccb:62170000x1112222"), "<redacted, 20 chars>"),
            (json!("CCB:6217000011112222"), "<redacted, 20 chars>"),
            (json!(6217000011112222u64), "<redacted, not a string>"),
        ] {
            let mut body = valid();
            body["transfers"][1]["from_account"] = bad.clone();
            let problems = validate(&body, NOW).unwrap_err();
            assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
            assert_eq!(problems[0].field, "transfers[1].from_account");
            assert_eq!(problems[0].value, value);
            assert!(problems[0].expected.contains(AccountRef::EXPECTED), "{}", problems[0].expected);
            assert!(!problems[0].to_string().contains("11112222"), "never echoed: {}", problems[0]);
        }
    }

    #[test]
    fn a_paying_account_that_is_the_account_paid_into_is_refused() {
        let mut body = valid();
        body["transfers"][0]["from_account"] = json!("icbc:6222020200001234");
        let problems = validate(&body, NOW).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].field, "transfers[0].from_account");
        assert_eq!(problems[0].value, "<redacted, the same as transfers[0].account>");
        assert!(problems[0].expected.contains("not the account it was paid into"));
        // With other problems in the same transfer, each is listed.
        body["transfers"][0]["amount_fen"] = json!(0);
        assert_eq!(fields(body), vec!["transfers[0].from_account", "transfers[0].amount_fen"]);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        assert_eq!(fields(json!([1, 2])), vec!["$"]);
    }
}
