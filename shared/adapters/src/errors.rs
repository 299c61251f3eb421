//! Adapter calls that failed for good, counted by the party asked (a bank's, platform's or
//! carrier's code, never a victim's account or number), the verb and the error kind: what a
//! node's `/metrics` shows as `afc_adapter_errors_total`.
//!
//! A service's clients share one [`AdapterErrors`] (its runtime hands it out), which counts
//! a call once, after its retries. Bank codes come from the accounts reports name, so the
//! distinct series are bounded ([`MAX_ADAPTER_ERROR_SERIES`]); failures past the bound are
//! counted in the one [`OTHER`] series.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::AdapterErrorKind;
use crate::limits::MAX_ADAPTER_ERROR_SERIES;

/// Every label of the series that counts failures past [`MAX_ADAPTER_ERROR_SERIES`].
pub const OTHER: &str = "other";

/// Which kind of external party an adapter call asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Adapter {
    Bank,
    Platform,
    Carrier,
}

impl Adapter {
    pub fn as_str(self) -> &'static str {
        match self {
            Adapter::Bank => "bank",
            Adapter::Platform => "platform",
            Adapter::Carrier => "carrier",
        }
    }
}

/// One counted series: who was asked what, and how it failed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorSeries {
    /// `bank`, `platform` or `carrier` ([`OTHER`] past the bound).
    pub adapter: &'static str,
    /// The party's code: `icbc`, `alipay`, `cmcc`.
    pub party: String,
    /// The adapter verb: `freeze`, `stop_payment`, `block`, `sms`.
    pub verb: &'static str,
    /// [`kind_label`] of the error.
    pub kind: &'static str,
}

/// The label of an error's kind: `timeout`, `no_responders`, `transport`, `unsendable`,
/// `invalid_reply`, or a refusal's own kind (`unavailable`, `stop_limit_reached`, `not_ours`…).
pub fn kind_label(kind: &AdapterErrorKind) -> &'static str {
    match kind {
        AdapterErrorKind::Timeout(_) => "timeout",
        AdapterErrorKind::NoResponders => "no_responders",
        AdapterErrorKind::Transport(_) => "transport",
        AdapterErrorKind::Unsendable(_) => "unsendable",
        AdapterErrorKind::InvalidReply(_) => "invalid_reply",
        AdapterErrorKind::Refused(refusal) => refusal.kind.as_str(),
    }
}

/// Failed adapter calls of one service, by series. Locked only when a call fails for good
/// and when the metrics are read.
#[derive(Debug, Default)]
pub struct AdapterErrors {
    series: Mutex<BTreeMap<ErrorSeries, u64>>,
}

impl AdapterErrors {
    /// Counts one failed call; past [`MAX_ADAPTER_ERROR_SERIES`] distinct series, in [`OTHER`].
    pub fn count(&self, adapter: Adapter, party: &str, verb: &'static str, kind: &AdapterErrorKind) {
        let series = ErrorSeries { adapter: adapter.as_str(), party: party.to_owned(), verb, kind: kind_label(kind) };
        let mut counts = self.series.lock().expect("never poisoned");
        let known = counts.contains_key(&series);
        let other = ErrorSeries { adapter: OTHER, party: OTHER.to_owned(), verb: OTHER, kind: OTHER };
        let distinct = counts.len() - usize::from(counts.contains_key(&other));
        let series = if known || distinct < MAX_ADAPTER_ERROR_SERIES { series } else { other };
        *counts.entry(series).or_insert(0) += 1;
        debug_assert!(counts.len() <= MAX_ADAPTER_ERROR_SERIES + 1);
    }

    /// Every series counted so far, with its count, in order.
    pub fn counts(&self) -> Vec<(ErrorSeries, u64)> {
        self.series.lock().expect("never poisoned").iter().map(|(series, n)| (series.clone(), *n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_failure_is_counted_by_party_verb_and_kind_and_past_the_bound_in_other() {
        let errors = AdapterErrors::default();
        let timeout = AdapterErrorKind::Timeout(Duration::from_secs(5));
        errors.count(Adapter::Bank, "icbc", "freeze", &timeout);
        errors.count(Adapter::Bank, "icbc", "freeze", &timeout);
        errors.count(Adapter::Carrier, "cmcc", "block", &AdapterErrorKind::NoResponders);
        let counts = errors.counts();
        let series = |adapter, party: &str, verb, kind| ErrorSeries { adapter, party: party.to_owned(), verb, kind };
        assert_eq!(
            counts,
            [
                (series("bank", "icbc", "freeze", "timeout"), 2),
                (series("carrier", "cmcc", "block", "no_responders"), 1)
            ]
        );

        let codes: Vec<String> = (0..MAX_ADAPTER_ERROR_SERIES + 10).map(|n| format!("bank{n}")).collect();
        for code in &codes {
            errors.count(Adapter::Bank, code, "flows", &AdapterErrorKind::NoResponders);
        }
        // Known series still count past the bound.
        errors.count(Adapter::Bank, "icbc", "freeze", &timeout);
        let counts = errors.counts();
        assert_eq!(counts.len(), MAX_ADAPTER_ERROR_SERIES + 1, "the bound, and one series for the rest");
        let other = counts.iter().find(|(s, _)| s.adapter == OTHER).expect("an other series");
        assert_eq!((other.0.party.as_str(), other.0.verb, other.0.kind, other.1), (OTHER, OTHER, OTHER, 12));
        assert_eq!(counts.iter().map(|(_, n)| n).sum::<u64>(), 3 + codes.len() as u64 + 1, "every failure counted");
        assert!(counts.contains(&(series("bank", "icbc", "freeze", "timeout"), 3)));
    }
}
