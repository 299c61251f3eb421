//! Returns over a real nats-server, asked with the adapter client restitution uses: a bank
//! that executes at once, one that accepts first and executes once the simulated days have
//! passed (asked again with the same request), and the refusals a return can meet.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::Adapters;
use domain::{AccountRef, BankId, CaseId, City, Clock, Fen, Sensitive, TimeMs};
use protocol::adapter::{AdapterErrorKind, Counterparty, FreezeRequest, ReturnRequest, ReturnStatus};
use simulator::{ServeOptions, World, serve};

const T0: TimeMs = 1_763_700_000_000;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now_ms(&self) -> TimeMs {
        self.0.load(Ordering::SeqCst)
    }
}

fn victim() -> AccountRef {
    AccountRef::parse("ccb:6217000011112222").unwrap()
}

fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020200001234").unwrap()
}

fn center() -> City {
    City::parse("hangzhou").unwrap()
}

/// icbc and ccb; the victim (ccb) paid a mule (icbc) 600 yuan, of which the center froze 500.
fn world() -> World {
    let banks = ["icbc", "ccb"].map(|bank| BankId::parse(bank).unwrap()).to_vec();
    let mut world = World::new(banks, vec![]);
    let ledger = &mut world.ledger;
    ledger.open_account(victim()).unwrap();
    ledger.open_account(mule()).unwrap();
    ledger.deposit(&victim(), Fen::yuan(1_000), T0).unwrap();
    ledger.transfer(&victim(), &Counterparty::Account(mule()), Fen::yuan(600), T0 + 1).unwrap();
    let freeze = FreezeRequest {
        request_id: "f1".into(),
        center: center(),
        case_id: CaseId::derive(&center(), 1),
        account: mule(),
        amount_fen: Fen::yuan(500),
    };
    ledger.freeze(&freeze, T0 + 2).unwrap();
    world
}

fn request(id: &str, amount: Fen) -> ReturnRequest {
    let case_id = CaseId::derive(&center(), 1);
    ReturnRequest {
        request_id: id.to_owned(),
        center: center(),
        allocation: format!("{case_id}/a1"),
        case_id,
        account: mule(),
        to_account: Sensitive::new(victim()),
        amount_fen: amount,
    }
}

async fn served(
    world: World,
) -> (testkit::NatsServer, Arc<Mutex<World>>, Arc<ManualClock>, simulator::ServeHandle, Adapters) {
    // A missing nats-server fails the test: it is installed by `cargo xtask test`.
    let server = testkit::NatsServer::single().await.expect("a nats-server (AFC_NATS_SERVER, .tools or PATH)");
    let client = async_nats::connect(server.url()).await.expect("connects to nats-server");
    let world = Arc::new(Mutex::new(world));
    let clock = Arc::new(ManualClock(AtomicU64::new(T0 + 10)));
    let opts = ServeOptions { clock: clock.clone(), ..ServeOptions::default() };
    let handle = serve(Arc::clone(&world), vec![client.clone()], opts).await.expect("serves");
    let adapters = Adapters::new(client).with_limits(Duration::from_secs(5), 0);
    (server, world, clock, handle, adapters)
}

#[tokio::test]
async fn a_return_is_executed_at_once_and_answered_again_without_moving_money_twice() {
    let (_server, world, _clock, handle, adapters) = served(world()).await;
    let reply = adapters.return_money(&request("r1", Fen::yuan(400))).await.expect("the bank returns");
    assert_eq!(
        (reply.status, reply.amount_fen, reply.executed_at_ms),
        (ReturnStatus::Executed, Fen::yuan(400), Some(T0 + 10))
    );
    let again = adapters.return_money(&request("r1", Fen::yuan(400))).await.expect("the first answer");
    assert_eq!(again, reply);
    {
        let world = simulator::world::lock(&world);
        assert_eq!(world.ledger.balance(&victim()), Some(Fen::yuan(800)));
        assert_eq!(world.ledger.balance(&mule()), Some(Fen::yuan(200)));
        let executed = world.ledger.returns_executed();
        assert_eq!(executed.len(), 1);
        assert_eq!(
            (&executed[0].to, executed[0].amount, executed[0].transfer_id.as_str()),
            (&victim(), Fen::yuan(400), reply.transfer_id.as_deref().unwrap())
        );
        world.ledger.check_conservation().unwrap();
        // A drill attributes the money as it was before any return: the payment only.
        assert_eq!(simulator::truth::booked_transfers(&world.ledger).len(), 2);
        let before = simulator::truth::booked_transfers_before_returns(&world.ledger);
        assert_eq!(before.len(), 1);
        assert_eq!((&before[0].from, before[0].amount), (&victim(), Fen::yuan(600)));
    }

    let refused = adapters.return_money(&request("r2", Fen::yuan(101))).await.unwrap_err();
    assert_eq!(refused.kind.refusal(), Some(AdapterErrorKind::NotFrozen), "100 yuan are left frozen: {refused}");
    let refused = adapters.return_money(&request("r1", Fen::yuan(100))).await.unwrap_err();
    assert_eq!(refused.kind.refusal(), Some(AdapterErrorKind::InvalidRequest), "r1 was another return: {refused}");
    let mut nobody = request("r3", Fen::yuan(1));
    nobody.to_account = Sensitive::new(AccountRef::parse("ccb:6217000099999999").unwrap());
    let refused = adapters.return_money(&nobody).await.unwrap_err();
    assert_eq!(refused.kind.refusal(), Some(AdapterErrorKind::UnknownAccount), "ccb holds no such account: {refused}");
    handle.shutdown().await;
}

#[tokio::test]
async fn a_bank_with_a_delay_accepts_first_and_reports_executed_once_the_days_have_passed() {
    let mut world = world();
    world.ledger.set_return_delay(BankId::parse("icbc").unwrap(), 3 * DAY_MS);
    let (_server, world, clock, handle, adapters) = served(world).await;
    let first = adapters.return_money(&request("r1", Fen::yuan(500))).await.expect("the bank accepts");
    assert_eq!((first.status, first.transfer_id), (ReturnStatus::Accepted, None));
    clock.0.store(T0 + 10 + 3 * DAY_MS - 1, Ordering::SeqCst);
    let polled = adapters.return_money(&request("r1", Fen::yuan(500))).await.expect("still accepted");
    assert_eq!(polled.status, ReturnStatus::Accepted);
    assert_eq!(simulator::world::lock(&world).ledger.balance(&victim()), Some(Fen::yuan(400)), "nothing moved yet");

    clock.0.store(T0 + 10 + 3 * DAY_MS, Ordering::SeqCst);
    let executed = adapters.return_money(&request("r1", Fen::yuan(500))).await.expect("executed");
    assert_eq!((executed.status, executed.executed_at_ms), (ReturnStatus::Executed, Some(T0 + 10 + 3 * DAY_MS)));
    clock.0.store(T0 + 10 * DAY_MS, Ordering::SeqCst);
    assert_eq!(adapters.return_money(&request("r1", Fen::yuan(500))).await.unwrap(), executed, "the same transfer");
    {
        let world = simulator::world::lock(&world);
        assert_eq!(world.ledger.balance(&victim()), Some(Fen::yuan(900)));
        assert_eq!(world.ledger.returns_executed().len(), 1);
        world.ledger.check_conservation().unwrap();
    }
    handle.shutdown().await;
}
