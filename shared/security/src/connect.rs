//! How a process connects as its identity: its nkey signs the server's challenge, TLS is
//! required and the server's certificate verified against the deployment's CA, replies come
//! under its own inbox prefix, and the server's refusals are logged (a client otherwise sees
//! a refused publish or request only as a timeout, seconds later).

use std::path::{Path, PathBuf};

use crate::keys::{Identity, KeyError};

/// In a deployment directory: the identities' seeds (`keys/<identity>.nk`).
pub const KEYS_DIR: &str = "keys";
/// In a deployment directory: the CA and the servers' certificates.
pub const PKI_DIR: &str = "pki";
/// In the PKI directory: the CA certificate every process trusts.
pub const CA_FILE: &str = "ca.crt";

/// Where a process finds its identity's seed and the CA to trust: by default the layout
/// [`crate::deployment::generate`] writes (`keys/<identity>.nk`, `pki/ca.crt`); an operator
/// with a PKI of their own names either path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialFiles {
    /// The directory holding `<identity>.nk` (0600).
    pub keys_dir: PathBuf,
    /// The CA certificate the server's certificate must chain to.
    pub ca_file: PathBuf,
}

impl CredentialFiles {
    /// The files of a deployment directory: `dir/keys/`, `dir/pki/ca.crt`.
    pub fn of_deployment(dir: &Path) -> CredentialFiles {
        CredentialFiles { keys_dir: dir.join(KEYS_DIR), ca_file: dir.join(PKI_DIR).join(CA_FILE) }
    }

    /// The credentials of identity `name`, reading replies under `inbox`
    /// (`protocol::subjects::city_inbox`); its seed file is refused if others may read it.
    pub fn credentials(&self, name: &str, inbox: String) -> Result<Credentials, KeyError> {
        let identity = Identity::load(&self.keys_dir, name)?;
        Ok(Credentials { identity, ca: Some(self.ca_file.clone()), inbox })
    }
}

/// What a process needs to connect: who it is, whom to trust, where its replies come.
#[derive(Debug)]
pub struct Credentials {
    pub identity: Identity,
    /// The CA certificate the server's certificate must chain to (`None`: no TLS, only for a
    /// server on loopback in a test that is about something else).
    pub ca: Option<PathBuf>,
    /// The identity's inbox prefix (`protocol::subjects::city_inbox`): the server lets it
    /// read replies there and nowhere else.
    pub inbox: String,
}

impl Credentials {
    /// Connect options for these credentials. A refusal by the server (a permissions
    /// violation, an authorization error) is logged as a warning naming what was refused.
    pub fn options(&self) -> async_nats::ConnectOptions {
        let who = self.identity.name().to_owned();
        let mut options = async_nats::ConnectOptions::with_nkey(self.identity.seed().to_owned())
            .custom_inbox_prefix(self.inbox.clone())
            .event_callback(move |event| {
                let who = who.clone();
                async move {
                    if let async_nats::Event::ServerError(error) = event {
                        tracing::warn!(identity = %who, %error, "the server refused");
                    }
                }
            });
        if let Some(ca) = &self.ca {
            options = options.require_tls(true).add_root_certificates(ca.clone());
        }
        options
    }
}
