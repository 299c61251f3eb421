//! The pure core of restitution: [`allocate`] shares the money frozen on one account among
//! the victims whose money it is, in whole fen, by a [`Rule`] chosen per allocation, and
//! says why for every fen ([`Share::parts`]). No I/O and no clock: `now` is passed in.
//!
//! - [`input`]: what an allocation is given ([`FrozenAccount`]), and the checks that refuse
//!   bad input with a typed [`Refusal`] (field, value, what is accepted);
//! - [`statement`]: where each deposit is in the statement, each victim's lowest
//!   intermediate balance bound, the lots left first in first out;
//! - [`apportion`]: largest remainder within limits and caps, and its tie-break;
//! - [`allocation`]: the rules as steps over those, and the result.

pub mod allocation;
pub mod apportion;
pub mod input;
pub mod process;
pub mod statement;

pub use allocation::{
    Allocation, DepositFound, Fallback, FallbackReason, Part, Rule, Share, StatementRead, Step, Unallocated, allocate,
};
pub use apportion::{Limit, Portion};
pub use input::{Claim, Deposit, Entry, FrozenAccount, Reason, Refusal};
pub use statement::Found;

#[cfg(test)]
mod tests;
