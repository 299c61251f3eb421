//! What crosses city lines: accounts stopped for cases of two or more cities
//! ([`CrossCity`]), and identifiers blocked in two or more cities ([`ProvinceBlock`]).
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

use std::collections::BTreeMap;

use domain::{AccountRef, CaseId, City, TimeMs};
use identifiers::Identifier;
use serde::Serialize;

use crate::limits::{MAX_TRACKED_ACCOUNTS, MAX_TRACKED_IDENTIFIERS};

/// A city's claim on an account: its first case stopped there, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Claim {
    pub city: City,
    pub case: CaseId,
    pub first_stop_at_ms: TimeMs,
}

/// Cases of two or more cities reached the same account: every claim, earliest stop first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CrossCity {
    pub account: AccountRef,
    pub claims: Vec<Claim>,
}

/// An identifier blocked in two or more cities is to be blocked in every city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ProvinceBlock {
    pub identifier: Identifier,
    /// The cities that blocked it, earliest first.
    pub cities: Vec<City>,
    /// When the first of them blocked it.
    pub first_reported_at_ms: TimeMs,
}

/// One account's claims by city.
#[derive(Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
struct AccountLine {
    claims: BTreeMap<City, (CaseId, TimeMs)>,
    /// The latest stop seen on it: the account is forgotten a year after.
    last_at_ms: TimeMs,
}

/// One identifier's blocks by city.
#[derive(Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
struct IdentifierLine {
    cities: BTreeMap<City, TimeMs>,
    decided: bool,
    last_at_ms: TimeMs,
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
    /// `city`'s case `case` stopped `account` at `at_ms`: the notice, if the account's set of
    /// claiming cities grew to two or more.
    pub fn stopped(&mut self, account: &AccountRef, city: &City, case: &CaseId, at_ms: TimeMs) -> Option<CrossCity> {
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
        (new_city && line.claims.len() >= 2).then(|| CrossCity { account: account.clone(), claims: claims(line) })
    }

    /// The claims on `account` now, earliest first; empty when it is not remembered.
    pub fn claims_on(&self, account: &AccountRef) -> Vec<Claim> {
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

    /// `city` blocked `identifier` at `at_ms`: the decision, if this is the second city.
    pub fn blocked(&mut self, identifier: &Identifier, city: &City, at_ms: TimeMs) -> Option<ProvinceBlock> {
        if !self.identifiers.contains_key(identifier) {
            if self.identifiers.len() >= MAX_TRACKED_IDENTIFIERS {
                self.untracked_identifiers += 1;
                return None;
            }
            self.identifiers.insert(identifier.clone(), IdentifierLine::default());
        }
        let line = self.identifiers.get_mut(identifier).expect("inserted above");
        line.last_at_ms = line.last_at_ms.max(at_ms);
        let first = line.cities.entry(city.clone()).or_insert(at_ms);
        *first = (*first).min(at_ms);
        if line.decided || line.cities.len() < 2 {
            return None;
        }
        line.decided = true;
        let mut cities: Vec<(TimeMs, City)> = line.cities.iter().map(|(city, &at)| (at, city.clone())).collect();
        cities.sort();
        Some(ProvinceBlock {
            identifier: identifier.clone(),
            first_reported_at_ms: cities[0].0,
            cities: cities.into_iter().map(|(_, city)| city).collect(),
        })
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

/// An account's claims, earliest stop first (ties by city).
fn claims(line: &AccountLine) -> Vec<Claim> {
    let mut claims: Vec<Claim> = line
        .claims
        .iter()
        .map(|(city, (case, at))| Claim { city: city.clone(), case: case.clone(), first_stop_at_ms: *at })
        .collect();
    claims.sort_by(|a, b| (a.first_stop_at_ms, &a.city).cmp(&(b.first_stop_at_ms, &b.city)));
    claims
}
