//! A node's config file from the command line: `afc config check` names every problem with
//! its key and exits non-zero, or prints a summary; `afc city --config` runs the node the
//! file describes, a flag overriding the file.

mod common;

use std::process::{Output, Stdio};
use std::time::Duration;

use domain::City;
use testkit::{NatsServer, ServerOptions};

const BOUND: Duration = Duration::from_secs(30);

/// Runs `afc` with `args` and no `AFC_*` variable set, to its end (bounded).
async fn afc(args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_afc"));
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("AFC_")) {
        command.env_remove(name);
    }
    let run = command.args(args).env("RUST_BACKTRACE", "0").stdin(Stdio::null()).kill_on_drop(true).output();
    tokio::time::timeout(BOUND, run).await.expect("afc ends").expect("afc runs")
}

#[tokio::test]
async fn config_check_names_every_problem_of_a_bad_file_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(secrets.join("keys")).unwrap();
    let config = dir.path().join("city.toml");
    let text = format!(
        "city = \"Hang Zhou\"\ncolour = \"red\"\nfreeze_after_ms = 172800000\nat_risk_margin_ms = \"soon\"\ndata_dir = \"{}\"\n[credentials]\ndir = \"{}\"\n[logging]\nformat = \"xml\"\n",
        blocker.join("data").display(),
        secrets.display()
    );
    std::fs::write(&config, text).unwrap();

    let output = afc(&["config", "check", config.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for expected in [
        "city: \"Hang Zhou\" is not a city name",
        "colour: unknown key",
        "freeze_after_ms: 172800000 is not well under",
        "at_risk_margin_ms: wrong type",
        "data_dir: ",
        "credentials.ca_file: ",
        "logging.format: \"xml\" is not a log format; accepted: text, json",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing from:\n{stderr}");
    }
    assert!(stderr.contains("7 problem(s)"), "{stderr}");
}

#[tokio::test]
async fn config_check_summarises_a_good_file_and_afc_city_runs_the_node_it_describes() {
    let server = NatsServer::start(ServerOptions::new("hangzhou")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("hangzhou.toml");
    let text = format!(
        "city = \"hangzhou\"\nnats_url = \"nats://127.0.0.1:1\"\ndata_dir = \"{}\"\nfreeze_after_ms = 1000\n[logging]\nlevel = \"info\"\n",
        data.display()
    );
    std::fs::write(&config, text).unwrap();

    let output = afc(&["config", "check", config.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.starts_with("ok: ") && stdout.contains("city hangzhou (intake, freezing, blocking)"), "{stdout}");
    assert!(stdout.contains("freeze after 1000 ms"), "{stdout}");

    // The file names a port nobody listens on; the flag names the server, and wins.
    let city = City::parse("hangzhou").unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    bus::streams::ensure_city_stream(&async_nats::jetstream::new(client.clone()), &city).await.unwrap();
    let mut node = tokio::process::Command::new(env!("CARGO_BIN_EXE_afc"))
        .args(["city", "--config", config.to_str().unwrap(), "--nats", &server.url()])
        .env_remove("AFC_NATS_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    common::wait_ready(&client, &city, BOUND).await;
    assert!(data.join("intake.redb").exists(), "the stores are in the file's data_dir");
    node.kill().await.unwrap();
}

#[tokio::test]
async fn afc_city_refuses_to_start_on_a_bad_config_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("city.toml");
    std::fs::write(
        &config,
        format!("city = \"hangzhou\"\ndata_dir = \"{}\"\nonly = \"warning\"\n", dir.path().display()),
    )
    .unwrap();
    let output = afc(&["city", "--config", config.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("only: \"warning\" is not a service"), "{stderr}");
}
