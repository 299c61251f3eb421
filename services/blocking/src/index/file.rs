//! The index saved to a file and loaded back, so that a start reads its table at the disk's
//! speed instead of fingerprinting every stored identifier again.
//!
//! The file: a 56-byte header, then every slot of the table in order, 32 bytes each
//! ([`Slot::encode`]), all little-endian:
//!
//! | bytes | what |
//! |---|---|
//! | 0-7 | [`MAGIC`] |
//! | 8-11 | [`FORMAT`] |
//! | 12-15 | zero |
//! | 16-23 | the log sequence the index reflects (the caller's `seq`) |
//! | 24-39 | the two SipHash keys |
//! | 40-47 | slot count (a power of two) |
//! | 48-55 | identifiers held |
//!
//! The keys are in it, and whoever has them can craft values that collide with blocked ones:
//! the file is made with mode 0600 and a file others may read is refused. It is written
//! beside its place and renamed over it after an fsync, so a crash leaves the old file or the
//! new one, never half of one. A loaded file is checked whole before it is used (header,
//! size, every slot's facts, every entry on its probe path): a damaged file is refused rather
//! than answering "not blocked" for a blocked number.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::Index;
use super::table::{Slot, Table};
use crate::limits::INDEX_FILE_CHUNK_BYTES;

/// The first bytes of an index file.
pub(super) const MAGIC: [u8; 8] = *b"AFCBIDX\n";
/// The file's layout and the fingerprint's definition: another number is another format.
pub(super) const FORMAT: u32 = 1;
const HEADER_BYTES: usize = 56;

const _: () = assert!(INDEX_FILE_CHUNK_BYTES.is_multiple_of(Slot::BYTES));

/// Why an index file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum IndexFileError {
    #[error("{path}: no index file")]
    Missing { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} may be read by others (mode {mode:o}); an index file holds its hash keys and must be 0600")]
    Exposed { path: PathBuf, mode: u32 },
    #[error("{path}: not a blocked-identifier index file")]
    BadMagic { path: PathBuf },
    #[error("{path}: index file format {found}; this build reads format {FORMAT}")]
    OtherFormat { path: PathBuf, found: u32 },
    #[error("{path}: truncated, {found} bytes where the header needs {expected}")]
    Truncated { path: PathBuf, expected: u64, found: u64 },
    #[error("{path}: inconsistent: {reason}")]
    Inconsistent { path: PathBuf, reason: String },
}

/// Where [`Index::save`] writes before renaming: `<path>.tmp`.
fn tmp_path(path: &Path) -> PathBuf {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    PathBuf::from(tmp)
}

impl Index {
    /// Writes the index to `path` with `seq`, the log sequence it reflects (what a start
    /// replays from after loading it): to `<path>.tmp` (mode 0600), fsynced, renamed over
    /// `path`, and the directory fsynced.
    pub fn save(&self, path: &Path, seq: u64) -> io::Result<()> {
        let tmp = tmp_path(path);
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&tmp).and_then(|file| self.write_to(file, seq));
        if let Err(e) = written {
            // Best effort: the error to report is the write's.
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, path)?;
        let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(dir)?.sync_all()
    }

    fn write_to(&self, mut file: File, seq: u64) -> io::Result<()> {
        let slots = self.table.slots();
        let mut buffer = Vec::with_capacity(INDEX_FILE_CHUNK_BYTES.max(HEADER_BYTES));
        buffer.extend_from_slice(&MAGIC);
        buffer.extend_from_slice(&FORMAT.to_le_bytes());
        buffer.extend_from_slice(&0u32.to_le_bytes());
        for word in [seq, self.keys.0, self.keys.1, slots.len() as u64, self.len() as u64] {
            buffer.extend_from_slice(&word.to_le_bytes());
        }
        debug_assert_eq!(buffer.len(), HEADER_BYTES);
        file.write_all(&buffer)?;
        for chunk in slots.chunks(INDEX_FILE_CHUNK_BYTES / Slot::BYTES) {
            buffer.clear();
            chunk.iter().for_each(|slot| slot.encode(&mut buffer));
            file.write_all(&buffer)?;
        }
        file.sync_all()
    }

    /// The index saved at `path`, and the log sequence it was saved with. It answers every
    /// lookup as the saved one did, with the same keys.
    pub fn load(path: &Path) -> Result<(Index, u64), IndexFileError> {
        let io = |source: io::Error| IndexFileError::Io { path: path.to_owned(), source };
        let inconsistent = |reason: String| IndexFileError::Inconsistent { path: path.to_owned(), reason };
        let mut file = match File::open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(IndexFileError::Missing { path: path.to_owned() });
            }
            opened => opened.map_err(io)?,
        };
        let size = file.metadata().map_err(io)?.len();
        #[cfg(unix)]
        {
            let mode = std::os::unix::fs::PermissionsExt::mode(&file.metadata().map_err(io)?.permissions());
            if mode & 0o077 != 0 {
                return Err(IndexFileError::Exposed { path: path.to_owned(), mode: mode & 0o777 });
            }
        }
        let truncated = |expected: u64| IndexFileError::Truncated { path: path.to_owned(), expected, found: size };

        let mut header = [0u8; HEADER_BYTES];
        let got = read_full(&mut file, &mut header).map_err(io)?;
        if got < MAGIC.len() || header[..8] != MAGIC {
            return Err(if got < MAGIC.len() && header[..got] == MAGIC[..got] {
                truncated(HEADER_BYTES as u64)
            } else {
                IndexFileError::BadMagic { path: path.to_owned() }
            });
        }
        let word32 = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
        let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
        if got >= 12 && word32(8) != FORMAT {
            return Err(IndexFileError::OtherFormat { path: path.to_owned(), found: word32(8) });
        }
        if got < HEADER_BYTES {
            return Err(truncated(HEADER_BYTES as u64));
        }
        let (seq, keys, slot_count, len) = (word(16), (word(24), word(32)), word(40), word(48));
        if word32(12) != 0 {
            return Err(inconsistent("reserved header bytes are not zero".into()));
        }
        if !slot_count.is_power_of_two() || slot_count > super::table::MAX_SLOTS as u64 {
            return Err(inconsistent(format!(
                "{slot_count} slots, not a power of two up to {}",
                super::table::MAX_SLOTS
            )));
        }
        if len > slot_count {
            return Err(inconsistent(format!("{len} identifiers in {slot_count} slots")));
        }
        let expected = HEADER_BYTES as u64 + slot_count * Slot::BYTES as u64;
        if size < expected {
            return Err(truncated(expected));
        }
        if size > expected {
            return Err(inconsistent(format!("{size} bytes where the header names {expected}")));
        }

        let slot_count = slot_count as usize;
        let mut slots = Vec::with_capacity(slot_count);
        let mut buffer = vec![0u8; INDEX_FILE_CHUNK_BYTES.min(slot_count * Slot::BYTES)];
        while slots.len() < slot_count {
            let remaining = (slot_count - slots.len()) * Slot::BYTES;
            let bytes = &mut buffer[..remaining.min(INDEX_FILE_CHUNK_BYTES)];
            if read_full(&mut file, bytes).map_err(io)? < bytes.len() {
                // The file shrank since its size was read.
                return Err(truncated(expected));
            }
            for (n, slot) in bytes.chunks_exact(Slot::BYTES).enumerate() {
                let slot = Slot::decode(slot.try_into().expect("a whole slot"))
                    .ok_or_else(|| inconsistent(format!("slot {} holds facts no index makes", slots.len() + n)))?;
                slots.push(slot);
            }
        }
        let table = Table::from_slots(slots, len as usize).map_err(inconsistent)?;
        Ok((Index::with_table(keys, table), seq))
    }
}

/// Reads into `buffer` until it is full or the file ends; returns the bytes read.
fn read_full(file: &mut File, buffer: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buffer.len() {
        match file.read(&mut buffer[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use proptest::prelude::*;

    use super::*;
    use crate::index::{Blocked, Facts, FraudTypes};
    use crate::normalize::{Identifier, IdentifierKind};

    fn identifier(n: u32) -> Identifier {
        Identifier::parse(&format!("phone:+86138{:08}", n * 7919)).unwrap()
    }

    fn facts(n: u32) -> Facts {
        let blocked = (!n.is_multiple_of(3)).then(|| Blocked {
            since_ms: 1_763_946_000_000 + u64::from(n),
            expires_at_ms: 1_779_498_000_000 + u64::from(n),
            case_count: n,
            fraud_types: FraudTypes::from_iter(domain::FraudType::ALL.into_iter().skip(n as usize % 8).take(2)),
        });
        Facts { blocked, pool_cards: u16::from(n.is_multiple_of(3)) + u16::from(n.is_multiple_of(5)) }
    }

    /// The index of identifiers `0..inserted`, less every `remove_every`-th.
    fn index(inserted: u32, remove_every: u32) -> Index {
        let mut index = Index::default();
        for n in 0..inserted {
            index.insert(index.key(&identifier(n)), facts(n)).unwrap();
        }
        for n in (0..inserted).step_by(remove_every.max(1) as usize).filter(|_| remove_every > 0) {
            index.remove(index.key(&identifier(n)));
        }
        index
    }

    /// Saved and loaded back, `index` answers as it did, with its keys, and gives its `seq`.
    fn round_trip(index: &Index, seq: u64, probes: u32) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        index.save(&path, seq).unwrap();
        prop_assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        prop_assert!(!tmp_path(&path).exists());
        let (loaded, loaded_seq) = Index::load(&path).unwrap();
        prop_assert_eq!(loaded_seq, seq);
        prop_assert_eq!(loaded.len(), index.len());
        prop_assert_eq!(loaded.keys, index.keys);
        prop_assert_eq!(loaded.table.slots(), index.table.slots());
        for n in 0..probes {
            prop_assert_eq!(loaded.get(&identifier(n)), index.get(&identifier(n)));
        }
        let value = "example.com";
        prop_assert_eq!(
            loaded.stored_key(IdentifierKind::Domain, value),
            index.stored_key(IdentifierKind::Domain, value)
        );
        Ok(())
    }

    #[test]
    fn an_empty_index_and_one_after_removals_come_back_as_saved() {
        round_trip(&Index::default(), 0, 10).unwrap();
        round_trip(&index(3_000, 2), u64::MAX, 3_100).unwrap();
        round_trip(&index(500, 1), 7, 600).unwrap();
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        #[test]
        fn any_index_comes_back_as_saved(inserted in 0u32..2_000, remove_every in 0u32..5, seq in any::<u64>()) {
            round_trip(&index(inserted, remove_every), seq, inserted + 50)?;
        }
    }

    #[test]
    fn saving_again_replaces_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        index(100, 0).save(&path, 1).unwrap();
        std::fs::write(tmp_path(&path), b"left by a crash").unwrap();
        index(10, 0).save(&path, 2).unwrap();
        let (loaded, seq) = Index::load(&path).unwrap();
        assert_eq!((loaded.len(), seq), (10, 2));
    }

    /// A saved file, its bytes changed by `change`, loaded back.
    fn load_changed(change: impl FnOnce(&mut Vec<u8>)) -> IndexFileError {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        index(100, 0).save(&path, 9).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        change(&mut bytes);
        std::fs::write(&path, bytes).unwrap();
        Index::load(&path).unwrap_err()
    }

    #[test]
    fn each_damage_is_named() {
        let set =
            |at: usize, value: u64| move |bytes: &mut Vec<u8>| bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
        assert!(matches!(load_changed(|b| b[0] = b'X'), IndexFileError::BadMagic { .. }));
        assert!(matches!(load_changed(|b| b.truncate(5)), IndexFileError::Truncated { .. }));
        assert!(matches!(load_changed(|b| b.truncate(30)), IndexFileError::Truncated { expected: 56, found: 30, .. }));
        assert!(matches!(load_changed(|b| b[8] = 2), IndexFileError::OtherFormat { found: 2, .. }));
        assert!(matches!(load_changed(|b| b.truncate(b.len() - 1)), IndexFileError::Truncated { .. }));
        assert!(matches!(load_changed(|b| b.push(0)), IndexFileError::Inconsistent { .. }));
        assert!(matches!(load_changed(set(40, 1000)), IndexFileError::Inconsistent { .. }), "not a power of two");
        assert!(matches!(load_changed(set(40, 1 << 40)), IndexFileError::Inconsistent { .. }), "too many slots");
        assert!(matches!(load_changed(set(48, 5000)), IndexFileError::Inconsistent { .. }), "len > slots");
        assert!(matches!(load_changed(set(48, 99)), IndexFileError::Inconsistent { .. }), "len not counted");
        assert!(matches!(load_changed(|b| b[12] = 1), IndexFileError::Inconsistent { .. }), "reserved");
        // A slot's facts with a time but no block.
        let first_blocked = |b: &Vec<u8>| (0..1024).map(|n| 56 + n * 32).find(|at| b[at + 15] & 0x80 != 0).unwrap();
        assert!(matches!(
            load_changed(|b| {
                let at = first_blocked(b);
                b[at + 12..at + 16].copy_from_slice(&1u32.to_le_bytes());
            }),
            IndexFileError::Inconsistent { .. }
        ));
        // A slot moved off its probe path.
        assert!(matches!(
            load_changed(|b| {
                let at = first_blocked(b);
                let slot: Vec<u8> = b[at..at + 32].to_vec();
                b[at..at + 32].fill(0);
                let to = 56 + ((at - 56) / 32 + 512) % 1024 * 32;
                b[to..to + 32].copy_from_slice(&slot);
            }),
            IndexFileError::Inconsistent { .. }
        ));
    }

    #[test]
    fn a_missing_file_or_one_others_may_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        assert!(matches!(Index::load(&path), Err(IndexFileError::Missing { .. })));
        Index::default().save(&path, 1).unwrap();
        for mode in [0o640, 0o604, 0o666] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(matches!(Index::load(&path), Err(IndexFileError::Exposed { mode: m, .. }) if m == mode));
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(Index::load(&path).is_ok());
    }
}
