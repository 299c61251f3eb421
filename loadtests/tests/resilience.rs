//! Failures an afc city must survive (real nats-servers, real redb files, simulated banks):
//! its services go down in the middle of a trace (crashing: every task of the node's runtime
//! dropped at once; or stopped gracefully) and restart from their redb logs without stopping
//! any account twice; and a city cut off from the province keeps freezing, then the province
//! catches up with nothing lost or doubled. (A poison message and the dead-letter subject are
//! freezing's own tests, in services/freezing/tests.)

mod common;

use std::time::Duration;

use async_nats::jetstream;
use common::{
    CATCH_UP_TIMEOUT, TRACE_TIMEOUT, city, claims_frozen, completion, count, failed_hops, now_ms, poll, stop_events,
    stops, subject_counts, submit_ok,
};
use domain::Fen;
use loadtests::deployment::{Embedded, EmbeddedOptions, Watch, trace_completed};
use simulator::wave::{WaveConfig, generate};

/// How a city goes down in the middle of a trace.
#[derive(Debug, Clone, Copy)]
enum GoingDown {
    /// Every task dropped at once, as a process crash would.
    Crash,
    /// Shutdown signalled: the services drain their outboxes and return.
    Graceful,
}

/// A city goes down once the trail is being followed past its first level, comes back on
/// the same redb files, and completes the trace with every account stopped exactly once.
async fn goes_down_mid_trace_and_resumes(seed: u64, how: GoingDown) {
    common::init();
    let wave = simulator::wave::single_trail(seed, now_ms());
    let report = wave.reports[0].clone();
    let truth = report.truth.clone();
    let center = report.city.clone();
    let mut deployment = Embedded::start(
        std::slice::from_ref(&center),
        wave.world,
        EmbeddedOptions { bank_latency: Duration::from_millis(200), ..EmbeddedOptions::default() },
    )
    .await
    .unwrap();
    let client = deployment.client(&center).clone();
    let mut watch = Watch::start(&client, &center).await.unwrap();

    let case_id = submit_ok(&client, &center, &report.body).await.unwrap().case_id;
    let mut completed_when_seen = false;
    watch
        .until(TRACE_TIMEOUT, |all| {
            let Some(events) = all.get(&case_id) else {
                return false;
            };
            completed_when_seen = trace_completed(events);
            stops(events).values().any(|(_, depth)| *depth >= 2)
        })
        .await
        .unwrap();
    assert!(!completed_when_seen, "the trace completed before the city went down: raise bank_latency");
    match how {
        GoingDown::Crash => deployment.kill_city(&center).await,
        GoingDown::Graceful => deployment.stop_city(&center).await.unwrap(),
    }
    let stopped_before = stops(&watch.events(&case_id)).len();
    // The node is gone and its redb files are closed: the restart must be able to open them.
    for service in ["intake", "intake-timeline", "freezing"] {
        let path = deployment.data_dir(&center).join(format!("{service}.redb"));
        let reopened = store::redb::Database::create(&path);
        assert!(reopened.is_ok(), "{} still open after {how:?}: {:?}", path.display(), reopened.err());
    }
    deployment.start_city(&center).unwrap();
    deployment.wait_ready(&center).await.unwrap();

    watch.until(TRACE_TIMEOUT, |all| all.get(&case_id).is_some_and(|e| trace_completed(e))).await.unwrap();
    let events = watch.events(&case_id);
    assert!(failed_hops(&events).is_empty(), "{:?}", failed_hops(&events));
    let stopped = stops(&events);
    assert_eq!(stop_events(&events), stopped.len(), "an account stopped twice across the restart");
    assert!(
        stopped.len() > stopped_before,
        "the restarted city stopped nothing: {stopped_before} of {} before {how:?}",
        stopped.len()
    );
    for (account, amount) in &truth.holdings {
        let (claim, _) = stopped.get(account).unwrap_or_else(|| panic!("{account} holds {amount} but was not stopped"));
        assert_eq!(claim, amount, "claim on {account}");
    }
    let claimed = Fen::sum(stopped.values().map(|(claim, _)| *claim)).unwrap();
    assert_eq!(claimed, truth.recoverable().unwrap());
    assert_eq!(completion(&events).unwrap().0, claimed);
    {
        let world = simulator::world::lock(&deployment.world);
        for account in truth.mules.keys() {
            assert_eq!(world.ledger.stops_applied(&center, account), 1, "stop-payments applied to {account}");
        }
    }
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_crashing_mid_trace_resumes_from_redb_and_stops_each_account_once() {
    goes_down_mid_trace_and_resumes(21, GoingDown::Crash).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_stopped_mid_trace_resumes_from_redb_and_stops_each_account_once() {
    goes_down_mid_trace_and_resumes(22, GoingDown::Graceful).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_cut_off_from_the_province_keeps_freezing_and_the_province_catches_up() {
    common::init();
    let (cut_off, other) = (city("hangzhou"), city("ningbo"));
    let wave = generate(
        &WaveConfig { cities: vec![cut_off.clone(), other.clone()], cases_per_city: 2, ..WaveConfig::single_trail(41) },
        now_ms(),
    )
    .unwrap();
    let reports: Vec<_> = wave.reports.iter().filter(|r| r.city == cut_off).cloned().collect();
    assert_eq!(reports.len(), 2);
    let mut deployment =
        Embedded::start(&[cut_off.clone(), other.clone()], wave.world, EmbeddedOptions::default()).await.unwrap();
    let client = deployment.client(&cut_off).clone();
    let city_js = jetstream::new(client.clone());
    let hub_js = jetstream::new(deployment.hub.clone());
    let city_filter = protocol::subjects::city_events(&cut_off);
    let province = protocol::subjects::PROVINCE_STREAM;
    let mut watch = Watch::start(&client, &cut_off).await.unwrap();

    deployment.province.city_mut(&cut_off).unwrap().link.cut().await;
    deployment.province.wait_leaf_count(1).await.unwrap();

    let mut cases = Vec::new();
    for report in &reports {
        cases.push(submit_ok(&client, &cut_off, &report.body).await.unwrap().case_id);
    }
    // Frozen, not merely settled: a failed freeze settles a claim too.
    watch
        .until(TRACE_TIMEOUT, |all| {
            cases.iter().all(|case| all.get(case).is_some_and(|e| trace_completed(e) && claims_frozen(e).1))
        })
        .await
        .unwrap();
    for (case, report) in cases.iter().zip(&reports) {
        let events = watch.events(case);
        let claimed = completion(&events).unwrap().0;
        assert_eq!(claimed, report.truth.recoverable().unwrap(), "{case}");
        let (frozen, _) = claims_frozen(&events);
        let world = simulator::world::lock(&deployment.world);
        let now = deployment.clock.now_ms();
        for account in &frozen {
            assert!(world.ledger.is_frozen(account, now), "{account} frozen at its bank ({case})");
        }
    }

    let local = subject_counts(&city_js, &cut_off.stream_name(), &city_filter).await.unwrap();
    let local_total: usize = local.values().sum();
    assert!(local_total > 0);
    assert_eq!(count(&hub_js, province, &city_filter).await.unwrap(), 0, "the province saw the cut-off city's events");

    deployment.province.city_mut(&cut_off).unwrap().link.restore();
    deployment.province.wait_leaf_count(2).await.unwrap();
    // The city keeps recording after its traces complete (restitution proposes allocations of
    // the frozen accounts once it has read their statements), so the province has caught up
    // when it holds, subject by subject, what the city's stream holds at that moment.
    let caught_up = poll(CATCH_UP_TIMEOUT, "the province catching up", || async {
        let local = subject_counts(&city_js, &cut_off.stream_name(), &city_filter).await?;
        let remote = subject_counts(&hub_js, province, &city_filter).await?;
        Ok(if remote == local { Ok(local) } else { Err(format!("{remote:?} of {local:?}")) })
    })
    .await
    .unwrap();
    assert!(caught_up.values().sum::<usize>() >= local_total, "nothing of the city's stream was lost");
    deployment.stop().await;
}
