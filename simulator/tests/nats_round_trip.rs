//! The simulated banks over a real nats-server: a stop-payment round trip, its idempotent
//! repeat, and an `invalid_request` reply to a body that does not parse.
//! The server is the test kit's (a missing nats-server fails the test).

use std::sync::{Arc, Mutex};

use domain::{CaseId, City, Clock, TimeMs};
use protocol::adapter::{AdapterError, AdapterErrorKind, StopPaymentRequest, StopPaymentResponse};
use protocol::{Reply, subjects};
use simulator::{ServeOptions, serve, single_trail};

const NOW: TimeMs = 1_763_700_000_000;

/// A clock stopped at one instant.
#[derive(Debug)]
struct FixedClock(TimeMs);

impl Clock for FixedClock {
    fn now_ms(&self) -> TimeMs {
        self.0
    }
}

#[tokio::test]
async fn stop_payment_and_invalid_request_over_nats() {
    // A missing nats-server fails the test: it is installed by `cargo xtask test`.
    let server = testkit::NatsServer::single().await.expect("a nats-server (AFC_NATS_SERVER, .tools or PATH)");
    let client = async_nats::connect(server.url()).await.expect("connects to nats-server");

    let wave = single_trail(11, NOW);
    let truth = wave.reports[0].truth.clone();
    let (account, _) = truth.mules.iter().find(|(_, level)| **level == 4).expect("a level-4 mule");
    let expected_held = wave.world.ledger.balance(account).expect("the mule exists");
    let world = Arc::new(Mutex::new(wave.world));
    let opts = ServeOptions { clock: Arc::new(FixedClock(NOW)), ..ServeOptions::default() };
    let handle = serve(Arc::clone(&world), vec![client.clone()], opts).await.expect("serves");

    let center = City::parse("hangzhou").unwrap();
    let request = StopPaymentRequest {
        request_id: "hangzhou-1-stop-1".into(),
        case_id: CaseId::derive(&center, 1),
        center: center.clone(),
        account: account.clone(),
        since_ms: 0,
    };
    let subject = subjects::bank(&account.bank(), subjects::bank_verb::STOP_PAYMENT);
    let body = protocol::to_json(&request);

    let message = client.request(subject.clone(), body.clone().into()).await.expect("the bank answers");
    let reply: StopPaymentResponse = serde_json::from_slice(&message.payload).expect("a stop-payment reply");
    let reply = reply.into_result().expect("the stop-payment is applied");
    assert_eq!(reply.stop_no, 1);
    assert_eq!(reply.held_fen, expected_held);
    assert_eq!(reply.stopped_at_ms, NOW);
    assert!(!reply.statement.is_empty());

    // The same request again: the same answer, applied once.
    let message = client.request(subject.clone(), body.into()).await.expect("the bank answers");
    let again: StopPaymentResponse = serde_json::from_slice(&message.payload).expect("a stop-payment reply");
    assert_eq!(again.into_result().expect("the first answer"), reply);
    {
        let world = simulator::world::lock(&world);
        assert_eq!(world.ledger.duplicate_requests(), 1);
        assert_eq!(world.ledger.stops_applied(&center, account), 1);
        assert!(world.ledger.is_stopped(account, NOW + 1));
    }

    let message = client.request(subject, "{\"request_id\": 5".into()).await.expect("the bank answers");
    let reply: Reply<serde_json::Value, AdapterError> =
        serde_json::from_slice(&message.payload).expect("an error reply");
    let error = reply.into_result().expect_err("a body that does not parse is refused");
    assert_eq!(error.kind, AdapterErrorKind::InvalidRequest);
    assert!(error.message.contains("stop_payment"), "{}", error.message);
    assert_eq!(handle.stats().invalid, 1);
    assert_eq!(handle.stats().requests, 3);

    handle.shutdown().await;
}
