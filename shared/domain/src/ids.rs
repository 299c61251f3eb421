//! Identifiers that can only be built by parsing: cities, banks, platforms, accounts,
//! payment orders, cases and fraud types.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a string is not a valid identifier. Names the kind, the value and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: expected {expected}")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static str,
}

pub(crate) fn id_error(kind: &'static str, value: &str, expected: &'static str) -> IdError {
    // Bound the echoed value so a huge input does not produce a huge error.
    const ECHO_MAX_CHARS: usize = 80;
    let value: String = value.chars().take(ECHO_MAX_CHARS).collect();
    IdError { kind, value, expected }
}

fn is_token(s: &str, min: usize, max: usize, first: fn(u8) -> bool, rest: fn(u8) -> bool) -> bool {
    let bytes = s.as_bytes();
    (min..=max).contains(&bytes.len())
        && bytes.first().is_some_and(|b| first(*b))
        && bytes[1..].iter().all(|b| rest(*b))
}

/// Declares a string newtype whose only constructor is `parse`, with serde going through it.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                $name::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

string_id!(
    /// A city center's name: lower-case ASCII letters and digits, starting with a letter,
    /// 2–32 characters. It is a NATS subject token, a JetStream domain and (upper-cased) part
    /// of a stream name, so nothing else is allowed.
    City
);
string_id!(
    /// A bank's code on the adapter bus (`afc.bank.<bank>.…`): 2–16 lower-case letters or digits.
    BankId
);
string_id!(
    /// A payment platform's code (`afc.pay.<platform>.…`): 2–16 lower-case letters or digits.
    PlatformId
);
string_id!(
    /// A bank account: `<bank>:<number>`, the number 6–32 digits.
    AccountRef
);
string_id!(
    /// A payment-platform order: `<platform>:<order>`, the order 6–64 letters or digits.
    PaymentOrderRef
);
string_id!(
    /// A victim's paying account as every service but intake sees it: `<bank>:<32 lower-case
    /// hex digits>`, the account's bank and a keyed hash of the whole account (intake's
    /// `PayerSecret`: SipHash-1-3-128 under a secret drawn with intake's store, which never
    /// leaves it). The same account gives the same reference within a city; without the
    /// secret the reference says nothing of the number, so events may carry it where they
    /// may not carry the account (the province sources every event). Intake's `payers`
    /// command gives the account back.
    PayerRef
);
string_id!(
    /// A case: `<city>-<16 hex digits>`, derived from the report's content so the same
    /// report submitted twice gets the same id.
    CaseId
);

const CODE_EXPECTED: &str = "2-16 lower-case ascii letters or digits, starting with a letter";

fn is_code(s: &str) -> bool {
    is_token(s, 2, 16, |b| b.is_ascii_lowercase(), |b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl City {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_token(s, 2, 32, |b| b.is_ascii_lowercase(), |b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            Ok(City(s.to_owned()))
        } else {
            Err(id_error("city", s, "2-32 lower-case ascii letters or digits, starting with a letter"))
        }
    }

    /// The city's JetStream stream name, e.g. `AFC_HANGZHOU`.
    pub fn stream_name(&self) -> String {
        format!("AFC_{}", self.0.to_ascii_uppercase())
    }

    /// The city's stream of carriers' and platforms' contact signals, `AFC_<CITY>_SIG`: kept
    /// days, not months, and never sourced by the province (subscribers are personal data).
    pub fn signal_stream_name(&self) -> String {
        format!("AFC_{}_SIG", self.0.to_ascii_uppercase())
    }
}

impl BankId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_code(s) { Ok(BankId(s.to_owned())) } else { Err(id_error("bank", s, CODE_EXPECTED)) }
    }
}

impl PlatformId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        if is_code(s) { Ok(PlatformId(s.to_owned())) } else { Err(id_error("platform", s, CODE_EXPECTED)) }
    }
}

impl AccountRef {
    pub const EXPECTED: &'static str = "<bank>:<6-32 digits>, bank 2-16 lower-case letters or digits";

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let valid = s.split_once(':').is_some_and(|(bank, number)| {
            is_code(bank) && (6..=32).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit())
        });
        if valid { Ok(AccountRef(s.to_owned())) } else { Err(id_error("account", s, Self::EXPECTED)) }
    }

    pub fn new(bank: &BankId, number: &str) -> Result<Self, IdError> {
        Self::parse(&format!("{bank}:{number}"))
    }

    pub fn bank(&self) -> BankId {
        let (bank, _) = self.0.split_once(':').expect("validated on parse");
        BankId(bank.to_owned())
    }

    pub fn number(&self) -> &str {
        self.0.split_once(':').expect("validated on parse").1
    }
}

impl PayerRef {
    pub const EXPECTED: &'static str = "<bank>:<32 lower-case hex digits>, bank 2-16 lower-case letters or digits";

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let valid = s.split_once(':').is_some_and(|(bank, key)| {
            is_code(bank) && key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if valid { Ok(PayerRef(s.to_owned())) } else { Err(id_error("payer reference", s, Self::EXPECTED)) }
    }

    /// The reference of an account at `bank` whose keyed hash is `key`.
    pub fn new(bank: &BankId, key: u128) -> Self {
        PayerRef(format!("{bank}:{key:032x}"))
    }

    /// The paying account's bank.
    pub fn bank(&self) -> BankId {
        let (bank, _) = self.0.split_once(':').expect("validated on parse");
        BankId(bank.to_owned())
    }
}

impl PaymentOrderRef {
    const EXPECTED: &'static str = "<platform>:<6-64 ascii letters or digits>";

    pub fn parse(s: &str) -> Result<Self, IdError> {
        let valid = s.split_once(':').is_some_and(|(platform, order)| {
            is_code(platform) && (6..=64).contains(&order.len()) && order.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if valid { Ok(PaymentOrderRef(s.to_owned())) } else { Err(id_error("payment order", s, Self::EXPECTED)) }
    }

    pub fn platform(&self) -> PlatformId {
        let (platform, _) = self.0.split_once(':').expect("validated on parse");
        PlatformId(platform.to_owned())
    }
}

impl CaseId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let valid = s.rsplit_once('-').is_some_and(|(city, hash)| {
            City::parse(city).is_ok()
                && hash.len() == 16
                && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if valid { Ok(CaseId(s.to_owned())) } else { Err(id_error("case id", s, "<city>-<16 lower-case hex digits>")) }
    }

    /// The case id for a report of `city` whose canonical content hashes to `content_hash`.
    pub fn derive(city: &City, content_hash: u64) -> Self {
        CaseId(format!("{city}-{content_hash:016x}"))
    }

    pub fn city(&self) -> City {
        let (city, _) = self.0.rsplit_once('-').expect("validated on parse");
        City(city.to_owned())
    }
}

/// The fraud types the centers classify reports by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FraudType {
    OnlineLoan,
    OrderBrushing,
    FakeCustomerService,
    PigButchering,
    ImpersonatingAuthorities,
    StockTips,
    FakeEcommerce,
    LuxuryBait,
}

impl FraudType {
    pub const ALL: [FraudType; 8] = [
        FraudType::OnlineLoan,
        FraudType::OrderBrushing,
        FraudType::FakeCustomerService,
        FraudType::PigButchering,
        FraudType::ImpersonatingAuthorities,
        FraudType::StockTips,
        FraudType::FakeEcommerce,
        FraudType::LuxuryBait,
    ];

    pub const EXPECTED: &'static str = "one of online_loan, order_brushing, fake_customer_service, pig_butchering, \
         impersonating_authorities, stock_tips, fake_ecommerce, luxury_bait";

    pub fn as_str(self) -> &'static str {
        match self {
            FraudType::OnlineLoan => "online_loan",
            FraudType::OrderBrushing => "order_brushing",
            FraudType::FakeCustomerService => "fake_customer_service",
            FraudType::PigButchering => "pig_butchering",
            FraudType::ImpersonatingAuthorities => "impersonating_authorities",
            FraudType::StockTips => "stock_tips",
            FraudType::FakeEcommerce => "fake_ecommerce",
            FraudType::LuxuryBait => "luxury_bait",
        }
    }

    pub fn parse(s: &str) -> Result<Self, IdError> {
        FraudType::ALL.into_iter().find(|t| t.as_str() == s).ok_or_else(|| id_error("fraud type", s, Self::EXPECTED))
    }
}

impl fmt::Display for FraudType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn city_accepts_lower_case_tokens_only() {
        assert!(City::parse("hangzhou").is_ok());
        assert!(City::parse("wenzhou2").is_ok());
        for bad in ["", "h", "Hangzhou", "hang.zhou", "hang zhou", "2zhou", "hang>", "a*"] {
            let err = City::parse(bad).unwrap_err();
            assert_eq!(err.kind, "city");
            assert_eq!(err.value, bad);
        }
        assert_eq!(City::parse("hangzhou").unwrap().stream_name(), "AFC_HANGZHOU");
    }

    #[test]
    fn account_splits_into_bank_and_number() {
        let account = AccountRef::parse("icbc:6222020200001234").unwrap();
        assert_eq!(account.bank().as_str(), "icbc");
        assert_eq!(account.number(), "6222020200001234");
        for bad in ["icbc", "icbc:", "icbc:12345", "ICBC:6222020200001234", "icbc:62220202x0001234", ":6222020200"] {
            assert!(AccountRef::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn payer_ref_names_a_bank_and_a_key_and_parses_back() {
        let bank = BankId::parse("icbc").unwrap();
        let payer = PayerRef::new(&bank, 0xdead_beef);
        assert_eq!(payer.as_str(), "icbc:000000000000000000000000deadbeef");
        assert_eq!(payer.bank(), bank);
        assert_eq!(PayerRef::parse(payer.as_str()).unwrap(), payer);
        let json = serde_json::to_string(&payer).unwrap();
        assert_eq!(serde_json::from_str::<PayerRef>(&json).unwrap(), payer);
        for bad in [
            "icbc:6222020200001234",
            "icbc:000000000000000000000000DEADBEEF",
            "icbc:",
            "000000000000000000000000deadbeef",
        ] {
            assert_eq!(PayerRef::parse(bad).unwrap_err().expected, PayerRef::EXPECTED, "{bad} accepted");
        }
    }

    #[test]
    fn payment_order_names_its_platform() {
        let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
        assert_eq!(order.platform().as_str(), "wechatpay");
        assert!(PaymentOrderRef::parse("wechatpay:42-0001").is_err());
        assert!(PaymentOrderRef::parse("wechatpay:123").is_err());
    }

    #[test]
    fn case_id_round_trips_through_derive_and_parse() {
        let city = City::parse("huzhou").unwrap();
        let case = CaseId::derive(&city, 0xdead_beef);
        assert_eq!(case.as_str(), "huzhou-00000000deadbeef");
        assert_eq!(CaseId::parse(case.as_str()).unwrap(), case);
        assert_eq!(case.city(), city);
        assert!(CaseId::parse("huzhou-xyz").is_err());
    }

    #[test]
    fn serde_goes_through_the_parser() {
        let ok: AccountRef = serde_json::from_str("\"abc:123456\"").unwrap();
        assert_eq!(ok.as_str(), "abc:123456");
        assert!(serde_json::from_str::<AccountRef>("\"abc:12\"").is_err());
        assert_eq!(serde_json::to_string(&FraudType::PigButchering).unwrap(), "\"pig_butchering\"");
    }
}
