//! The systemd units an operator installs (deploy/systemd) are what systemd accepts: each
//! passes `systemd-analyze verify` without one warning, with its `/usr/local/bin` programs
//! replaced by the binaries of this build (verify checks that every command exists), and
//! each keeps the rules of docs/operations.md (a dedicated user, restart on failure, the
//! hardening options).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder of the units, in this repository.
fn units_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/systemd")
}

/// Every unit file there: (file name, text).
fn units() -> Vec<(String, String)> {
    let mut units: Vec<(String, String)> = std::fs::read_dir(units_dir())
        .expect("deploy/systemd exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "service"))
        .map(|path| (path.file_name().unwrap().to_str().unwrap().to_owned(), std::fs::read_to_string(&path).unwrap()))
        .collect();
    units.sort();
    units
}

/// `systemd-analyze`, installed with apt-get (the `systemd` package) when missing.
fn systemd_analyze() -> PathBuf {
    let found = || {
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|dir| dir.join("systemd-analyze"))
            .find(|path| path.is_file())
    };
    if let Some(path) = found() {
        return path;
    }
    let apt = |args: &[&str]| {
        let status = Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").status();
        assert!(
            status.as_ref().is_ok_and(|s| s.success()),
            "systemd-analyze is missing and `apt-get {}` failed ({status:?}); install the systemd package",
            args.join(" ")
        );
    };
    apt(&["update", "-q"]);
    apt(&["install", "-q", "-y", "--no-install-recommends", "systemd"]);
    found().expect("the systemd package installs systemd-analyze")
}

#[test]
fn every_unit_in_deploy_systemd_passes_systemd_analyze_verify_without_a_warning() {
    let units = units();
    let names: Vec<&str> = units.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "afc-city@.service",
            "afc-console-province.service",
            "afc-console@.service",
            "nats-city@.service",
            "nats-hub.service",
            "nats-hub@.service"
        ]
    );
    let analyze = systemd_analyze();
    let nats = testkit::nats_server_binary().expect("a nats-server (cargo xtask install-nats)");
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in &units {
        let text = text
            .replace("/usr/local/bin/afc ", &format!("{} ", env!("CARGO_BIN_EXE_afc")))
            .replace("/usr/local/bin/nats-server ", &format!("{} ", nats.display()));
        assert!(!text.contains("/usr/local/bin/"), "{name}: a program this test does not provide");
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    for (name, _) in &units {
        // A template is verified as itself and as the instance an operator enables.
        let mut targets = vec![name.clone()];
        if name.ends_with("@.service") {
            // A hub node is named by its number, a city by its name.
            let instance = if name.starts_with("nats-hub@") { "2" } else { "hangzhou" };
            targets.push(name.replace("@.service", &format!("@{instance}.service")));
        }
        for target in targets {
            let output = Command::new(&analyze)
                .args(["verify", "--man=no"])
                .arg(dir.path().join(&target))
                .env("SYSTEMD_LOG_COLOR", "0")
                .output()
                .expect("systemd-analyze runs");
            let said =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            let stems: Vec<&str> = names.iter().map(|n| n.trim_end_matches(".service").trim_end_matches('@')).collect();
            let about_ours: Vec<&str> = said
                .lines()
                .filter(|line| {
                    line.contains(dir.path().to_str().unwrap()) || stems.iter().any(|stem| line.contains(stem))
                })
                .collect();
            assert!(output.status.success() && about_ours.is_empty(), "systemd-analyze verify {target}:\n{said}");
        }
    }
}

#[test]
fn every_unit_runs_as_a_dedicated_user_restarts_on_failure_and_is_hardened() {
    let required = [
        "Restart=on-failure",
        "StateDirectory=",
        "StateDirectoryMode=0700",
        "ConfigurationDirectory=afc",
        "UMask=0077",
        "LimitNOFILE=",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=\n",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "After=",
        "Wants=",
    ];
    for (name, text) in units() {
        for line in required {
            // The console keeps nothing on disk.
            let stateless = name.starts_with("afc-console") && line.starts_with("StateDirectory");
            assert!(stateless || text.contains(line), "{name} lacks {line:?}");
        }
        let user = if name.starts_with("afc-") { "User=afc\n" } else { "User=afc-nats\n" };
        assert!(text.contains(user), "{name} runs as {user:?}");
        assert!(!text.contains("DynamicUser"), "{name}: keys need a user that stays the same");
    }
    let city = std::fs::read_to_string(units_dir().join("afc-city@.service")).unwrap();
    assert!(city.contains("After=nats-city@%i.service"), "afc starts after its city's nats-server");
    assert!(city.contains("KillSignal=SIGINT"), "afc stops gracefully on SIGINT only");
    assert!(city.contains("afc city --config /etc/afc/%i.toml"), "afc reads its city's config file");
    let node = std::fs::read_to_string(units_dir().join("nats-hub@.service")).unwrap();
    assert!(node.contains("-c /etc/afc/nats/hub-%i.conf"), "a hub node runs its own generated config");
    let single = std::fs::read_to_string(units_dir().join("nats-hub.service")).unwrap();
    // Apart from the config it runs (and what says so), a hub node is the hub's unit.
    let settings = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|line| {
                !line.starts_with('#') && !line.starts_with("Description=") && !line.starts_with("Conflicts=")
            })
            .map(|line| line.replace("hub-%i.conf", "hub.conf"))
            .collect()
    };
    assert_eq!(settings(&node), settings(&single), "nats-hub@.service drifted from nats-hub.service");
}
