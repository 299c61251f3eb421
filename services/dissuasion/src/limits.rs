//! Bounds of the dissuasion service, in one place, each with its reason.

/// A day in milliseconds.
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// An hour in milliseconds.
pub const HOUR_MS: u64 = 60 * 60 * 1000;
/// A minute in milliseconds.
pub const MINUTE_MS: u64 = 60 * 1000;

/// Identifiers read from one case: blocking's bound (four kinds of 32), so a case blocking
/// screened is never refused here for its size.
pub use identifiers::limits::MAX_IDENTIFIERS_PER_CASE;

/// Days of signals kept for back-matching a new case (issue 15: "the signals of the last N
/// days"), by default. A gang works a number for days before a victim reports it; past a week
/// the people it reached have paid or hung up, and a carrier's signal stream keeps days, not
/// months.
pub const DEFAULT_SIGNAL_RETENTION_DAYS: u64 = 7;

/// Longest retention a configuration may ask for: the store and memory hold every signal of
/// the window (10 million for 7 days at a large city, issue 15's benchmark); a month is four
/// times that, the most a node is sized for.
pub const MAX_SIGNAL_RETENTION_DAYS: u64 = 31;

/// How far past `now` a signal's time may be: a carrier's clock a few minutes fast is normal;
/// an hour ahead is a broken clock whose signals would sort ahead of every real one.
pub const MAX_SIGNAL_FUTURE_MS: u64 = 5 * MINUTE_MS;

/// Longest contact a signal may report, in seconds: one day. A longer call is a carrier's
/// error (a line left open); it would make any number look like a long contact.
pub const MAX_CONTACT_DURATION_S: u32 = 24 * 60 * 60;

/// Signals kept per identifier: a robocaller dials ~10,000 numbers a day, 70,000 a week; past
/// the bound the oldest are dropped (counted), so one number cannot take the node's memory.
pub const MAX_SIGNALS_PER_IDENTIFIER: usize = 1 << 17;

/// Distinct scam identifiers kept in one person's evidence: three already grade High by
/// default; 64 is for the record of a person a whole gang worked, not for the grade.
pub const MAX_IDENTIFIERS_PER_PERSON: usize = 64;

/// Known periods kept per scam identifier (known, ended, known again): a number reassigned
/// and reported again a few times; older periods are forgotten, oldest first.
pub const MAX_PERIODS_PER_IDENTIFIER: usize = 16;

/// Longest carrier signal id, in bytes: carriers' ids are UUIDs or sequence numbers; a longer
/// one is refused rather than kept in the deduplication table.
pub const MAX_SIGNAL_ID_BYTES: usize = 64;

/// Characters of a refused value echoed back in a problem (never a subscriber's number).
pub const MAX_ECHO_CHARS: usize = 80;

/// Open tasks (waiting, ready or claimed) in one queue at most. Foshan handled 2.2 million
/// warnings in a year (~6,000 a day); a queue of 100,000 is weeks of a surge. Past it a new
/// task is refused (`Rejection::QueueFull`) and its input is redelivered later, never dropped.
pub const MAX_TASKS_PER_QUEUE: usize = 100_000;

/// Levels a visit escalates through (Wuhan: city bureau → district bureau → police station →
/// community).
pub const ESCALATION_LEVELS: usize = 4;

/// Steps a task can take from its first kind to its last: SMS, call, then the four visit
/// levels. Escalation stops at the last level, so a task escalates at most this many times
/// less one (property-tested).
pub const MAX_TASK_STEPS: usize = 2 + ESCALATION_LEVELS;

/// SMS warnings one task sends at most: one, under one request id the shell may retry. A
/// warning that is not confirmed escalates to a call rather than being sent again.
pub const MAX_SMS_PER_TASK: u32 = 1;

/// Longest operator id, in characters: a staff directory's login, not free text.
pub const MAX_OPERATOR_CHARS: usize = 64;

/// Longest note staff attach to an outcome, in characters: a paragraph an officer types
/// after a visit, short enough to keep in every task's record.
pub const MAX_NOTE_CHARS: usize = 1024;

/// Deadlines handled per timer firing: the rest are due at once again, so a backlog (a
/// night's deadlines at a restart) is worked through in bounded steps, as blocking does.
pub const TIMER_BATCH: usize = 1024;

/// Tasks one `list` answer holds at most: a page an operator reads.
pub const MAX_LIST_PAGE: usize = 200;

// The shell's bounds.

/// Inputs waiting for the engine per queue (urgent: cases, blocks, staff, carriers' answers;
/// routine: signal batches). A full queue holds its consumer back (JetStream keeps the rest).
pub const ENGINE_QUEUE_DEPTH: usize = 256;

/// Signals taken from the signal stream in one pull and recorded in one write: one redb
/// commit per batch keeps ingest at tens of thousands a second; the batch is acknowledged
/// (ack-all) once committed.
pub const SIGNAL_BATCH: usize = 1_000;

/// Signals delivered and not yet acknowledged: a few batches in flight, no more.
pub const SIGNAL_MAX_ACK_PENDING: i64 = 8 * SIGNAL_BATCH as i64;

/// How long JetStream waits for a batch's acknowledgement before it delivers it again: well
/// above a batch's commit (tens of ms), so only a stopped node sees redeliveries.
pub const SIGNAL_ACK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long the engine sleeps at most with no input and no deadline due: it looks at the
/// clock again (a drill's clock may jump).
pub const TIMER_MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// SMS orders and report filings in flight at once.
pub const MAX_ORDERS_IN_FLIGHT: usize = 64;

/// Numbers of people whose signals all left the window, looked at per forget pass: the sweep
/// goes on at the next pass.
pub const NUMBER_SWEEP_BATCH: usize = 5_000;

/// Rows of signals that left the window, deleted per forget pass (the rest at the next one):
/// with a pass every [`FORGET_EVERY`], up to 80,000 signals a second leave the window.
pub const FORGET_BATCH: usize = 20_000;

/// How often the core forgets people and closed tasks with nothing recent (a scan of every
/// person and task: once a day).
pub const FORGET_PEOPLE_EVERY_MS: u64 = DAY_MS;

/// How long a person with no open task, and a closed task, stay in memory after their last
/// evidence or closing: at least this, and at least the signal retention window (a person
/// whose contacts are still kept for back-matching keeps their evidence). About 1.5 KB each:
/// at 100,000 new people a day, ~4.5 GB for the month.
pub const PEOPLE_KEPT_MS: u64 = 30 * DAY_MS;

/// How often the engine forgets what left the window while signals come in: a write of its
/// own, waited for (it reads the people's open tasks from memory as it runs).
pub const FORGET_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Signal batches the consumer has in the engine at once: the next batch is stepped while
/// the last one commits.
pub const SIGNAL_BATCHES_IN_FLIGHT: usize = 4;

/// Urgent inputs (cases, blocks, answers, staff) the engine takes in a row before it takes a
/// waiting batch of signals: urgent first, but a steady stream of cases (each a commit of its
/// own) must not keep the signals waiting for as long as it lasts.
pub const URGENT_BEFORE_ROUTINE: u32 = 16;
