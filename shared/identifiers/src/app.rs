//! Apps by their package id (Android application id, iOS bundle id): the one name an app
//! store, a carrier's download filter and the national anti-fraud app all know an app by.

use super::Reason;
use crate::limits::{MAX_APP_ID_BYTES, MAX_APP_SEGMENTS};

pub(super) const EXPECTED: &str = "a package id: at least two dot-separated segments of ascii letters, digits and \
     underscores, each starting with a letter, e.g. com.example.loan";

/// `text` as a package id, lower-cased: ids differing only in case are one app here (ids are
/// lower case by convention; a scammer re-casing an id must not slip past its block). An app's
/// display name (`安全防护`) is refused: it names no app uniquely.
pub(super) fn normalize(text: &str) -> Result<String, Reason> {
    let id = text.to_ascii_lowercase();
    let segments: Vec<&str> = id.split('.').collect();
    let shaped = id.len() <= MAX_APP_ID_BYTES
        && (2..=MAX_APP_SEGMENTS).contains(&segments.len())
        && segments.iter().all(|segment| {
            segment.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if shaped { Ok(id) } else { Err(Reason::BadPackageId) }
}
