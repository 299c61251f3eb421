//! Money as an integer count of fen (1/100 yuan) with checked arithmetic.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in fen. Arithmetic is checked: an overflow or a negative result is an
/// error, never a wrapped value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(u64);

/// A money operation that would leave the range of [`Fen`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount overflow: {left} + {right} fen exceeds {max} fen", max = u64::MAX)]
    Overflow { left: u64, right: u64 },
    #[error("amount underflow: {left} - {right} fen is negative")]
    Underflow { left: u64, right: u64 },
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn new(fen: u64) -> Self {
        Fen(fen)
    }

    /// Whole yuan, for tests and scenarios.
    pub const fn yuan(yuan: u32) -> Self {
        Fen(yuan as u64 * 100)
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Fen) -> Result<Fen, MoneyError> {
        self.0.checked_add(other.0).map(Fen).ok_or(MoneyError::Overflow { left: self.0, right: other.0 })
    }

    pub fn checked_sub(self, other: Fen) -> Result<Fen, MoneyError> {
        self.0.checked_sub(other.0).map(Fen).ok_or(MoneyError::Underflow { left: self.0, right: other.0 })
    }

    /// `self + other`, or the largest amount when the sum does not fit: for totals of
    /// amounts a bank reported, which no valid reply makes that large.
    pub fn saturating_add(self, other: Fen) -> Fen {
        Fen(self.0.saturating_add(other.0))
    }

    /// `self - other`, or zero when `other` is larger.
    pub fn saturating_sub(self, other: Fen) -> Fen {
        Fen(self.0.saturating_sub(other.0))
    }

    pub fn min(self, other: Fen) -> Fen {
        Fen(self.0.min(other.0))
    }

    /// Sum of amounts, failing on overflow.
    pub fn sum<I: IntoIterator<Item = Fen>>(amounts: I) -> Result<Fen, MoneyError> {
        amounts.into_iter().try_fold(Fen::ZERO, Fen::checked_add)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "¥{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Fen {
    /// The amount for a reader: `¥1,234.56`, whole yuan with a comma every three digits.
    /// ([`Display`](fmt::Display) prints `¥1234.56`, as logs and events' details have.)
    pub fn grouped(self) -> Grouped {
        Grouped(self)
    }
}

/// [`Fen::grouped`]: `¥1,234.56`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouped(Fen);

impl fmt::Display for Grouped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fen = self.0.get();
        let digits = (fen / 100).to_string();
        let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 5);
        out.push('¥');
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(digit);
        }
        // Through `pad`, so a width (`{:>12}`) lines amounts up.
        f.pad(&format!("{out}.{:02}", fen % 100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn displays_yuan_and_fen() {
        assert_eq!(Fen::new(123_456).to_string(), "¥1234.56");
        assert_eq!(Fen::new(5).to_string(), "¥0.05");
    }

    #[test]
    fn grouped_puts_a_comma_every_three_digits() {
        assert_eq!(Fen::new(1_234_567).grouped().to_string(), "¥12,345.67");
        assert_eq!(Fen::new(12_345_678_900).grouped().to_string(), "¥123,456,789.00");
        assert_eq!(Fen::new(99_999).grouped().to_string(), "¥999.99");
        assert_eq!(Fen::new(100_000).grouped().to_string(), "¥1,000.00");
        assert_eq!(Fen::new(5).grouped().to_string(), "¥0.05");
        assert_eq!(format!("{:>11}", Fen::new(100_000).grouped()), "  ¥1,000.00");
    }

    #[test]
    fn overflow_and_underflow_are_errors() {
        assert_eq!(Fen::new(u64::MAX).checked_add(Fen::new(1)), Err(MoneyError::Overflow { left: u64::MAX, right: 1 }));
        assert_eq!(Fen::new(1).checked_sub(Fen::new(2)), Err(MoneyError::Underflow { left: 1, right: 2 }));
    }

    proptest! {
        #[test]
        fn add_then_sub_round_trips(a in 0u64..u64::MAX / 2, b in 0u64..u64::MAX / 2) {
            let sum = Fen::new(a).checked_add(Fen::new(b)).unwrap();
            prop_assert_eq!(sum.checked_sub(Fen::new(b)).unwrap(), Fen::new(a));
        }
    }
}
