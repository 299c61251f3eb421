//! Which carriers an identifier's block is ordered from: the number-range → carrier table.
//!
//! A Chinese mobile number's first three digits (four for 170) name the carrier that issued
//! it (MIIT's allocations, below). Since number portability (携号转网, 2019) a few numbers have
//! moved; the issuing carrier still routes them and forwards the order, so the table stays the
//! first address. Landlines, 400/800 numbers and foreign numbers reach victims through every
//! carrier's network, and so do domains and IP addresses: those are ordered from all three.
//! Apps and social accounts are not carriers' to block: they are listed (lookups answer
//! for them) and ordered from nobody.

use crate::events::Carrier;
use crate::normalize::{Identifier, IdentifierKind};

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

/// The carriers a block of `identifier` is ordered from, in a stable order.
pub fn carriers_for(identifier: &Identifier) -> Vec<Carrier> {
    match identifier.kind() {
        IdentifierKind::Phone => match identifier.value().strip_prefix("+86").and_then(mobile_carrier) {
            Some(carrier) => vec![carrier],
            None => Carrier::ALL.to_vec(),
        },
        IdentifierKind::Domain | IdentifierKind::Ip => Carrier::ALL.to_vec(),
        IdentifierKind::App | IdentifierKind::Social => Vec::new(),
    }
}

/// The issuing carrier of a Chinese national number, if it is a mobile number in the table.
fn mobile_carrier(national: &str) -> Option<Carrier> {
    if national.len() != 11 || !national.starts_with('1') {
        return None;
    }
    // The longest prefix wins: 170x before any 3-digit entry.
    MOBILE_PREFIXES
        .iter()
        .flat_map(|(carrier, prefixes)| prefixes.iter().map(move |p| (*carrier, *p)))
        .filter(|(_, prefix)| national.starts_with(prefix))
        .max_by_key(|(_, prefix)| prefix.len())
        .map(|(carrier, _)| carrier)
}
