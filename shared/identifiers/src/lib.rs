//! Scammers' identifiers as a victim gives them, made into one canonical [`Identifier`] each,
//! with well-kept libraries and no hand-written parser: phone numbers by libphonenumber's
//! metadata ([`phone`]), URLs by the WHATWG URL parser with IDNA (UTS #46) and the Public
//! Suffix List ([`host`]), app package ids and social accounts by their documented shapes
//! ([`app`], [`social`]). Two spellings of one thing give one identifier; normalising an
//! identifier's value again gives it back (both property-tested).
//!
//! What cannot be normalised is a [`NormalizeError`] naming the kind, the value (at most
//! [`MAX_ECHO_CHARS`] characters of it) and what is accepted: it is recorded with the case,
//! never dropped. The rules, and why, are in docs/blocking.md.
//!
//! A crate of its own because the identifiers are in blocking's events (`shared/events`) and
//! in its lookups, and normalising is done in one place only: the blocking service and its
//! events read them through the same parser.

mod app;
mod host;
mod phone;
mod social;

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

pub mod limits;

use crate::limits::{MAX_ECHO_CHARS, MAX_VALUE_BYTES};

pub use host::looks_like;
pub use social::Platform;

/// What kind of contact a value was given as: the fields of a report's `contacts` and the
/// `kind` of a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    Phone,
    /// A URL as a victim copies it; its registrable domain (or IP address) is blocked.
    Url,
    /// A bare host name or IP address.
    Domain,
    App,
    Social,
}

impl ContactKind {
    pub const ALL: [ContactKind; 5] =
        [ContactKind::Phone, ContactKind::Url, ContactKind::Domain, ContactKind::App, ContactKind::Social];

    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Phone => "phone",
            ContactKind::Url => "url",
            ContactKind::Domain => "domain",
            ContactKind::App => "app",
            ContactKind::Social => "social",
        }
    }

    pub fn parse(s: &str) -> Option<ContactKind> {
        ContactKind::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    /// What a value of this kind must look like.
    pub fn expected(self) -> &'static str {
        match self {
            ContactKind::Phone => phone::EXPECTED,
            ContactKind::Url => host::URL_EXPECTED,
            ContactKind::Domain => host::HOST_EXPECTED,
            ContactKind::App => app::EXPECTED,
            ContactKind::Social => social::EXPECTED,
        }
    }
}

impl fmt::Display for ContactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is blocked: the kind of an [`Identifier`] (in `domain`, which the carriers' wire
/// shares).
pub use domain::IdentifierKind;

/// The contact kind whose normaliser reads a value of `kind` back.
fn read_as(kind: IdentifierKind) -> ContactKind {
    match kind {
        IdentifierKind::Phone => ContactKind::Phone,
        IdentifierKind::Domain | IdentifierKind::Ip => ContactKind::Domain,
        IdentifierKind::App => ContactKind::App,
        IdentifierKind::Social => ContactKind::Social,
    }
}

/// A normalised identifier: its kind and canonical value. Built only by [`normalize`] (or by
/// parsing its text form `<kind>:<value>`, which normalises the value again and accepts it
/// only if it is canonical), so two spellings of one number are one `Identifier`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Identifier {
    kind: IdentifierKind,
    value: String,
}

impl Identifier {
    pub fn kind(&self) -> IdentifierKind {
        self.kind
    }

    /// The canonical value: what carriers are asked to block and lookups compare.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Reads the text form `<kind>:<value>`; the value must be canonical already.
    pub fn parse(s: &str) -> Result<Identifier, NormalizeError> {
        let refused = |reason| NormalizeError::new(ContactKind::Domain, s, reason);
        let (kind, value) = s.split_once(':').ok_or_else(|| refused(Reason::NotCanonical))?;
        let kind = IdentifierKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| refused(Reason::NotCanonical))?;
        let identifier = normalize(read_as(kind), value)?;
        if identifier.kind != kind || identifier.value != value {
            return Err(NormalizeError::new(read_as(kind), s, Reason::NotCanonical));
        }
        Ok(identifier)
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

impl FromStr for Identifier {
    type Err = NormalizeError;
    fn from_str(s: &str) -> Result<Self, NormalizeError> {
        Identifier::parse(s)
    }
}

impl TryFrom<String> for Identifier {
    type Error = NormalizeError;
    fn try_from(s: String) -> Result<Self, NormalizeError> {
        if STORED.with(Cell::get)
            && let Some(identifier) = Identifier::stored(s.as_str())
        {
            return Ok(identifier);
        }
        Identifier::parse(&s)
    }
}

thread_local! {
    /// Set while [`read_stored`] runs on this thread.
    static STORED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `read` (a decoding of bytes a service wrote to its own store: its log, its snapshot)
/// with the identifiers in it taken as stored: `<kind>:<value>` of a known kind and a value
/// of at most [`MAX_VALUE_BYTES`] is not normalised again. Checking a phone number against
/// libphonenumber's metadata takes ~9 µs; a start reading ten million of them would spend
/// 90 s re-checking what the same store holds already checked. Everything else — the wire, a
/// consumed event, a command — decodes through the normaliser.
pub fn read_stored<R>(read: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            STORED.with(|stored| stored.set(self.0));
        }
    }
    let _restore = Restore(STORED.with(|stored| stored.replace(true)));
    read()
}

impl Identifier {
    /// A stored identifier's text form, taken as canonical (see [`read_stored`]).
    fn stored(s: &str) -> Option<Identifier> {
        let (kind, value) = s.split_once(':')?;
        let kind = IdentifierKind::parse(kind)?;
        let plausible = !value.is_empty() && value.len() <= MAX_VALUE_BYTES && !value.chars().any(char::is_control);
        plausible.then(|| Identifier { kind, value: value.to_owned() })
    }
}

impl From<Identifier> for String {
    fn from(identifier: Identifier) -> String {
        identifier.to_string()
    }
}

/// Why a value could not be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Empty,
    /// Longer than [`MAX_VALUE_BYTES`]: refused unread.
    TooLong,
    /// Past [`crate::limits::MAX_IDENTIFIERS_PER_CASE`] in one case.
    TooMany,
    /// No phone number in it at all.
    NotANumber,
    TooShort,
    TooLongNumber,
    /// A country calling code no country has.
    UnknownCountryCode,
    /// The right shape, but no number of its region looks like it (a short service code, a
    /// range never issued).
    InvalidNumber,
    /// A scheme other than http or https (`javascript:`, `data:`, `ftp:`…).
    UnsupportedScheme,
    NoHost,
    /// The host is over 253 bytes, or a label over 63.
    HostTooLong,
    /// A label with characters a host name cannot hold, or starting or ending with `-`.
    BadLabel,
    /// Not a valid internationalised domain name (IDNA / UTS #46 refused it).
    InvalidIdn,
    /// The host is a public suffix itself (`com.cn`, `github.io`), or a single label
    /// (`intranet`): blocking it would cut every site under it, or it names no public site.
    PublicSuffix,
    /// A loopback, private, link-local or otherwise non-public address: no scam site a victim
    /// reached is there, and a carrier cannot block it.
    NonPublicAddress,
    BadPackageId,
    UnknownPlatform,
    BadAccountId,
    /// An identifier's text form whose value is not canonical.
    NotCanonical,
    /// On the center's never-block list (a platform millions use, such as `qq.com`): a scam
    /// page hosted there is taken down through the platform, not by blocking the platform.
    Protected,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Empty => "empty",
            Reason::TooLong => "too_long",
            Reason::TooMany => "too_many",
            Reason::NotANumber => "not_a_number",
            Reason::TooShort => "too_short",
            Reason::TooLongNumber => "too_long_number",
            Reason::UnknownCountryCode => "unknown_country_code",
            Reason::InvalidNumber => "invalid_number",
            Reason::UnsupportedScheme => "unsupported_scheme",
            Reason::NoHost => "no_host",
            Reason::HostTooLong => "host_too_long",
            Reason::BadLabel => "bad_label",
            Reason::InvalidIdn => "invalid_idn",
            Reason::PublicSuffix => "public_suffix",
            Reason::NonPublicAddress => "non_public_address",
            Reason::BadPackageId => "bad_package_id",
            Reason::UnknownPlatform => "unknown_platform",
            Reason::BadAccountId => "bad_account_id",
            Reason::NotCanonical => "not_canonical",
            Reason::Protected => "protected",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that is not an identifier of its kind: the kind, the value (truncated to
/// [`MAX_ECHO_CHARS`] characters), why, and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}: {reason}; expected {}", self.expected())]
pub struct NormalizeError {
    pub kind: ContactKind,
    pub value: String,
    pub reason: Reason,
}

impl NormalizeError {
    pub fn new(kind: ContactKind, value: &str, reason: Reason) -> NormalizeError {
        NormalizeError { kind, value: echo(value), reason }
    }

    /// What would be accepted.
    pub fn expected(&self) -> String {
        match self.reason {
            Reason::TooLong => format!("at most {MAX_VALUE_BYTES} bytes"),
            Reason::TooMany => {
                format!("at most {} identifiers in one case", crate::limits::MAX_IDENTIFIERS_PER_CASE)
            }
            Reason::UnknownPlatform => format!("a platform among {}", social::PLATFORM_LIST),
            Reason::PublicSuffix => "a host under a public suffix, not a suffix or a single label".to_owned(),
            Reason::NonPublicAddress => "a public IP address".to_owned(),
            Reason::Protected => "an identifier not on the never-block list".to_owned(),
            _ => self.kind.expected().to_owned(),
        }
    }
}

/// The first [`MAX_ECHO_CHARS`] characters of `value`, with `…` when cut.
pub fn echo(value: &str) -> String {
    let mut chars = value.chars();
    let mut echoed: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
    if chars.next().is_some() {
        echoed.push('…');
    }
    echoed
}

/// Normalises `raw`, given as a contact of `kind`, into its identifier.
///
/// Every kind is first brought to NFKC and trimmed, so full-width digits and letters typed on
/// a Chinese keyboard (`１３８…`, `ｗｗｗ．…`) read as their ASCII forms.
pub fn normalize(kind: ContactKind, raw: &str) -> Result<Identifier, NormalizeError> {
    if raw.len() > MAX_VALUE_BYTES {
        return Err(NormalizeError::new(kind, raw, Reason::TooLong));
    }
    // ASCII is its own NFKC form: no ASCII character decomposes and no two compose.
    let text: std::borrow::Cow<'_, str> =
        if raw.is_ascii() { raw.into() } else { raw.nfkc().collect::<String>().into() };
    let text = text.trim();
    if text.is_empty() {
        return Err(NormalizeError::new(kind, raw, Reason::Empty));
    }
    let refused = |reason| NormalizeError::new(kind, raw, reason);
    let (kind, value) = match kind {
        ContactKind::Phone => (IdentifierKind::Phone, phone::normalize(text).map_err(refused)?),
        ContactKind::Url => host::url(text).map_err(refused)?,
        ContactKind::Domain => host::host(text).map_err(refused)?,
        ContactKind::App => (IdentifierKind::App, app::normalize(text).map_err(refused)?),
        ContactKind::Social => (IdentifierKind::Social, social::normalize(text).map_err(refused)?),
    };
    Ok(Identifier { kind, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_identifier_is_read_as_stored_only_inside_read_stored() {
        let stored = "\"phone:+8617000000000\"";
        let not_canonical = "\"phone:17000000000\"";
        let decode = |json: &str| serde_json::from_str::<Identifier>(json);
        assert!(decode(not_canonical).is_err(), "outside, the normaliser decides");
        read_stored(|| {
            assert_eq!(decode(stored).unwrap().to_string(), "phone:+8617000000000");
            assert!(decode(not_canonical).is_ok(), "inside, a stored form is taken as it is");
            assert!(decode("\"fax:1\"").is_err(), "an unknown kind is never an identifier");
        });
        assert!(decode(not_canonical).is_err(), "the scope ends with read_stored");
    }
}
