//! Bounds of the freezing service, in one place.

use std::time::Duration;

/// Deepest trail level followed. Published cases reach the 4th level; mule networks
/// rarely go past 6; beyond 8 the money is spread too thin to be worth a stop-payment.
pub const MAX_TRACE_DEPTH: u8 = 8;

/// Inputs waiting for the engine (consumed reports, adapter answers).
pub const ENGINE_QUEUE_DEPTH: usize = 4096;

/// Adapter requests in flight at once, across all cases.
pub const MAX_ADAPTER_IN_FLIGHT: usize = 1024;

/// Conversions into freezes started per wake-up of the engine.
pub const TIMER_BATCH: usize = 256;

/// Longest the engine sleeps before looking at its conversion timers again (the clock may be
/// scaled in drills).
pub const TIMER_MAX_SLEEP: Duration = Duration::from_secs(1);

/// A stop-payment is converted into a freeze at least this long before it lapses, whatever
/// the configured delay: time for the freeze request and its retries, and for a renewal if
/// the freeze fails.
pub const LAPSE_MARGIN_MS: u64 = 2 * 60 * 60 * 1000;

/// Smallest onward amount worth following, in fen (¥1): below it a stop-payment costs the
/// bank more than it could hold.
pub const MIN_FOLLOW_FEN: u64 = 100;

/// Default delay from a stop-payment to its conversion into a freeze: 10 minutes, well
/// inside the 48 h a stop lasts, leaving time for the renewal if the freeze fails.
pub const DEFAULT_FREEZE_AFTER_MS: u64 = 10 * 60 * 1000;

/// Onward hops an `account_stopped` event opens itself; a stop with more onward transfers
/// opens the rest with a `hop_opened` each. At ~150 bytes a leg (a 32-digit account, a
/// 64-character transfer id) 256 legs stay far below `events::MAX_EVENT_BYTES` (256 KiB): no
/// event a bank's statement leads to is too large to commit.
pub const MAX_ONWARD_IN_STOP: usize = 256;

/// How long after a report a hop whose bank or platform cannot answer for now (no answer,
/// nobody listening, `unavailable`) is asked again: the golden window and then some; past
/// it, money not yet stopped has most likely moved on, and the hop ends as failed.
pub const RETRY_WINDOW_MS: u64 = 2 * 60 * 60 * 1000;

/// How long after its first `unknown_order` a payment order is asked about again: an order
/// the platform has not settled yet settles within minutes, one that never does is wrong.
pub const UNSETTLED_ORDER_WINDOW_MS: u64 = 10 * 60 * 1000;

/// Pause before the n-th retry of a hop (the last repeats): soon at first, for a passing
/// fault, then every 5 minutes, so a bank that is down for an hour is asked 15-20 times.
pub const HOP_RETRY_BACKOFF_MS: [u64; 6] = [5_000, 15_000, 30_000, 60_000, 120_000, 300_000];

/// Attempts of one hop at most, whatever its window: a bound on the retries themselves.
pub const MAX_HOP_ATTEMPTS: u32 = 40;

/// Pause before the n-th new attempt at a freeze that failed (the last repeats): soon for a
/// passing fault, then every 30 minutes while the stop holds the money.
pub const FREEZE_RETRY_BACKOFF_MS: [u64; 5] = [5_000, 30_000, 120_000, 600_000, 1_800_000];

/// Failed freeze attempts under one stop at most: with [`FREEZE_RETRY_BACKOFF_MS`] a 48 h
/// stop has room for about 100.
pub const MAX_FREEZE_ATTEMPTS: u32 = 128;

/// While a renewal of the stop is left, a failing freeze is tried until this long before the
/// stop lapses; then the stop is renewed, with time to try the renewal again.
pub const FREEZE_RENEWAL_LEAD_MS: u64 = 60 * 60 * 1000;

/// A freeze, or a renewal, is not tried again later than this before the stop lapses: its
/// answer would come after the money is free to leave.
pub const LAST_ATTEMPT_MARGIN_MS: u64 = 5 * 60 * 1000;

/// Default margin before a stop lapses within which a claim that is not frozen and has no
/// renewal left raises `freeze_at_risk`: a working day for the bank liaison to act.
pub const DEFAULT_AT_RISK_MARGIN_MS: u64 = 12 * 60 * 60 * 1000;

/// Parts a claim is frozen in at most: a bank that freezes less than asked (other freezes
/// hold the rest) is asked for the rest, which it freezes or queues; this bounds the rounds.
pub const MAX_FREEZE_PARTS: u8 = 4;

/// Events recorded between two snapshots of freezing's state: a start replays at most about
/// this many events after the snapshot, and holds what they left in memory until its first
/// write moves it out (docs/benchmarks.md: ~900,000 events replayed in 1.9 s, bringing back
/// the holds they touch from the store, and 315 MB resident during the start; half that
/// here). Not more often: the engine encodes the state in memory (every case in progress) and
/// freezing's writer commits it in one write, which stalls both while the state is large
/// (every 100,000 events at 400 cases/s, the time-to-freeze p99 went from ~0.1 s to 1.2 s;
/// every 20,000, to 4.5 s).
pub const SNAPSHOT_EVERY_EVENTS: u64 = 500_000;

/// Events recorded between two moves of the state's cold part out of memory (holds no open
/// case needs, closed cases' ids: `core::cold`). Memory then holds the cases in progress and
/// at most what this many events closed; each move writes a row per hold moved out, in the
/// write of the events (a few thousand rows at most, not a stall).
pub const EVICT_EVERY_EVENTS: u64 = 4_096;

/// Cases whose money in one account the tracing rule splits together when one of them reads
/// it (the reading case and the first others by case id); the claims of any further ones are
/// taken as they stand, held before the rest. A mule shared by more victims than this within
/// one center is rare, and the rule's work and the `claim_revised` events one reading
/// records grow with it.
pub const MAX_CASES_IN_RULE: usize = 32;

/// Claims a province coordinator's cross-city notice may carry (one per city claiming the
/// account): a province has a dozen cities, so a notice beyond this is refused, not recorded.
pub const MAX_CROSS_CITY_CLAIMS: usize = 64;
