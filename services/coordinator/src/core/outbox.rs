//! The notices the cities are still to hear: one entry per city and subject of a notice
//! (an account's cross-city claims, an identifier's province-wide block), kept in the state
//! — so in its snapshot — until the city answers. An account's claims that grow while the
//! previous notice is pending replace it: the city hears the newest set. An identifier's
//! province-wide block and its withdrawal are one subject: the newer replaces the older, so a
//! city that has not heard a block yet hears only its withdrawal, and never the two in the
//! wrong order (a delivery in flight is not sent again before its answer). The shell sends
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
    /// `cross_city:<account>` or `province_block:<identifier>` (a block or its withdrawal).
    pub about: String,
}

impl Notice {
    /// The service that hears it and the kind of notice (its subject's last token).
    pub fn addressee(&self) -> (Service, &'static str) {
        match self {
            Notice::CrossCity(_) => (Service::Freezing, kind::CROSS_CITY),
            Notice::ProvinceBlock(_) => (Service::Blocking, kind::PROVINCE_BLOCK),
            Notice::ProvinceUnblock(_) => (Service::Blocking, kind::PROVINCE_UNBLOCK),
        }
    }

    /// What it is about: one pending notice per city and subject. A block and its withdrawal
    /// share the identifier's key (the block's, as snapshots written before withdrawals hold
    /// it), so the newer replaces the older.
    fn about(&self) -> String {
        match self {
            Notice::CrossCity(notice) => format!("{}:{}", kind::CROSS_CITY, notice.account),
            Notice::ProvinceBlock(notice) => format!("{}:{}", kind::PROVINCE_BLOCK, notice.identifier),
            Notice::ProvinceUnblock(notice) => format!("{}:{}", kind::PROVINCE_BLOCK, notice.identifier),
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
    /// By city, then subject: a city waiting out a miss is passed over whole, however many
    /// notices it gathered while cut off.
    pending: BTreeMap<City, BTreeMap<String, Notice>>,
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
            let known = self.pending.get(city).is_some_and(|of_city| of_city.contains_key(&about));
            if !known && self.len() >= MAX_PENDING_NOTICES {
                self.dropped += 1;
                continue;
            }
            self.pending.entry(city.clone()).or_default().insert(about.clone(), notice.clone());
        }
    }

    /// Up to `limit` pending notices, by city then subject: of the cities `city_ready` says
    /// may be asked now, those `ready` says may be sent (not in flight already).
    pub fn due(
        &self,
        city_ready: impl Fn(&City) -> bool,
        ready: impl Fn(&Delivery) -> bool,
        limit: usize,
    ) -> Vec<(Delivery, Notice)> {
        self.pending
            .iter()
            .filter(|(city, _)| city_ready(city))
            .flat_map(|(city, of_city)| {
                of_city.iter().map(|(about, notice)| (Delivery { city: city.clone(), about: about.clone() }, notice))
            })
            .filter(|(delivery, _)| ready(delivery))
            .take(limit)
            .map(|(delivery, notice)| (delivery, notice.clone()))
            .collect()
    }

    /// `delivery`'s city answered `sent`: it leaves the outbox, unless a newer notice about the
    /// same subject replaced it meanwhile (that one is still to be sent). Whether it left.
    pub fn settle(&mut self, delivery: &Delivery, sent: &Notice, settled: Settled) -> bool {
        let Some(of_city) = self.pending.get_mut(&delivery.city) else { return false };
        if of_city.get(&delivery.about) != Some(sent) {
            return false;
        }
        of_city.remove(&delivery.about);
        if of_city.is_empty() {
            self.pending.remove(&delivery.city);
        }
        match settled {
            Settled::Taken { .. } => self.taken += 1,
            Settled::Refused => self.refused += 1,
        }
        true
    }

    /// Pending notices per city.
    pub fn pending_by_city(&self) -> BTreeMap<City, u64> {
        self.pending.iter().map(|(city, of_city)| (city.clone(), of_city.len() as u64)).collect()
    }

    /// Pending notices in all.
    pub fn len(&self) -> usize {
        self.pending.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}
