//! The simulated banks over a real nats-server: a stop-payment round trip, its idempotent
//! repeat, and an `invalid_request` reply to a body that does not parse.
//!
//! Needs `.tools/nats-server/bin/nats-server` in the workspace (see the simulator's brief);
//! the test passes without checking anything, with a note, when it is not installed.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use domain::{CaseId, City, Clock, TimeMs};
use protocol::adapter::{AdapterError, AdapterErrorKind, StopPaymentRequest, StopPaymentResponse};
use protocol::{Reply, subjects};
use simulator::{ServeOptions, serve, single_trail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const NOW: TimeMs = 1_763_700_000_000;

/// Log lines read while waiting for the server to say where it listens.
const MAX_STARTUP_LOG_LINES: usize = 200;

/// A clock stopped at one instant.
#[derive(Debug)]
struct FixedClock(TimeMs);

impl Clock for FixedClock {
    fn now_ms(&self) -> TimeMs {
        self.0
    }
}

/// A nats-server on a random port, killed when dropped.
struct NatsServer {
    _child: Child,
    url: String,
}

fn nats_server_binary() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/nats-server/bin/nats-server");
    path.exists().then_some(path)
}

/// Starts the server on a port it picks itself and reads its log until it says which one
/// (so there is no race for a free port and no polling).
async fn start_nats(binary: &PathBuf) -> NatsServer {
    let mut child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", "-1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("nats-server starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut url = None;
    for _ in 0..MAX_STARTUP_LOG_LINES {
        let line = lines.next_line().await.expect("nats-server log is readable").expect("nats-server keeps running");
        if let Some((_, address)) = line.split_once("Listening for client connections on ") {
            url = Some(format!("nats://{}", address.trim()));
        }
        if line.contains("Server is ready") {
            break;
        }
    }
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    NatsServer { _child: child, url: url.expect("nats-server logs its client port") }
}

#[tokio::test]
async fn stop_payment_and_invalid_request_over_nats() {
    let Some(binary) = nats_server_binary() else {
        eprintln!("nats-server not installed under .tools; skipping");
        return;
    };
    let server = start_nats(&binary).await;
    let client = async_nats::connect(&server.url).await.expect("connects to nats-server");

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
