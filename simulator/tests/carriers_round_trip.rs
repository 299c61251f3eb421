//! The simulated carriers and bank restrictions over a real nats-server, asked with the
//! protocol's types as blocking's adapter clients ask: a block confirmed by the carrier that issued the number and refused
//! `not_ours` by another, a retry answered once, a lift, a card restricted to local voice,
//! and a pool account whose scheduled forward the bank then refuses.

use std::sync::{Arc, Mutex};

use domain::{AccountRef, BankId, City, Clock, Fen, IdentifierKind, TimeMs};
use protocol::adapter::{AccountRestrictRequest, AdapterError, AdapterErrorKind, Counterparty};
use protocol::carrier::{
    BankChannels, BlockReply, BlockRequest, BlockTarget, CardSubject, Carrier, Channel, Phone, PhoneChannels,
    RequestId, RestrictReply, RestrictRequest,
};
use protocol::holder::AccountRestrictReply;
use protocol::subjects::{self, bank_verb, carrier_verb};
use protocol::{Reply, to_json};
use serde::Serialize;
use serde::de::DeserializeOwned;
use simulator::{BlockReason, CarrierVerb, Outcome, ScheduledTransfer, ServeOptions, World, serve};

const NOW: TimeMs = 1_763_700_000_000;

/// A clock stopped at one instant.
#[derive(Debug)]
struct FixedClock(TimeMs);

impl Clock for FixedClock {
    fn now_ms(&self) -> TimeMs {
        self.0
    }
}

fn center() -> City {
    City::parse("huzhou").unwrap()
}

fn id(s: &str) -> RequestId {
    RequestId::parse(s).unwrap()
}

fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020200001234").unwrap()
}

fn next() -> AccountRef {
    AccountRef::parse("icbc:6222020200009999").unwrap()
}

/// Asks `subject` and decodes the reply.
async fn ask<Q: Serialize, A: DeserializeOwned>(
    client: &async_nats::Client,
    subject: String,
    request: &Q,
) -> Result<A, AdapterError> {
    let message = client.request(subject, to_json(request).into()).await.expect("the simulator answers");
    let reply: Reply<A, AdapterError> = serde_json::from_slice(&message.payload).expect("a reply of the protocol");
    reply.into_result()
}

#[tokio::test]
async fn carriers_block_lift_and_restrict_and_banks_restrict_over_nats() {
    let server = testkit::NatsServer::single().await.expect("a nats-server (AFC_NATS_SERVER, .tools or PATH)");
    let client = async_nats::connect(server.url()).await.expect("connects to nats-server");
    let mut world = World::new(vec![BankId::parse("icbc").unwrap()], vec![]);
    world.ledger.open_account(mule()).unwrap();
    world.ledger.open_account(next()).unwrap();
    world.ledger.deposit(&mule(), Fen::yuan(5_000), NOW).unwrap();
    let world = Arc::new(Mutex::new(world));
    let opts = ServeOptions { clock: Arc::new(FixedClock(NOW)), ..ServeOptions::default() };
    let handle = serve(Arc::clone(&world), vec![client.clone()], opts).await.expect("serves");
    let block_at = |carrier, verb| subjects::carrier(carrier, verb);

    let phone = BlockTarget::new(IdentifierKind::Phone, "+8613800138000").unwrap();
    let block = BlockRequest {
        request_id: id("huzhou/cmcc/phone:+8613800138000/block1"),
        center: center(),
        identifier: phone.clone(),
    };
    let confirmed: BlockReply =
        ask(&client, block_at(Carrier::Cmcc, carrier_verb::BLOCK), &block).await.expect("China Mobile confirms");
    assert_eq!(
        (confirmed.request_id.clone(), confirmed.blocked, confirmed.applied_at_ms),
        (block.request_id.clone(), true, NOW)
    );
    let again: BlockReply =
        ask(&client, block_at(Carrier::Cmcc, carrier_verb::BLOCK), &block).await.expect("a retry is confirmed");
    assert_eq!(again, confirmed, "the first answer");
    let refused = ask::<_, BlockReply>(&client, block_at(Carrier::Cucc, carrier_verb::BLOCK), &block)
        .await
        .expect_err("a China Mobile number is not Unicom's");
    assert_eq!(refused.kind, AdapterErrorKind::NotOurs);

    let lift = BlockRequest { request_id: id("huzhou/cmcc/phone:+8613800138000/lift1"), ..block.clone() };
    let lifted: BlockReply = ask(&client, block_at(Carrier::Cmcc, carrier_verb::LIFT), &lift).await.expect("lifted");
    assert!(!lifted.blocked);

    let card = RestrictRequest {
        request_id: id("huzhou/ctcc/phone:+8617000000000/restrict1"),
        center: center(),
        subject: CardSubject::Phone(Phone::parse("+8617000000000").unwrap()),
        channels: PhoneChannels::new(Channel::LOCAL_VOICE_ONLY.to_vec()).unwrap(),
    };
    let restricted: RestrictReply =
        ask(&client, block_at(Carrier::Ctcc, carrier_verb::RESTRICT), &card).await.expect("restricted");
    assert_eq!(restricted.restricted, Channel::LOCAL_VOICE_ONLY);

    let pool = AccountRestrictRequest {
        request_id: id("huzhou/icbc/icbc:6222020200001234/restrict1"),
        center: center(),
        account: mule(),
        channels: BankChannels::new(Channel::BANK_POOL.to_vec()).unwrap(),
    };
    // The mule's holder on file at the bank is named in the answer, with their other account.
    let key = domain::HolderKey::parse("icbc:0123456789abcdef").unwrap();
    let phones = vec![Phone::parse("+8613800138000").unwrap()];
    let holder = simulator::holders::Holder { key: key.clone(), phones, accounts: vec![mule(), next()] };
    simulator::world::lock(&world).holders.add(holder);
    let restricted: AccountRestrictReply =
        ask(&client, subjects::bank(&mule().bank(), bank_verb::RESTRICT), &pool).await.expect("the bank restricts");
    assert_eq!(restricted.restricted, Channel::BANK_POOL);
    let named = restricted.holder.expect("the bank names the holder");
    assert_eq!((named.key(), named.accounts(), named.phones().len()), (&key, [next()].as_slice(), 1));

    {
        let mut world = simulator::world::lock(&world);
        let verbs: Vec<CarrierVerb> = world.telecom.log().iter().map(|record| record.verb).collect();
        assert_eq!(verbs, [CarrierVerb::Block, CarrierVerb::Lift, CarrierVerb::Restrict], "each applied once");
        assert!(world.telecom.log().iter().all(|record| record.at_ms == NOW && record.center == center()));
        assert!(!world.telecom.is_blocked(&phone));
        let forward = ScheduledTransfer {
            due_at_ms: NOW + 60_000,
            from: mule(),
            to: Counterparty::Account(next()),
            amount: Fen::yuan(4_000),
        };
        world.schedule.push(forward).unwrap();
        let outcomes = world.execute_due(NOW + 60_000);
        assert!(
            matches!(&outcomes[..], [Outcome::Blocked { reason: BlockReason::Restricted { .. }, .. }]),
            "{outcomes:?}"
        );
        assert_eq!(world.ledger.balance(&next()), Some(Fen::ZERO));
    }
    assert_eq!(handle.stats().invalid, 0);
    handle.shutdown().await;
}
