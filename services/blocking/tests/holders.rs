//! Card sellers end to end on a real nats-server: a bank's answer to `restrict` names the
//! account's holder; a holder named in two cases — through two of their accounts, or through
//! one account reached in two cases — is a card seller, whose phone cards the carriers are
//! ordered to restrict to local voice only.

mod common;

use blocking::events::{BlockingEvent, Channel, PoolSubject};
use common::{Counterparties, Harness, contacts, count};
use domain::{AccountRef, Carrier, HolderKey};
use protocol::blocking::{VERB_CASE, VERB_CHECK};
use protocol::subjects::{self, carrier_verb};
use serde_json::json;

fn account(n: u32) -> AccountRef {
    AccountRef::parse(&format!("icbc:62220202000{n:05}")).unwrap()
}

/// The card seller's pool entry, once it is seen.
fn seller_entered(seen: &[BlockingEvent], holder: &HolderKey) -> Option<(Vec<Channel>, usize)> {
    seen.iter().find_map(|event| match event {
        BlockingEvent::PoolEntered { subject: PoolSubject::Holder(h), channels, cards, .. } if h == holder => {
            Some((channels.clone(), cards.len()))
        }
        _ => None,
    })
}

/// The carriers' `restrict` orders asked (not the banks').
fn carrier_restrictions(counterparties: &Counterparties) -> Vec<(String, String, String)> {
    let carriers: Vec<String> = Carrier::ALL.iter().map(|c| subjects::carrier(*c, carrier_verb::RESTRICT)).collect();
    counterparties
        .asked(carrier_verb::RESTRICT)
        .into_iter()
        .filter(|(subject, _, _)| carriers.contains(subject))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_of_two_accounts_in_two_cases_has_their_phone_cards_cut_to_local_voice() {
    let harness = Harness::start().await;
    let counterparties = Counterparties::start(&harness.client).await;
    let holder = HolderKey::parse("icbc:5f0c6e1d2a9b8c7d5f0c6e1d2a9b8c7d").unwrap();
    let (first, second) = (account(1), account(2));
    for (this, other) in [(&first, &second), (&second, &first)] {
        let record = json!({"key": holder.as_str(), "phones": ["+8613800138000", "+8618900000000"], "accounts": [other.as_str()]});
        counterparties.holders.lock().unwrap().insert(this.to_string(), record);
    }
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    let case1 = harness.report(1, contacts(&[], &[])).await;
    let case2 = harness.report(2, contacts(&[], &[])).await;
    harness.stopped(1, &case1, &first, 50_000).await;
    harness.stopped(2, &case2, &second, 70_000).await;
    // Two bank restrictions and one card restriction at each card's carrier, all confirmed.
    let seen = watch.until(|seen| seller_entered(seen, &holder).is_some() && count(seen, "order_confirmed") == 4).await;
    assert_eq!(seller_entered(&seen, &holder), Some((Channel::LOCAL_VOICE_ONLY.to_vec(), 2)), "{seen:#?}");
    assert_eq!(count(&seen, "holder_reported"), 2, "once per case: {seen:#?}");
    let mut cards: Vec<(String, String)> =
        carrier_restrictions(&counterparties).into_iter().map(|(subject, _, target)| (subject, target)).collect();
    cards.sort();
    assert_eq!(
        cards,
        [
            (subjects::carrier(Carrier::Cmcc, carrier_verb::RESTRICT), "phone:+8613800138000".to_owned()),
            (subjects::carrier(Carrier::Ctcc, carrier_verb::RESTRICT), "phone:+8618900000000".to_owned()),
        ]
    );
    // Staff see the card in the pool, and the holder in the case (by key, never a number).
    let checked = harness.command(VERB_CHECK, json!({"kind": "phone", "value": "138 0013 8000"})).await;
    assert_eq!(checked["ok"]["in_pool"], true, "{checked}");
    let case = harness.command(VERB_CASE, json!({"case_id": case2.to_string()})).await;
    let entries = case["ok"]["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["kind"] == "holder_reported"), "{case}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_account_reached_in_two_cases_makes_its_holder_a_card_seller() {
    let harness = Harness::start().await;
    let counterparties = Counterparties::start(&harness.client).await;
    let holder = HolderKey::parse("icbc:00112233445566778899aabbccddeeff").unwrap();
    let mule = account(3);
    let record = json!({"key": holder.as_str(), "phones": ["+8613300000000"]});
    counterparties.holders.lock().unwrap().insert(mule.to_string(), record);
    let mut watch = harness.watch().await;
    let running = harness.run().await;
    let case1 = harness.report(1, contacts(&[], &[])).await;
    harness.stopped(1, &case1, &mule, 50_000).await;
    // The bank named the holder in the first case; the account is restricted.
    watch.until(|seen| count(seen, "holder_reported") == 1 && count(seen, "order_confirmed") == 1).await;
    // The second case sends no order to the bank: the holder known is named in it all the same.
    let case2 = harness.report(2, contacts(&[], &[])).await;
    harness.stopped(2, &case2, &mule, 20_000).await;
    let seen = watch.until(|seen| seller_entered(seen, &holder).is_some() && count(seen, "order_confirmed") == 2).await;
    assert_eq!(count(&seen, "pool_involved"), 1, "{seen:#?}");
    assert_eq!(count(&seen, "holder_reported"), 2, "{seen:#?}");
    let asked = carrier_restrictions(&counterparties);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].2, "phone:+8613300000000");
    assert!(asked[0].1.ends_with("/restrict1"), "{asked:?}");
    running.stop().await;
}
