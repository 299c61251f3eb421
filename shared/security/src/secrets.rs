//! A province's secrets, without its server configs: the development CA and every node's
//! certificate, every process's identity, and each server's `accounts` block. [`generate`]
//! writes the CA, certificates and seeds into a directory (the layout
//! [`crate::connect::CredentialFiles::of_deployment`] reads) and keeps the accounts blocks and
//! each city's leaf identity in memory: [`crate::deployment::generate`] writes them into the
//! configs of an installed deployment, the test and lab harnesses into the configs of servers
//! on ports of their own.
//!
//! Identities: per city `<city>-<service>` for each service, `<city>-staff`, `<city>-admin`
//! (its provisioner), `<city>-lab` (its observer), `<city>-bank-<bank>` and
//! `<city>-pay-<platform>` and `<city>-carrier-<carrier>` for the gateways served there, and `leaf-<city>` (its link to the
//! hub, kept in the city's server config only), `<city>-console` (the staff console's ear
//! for the city's events) and one per member of staff (`crate::staff`, the roster in
//! `staff/<city>.json`); on the hub `province-admin`, `province-lab`, `province-coordinator`
//! and the province's staff (`staff/province.json`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use domain::{BankId, Carrier, City, PlatformId};

use crate::accounts::{self, User};
use crate::connect::CredentialFiles;
use crate::deployment::{DeploymentError, ServiceGrants};
use crate::grant::Grant;
use crate::keys::Identity;
use crate::pki::{CertPaths, CertSpec, CertUsage, DevCa};
use crate::staff::{self, Roster, StaffMember};
use crate::{hub, roles};

/// Whose secrets to generate.
#[derive(Debug, Clone)]
pub struct SecretsSpec {
    pub cities: Vec<City>,
    /// The host every node is reached at (its certificate names it, with `localhost`).
    pub host: String,
    /// The address peers dial (an IP SAN; loopback for a province on one machine).
    pub address: IpAddr,
    /// Banks and payment platforms each city serves (gateways connect at the city).
    pub banks: Vec<BankId>,
    pub platforms: Vec<PlatformId>,
    /// Carriers each city orders blocks from (gateways connect at the city).
    pub carriers: Vec<Carrier>,
    /// More names the hub's certificate carries: the hosts of a hub of several nodes, each
    /// of which presents it (to clients, cities and the other nodes).
    pub hub_hosts: Vec<String>,
}

/// One server's secrets: its certificate (also its leaf client certificate) and the
/// `accounts` block of its config.
#[derive(Debug, Clone)]
pub struct NodeSecrets {
    pub cert: CertPaths,
    pub accounts: String,
}

/// A city server's secrets, and the identity of its leaf link to the hub.
#[derive(Clone)]
pub struct CitySecrets {
    pub city: City,
    pub node: NodeSecrets,
    leaf: Identity,
}

impl std::fmt::Debug for CitySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitySecrets").field("city", &self.city).field("leaf", &self.leaf.name()).finish()
    }
}

impl CitySecrets {
    /// The seed of the city's leaf identity: goes into the city server's config (a file only
    /// the server may read), nowhere else.
    pub fn leaf_seed(&self) -> &str {
        self.leaf.seed()
    }
}

/// A province's secrets: `dir` holds `pki/` and `keys/`.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub dir: PathBuf,
    /// The CA certificate every node and process trusts.
    pub ca: PathBuf,
    pub hub: NodeSecrets,
    /// The SHA-256 (hex) of the hub certificate's SubjectPublicKeyInfo: a clustered hub's
    /// routes accept only a peer presenting it (`pinned_certs`), so no other certificate of
    /// the CA (a city's) can join the hub as a route.
    pub hub_pin: String,
    pub cities: Vec<CitySecrets>,
}

/// The name of a city identity: `<city>-<who>`.
pub fn city_identity(city: &City, who: &str) -> String {
    format!("{city}-{who}")
}

/// The name of a province identity on the hub: `province-<who>`.
pub fn province_identity(who: &str) -> String {
    format!("{}-{who}", protocol::subjects::PROVINCE_DOMAIN)
}

/// Generates the secrets `spec` describes into `dir` (a CA already there is used, never
/// replaced: certificates it issued stay trusted; every identity is new). `services` gives
/// each city's services' grants.
pub fn generate(spec: &SecretsSpec, dir: &Path, services: &ServiceGrants) -> Result<Secrets, DeploymentError> {
    if spec.cities.is_empty() {
        return Err(DeploymentError::NoCity);
    }
    let files = CredentialFiles::of_deployment(dir);
    let (pki, keys) = (files.ca_file.parent().unwrap_or(dir).to_owned(), files.keys_dir.clone());
    for path in [&pki, &keys] {
        std::fs::create_dir_all(path).map_err(|source| DeploymentError::Io { path: path.clone(), source })?;
    }
    let ca = match DevCa::load(&pki) {
        Ok(ca) => ca,
        Err(_) if !pki.join("ca.key").exists() => {
            let ca = DevCa::generate("afc development CA")?;
            ca.save(&pki)?;
            ca
        }
        Err(error) => return Err(error.into()),
    };
    let certificate = |name: &str, more: &[String]| -> Result<CertPaths, DeploymentError> {
        let mut dns_names = vec![spec.host.clone(), "localhost".into()];
        dns_names.extend(more.iter().filter(|host| !dns_names.contains(host)).cloned().collect::<Vec<_>>());
        let cert = CertSpec {
            common_name: name.into(),
            dns_names,
            ip_addresses: vec![spec.address],
            usage: CertUsage::ServerAndClient,
        };
        Ok(ca.issue(&cert)?.save(&pki, name)?)
    };
    let user = |name: &str, grant: Grant| -> Result<User, DeploymentError> {
        let identity = Identity::generate(name)?;
        identity.save(&keys)?;
        Ok(User { who: identity.name().into(), public_key: identity.public_key().into(), grant, leaf: false })
    };

    let mut cities = Vec::new();
    let mut leaves = Vec::new();
    for city in &spec.cities {
        let mut users = Vec::new();
        for (service, grant) in services(city) {
            users.push(user(&city_identity(city, service), grant)?);
        }
        users.push(user(&city_identity(city, "staff"), roles::staff(city))?);
        users.push(user(&city_identity(city, "admin"), roles::provisioner(city))?);
        users.push(user(&city_identity(city, roles::OBSERVER), roles::observer(city))?);
        users.push(user(&city_identity(city, staff::CONSOLE), staff::console(city))?);
        let mut roster = Roster::default();
        for (person, role) in staff::DEFAULT_CITY_STAFF {
            let name = city_identity(city, person);
            let member = user(&name, staff::grant(city, &name, role))?;
            roster.members.push(StaffMember { name, role, public_key: member.public_key.clone() });
            users.push(member);
        }
        save_roster(&roster, &Roster::path(dir, city.as_str()))?;
        let mut banks = Vec::new();
        for bank in &spec.banks {
            banks.push((bank.clone(), user(&city_identity(city, &format!("bank-{bank}")), roles::bank_gateway(bank))?));
        }
        let mut platforms = Vec::new();
        for platform in &spec.platforms {
            let name = city_identity(city, &roles::platform_gateway_name(platform));
            let gateway = user(&name, roles::platform_gateway(city, platform))?;
            platforms.push((platform.clone(), gateway));
        }
        let mut carriers = Vec::new();
        for carrier in &spec.carriers {
            let name = city_identity(city, &roles::carrier_gateway_name(*carrier));
            let gateway = user(&name, roles::carrier_gateway(city, *carrier))?;
            carriers.push((*carrier, gateway));
        }
        let served = roles::Gateways { banks, platforms, carriers };
        let accounts = accounts::render(&roles::city_accounts(city, users, served), None)?;
        let leaf = Identity::generate(&format!("leaf-{city}"))?;
        leaves.push((
            city.clone(),
            User {
                who: leaf.name().into(),
                public_key: leaf.public_key().into(),
                grant: hub::leaf_link(city),
                leaf: false,
            },
        ));
        let node = NodeSecrets { cert: certificate(city.as_str(), &[])?, accounts };
        cities.push(CitySecrets { city: city.clone(), node, leaf });
    }
    let mut province_users = vec![
        user(&province_identity("admin"), hub::province_provisioner())?,
        user(&province_identity(roles::OBSERVER), hub::province_observer())?,
        user(&province_identity(hub::COORDINATOR), hub::province_coordinator())?,
    ];
    let mut roster = Roster::default();
    for (person, role) in staff::DEFAULT_PROVINCE_STAFF {
        let name = province_identity(person);
        let member = user(&name, staff::province_grant(&name, role))?;
        roster.members.push(StaffMember { name, role, public_key: member.public_key.clone() });
        province_users.push(member);
    }
    save_roster(&roster, &Roster::path(dir, staff::PROVINCE_ROSTER))?;
    let accounts = accounts::render(&hub::hub_accounts(&leaves, province_users), None)?;
    let hub = NodeSecrets { cert: certificate("hub", &spec.hub_hosts)?, accounts };
    let hub_pin = public_key_pin(&hub.cert.cert)?;
    Ok(Secrets { dir: dir.to_owned(), ca: files.ca_file, hub, hub_pin, cities })
}

impl Secrets {
    /// A city's secrets.
    pub fn city(&self, city: &City) -> Option<&CitySecrets> {
        self.cities.iter().find(|secrets| &secrets.city == city)
    }

    /// A server's `tls` block (indented by `indent`) with `cert`, trusting the CA; `verify`:
    /// the peer must present a certificate of the CA.
    pub fn tls_block(&self, indent: &str, cert: &CertPaths, verify: bool) -> String {
        tls_block(indent, cert, &self.ca, verify)
    }

    /// The `tls` block of a clustered hub's `cluster` (indented by `indent`): the routes
    /// present the hub's certificate, verify the peer's against the CA (nats-server always
    /// does on routes) and accept only the hub's own key ([`Secrets::hub_pin`]). Every node
    /// holds the same certificate, which names the host the routes dial.
    pub fn cluster_tls_block(&self, indent: &str) -> String {
        let block = self.tls_block(indent, &self.hub.cert, true);
        let end = format!("{indent}}}\n");
        let pinned = format!("{indent}  pinned_certs: [\"{}\"]\n", self.hub_pin);
        match block.strip_suffix(&end) {
            Some(open) => format!("{open}{pinned}{end}"),
            None => block,
        }
    }

    /// The lines of a city's leaf remote that bind it to its account on the hub and verify
    /// the hub: the account, the leaf seed (`seed`: inline, or `$LEAF_SEED` from an include)
    /// and the TLS block.
    pub fn leaf_remote(&self, city: &CitySecrets, indent: &str, seed: &str) -> String {
        format!(
            "{indent}account: \"{}\"\n{indent}nkey: {seed}\n{}",
            roles::city_account_name(&city.city),
            self.tls_block(indent, &city.node.cert, false)
        )
    }
}

/// Writes a node's roster of staff (`staff/<node>.json`).
fn save_roster(roster: &Roster, path: &Path) -> Result<(), DeploymentError> {
    roster.save(path).map_err(|error| match error {
        staff::RosterError::Io { path, source } => DeploymentError::Io { path, source },
        other => DeploymentError::Io { path: path.to_owned(), source: std::io::Error::other(other.to_string()) },
    })
}

/// A `tls` block of a nats-server config.
pub fn tls_block(indent: &str, cert: &CertPaths, ca: &Path, verify: bool) -> String {
    let verify = if verify { format!("{indent}  verify: true\n") } else { String::new() };
    format!(
        "{indent}tls {{\n{indent}  cert_file: \"{}\"\n{indent}  key_file: \"{}\"\n{indent}  ca_file: \"{}\"\n{indent}  timeout: 2\n{verify}{indent}}}\n",
        cert.cert.display(),
        cert.key.display(),
        ca.display()
    )
}

/// The SHA-256 (hex) of the SubjectPublicKeyInfo of the PEM certificate at `path`: what
/// nats-server's `pinned_certs` lists.
pub fn public_key_pin(path: &Path) -> Result<String, DeploymentError> {
    use sha2::Digest as _;
    let pem = std::fs::read_to_string(path).map_err(|source| DeploymentError::Io { path: path.to_owned(), source })?;
    let bad = |detail: String| crate::pki::PkiError::Unreadable {
        path: path.to_owned(),
        expected: "PEM certificate",
        detail,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let cert = pem.parse_x509().map_err(|e| bad(e.to_string()))?;
    let digest = sha2::Sha256::digest(cert.public_key().raw);
    Ok(domain::hex::encode(&digest))
}
