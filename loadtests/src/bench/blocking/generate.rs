//! Realistic blocked identifiers, the `i`-th always the same and no two alike: Chinese mobile
//! numbers (most of what centers block), scam domains, a few apps and social accounts. Made
//! in their canonical form, as the store holds them; the benchmark's lookups normalise theirs
//! again ([`identifier`]), which checks that the form is canonical.

use std::fmt::Write as _;

use blocking::normalize::{Identifier, IdentifierKind, NormalizeError};

/// Of every 100 identifiers: phone numbers, then domains, apps, social accounts (Wuhan blocks
/// twice as many numbers as domains a day; apps and social accounts are listed, not ordered).
pub const MIX_PERCENT: [(IdentifierKind, u64); 4] =
    [(IdentifierKind::Phone, 85), (IdentifierKind::Domain, 12), (IdentifierKind::App, 2), (IdentifierKind::Social, 1)];

/// Mobile prefixes (after +86) of the three carriers' ranges that libphonenumber knows.
const MOBILE_PREFIXES: [u64; 25] = [
    130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159, 166, 176, 177, 180,
    186, 189,
];
/// Mobile numbers the generator can make: a prefix and 8 digits.
const MOBILE_SPACE: u64 = MOBILE_PREFIXES.len() as u64 * 100_000_000;
/// Multiplier of the bijection that scatters consecutive `i` over the number space: a prime
/// that divides neither 2, 5 nor 25·10⁸.
const SCATTER: u64 = 1_000_000_007;

const WORDS: [&str; 16] = [
    "icbc-secure",
    "ccb-verify",
    "abc-refund",
    "boc-service",
    "cmb-card",
    "invest-now",
    "gold-profit",
    "quick-loan",
    "taobao-refund",
    "jd-kefu",
    "police-check",
    "safe-account",
    "stock-vip",
    "crypto-bonus",
    "parcel-claim",
    "credit-up",
];
const TLDS: [&str; 8] = ["com", "cn", "com.cn", "net", "top", "xyz", "vip", "cc"];
const APP_WORDS: [&str; 6] = ["quickcash", "loanhelper", "safeguard", "investpro", "vipstock", "refundpay"];
const SOCIAL: [&str; 3] = ["wechat:wxid_", "telegram:kefu_", "douyin:shop_"];

/// The kind of the `i`-th identifier.
pub fn kind(i: u64) -> IdentifierKind {
    let mut slot = i % 100;
    for (kind, percent) in MIX_PERCENT {
        if slot < percent {
            return kind;
        }
        slot -= percent;
    }
    unreachable!("the mix adds up to 100")
}

/// Writes the canonical value of the `i`-th identifier into `value` (cleared first) and
/// returns its kind. Distinct `i` below [`MAX_GENERATED`] give distinct identifiers.
pub fn value(i: u64, value: &mut String) -> IdentifierKind {
    value.clear();
    let kind = kind(i);
    match kind {
        IdentifierKind::Phone => mobile(i, value),
        IdentifierKind::Domain => {
            let word = WORDS[(i % WORDS.len() as u64) as usize];
            let tld = TLDS[(i / 7 % TLDS.len() as u64) as usize];
            let _ = write!(value, "{word}-{}.{tld}", base36(i));
        }
        IdentifierKind::App => {
            let word = APP_WORDS[(i % APP_WORDS.len() as u64) as usize];
            let _ = write!(value, "com.{word}.a{}", base36(i));
        }
        IdentifierKind::Social | IdentifierKind::Ip => {
            let prefix = SOCIAL[(i % SOCIAL.len() as u64) as usize];
            let _ = write!(value, "{prefix}{}", base36(i));
        }
    }
    kind
}

/// Appends the `i`-th Chinese mobile number in E.164 (`+86` and 11 digits, in a range
/// libphonenumber knows); distinct `i` below [`MAX_GENERATED`] give distinct numbers.
pub fn mobile(i: u64, value: &mut String) {
    let scattered = (i % MOBILE_SPACE) * SCATTER % MOBILE_SPACE;
    let prefix = MOBILE_PREFIXES[(scattered % MOBILE_PREFIXES.len() as u64) as usize];
    let _ = write!(value, "+86{prefix}{:08}", scattered / MOBILE_PREFIXES.len() as u64);
}

/// Identifiers the generator makes without repeating one: phone numbers are the 85% and
/// repeat past the number space.
pub const MAX_GENERATED: u64 = MOBILE_SPACE;

/// The `i`-th identifier, normalised again from its text form (as a lookup's value is).
pub fn identifier(i: u64) -> Result<Identifier, NormalizeError> {
    let mut text = String::new();
    let kind = value(i, &mut text);
    Identifier::parse(&format!("{kind}:{text}"))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("base-36 digits are ASCII")
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn identifiers_are_canonical_distinct_and_mixed() {
        let mut seen = HashSet::new();
        let mut kinds = std::collections::BTreeMap::new();
        for i in (0..2_000).chain(9_999_000..10_001_000) {
            let id = identifier(i).unwrap_or_else(|e| panic!("identifier {i}: {e}"));
            *kinds.entry(id.kind()).or_insert(0) += 1;
            assert!(seen.insert(id.to_string()), "{id} twice");
        }
        assert_eq!(kinds[&IdentifierKind::Phone], 3_400);
        assert_eq!(kinds[&IdentifierKind::Domain], 480);
        assert_eq!(kinds[&IdentifierKind::App], 80);
        assert_eq!(kinds[&IdentifierKind::Social], 40);
    }
}
