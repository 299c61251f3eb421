//! What `search` finds a case by: the lookup keys of a report (the accounts it paid into, the
//! scammer's phone numbers and sites it names) and of freezing's events (the accounts of the
//! trail), and how a query staff typed becomes the same keys.
//!
//! A key is `<kind>:<value>`: `account:<digits>` (the account's number alone, so a number
//! typed without its bank finds it at any bank; the bank is in the matched value),
//! `phone:+8617000000000`, `domain:invest-example.top` or `ip:203.0.113.7` (the identifiers
//! blocking blocks, normalised by the same `identifiers` crate). The victim's own data (name,
//! phone, ID number, paying accounts) is never a key: nobody finds a case by it.

use domain::report::{Destination, Report};
use domain::{AccountRef, CaseId, City};
use identifiers::{ContactKind, Identifier, normalize};
use protocol::intake::{IntakeError, IntakeErrorKind, MAX_QUERY_BYTES, Problem, SearchKind, TimelineEntry};
use unicode_normalization::UnicodeNormalization;

use crate::limits::MAX_ECHO_CHARS;

/// One lookup key of a case and the case's value it stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexKey {
    /// `<kind>:<value>` (see the module documentation).
    pub key: String,
    /// What a match shows: the whole account (`icbc:6222…`), or the identifier.
    pub matched: String,
}

/// The key of a bank account: its number, whatever its bank.
pub fn account_key(account: &AccountRef) -> IndexKey {
    IndexKey { key: format!("account:{}", account.number()), matched: account.to_string() }
}

fn identifier_key(identifier: &Identifier) -> IndexKey {
    IndexKey { key: identifier.to_string(), matched: identifier.to_string() }
}

/// The keys of a report: the accounts its transfers paid into, and the phone numbers and
/// sites (URLs, by their registrable domain) it names that normalise; once each. A contact
/// that does not normalise is no key (blocking records it as rejected).
pub fn report_keys(report: &Report) -> Vec<IndexKey> {
    let accounts = report.transfers.iter().filter_map(|t| match &t.to {
        Destination::Account(account) => Some(account_key(account)),
        Destination::Order(_) => None,
    });
    let phones = report.contacts.phones.iter().filter_map(|p| normalize(ContactKind::Phone, p).ok());
    let sites = report.contacts.urls.iter().filter_map(|u| normalize(ContactKind::Url, u).ok());
    let mut keys: Vec<IndexKey> = accounts.chain(phones.chain(sites).map(|id| identifier_key(&id))).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The keys of the accounts timeline entries name (the entries one freezing event added):
/// the accounts of a case's trail.
pub fn trail_keys(entries: &[TimelineEntry]) -> Vec<IndexKey> {
    let mut keys: Vec<IndexKey> = entries.iter().filter_map(|e| e.account.as_ref()).map(account_key).collect();
    keys.sort();
    keys.dedup();
    keys
}

/// A query read as one kind: the key to look up, and for an account given with its bank,
/// the whole account a match must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub kind: SearchKind,
    /// The key of the index; for [`SearchKind::Case`], the case id.
    pub key: String,
    /// The account a match must be, when the query named its bank.
    pub exactly: Option<String>,
}

impl Lookup {
    /// How the query was read, for `read_as`.
    pub fn shown(&self) -> String {
        match (&self.kind, &self.exactly) {
            (SearchKind::Case, _) => format!("case:{}", self.key),
            (_, Some(account)) => format!("account:{account}"),
            _ => self.key.clone(),
        }
    }

    /// Whether a row of the index under [`Lookup::key`] that stands for `matched` matches.
    pub fn accepts(&self, matched: &str) -> bool {
        self.exactly.as_deref().is_none_or(|exactly| exactly == matched)
    }
}

const ANY_EXPECTED: &str = "a case id (<city>-<16 hex digits>), a bank account (<bank>:<digits> or its 6-32 digits), \
     a phone number, or a domain or URL";

fn echo(value: &str) -> String {
    let mut chars = value.chars();
    let mut echoed: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
    if chars.next().is_some() {
        echoed.push('…');
    }
    echoed
}

fn invalid(value: &str, expected: String) -> IntakeError {
    IntakeError {
        kind: IntakeErrorKind::InvalidQuery,
        message: format!("the query {:?} is not something cases can be searched by", echo(value)),
        problems: vec![Problem { field: "query".into(), value: echo(value), expected }],
    }
}

/// An account as staff type it: full-width digits and letters read as ASCII, spaces and `-`
/// between the digits dropped, the bank in lower case; `<bank>:<digits>` or the digits alone.
fn account(query: &str) -> Result<Lookup, String> {
    let expected = || format!("an account: {}, or its 6-32 digits alone", AccountRef::EXPECTED);
    let text: String = query.nfkc().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_lowercase();
    let (bank, number) = match text.split_once(':') {
        Some((bank, number)) => (Some(bank), number),
        None => (None, text.as_str()),
    };
    let exactly = match bank {
        Some(bank) => Some(AccountRef::parse(&format!("{bank}:{number}")).map_err(|_| expected())?),
        None if (6..=32).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit()) => None,
        None => return Err(expected()),
    };
    let key = format!("account:{number}");
    Ok(Lookup { kind: SearchKind::Account, key, exactly: exactly.map(|a| a.to_string()) })
}

fn case(city: &City, query: &str) -> Result<Lookup, String> {
    let expected = || format!("a case id of {city}: {city}-<16 lower-case hex digits>");
    let case_id = CaseId::parse(query.trim()).map_err(|_| expected())?;
    if case_id.city() != *city {
        return Err(format!("a case id of {city} (this is a case of {}; ask its center)", case_id.city()));
    }
    Ok(Lookup { kind: SearchKind::Case, key: case_id.to_string(), exactly: None })
}

fn site(query: &str) -> Result<Lookup, String> {
    let identifier = normalize(ContactKind::Domain, query)
        .or_else(|_| normalize(ContactKind::Url, query))
        .map_err(|e| format!("a domain or URL: {}", e.expected()))?;
    Ok(Lookup { kind: SearchKind::Domain, key: identifier.to_string(), exactly: None })
}

fn phone(query: &str) -> Result<Lookup, String> {
    let identifier = normalize(ContactKind::Phone, query).map_err(|e| format!("a phone number: {}", e.expected()))?;
    Ok(Lookup { kind: SearchKind::Phone, key: identifier.to_string(), exactly: None })
}

fn read_as(city: &City, kind: SearchKind, query: &str) -> Result<Lookup, String> {
    match kind {
        SearchKind::Case => case(city, query),
        SearchKind::Account => account(query),
        SearchKind::Phone => phone(query),
        SearchKind::Domain => site(query),
    }
}

/// A query of city `city`'s staff as the lookups to make: as `kind`, or, without one, as
/// every kind it reads as (a case id of another city is refused whatever else it might be).
/// A query that reads as none is an `invalid_query` naming the field, the value and what
/// is accepted. Nothing in the query is ever interpreted but by these parsers.
pub fn lookups(city: &City, query: &str, kind: Option<SearchKind>) -> Result<Vec<Lookup>, IntakeError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(invalid(query, format!("at most {MAX_QUERY_BYTES} bytes")));
    }
    if let Some(kind) = kind {
        return read_as(city, kind, query).map(|lookup| vec![lookup]).map_err(|expected| invalid(query, expected));
    }
    // A case id is nothing else; one of another city says so rather than "not found".
    if CaseId::parse(query.trim()).is_ok() {
        return case(city, query).map(|lookup| vec![lookup]).map_err(|expected| invalid(query, expected));
    }
    // Read as a site only with a dot, a slash or a colon in it: the URL parser reads a bare
    // number as an IPv4 address (`12345` is 0.0.48.57), which nobody typing it means.
    let site_like = query.contains(['.', '/', ':', '。', '．']);
    let found: Vec<Lookup> = [SearchKind::Account, SearchKind::Phone, SearchKind::Domain]
        .into_iter()
        .filter(|kind| *kind != SearchKind::Domain || site_like)
        .filter_map(|kind| read_as(city, kind, query).ok())
        .collect();
    if found.is_empty() {
        return Err(invalid(query, ANY_EXPECTED.to_owned()));
    }
    Ok(found)
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
