//! The coordinator's state and [`absorb`], which takes one envelope of the province stream:
//! checks it, places its seq in its producer's track, and — when it is new — adds it to the
//! figures and the cross-city memory, returning the notices it raised. Deciding comes first
//! and changes nothing; the state changes only once the envelope is accepted whole.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use domain::{City, TimeMs};
use events::province::{CrossCityNotice, ProvinceBlockNotice, ProvinceUnblockNotice};
use events::{BlockingEvent, Envelope, FreezingEvent, Payload};
use serde::Serialize;

use super::figures::{Contribution, Figures, FiguresError, Tally, contribution};
use super::links::{Blocked, Links};
use super::outbox::Outbox;
use super::period::Period;
use super::producers::{Producer, Seen, SeqTrack};
use crate::limits::{ACCOUNT_MEMORY_MS, IDENTIFIER_MEMORY_MS, MAX_CITIES};

/// Why a state could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no city configured: the province needs at least one")]
    NoCities,
    #[error("{count} cities configured: at most {MAX_CITIES}")]
    TooManyCities { count: usize },
}

/// Everything the coordinator knows, built only from the province stream.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct State {
    /// The province's cities: events of any other are refused.
    cities: BTreeSet<City>,
    /// Seqs held, per producer.
    pub(crate) producers: BTreeMap<Producer, SeqTrack>,
    /// Per period, per city: the figures (the projection reports read).
    pub(crate) tallies: BTreeMap<Period, BTreeMap<City, Tally>>,
    /// Per period, the whole province, kept apart from the cities' tallies so a report can
    /// check its totals against it.
    pub(crate) province: BTreeMap<Period, Figures>,
    /// Accounts and identifiers across cities.
    pub links: Links,
    /// The notices the cities are still to hear.
    pub outbox: Outbox,
}

impl State {
    /// A state for a province of `cities`.
    pub fn new(cities: impl IntoIterator<Item = City>) -> Result<State, ConfigError> {
        let cities: BTreeSet<City> = cities.into_iter().collect();
        if cities.is_empty() {
            return Err(ConfigError::NoCities);
        }
        if cities.len() > MAX_CITIES {
            return Err(ConfigError::TooManyCities { count: cities.len() });
        }
        Ok(State {
            cities,
            producers: BTreeMap::new(),
            tallies: BTreeMap::new(),
            province: BTreeMap::new(),
            links: Links::default(),
            outbox: Outbox::default(),
        })
    }

    /// Adds `cities` to the province's (a city joins; none leaves: what it sent stays
    /// counted). For a state read back from a snapshot when the configuration names more.
    /// Each city joining is to hear every province-wide block decided before it joined.
    pub fn admit_cities(&mut self, cities: impl IntoIterator<Item = City>) -> Result<(), ConfigError> {
        let mut all = self.cities.clone();
        all.extend(cities);
        if all.len() > MAX_CITIES {
            return Err(ConfigError::TooManyCities { count: all.len() });
        }
        // A city joining blocks what the province decided before it joined.
        let joining: Vec<City> = all.difference(&self.cities).cloned().collect();
        for decided in self.links.province_blocks().collect::<Vec<_>>() {
            self.outbox.push(&Notice::ProvinceBlock(decided), joining.iter());
        }
        self.cities = all;
        Ok(())
    }

    /// The state as a snapshot: named MessagePack (time-to-freeze histograms as their
    /// buckets, periods as their text).
    pub fn to_snapshot(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).expect("the state serializes")
    }

    /// A state read back from [`State::to_snapshot`]'s bytes.
    pub fn from_snapshot(bytes: &[u8]) -> Result<State, rmp_serde::decode::Error> {
        rmp_serde::from_slice(bytes)
    }

    /// The configured cities, in order.
    pub fn cities(&self) -> impl Iterator<Item = &City> {
        self.cities.iter()
    }

    /// A producer's track, if it sent anything.
    pub fn track(&self, producer: &Producer) -> Option<&SeqTrack> {
        self.producers.get(producer)
    }
}

/// What became of an accepted envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Absorbed {
    /// New: counted, with the notices it raised (`filled_gap` when it was missing).
    New { filled_gap: bool, notices: Vec<Notice> },
    /// Held already with the same content: counted as a duplicate, nothing changed.
    Duplicate,
    /// Held already, too far below the producer's highest for its content to be compared
    /// (see `limits::HASH_WINDOW`): counted as a duplicate, nothing changed.
    Unverified,
}

/// A decision for the cities, raised by an event: to each claiming city's freezing, to every
/// city's blocking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    CrossCity(CrossCityNotice),
    ProvinceBlock(ProvinceBlockNotice),
    ProvinceUnblock(ProvinceUnblockNotice),
}

/// Why an envelope was refused (a dead letter with this reason); nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("event {id:?} of unknown city \"{city}\": the province's cities are {known}")]
    UnknownCity { id: String, city: City, known: String },
    #[error("inconsistent envelope {id:?}: {detail}")]
    Inconsistent { id: String, detail: String },
    #[error("conflict on {id:?}: content hash {offered:016x} differs from the {kept:016x} kept first")]
    Conflict { id: String, kept: u64, offered: u64 },
    #[error("event {id:?} would open more than {max} missing ranges of {producer}", max = crate::limits::MAX_GAP_RANGES)]
    TooManyGaps { id: String, producer: String },
    #[error("event {id:?} is more than {max} past {producer}'s highest seq {highest}", max = crate::limits::MAX_SEQ_AHEAD)]
    TooFarAhead { id: String, producer: String, highest: u64 },
    #[error("event {id:?} cannot be counted: {source}")]
    Figures { id: String, source: FiguresError },
}

impl Refusal {
    /// The reason's kind, for a dead letter's header and a counter.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::UnknownCity { .. } => "unknown_city",
            Refusal::Inconsistent { .. } => "inconsistent",
            Refusal::Conflict { .. } => "conflict",
            Refusal::TooManyGaps { .. } => "too_many_gaps",
            Refusal::TooFarAhead { .. } => "too_far_ahead",
            Refusal::Figures { .. } => "figures_overflow",
        }
    }
}

/// The content hash duplicates and conflicts are told apart by: FNV-1a over the envelope's
/// wire encoding (named-field MessagePack, deterministic for equal envelopes).
pub fn content_hash(envelope: &Envelope) -> Result<u64, Refusal> {
    let bytes = events::encode(envelope)
        .map_err(|error| Refusal::Inconsistent { id: envelope.id.clone(), detail: error.to_string() })?;
    Ok(domain::fnv1a64(&bytes))
}

/// Takes one envelope of the province stream.
pub fn absorb(state: &mut State, envelope: &Envelope) -> Result<Absorbed, Refusal> {
    let id = || envelope.id.clone();
    if !state.cities.contains(&envelope.city) {
        let known = state.cities.iter().map(City::as_str).collect::<Vec<_>>().join(", ");
        return Err(Refusal::UnknownCity { id: id(), city: envelope.city.clone(), known });
    }
    envelope.check().map_err(|error| Refusal::Inconsistent { id: id(), detail: error.to_string() })?;
    let hash = content_hash(envelope)?;
    let producer = Producer { city: envelope.city.clone(), service: envelope.service };
    let seen = state
        .producers
        .get(&producer)
        .map_or(Seen::New { filled_gap: false }, |track| track.classify(envelope.seq, hash));
    let filled_gap = match seen {
        Seen::New { filled_gap } => filled_gap,
        Seen::Duplicate | Seen::Unverified => {
            state.producers.get_mut(&producer).expect("a held seq has a track").duplicates += 1;
            return Ok(if seen == Seen::Duplicate { Absorbed::Duplicate } else { Absorbed::Unverified });
        }
        Seen::Conflict { kept } => {
            state.producers.get_mut(&producer).expect("a held seq has a track").conflicts += 1;
            return Err(Refusal::Conflict { id: id(), kept, offered: hash });
        }
        Seen::TooManyGaps => return Err(Refusal::TooManyGaps { id: id(), producer: producer.to_string() }),
        Seen::TooFarAhead { highest } => {
            return Err(Refusal::TooFarAhead { id: id(), producer: producer.to_string(), highest });
        }
    };
    // Decide the figures before changing anything: an overflow refuses the envelope whole.
    let counted = match contribution(&envelope.payload) {
        Some(contribution) => {
            let sums = summed(state, &envelope.city, &contribution, id)?;
            Some((contribution, sums))
        }
        None => None,
    };
    state.producers.entry(producer).or_default().record(envelope.seq, hash);
    if let Some((contribution, sums)) = counted {
        commit(state, &envelope.city, &contribution, sums);
    }
    let notices = link(&mut state.links, envelope);
    for notice in &notices {
        match notice {
            Notice::CrossCity(cross) => state.outbox.push(notice, cross.claims.iter().map(|claim| &claim.city)),
            Notice::ProvinceBlock(_) | Notice::ProvinceUnblock(_) => state.outbox.push(notice, state.cities.iter()),
        }
    }
    Ok(Absorbed::New { filled_gap, notices })
}

/// The new figures of the city's and the province's tallies of each period `contribution`
/// counts in, checked; nothing changed.
type Sums = [(Period, Figures, Figures); 3];

fn summed(state: &State, city: &City, contribution: &Contribution, id: impl Fn() -> String) -> Result<Sums, Refusal> {
    let refuse = |source| Refusal::Figures { id: id(), source };
    let sum = |period: Period| -> Result<(Period, Figures, Figures), Refusal> {
        let of_city = state.tallies.get(&period).and_then(|cities| cities.get(city)).map(|t| t.figures);
        let of_province = state.province.get(&period).copied();
        let of_city = of_city.unwrap_or_default().plus(&contribution.figures).map_err(refuse)?;
        let of_province = of_province.unwrap_or_default().plus(&contribution.figures).map_err(refuse)?;
        Ok((period, of_city, of_province))
    };
    let [day, week, month] = Period::all_of(contribution.at_ms);
    Ok([sum(day)?, sum(week)?, sum(month)?])
}

fn commit(state: &mut State, city: &City, contribution: &Contribution, sums: Sums) {
    for (period, of_city, of_province) in sums {
        state.tallies.entry(period).or_default().entry(city.clone()).or_default().commit(of_city, contribution);
        state.province.insert(period, of_province);
    }
}

/// The cross-city memory's part of a new event: stops, blocks and lifts.
fn link(links: &mut Links, envelope: &Envelope) -> Vec<Notice> {
    let notice = match &envelope.payload {
        Payload::Freezing(FreezingEvent::AccountStopped { case_id, account, stopped_at_ms, .. }) => {
            links.stopped(account, &envelope.city, case_id, *stopped_at_ms, envelope.time_ms).map(Notice::CrossCity)
        }
        // A city's block made on the province's notice is not that city's own report.
        Payload::Blocking(BlockingEvent::IdentifierBlocked {
            identifier,
            generation,
            case_id,
            fraud_type,
            blocked_at_ms,
            province: None,
            ..
        }) => {
            let block = Blocked { generation: *generation, case_id, fraud_type: *fraud_type, at_ms: *blocked_at_ms };
            links.blocked(identifier, &envelope.city, block, envelope.time_ms).map(Notice::ProvinceBlock)
        }
        // A case of the city named a block it holds: its own report now, also when the block
        // was the province's (the city's blocking keeps it through a withdrawal).
        Payload::Blocking(BlockingEvent::BlockExtended {
            identifier,
            generation,
            case_id,
            fraud_type,
            extended_at_ms,
            ..
        }) => {
            let block = Blocked { generation: *generation, case_id, fraud_type: *fraud_type, at_ms: *extended_at_ms };
            links.blocked(identifier, &envelope.city, block, envelope.time_ms).map(Notice::ProvinceBlock)
        }
        // A block lifted (an appeal): if it was the city's own, the city takes its word back.
        // The appeal (staff's words) is not read.
        Payload::Blocking(BlockingEvent::BlockLifted { identifier, generation, lifted_at_ms, .. }) => links
            .lifted(identifier, &envelope.city, *generation, *lifted_at_ms, envelope.time_ms)
            .map(Notice::ProvinceUnblock),
        _ => None,
    };
    notice.into_iter().collect()
}

/// Every producer the province heard from, with its track, in producer order.
pub fn producers(state: &State) -> impl Iterator<Item = (&Producer, &SeqTrack)> {
    state.producers.iter()
}

/// What a `resend` should ask for: every producer's missing ranges, by producer, lowest
/// first. A producer's tail (events after the highest the province holds) is not a gap
/// this can see.
pub fn gaps(state: &State) -> Vec<(Producer, RangeInclusive<u64>)> {
    state
        .producers
        .iter()
        .flat_map(|(producer, track)| track.missing_ranges().map(move |range| (producer.clone(), range)))
        .collect()
}

/// Forgets what is no longer worth remembering at `now_ms`: accounts not stopped for
/// `limits::ACCOUNT_MEMORY_MS`, identifiers not blocked for `limits::IDENTIFIER_MEMORY_MS`.
/// The figures are kept (a report may ask for any past period). The shell calls it daily.
pub fn forget_before(state: &mut State, now_ms: TimeMs) {
    state.links.forget_before(now_ms.saturating_sub(ACCOUNT_MEMORY_MS), now_ms.saturating_sub(IDENTIFIER_MEMORY_MS));
}
