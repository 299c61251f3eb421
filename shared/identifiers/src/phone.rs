//! Phone numbers to E.164, by libphonenumber's metadata (the `phonenumber` crate), with
//! China as the region of a number given without a country code.

use std::sync::LazyLock;

use phonenumber::country::Id;
use phonenumber::metadata::{DATABASE, Descriptor};
use phonenumber::{Mode, ParseError};
use regex::{Regex, RegexBuilder};

use super::Reason;

pub(super) const EXPECTED: &str = "a phone number valid for its region: +<country code> <number>, 00<country code> \
     <number>, or a Chinese number (mobile 1xx xxxx xxxx, landline 0<area> <number>, 400/800 xxx xxxx)";

/// The region of a number written without a country code: the centers are Chinese.
const DEFAULT_REGION: Id = Id::CN;

/// `text` (NFKC, trimmed) as E.164, `+8617000000000`. Spaces, dashes, dots, brackets, a
/// `tel:` prefix, `00` or `+` before the country code and the trunk `0` are all accepted the
/// way libphonenumber reads them; a number that parses but that no range of its region holds
/// (`95588`, a short service code) is refused.
pub(super) fn normalize(text: &str) -> Result<String, Reason> {
    if CHINA_MOBILE.as_ref().is_some_and(|china| china.reads_as_mobile(text)) {
        return Ok(text.to_owned());
    }
    full(text)
}

/// libphonenumber's reading: parse, check against the ranges, format as E.164.
fn full(text: &str) -> Result<String, Reason> {
    let number = phonenumber::parse(Some(DEFAULT_REGION), text).map_err(|error| match error {
        ParseError::InvalidCountryCode => Reason::UnknownCountryCode,
        ParseError::TooShortNsn | ParseError::TooShortAfterIdd => Reason::TooShort,
        ParseError::TooLong => Reason::TooLongNumber,
        ParseError::NoNumber | ParseError::MalformedInteger(_) => Reason::NotANumber,
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(Reason::InvalidNumber);
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

/// The numbers carriers' signals are full of, read without the whole of libphonenumber:
/// `+86` and a national number that China's metadata holds as a mobile number, written
/// exactly so (E.164, ASCII digits). [`full`] takes ~15-30 µs a number, most of it looking
/// its patterns up in the crate's regex cache (a lock, and a SipHash of each pattern's text);
/// this takes well under a microsecond, with the same patterns compiled once.
///
/// Why the answer is the same: libphonenumber reads `+86` then `N` (digits only) as country
/// code 86 and national number `N` unchanged unless `N` starts with the national prefix
/// (`0`) or with a match of China's `nationalPrefixForParsing` (a carrier-selection code such
/// as `17951`); nothing else in its parse depends on which digits `N` holds. The number is
/// then valid if China's general pattern holds `N` and one of its number types does; the
/// mobile type holding it is enough. Formatted as E.164 it is `+86N`: `text` itself. So when
/// `N` passes those checks (each made with the crate's own pattern and lengths, as
/// `Descriptor::is_match` makes it) the answer is `Ok(text)`; any other text takes [`full`].
/// `tests::the_fast_path_answers_as_libphonenumber_does` compares both over every 5-digit
/// prefix, the digits China's patterns look at.
struct ChinaMobile {
    general: Pattern,
    mobile: Pattern,
    /// `nationalPrefixForParsing`: a national number it matches at its start takes [`full`].
    for_parsing: Option<Regex>,
    /// The national prefix (`0`).
    national_prefix: Option<String>,
}

/// A number type's pattern as `Descriptor::is_match` applies it: one of the possible lengths
/// (if any are listed) and the leftmost match starting at the first digit.
struct Pattern {
    regex: Regex,
    lengths: Vec<u16>,
}

/// China's country code, as libphonenumber's metadata gives it.
const CHINA_CODE: u16 = 86;

/// Compiled once; `None` (every number takes [`full`]) if the metadata is not as expected.
static CHINA_MOBILE: LazyLock<Option<ChinaMobile>> = LazyLock::new(ChinaMobile::load);

fn compile(pattern: &str) -> Option<Regex> {
    // As the crate compiles its metadata's patterns.
    RegexBuilder::new(pattern).ignore_whitespace(true).build().ok()
}

impl Pattern {
    fn of(descriptor: &Descriptor) -> Option<Pattern> {
        let regex = compile(descriptor.national_number().as_str())?;
        Some(Pattern { regex, lengths: descriptor.possible_length().to_vec() })
    }

    fn is_match(&self, national: &str) -> bool {
        let length_ok = self.lengths.is_empty() || self.lengths.iter().any(|l| usize::from(*l) == national.len());
        length_ok && self.regex.find(national).is_some_and(|m| m.start() == 0)
    }
}

impl ChinaMobile {
    fn load() -> Option<ChinaMobile> {
        let meta = DATABASE.by_id(DEFAULT_REGION.as_ref())?;
        // Validity reads the metadata of the one region of the code: China's.
        let regions = DATABASE.region(&CHINA_CODE)?;
        if meta.country_code() != CHINA_CODE || regions != [meta.id()] {
            return None;
        }
        let for_parsing = match meta.national_prefix_for_parsing() {
            Some(pattern) => Some(compile(pattern.as_str())?),
            None => None,
        };
        Some(ChinaMobile {
            general: Pattern::of(meta.descriptors().general())?,
            mobile: Pattern::of(meta.descriptors().mobile()?)?,
            for_parsing,
            national_prefix: meta.national_prefix().map(str::to_owned),
        })
    }

    /// Whether `text` is `+86` and a mobile number libphonenumber would read unchanged.
    fn reads_as_mobile(&self, text: &str) -> bool {
        let Some(national) = text.strip_prefix("+86") else { return false };
        if national.is_empty() || !national.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        if self.national_prefix.as_deref().is_some_and(|prefix| national.starts_with(prefix)) {
            return false;
        }
        if self.for_parsing.as_ref().is_some_and(|re| re.find(national).is_some_and(|m| m.start() == 0)) {
            return false;
        }
        self.general.is_match(national) && self.mobile.is_match(national)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path gives libphonenumber's answer: over every 5-digit prefix of an 11-digit
    /// national number (China's patterns look at no more), with two endings each.
    #[test]
    fn the_fast_path_answers_as_libphonenumber_does() {
        let china = CHINA_MOBILE.as_ref().expect("China's metadata loads for the fast path");
        let mut fast = 0;
        for prefix in 0..100_000u64 {
            for ending in [0u64, 999_999, prefix * 7_919 % 1_000_000] {
                let text = format!("+86{prefix:05}{ending:06}");
                if china.reads_as_mobile(&text) {
                    fast += 1;
                    assert_eq!(full(&text), Ok(text.clone()), "{text}");
                }
            }
        }
        assert!(fast > 10_000, "the mobile ranges take the fast path: {fast}");
        for text in [
            "+8617951380013",
            "+8617951138001380",
            "+86013800138000",
            "+86 138 0013 8000",
            "+8613800138000 ",
            "+８６13800138000",
        ] {
            assert!(!china.reads_as_mobile(text), "{text}");
        }
        assert!(china.reads_as_mobile("+8613800138000"));
    }
}
