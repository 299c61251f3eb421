//! The vocabulary blocking shares with the carriers and banks it orders from: the three
//! carriers, the services an order cuts, what kind of identifier is blocked, and a card
//! seller's pseudonymous key. Here, not in the blocking service, so the wire
//! (`protocol::carrier`), the events and the simulator name the same types.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{BankId, IdError, id_error};

/// Mobile prefixes (the digits after +86) by issuing carrier. 192 is China Broadnet's, whose
/// network China Mobile shares and runs: its blocks go to China Mobile.
const MOBILE_PREFIXES: [(Carrier, &[&str]); 3] = [
    (
        Carrier::Cmcc,
        &[
            "134", "135", "136", "137", "138", "139", "147", "148", "150", "151", "152", "157", "158", "159", "165",
            "172", "178", "182", "183", "184", "187", "188", "192", "195", "197", "198", "1703", "1705", "1706",
        ],
    ),
    (
        Carrier::Cucc,
        &[
            "130", "131", "132", "145", "146", "155", "156", "166", "167", "171", "175", "176", "185", "186", "196",
            "1704", "1707", "1708", "1709",
        ],
    ),
    (
        Carrier::Ctcc,
        &[
            "133", "149", "153", "162", "173", "174", "177", "180", "181", "189", "190", "191", "193", "199", "1700",
            "1701", "1702",
        ],
    ),
];

/// The three carriers of a Chinese center (`afc.carrier.<carrier>.…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// China Mobile.
    Cmcc,
    /// China Unicom.
    Cucc,
    /// China Telecom.
    Ctcc,
}

impl Carrier {
    pub const ALL: [Carrier; 3] = [Carrier::Cmcc, Carrier::Cucc, Carrier::Ctcc];

    pub const EXPECTED: &'static str = "cmcc, cucc or ctcc";

    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Cmcc => "cmcc",
            Carrier::Cucc => "cucc",
            Carrier::Ctcc => "ctcc",
        }
    }

    /// The carrier that issued a Chinese mobile number in E.164 (`+86` and 11 digits
    /// starting with 1), by its range; `None` for any other number or a range not in the
    /// table. The longest prefix wins: 170x before any 3-digit entry.
    pub fn issuing(e164: &str) -> Option<Carrier> {
        let national = e164.strip_prefix("+86")?;
        if national.len() != 11 || !national.starts_with('1') {
            return None;
        }
        MOBILE_PREFIXES
            .iter()
            .flat_map(|(carrier, prefixes)| prefixes.iter().map(move |p| (*carrier, *p)))
            .filter(|(_, prefix)| national.starts_with(prefix))
            .max_by_key(|(_, prefix)| prefix.len())
            .map(|(carrier, _)| carrier)
    }

    pub fn parse(s: &str) -> Result<Carrier, IdError> {
        Carrier::ALL.into_iter().find(|c| c.as_str() == s).ok_or_else(|| id_error("carrier", s, Carrier::EXPECTED))
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service an order cuts (or, lifted, gives back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Bank: online banking.
    OnlineBanking,
    /// Bank: the mobile banking app.
    MobileBanking,
    /// Bank: payments through third-party platforms (WeChat Pay, Alipay).
    ThirdPartyPayment,
    /// Bank: cash machines.
    Atm,
    /// Phone card: mobile data.
    Data,
    /// Phone card: SMS.
    Sms,
    /// Phone card: voice calls outside the card's home area.
    OutOfAreaVoice,
    /// Phone card: international calls and roaming.
    International,
}

impl Channel {
    /// What a pool account loses: everything but the bank counter (Shenzhen's pool).
    pub const BANK_POOL: [Channel; 4] =
        [Channel::OnlineBanking, Channel::MobileBanking, Channel::ThirdPartyPayment, Channel::Atm];
    /// What a card seller's phone card loses: everything but local voice.
    pub const LOCAL_VOICE_ONLY: [Channel; 4] =
        [Channel::Data, Channel::Sms, Channel::OutOfAreaVoice, Channel::International];

    /// Whether a bank can cut it (else it is a phone card's, for a carrier to cut).
    pub fn is_bank(self) -> bool {
        Channel::BANK_POOL.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::OnlineBanking => "online_banking",
            Channel::MobileBanking => "mobile_banking",
            Channel::ThirdPartyPayment => "third_party_payment",
            Channel::Atm => "atm",
            Channel::Data => "data",
            Channel::Sms => "sms",
            Channel::OutOfAreaVoice => "out_of_area_voice",
            Channel::International => "international",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is blocked: the kind of a normalised identifier (blocking's `Identifier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// E.164, `+8617000000000`.
    Phone,
    /// A registrable domain in ASCII (punycode), `fake-bank.com.cn`.
    Domain,
    /// An IPv4 or IPv6 address a URL named instead of a host name.
    Ip,
    /// An app's package id, `com.example.loan`.
    App,
    /// `<platform>:<account id>`, `wechat:wxid_abc123`.
    Social,
}

impl IdentifierKind {
    pub const ALL: [IdentifierKind; 5] = [
        IdentifierKind::Phone,
        IdentifierKind::Domain,
        IdentifierKind::Ip,
        IdentifierKind::App,
        IdentifierKind::Social,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Phone => "phone",
            IdentifierKind::Domain => "domain",
            IdentifierKind::Ip => "ip",
            IdentifierKind::App => "app",
            IdentifierKind::Social => "social",
        }
    }

    pub fn parse(s: &str) -> Option<IdentifierKind> {
        IdentifierKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person who holds accounts or phone cards, as the bank or carrier knows them: a
/// pseudonymous key `<issuer>:<16-64 lower-case hex digits>` (the issuer's code, then a keyed
/// hash of the person's identity the issuer computes), never a name or an ID number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HolderKey(String);

impl HolderKey {
    pub const EXPECTED: &'static str =
        "<issuer>:<16-64 lower-case hex digits>, issuer 2-16 lower-case letters or digits";

    pub fn parse(s: &str) -> Result<HolderKey, IdError> {
        let valid = s.split_once(':').is_some_and(|(issuer, key)| {
            BankId::parse(issuer).is_ok()
                && (16..=64).contains(&key.len())
                && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        });
        if valid { Ok(HolderKey(s.to_owned())) } else { Err(id_error("holder key", s, Self::EXPECTED)) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Who issued the key (a bank's or carrier's code).
    pub fn issuer(&self) -> &str {
        self.0.split_once(':').map(|(issuer, _)| issuer).unwrap_or_default()
    }
}

impl TryFrom<String> for HolderKey {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        HolderKey::parse(&s)
    }
}

impl From<HolderKey> for String {
    fn from(key: HolderKey) -> String {
        key.0
    }
}

impl fmt::Display for HolderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carrier_is_one_of_three_and_says_what_is_accepted() {
        assert_eq!(Carrier::parse("ctcc").unwrap(), Carrier::Ctcc);
        let refused = Carrier::parse("att").unwrap_err();
        assert_eq!((refused.kind, refused.value.as_str(), refused.expected), ("carrier", "att", Carrier::EXPECTED));
        assert_eq!(serde_json::to_string(&Carrier::Cucc).unwrap(), r#""cucc""#);
        assert_eq!(Carrier::issuing("+8613800138000"), Some(Carrier::Cmcc));
        assert_eq!(Carrier::issuing("+8617040000000"), Some(Carrier::Cucc), "170x by its fourth digit");
        assert_eq!(Carrier::issuing("+8617000000000"), Some(Carrier::Ctcc));
        assert_eq!(Carrier::issuing("+862088888888"), None, "a landline");
        assert_eq!(Carrier::issuing("+85291234567"), None, "not Chinese");
    }

    #[test]
    fn channels_are_a_banks_or_a_phone_cards() {
        assert!(Channel::BANK_POOL.iter().all(|c| c.is_bank()));
        assert!(Channel::LOCAL_VOICE_ONLY.iter().all(|c| !c.is_bank()));
        for channel in Channel::BANK_POOL.into_iter().chain(Channel::LOCAL_VOICE_ONLY) {
            assert_eq!(serde_json::to_string(&channel).unwrap(), format!("\"{channel}\""));
        }
    }

    #[test]
    fn a_holder_key_is_pseudonymous_hex_under_its_issuer() {
        let key = HolderKey::parse("icbc:0123456789abcdef").unwrap();
        assert_eq!(key.issuer(), "icbc");
        for refused in ["icbc:0123", "icbc:0123456789ABCDEF", "张三:0123456789abcdef", "0123456789abcdef"] {
            assert_eq!(HolderKey::parse(refused).unwrap_err().kind, "holder key", "{refused}");
        }
        assert_eq!(IdentifierKind::parse("ip"), Some(IdentifierKind::Ip));
    }
}
