//! Bounds of the blocking service, in one place, each with its reason.

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

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

/// Case ids listed on one block; further cases are counted (`case_count`) but not listed.
/// A number named in hundreds of cases is blocked already; the list is for the liaison to open
/// the first cases, and must not grow a block without bound.
pub const MAX_CASES_LISTED: usize = 64;

/// Phone cards of one holder restricted at once: a card seller with more is a wholesale
/// trader (Kaifeng seized 21,273 cards from 1,293 traders, ~16 each); past it the rest are
/// refused with a problem each, for the liaison to handle by hand.
pub const MAX_CARDS_PER_HOLDER: usize = 64;

/// Default life of a phone number's block: 180 days, renewed by each new report (issue 14).
pub const DEFAULT_PHONE_BLOCK_MS: u64 = 180 * DAY_MS;

/// Default life of a domain's block: 365 days, renewed by each new report (issue 14).
pub const DEFAULT_DOMAIN_BLOCK_MS: u64 = 365 * DAY_MS;

/// Default life of an IP address's block: 90 days. Hosting providers hand an address to a new
/// tenant within weeks of the last one leaving; a year-long block would cut innocent sites.
pub const DEFAULT_IP_BLOCK_MS: u64 = 90 * DAY_MS;

/// Default life of an app's or social account's listing: 365 days, as domains.
pub const DEFAULT_LISTING_MS: u64 = 365 * DAY_MS;

/// Years in the high-risk pool without new involvement before release (Shenzhen's rule).
pub const POOL_YEARS: i64 = 5;

/// Distinct cases naming a holder before their phone cards are restricted to local voice only
/// (Shenzhen: "a person whose sold phone card appears in two or more cases").
pub const CARD_SELLER_CASES: usize = 2;

/// Pause before the n-th new attempt at a carrier or bank order that was not confirmed (the
/// last repeats): soon for a passing fault, then every 30 minutes.
pub const ORDER_RETRY_BACKOFF_MS: [u64; 5] = [5_000, 30_000, 120_000, 600_000, 1_800_000];

/// Attempts of one order at most: with [`ORDER_RETRY_BACKOFF_MS`] about 8 hours of a carrier not
/// answering; then the order is recorded as failed, for the liaison to take up by phone.
pub const MAX_ORDER_ATTEMPTS: u32 = 20;

/// Deadlines handled per timer firing: the rest are due at once again, so a backlog of expiries
/// (a day's blocks all expiring at one restart) is worked through in bounded steps.
pub const TIMER_BATCH: usize = 1024;

/// Longest reason or operator id a lift or appeal may carry, in characters.
pub const MAX_STAFF_TEXT_CHARS: usize = 512;
