//! Domain types shared by every afc service.
//!
//! Each type here can only be built by parsing or by a checked constructor, so a value that
//! exists is valid: a [`City`] is a safe NATS token, an [`AccountRef`] names a bank and an
//! account number, [`Fen`] arithmetic never wraps. Serde goes through the same parsers, so a
//! decoded value is as valid as a constructed one.

mod blocking;
pub mod calendar;
mod clock;
pub mod hex;
mod ids;
pub mod markup;
mod money;
mod personal;
pub mod report;
mod service;

pub use blocking::{Carrier, Channel, HolderKey, IdentifierKind};
pub use clock::{
    Clock, DrillClock, DrillClockError, MAX_TIME_SCALE, ScaledClock, SharedClock, SystemClock, TimeScaleError,
    system_clock,
};
pub use ids::{AccountRef, BankId, CaseId, City, FraudType, IdError, PayerRef, PaymentOrderRef, PlatformId};
pub use money::{Fen, Grouped, MoneyError};
pub use personal::Sensitive;
pub use service::Service;

/// Milliseconds since the Unix epoch, as every afc timestamp is kept.
pub type TimeMs = u64;

/// Stable 64-bit FNV-1a hash: used where an id must be derived from content and must not
/// change between builds or machines (std's hasher gives no such promise).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
