//! Intake's `report` command over NATS on an embedded deployment: the same report twice is
//! one case (same id, `duplicate: true`, one `CaseReported` in the city stream), and every
//! kind of bad input is refused with a typed error naming each offending field, recording
//! nothing.

mod common;

use async_nats::jetstream;
use common::{TRACE_TIMEOUT, case_reported_ids, now_ms, submit, submit_ok};
use domain::City;
use events::FreezingEvent;
use loadtests::deployment::{Embedded, EmbeddedOptions, Watch};
use protocol::Reply;
use protocol::intake::{IntakeError, IntakeErrorKind};
use serde_json::{Value, json};

/// A valid report of one transfer into an account the simulated banks know.
fn valid_body(account: &str, amount_fen: u64, at_ms: u64) -> Value {
    json!({
        "victim": {"name": "王伟", "id_number": "330102198001011234", "phone": "13900000000"},
        "fraud_type": "online_loan",
        "transfers": [{"account": account, "amount_fen": amount_fen, "at_ms": at_ms}],
        "contacts": {"phones": ["+8617000000000"]},
        "narrative": "对方自称网贷平台客服",
    })
}

/// An embedded hangzhou with the single-trail world; returns the deployment and the trail's
/// report body (its first transfer goes to a known account).
async fn start() -> (Embedded, City, Value) {
    common::init();
    let wave = simulator::wave::single_trail(5, now_ms());
    let center = wave.reports[0].city.clone();
    let body = wave.reports[0].body.clone();
    let deployment =
        Embedded::start(std::slice::from_ref(&center), wave.world, EmbeddedOptions::default()).await.unwrap();
    (deployment, center, body)
}

/// Waits until freezing has started the trace of `case_id`: its `CaseReported` is stored
/// in the city stream, and so is everything intake committed before it (the relay
/// publishes in commit order).
async fn wait_trace_started(watch: &mut Watch, case_id: &domain::CaseId) {
    watch
        .until(TRACE_TIMEOUT, |all| {
            all.get(case_id)
                .is_some_and(|events| events.iter().any(|e| matches!(e, FreezingEvent::TraceStarted { .. })))
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_report_twice_is_one_case_with_one_case_reported_event() {
    let (deployment, center, body) = start().await;
    let client = deployment.client(&center).clone();
    let js = jetstream::new(client.clone());
    let mut watch = Watch::start(&client, &center).await.unwrap();

    let first = submit_ok(&client, &center, &body).await.unwrap();
    let second = submit_ok(&client, &center, &body).await.unwrap();
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.case_id, second.case_id);

    // A different report afterwards: once its trace started, anything the duplicate might
    // have recorded would be in the stream too.
    let account = body["transfers"][0]["account"].as_str().unwrap();
    let sentinel = submit_ok(&client, &center, &valid_body(account, 10_000, now_ms() - 60_000)).await.unwrap();
    assert_ne!(sentinel.case_id, first.case_id);
    wait_trace_started(&mut watch, &first.case_id).await;
    wait_trace_started(&mut watch, &sentinel.case_id).await;

    let ids = case_reported_ids(&js, &center).await.unwrap();
    assert_eq!(ids.iter().filter(|id| **id == first.case_id).count(), 1, "{ids:?}");
    assert_eq!(ids, vec![first.case_id.clone(), sentinel.case_id.clone()]);
    deployment.stop().await;
}

/// Sends raw bytes to intake's report subject and returns the error reply.
async fn refused(client: &async_nats::Client, center: &City, body: Vec<u8>) -> IntakeError {
    match afc::client::report(client, center, body).await.unwrap() {
        Reply::Error(error) => error,
        Reply::Ok(accepted) => panic!("accepted: {accepted:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_reports_are_refused_with_every_problem_named_and_nothing_recorded() {
    let (deployment, center, body) = start().await;
    let client = deployment.client(&center).clone();
    let js = jetstream::new(client.clone());
    let mut watch = Watch::start(&client, &center).await.unwrap();
    let before = case_reported_ids(&js, &center).await.unwrap();
    let account = body["transfers"][0]["account"].as_str().unwrap().to_owned();
    let now = now_ms();
    let good = valid_body(&account, 10_000, now - 60_000);

    let with = |edit: &dyn Fn(&mut Value)| {
        let mut body = good.clone();
        edit(&mut body);
        body
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown fraud type", with(&|b| b["fraud_type"] = json!("lottery")), "fraud_type"),
        ("zero amount", with(&|b| b["transfers"][0]["amount_fen"] = json!(0)), "transfers[0].amount_fen"),
        ("negative amount", with(&|b| b["transfers"][0]["amount_fen"] = json!(-500)), "transfers[0].amount_fen"),
        (
            "amount too large for 64 bits",
            with(&|b| b["transfers"][0]["amount_fen"] = json!(1e30)),
            "transfers[0].amount_fen",
        ),
        ("malformed account", with(&|b| b["transfers"][0]["account"] = json!("icbc:12")), "transfers[0].account"),
        (
            "malformed order",
            with(&|b| {
                b["transfers"][0] = json!({"order": "wechatpay:x!", "amount_fen": 10_000, "at_ms": now - 60_000})
            }),
            "transfers[0].order",
        ),
        ("no transfers", with(&|b| b["transfers"] = json!([])), "transfers"),
        (
            "transfer in the future",
            with(&|b| b["transfers"][0]["at_ms"] = json!(now + 24 * 60 * 60 * 1000)),
            "transfers[0].at_ms",
        ),
    ];
    for (name, bad, field) in &cases {
        let error = refused(&client, &center, serde_json::to_vec(bad).unwrap()).await;
        assert_eq!(error.kind, IntakeErrorKind::InvalidReport, "{name}: {error}");
        assert!(
            error.problems.iter().any(|p| p.field == *field),
            "{name}: no problem names {field}: {:?}",
            error.problems
        );
    }

    // An amount beyond u64 written as a literal integer.
    let overflow =
        serde_json::to_string(&good).unwrap().replace("\"amount_fen\":10000", "\"amount_fen\":18446744073709551616");
    assert!(overflow.contains("18446744073709551616"));
    let error = refused(&client, &center, overflow.into_bytes()).await;
    assert_eq!(error.kind, IntakeErrorKind::InvalidReport, "{error}");
    assert!(error.problems.iter().any(|p| p.field == "transfers[0].amount_fen"), "{:?}", error.problems);

    // Several problems at once: all of them are listed.
    let several = json!({
        "victim": good["victim"].clone(),
        "fraud_type": "lottery",
        "transfers": [
            {"account": "icbc:12", "amount_fen": 0, "at_ms": now - 60_000},
            {"account": account, "amount_fen": 100, "at_ms": now + 24 * 60 * 60 * 1000},
        ],
    });
    let error = refused(&client, &center, serde_json::to_vec(&several).unwrap()).await;
    assert_eq!(error.kind, IntakeErrorKind::InvalidReport);
    let mut fields: Vec<&str> = error.problems.iter().map(|p| p.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        vec!["fraud_type", "transfers[0].account", "transfers[0].amount_fen", "transfers[1].at_ms"],
        "{:?}",
        error.problems
    );

    // Too large, then not JSON at all.
    let mut large = good.clone();
    large["narrative"] = json!("x".repeat(protocol::MAX_BODY_BYTES + 1));
    let error = refused(&client, &center, serde_json::to_vec(&large).unwrap()).await;
    assert_eq!(error.kind, IntakeErrorKind::BodyTooLarge, "{error}");
    let error = refused(&client, &center, b"victim=me&amount=100".to_vec()).await;
    assert_eq!(error.kind, IntakeErrorKind::NotJson, "{error}");

    // Nothing was recorded: after a valid report's trace started (so everything intake
    // committed before it is in the stream), the only new CaseReported is the valid one.
    let accepted = submit(&client, &center, &good).await.unwrap();
    let Reply::Ok(accepted) = accepted else {
        panic!("the valid report was refused: {accepted:?}");
    };
    wait_trace_started(&mut watch, &accepted.case_id).await;
    let after = case_reported_ids(&js, &center).await.unwrap();
    let mut expected = before.clone();
    expected.push(accepted.case_id);
    assert_eq!(after, expected);
    deployment.stop().await;
}
