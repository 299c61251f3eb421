//! Bounds of the blocking service, in one place, each with its reason.

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Bounds of normalisation (`identifiers::limits`, with their reasons there): the longest value
/// read, the characters of a refused value echoed, host and label lengths, app package ids,
/// and the identifiers read from one case (`MAX_IDENTIFIERS_PER_CASE`, 128: four kinds of 32).
pub use identifiers::limits::{
    MAX_APP_ID_BYTES, MAX_APP_SEGMENTS, MAX_ECHO_CHARS, MAX_HOST_BYTES, MAX_IDENTIFIERS_PER_CASE, MAX_LABEL_BYTES,
    MAX_VALUE_BYTES,
};

/// Case ids listed on one block; further cases are counted (`case_count`) but not listed.
/// A number named in hundreds of cases is blocked already; the list is for the liaison to open
/// the first cases, and must not grow a block without bound.
pub const MAX_CASES_LISTED: usize = 64;

/// Cities a province block notice may name (`events::province::ProvinceBlockNotice`): a
/// province has a dozen or two prefecture-level cities (Zhejiang 11, Guangdong 21, Sichuan
/// 21); more is a malformed notice, refused rather than stored on every block it makes.
pub const MAX_NOTICE_CITIES: usize = 32;

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

/// Identifiers the blocked-identifier index holds at most (`index::Index`): a province's
/// decade of blocks (Wuhan alone blocks ~300,000 numbers and domains a day, tens of millions a
/// year) with room to spare, in a table of 2^30 32-byte slots (32 GiB), the largest a saved
/// index file may name. Past it a block is refused by the index (`IndexFull`), never silently
/// unindexed.
pub const MAX_INDEXED_IDENTIFIERS: usize = 1 << 29;

/// Latest time the index holds to the millisecond (a block's start and expiry, ms since 1970):
/// 2^48 - 1, in the year 10889, so that a time takes 48 bits of a slot. A later time (only an
/// expiry set absurdly far could be) is held as this one: the block still reads as lasting
/// for millennia, the same answer.
pub const INDEX_MAX_TIME_MS: u64 = (1 << 48) - 1;

/// Bytes of a saved index file encoded or decoded at a time (`Index::save`, `Index::load`):
/// large enough that one write or read call moves them at the disk's speed, small enough to
/// stay a few megabytes beside the half-gigabyte table, and a whole number of slots.
pub const INDEX_FILE_CHUNK_BYTES: usize = 4 << 20;

/// Events after an index file's that a start follows to catch the file up with the store; past
/// it the index is built from the rows instead (at ~1 µs an event against ~2 µs a block, the
/// cheaper way for a store of a million blocks or more). The engine saves the file every
/// [`INDEX_SAVE_EVERY_EVENTS`], so only a file older than that, or none, is rebuilt.
pub const INDEX_CATCH_UP_MAX_EVENTS: u64 = 2_000_000;

/// Events between two saves of the index file by the engine (and one at each clean stop). A
/// save copies the index (512 MiB at ten million identifiers, ~0.2 s during which the engine
/// waits) and writes the copy beside the store in the background (~1 s).
pub const INDEX_SAVE_EVERY_EVENTS: u64 = 1_000_000;

/// Slots of the smallest index table: a few cache lines, so an empty index costs nothing and
/// the first thousand blocks do not double it ten times.
pub const INDEX_MIN_SLOTS: usize = 1024;

/// Identifiers an index lookup of many (`Index::get_many`) reads the table for at once: enough
/// cache misses in flight to keep one core's memory pipeline full (it holds 10-20), few enough
/// that the batch's slots stay in the L1 cache until they are probed.
pub const LOOKUP_BATCH: usize = 16;

/// Inputs waiting for the engine (consumed events, order answers, staff's lifts): as
/// freezing's, a burst of reports' worth; a full queue holds the consumers back.
pub const ENGINE_QUEUE_DEPTH: usize = 4096;

/// Urgent inputs (reports, carriers' answers, staff) the engine takes in a row while routine
/// ones (freezing's stops, banks' answers) wait: one routine input after each such streak, so
/// a burst of reports delays the pool by a bounded share and never starves it.
pub const URGENT_STREAK: usize = 32;

/// Carrier and bank orders in flight at once: a case names at most 128 identifiers, each
/// ordered from up to three carriers; a burst of cases waits for a permit rather than opening
/// thousands of requests on the carriers' gateways at once.
pub const MAX_ORDERS_IN_FLIGHT: usize = 1024;

/// Longest the engine sleeps before looking at its next deadline again (the clock may be
/// scaled in drills, and a drill clock may jump).
pub const TIMER_MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// Blocks one `list` answer holds at most (defined with the wire type, `protocol::blocking`):
/// a page a liaison reads, ~150 KB of JSON at most, far under nats-server's 1 MiB payload
/// bound; more come page by page after its cursor.
pub use protocol::blocking::MAX_LIST_PAGE;
