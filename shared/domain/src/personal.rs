//! Personal data that must never reach a log in clear.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A confidential value (a victim's name, ID number, phone number). `Debug` and `Display`
/// print a fixed mask, so formatting a struct that holds one for a log cannot leak it; the
/// value itself is reachable only through [`Sensitive::expose`], which marks each place
/// that handles it in clear.
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let phone = Sensitive::new("13800138000".to_string());
        assert_eq!(format!("{phone:?} {phone}"), "<redacted> <redacted>");
        assert_eq!(phone.expose(), "13800138000");
    }
}
