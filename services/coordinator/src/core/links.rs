//! What crosses city lines: accounts stopped for cases of two or more cities
//! ([`CrossCityNotice`]), and identifiers blocked in two or more cities
//! ([`ProvinceBlockNotice`]) — the notices the cities hear (`events::province`).
//!
//! Cross-city accounts: per account, each claiming city's first stop (the case and the stop's
//! time; a later-arriving earlier stop of the same city replaces it). A notice goes out when
//! the second city claims the account, and again each time another city joins: the set of
//! cities only grows, so no set is announced twice. A city's further cases on the account
//! are its own business (its freezing orders them) and announce nothing.
//!
//! Province-wide blocks: per identifier (blocking's normalised [`Identifier`], so two
//! spellings of a number are one), each city that blocked it and when. One decision, when
//! the second city blocks it: from then every city blocks it, so a third city's report
//! changes nothing for the others — it is recorded (its time may become the first) but
//! decides nothing new. An identifier forgotten ([`Links::forget_before`]) and blocked again
//! in two cities is decided again.
//!
//! A city lifting its own block (an appeal: [`Links::lifted`]) no longer counts among the
//! cities that blocked it. When a decided identifier is left with fewer than two, the province
//! withdraws its block ([`ProvinceUnblockNotice`]): a block the province decided on the word
//! of two cities does not outlive one of them taking its word back. Two cities blocking it
//! again decide it again. A lift in a city that held only the province's block (or nothing)
//! announces nothing: that city never counted. Blocks and lifts are told apart by the city's
//! generation of the block (one count per identifier in a city's blocking), not by the order
//! they arrive in: a lift absorbed before the block it lifts (a gap filled late) keeps that
//! block from counting, and a lift of an older generation leaves a newer block counted.

use std::collections::BTreeMap;

use domain::{AccountRef, CaseId, City, FraudType, TimeMs};
use events::province::{CrossCityClaim, CrossCityNotice, ProvinceBlockNotice, ProvinceUnblockNotice};
use identifiers::Identifier;
use serde::Serialize;

use crate::limits::{MAX_TRACKED_ACCOUNTS, MAX_TRACKED_IDENTIFIERS};

/// An account cases of two or more cities stopped, with every claim, earliest stop first:
/// what the `case` command answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CrossCity {
    pub account: AccountRef,
    pub claims: Vec<CrossCityClaim>,
}

/// One account's claims by city.
#[derive(Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
struct AccountLine {
    claims: BTreeMap<City, (CaseId, TimeMs)>,
    /// The latest stop seen on it: the account is forgotten a year after.
    last_at_ms: TimeMs,
}

/// A city's first block of an identifier: when, for which case and fraud; and the highest
/// generation of its blocks seen (what a lift must reach to take the city's word back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
struct CityBlock {
    at_ms: TimeMs,
    case_id: CaseId,
    fraud_type: FraudType,
    #[serde(default)]
    generation: u32,
}

/// One identifier's blocks by city.
#[derive(Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
struct IdentifierLine {
    cities: BTreeMap<City, CityBlock>,
    /// Per city, the highest generation it lifted: a block of that generation or an older one
    /// absorbed later (a gap filled) was lifted already, and does not count.
    #[serde(default)]
    lifted: BTreeMap<City, u32>,
    decided: bool,
    /// When the province decided it (absorbing the second city's block).
    #[serde(default)]
    decided_at_ms: TimeMs,
    last_at_ms: TimeMs,
}

/// A city's own block of an identifier, as its `identifier_blocked` tells it.
#[derive(Debug, Clone, Copy)]
pub struct Blocked<'a> {
    /// The block's generation in the city (1, then one more after each lift or expiry).
    pub generation: u32,
    pub case_id: &'a CaseId,
    pub fraud_type: FraudType,
    pub at_ms: TimeMs,
}

/// The cross-city memory.
#[derive(Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Links {
    accounts: BTreeMap<AccountRef, AccountLine>,
    identifiers: BTreeMap<Identifier, IdentifierLine>,
    /// New accounts not remembered because [`MAX_TRACKED_ACCOUNTS`] were.
    pub untracked_accounts: u64,
    /// New identifiers not remembered because [`MAX_TRACKED_IDENTIFIERS`] were.
    pub untracked_identifiers: u64,
}

impl Links {
    /// `city`'s case `case` stopped `account` at `at_ms` (recorded at `decided_at_ms`): the
    /// notice, if the account's set of claiming cities grew to two or more.
    pub fn stopped(
        &mut self,
        account: &AccountRef,
        city: &City,
        case: &CaseId,
        at_ms: TimeMs,
        decided_at_ms: TimeMs,
    ) -> Option<CrossCityNotice> {
        if !self.accounts.contains_key(account) {
            if self.accounts.len() >= MAX_TRACKED_ACCOUNTS {
                self.untracked_accounts += 1;
                return None;
            }
            self.accounts.insert(account.clone(), AccountLine::default());
        }
        let line = self.accounts.get_mut(account).expect("inserted above");
        line.last_at_ms = line.last_at_ms.max(at_ms);
        let new_city = match line.claims.get_mut(city) {
            Some(first) => {
                if at_ms < first.1 {
                    *first = (case.clone(), at_ms);
                }
                false
            }
            None => {
                line.claims.insert(city.clone(), (case.clone(), at_ms));
                true
            }
        };
        (new_city && line.claims.len() >= 2).then(|| CrossCityNotice {
            account: account.clone(),
            claims: claims(line),
            decided_at_ms,
        })
    }

    /// The claims on `account` now, earliest first; empty when it is not remembered.
    pub fn claims_on(&self, account: &AccountRef) -> Vec<CrossCityClaim> {
        self.accounts.get(account).map(claims).unwrap_or_default()
    }

    /// The accounts `case` claims (as its city's first case there) that cases of other cities
    /// claim too, each with every claim, earliest first; in account order. A walk of every
    /// account remembered (at most `MAX_TRACKED_ACCOUNTS`): for a query, not for absorbing.
    pub fn cross_city_of(&self, case: &CaseId) -> Vec<CrossCity> {
        self.accounts
            .iter()
            .filter(|(_, line)| line.claims.len() >= 2 && line.claims.values().any(|(claimed, _)| claimed == case))
            .map(|(account, line)| CrossCity { account: account.clone(), claims: claims(line) })
            .collect()
    }

    /// `city` blocked `identifier` (its `generation`-th block there) at `at_ms` for `case_id`
    /// (recorded at `decided_at_ms`): the decision, if this is the second city.
    pub fn blocked(
        &mut self,
        identifier: &Identifier,
        city: &City,
        block: Blocked<'_>,
        decided_at_ms: TimeMs,
    ) -> Option<ProvinceBlockNotice> {
        let Blocked { generation, case_id, fraud_type, at_ms } = block;
        let line = self.line(identifier)?;
        line.last_at_ms = line.last_at_ms.max(at_ms);
        if line.lifted.get(city).is_some_and(|&lifted| generation <= lifted) {
            return None;
        }
        let this = CityBlock { at_ms, case_id: case_id.clone(), fraud_type, generation };
        let first = line.cities.entry(city.clone()).or_insert_with(|| this.clone());
        first.generation = first.generation.max(generation);
        if at_ms < first.at_ms {
            *first = CityBlock { generation: first.generation, ..this };
        }
        if line.decided || line.cities.len() < 2 {
            return None;
        }
        line.decided = true;
        line.decided_at_ms = decided_at_ms;
        Some(decision(identifier, line))
    }

    /// `city` lifted its `generation`-th block of `identifier` at `at_ms` (an appeal; recorded
    /// at `decided_at_ms`): the province's withdrawal, if the city's own block counted, no
    /// newer one of it does, and fewer than two cities are left of a decided identifier. A
    /// city that never blocked it of its own announces nothing.
    pub fn lifted(
        &mut self,
        identifier: &Identifier,
        city: &City,
        generation: u32,
        at_ms: TimeMs,
        decided_at_ms: TimeMs,
    ) -> Option<ProvinceUnblockNotice> {
        let line = self.line(identifier)?;
        line.last_at_ms = line.last_at_ms.max(at_ms);
        let lifted = line.lifted.entry(city.clone()).or_default();
        *lifted = (*lifted).max(generation);
        line.cities.get(city).filter(|own| own.generation <= generation)?;
        line.cities.remove(city);
        if !line.decided || line.cities.len() >= 2 {
            return None;
        }
        line.decided = false;
        Some(ProvinceUnblockNotice { identifier: identifier.clone(), lifted_in: city.clone(), decided_at_ms })
    }

    /// `identifier`'s line, made if it is new and there is room (else counted, `None`).
    fn line(&mut self, identifier: &Identifier) -> Option<&mut IdentifierLine> {
        if !self.identifiers.contains_key(identifier) {
            if self.identifiers.len() >= MAX_TRACKED_IDENTIFIERS {
                self.untracked_identifiers += 1;
                return None;
            }
            self.identifiers.insert(identifier.clone(), IdentifierLine::default());
        }
        self.identifiers.get_mut(identifier)
    }

    /// Every province-wide block decided and still remembered: what a city the province
    /// admits later is told.
    pub fn province_blocks(&self) -> impl Iterator<Item = ProvinceBlockNotice> + '_ {
        self.identifiers.iter().filter(|(_, line)| line.decided).map(|(identifier, line)| decision(identifier, line))
    }

    /// Whether the province decided to block `identifier` everywhere.
    pub fn province_blocked(&self, identifier: &Identifier) -> bool {
        self.identifiers.get(identifier).is_some_and(|line| line.decided)
    }

    /// Forgets accounts not stopped, and identifiers not blocked, since `before_ms`.
    pub fn forget_before(&mut self, accounts_before_ms: TimeMs, identifiers_before_ms: TimeMs) {
        self.accounts.retain(|_, line| line.last_at_ms >= accounts_before_ms);
        self.identifiers.retain(|_, line| line.last_at_ms >= identifiers_before_ms);
    }

    /// Accounts and identifiers remembered.
    pub fn sizes(&self) -> (usize, usize) {
        (self.accounts.len(), self.identifiers.len())
    }
}

/// The province's block of `identifier`: the cities that blocked it, earliest first (ties by
/// city), with the first one's case and fraud.
fn decision(identifier: &Identifier, line: &IdentifierLine) -> ProvinceBlockNotice {
    let mut cities: Vec<(&CityBlock, &City)> = line.cities.iter().map(|(city, block)| (block, city)).collect();
    cities.sort_by(|a, b| (a.0.at_ms, a.1).cmp(&(b.0.at_ms, b.1)));
    let earliest = cities[0].0.clone();
    ProvinceBlockNotice {
        identifier: identifier.clone(),
        cities: cities.into_iter().map(|(_, city)| city.clone()).collect(),
        case_id: earliest.case_id,
        fraud_type: earliest.fraud_type,
        first_reported_at_ms: earliest.at_ms,
        decided_at_ms: line.decided_at_ms,
    }
}

/// An account's claims, earliest stop first (ties by city).
fn claims(line: &AccountLine) -> Vec<CrossCityClaim> {
    let mut claims: Vec<CrossCityClaim> = line
        .claims
        .iter()
        .map(|(city, (case, at))| CrossCityClaim { city: city.clone(), case_id: case.clone(), first_stop_at_ms: *at })
        .collect();
    claims.sort_by(|a, b| (a.first_stop_at_ms, &a.city).cmp(&(b.first_stop_at_ms, &b.city)));
    claims
}
