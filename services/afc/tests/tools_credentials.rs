//! The staff's and the administrators' commands connect as their own identities when given
//! `--credentials DIR`: `afc city provision` as `<city>-admin` makes the city's stream (an
//! identity without that grant is refused it), and `afc case report|show` as `<city>-staff`
//! file and read a case through a city server with accounts, grants and TLS.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use async_nats::jetstream;
use common::secured::{city, secured_city};
use protocol::subjects;
use security::CredentialFiles;

const BOUND: Duration = Duration::from_secs(30);

/// Runs `afc` with `args` to its end (bounded).
async fn afc(args: &[&str]) -> Output {
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_afc"))
        .args(args)
        .env_remove("AFC_CREDENTIALS")
        .env_remove("AFC_NATS_URL")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(BOUND, command).await.expect("afc ends").expect("afc runs")
}

fn text(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn city_provision_makes_the_stream_as_the_citys_admin_and_staff_credentials_are_refused_it() {
    let secured = secured_city().await;
    let url = secured.server.url();

    // A credentials directory whose admin key is really the staff's: the server sees staff.
    let impostor = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(impostor.path().join("pki")).unwrap();
    std::fs::copy(&secured.ca, impostor.path().join("pki/ca.crt")).unwrap();
    std::fs::create_dir_all(impostor.path().join("keys")).unwrap();
    let keys = secured.credentials_dir().join("keys");
    std::fs::copy(keys.join("hangzhou-staff.nk"), impostor.path().join("keys/hangzhou-admin.nk")).unwrap();
    let refused =
        afc(&["city", "provision", "--city", "hangzhou", "--nats", &url, "--credentials", path(impostor.path())]).await;
    assert!(!refused.status.success(), "staff may not make the stream:\n{}", text(&refused));

    let admin = CredentialFiles::of_deployment(secured.credentials_dir())
        .credentials("hangzhou-admin", subjects::city_inbox(&city(), "admin"))
        .unwrap();
    let js = jetstream::new(admin.options().connect(&url).await.unwrap());
    assert!(js.get_stream(city().stream_name()).await.is_err(), "the refused provision made no stream");

    let made = afc(&[
        "city",
        "provision",
        "--city",
        "hangzhou",
        "--nats",
        &url,
        "--credentials",
        path(secured.credentials_dir()),
    ])
    .await;
    assert!(made.status.success(), "{}", text(&made));
    assert!(String::from_utf8_lossy(&made.stdout).contains("AFC_HANGZHOU"), "{}", text(&made));
    js.get_stream(city().stream_name()).await.expect("the admin's provision made the stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_file_a_report_and_read_its_case_through_a_secured_server() {
    let secured = secured_city().await;
    let url = secured.server.url();
    let credentials = path(secured.credentials_dir()).to_owned();
    let provisioned =
        afc(&["city", "provision", "--city", "hangzhou", "--nats", &url, "--credentials", &credentials]).await;
    assert!(provisioned.status.success(), "{}", text(&provisioned));
    let data = tempfile::tempdir().unwrap();
    let _node =
        common::start(&secured.server, data.path(), &city(), &["--credentials", &credentials], "warn", Stdio::null());

    // Intake answers staff once it is up: a case nobody reported is `unknown_case` (exit 2).
    let probe = domain::CaseId::derive(&city(), 0).to_string();
    let show = ["case", "show", "--city", "hangzhou", "--nats", &url, "--credentials", &credentials];
    testkit::eventually(BOUND, "intake answers staff", || {
        let args: Vec<&str> = show.iter().copied().chain([probe.as_str()]).collect();
        async move { (afc(&args).await.status.code() == Some(afc::cli::case::EXIT_REFUSED)).then_some(()) }
    })
    .await;

    let wave = simulator::wave::single_trail(5, domain::system_clock().now_ms());
    let report = data.path().join("report.json");
    std::fs::write(&report, serde_json::to_vec(&wave.reports[0].body).unwrap()).unwrap();
    let filed = afc(&[
        "case",
        "report",
        "--city",
        "hangzhou",
        "--nats",
        &url,
        "--credentials",
        &credentials,
        "--file",
        path(&report),
    ])
    .await;
    assert!(filed.status.success(), "{}", text(&filed));
    let case_id = String::from_utf8_lossy(&filed.stdout).trim().to_owned();
    assert!(case_id.starts_with("hangzhou-"), "a case id: {}", text(&filed));

    let mut args: Vec<&str> = show.to_vec();
    args.extend([case_id.as_str(), "--json"]);
    let shown = afc(&args).await;
    assert!(shown.status.success(), "{}", text(&shown));
    let timeline: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(timeline["case_id"], case_id.as_str(), "{}", text(&shown));
    assert!(timeline["blocking"].is_object(), "the case shows blocking's part: {}", text(&shown));

    // The case list and search, as the same identity: the case filed, on the local clock; a
    // query with HTML in it refused.
    let cases = ["case", "list", "--city", "hangzhou", "--nats", &url, "--credentials", &credentials];
    let listed = afc(&cases).await;
    assert!(listed.status.success(), "{}", text(&listed));
    let first = String::from_utf8_lossy(&listed.stdout).lines().next().unwrap_or_default().to_owned();
    assert!(first.starts_with(&format!("{case_id}  20")), "the case and its local time: {}", text(&listed));
    let search = ["case", "search", "--city", "hangzhou", "--nats", &url, "--credentials", &credentials];
    let found = afc(&search.iter().copied().chain([case_id.as_str(), "--json"]).collect::<Vec<_>>()).await;
    let matched: serde_json::Value =
        serde_json::from_slice(&found.stdout).unwrap_or_else(|_| panic!("{}", text(&found)));
    assert_eq!(matched["case_id"], case_id.as_str());
    let html = afc(&search.iter().copied().chain(["<script>alert(1)</script>"]).collect::<Vec<_>>()).await;
    assert_eq!(html.status.code(), Some(afc::cli::case::EXIT_REFUSED), "{}", text(&html));

    // Staff ask blocking too, as the same identity.
    let check = ["block", "check", "--city", "hangzhou", "--nats", &url, "--credentials", &credentials];
    let mut args: Vec<&str> = check.to_vec();
    args.extend(["170 0000 0000", "--json"]);
    let checked = afc(&args).await;
    assert!(checked.status.success(), "{}", text(&checked));
    let answer: serde_json::Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(answer["identifier"], "phone:+8617000000000", "{}", text(&checked));
    let mut args: Vec<&str> = check.to_vec();
    args.extend(["javascript:alert(1)", "--kind", "url"]);
    let refused = afc(&args).await;
    assert_eq!(refused.status.code(), Some(afc::cli::case::EXIT_REFUSED), "{}", text(&refused));

    // The blocks the report made, listed a page at a time: each page's `more: --after` leads to
    // the next, the pages hold what `--all` holds, and times read on the centers' clock.
    let list = ["block", "list", "--city", "hangzhou", "--nats", &url, "--credentials", &credentials];
    let every: Vec<String> = testkit::eventually(BOUND, "blocking listing the report's blocks", || {
        let args: Vec<&str> = list.iter().copied().chain(["--all", "--json"]).collect();
        async move {
            let listed = afc(&args).await;
            let blocks: Vec<String> = String::from_utf8_lossy(&listed.stdout)
                .lines()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["identifier"].to_string())
                .collect();
            (!blocks.is_empty()).then_some(blocks.into_iter().map(|b| b.trim_matches('"').to_owned()).collect())
        }
    })
    .await;
    assert!(every.len() >= 2, "the report names more than one contact: {every:?}");
    let (mut paged, mut after) = (Vec::new(), None::<String>);
    for _ in 0..=every.len() {
        let mut args: Vec<&str> = list.iter().copied().chain(["--limit", "1"]).collect();
        if let Some(cursor) = &after {
            args.extend(["--after", cursor.as_str()]);
        }
        let page = afc(&args).await;
        assert!(page.status.success(), "{}", text(&page));
        let stdout = String::from_utf8_lossy(&page.stdout).into_owned();
        let mut lines = stdout.lines();
        let block = lines.next().expect("a block a page");
        assert!(block.starts_with("20") && block.as_bytes()[4] == b'-', "a local time first: {block}");
        paged.push(block.split_whitespace().nth(2).expect("the identifier after the time").to_owned());
        after = lines
            .next()
            .and_then(|more| more.strip_prefix("more: --after "))
            .map(|rest| rest.split(' ').next().expect("the cursor").to_owned());
        if after.is_none() {
            break;
        }
    }
    assert_eq!(paged, every, "one page at a time, every block once, in order");

    // Without credentials the server lets nobody in.
    let anonymous = afc(&["case", "show", "--city", "hangzhou", "--nats", &url, &case_id]).await;
    assert!(!anonymous.status.success(), "an anonymous client is refused:\n{}", text(&anonymous));
}
