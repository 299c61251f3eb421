//! The blocking path end to end on the embedded deployment (secured: every service with its
//! own identity, the simulated carriers and banks as their gateways): a report's scam number
//! and site are blocked at the simulated carriers, the accounts holding the victim's money are
//! restricted at their bank (the high-risk pool), staff see it with `check` and in the case,
//! and a lift reaches the carrier.

mod common;

use common::{TRACE_TIMEOUT, now_ms, poll, submit_ok};
use domain::{Carrier, IdentifierKind};
use loadtests::deployment::{Embedded, EmbeddedOptions};
use protocol::Reply;
use protocol::blocking::{
    CaseRequest, CaseResponse, CheckReply, CheckRequest, CheckResponse, LiftRequest, LiftResponse, VERB_CASE,
    VERB_CHECK, VERB_LIFT,
};
use protocol::carrier::BlockTarget;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_scam_number_and_site_are_blocked_at_the_carriers_and_the_mules_pooled() {
    common::init();
    let wave = simulator::wave::single_trail(23, now_ms());
    let report = wave.reports[0].clone();
    let center = report.city.clone();
    let holders: Vec<_> = report.truth.holdings.keys().cloned().collect();
    let mut body = report.body.clone();
    body["contacts"] = json!({
        "phones": ["+86 170-0000-0000"],
        "urls": ["https://m.fake-invest.com.cn/vip?id=7", "javascript:alert(1)"],
        "apps": [],
        "social": [],
    });
    let deployment =
        Embedded::start(std::slice::from_ref(&center), wave.world, EmbeddedOptions::default()).await.unwrap();
    let client = deployment.client(&center).clone();
    let case_id = submit_ok(&client, &center, &body).await.unwrap().case_id;

    let phone = BlockTarget::new(IdentifierKind::Phone, "+8617000000000").unwrap();
    let site = BlockTarget::new(IdentifierKind::Domain, "fake-invest.com.cn").unwrap();
    let world = deployment.world.clone();
    poll(TRACE_TIMEOUT, "the number and the site blocked at the carriers", || {
        let world = world.clone();
        let (phone, site) = (phone.clone(), site.clone());
        async move {
            let world = simulator::world::lock(&world);
            let at = |target: &BlockTarget| {
                Carrier::ALL
                    .into_iter()
                    .filter(|c| world.telecom.blocked_since(*c, target).is_some())
                    .collect::<Vec<_>>()
            };
            // 1700 is China Telecom's range; a site is blocked by every carrier.
            let done = at(&phone) == [Carrier::Ctcc] && at(&site) == Carrier::ALL;
            Ok(if done { Ok(()) } else { Err(format!("number at {:?}, site at {:?}", at(&phone), at(&site))) })
        }
    })
    .await
    .unwrap();

    // Staff ask, as a liaison does: blocked, since when, why.
    let check = |value: &str| CheckRequest { kind: "phone".into(), value: value.into() };
    let answer: CheckResponse =
        afc::client::blocking(&client, &center, VERB_CHECK, &check("170 0000 0000")).await.unwrap();
    let Reply::Ok(CheckReply { blocked: true, case_count: 1, .. }) = answer else { panic!("{answer:?}") };

    // Every account holding the victim's money enters the pool: its bank cuts it to the counter.
    poll(TRACE_TIMEOUT, "the accounts holding the victim's money restricted", || {
        let (world, holders) = (world.clone(), holders.clone());
        async move {
            let world = simulator::world::lock(&world);
            let open: Vec<_> = holders.iter().filter(|a| world.ledger.restricted(a).is_empty()).collect();
            Ok(if open.is_empty() { Ok(()) } else { Err(format!("not restricted: {open:?}")) })
        }
    })
    .await
    .unwrap();

    // Blocking sends its orders as soon as their events are queued, before the commit: the
    // bank may restrict an account before `pool_entered` is in the case's rows.
    let kinds: Vec<String> = poll(TRACE_TIMEOUT, "the case's rows name every pool entry", || {
        let (client, center, case_id, expected) = (client.clone(), center.clone(), case_id.clone(), holders.len());
        async move {
            let request = CaseRequest { case_id };
            let case: CaseResponse = afc::client::blocking(&client, &center, VERB_CASE, &request).await?;
            let Reply::Ok(case) = case else { anyhow::bail!("{case:?}") };
            let kinds: Vec<String> = case.entries.iter().map(|e| format!("{:?}", e.kind)).collect();
            let pooled = kinds.iter().filter(|k| *k == "PoolEntered").count();
            Ok(if pooled == expected { Ok(kinds) } else { Err(format!("{pooled} of {expected} pooled: {kinds:?}")) })
        }
    })
    .await
    .unwrap();
    assert!(kinds.contains(&"Refused".to_owned()), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "Blocked").count(), 2, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| *k == "PoolEntered").count(), holders.len(), "{kinds:?}");

    // A lift on appeal reaches the carrier.
    let lift = LiftRequest {
        kind: "phone".into(),
        value: "+8617000000000".into(),
        reason: "number reassigned to a new subscriber".into(),
        operator: format!("{center}-liaison-01"),
    };
    let lifted: LiftResponse = afc::client::blocking(&client, &center, VERB_LIFT, &lift).await.unwrap();
    assert!(matches!(lifted, Reply::Ok(_)), "{lifted:?}");
    poll(TRACE_TIMEOUT, "the number's block lifted at its carrier", || {
        let (world, phone) = (world.clone(), phone.clone());
        async move {
            let blocked = simulator::world::lock(&world).telecom.is_blocked(&phone);
            Ok(if blocked { Err("still blocked".to_owned()) } else { Ok(()) })
        }
    })
    .await
    .unwrap();
    deployment.stop().await;
}
