//! Phone numbers to E.164, by libphonenumber's metadata (the `phonenumber` crate), with
//! China as the region of a number given without a country code.

use phonenumber::country::Id;
use phonenumber::{Mode, ParseError};

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
