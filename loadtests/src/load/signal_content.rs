//! What `afc-lab load --signals` publishes: carriers' contact signals as a city's carriers
//! would send them, deterministic from `--seed` (all but their time, which follows the
//! schedule).
//!
//! - **Subscribers** are drawn uniformly from a population of [`POPULATION`] Chinese mobile
//!   numbers: subscriber *k*'s number is a function of the seed and *k* (a carrier drawn by
//!   about its share of China's mobile subscribers, one of its number ranges, eight digits),
//!   so the population is never held in memory. Each signal comes from the carrier that issued
//!   its subscriber's number ([`Carrier::issuing`]) and is published on that carrier's subject
//!   of its city, with `source` the carrier.
//! - **What happened**: [`TRANSFER_SHARE`] of the signals are transfer instructions; the rest
//!   are contacts by an identifier, of which [`MATCHING_SHARE`] name a scam number or site of
//!   the load's own reports in the signal's city (dissuasion knows them once the case is
//!   reported, or blocking blocks them: those signals match and open tasks, before or after
//!   the report) and the others one of a pool of [`POOL_SIZE`] scam-like numbers and domains
//!   nobody reported (they are kept for back-matching and match nothing). A contact lasts 0 s
//!   (an SMS or a page visit, [`INSTANT_SHARE`] of them) or 1 to [`MAX_DURATION_S`] s.
//! - **Time**: a contact is reported when it ends, up to [`MAX_REPORT_DELAY_MS`] later: its
//!   `at_ms` is its due time minus its duration minus that delay.
//! - Signals go round robin over the cities; each has an id of its own (`lab-<seed>-<index>`),
//!   so none is a duplicate.

use anyhow::Context;
use domain::{Carrier, City, TimeMs};
use protocol::signal::{SignalMessage, SignalWhat};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use simulator::wave::WaveReport;

/// Subscribers the signals are drawn from, each a Chinese mobile number.
pub const POPULATION: u64 = 1_000_000;

/// Scam-like numbers and domains nobody reported, which the other contacts name.
pub const POOL_SIZE: usize = 10_000;

/// Share of the contacts naming an identifier of the load's own reports.
pub const MATCHING_SHARE: f64 = 0.01;

/// Share of the signals that are transfer instructions (evidence on their own: a visit).
pub const TRANSFER_SHARE: f64 = 0.02;

/// Share of the contacts that last 0 s (an SMS, a page visit).
pub const INSTANT_SHARE: f64 = 0.3;

/// Longest contact, seconds.
pub const MAX_DURATION_S: u32 = 1_200;

/// Longest delay from a contact's end to its signal, ms.
pub const MAX_REPORT_DELAY_MS: u64 = 30_000;

/// Number ranges (the digits after +86) drawn from, by carrier, with about each carrier's
/// share of China's mobile subscribers in % (China Mobile about 57, China Telecom 24, China
/// Unicom 19): every range is in `domain`'s table, so [`Carrier::issuing`] names the carrier.
const RANGES: [(Carrier, u64, &[&str]); 3] = [
    (
        Carrier::Cmcc,
        57,
        &[
            "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159", "178", "182",
            "183", "184", "187", "188", "198",
        ],
    ),
    (Carrier::Ctcc, 24, &["133", "149", "153", "173", "177", "180", "181", "189", "191", "199"]),
    (Carrier::Cucc, 19, &["130", "131", "132", "145", "155", "156", "166", "175", "176", "185", "186"]),
];

/// Ranges of the unreported scam-like numbers: virtual operators' ranges, which the wave's
/// scam numbers (`+86170…`) are not in.
const POOL_PHONE_RANGES: [&str; 3] = ["171", "165", "167"];

/// Host names of the unreported scam-like sites, each `<name><6 digits>.com.cn`: a
/// registrable domain of its own, none of them the wave's (`….example.cn`).
const POOL_HOSTS: [&str; 6] = ["anquan-zh", "daikuan", "gaofan", "kefu-tk", "tuikuan", "zhengquan"];

/// What a signal is, for the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// A contact by an identifier of the load's reports.
    Matching,
    /// A contact by an identifier nobody reported.
    Unreported,
    /// Transfer instructions.
    Transfer,
}

/// One signal to publish.
#[derive(Debug, Clone)]
pub struct Signal {
    /// Where it goes: the position of its city in the point's cities.
    pub city: usize,
    /// The carrier that issued its subscriber's number: its subject's and its `source`.
    pub carrier: Carrier,
    pub message: SignalMessage,
    pub kind: SignalKind,
}

/// The signals of a point, drawn in order (see the module's doc).
#[derive(Debug)]
pub struct SignalContent {
    seed: u64,
    rng: StdRng,
    /// Per city (by position), the identifiers its reports name.
    reported: Vec<Vec<String>>,
    pool: Vec<String>,
}

/// A 64-bit mix of `seed` and `k` (SplitMix64's finaliser): subscriber `k`'s number.
fn mix(seed: u64, k: u64) -> u64 {
    let mut z = seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Subscriber `k`'s number (`+86` and 11 digits) under `seed`.
pub fn subscriber(seed: u64, k: u64) -> String {
    let h = mix(seed, k);
    let total: u64 = RANGES.iter().map(|(_, share, _)| share).sum();
    let mut pick = h % total;
    let mut ranges = RANGES[0].2;
    for (_, share, of_carrier) in RANGES {
        if pick < share {
            ranges = of_carrier;
            break;
        }
        pick -= share;
    }
    let range = ranges[usize::try_from((h >> 8) % ranges.len() as u64).unwrap_or(0)];
    format!("+86{range}{:08}", (h >> 24) % 100_000_000)
}

/// The identifiers a report names that a carrier's signal can carry: its scam numbers
/// (`phone:…`) and its sites' hosts (`domain:…`).
fn reported_identifiers(body: &serde_json::Value) -> Vec<String> {
    let contacts = &body["contacts"];
    let strings = |field: &str| -> Vec<String> {
        contacts[field].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect()
    };
    let phones = strings("phones").into_iter().map(|p| format!("phone:{p}"));
    let hosts = strings("urls").into_iter().filter_map(|url| {
        let rest = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        (!host.is_empty()).then(|| format!("domain:{host}"))
    });
    phones.chain(hosts).collect()
}

impl SignalContent {
    /// The signals of a point on `cities` whose cases are `reports`, under `seed`.
    pub fn new(seed: u64, cities: &[City], reports: &[WaveReport]) -> anyhow::Result<SignalContent> {
        anyhow::ensure!(!cities.is_empty(), "signals need a city");
        let mut reported = vec![Vec::new(); cities.len()];
        for report in reports {
            let slot = cities.iter().position(|c| *c == report.city).context("a report from an unknown city")?;
            reported[slot].extend(reported_identifiers(&report.body));
        }
        let mut rng = StdRng::seed_from_u64(mix(seed, 0x5167_4e41_4c53));
        let digits = |rng: &mut StdRng, n: u32| rng.random_range(0..10u64.pow(n));
        let pool = (0..POOL_SIZE)
            .map(|i| {
                if i % 2 == 0 {
                    let range = POOL_PHONE_RANGES[rng.random_range(0..POOL_PHONE_RANGES.len())];
                    format!("phone:+86{range}{:08}", digits(&mut rng, 8))
                } else {
                    let host = POOL_HOSTS[rng.random_range(0..POOL_HOSTS.len())];
                    format!("domain:{host}{:06}.com.cn", digits(&mut rng, 6))
                }
            })
            .collect();
        Ok(SignalContent { seed, rng, reported, pool })
    }

    /// Identifiers the reports of the city at `slot` name.
    pub fn reported(&self, slot: usize) -> &[String] {
        self.reported.get(slot).map_or(&[], Vec::as_slice)
    }

    /// Signal `index` of the schedule, due at `due_ms` (system clock). Call in index order:
    /// the draws follow one another.
    pub fn next(&mut self, index: u64, due_ms: TimeMs) -> Signal {
        let slot = usize::try_from(index % self.reported.len() as u64).unwrap_or(0);
        let number = subscriber(self.seed, self.rng.random_range(0..POPULATION));
        // Every range drawn from is one of domain's: the fallback is never taken.
        let carrier = Carrier::issuing(&number).unwrap_or(Carrier::Cmcc);
        let delay_ms = self.rng.random_range(0..=MAX_REPORT_DELAY_MS);
        let (kind, what, duration_s) = if self.rng.random_bool(TRANSFER_SHARE) {
            (SignalKind::Transfer, SignalWhat::TransferInstructions, 0)
        } else {
            let duration_s =
                if self.rng.random_bool(INSTANT_SHARE) { 0 } else { self.rng.random_range(1..=MAX_DURATION_S) };
            let reported = &self.reported[slot];
            let (kind, identifier) = if !reported.is_empty() && self.rng.random_bool(MATCHING_SHARE) {
                (SignalKind::Matching, reported[self.rng.random_range(0..reported.len())].clone())
            } else {
                (SignalKind::Unreported, self.pool[self.rng.random_range(0..self.pool.len())].clone())
            };
            (kind, SignalWhat::Contact { identifier, duration_s }, duration_s)
        };
        let at_ms = due_ms.saturating_sub(u64::from(duration_s) * 1_000 + delay_ms);
        let message = SignalMessage {
            source: carrier.as_str().to_owned(),
            signal_id: format!("lab-{}-{index}", self.seed),
            subscriber: number,
            at_ms,
            what,
        };
        Signal { city: slot, carrier, message, kind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simulator::wave::{self, WaveConfig};

    const NOW: TimeMs = 1_795_978_317_866;

    fn cities() -> Vec<City> {
        ["hangzhou", "wenzhou"].iter().map(|c| City::parse(c).unwrap()).collect()
    }

    fn content(seed: u64) -> SignalContent {
        let wave =
            wave::generate(&WaveConfig { cities: cities(), cases_per_city: 20, ..WaveConfig::single_trail(seed) }, NOW)
                .unwrap();
        SignalContent::new(seed, &cities(), &wave.reports).unwrap()
    }

    #[test]
    fn every_subscriber_is_a_mobile_number_of_a_carrier_in_about_its_share() {
        let mut counts = std::collections::BTreeMap::new();
        for k in 0..30_000 {
            let number = subscriber(7, k);
            assert_eq!(number.len(), 14, "{number}");
            let carrier = Carrier::issuing(&number).unwrap_or_else(|| panic!("{number} has no carrier"));
            *counts.entry(carrier).or_insert(0u32) += 1;
        }
        for (carrier, share) in [(Carrier::Cmcc, 0.57), (Carrier::Ctcc, 0.24), (Carrier::Cucc, 0.19)] {
            let got = f64::from(counts[&carrier]) / 30_000.0;
            assert!((got - share).abs() < 0.02, "{carrier}: {got}");
        }
        assert_eq!(subscriber(7, 42), subscriber(7, 42), "a function of the seed and k");
        assert_ne!(subscriber(7, 42), subscriber(8, 42));
    }

    #[test]
    fn signals_are_deterministic_from_the_seed_but_for_their_time() {
        let (mut a, mut b) = (content(3), content(3));
        for i in 0..1_000 {
            let (x, y) = (a.next(i, NOW), b.next(i, NOW + 5));
            assert_eq!(
                (x.city, x.carrier, &x.message.subscriber, &x.message.what),
                (y.city, y.carrier, &y.message.subscriber, &y.message.what)
            );
            assert_eq!(x.message.at_ms + 5, y.message.at_ms);
        }
        let mut other = content(4);
        assert_ne!(content(3).next(0, NOW).message.subscriber, other.next(0, NOW).message.subscriber);
    }

    #[test]
    fn signals_come_from_their_subscribers_carrier_round_robin_over_the_cities() {
        let mut content = content(1);
        let mut ids = std::collections::HashSet::new();
        for i in 0..2_000 {
            let signal = content.next(i, NOW);
            assert_eq!(signal.city, usize::try_from(i % 2).unwrap());
            assert_eq!(Carrier::issuing(&signal.message.subscriber), Some(signal.carrier));
            assert_eq!(signal.message.source, signal.carrier.as_str());
            assert!(ids.insert(signal.message.message_id()), "ids are unique");
            let age = NOW - signal.message.at_ms;
            assert!(age <= u64::from(MAX_DURATION_S) * 1_000 + MAX_REPORT_DELAY_MS, "{age}");
        }
    }

    #[test]
    fn a_small_share_names_the_reports_identifiers_and_the_rest_nothing_reported() {
        let mut content = content(2);
        let reported: Vec<std::collections::HashSet<String>> =
            (0..2).map(|slot| content.reported(slot).iter().cloned().collect()).collect();
        assert!(reported.iter().all(|r| r.len() >= 20), "each report names at least one number");
        let n = 100_000;
        let (mut matching, mut transfers, mut instant, mut longest) = (0u32, 0u32, 0u32, 0u32);
        for i in 0..n {
            let signal = content.next(i, NOW);
            match (&signal.message.what, signal.kind) {
                (SignalWhat::TransferInstructions, SignalKind::Transfer) => transfers += 1,
                (SignalWhat::Contact { identifier, duration_s }, kind) => {
                    let named = reported[signal.city].contains(identifier);
                    assert_eq!(named, kind == SignalKind::Matching, "{identifier}");
                    if kind == SignalKind::Unreported {
                        // Not a spelling of a reported one: other ranges, other registrable domains.
                        assert!(!identifier.starts_with("phone:+86170") && !identifier.ends_with(".example.cn"));
                    }
                    matching += u32::from(named);
                    instant += u32::from(*duration_s == 0);
                    longest = longest.max(*duration_s);
                }
                other => panic!("{other:?}"),
            }
        }
        let share = |count: u32| f64::from(count) / n as f64;
        assert!((share(transfers) - TRANSFER_SHARE).abs() < 0.003, "{transfers}");
        assert!((share(matching) - MATCHING_SHARE * (1.0 - TRANSFER_SHARE)).abs() < 0.002, "{matching}");
        assert!((share(instant) - INSTANT_SHARE * (1.0 - TRANSFER_SHARE)).abs() < 0.01, "{instant}");
        assert_eq!(longest, MAX_DURATION_S);
    }
}
