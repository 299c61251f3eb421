//! A development certificate authority, and the TLS certificates a local deployment needs.
//!
//! Every NATS link is TLS with certificates from one CA: clients and cities verify the server
//! they dial, the hub verifies each city's leaf certificate. Production takes the paths of the
//! operator's PKI; for `afc-lab` and a first local install, [`DevCa`] plays that PKI, saved once
//! and loaded on every later run so that the certificates it issued stay trusted.
//!
//! Every key is ECDSA P-256: the lab verified it for CA, server, client and leaf certificates
//! with nats-server (Go), async-nats (rustls) and Python; Ed25519 was not verified on leaf links.
//! Every server certificate names its host in subjectAltName (a common name alone is refused),
//! and every certificate a client presents, a city's on its leaf link too, carries clientAuth.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType, SerialNumber, SignatureAlgorithm,
};
use time::{Duration, OffsetDateTime};

/// How long the development CA is valid: long enough to outlive any deployment it is made
/// for, since replacing it means reissuing every certificate.
pub const CA_VALIDITY: Duration = Duration::days(3653);

/// How long an issued certificate is valid: a year, renewed by issuing again.
pub const LEAF_VALIDITY: Duration = Duration::days(365);

/// How far before "now" a certificate starts being valid, so that a peer whose clock is
/// somewhat behind does not refuse a freshly issued certificate.
pub const CLOCK_SKEW: Duration = Duration::hours(1);

/// File name of the CA certificate in the directory given to [`DevCa::save`] / [`DevCa::load`].
pub const CA_CERT_FILE: &str = "ca.crt";

/// File name of the CA's private key in that directory.
pub const CA_KEY_FILE: &str = "ca.key";

/// Mode of every private key file: readable and writable by its owner only.
pub const KEY_FILE_MODE: u32 = 0o600;

/// Mode of every certificate file: certificates are public.
const CERT_FILE_MODE: u32 = 0o644;

/// Permission bits that must be clear on a private key file before it is used.
const KEY_FILE_FORBIDDEN_BITS: u32 = 0o077;

/// Length of a certificate's random serial number (RFC 5280 allows at most 20 octets).
const SERIAL_BYTES: usize = 16;

/// The key algorithm of every key this module generates (see the module docs for why).
static KEY_ALGORITHM: &SignatureAlgorithm = &rcgen::PKCS_ECDSA_P256_SHA256;

/// The longest DNS name, and the longest label in it (RFC 1035).
const MAX_DNS_NAME: usize = 253;
const MAX_DNS_LABEL: usize = 63;

/// A development certificate authority: signs the certificates of a local deployment.
pub struct DevCa {
    /// The CA certificate, PEM: what every server and client is told to trust.
    cert_pem: String,
    /// The end of the CA's validity: no certificate it issues outlives it.
    not_after: OffsetDateTime,
    /// The CA's subject, key identifier and private key: what signs a certificate.
    issuer: Issuer<'static, KeyPair>,
}

/// What a certificate is for, which sets its extended key usages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertUsage {
    /// A server's certificate (EKU serverAuth): a hub only serving clients and leaf links.
    Server,
    /// A client's certificate (EKU clientAuth): a process presenting itself to a `verify: true` port.
    Client,
    /// Both (EKU serverAuth and clientAuth): a city's nats-server, which serves its clients and
    /// is a leaf client of the hub with the same certificate.
    ServerAndClient,
}

/// The certificate to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    /// The subject's common name: names the holder in logs and `openssl x509` output; peers
    /// verify the subjectAltNames, never this.
    pub common_name: String,
    /// Host names peers dial the holder by (subjectAltName DNS).
    pub dns_names: Vec<String>,
    /// Addresses peers dial the holder at (subjectAltName IP).
    pub ip_addresses: Vec<IpAddr>,
    /// What the certificate is for.
    pub usage: CertUsage,
}

/// An issued certificate and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    /// The certificate, signed by the CA.
    pub cert_pem: String,
    /// Its private key (PKCS#8): a secret, written only to a [`KEY_FILE_MODE`] file.
    pub key_pem: String,
}

/// Where a certificate and its key were written: the paths a nats-server config or a
/// client's TLS options name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPaths {
    /// The certificate file.
    pub cert: PathBuf,
    /// The private key file (mode [`KEY_FILE_MODE`]).
    pub key: PathBuf,
}

/// Everything that can go wrong generating, issuing, saving or loading certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A name a certificate needs is empty.
    #[error("{what} is empty; give one, e.g. {example:?}")]
    EmptyName {
        /// Which name.
        what: &'static str,
        /// An acceptable value.
        example: &'static str,
    },

    /// A server certificate was asked for without any name peers could verify.
    #[error(
        "certificate {common_name:?} is for a server but has no DNS name or IP address; \
         give at least one (nats-server and rustls refuse a common name alone)"
    )]
    NoSubjectAltName {
        /// The certificate's common name.
        common_name: String,
    },

    /// A DNS name is not a host name.
    #[error(
        "DNS name {name:?} of certificate {common_name:?} is not a host name: dot-separated labels \
         of 1 to 63 letters, digits and '-', at most 253 characters, optionally starting with \"*.\""
    )]
    InvalidDnsName {
        /// The certificate's common name.
        common_name: String,
        /// The offending DNS name.
        name: String,
    },

    /// A file stem would not name a plain file inside the target directory.
    #[error("file stem {stem:?} is not a plain file name: use letters, digits, '-', '_' and '.', not leading '.'")]
    InvalidStem {
        /// The offending stem.
        stem: String,
    },

    /// The CA can issue nothing more: it has expired.
    #[error("the certificate authority expired at {not_after}; generate a new one and reissue every certificate")]
    CaExpired {
        /// When it expired.
        not_after: OffsetDateTime,
    },

    /// rcgen could not generate a key or sign a certificate.
    #[error("generating {what}: {source}")]
    Generate {
        /// What was being generated.
        what: String,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },

    /// Saving the CA would replace an existing one.
    #[error(
        "{} already exists; load that certificate authority instead of replacing it \
         (every certificate it issued would stop being trusted)",
        path.display()
    )]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },

    /// A file or directory could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// `"reading"` or `"writing"`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A private key file can be read by others than its owner.
    #[error("private key {} has mode {mode:o}, readable by others; it must be {KEY_FILE_MODE:o}", path.display())]
    KeyFileExposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// A file holds no PEM private key or certificate that can be used.
    #[error("{} is not a {expected}: {detail}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What it should hold: `"PEM private key"` or `"PEM certificate"`.
        expected: &'static str,
        /// What the parser said.
        detail: String,
    },

    /// A certificate loaded as the CA is not a CA certificate.
    #[error("{} is not a certificate authority (no basicConstraints CA:TRUE)", path.display())]
    NotACa {
        /// The certificate file.
        path: PathBuf,
    },

    /// A CA key does not belong to the CA certificate next to it.
    #[error("the key in {} does not belong to the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
}

impl DevCa {
    /// Generates a new CA whose subject is `CN=<name>`, valid for [`CA_VALIDITY`].
    pub fn generate(name: &str) -> Result<DevCa, PkiError> {
        let name = non_empty(name, "the certificate authority's name", "afc development CA")?;
        let params = ca_params(name, now(), random_serial());
        let key = new_key(&format!("the key of certificate authority {name:?}"))?;
        let cert = params
            .self_signed(&key)
            .map_err(|source| PkiError::Generate { what: format!("certificate authority {name:?}"), source })?;
        Ok(DevCa { cert_pem: cert.pem(), not_after: params.not_after, issuer: Issuer::new(params, key) })
    }

    /// The CA certificate, PEM: the `ca_file` of every server and the root every client adds.
    pub fn ca_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// When the CA expires.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Issues a certificate for `spec`, valid for [`LEAF_VALIDITY`] (never past the CA's own
    /// expiry), with a fresh key and a random serial number.
    pub fn issue(&self, spec: &CertSpec) -> Result<IssuedCert, PkiError> {
        let params = leaf_params(spec, now(), self.not_after, random_serial())?;
        let key = new_key(&format!("the key of certificate {:?}", spec.common_name))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|source| PkiError::Generate { what: format!("certificate {:?}", spec.common_name), source })?;
        Ok(IssuedCert { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// Writes [`CA_CERT_FILE`] and [`CA_KEY_FILE`] (mode [`KEY_FILE_MODE`] from its creation)
    /// into `dir`, creating `dir` if needed.
    ///
    /// Refuses to replace an existing CA ([`PkiError::AlreadyExists`]): a deployment's CA is
    /// generated once and loaded afterwards.
    pub fn save(&self, dir: &Path) -> Result<CertPaths, PkiError> {
        let paths = CertPaths { cert: dir.join(CA_CERT_FILE), key: dir.join(CA_KEY_FILE) };
        create_dir(dir)?;
        if let Some(existing) = [&paths.cert, &paths.key].into_iter().find(|p| p.symlink_metadata().is_ok()) {
            return Err(PkiError::AlreadyExists { path: existing.clone() });
        }
        write_file(&paths.key, &self.issuer.key().serialize_pem(), KEY_FILE_MODE, Replace::No)?;
        write_file(&paths.cert, &self.cert_pem, CERT_FILE_MODE, Replace::No)?;
        Ok(paths)
    }

    /// Loads the CA that [`DevCa::save`] wrote into `dir`.
    ///
    /// Checks that the key file is not readable by others, that the certificate is a CA's and
    /// that the key is the certificate's, so that a mix-up fails here rather than as a TLS
    /// handshake error on every link later.
    pub fn load(dir: &Path) -> Result<DevCa, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = read_file(&cert_path)?;
        let mode = fs::metadata(&key_path).map_err(io_error("reading", &key_path))?;
        let mode = mode.permissions().mode() & 0o7777;
        if mode & KEY_FILE_FORBIDDEN_BITS != 0 {
            return Err(PkiError::KeyFileExposed { path: key_path, mode });
        }
        let key = KeyPair::from_pem(&read_file(&key_path)?).map_err(|e| PkiError::Unreadable {
            path: key_path.clone(),
            expected: "PEM private key",
            detail: e.to_string(),
        })?;
        let bad =
            |detail: String| PkiError::Unreadable { path: cert_path.clone(), expected: "PEM certificate", detail };
        let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
        let cert = pem.parse_x509().map_err(|e| bad(e.to_string()))?;
        if !cert.is_ca() {
            return Err(PkiError::NotACa { path: cert_path });
        }
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::KeyMismatch { cert: cert_path, key: key_path });
        }
        let not_after = cert.validity().not_after.to_datetime();
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|e| bad(e.to_string()))?;
        Ok(DevCa { cert_pem, not_after, issuer })
    }
}

impl fmt::Debug for DevCa {
    /// Shows the CA's subject and expiry, never its key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevCa").field("not_after", &self.not_after).field("issuer", &self.issuer).finish()
    }
}

impl IssuedCert {
    /// Writes `<stem>.crt` and `<stem>.key` (mode [`KEY_FILE_MODE`] from its creation) into
    /// `dir`, creating `dir` if needed and replacing earlier files of that stem atomically (a
    /// renewal).
    pub fn save(&self, dir: &Path, stem: &str) -> Result<CertPaths, PkiError> {
        if !is_file_stem(stem) {
            return Err(PkiError::InvalidStem { stem: stem.to_owned() });
        }
        let paths = CertPaths { cert: dir.join(format!("{stem}.crt")), key: dir.join(format!("{stem}.key")) };
        create_dir(dir)?;
        write_file(&paths.key, &self.key_pem, KEY_FILE_MODE, Replace::Yes)?;
        write_file(&paths.cert, &self.cert_pem, CERT_FILE_MODE, Replace::Yes)?;
        Ok(paths)
    }
}

impl fmt::Debug for IssuedCert {
    /// Shows the certificate, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert").field("cert_pem", &self.cert_pem).field("key_pem", &"[redacted]").finish()
    }
}

impl CertUsage {
    /// The extended key usages a certificate for this usage carries.
    fn extended_key_usages(self) -> Vec<ExtendedKeyUsagePurpose> {
        match self {
            CertUsage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
            CertUsage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
            CertUsage::ServerAndClient => {
                vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth]
            }
        }
    }

    /// Whether peers verify the holder as a server, so that it needs a subjectAltName.
    fn serves(self) -> bool {
        matches!(self, CertUsage::Server | CertUsage::ServerAndClient)
    }
}

/// The CA certificate's parameters: `CN=<name>`, may sign end-entity certificates only
/// (path length 0), valid from `now` less [`CLOCK_SKEW`] for [`CA_VALIDITY`].
fn ca_params(name: &str, now: OffsetDateTime, serial: SerialNumber) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + CA_VALIDITY;
    params.serial_number = Some(serial);
    params
}

/// An issued certificate's parameters, checked: a common name, a subjectAltName for a server,
/// valid DNS names, and a validity of [`LEAF_VALIDITY`] that ends no later than the CA's.
fn leaf_params(
    spec: &CertSpec,
    now: OffsetDateTime,
    ca_not_after: OffsetDateTime,
    serial: SerialNumber,
) -> Result<CertificateParams, PkiError> {
    let common_name = non_empty(&spec.common_name, "the certificate's common name", "hangzhou")?;
    if ca_not_after <= now {
        return Err(PkiError::CaExpired { not_after: ca_not_after });
    }
    if spec.usage.serves() && spec.dns_names.is_empty() && spec.ip_addresses.is_empty() {
        return Err(PkiError::NoSubjectAltName { common_name: common_name.to_owned() });
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    for name in &spec.dns_names {
        let invalid = || PkiError::InvalidDnsName { common_name: common_name.to_owned(), name: name.clone() };
        if !is_dns_name(name) {
            return Err(invalid());
        }
        params.subject_alt_names.push(SanType::DnsName(Ia5String::try_from(name.as_str()).map_err(|_| invalid())?));
    }
    params.subject_alt_names.extend(spec.ip_addresses.iter().copied().map(SanType::IpAddress));
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = spec.usage.extended_key_usages();
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - CLOCK_SKEW;
    params.not_after = (now + LEAF_VALIDITY).min(ca_not_after);
    params.serial_number = Some(serial);
    Ok(params)
}

/// `value` if it has something other than white space, else [`PkiError::EmptyName`].
fn non_empty<'a>(value: &'a str, what: &'static str, example: &'static str) -> Result<&'a str, PkiError> {
    if value.trim().is_empty() { Err(PkiError::EmptyName { what, example }) } else { Ok(value) }
}

/// Whether `name` is a host name a certificate may carry: LDH labels, optionally a leading
/// wildcard label.
fn is_dns_name(name: &str) -> bool {
    let host = name.strip_prefix("*.").unwrap_or(name);
    let label_ok = |label: &str| {
        (1..=MAX_DNS_LABEL).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    name.len() <= MAX_DNS_NAME && host.split('.').all(label_ok)
}

/// Whether `stem` names a plain, visible file in a directory (no separators, no `..`).
fn is_file_stem(stem: &str) -> bool {
    !stem.is_empty()
        && !stem.starts_with('.')
        && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The current time in whole seconds, the resolution of a certificate's validity, so that the
/// validity a [`DevCa`] remembers is the one written in its certificate.
fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// A random positive serial number of [`SERIAL_BYTES`] octets: unique per certificate without
/// keeping a counter, as the CA/Browser Forum asks of public CAs.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; SERIAL_BYTES] = rand::random();
    // Positive (high bit clear) and full length (next bit set), so never zero.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

/// A fresh key pair of [`KEY_ALGORITHM`].
fn new_key(what: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate_for(KEY_ALGORITHM).map_err(|source| PkiError::Generate { what: what.to_owned(), source })
}

/// Whether writing a file may replace one already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replace {
    Yes,
    No,
}

/// Creates `dir` and its parents if missing.
fn create_dir(dir: &Path) -> Result<(), PkiError> {
    fs::create_dir_all(dir).map_err(io_error("writing", dir))
}

/// An [`PkiError::Io`] for `action` on `path`.
fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PkiError {
    let path = path.to_path_buf();
    move |source| PkiError::Io { action, path, source }
}

/// Reads a PEM file.
fn read_file(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(io_error("reading", path))
}

/// Writes `contents` to `path` with permission bits `mode` from the moment the file exists.
///
/// The data goes to a new hidden file next to `path` (created exclusively, so an existing file
/// or symlink there is never followed), then takes `path`'s name in one step: renamed over it
/// when `replace` allows, hard-linked otherwise (which fails if `path` exists). A reader never
/// sees a half-written file, and a key is never readable by others, not even briefly.
fn write_file(path: &Path, contents: &str, mode: u32, replace: Replace) -> Result<(), PkiError> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = path.with_file_name(format!(".{file_name}.{:016x}.tmp", rand::random::<u64>()));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&temp)
        .and_then(|mut file| file.write_all(contents.as_bytes()).and_then(|()| file.sync_all()))
        .and_then(|()| match replace {
            Replace::Yes => fs::rename(&temp, path),
            Replace::No => fs::hard_link(&temp, path).and_then(|()| fs::remove_file(&temp)),
        });
    match written {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && replace == Replace::No && path.exists() => {
            let _ = fs::remove_file(&temp);
            Err(PkiError::AlreadyExists { path: path.to_path_buf() })
        }
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(io_error("writing", path)(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    fn spec(usage: CertUsage, dns: &[&str], ips: &[IpAddr]) -> CertSpec {
        let dns_names = dns.iter().map(|s| s.to_string()).collect();
        CertSpec { common_name: "hangzhou".into(), dns_names, ip_addresses: ips.to_vec(), usage }
    }

    #[test]
    fn host_names_are_ldh_labels_and_file_stems_stay_inside_their_directory() {
        let long_label = "a".repeat(MAX_DNS_LABEL + 1);
        assert!(["localhost", "hub.afc.example", "*.afc.example", "city-1", "a1.b2"].into_iter().all(is_dns_name));
        for bad in ["", "a..b", "-a", "a-", "a b", "a/b", "hub.*.example", "é.example", long_label.as_str()] {
            assert!(!is_dns_name(bad), "{bad}");
        }
        assert!(is_file_stem("hangzhou") && is_file_stem("hub-1.leaf"));
        assert!(["", ".hidden", "..", "a/b", "../ca", "a b"].into_iter().all(|bad| !is_file_stem(bad)));
    }

    #[test]
    fn serials_are_positive_full_length_and_differ() {
        let (a, b) = (random_serial().to_bytes(), random_serial().to_bytes());
        assert_eq!(a.len(), SERIAL_BYTES);
        assert_eq!(a[0] & 0xc0, 0x40);
        assert_ne!(a, b);
    }

    #[test]
    fn a_leaf_never_outlives_its_ca_and_an_expired_ca_issues_nothing() {
        let now = at(1_800_000_000);
        let server = spec(CertUsage::Server, &["localhost"], &[]);
        let far = leaf_params(&server, now, now + CA_VALIDITY, random_serial()).unwrap();
        assert_eq!((far.not_before, far.not_after), (now - CLOCK_SKEW, now + LEAF_VALIDITY));
        let soon = leaf_params(&server, now, now + Duration::days(30), random_serial()).unwrap();
        assert_eq!(soon.not_after, now + Duration::days(30));
        let expired = leaf_params(&server, now, now, random_serial()).unwrap_err();
        assert!(matches!(expired, PkiError::CaExpired { .. }), "{expired}");
    }

    #[test]
    fn a_server_certificate_needs_a_subject_alt_name_and_a_client_certificate_does_not() {
        let now = at(1_800_000_000);
        for usage in [CertUsage::Server, CertUsage::ServerAndClient] {
            let err = leaf_params(&spec(usage, &[], &[]), now, now + CA_VALIDITY, random_serial()).unwrap_err();
            assert!(matches!(&err, PkiError::NoSubjectAltName { common_name } if common_name == "hangzhou"), "{err}");
        }
        let client = leaf_params(&spec(CertUsage::Client, &[], &[]), now, now + CA_VALIDITY, random_serial()).unwrap();
        assert_eq!(client.extended_key_usages, vec![ExtendedKeyUsagePurpose::ClientAuth]);
    }

    #[test]
    fn bad_names_are_refused_naming_the_value() {
        let now = at(1_800_000_000);
        let err = leaf_params(&spec(CertUsage::Server, &["hub example"], &[]), now, now + CA_VALIDITY, random_serial())
            .unwrap_err();
        assert!(err.to_string().contains("\"hub example\""), "{err}");
        let mut nameless = spec(CertUsage::Client, &[], &[]);
        nameless.common_name = "  ".into();
        let err = leaf_params(&nameless, now, now + CA_VALIDITY, random_serial()).unwrap_err();
        assert!(matches!(err, PkiError::EmptyName { .. }), "{err}");
        assert!(matches!(DevCa::generate("").unwrap_err(), PkiError::EmptyName { .. }));
    }

    #[test]
    fn debug_output_never_shows_a_private_key() {
        let ca = DevCa::generate("afc development CA").unwrap();
        let issued = ca.issue(&spec(CertUsage::Client, &[], &[])).unwrap();
        let shown = format!("{ca:?} {issued:?}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
        assert!(issued.key_pem.contains("PRIVATE KEY"));
    }
}
