//! `afc province report` against a running coordinator on a real hub with two cities: the
//! joint meeting's table, the same figures as CSV, one city's row, and a malformed period
//! refused with what is accepted.

use std::process::Command;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use domain::{CaseId, City, Fen, FraudType};
use events::{Envelope, IntakeEvent, Payload};
use protocol::subjects;
use testkit::{Province, ProvinceOptions, eventually};

const BOUND: Duration = Duration::from_secs(30);

/// 09:00 on 14 March 2025, Beijing time.
const AT: u64 = 1_741_914_000_000;

fn reported(city: &City, n: u64, loss: u64) -> Envelope {
    let payload = Payload::Intake(IntakeEvent::CaseReported {
        case_id: CaseId::derive(city, n),
        received_at_ms: AT,
        fraud_type: FraudType::PigButchering,
        transfers: Vec::new(),
        contacts: Default::default(),
        reported_loss_fen: Fen::new(loss),
    });
    Envelope::new(city.clone(), n, AT, payload)
}

fn afc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_afc")).args(args).output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_joint_meetings_report_is_printed_as_a_table_and_as_csv_and_a_bad_period_is_refused() {
    let cities = [City::parse("hangzhou").unwrap(), City::parse("wenzhou").unwrap()];
    let province = Province::start(&cities, ProvinceOptions::default()).await.unwrap();
    let hub = async_nats::connect(province.hub_url()).await.unwrap();
    for (n, city) in cities.iter().enumerate() {
        let js = jetstream::new(async_nats::connect(province.city(city).unwrap().server.url()).await.unwrap());
        bus::streams::city_stream(&js, city).await.unwrap();
        let envelope = reported(city, 1, 1_000_000 * (n as u64 + 1));
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", envelope.id.as_str());
        let subject = subjects::event(city, envelope.service, envelope.payload.name());
        js.publish_with_headers(subject, headers, events::encode(&envelope).unwrap().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    bus::streams::ensure_province_stream(&jetstream::new(hub.clone()), &cities).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let options = coordinator::shell::Options::new(cities.to_vec(), data.path().to_owned());
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    tokio::spawn(coordinator::shell::run(hub.clone(), options, shutdown));

    let url = province.hub_url();
    let csv = eventually(BOUND, "the coordinator counts both cities", || async {
        let out = afc(&["province", "report", "--hub", &url, "--period", "2025-03", "--format", "csv"]);
        let text = String::from_utf8(out.stdout).unwrap();
        (out.status.success() && text.contains("2025-03,province,2,3000000,")).then_some(text)
    })
    .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("period,city,reports,reported_loss_fen,"), "{csv}");
    assert!(lines[1].starts_with("2025-03,hangzhou,1,1000000,"), "{csv}");
    assert!(lines[2].starts_with("2025-03,wenzhou,1,2000000,"), "{csv}");
    assert_eq!(lines.len(), 4, "{csv}");

    let table = afc(&["province", "report", "--hub", &url, "--period", "2025-03"]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("province report 2025-03"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("wenzhou") && l.contains("20000.00")), "{table}");

    let one =
        afc(&["province", "report", "--hub", &url, "--period", "2025-03-14", "--city", "wenzhou", "--format", "csv"]);
    let one = String::from_utf8(one.stdout).unwrap();
    assert!(one.lines().nth(1).unwrap().starts_with("2025-03-14,wenzhou,1,"), "{one}");

    let svg = afc(&["province", "report", "--hub", &url, "--period", "2025-03", "--format", "svg"]);
    let svg = String::from_utf8(svg.stdout).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(r#"data-city="wenzhou""#), "{svg}");

    let bad = afc(&["province", "report", "--hub", &url, "--period", "2025-3"]);
    assert!(!bad.status.success());
    let error = String::from_utf8(bad.stderr).unwrap();
    assert!(error.contains("period") && error.contains("2025-3") && error.contains("YYYY-MM"), "{error}");

    // The status names each city's intake with its highest sequence and no gap.
    let status = afc(&["province", "status", "--hub", &url]);
    let status = String::from_utf8(status.stdout).unwrap();
    assert!(status.contains("province of hangzhou, wenzhou"), "{status}");
    assert!(status.lines().any(|l| l.starts_with("wenzhou.intake") && l.ends_with("none")), "{status}");
    assert!(status.contains("pending: none"), "{status}");
}
