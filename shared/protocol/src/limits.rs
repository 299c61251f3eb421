//! Bounds of the wire types, in one place, each with its reason. (`MAX_BODY_BYTES`, the bound
//! of any body, is in the crate root.)

/// Longest `request_id` of a carrier or restriction order, in bytes. Blocking's ids are
/// `<center>/<carrier or bank>/<target>/<verb><generation>`: a center (32), a counterparty (16),
/// the longest target (a domain of 253 bytes with its `domain:` prefix), a verb and a
/// generation come to under 340; the rest is headroom for another client's scheme. A longer id
/// is not one of ours and is refused before a carrier stores it.
pub const MAX_REQUEST_ID_BYTES: usize = 512;

/// Longest identifier value a carrier is asked to block, in bytes: a host name's 253 (RFC
/// 1035). E.164 numbers (at most 16 bytes) and IP addresses (at most 45) are shorter.
pub const MAX_IDENTIFIER_VALUE_BYTES: usize = 253;

/// Digits of an E.164 number after its `+` (ITU-T E.164: at most 15; the shortest numbering
/// plans in use give 8 with their country code).
pub const E164_DIGITS: std::ops::RangeInclusive<usize> = 8..=15;

/// Characters of a refused value echoed in an error: enough to recognise it, never a page.
pub const MAX_ECHO_CHARS: usize = 80;

/// Phone numbers a bank's holder record lists at most (`holder.phones` of a `restrict`
/// answer): a person's KYC numbers on record. Kaifeng's traders held ~16 cards each; a
/// record with more is not one person's and is refused as an invalid reply.
pub const MAX_HOLDER_PHONES: usize = 32;

/// Other accounts of the holder a bank lists at most (`holder.accounts`): a card seller's
/// cards at one bank (Kaifeng: 4,497 bank cards from 1,293 traders, ~3.5 each) with room to
/// spare. A longer list is refused as an invalid reply.
pub const MAX_HOLDER_ACCOUNTS: usize = 32;

/// A service tells what it changed (`changes::Changes`) at most this often: a page updating
/// itself live is told about as soon, and a service at full load sends a few messages a
/// second whatever its event rate.
pub const CHANGES_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Cases one `changes::Changes` names at most; beyond, it says `overflow` (every case may
/// have changed). At 400 cases/s a service touches a few hundred cases in
/// [`CHANGES_EVERY`]; 2,048 ids are ~55 KB of JSON, under the server's 1 MB payload bound.
pub const MAX_CHANGES_CASES: usize = 2048;

/// Scam identifiers one dissuasion `list` may filter by (`identifiers`): a case's report names
/// a few numbers and sites, rarely more than a dozen (intake keeps at most 32 contacts).
pub const MAX_LIST_IDENTIFIERS: usize = 32;
