//! Bounds of the province coordinator, in one place, each with its reason and what happens
//! past it.

/// A minute in milliseconds.
pub const MINUTE_MS: u64 = 60 * 1000;
/// An hour in milliseconds.
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
/// A day in milliseconds.
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// Beijing time (Asia/Shanghai) is UTC+8 all year: China has kept no daylight saving time
/// since 1991, so a day, an ISO week and a month are fixed offsets from UTC.
pub const BEIJING_OFFSET_MS: u64 = 8 * HOUR_MS;

/// Cities the province is configured with. A province has about a dozen prefecture-level
/// cities (Zhejiang 11, Guangdong 21); 64 leaves room for drills and keeps a report's rows
/// (and the median over them) trivially small. A longer list is refused when the state is
/// made ([`crate::core::ConfigError::TooManyCities`]).
pub const MAX_CITIES: usize = 64;

/// Seqs per producer whose content hash is kept, to tell a duplicate (same content) from a
/// conflict (different content under an id already seen). A ring of `(seq, hash)` pairs, 16
/// bytes each: 256 KiB per producer, ~14 MiB for 11 cities × 5 services. JetStream redelivers
/// (and a source re-sends after a heal) from the last acknowledged position, which is the
/// recent tail; 16,384 is more than a minute of one producer at 200 events/s. Past it
/// (a seq seen, more than this far below the producer's highest), the content cannot be
/// compared: the envelope is answered [`crate::core::Absorbed::Unverified`] (counted, nothing
/// changed), never merged and never called a conflict.
pub const HASH_WINDOW: u64 = 16_384;

/// Missing ranges tracked per producer. A partition loses a contiguous run (one range); a
/// source re-sending out of order makes a handful. Past 1,024 the producer's stream is broken
/// in a way a `resend` per range would not mend: the envelope that would open one more range
/// is refused ([`crate::core::Refusal::TooManyGaps`]); its seq stays missing and is asked
/// for again inside a range once the ranges below it are filled.
pub const MAX_GAP_RANGES: usize = 1_024;

/// Furthest a seq may land beyond a producer's highest seen. A producer does not outrun the
/// province by ten million events (at 1,000 events/s, close to three hours of partition);
/// a seq further ahead is a broken producer or a forged id, and a gap of that size is not
/// something to ask a `resend` for. Refused ([`crate::core::Refusal::TooFarAhead`]).
pub const MAX_SEQ_AHEAD: u64 = 10_000_000;

/// Accounts whose claims by city are remembered for cross-city notices: an account line is
/// ~200 bytes (the account, and a city, a case and a time per claiming city), so 500,000 is
/// ~100 MB. A province stops tens of thousands of accounts a month; the shell forgets
/// accounts not stopped for a year ([`ACCOUNT_MEMORY_MS`], through
/// [`crate::core::forget_before`]). Past it, a new account is not remembered (counted in
/// `untracked_accounts`, which the shell reports): its figures still count.
pub const MAX_TRACKED_ACCOUNTS: usize = 500_000;

/// Identifiers whose blocking cities are remembered for province-wide blocks: ~150 bytes a
/// line, 500,000 is ~75 MB. Past it, a new identifier is not remembered (counted in
/// `untracked_identifiers`); its block still counts in the figures.
pub const MAX_TRACKED_IDENTIFIERS: usize = 500_000;

/// How long an account's claims are worth remembering: a stop-payment lasts days, a freeze
/// six months and may be renewed once; a year covers a freeze and its renewal.
pub const ACCOUNT_MEMORY_MS: u64 = 365 * DAY_MS;

/// How long an identifier's blocking cities are worth remembering: blocks last months and are
/// extended by new reports; a year covers a scam number's working life.
pub const IDENTIFIER_MEMORY_MS: u64 = 365 * DAY_MS;

/// Highest time-to-freeze the histograms record, in seconds: 30 days. A trace that took
/// longer is recorded as 30 days (saturated, not dropped), so the count of samples stays the
/// number of traces completed.
pub const MAX_TIME_TO_FREEZE_S: u64 = 30 * 24 * 60 * 60;

/// Significant digits of the time-to-freeze histograms: 2 gives p50/p90 within 1 %, at
/// about 9 KiB per city and period with a sample (in seconds, up to
/// [`MAX_TIME_TO_FREEZE_S`]); a year's days, weeks and months of 11 cities stay under 45 MB.
pub const TIME_TO_FREEZE_SIGFIG: u8 = 2;

/// The shell writes a snapshot of the state after this many absorbed messages…
pub const SNAPSHOT_EVERY_MESSAGES: u64 = 100_000;

/// …or this long after the last one, if anything was absorbed since: a restart re-reads at
/// most this much of the province stream.
pub const SNAPSHOT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Commands answered at once.
pub const COMMANDS_IN_FLIGHT: usize = 16;

/// The latest notices `status` shows (older ones are in the log lines).
pub const NOTICES_KEPT: usize = 256;

/// Longest request body read.
pub const MAX_REQUEST_BYTES: usize = 4 * 1024;

/// How often the shell forgets accounts and identifiers with nothing for a year.
pub const FORGET_EVERY: std::time::Duration = std::time::Duration::from_secs(3_600);

/// A snapshot stops absorbing while it is made (it reads the whole state): the next one
/// waits at least this many times as long as the last took (at most ~5% of the time spent
/// on snapshots; a 98 MB snapshot at 10 million envelopes takes ~1.7 s, so one every ~34 s).
pub const SNAPSHOT_COST_RATIO: u32 = 20;

/// Notices pending (a city and an account or identifier each) before a new one is dropped
/// (counted in `dropped`, which `status` shows). A notice is ~300 bytes: 100,000 is ~30 MB.
/// A city cut off for a day in a busy province gathers a few thousand.
pub const MAX_PENDING_NOTICES: usize = 100_000;

/// Notices sent at once, to all cities together.
pub const NOTICES_IN_FLIGHT: usize = 64;

/// Pending notices taken from the outbox per pass of the sender.
pub const NOTICE_BATCH: usize = 256;

/// How long a city has to answer a notice before it is asked again (its engine answers once
/// the notice's event is committed: milliseconds).
pub const NOTICE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The first wait before asking a city that did not answer again, doubled at each miss up to
/// [`NOTICE_RETRY_MAX`]: a city cut off is asked every 2 s, so it hears what is pending
/// within about 2 s of its link coming back (the goal is 5 s).
pub const NOTICE_RETRY_FIRST: std::time::Duration = std::time::Duration::from_millis(100);
pub const NOTICE_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// How often the coordinator looks for what to ask producers to re-send: a gap must outlive
/// a whole pass (a source re-sending out of order fills it within seconds), and a producer's
/// highest must stand still for one, before it asks. A gap is mended within two passes.
pub const RESEND_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Producers' ranges asked for per pass (each at most `events::province::MAX_RESEND_EVENTS`):
/// 55 producers (11 cities × 5 services) each with a tail ask fit, with room for gaps; the
/// rest wait for the next pass.
pub const RESEND_ASKS_PER_PASS: usize = 128;
