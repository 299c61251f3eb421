//! The restitution service: returns frozen money to the victims it belongs to (资金返还),
//! the way it came (原路返还), exactly to the fen (issue 16; the rules in
//! docs/restitution.md).
//!
//! Built so far: the allocation, a pure function.
//!
//! - [`core`] (pure): [`core::allocate`] shares the money frozen on one account among the
//!   victims whose traced money went into it — by timestamp trace (the default), pro rata,
//!   FIFO or lowest intermediate balance — in whole fen that add up exactly, never more than
//!   is frozen nor more to a victim than their loss less what they were given elsewhere, with
//!   the reason for every fen as data (the fund-flow report's content).
//! - [`limits`]: every bound, with its reason.
//!
//! Not built yet: the shell (store, consumers of freezing's and intake's events, the notice
//! period, approvals, the bank's `return` verb), the fund-flow report, the commands.

pub mod core;
pub mod limits;
pub mod report;
