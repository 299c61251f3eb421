//! A city cut off from the province, across real services (the lab's embedded deployment:
//! real nats-servers with identities and TLS, the hub with the coordinator and its link
//! watcher, the five services of three cities, the simulated banks and carriers).
//!
//! While Wenzhou is cut off, the same victim's money is reported in Hangzhou and Ningbo (and,
//! without the scammer's contacts, in Wenzhou): Hangzhou and Ningbo stop the same mule
//! accounts and block the scammer's numbers, so the province decides cross-city accounts and
//! province-wide blocks. Wenzhou freezes on its own and its notice waits at the coordinator.
//! When the link heals, the province stream converges to what Wenzhou's stream holds, Wenzhou
//! blocks the numbers on the province's notice, and all three cities record each other's
//! claims on the shared accounts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_nats::jetstream;
use common::{CATCH_UP_TIMEOUT, TRACE_TIMEOUT, city, now_ms, poll, subject_counts, submit_ok};
use domain::{City, Service};
use events::{BlockingEvent, FreezingEvent, Payload};
use futures::StreamExt as _;
use loadtests::deployment::{Embedded, EmbeddedOptions, Watch, freezes_settled, trace_completed};
use protocol::coordinator::{CoordinatorError, Status, verb};
use protocol::{Reply, subjects};
use simulator::wave::{WaveConfig, generate};

/// The coordinator's status.
async fn status(hub: &async_nats::Client) -> anyhow::Result<Status> {
    let answer = hub.request(subjects::coordinator_command(verb::STATUS), "{}".into()).await?;
    let reply: Reply<Status, CoordinatorError> = serde_json::from_slice(&answer.payload)?;
    Ok(reply.into_result()?)
}

/// The notices the coordinator holds for `city`, still to be heard.
fn pending_for(status: &Status, city: &City) -> u64 {
    status.notices_pending.iter().find(|(name, _)| name == city.as_str()).map_or(0, |(_, n)| *n)
}

/// The blocks and cross-city claims the cities record, as they publish them (each event
/// once: the outbox relay may publish one again).
#[derive(Clone, Default)]
struct Heard(Arc<Mutex<BTreeMap<String, (City, Payload)>>>);

impl Heard {
    /// Subscribes to `identifier_blocked` and `cross_city_claims` of every city; in place
    /// when this returns.
    async fn start(deployment: &Embedded, cities: &[City]) -> Heard {
        let heard = Heard::default();
        for city in cities {
            let client = deployment.client(city);
            for (service, kind) in [
                (Service::Blocking, BlockingEvent::IDENTIFIER_BLOCKED),
                (Service::Freezing, FreezingEvent::CROSS_CITY_CLAIMS),
            ] {
                let mut subscription = client.subscribe(subjects::event(city, service, kind)).await.unwrap();
                let (into, city) = (heard.clone(), city.clone());
                tokio::spawn(async move {
                    while let Some(message) = subscription.next().await {
                        if let Ok(envelope) = events::decode(&message.payload) {
                            into.0.lock().unwrap().insert(envelope.id.to_string(), (city.clone(), envelope.payload));
                        }
                    }
                });
            }
            client.flush().await.unwrap();
        }
        heard
    }

    fn of(&self, city: &City) -> Vec<Payload> {
        let heard = self.0.lock().unwrap();
        heard.values().filter(|(from, _)| from == city).map(|(_, payload)| payload.clone()).collect()
    }

    /// The identifiers `city`'s blocking blocked: on the province's notice (`true`), or on a
    /// report of its own.
    fn blocks(&self, city: &City, by_province: bool) -> BTreeSet<String> {
        self.of(city)
            .into_iter()
            .filter_map(|payload| match payload {
                Payload::Blocking(BlockingEvent::IdentifierBlocked { identifier, province, .. })
                    if province.is_some() == by_province =>
                {
                    Some(identifier.to_string())
                }
                _ => None,
            })
            .collect()
    }

    /// The cities `city`'s freezing recorded as claiming each shared account, the latest set.
    fn cross_city_claims(&self, city: &City) -> BTreeMap<String, BTreeSet<String>> {
        let mut claims = BTreeMap::new();
        for payload in self.of(city) {
            if let Payload::Freezing(FreezingEvent::CrossCityClaims { account, claims: each, .. }) = payload {
                let cities: BTreeSet<String> = each.iter().map(|claim| claim.city.to_string()).collect();
                let known: &mut BTreeSet<String> = claims.entry(account.to_string()).or_default();
                // Sets only grow: a newer notice adds cities.
                if cities.len() > known.len() {
                    *known = cities;
                }
            }
        }
        claims
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_city_cut_off_hears_the_province_once_its_link_heals_and_the_province_holds_all_it_recorded() {
    common::init();
    let (hangzhou, ningbo, wenzhou) = (city("hangzhou"), city("ningbo"), city("wenzhou"));
    let cities = [hangzhou.clone(), ningbo.clone(), wenzhou.clone()];
    let wave =
        generate(&WaveConfig { cities: vec![hangzhou.clone()], ..WaveConfig::single_trail(43) }, now_ms()).unwrap();
    let report = wave.reports[0].body.clone();
    assert!(report["contacts"]["phones"].as_array().is_some_and(|p| !p.is_empty()), "{report}");
    let mut without_contacts = report.clone();
    without_contacts["contacts"] = serde_json::json!({"phones": [], "urls": [], "apps": [], "social": []});

    let mut deployment = Embedded::start(&cities, wave.world, EmbeddedOptions::default()).await.unwrap();
    let wz_js = jetstream::new(deployment.client(&wenzhou).clone());
    let heard = Heard::start(&deployment, &cities).await;
    let hub = deployment.hub.clone();
    let hub_js = jetstream::new(hub.clone());
    let mut watch = Watch::start(deployment.client(&wenzhou), &wenzhou).await.unwrap();

    deployment.province.city_mut(&wenzhou).unwrap().link.cut().await;
    deployment.province.wait_leaf_count(2).await.unwrap();

    // Hangzhou and Ningbo: the same money, the same numbers.
    submit_ok(deployment.client(&hangzhou), &hangzhou, &report).await.unwrap();
    submit_ok(deployment.client(&ningbo), &ningbo, &report).await.unwrap();
    // Wenzhou, cut off, stops and freezes (or queues behind the others' freezes) on its own.
    let case = submit_ok(deployment.client(&wenzhou), &wenzhou, &without_contacts).await.unwrap().case_id;
    watch
        .until(TRACE_TIMEOUT, |all| all.get(&case).is_some_and(|e| trace_completed(e) && freezes_settled(e)))
        .await
        .unwrap();

    // The province decided: the identifiers both cities blocked, the accounts both stopped.
    // Wenzhou's notices wait for its link.
    let decided = poll(CATCH_UP_TIMEOUT, "the province deciding and Wenzhou's notices pending", || async {
        let status = status(&hub).await?;
        let both: BTreeSet<String> =
            heard.blocks(&hangzhou, false).intersection(&heard.blocks(&ningbo, false)).cloned().collect();
        let shared = (heard.cross_city_claims(&hangzhou), heard.cross_city_claims(&ningbo));
        let pending = pending_for(&status, &wenzhou);
        Ok(match !both.is_empty() && pending >= both.len() as u64 && !shared.0.is_empty() && !shared.1.is_empty() {
            true => Ok((status, both, shared.0)),
            false => Err(format!(
                "{both:?}; pending {:?}; {} and {} accounts shared",
                status.notices_pending,
                shared.0.len(),
                shared.1.len()
            )),
        })
    })
    .await
    .unwrap();
    let (before_heal, blocked_in_both, shared_then) = decided;
    assert!(heard.blocks(&wenzhou, true).is_empty(), "nothing crossed the cut link");
    assert!(heard.blocks(&wenzhou, false).is_empty(), "Wenzhou's report named no contact");
    assert!(shared_then.values().all(|claiming| claiming.len() == 2 && !claiming.contains(wenzhou.as_str())));
    assert!(
        !before_heal.producers.iter().any(|p| p.producer.starts_with("wenzhou.freezing")),
        "the province heard nothing of Wenzhou's freezing: {:?}",
        before_heal.producers
    );

    deployment.province.city_mut(&wenzhou).unwrap().link.restore();
    deployment.province.wait_leaf_count(3).await.unwrap();

    // Wenzhou blocks on the province's notice what the two cities blocked, and nothing is left
    // pending for it.
    poll(CATCH_UP_TIMEOUT, "Wenzhou blocking on the province's notice", || async {
        let blocked = heard.blocks(&wenzhou, true);
        let status = status(&hub).await?;
        Ok(match blocked == blocked_in_both && pending_for(&status, &wenzhou) == 0 {
            true => Ok(()),
            false => Err(format!("{blocked:?} of {blocked_in_both:?}; pending {:?}", status.notices_pending)),
        })
    })
    .await
    .unwrap();

    // The province holds, subject by subject, what Wenzhou's stream holds, with no gap; and the
    // three cities record each other's claims on the shared accounts.
    let city_filter = subjects::city_events(&wenzhou);
    poll(CATCH_UP_TIMEOUT, "the province converging with Wenzhou", || async {
        let local = subject_counts(&wz_js, &wenzhou.stream_name(), &city_filter).await?;
        let remote = subject_counts(&hub_js, subjects::PROVINCE_STREAM, &city_filter).await?;
        let status = status(&hub).await?;
        let gaps: Vec<_> = status.producers.iter().filter(|p| !p.gaps.is_empty()).collect();
        Ok(match remote == local && gaps.is_empty() {
            true => Ok(()),
            false => Err(format!("{remote:?} of {local:?}; gaps {gaps:?}")),
        })
    })
    .await
    .unwrap();
    let all_three: BTreeSet<String> = cities.iter().map(ToString::to_string).collect();
    poll(CATCH_UP_TIMEOUT, "every city recording the three claims", || async {
        let mut each = Vec::new();
        for city in &cities {
            let claims = heard.cross_city_claims(city);
            let with_three = shared_then.keys().filter(|a| claims.get(*a) == Some(&all_three)).count();
            each.push((city.to_string(), with_three));
        }
        Ok(match each.iter().all(|(_, n)| *n == shared_then.len()) {
            true => Ok(()),
            false => Err(format!("{each:?} of {} accounts", shared_then.len())),
        })
    })
    .await
    .unwrap();
    let after = status(&hub).await.unwrap();
    assert_eq!(after.notices_dropped, 0);
    assert!(after.notices_pending.iter().all(|(_, n)| *n == 0), "{:?}", after.notices_pending);
    deployment.stop().await;
}
