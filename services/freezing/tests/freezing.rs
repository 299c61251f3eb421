//! Freezing alone against the simulated banks: a trail is stopped once per account and every
//! claim frozen; requests leave before their events are committed; a poison message is
//! dead-lettered and the consumer goes on.

mod common;

use common::{BOUND, Harness, trace_completed};
use domain::Fen;
use events::FreezingEvent;
use freezing::core::CoreConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trail_is_stopped_once_per_account_and_every_claim_is_frozen() {
    let wave = simulator::wave::single_trail(11, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let harness = Harness::start(report.city.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    // Converted at once: the freeze is what this test is about.
    let running = harness.run(CoreConfig { freeze_after_ms: 0, ..CoreConfig::default() }).await;
    let case_id = harness.report(1, &report.body).await;

    let claims = |events: &[FreezingEvent]| {
        events
            .iter()
            .filter_map(|e| match e {
                FreezingEvent::AccountStopped { account, claim_fen, .. } if !claim_fen.is_zero() => {
                    Some(account.clone())
                }
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let frozen =
        |events: &[FreezingEvent]| events.iter().filter(|e| matches!(e, FreezingEvent::AccountFrozen { .. })).count();
    let events =
        watch.until(&case_id, |events| trace_completed(events) && frozen(events) == claims(events).len()).await;
    let claimed = claims(&events);
    assert!(!claimed.is_empty(), "the trail holds money: {events:?}");
    {
        let world = simulator::world::lock(&harness.world);
        for account in report.truth.mules.keys() {
            assert_eq!(world.ledger.stops_applied(&report.city, account), 1, "stop-payments on {account}");
        }
        let now = domain::system_clock().now_ms();
        for account in &claimed {
            assert!(world.ledger.is_frozen(account, now), "{account} is frozen at its bank");
        }
    }
    let held: Fen = Fen::sum(report.truth.holdings.values().copied()).unwrap();
    let Some(FreezingEvent::TraceCompleted { claimed_fen, .. }) =
        events.iter().find(|e| matches!(e, FreezingEvent::TraceCompleted { .. }))
    else {
        unreachable!("the trace completed")
    };
    assert_eq!(*claimed_fen, held, "everything still in the trail is claimed");
    running.stop().await;
    harness.stop().await;
}

/// Freezing sends a decision's stop-payments once its events are queued for the commit, not
/// after the fsync: with its store's writer held, the first level's accounts are stopped at
/// their banks while freezing's log is still empty; released, the trace completes with every
/// account stopped once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_payments_leave_before_their_events_are_committed() {
    let wave = simulator::wave::single_trail(21, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let center = report.city.clone();
    let harness = Harness::start(center.clone(), wave.world).await;
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (holding_tx, holding) = tokio::sync::oneshot::channel::<()>();
    let held = harness
        .store
        .enqueue(move |_ctx| -> Result<(), store::WriteError<String>> {
            let _ = holding_tx.send(());
            gate.recv().expect("released");
            Ok(())
        })
        .await
        .unwrap();
    holding.await.unwrap();
    let mut watch = harness.watch().await;
    let running = harness.run(CoreConfig::default()).await;
    let case_id = harness.report(1, &report.body).await;

    let first_level: Vec<_> =
        report.truth.mules.iter().filter(|(_, level)| **level == 1).map(|(account, _)| account.clone()).collect();
    assert!(!first_level.is_empty());
    testkit::eventually(BOUND, "a first-level account stopped", || {
        let world = simulator::world::lock(&harness.world);
        let stopped = first_level.iter().any(|a| world.ledger.stops_applied(&center, a) == 1);
        async move { stopped.then_some(()) }
    })
    .await;
    let committed = harness
        .store
        .read(|tx| {
            use store::redb::ReadableTableMetadata;
            Ok(tx.open_table(store::EVENTS)?.len()?)
        })
        .await
        .unwrap();
    assert_eq!(committed, 0, "freezing committed events while its writer was held");

    release.send(()).unwrap();
    held.wait().await.unwrap();
    let events = watch.until(&case_id, trace_completed).await;
    assert!(
        !events.iter().any(|e| matches!(e, FreezingEvent::HopEnded { reason: events::freezing::HopEnd::Failed, .. })),
        "{events:?}"
    );
    {
        let world = simulator::world::lock(&harness.world);
        for account in report.truth.mules.keys() {
            assert_eq!(world.ledger.stops_applied(&center, account), 1, "stop-payments applied to {account}");
        }
    }
    running.stop().await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_the_consumer_goes_on() {
    let wave = simulator::wave::single_trail(31, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let center = report.city.clone();
    let harness = Harness::start(center.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    let running = harness.run(CoreConfig::default()).await;

    let poisoned = protocol::subjects::event(&center, domain::Service::Intake, events::IntakeEvent::CASE_REPORTED);
    let garbage = b"\xc1 this is not an event \xff".to_vec();
    harness.publish(&poisoned, "poison-1", garbage.clone()).await;
    let case_id = harness.report(1, &report.body).await;
    watch.until(&case_id, trace_completed).await;

    let dead_letters = protocol::subjects::dead_letter(&center, domain::Service::Freezing);
    let stream = harness.js.get_stream(center.stream_name()).await.unwrap();
    let letter = testkit::eventually(BOUND, "a dead letter from freezing", || async {
        stream.get_last_raw_message_by_subject(&dead_letters).await.ok()
    })
    .await;
    let header = |name: &str| letter.headers.get(name).map(|v| v.as_str().to_owned()).unwrap_or_default();
    assert!(header(bus::HEADER_DLQ_REASON).contains("undecodable"), "{}", header(bus::HEADER_DLQ_REASON));
    assert_eq!(header(bus::HEADER_DLQ_SUBJECT), poisoned);
    assert_eq!(letter.payload.as_ref(), garbage.as_slice());
    running.stop().await;
    harness.stop().await;
}

/// A `case_reported` that cannot be traced as it stands (its transfers do not add up to its
/// loss: forged, or from a faulty intake) is dead-lettered with the reason, and freezing
/// goes on with the next report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inconsistent_report_is_dead_lettered_and_the_next_one_traced() {
    let wave = simulator::wave::single_trail(41, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let center = report.city.clone();
    let harness = Harness::start(center.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    let running = harness.run(CoreConfig::default()).await;

    let forged_case = domain::CaseId::derive(&center, 7);
    let account = report.truth.mules.keys().next().unwrap().clone();
    let forged = events::Envelope::new(
        center.clone(),
        1,
        1,
        events::Payload::Intake(events::IntakeEvent::CaseReported {
            case_id: forged_case,
            received_at_ms: 1,
            fraud_type: domain::FraudType::OnlineLoan,
            transfers: vec![domain::report::Transfer {
                from_account: None,
                to: domain::report::Destination::Account(account),
                amount: Fen::new(u64::MAX),
                at_ms: 1,
            }],
            contacts: domain::report::Contacts::default(),
            reported_loss_fen: Fen::new(1),
        }),
    );
    harness.publish(&forged.subject(), &forged.id, events::encode(&forged).unwrap()).await;
    let case_id = harness.report(2, &report.body).await;
    watch.until(&case_id, trace_completed).await;

    let dead_letters = protocol::subjects::dead_letter(&center, domain::Service::Freezing);
    let stream = harness.js.get_stream(center.stream_name()).await.unwrap();
    let letter = testkit::eventually(BOUND, "the forged report dead-lettered", || async {
        stream.get_last_raw_message_by_subject(&dead_letters).await.ok()
    })
    .await;
    let reason = letter.headers.get(bus::HEADER_DLQ_REASON).map(|v| v.as_str().to_owned()).unwrap_or_default();
    assert!(reason.contains("cannot be traced") && reason.contains("add up to"), "{reason}");
    running.stop().await;
    harness.stop().await;
}

/// Two cases whose money went into the same accounts, reported at once: each account is
/// stopped once by the center (the shared first stop), so its renewal stays available.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cases_reaching_the_same_accounts_at_once_stop_each_account_once() {
    let wave = simulator::wave::single_trail(51, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let center = report.city.clone();
    let harness = Harness::start(center.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    let running = harness.run(CoreConfig::default()).await;
    // The same payments, reported by another victim (another name: another case).
    let mut second = report.body.clone();
    second["victim"]["name"] = serde_json::json!("李四");
    let first_case = harness.report(1, &report.body).await;
    let second_case = harness.report(2, &second).await;
    assert_ne!(first_case, second_case);
    watch.until(&first_case, trace_completed).await;
    watch.until(&second_case, trace_completed).await;
    {
        let world = simulator::world::lock(&harness.world);
        for account in report.truth.mules.keys() {
            assert_eq!(world.ledger.stops_applied(&center, account), 1, "the center's stops on {account}");
        }
    }
    running.stop().await;
    harness.stop().await;
}

/// The banks are down when a case comes in: each first-level hop fails for now and waits to
/// be asked again, instead of ending; once the banks are back, the retries follow the trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hops_whose_bank_is_down_are_asked_again_and_followed_once_it_is_back() {
    let wave = simulator::wave::single_trail(61, domain::system_clock().now_ms());
    let report = wave.reports[0].clone();
    let center = report.city.clone();
    let mut harness = Harness::without_banks(center.clone(), wave.world).await;
    let mut watch = harness.watch().await;
    let running = harness.run(CoreConfig::default()).await;
    let case_id = harness.report(1, &report.body).await;

    let retrying = |events: &[FreezingEvent]| events.iter().any(|e| matches!(e, FreezingEvent::HopRetrying { .. }));
    let events = watch.until(&case_id, retrying).await;
    assert!(
        !events.iter().any(|e| matches!(e, FreezingEvent::HopEnded { reason: events::freezing::HopEnd::Failed, .. })),
        "a bank that is down ends no hop: {events:?}"
    );
    harness.start_banks().await;
    let events = watch.until(&case_id, trace_completed).await;
    assert!(
        !events.iter().any(|e| matches!(e, FreezingEvent::HopEnded { reason: events::freezing::HopEnd::Failed, .. })),
        "{events:?}"
    );
    let held = Fen::sum(report.truth.holdings.values().copied()).unwrap();
    let Some(FreezingEvent::TraceCompleted { claimed_fen, .. }) =
        events.iter().find(|e| matches!(e, FreezingEvent::TraceCompleted { .. }))
    else {
        unreachable!("the trace completed")
    };
    assert_eq!(*claimed_fen, held, "the whole trail is followed after the outage");
    running.stop().await;
    harness.stop().await;
}
