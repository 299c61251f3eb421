//! The notices the cities are still to hear: one entry per city and subject of a notice
//! (an account's cross-city claims, an identifier's province-wide block), kept in the state
//! — so in its snapshot — until the city answers. An account's claims that grow while the
//! previous notice is pending replace it: the city hears the newest set. The shell sends
//! what is [`Outbox::due`] and [`Outbox::settle`]s each answer; a notice sent again after a
//! restart is taken once by the city (its answer says `recorded: false`).

use std::collections::BTreeMap;

use domain::{City, Service};
use events::province::kind;
use serde::Serialize;

use super::state::Notice;
use crate::limits::MAX_PENDING_NOTICES;

/// One city's notice about one account or identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct Delivery {
    pub city: City,
    /// `cross_city:<account>` or `province_block:<identifier>`.
    pub about: String,
}

impl Notice {
    /// The service that hears it and the kind of notice (its subject's last token).
    pub fn addressee(&self) -> (Service, &'static str) {
        match self {
            Notice::CrossCity(_) => (Service::Freezing, kind::CROSS_CITY),
            Notice::ProvinceBlock(_) => (Service::Blocking, kind::PROVINCE_BLOCK),
        }
    }

    /// What it is about: one pending notice per city and subject.
    fn about(&self) -> String {
        match self {
            Notice::CrossCity(notice) => format!("{}:{}", kind::CROSS_CITY, notice.account),
            Notice::ProvinceBlock(notice) => format!("{}:{}", kind::PROVINCE_BLOCK, notice.identifier),
        }
    }
}

/// How a city answered a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Taken (`recorded`: it changed what the city knew).
    Taken { recorded: bool },
    /// Refused for good (the city said why; the shell logs it).
    Refused,
}

/// The notices pending, and what became of those sent.
#[derive(Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Outbox {
    pending: BTreeMap<Delivery, Notice>,
    /// Taken by their city (`recorded` or not).
    pub taken: u64,
    /// Refused by their city.
    pub refused: u64,
    /// Not kept because [`MAX_PENDING_NOTICES`] were pending: those cities never hear them.
    pub dropped: u64,
}

impl Outbox {
    /// `notice` is for each of `cities`.
    pub fn push<'a>(&mut self, notice: &Notice, cities: impl IntoIterator<Item = &'a City>) {
        let about = notice.about();
        for city in cities {
            let delivery = Delivery { city: city.clone(), about: about.clone() };
            if !self.pending.contains_key(&delivery) && self.pending.len() >= MAX_PENDING_NOTICES {
                self.dropped += 1;
                continue;
            }
            self.pending.insert(delivery, notice.clone());
        }
    }

    /// Up to `limit` pending notices whose city `ready` says may be sent to now, by city
    /// then subject.
    pub fn due(&self, ready: impl Fn(&Delivery) -> bool, limit: usize) -> Vec<(Delivery, Notice)> {
        self.pending.iter().filter(|(d, _)| ready(d)).take(limit).map(|(d, n)| (d.clone(), n.clone())).collect()
    }

    /// `delivery`'s city answered `sent`: it leaves the outbox, unless a newer notice about the
    /// same subject replaced it meanwhile (that one is still to be sent). Whether it left.
    pub fn settle(&mut self, delivery: &Delivery, sent: &Notice, settled: Settled) -> bool {
        if self.pending.get(delivery) != Some(sent) {
            return false;
        }
        self.pending.remove(delivery);
        match settled {
            Settled::Taken { .. } => self.taken += 1,
            Settled::Refused => self.refused += 1,
        }
        true
    }

    /// Pending notices per city.
    pub fn pending_by_city(&self) -> BTreeMap<City, u64> {
        let mut by_city = BTreeMap::new();
        for delivery in self.pending.keys() {
            *by_city.entry(delivery.city.clone()).or_insert(0) += 1;
        }
        by_city
    }

    /// Pending notices in all.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}
