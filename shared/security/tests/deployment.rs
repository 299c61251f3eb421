//! A generated deployment's nats-server configs are valid for nats-server itself
//! (`nats-server -t`), its secrets are readable by their owner only, and a city's config
//! names its leaf seed without holding it.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Command;

use domain::{City, Service};
use protocol::subjects;
use security::Grant;
use security::deployment::{DeploymentSpec, generate};

fn spec(data: &std::path::Path) -> DeploymentSpec {
    DeploymentSpec {
        cities: vec![City::parse("hangzhou").unwrap(), City::parse("wenzhou").unwrap()],
        host: "localhost".into(),
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        base_port: 14222,
        data: data.to_owned(),
        banks: vec![domain::BankId::parse("icbc").unwrap()],
        platforms: vec![domain::PlatformId::parse("alipay").unwrap()],
    }
}

/// Grants standing in for the services' own (the services' crates are not dependencies here).
fn services(city: &City) -> Vec<(&'static str, Grant)> {
    vec![
        ("intake", Grant::new().publish(subjects::service_events(city, Service::Intake))),
        ("freezing", Grant::new().publish(subjects::service_events(city, Service::Freezing))),
    ]
}

#[test]
fn every_generated_config_passes_nats_server_t_and_every_secret_is_0600() {
    let dir = tempfile::tempdir().unwrap();
    let deployment = generate(&spec(&dir.path().join("data")), dir.path(), &services).unwrap();
    let binary = testkit::nats_server_binary().unwrap();
    let configs = std::iter::once(&deployment.hub_config).chain(deployment.city_configs.iter().map(|(_, path)| path));
    let mut checked = 0;
    for config in configs {
        let output = Command::new(&binary).arg("-t").arg("-c").arg(config).output().unwrap();
        assert!(
            output.status.success(),
            "nats-server -t {}: {}{}",
            config.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        checked += 1;
    }
    assert_eq!(checked, 3, "the hub and both cities");

    for entry in std::fs::read_dir(dir.path().join("keys")).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "{}", path.display());
    }
    let leaf = dir.path().join("nats/hangzhou.leaf.conf");
    assert_eq!(std::fs::metadata(&leaf).unwrap().permissions().mode() & 0o777, 0o600);
    let config = std::fs::read_to_string(&deployment.city_configs[0].1).unwrap();
    assert!(config.contains("nkey: $LEAF_SEED") && !config.contains("SU"), "the seed stays in the leaf file");
    // Per city: intake, freezing, staff, admin, the icbc and alipay gateways; and the province's admin.
    assert_eq!(std::fs::read_dir(dir.path().join("keys")).unwrap().count(), 2 * 6 + 1, "every identity has its key");
}

#[test]
fn a_config_naming_a_missing_file_fails_nats_server_t() {
    // The check is worth something: nats-server -t refuses a config whose include is gone.
    let dir = tempfile::tempdir().unwrap();
    let deployment = generate(&spec(&dir.path().join("data")), dir.path(), &services).unwrap();
    std::fs::remove_file(dir.path().join("nats/hangzhou.leaf.conf")).unwrap();
    let binary = testkit::nats_server_binary().unwrap();
    let output = Command::new(&binary).arg("-t").arg("-c").arg(&deployment.city_configs[0].1).output().unwrap();
    assert!(!output.status.success(), "a missing include is refused");
}

#[test]
fn generating_again_keeps_the_ca() {
    let dir = tempfile::tempdir().unwrap();
    generate(&spec(&dir.path().join("data")), dir.path(), &services).unwrap();
    let first = std::fs::read(dir.path().join("pki/ca.crt")).unwrap();
    generate(&spec(&dir.path().join("data")), dir.path(), &services).unwrap();
    assert_eq!(std::fs::read(dir.path().join("pki/ca.crt")).unwrap(), first, "certificates issued before stay trusted");
}
