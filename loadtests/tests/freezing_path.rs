//! The freezing path end to end on an embedded deployment (real nats-servers, real redb
//! files, simulated banks): a reported trail is followed to every account that holds the
//! victim's money, each is stopped once at its bank with the victim's exact claim; and when
//! victims of two cities paid into the same mule account, the second center's freeze queues
//! behind the first's (轮候冻结).

mod common;

use freezing::rule::TracingRule;
use std::collections::BTreeMap;

use common::{TRACE_TIMEOUT, city, completion, failed_hops, now_ms, stop_events, stops, submit_ok};
use domain::{AccountRef, BankId, City, Fen};
use events::FreezingEvent;
use loadtests::deployment::{Embedded, EmbeddedOptions, Watch, trace_completed};
use protocol::adapter::Counterparty;
use serde_json::json;
use simulator::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instant_bank_trail_is_fully_recalled_with_one_stop_per_account() {
    common::init();
    let wave = simulator::wave::single_trail(11, now_ms());
    let report = wave.reports[0].clone();
    let truth = report.truth.clone();
    let center = report.city.clone();
    let deployment =
        Embedded::start(std::slice::from_ref(&center), wave.world, EmbeddedOptions::default()).await.unwrap();
    let client = deployment.client(&center).clone();
    let mut watch = Watch::start(&client, &center).await.unwrap();

    let accepted = submit_ok(&client, &center, &report.body).await.unwrap();
    assert!(!accepted.duplicate);
    let case_id = accepted.case_id;
    watch.until(TRACE_TIMEOUT, |all| all.get(&case_id).is_some_and(|e| trace_completed(e))).await.unwrap();

    let events = watch.events(&case_id);
    assert!(failed_hops(&events).is_empty(), "{:?}", failed_hops(&events));
    let stopped = stops(&events);
    assert_eq!(stop_events(&events), stopped.len(), "one account_stopped per account");
    for (account, amount) in &truth.holdings {
        let (claim, _) = stopped.get(account).unwrap_or_else(|| panic!("{account} holds {amount} but was not stopped"));
        assert_eq!(claim, amount, "claim on {account}");
    }
    let claimed = Fen::sum(stopped.values().map(|(claim, _)| *claim)).unwrap();
    assert_eq!(claimed, truth.recoverable().unwrap());
    let (completed_claim, time_to_freeze) = completion(&events).unwrap();
    assert_eq!(completed_claim, claimed);
    assert!(time_to_freeze.is_some());

    {
        let world = simulator::world::lock(&deployment.world);
        for account in stopped.keys() {
            assert_eq!(world.ledger.stops_applied(&center, account), 1, "stop-payments applied to {account}");
        }
    }
    deployment.stop().await;
}

/// A world in which a victim of each city paid into the same mule account.
struct SharedMule {
    world: World,
    mule: AccountRef,
    /// (victim account, amount, time) per city, in the order given.
    payments: Vec<(AccountRef, Fen, u64)>,
}

/// Victims of each city pay into one mule account, `amounts[i]` each, an hour apart; then
/// the mule forwards `forwarded` (if any) elsewhere, before anyone reports.
fn shared_mule(now: u64, amounts: &[Fen], forwarded: Option<Fen>) -> SharedMule {
    let bank = BankId::parse("icbc").unwrap();
    let mut world = World::new(vec![bank.clone()], Vec::new());
    let mule = AccountRef::new(&bank, "6222000000009999").unwrap();
    world.ledger.open_account(mule.clone()).unwrap();
    let hour = 60 * 60 * 1000;
    let mut payments = Vec::new();
    for (index, amount) in amounts.iter().enumerate() {
        let victim = AccountRef::new(&bank, &format!("622200000000100{index}")).unwrap();
        world.ledger.open_account(victim.clone()).unwrap();
        world.ledger.deposit(&victim, Fen::new(amount.get() * 2), now - 48 * hour).unwrap();
        let at = now - (3 - index as u64) * hour;
        world.ledger.transfer(&victim, &Counterparty::Account(mule.clone()), *amount, at).unwrap();
        payments.push((victim, *amount, at));
    }
    if let Some(amount) = forwarded {
        let elsewhere = AccountRef::new(&bank, "6222000000008888").unwrap();
        world.ledger.open_account(elsewhere.clone()).unwrap();
        world.ledger.transfer(&mule, &Counterparty::Account(elsewhere), amount, now - 30 * 60 * 1000).unwrap();
    }
    SharedMule { world, mule, payments }
}

fn report_body(to: &AccountRef, amount: Fen, at_ms: u64, id_suffix: u32) -> serde_json::Value {
    json!({
        "victim": {
            "name": "李秀英",
            "id_number": format!("33010219800101{id_suffix:04}"),
            "phone": "13800000000",
        },
        "fraud_type": "pig_butchering",
        "transfers": [{"account": to.as_str(), "amount_fen": amount.get(), "at_ms": at_ms}],
        "narrative": "在交友软件上认识对方，被带去一个投资平台充值",
    })
}

/// The mule forwarded as much as the second victim paid before anyone reported: by the
/// lowest intermediate balance rule (the other money leaves first) what is left is the
/// first victim's, which the first city freezes, and the second city's claim on the same
/// money queues behind that freeze (轮候冻结). (By pro rata each city claims its share of
/// what is left and both freeze.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mule_frozen_by_one_city_gets_the_other_citys_claim_queued_behind_it() {
    common::init();
    let (first, second) = (city("hangzhou"), city("ningbo"));
    let amounts = [Fen::yuan(30_000), Fen::yuan(12_000)];
    let SharedMule { world, mule, payments } = shared_mule(now_ms(), &amounts, Some(amounts[1]));
    let options =
        EmbeddedOptions { tracing_rule: TracingRule::LowestIntermediateBalance, ..EmbeddedOptions::default() };
    let deployment = Embedded::start(&[first.clone(), second.clone()], world, options).await.unwrap();
    let first_client = deployment.client(&first).clone();
    let second_client = deployment.client(&second).clone();
    let mut first_watch = Watch::start(&first_client, &first).await.unwrap();
    let mut second_watch = Watch::start(&second_client, &second).await.unwrap();

    // The first city stops the mule and converts the stop into a freeze.
    let (_, amount, at) = &payments[0];
    let first_case = submit_ok(&first_client, &first, &report_body(&mule, *amount, *at, 1)).await.unwrap().case_id;
    first_watch
        .until(TRACE_TIMEOUT, |all| {
            all.get(&first_case).is_some_and(|events| {
                events.iter().any(|e| matches!(e, FreezingEvent::AccountFrozen { account, .. } if *account == mule))
            })
        })
        .await
        .unwrap();

    // Then the second city's victim reports: its claim on the same mule queues.
    let (_, amount, at) = &payments[1];
    let second_case = submit_ok(&second_client, &second, &report_body(&mule, *amount, *at, 2)).await.unwrap().case_id;
    second_watch
        .until(TRACE_TIMEOUT, |all| {
            all.get(&second_case)
                .is_some_and(|events| events.iter().any(|e| matches!(e, FreezingEvent::FreezeQueued { .. })))
        })
        .await
        .unwrap();

    let queued: Vec<_> = second_watch
        .events(&second_case)
        .into_iter()
        .filter_map(|e| match e {
            FreezingEvent::FreezeQueued { account, queued_behind, claim_fen, .. } => {
                Some((account, queued_behind, claim_fen))
            }
            _ => None,
        })
        .collect();
    assert_eq!(queued, vec![(mule.clone(), first.clone(), amounts[1])]);
    assert!(
        !second_watch.events(&second_case).iter().any(|e| matches!(e, FreezingEvent::AccountFrozen { .. })),
        "the second city must not hold a freeze of its own"
    );

    let claims = simulator::world::lock(&deployment.world).ledger.freeze_claims(&mule);
    let by_center: BTreeMap<_, _> =
        claims.iter().map(|c| (c.center.clone(), (c.case_id.clone(), c.amount, c.queued))).collect();
    assert_eq!(claims.len(), 2, "{claims:?}");
    assert_eq!(by_center[&first], (first_case, amounts[0], false));
    assert_eq!(by_center[&second], (second_case, amounts[1], true));
    deployment.stop().await;
}

/// Both victims' money is still in the mule when they report: the first victim's center
/// freezes its part, and the second victim's center freezes the part still free for its own
/// victim — not queued behind the first freeze, which would leave that money held only by a
/// stop that lapses.
async fn both_victims_money_frozen(first: City, second: City) {
    common::init();
    let amounts = [Fen::yuan(30_000), Fen::yuan(12_000)];
    let SharedMule { world, mule, payments } = shared_mule(now_ms(), &amounts, None);
    let mut cities = vec![first.clone(), second.clone()];
    cities.dedup();
    let deployment = Embedded::start(&cities, world, EmbeddedOptions::default()).await.unwrap();
    for (index, center) in [&first, &second].into_iter().enumerate() {
        let client = deployment.client(center).clone();
        let mut watch = Watch::start(&client, center).await.unwrap();
        let (_, amount, at) = &payments[index];
        let body = report_body(&mule, *amount, *at, index as u32 + 1);
        let case_id = submit_ok(&client, center, &body).await.unwrap().case_id;
        watch
            .until(TRACE_TIMEOUT, |all| {
                all.get(&case_id).is_some_and(|events| {
                    events.iter().any(|e| matches!(e, FreezingEvent::AccountFrozen { account, .. } if *account == mule))
                })
            })
            .await
            .unwrap();
    }
    let claims = simulator::world::lock(&deployment.world).ledger.freeze_claims(&mule);
    let held: Vec<(u64, bool)> = claims.iter().map(|c| (c.amount.get(), c.queued)).collect();
    assert_eq!(held, vec![(amounts[0].get(), false), (amounts[1].get(), false)], "{claims:?}");
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_city_freezes_its_victims_money_left_free_beside_the_first_citys_freeze() {
    both_victims_money_frozen(city("hangzhou"), city("ningbo")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_case_of_the_same_city_freezes_its_victims_money_left_free_beside_the_first_cases_freeze() {
    both_victims_money_frozen(city("hangzhou"), city("hangzhou")).await;
}
