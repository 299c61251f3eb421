//! Which carriers an identifier's block is ordered from: the number-range → carrier table.
//!
//! A Chinese mobile number's first three digits (four for 170) name the carrier that issued
//! it (MIIT's allocations, `domain::Carrier::issuing`: the simulated carriers read the same
//! table). Since number portability (携号转网, 2019) a few numbers have
//! moved; the issuing carrier still routes them and forwards the order, so the table stays the
//! first address. Landlines, 400/800 numbers and foreign numbers reach victims through every
//! carrier's network, and so do domains and IP addresses: those are ordered from all three.
//! Apps and social accounts are not carriers' to block: they are listed (lookups answer
//! for them) and ordered from nobody.

use crate::events::Carrier;
use crate::normalize::{Identifier, IdentifierKind};

/// The carriers a block of `identifier` is ordered from, in a stable order.
pub fn carriers_for(identifier: &Identifier) -> Vec<Carrier> {
    match identifier.kind() {
        IdentifierKind::Phone => match Carrier::issuing(identifier.value()) {
            Some(carrier) => vec![carrier],
            None => Carrier::ALL.to_vec(),
        },
        IdentifierKind::Domain | IdentifierKind::Ip => Carrier::ALL.to_vec(),
        IdentifierKind::App | IdentifierKind::Social => Vec::new(),
    }
}
