//! Per producer (`<city>.<service>`): which seqs the province holds. The highest seen, the
//! missing ranges below it (what a `resend` asks for), and the content hash of the recent
//! seqs, to tell a redelivery (same content) from a conflict (different content under an id
//! already seen). [`SeqTrack::classify`] decides without changing anything;
//! [`SeqTrack::record`] commits, so an envelope refused later on leaves no trace.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;

use domain::{City, Service};

use crate::limits::{HASH_WINDOW, MAX_GAP_RANGES, MAX_SEQ_AHEAD};

/// A producer of events: one service of one city, numbering its events from 1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Producer {
    pub city: City,
    pub service: Service,
}

impl fmt::Display for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.city, self.service)
    }
}

/// What a seq is to a producer's track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not held yet: `filled_gap` when it was missing below the highest.
    New { filled_gap: bool },
    /// Held already, with the same content.
    Duplicate,
    /// Held already, too far below the highest for its content to be compared.
    Unverified,
    /// Held already with other content (`kept` is the first content's hash).
    Conflict { kept: u64 },
    /// Would open one range more than [`MAX_GAP_RANGES`] (a seq past a new gap, or one inside
    /// a missing range, splitting it).
    TooManyGaps,
    /// More than [`MAX_SEQ_AHEAD`] beyond the highest.
    TooFarAhead { highest: u64 },
}

/// One producer's seqs.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SeqTrack {
    /// The highest seq held; 0 before the first.
    pub highest: u64,
    /// Missing ranges below `highest`, by first seq → last seq; disjoint, not adjacent.
    pub gaps: BTreeMap<u64, u64>,
    /// Content hash of seq `s` at `s % HASH_WINDOW`, with its seq; allocated on first use.
    hashes: Vec<(u64, u64)>,
    /// Envelopes held already with the same content (or unverifiable), by count.
    pub duplicates: u64,
    /// Envelopes refused as conflicts, by count.
    pub conflicts: u64,
}

impl SeqTrack {
    /// Whether `seq` is held.
    fn holds(&self, seq: u64) -> bool {
        seq <= self.highest && !self.missing(seq)
    }

    fn missing(&self, seq: u64) -> bool {
        self.gaps.range(..=seq).next_back().is_some_and(|(_, &last)| seq <= last)
    }

    /// What `seq` with content hash `hash` would be; changes nothing.
    pub fn classify(&self, seq: u64, hash: u64) -> Seen {
        assert!(seq > 0, "envelopes are checked before they are classified: seqs start at 1");
        if self.holds(seq) {
            if seq + HASH_WINDOW <= self.highest {
                return Seen::Unverified;
            }
            let (kept_seq, kept) = self.hashes[(seq % HASH_WINDOW) as usize];
            assert_eq!(kept_seq, seq, "a held seq within the window has its hash in the ring");
            return if kept == hash { Seen::Duplicate } else { Seen::Conflict { kept } };
        }
        if seq <= self.highest {
            let (&first, &last) =
                self.gaps.range(..=seq).next_back().expect("a seq below the highest not held is missing");
            // Filling inside a range splits it in two; filling at its ends (as a resend does,
            // in order) never adds one.
            if first < seq && seq < last && self.gaps.len() >= MAX_GAP_RANGES {
                return Seen::TooManyGaps;
            }
            return Seen::New { filled_gap: true };
        }
        if seq - self.highest > MAX_SEQ_AHEAD {
            return Seen::TooFarAhead { highest: self.highest };
        }
        if seq > self.highest + 1 && self.gaps.len() >= MAX_GAP_RANGES {
            return Seen::TooManyGaps;
        }
        Seen::New { filled_gap: false }
    }

    /// Records `seq` as held, after [`SeqTrack::classify`] said it is new.
    pub fn record(&mut self, seq: u64, hash: u64) {
        if seq > self.highest {
            if seq > self.highest + 1 {
                self.gaps.insert(self.highest + 1, seq - 1);
            }
            self.highest = seq;
        } else {
            let (&first, &last) = self.gaps.range(..=seq).next_back().expect("a new seq below the highest is missing");
            assert!(seq <= last, "seq {seq} is in the gap {first}..={last}");
            self.gaps.remove(&first);
            if first < seq {
                self.gaps.insert(first, seq - 1);
            }
            if seq < last {
                self.gaps.insert(seq + 1, last);
            }
        }
        if seq + HASH_WINDOW > self.highest {
            if self.hashes.is_empty() {
                self.hashes = vec![(0, 0); HASH_WINDOW as usize];
            }
            self.hashes[(seq % HASH_WINDOW) as usize] = (seq, hash);
        }
        assert!(self.gaps.len() <= MAX_GAP_RANGES, "classify refuses what would open more ranges");
    }

    /// The missing ranges, lowest first.
    pub fn missing_ranges(&self) -> impl Iterator<Item = RangeInclusive<u64>> + '_ {
        self.gaps.iter().map(|(&first, &last)| first..=last)
    }
}
