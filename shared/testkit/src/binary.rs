//! Finding the `nats-server` binary: `AFC_NATS_SERVER`, then the workspace's `.tools`, then
//! `PATH`.

use std::path::{Path, PathBuf};

use crate::TestkitError;

/// Environment variable naming the `nats-server` binary to use.
pub const NATS_SERVER_ENV: &str = "AFC_NATS_SERVER";

/// Where `cargo xtask` installs the binary, relative to the workspace root.
const TOOLS_BINARY: &str = ".tools/nats-server/bin/nats-server";

/// The binary's file name, looked up on `PATH`.
const BINARY_NAME: &str = "nats-server";

/// How many directories up from this crate's manifest the workspace root is
/// (`shared/testkit`).
const WORKSPACE_DEPTH: usize = 2;

/// Finds the `nats-server` binary.
///
/// Order: the path in `AFC_NATS_SERVER` (an error if it is set but names no file), then
/// `<workspace root>/.tools/nats-server/bin/nats-server`, then `nats-server` on `PATH`.
pub fn nats_server_binary() -> Result<PathBuf, TestkitError> {
    if let Some(path) = std::env::var_os(NATS_SERVER_ENV).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() { Ok(path) } else { Err(TestkitError::BadBinaryEnv { path }) };
    }
    let mut tried = vec![format!("${NATS_SERVER_ENV} (unset)")];

    if let Some(root) = workspace_root() {
        let candidate = root.join(TOOLS_BINARY);
        if candidate.is_file() {
            return Ok(candidate);
        }
        tried.push(candidate.display().to_string());
    }

    if let Some(path_var) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path_var) {
            let candidate = dir.join(BINARY_NAME);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    tried.push(format!("{BINARY_NAME} on PATH"));
    Err(TestkitError::BinaryNotFound { tried: tried.join(", ") })
}

/// The workspace root: this crate's manifest directory, [`WORKSPACE_DEPTH`] levels up.
fn workspace_root() -> Option<PathBuf> {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for _ in 0..WORKSPACE_DEPTH {
        dir = dir.parent()?;
    }
    Some(dir.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root().expect("crate is two levels below the root");
        assert!(root.join("Cargo.toml").is_file());
        assert!(root.join("shared/testkit/Cargo.toml").is_file());
    }
}
