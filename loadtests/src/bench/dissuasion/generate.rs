//! The world of `afc-lab bench dissuasion`, the same for a seed: the known scam identifiers,
//! the suspects (identifiers carriers flag that nobody has reported), the identifiers the
//! back-matching cases name, the people, the signals kept over the window (rows, as a start
//! keeps them) and the fresh signals of the stream (as carriers send them).
//!
//! Identifiers are blocking's generated ones ([`crate::bench::blocking::generate`]: 85% Chinese
//! mobile numbers, 12% domains, 2% apps, 1% social accounts), canonical; the known ones are the
//! first `--known`, the suspects and the cases' identifiers the ones after them, so none is
//! both. Subscribers are Chinese mobile numbers in E.164, as carriers' feeds write them.

use std::fmt::Write as _;

use anyhow::Context as _;
use dissuasion::core::{PersonSecret, RawSignal, RawWhat, Subscriber};
use dissuasion::events::{PersonId, SignalBody, SignalKey, SignalRecord, Source, TransferKind};
use domain::{Carrier, TimeMs};
use identifiers::{Identifier, IdentifierKind};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::bench::blocking::generate as ids;

/// Subscribers the stream's signals reach: a large city's mobile numbers (Wuhan has 13
/// million people). Drawn at random, so a matched signal mostly reaches someone new.
pub const SUBSCRIBERS: u64 = 10_000_000;
/// Where the subscribers' numbers start in the mobile generator, past every scam number
/// the identifiers use (the generator scatters, so a few may still coincide; harmless).
const SUBSCRIBER_BASE: u64 = 1 << 31;

/// The stream's mix, per 10,000 signals. Carriers flag contacts from suspect numbers (their
/// own models: many short calls, new SIMs); few of those are reported scam numbers yet.
/// Contacts from a known scam identifier (evidence at once, most open a task):
pub const MIX_KNOWN_CONTACT: u32 = 100;
/// App installs (a platform's signal), of a suspect app; one in [`KNOWN_APP_EVERY`] of a
/// known scam app (evidence, a visit):
pub const MIX_APP_INSTALL: u32 = 100;
/// Transfer instructions (evidence on its own, a visit): rare, the last step of a scam.
pub const MIX_TRANSFER: u32 = 10;
/// A signal re-sent by its carrier (refused as a duplicate): at-least-once delivery after
/// a reconnect.
pub const MIX_RESEND: u32 = 50;
/// The rest (9,740 in 10,000): contacts from a suspect nobody has reported (kept for
/// back-matching).
pub const MIX_TOTAL: u32 = 10_000;
/// App installs of a known scam app: one in this many.
pub const KNOWN_APP_EVERY: u64 = 10;
/// Longest delay between a contact and its signal's arrival, ms: carriers batch their
/// signals by the minute.
pub const MAX_CARRIER_DELAY_MS: u64 = 60_000;
/// Contacts of this many seconds or more are a share of the contacts (a call answered and
/// held); the rest are a few seconds or an SMS (0).
const LONG_CONTACT_S: u32 = 300;
/// One contact in this many is long.
const LONG_EVERY: u32 = 20;

/// The identifiers of the benchmark.
pub struct World {
    pub known: Vec<Identifier>,
    /// The known ones' text, as a carrier's signal writes it.
    pub known_text: Vec<String>,
    /// Which of the known are apps.
    pub known_apps: Vec<usize>,
    pub suspects: Vec<Identifier>,
    pub suspects_text: Vec<String>,
    pub suspect_apps: Vec<usize>,
    /// The identifiers the back-matching cases name, none known before its case.
    pub targets: Vec<Identifier>,
    /// People of the kept signals (their key under the benchmark's secret): the suspects'
    /// first, then each target's reach in turn.
    pub people: Vec<PersonId>,
    /// How many of `people` the suspects reach.
    pub background: usize,
    /// The kept signals of each target, one person each.
    pub reach: Vec<u64>,
    /// One subscriber for the kept rows: [`dissuasion::core::keep`] does not read the number
    /// (the store's row holds it), so every row carries this one.
    pub row_subscriber: Subscriber,
}

/// Sizes of the world.
pub struct Sizes {
    pub known: u64,
    pub suspects: u64,
    /// People the suspects' signals reach.
    pub people: u64,
    /// People each target reached (one a target), none reached by another target (so every
    /// case finds as many new people as its identifiers have signals).
    pub reach: Vec<u64>,
}

impl Sizes {
    /// Identifiers the cases name.
    pub fn targets(&self) -> u64 {
        self.reach.len() as u64
    }

    /// Signals the targets hold together.
    pub fn targeted(&self) -> u64 {
        self.reach.iter().sum()
    }
}

/// The node secret of the benchmark.
pub const SECRET: PersonSecret = PersonSecret(0x5eed_0001, 0x5eed_0002);

impl World {
    /// Makes (and normalises, as a carrier's text would be) every identifier and person.
    pub fn make(sizes: &Sizes) -> anyhow::Result<World> {
        let identifier = |i: u64| ids::identifier(i).with_context(|| format!("generated identifier {i}"));
        let mut known = Vec::with_capacity(sizes.known as usize);
        for i in 0..sizes.known {
            known.push(identifier(i)?);
        }
        let mut suspects = Vec::with_capacity(sizes.suspects as usize);
        for i in sizes.known..sizes.known + sizes.suspects {
            suspects.push(identifier(i)?);
        }
        let first_target = sizes.known + sizes.suspects;
        let mut targets = Vec::with_capacity(sizes.targets() as usize);
        // Phone numbers: a gang's numbers that reached thousands of people.
        let mut i = first_target;
        while (targets.len() as u64) < sizes.targets() {
            if ids::kind(i) == IdentifierKind::Phone {
                targets.push(identifier(i)?);
            }
            i += 1;
        }
        anyhow::ensure!(i <= ids::MAX_GENERATED, "too many identifiers for the generator");
        let apps = |list: &[Identifier]| -> Vec<usize> {
            list.iter().enumerate().filter(|(_, id)| id.kind() == IdentifierKind::App).map(|(n, _)| n).collect()
        };
        let all_people = sizes.people + sizes.targeted();
        let mut people = Vec::with_capacity(all_people as usize);
        let mut text = String::new();
        for n in 0..all_people {
            text.clear();
            subscriber(n, &mut text);
            let subscriber = Subscriber::parse(&text).map_err(|r| anyhow::anyhow!("subscriber {n}: {r:?}"))?;
            people.push(SECRET.person(&subscriber));
        }
        text.clear();
        subscriber(0, &mut text);
        let row_subscriber = Subscriber::parse(&text).map_err(|r| anyhow::anyhow!("subscriber 0: {r:?}"))?;
        Ok(World {
            known_text: known.iter().map(Identifier::to_string).collect(),
            known_apps: apps(&known),
            suspects_text: suspects.iter().map(Identifier::to_string).collect(),
            suspect_apps: apps(&suspects),
            known,
            suspects,
            targets,
            people,
            background: sizes.people as usize,
            reach: sizes.reach.clone(),
            row_subscriber,
        })
    }
}

impl World {
    /// The targets' kept signals in the order rows name them: each target in turn while it has
    /// signals left, as (target, its person's place in `people`).
    fn targeted_order(&self) -> Vec<(usize, usize)> {
        let mut first = Vec::with_capacity(self.reach.len());
        let mut next = self.background;
        for reach in &self.reach {
            first.push(next);
            next += *reach as usize;
        }
        let most = self.reach.iter().copied().max().unwrap_or(0);
        let mut order = Vec::with_capacity(next - self.background);
        for nth in 0..most {
            for (target, reach) in self.reach.iter().enumerate() {
                if nth < *reach {
                    order.push((target, first[target] + nth as usize));
                }
            }
        }
        order
    }
}

/// Appends subscriber `n`'s number (E.164).
pub fn subscriber(n: u64, text: &mut String) {
    ids::mobile(SUBSCRIBER_BASE + n, text);
}

/// A carrier's signal id for signal `n`: a UUID, as carriers' feeds have them (36 bytes).
pub fn signal_id(n: u64, out: &mut String) {
    out.clear();
    let a = mix(n);
    let b = mix(a ^ n);
    let _ = write!(
        out,
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    );
}

/// splitmix64: a bijection that scatters consecutive numbers.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The platform whose app-install signals the benchmark sends.
const APP_MARKET: &str = "appmarket";

fn app_market() -> domain::PlatformId {
    domain::PlatformId::parse(APP_MARKET).expect("a platform id")
}

fn carrier_source(person: &PersonId) -> Source {
    Source::Carrier(person.carrier.unwrap_or(Carrier::Cmcc))
}

/// A contact's duration: mostly a few seconds, one in [`LONG_EVERY`] a long call.
fn duration(rng: &mut StdRng) -> u32 {
    if rng.random_range(0..LONG_EVERY) == 0 {
        rng.random_range(LONG_CONTACT_S..2 * 3600)
    } else {
        rng.random_range(0..60)
    }
}

/// The signals kept over the window, oldest first, as rows a start keeps: `kept` of them
/// evenly over `[from_ms, to_ms)`, the world's `reach` for each of its targets (spread over
/// `[targets_from_ms, to_ms)`, each reaching a person of its own: the window forgets the
/// oldest rows while the benchmark runs, never a target's), the rest contacts and app
/// installs from random suspects reaching random people. Calls `keep_row` with each; the
/// record is reused, so it is passed by reference.
pub struct KeptRows {
    pub kept: u64,
    pub from_ms: TimeMs,
    pub targets_from_ms: TimeMs,
    pub to_ms: TimeMs,
    pub retention_ms: u64,
    pub seed: u64,
}

impl KeptRows {
    pub fn each(&self, world: &World, mut keep_row: impl FnMut(&SignalRecord)) {
        let mut rng = StdRng::seed_from_u64(self.seed ^ 0x6b65_7074);
        let span = self.to_ms.saturating_sub(self.from_ms).max(1);
        // The first row at or after `targets_from_ms`: the targets' rows are among the rest.
        let first_targeted = (u128::from(self.targets_from_ms.saturating_sub(self.from_ms)) * u128::from(self.kept))
            .div_ceil(u128::from(span))
            .min(u128::from(self.kept)) as u64;
        let eligible = self.kept - first_targeted;
        let order = world.targeted_order();
        let targeted = (order.len() as u64).min(eligible);
        let mut record = SignalRecord {
            key: SignalKey { source: Source::Carrier(Carrier::Cmcc), id: String::new() },
            person: world.people[0],
            subscriber: world.row_subscriber.clone(),
            at_ms: self.from_ms,
            received_at_ms: self.from_ms,
            body: SignalBody::Transfer { kind: TransferKind::TransferInstructions },
            forget_before_ms: 0,
        };
        let mut last_slot = u64::MAX;
        for j in 0..self.kept {
            let at_ms = self.from_ms + (u128::from(j) * u128::from(span) / u128::from(self.kept)) as u64;
            let mut person = world.people[rng.random_range(0..world.background)];
            // The targets' signals spread evenly among the others, each target in turn (while
            // it has signals left), its n-th signal reaching its n-th person.
            let slot = if j < first_targeted {
                u64::MAX
            } else {
                (u128::from(j - first_targeted) * u128::from(targeted) / u128::from(eligible)) as u64
            };
            let identifier = if targeted > 0 && slot != u64::MAX && slot != last_slot {
                last_slot = slot;
                let (target, person_at) = order[slot as usize];
                person = world.people[person_at];
                Some(&world.targets[target])
            } else {
                None
            };
            record.body = match identifier {
                Some(target) => SignalBody::Contact { identifier: target.clone(), duration_s: duration(&mut rng) },
                None if !world.suspect_apps.is_empty() && rng.random_range(0..MIX_TOTAL) < MIX_APP_INSTALL => {
                    let app = &world.suspects[world.suspect_apps[rng.random_range(0..world.suspect_apps.len())]];
                    SignalBody::Transfer { kind: TransferKind::AppInstalled { app: app.clone() } }
                }
                None => {
                    let suspect = &world.suspects[rng.random_range(0..world.suspects.len())];
                    SignalBody::Contact { identifier: suspect.clone(), duration_s: duration(&mut rng) }
                }
            };
            record.key.source = match record.body {
                SignalBody::Transfer { .. } => Source::Platform(app_market()),
                SignalBody::Contact { .. } => carrier_source(&person),
            };
            signal_id(j, &mut record.key.id);
            record.person = person;
            record.at_ms = at_ms;
            record.received_at_ms = at_ms;
            record.forget_before_ms = at_ms.saturating_sub(self.retention_ms);
            keep_row(&record);
        }
    }
}

/// Fresh signals as carriers send them, `rate` a second of simulated time from `start_ms`:
/// signal `i` arrives at `start_ms + i / rate` and happened up to
/// [`MAX_CARRIER_DELAY_MS`] before. Ids continue after `first_id` (past the kept ones).
pub struct Stream {
    pub rate: f64,
    pub start_ms: TimeMs,
    pub first_id: u64,
    pub seed: u64,
}

/// One signal of the stream and when it arrives.
pub struct Arrival {
    pub now_ms: TimeMs,
    pub signal: RawSignal,
}

impl Stream {
    /// When signal `i` arrives, in simulated ms.
    pub fn arrival_ms(&self, i: u64) -> TimeMs {
        self.start_ms + (i as f64 * 1000.0 / self.rate) as u64
    }

    pub fn make(&self, world: &World, count: u64) -> Vec<Arrival> {
        let mut rng = StdRng::seed_from_u64(self.seed ^ 0x7374_7265);
        let mut out: Vec<Arrival> = Vec::with_capacity(count as usize);
        for i in 0..count {
            let now_ms = self.arrival_ms(i);
            let at_ms = now_ms.saturating_sub(rng.random_range(0..MAX_CARRIER_DELAY_MS));
            let pick = rng.random_range(0..MIX_TOTAL);
            if pick < MIX_RESEND && i > 0 {
                // A carrier re-sends one of its recent signals, unchanged.
                let back = rng.random_range(1..=i.min(1000)) as usize;
                let signal = out[out.len() - back].signal.clone();
                out.push(Arrival { now_ms, signal });
                continue;
            }
            let mut text = String::new();
            let n = rng.random_range(0..SUBSCRIBERS);
            subscriber(n, &mut text);
            let carrier = domain::Carrier::issuing(&text).unwrap_or(Carrier::Cmcc);
            let pick = pick - MIX_RESEND;
            let (source, what) = if pick < MIX_KNOWN_CONTACT {
                let known = &world.known_text[rng.random_range(0..world.known_text.len())];
                (
                    carrier.as_str().to_owned(),
                    RawWhat::Contact { identifier: known.clone(), duration_s: duration(&mut rng) },
                )
            } else if pick < MIX_KNOWN_CONTACT + MIX_APP_INSTALL {
                let app = if rng.random_range(0..KNOWN_APP_EVERY) == 0 && !world.known_apps.is_empty() {
                    &world.known_text[world.known_apps[rng.random_range(0..world.known_apps.len())]]
                } else if !world.suspect_apps.is_empty() {
                    &world.suspects_text[world.suspect_apps[rng.random_range(0..world.suspect_apps.len())]]
                } else {
                    &world.suspects_text[0]
                };
                (format!("platform:{APP_MARKET}"), RawWhat::AppInstalled { app: app.clone() })
            } else if pick < MIX_KNOWN_CONTACT + MIX_APP_INSTALL + MIX_TRANSFER {
                (carrier.as_str().to_owned(), RawWhat::TransferInstructions)
            } else {
                let suspect = &world.suspects_text[rng.random_range(0..world.suspects_text.len())];
                (
                    carrier.as_str().to_owned(),
                    RawWhat::Contact { identifier: suspect.clone(), duration_s: duration(&mut rng) },
                )
            };
            let mut signal_id = String::new();
            self::signal_id(self.first_id + i, &mut signal_id);
            out.push(Arrival { now_ms, signal: RawSignal { source, signal_id, subscriber: text, at_ms, what } });
        }
        out
    }
}
