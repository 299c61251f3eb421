//! Identities: one nkey pair (ed25519) per process. The server's config holds the public
//! key; the process holds the seed, in a file only its user may read, and signs the server's
//! challenge with it. The seed never appears in a process argument or a log line.

use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// An identity's key pair.
#[derive(Clone)]
pub struct Identity {
    name: String,
    public: String,
    seed: String,
}

/// Why an identity could not be made, saved or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("identity {name:?}: {reason}; an identity's name is lower-case letters, digits and '-'")]
    Name { name: String, reason: &'static str },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a user nkey seed ({reason})")]
    Seed { path: PathBuf, reason: String },
    #[error("{path} may be read by others (mode {mode:o}); an identity's seed file must be 0600")]
    Exposed { path: PathBuf, mode: u32 },
}

impl Identity {
    /// A new identity named `name` (which names its seed file: `<name>.nk`).
    pub fn generate(name: &str) -> Result<Identity, KeyError> {
        check_name(name)?;
        let pair = nkeys::KeyPair::new_user();
        let seed = pair.seed().expect("a generated pair has its seed");
        Ok(Identity { name: name.to_owned(), public: pair.public_key(), seed })
    }

    /// The identity saved as `dir/<name>.nk`, refused if others may read it.
    pub fn load(dir: &Path, name: &str) -> Result<Identity, KeyError> {
        check_name(name)?;
        let path = seed_path(dir, name);
        let io = |source| KeyError::Io { path: path.clone(), source };
        let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).map_err(io)?.permissions());
        if mode & 0o077 != 0 {
            return Err(KeyError::Exposed { path, mode: mode & 0o777 });
        }
        let seed = std::fs::read_to_string(&path).map_err(io)?.trim().to_owned();
        let pair = nkeys::KeyPair::from_seed(&seed)
            .map_err(|e| KeyError::Seed { path: path.clone(), reason: e.to_string() })?;
        if !seed.starts_with("SU") {
            return Err(KeyError::Seed { path, reason: "a user seed starts with SU".into() });
        }
        Ok(Identity { name: name.to_owned(), public: pair.public_key(), seed })
    }

    /// Writes the seed to `dir/<name>.nk`, created with mode 0600 (never readable by others,
    /// not even for a moment); returns the path.
    pub fn save(&self, dir: &Path) -> Result<PathBuf, KeyError> {
        let path = seed_path(dir, &self.name);
        let io = |source| KeyError::Io { path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(|source| KeyError::Io { path: dir.to_owned(), source })?;
        let mut file =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path).map_err(io)?;
        // An existing file keeps its mode: make sure.
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(io)?;
        writeln!(file, "{}", self.seed).map_err(io)?;
        Ok(path)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public key (`U…`): what the server's config names the user by.
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The seed, for signing the server's challenge (`async_nats::ConnectOptions::nkey`).
    pub fn seed(&self) -> &str {
        &self.seed
    }
}

/// The seed is never printed.
impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity").field("name", &self.name).field("public", &self.public).finish_non_exhaustive()
    }
}

/// Where identity `name`'s seed is kept in `dir`.
pub fn seed_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.nk"))
}

fn check_name(name: &str) -> Result<(), KeyError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.len() > 64 {
        "longer than 64 characters"
    } else if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        "has a character that is not a lower-case letter, a digit or '-'"
    } else {
        return Ok(());
    };
    Err(KeyError::Name { name: name.to_owned(), reason })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn a_saved_identity_loads_as_itself_from_a_file_only_its_user_reads() {
        let dir = tempfile::tempdir().unwrap();
        let identity = Identity::generate("hangzhou-freezing").unwrap();
        let path = identity.save(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let loaded = Identity::load(dir.path(), "hangzhou-freezing").unwrap();
        assert_eq!(loaded.public_key(), identity.public_key());
        assert!(identity.public_key().starts_with('U') && identity.seed().starts_with("SU"));
        assert!(!format!("{identity:?}").contains(identity.seed()), "the seed is never printed");
    }

    #[test]
    fn a_seed_file_others_may_read_is_refused_and_a_bad_name_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = Identity::generate("staff").unwrap().save(dir.path()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(Identity::load(dir.path(), "staff"), Err(KeyError::Exposed { mode: 0o644, .. })));
        let error = Identity::generate("Hangzhou Intake").unwrap_err().to_string();
        assert!(error.contains("\"Hangzhou Intake\"") && error.contains("lower-case"), "{error}");
    }
}
