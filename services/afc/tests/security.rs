//! A city's nats-server with the accounts and grants the `security` crate renders, TLS with
//! a certificate of the development CA, and each process connecting as its own identity: the
//! server, not the client, keeps everyone where they belong.

mod common;

use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use common::secured::{SecuredCity, city, icbc, secured_city};
use domain::Service;
use events::{Envelope, Payload};
use protocol::subjects::{self, bank_verb};
use security::pki::DevCa;
use security::{Credentials, Identity};
use tokio::sync::mpsc;

/// Bound on a refusal, an answer or a connection.
const BOUND: Duration = Duration::from_secs(10);

/// Connects as `identity` (TLS, trusting the CA) with `inbox` as its inbox prefix; the
/// server's refusals (which a client otherwise only sees as a timeout) come on the receiver.
async fn connect(
    secured: &SecuredCity,
    identity: &Identity,
    inbox: &str,
) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let identity = identity.clone();
    let credentials = Credentials { identity, ca: Some(secured.ca.clone()), inbox: inbox.into() };
    let client = credentials
        .options()
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    let _ = tx.send(error.to_string());
                }
            }
        })
        .connect(secured.server.url())
        .await
        .unwrap();
    (client, rx)
}

async fn refusal(errors: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(BOUND, errors.recv()).await.expect("the server refuses").expect("connected")
}

fn inbox(who: &str) -> String {
    subjects::city_inbox(&city(), who)
}

fn event(seq: u64, payload: Payload) -> (String, Bytes) {
    let envelope = Envelope::new(city(), seq, 1, payload);
    (envelope.subject(), events::encode(&envelope).unwrap().into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_client_an_unknown_key_a_client_without_tls_and_one_trusting_another_ca_are_refused() {
    let secured = secured_city().await;
    let trusting = || async_nats::ConnectOptions::new().require_tls(true).add_root_certificates(secured.ca.clone());
    assert!(trusting().connect(secured.server.url()).await.is_err(), "no identity, no connection");
    let stranger = Credentials {
        identity: Identity::generate("stranger").unwrap(),
        ca: Some(secured.ca.clone()),
        inbox: inbox("x"),
    };
    assert!(
        stranger.options().connect(secured.server.url()).await.is_err(),
        "a key the server does not list is refused"
    );

    // The intake's own key, but trusting another CA: the server's certificate is refused.
    let other = tempfile::tempdir().unwrap();
    let other_ca = DevCa::generate("another CA").unwrap().save(other.path()).unwrap();
    let wrong = Credentials { identity: secured.intake.clone(), ca: Some(other_ca.cert), inbox: inbox("intake") };
    assert!(
        wrong.options().connect(secured.server.url()).await.is_err(),
        "a server the client cannot verify is refused"
    );

    // Plain text: the server announces TLS and answers a plain CONNECT with nothing.
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", secured.server.client_port())).await.unwrap();
    let mut reader = tokio::io::BufReader::new(stream);
    let mut info = String::new();
    reader.read_line(&mut info).await.unwrap();
    assert!(info.contains("\"tls_required\":true"), "{info}");
    reader.get_mut().write_all(b"CONNECT {}\r\nPING\r\n").await.unwrap();
    let mut rest = String::new();
    let _ = tokio::time::timeout(BOUND, tokio::io::AsyncReadExt::read_to_string(&mut reader, &mut rest)).await;
    assert!(!rest.contains("PONG"), "a plain-text client gets no answer: {rest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_cannot_put_a_freezing_event_into_the_stream_and_its_own_events_go_in() {
    let secured = secured_city().await;
    let (admin, _) = connect(&secured, &secured.admin, &inbox("admin")).await;
    bus::streams::ensure_city_stream(&jetstream::new(admin), &city()).await.unwrap();
    let (client, mut errors) = connect(&secured, &secured.intake, &inbox(Service::Intake.as_str())).await;
    let js = jetstream::new(client);

    let own = events::intake::IntakeEvent::CaseReported {
        case_id: domain::CaseId::derive(&city(), 1),
        received_at_ms: 1,
        fraud_type: domain::FraudType::OnlineLoan,
        transfers: Vec::new(),
        contacts: domain::report::Contacts::default(),
        reported_loss_fen: domain::Fen::new(1),
    };
    let (subject, bytes) = event(1, Payload::Intake(own));
    js.publish(subject, bytes).await.unwrap().await.expect("intake's own event is stored");

    let forged = events::FreezingEvent::TraceCompleted {
        case_id: domain::CaseId::derive(&city(), 2),
        claimed_fen: domain::Fen::new(1),
        cashed_out_fen: domain::Fen::ZERO,
        untraced_fen: domain::Fen::ZERO,
        accounts_stopped: 1,
        time_to_freeze_ms: Some(1),
        completed_at_ms: 1,
    };
    let (subject, bytes) = event(2, Payload::Freezing(forged));
    let _ = js.publish(subject.clone(), bytes).await;
    let error = refusal(&mut errors).await;
    assert!(error.contains("Permissions Violation for Publish") && error.contains(&subject), "{error}");
    let mut stream = js.get_stream(city().stream_name()).await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1, "only intake's own event is in the stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_banks_gateway_hears_its_verbs_and_freezing_reaches_it_through_its_account() {
    let secured = secured_city().await;
    let verb = subjects::bank(&icbc(), bank_verb::FREEZE);

    // Staff (or intake, or freezing) listening to the bank's requests is refused.
    let (staff, mut staff_errors) = connect(&secured, &secured.staff, &inbox("staff")).await;
    let _eavesdrop = staff.subscribe(subjects::bank_verbs(&icbc())).await.unwrap();
    let error = refusal(&mut staff_errors).await;
    assert!(error.contains("Permissions Violation for Subscription"), "{error}");

    // The gateway answers freezing's request, once.
    let (bank, _) = connect(&secured, &secured.bank, "_INBOX.bank.icbc").await;
    let mut requests = bank.subscribe(subjects::bank_verbs(&icbc())).await.unwrap();
    bank.flush().await.unwrap();
    let answering = tokio::spawn(async move {
        use futures::StreamExt as _;
        let request = requests.next().await.expect("a request");
        bank.publish(request.reply.expect("a request has a reply"), "frozen".into()).await.unwrap();
        bank.flush().await.unwrap();
    });
    let (freezing, _) = connect(&secured, &secured.freezing, &inbox(Service::Freezing.as_str())).await;
    let answer = tokio::time::timeout(BOUND, freezing.request(verb, "freeze".into())).await.unwrap().unwrap();
    assert_eq!(answer.payload, Bytes::from("frozen"));
    answering.await.unwrap();

    // Freezing asking a verb no bank has is refused.
    let (freezing, mut errors) = connect(&secured, &secured.freezing, &inbox(Service::Freezing.as_str())).await;
    freezing.publish(subjects::bank(&icbc(), "transfer"), "x".into()).await.unwrap();
    let error = refusal(&mut errors).await;
    assert!(error.contains("Permissions Violation for Publish"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_finds_the_stream_its_provisioner_made_and_may_neither_make_nor_change_it() {
    let secured = secured_city().await;
    let (freezing, mut errors) = connect(&secured, &secured.freezing, &inbox(Service::Freezing.as_str())).await;
    let freezing = jetstream::new(freezing);
    assert!(bus::streams::city_stream(&freezing, &city()).await.is_err(), "no stream yet, and no right to make one");
    let error = refusal(&mut errors).await;
    assert!(error.contains("Permissions Violation for Publish to \"$JS.API.STREAM."), "{error}");
    while errors.try_recv().is_ok() {}

    let (admin, _) = connect(&secured, &secured.admin, &inbox("admin")).await;
    bus::streams::ensure_city_stream(&jetstream::new(admin), &city()).await.unwrap();
    bus::streams::city_stream(&freezing, &city()).await.expect("the service finds the provisioned stream");
    assert!(bus::streams::ensure_city_stream(&freezing, &city()).await.is_err(), "a service may not change the stream");
    let error = refusal(&mut errors).await;
    assert!(error.contains("Permissions Violation for Publish to \"$JS.API.STREAM.UPDATE.AFC_HANGZHOU"), "{error}");
}
