//! A city's nats-server secured as a deployment is: the accounts and grants the `security`
//! crate renders, TLS with a certificate of a development CA, and an identity per process,
//! its seed saved where `afc … --credentials DIR` looks for it (`DIR/keys/<name>.nk`,
//! `DIR/pki/ca.crt`).

use std::path::{Path, PathBuf};

use domain::{BankId, City};
use security::accounts::{self, User};
use security::pki::{CertSpec, CertUsage, DevCa};
use security::{Identity, roles};
use testkit::{NatsServer, ServerOptions};

pub fn city() -> City {
    City::parse("hangzhou").unwrap()
}

pub fn icbc() -> BankId {
    BankId::parse("icbc").unwrap()
}

/// The city's server and its identities: intake, freezing, blocking, dissuasion, staff, admin, the icbc
/// gateway.
pub struct SecuredCity {
    pub server: NatsServer,
    pub intake: Identity,
    pub freezing: Identity,
    pub staff: Identity,
    pub admin: Identity,
    pub bank: Identity,
    /// The CA every client trusts.
    pub ca: PathBuf,
    /// The credentials directory: `keys/` (every identity's seed, 0600) and `pki/`.
    dir: tempfile::TempDir,
}

impl SecuredCity {
    /// What `--credentials` names.
    pub fn credentials_dir(&self) -> &Path {
        self.dir.path()
    }
}

pub async fn secured_city() -> SecuredCity {
    let city = city();
    let dir = tempfile::tempdir().unwrap();
    let [intake, freezing, blocking, dissuasion, restitution, staff, admin, bank] = [
        "hangzhou-intake",
        "hangzhou-freezing",
        "hangzhou-blocking",
        "hangzhou-dissuasion",
        "hangzhou-restitution",
        "hangzhou-staff",
        "hangzhou-admin",
        "hangzhou-bank-icbc",
    ]
    .map(|name| Identity::generate(name).unwrap());
    for identity in [&intake, &freezing, &blocking, &dissuasion, &restitution, &staff, &admin, &bank] {
        identity.save(&dir.path().join("keys")).unwrap();
    }
    let user =
        |id: &Identity, grant| User { who: id.name().into(), public_key: id.public_key().into(), grant, leaf: false };
    let users = vec![
        user(&intake, intake::grant(&city)),
        user(&freezing, freezing::grant(&city)),
        user(&blocking, blocking::grant(&city)),
        user(&dissuasion, dissuasion::grant(&city)),
        user(&restitution, restitution::grant(&city)),
        user(&staff, roles::staff(&city)),
        user(&admin, roles::provisioner(&city)),
    ];
    let banks = vec![(icbc(), user(&bank, roles::bank_gateway(&icbc())))];
    let served = roles::Gateways { banks, ..roles::Gateways::default() };
    let accounts = accounts::render(&roles::city_accounts(&city, users, served), None).unwrap();
    let pki = dir.path().join("pki");
    let ca = DevCa::generate("afc test CA").unwrap();
    let ca_paths = ca.save(&pki).unwrap();
    let spec = CertSpec {
        common_name: city.as_str().into(),
        dns_names: vec!["localhost".into()],
        ip_addresses: vec![std::net::Ipv4Addr::LOCALHOST.into()],
        usage: CertUsage::ServerAndClient,
    };
    let cert = ca.issue(&spec).unwrap().save(&pki, city.as_str()).unwrap();
    let tls = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  timeout: 2\n}}\n",
        cert.cert.display(),
        cert.key.display(),
        ca_paths.cert.display()
    );
    let options = ServerOptions {
        jetstream_domain: Some(city.as_str().into()),
        extra_config: Some(format!("{tls}{accounts}")),
        ..ServerOptions::new(city.as_str())
    };
    let server = NatsServer::start(options).await.unwrap();
    SecuredCity { server, intake, freezing, staff, admin, bank, ca: ca_paths.cert, dir }
}
