//! The reports of `afc-lab bench blocking-orders`: each case's contacts, new to blocking, and
//! the carrier block orders they must cause.
//!
//! Case `i` names 2 or 3 mobile numbers no other case names, as victims write them
//! (`+86 139 1234 5678`, `139-1234-5678`, `13912345678`), in the ranges of the three carriers
//! by turns (China Mobile 139, China Unicom 186, China Telecom 189: one order each, to the
//! issuing carrier), and one case in [`URL_EVERY`] also a link to a site of its own (one
//! order to each of the three carriers). Nothing else: apps and social accounts cause no
//! carrier order. What each contact normalises to, and which carriers its block is ordered
//! from, is computed by blocking's own code (`identifiers::normalize`,
//! `blocking::core::carriers::carriers_for`) before the run: the orders expected.

use std::collections::HashMap;

use blocking::core::carriers::carriers_for;
use blocking::normalize::{ContactKind, normalize};
use domain::Carrier;
use rand::{Rng, SeedableRng};
use serde_json::json;

/// One case in this many names a site besides its numbers.
pub const URL_EVERY: u64 = 3;
/// Mobile prefixes used, one per carrier: China Mobile, China Unicom, China Telecom.
const PREFIXES: [&str; 3] = ["139", "186", "189"];
/// Subscriber numbers (8 digits after the prefix) available per prefix.
const SUBSCRIBERS: u64 = 100_000_000;

/// The contacts of every case and the orders they must cause.
#[derive(Debug, Default)]
pub struct Expected {
    /// The `contacts` object of each case's report, by case index.
    pub contacts: Vec<serde_json::Value>,
    /// Orders each case must cause, by case index.
    pub orders_per_case: Vec<u32>,
    /// Each order expected, `(carrier, target)` with the target as `<kind>:<value>`, and
    /// the case whose contact it is.
    pub orders: HashMap<(Carrier, String), u64>,
    /// Phone numbers and sites named, in all.
    pub phones: u64,
    pub sites: u64,
}

impl Expected {
    /// Contacts for `cases` cases from `seed` (the numbers start at an offset of the seed's, so
    /// runs with other seeds name other numbers).
    pub fn generate(cases: u64, seed: u64) -> anyhow::Result<Expected> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut next = rng.random_range(0..SUBSCRIBERS / 2);
        let mut expected = Expected::default();
        for case in 0..cases {
            let mut phones = Vec::new();
            let mut urls = Vec::new();
            let mut orders = 0u32;
            for _ in 0..rng.random_range(2..=3) {
                let prefix = PREFIXES[(next % 3) as usize];
                let subscriber = format!("{:08}", next % SUBSCRIBERS);
                next += 1;
                let (a, b) = subscriber.split_at(4);
                let written = match rng.random_range(0..3) {
                    0 => format!("+86 {prefix} {a} {b}"),
                    1 => format!("{prefix}-{a}-{b}"),
                    _ => format!("{prefix}{a}{b}"),
                };
                orders += expected.expect(ContactKind::Phone, &written, case)?;
                phones.push(written);
            }
            if case % URL_EVERY == URL_EVERY - 1 {
                let url = format!("https://m.kefu{case}-s{seed}.com.cn/refund?id={}", rng.random_range(0..10_000));
                orders += expected.expect(ContactKind::Url, &url, case)?;
                urls.push(url);
            }
            expected.phones += phones.len() as u64;
            expected.sites += urls.len() as u64;
            expected.contacts.push(json!({"phones": phones, "urls": urls, "apps": [], "social": []}));
            expected.orders_per_case.push(orders);
        }
        Ok(expected)
    }

    /// Records the orders `raw` must cause for `case`; returns how many.
    fn expect(&mut self, kind: ContactKind, raw: &str, case: u64) -> anyhow::Result<u32> {
        let identifier = normalize(kind, raw).map_err(|e| anyhow::anyhow!("generated contact {raw:?}: {e}"))?;
        let carriers = carriers_for(&identifier);
        anyhow::ensure!(!carriers.is_empty(), "generated contact {raw:?} is ordered from no carrier");
        for carrier in &carriers {
            let earlier = self.orders.insert((*carrier, identifier.to_string()), case);
            anyhow::ensure!(earlier.is_none(), "generated contact {raw:?} named twice");
        }
        Ok(carriers.len() as u32)
    }

    /// Orders expected in all.
    pub fn total(&self) -> u64 {
        self.orders.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_names_new_numbers_and_causes_orders() {
        let expected = Expected::generate(300, 7).unwrap();
        assert_eq!(expected.contacts.len(), 300);
        assert!(expected.orders_per_case.iter().all(|n| (2..=6).contains(n)), "{:?}", expected.orders_per_case);
        assert_eq!(expected.sites, 100);
        assert_eq!(expected.total(), expected.phones + 3 * expected.sites);
        let per_case: u64 = expected.orders_per_case.iter().map(|n| u64::from(*n)).sum();
        assert_eq!(per_case, expected.total());
        for carrier in Carrier::ALL {
            assert!(expected.orders.keys().filter(|(c, _)| *c == carrier).count() > 200, "{carrier}");
        }
    }
}
