//! What the golden-bytes tests share: where a kind's golden file is, hex both ways, and the
//! check of one payload against its file (blessed with `AFC_BLESS=1` when it has none yet).

#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The golden file of event kind `name` under `tests/golden/<dir>` (`dir` "" for the first
/// services' envelopes).
pub fn golden_path(dir: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(dir).join(format!("{name}.hex"))
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(hex: &str) -> Vec<u8> {
    let hex = hex.trim();
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

/// `event` (of kind `name`) encodes, with named fields, to the bytes of its golden file under
/// `tests/golden/<dir>`, and those bytes decode to it. A kind without a file gets one under
/// `AFC_BLESS`; a file is never rewritten (logs in the field hold those bytes).
pub fn check_payload<E>(dir: &str, name: &str, event: &E)
where
    E: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = rmp_serde::to_vec_named(event).unwrap();
    let path = golden_path(dir, name);
    if std::env::var_os("AFC_BLESS").is_some() && !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, to_hex(&bytes)).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing {path:?}: run with AFC_BLESS=1"));
    assert_eq!(to_hex(&bytes), golden.trim(), "{name}: wire format changed");
    let decoded: E = rmp_serde::from_slice(&from_hex(&golden)).unwrap();
    assert_eq!(&decoded, event);
}
