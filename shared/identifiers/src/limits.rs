//! Bounds of normalisation, in one place, each with its reason.

/// Longest identifier value read, in bytes, before any parsing: intake lets a contact hold
/// 512 characters (up to 4 bytes each); a lookup from a carrier or staff is held to the same.
/// Anything longer is refused unread, so a hostile value costs nothing to refuse.
pub const MAX_VALUE_BYTES: usize = 2048;

/// Characters of a refused value echoed in a problem or an event: enough to recognise it,
/// never a megabyte in a log or on the wire.
pub const MAX_ECHO_CHARS: usize = 80;

/// Longest host name, in bytes of its ASCII form (RFC 1035: 253 without the trailing dot).
pub const MAX_HOST_BYTES: usize = 253;

/// Longest label of a host name, in bytes of its ASCII form (RFC 1035).
pub const MAX_LABEL_BYTES: usize = 63;

/// Longest app package id: Android's application ids have no formal bound, but app stores
/// refuse ids over 150 characters; a longer one is not an app anyone installed.
pub const MAX_APP_ID_BYTES: usize = 150;

/// Most dot-separated segments of an app package id: real ids have 2-6.
pub const MAX_APP_SEGMENTS: usize = 16;

/// Identifiers read from one case: four kinds of at most `domain::report::MAX_CONTACTS_PER_KIND`
/// (32) each. Past it the rest are refused (`too_many`), one problem each, and not blocked.
pub const MAX_IDENTIFIERS_PER_CASE: usize = 4 * domain::report::MAX_CONTACTS_PER_KIND;
