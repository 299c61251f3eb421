//! Bounds of the restitution service, in one place, each with its reason.

/// A minute in milliseconds.
pub const MINUTE_MS: u64 = 60 * 1000;
/// An hour in milliseconds.
pub const HOUR_MS: u64 = 60 * MINUTE_MS;
/// A day in milliseconds.
pub const DAY_MS: u64 = 24 * HOUR_MS;

/// Longest objection or dismissal reason, in characters: a paragraph a victim or an officer
/// writes; a page of it is kept in the log and printed in the fund-flow report.
pub const MAX_REASON_CHARS: usize = 2_000;

/// Longest name of the staff member or victim objecting, in characters.
pub const MAX_STAFF_NAME_CHARS: usize = 100;

/// Victims (cases) whose claims one allocation shares an account among. Issue 16's benchmark
/// allocates one account among 1,000 victims; a mule account a whole gang paid ten times as
/// many into is still allocated, past that the input is refused (`TooManyVictims`) rather
/// than held in memory and written into one report.
pub const MAX_VICTIMS_PER_ACCOUNT: usize = 10_000;

/// Deposits one victim made into one account: a pig-butchering victim pays the same account
/// dozens to hundreds of times over months; 10,000 is far past any report and still small.
pub const MAX_DEPOSITS_PER_CLAIM: usize = 10_000;

/// Entries of one account's statement: issue 16's benchmark reads 100,000; a busy mule
/// account over the six months a freeze lasts stays below a million (~80 MB in memory).
pub const MAX_STATEMENT_ENTRIES: usize = 1_000_000;

/// Longest transfer id of a deposit or a statement entry, in bytes: banks' and platforms'
/// references are tens of characters; a longer one is a broken input, refused before it is
/// kept in the allocation's report.
pub const MAX_TRANSFER_ID_BYTES: usize = 256;

/// How far from the time it was said to arrive a deposit without a transfer id is looked for
/// in the statement: the same window as freezing's tracing rule (`ARRIVAL_WINDOW_MS`, 1 h:
/// staff type the victim's times by hand, banks book a leg earlier or later than the payer's
/// app shows it), so a deposit is found where freezing found it. A deposit that far before
/// the statement's first entry (or after its last) is outside the statement, not missing
/// from it.
pub const ARRIVAL_WINDOW_MS: u64 = 60 * MINUTE_MS;

/// How far past `now` a time in the input may be: a bank's or a reporter's clock a few
/// minutes fast is normal; beyond that the time is wrong, and money cannot have been traced
/// from a deposit that has not happened (refused as `InTheFuture`).
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * MINUTE_MS;

/// Characters of a refused value echoed back in a refusal.
pub const MAX_ECHO_CHARS: usize = 80;

/// The notice period by the rules: 30 days in which victims may object to an allocation.
pub const DEFAULT_NOTICE_DAYS: u64 = 30;

/// Inputs waiting for the engine (freezing's events, answers, commands): the consumer stops
/// pulling when it is full.
pub const ENGINE_QUEUE_DEPTH: usize = 1_024;

/// Longest the engine sleeps without looking at its deadlines (a clock that jumps, a timer
/// missed).
pub const TIMER_MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a return waits for intake's `payers` answer per attempt.
pub const INTAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Bank and platform calls (statement reads, returns, resolves) in flight at once: returns
/// come in batches of an allocation's victims; a bank is not asked a thousand at once.
pub const MAX_ORDERS_IN_FLIGHT: usize = 16;

/// How often, in business time, a return the bank only accepted is asked about again: a
/// bank executes within 3 working days; asking hourly shows the confirmation within the hour
/// and costs a bank 72 requests per return at most before it is overdue.
pub const RETURN_POLL_MS: u64 = HOUR_MS;

/// Wait before asking again after a bank, platform or intake did not answer (the adapters'
/// own retries done).
pub const RETURN_RETRY_BACKOFF: std::time::Duration = std::time::Duration::from_secs(30);

/// Statement reads for one proposal before it is proposed without the statement (the rule
/// then says it fell back); the accountant can propose it again once the bank answers.
pub const STATEMENT_READ_ATTEMPTS: u32 = 3;

/// Places (accounts, orders, cash-outs, victims) the fund-flow report's graph draws: a
/// 4-level, 25-account trail of a few victims is tens; past 500 the drawing is too dense to
/// read and too large to open, so the rest are left out of the drawing (the report says how
/// many) and stay in the table of hops, which lists every one.
pub const MAX_GRAPH_NODES: usize = 500;
