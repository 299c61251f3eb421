//! Bounds of the NATS plumbing, in one place.

use std::time::Duration;

/// Events the relay publishes before awaiting their acknowledgements.
pub const RELAY_BATCH: usize = 256;
/// Longest pause between relay retries while JetStream is unreachable.
pub const RELAY_BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Event kinds a relay counts apart (`RelayStats`); more are counted together as `other`.
/// One service produces a few dozen kinds at most.
pub const RELAY_KINDS: usize = 64;
/// First pause after a relay failure; doubles up to [`RELAY_BACKOFF_MAX`].
pub const RELAY_BACKOFF_MIN: Duration = Duration::from_millis(50);

/// Messages a consumer handles at once. Handlers commit through the store's group commit,
/// so concurrent handling is what fills a batch.
pub const CONSUMER_IN_FLIGHT: usize = 128;
/// Messages pulled per request.
pub const CONSUMER_PULL_BATCH: usize = 128;
/// Unacknowledged messages the server lets one consumer have.
pub const CONSUMER_MAX_ACK_PENDING: i64 = 1024;
/// How long a delivery may stay unanswered (the handler hung, the process died) before the
/// server redelivers it. The consumer sets no server-side `backoff`: with one, nats-server
/// takes its steps as the ack deadlines (the first, 1 s, would redeliver a message whose
/// commit is merely slow). Failures the handler reports are delayed by
/// [`CONSUMER_NAK_DELAYS`] instead.
pub const CONSUMER_ACK_WAIT: Duration = Duration::from_secs(30);
/// Deliveries of one message at most. A handler that fails transiently on the last one
/// dead-letters it; one that never answers it leaves it to the server, whose
/// max-deliveries advisory the consumer dead-letters.
pub const CONSUMER_MAX_DELIVER: i64 = 6;
/// Delay of the negative ack after the n-th transient failure (the last repeats).
pub const CONSUMER_NAK_DELAYS: [Duration; 5] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
];

/// How long a city stream keeps events: longer than any tolerated hub outage, since the
/// province sources skip what expired upstream.
pub const CITY_STREAM_MAX_AGE: Duration = Duration::from_secs(90 * 24 * 3600);
/// Window in which JetStream drops a re-published event id. Covers an outbox re-send after a
/// restart; consumers stay idempotent (inbox) for anything older.
pub const CITY_STREAM_DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// Inbox rows outlive the city stream's retention by this much, so a message JetStream may
/// still redeliver is always recognised.
pub const INBOX_RETENTION_MARGIN: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often expired inbox rows are removed (business time).
pub const INBOX_PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Inbox rows removed per commit.
pub const INBOX_PRUNE_BATCH: usize = 10_000;
/// A consumer whose pulls fail this long without a message in between gives up, and its
/// service stops so that its supervisor restarts it on a fresh connection.
pub const CONSUMER_PULL_GIVE_UP: Duration = Duration::from_secs(5 * 60);

/// Idle heartbeat asked of the server on each pull: two missed in a row (10 s) make the
/// consumer look whether it still exists on the server (a consumer deleted between two pulls
/// gets no deletion notice; the library's default of 15 s would take 30 s to notice).
pub const CONSUMER_IDLE_HEARTBEAT: Duration = Duration::from_secs(5);

/// How long a city's signal stream keeps carriers' contact signals: dissuasion's retention
/// window (7 days by default) and a day to spare for a node catching up. Subscribers are
/// personal data: kept days, not months.
pub const SIGNAL_STREAM_MAX_AGE: Duration = Duration::from_secs(8 * 24 * 3600);

/// How long the signal stream remembers a signal's id (`<source>/<signal_id>`) to drop a
/// carrier's re-send. Dissuasion deduplicates over its whole window besides; this window is
/// kept short because at tens of thousands of signals a second the ids are the stream's memory.
pub const SIGNAL_STREAM_DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 60);

/// How often the province's link watcher (`province::watch_links`) looks at
/// `AFC_PROVINCE`'s sources: one stream-information request each time.
pub const PROVINCE_WATCH_INTERVAL: Duration = Duration::from_millis(500);
/// A province source not heard from this long is silent. A live one hears its consumer's
/// idle heartbeat every second (nats-server's `sourceHealthHB`), so three seconds is three
/// heartbeats missed.
pub const PROVINCE_SOURCE_SILENT_AFTER: Duration = Duration::from_secs(3);
/// How long the watcher waits for a city's JetStream to answer across its leaf link. A
/// link that is down fails at once (no responders); this bounds a slow one.
pub const CITY_PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// A city's source is restarted at most once in this time: a restarted source needs a
/// round trip to the city to create its consumer (well under a second), and one still silent
/// after this is restarted again. After a hub restart the first restart of a source does not
/// take (measured, cause not known) and the second does, so this bounds that convergence
/// (~2 s, `afc-lab bench convergence`; 5 s here measured ~5 s).
pub const PROVINCE_SOURCE_RESTART_COOLDOWN: Duration = Duration::from_secs(2);
/// Tries at adding a city's source back to `AFC_PROVINCE` after removing it, and the pause
/// between two: the hub answered the removal, so a failure here is transient.
pub const PROVINCE_SOURCE_READD_ATTEMPTS: u32 = 10;
pub const PROVINCE_SOURCE_READD_PAUSE: Duration = Duration::from_millis(500);
/// Longest pause between reconnection attempts of the watcher's connection
/// (`province::reconnect_delay`): a restarted hub is seen within this of its return.
pub const PROVINCE_WATCHER_RECONNECT_MAX: Duration = Duration::from_millis(250);

/// Upper bounds of the buckets of a trace's time-to-freeze (`afc_time_to_freeze_seconds`), in
/// seconds: from the tens of milliseconds a city answers in to the golden half hour (30 min)
/// and beyond.
pub const TIME_TO_FREEZE_BUCKETS: [f64; 14] =
    [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 60.0, 300.0, 900.0, 1800.0];
