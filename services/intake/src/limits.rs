//! Bounds of the intake service, in one place. (Commands in flight are bounded by the
//! runtime's router, `runtime::limits::COMMANDS_IN_FLIGHT`.)

/// Largest amount of one transfer: ¥10 billion. Anything above is a typing error.
pub const MAX_AMOUNT_FEN: u64 = 1_000_000_000_000;
/// How far in the future a transfer time may lie, for clocks that disagree a little.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;
/// Longest scam contact (number, URL, app name, social account).
pub const MAX_CONTACT_CHARS: usize = 512;
/// Longest value echoed back in a validation problem.
pub const MAX_ECHO_CHARS: usize = 64;

/// The largest loss a report can state: every transfer at [`MAX_AMOUNT_FEN`]. No amount in
/// a case's events can be larger; a freezing event stating more is refused.
pub const MAX_CASE_LOSS_FEN: u64 = MAX_AMOUNT_FEN * domain::report::MAX_TRANSFERS as u64;

/// Cases of the reported-at index one `list` page reads at most. A filter few cases pass
/// (a fraud type, a status) stops a page there, with a `next` to go on from: one request
/// never reads the whole store. 10,000 point reads of the timeline store take ~10 ms.
pub const MAX_LIST_SCAN: usize = 10_000;
/// Rows of one lookup key one `search` reads at most, in each index (the report's and the
/// trail's). An account in more cases than this (a card seller's, paid into by a province)
/// answers the first ones and `truncated`.
pub const MAX_SEARCH_SCAN: usize = 1_000;
