//! The gateways of a generated city server, live: each carrier's gateway (`<city>-carrier-
//! <carrier>`) answers its own carrier's verbs and may not even listen to another's, a bank's
//! gateway hears its new `restrict` verb, and a city identity granted to order blocks reaches
//! the carrier through the carrier's account.

use std::path::Path;
use std::time::Duration;

use domain::{BankId, Carrier, City, PlatformId};
use futures::StreamExt as _;
use protocol::subjects::{self, bank_verb, carrier_verb};
use security::secrets::{self, Secrets, SecretsSpec, city_identity};
use security::{CredentialFiles, Grant, roles};
use testkit::{NatsServer, ServerOptions};
use tokio::sync::mpsc;

/// Bound on a refusal, an answer or a connection.
const BOUND: Duration = Duration::from_secs(10);

fn city() -> City {
    City::parse("huzhou").unwrap()
}

fn alipay() -> PlatformId {
    PlatformId::parse("alipay").unwrap()
}

fn icbc() -> BankId {
    BankId::parse("icbc").unwrap()
}

/// The blocking service's part here: orders blocks of every carrier and restrictions of banks.
const ORDERER: &str = "orderer";

fn services(city: &City) -> Vec<(&'static str, Grant)> {
    let mut grant = Grant::new().inbox(&subjects::city_inbox(city, ORDERER));
    for verb in carrier_verb::ALL {
        grant = grant.publish(subjects::any_carrier(verb));
    }
    vec![(ORDERER, grant.publish(subjects::any_bank(bank_verb::RESTRICT)))]
}

async fn city_server(dir: &Path) -> (Secrets, NatsServer) {
    let spec = SecretsSpec {
        cities: vec![city()],
        host: "localhost".into(),
        address: std::net::Ipv4Addr::LOCALHOST.into(),
        banks: vec![icbc()],
        platforms: vec![alipay()],
        carriers: Carrier::ALL.to_vec(),
        hub_hosts: Vec::new(),
    };
    let secrets = secrets::generate(&spec, dir, &services).unwrap();
    let node = &secrets.city(&city()).unwrap().node;
    let config = format!("{}{}", secrets.tls_block("", &node.cert, false), node.accounts);
    let options = ServerOptions {
        jetstream_domain: Some(city().as_str().into()),
        extra_config: Some(config),
        ..ServerOptions::new(city().as_str())
    };
    (secrets, NatsServer::start(options).await.unwrap())
}

/// Connects as `<city>-<who>`; the server's refusals come on the receiver.
async fn connect(dir: &Path, server: &NatsServer, who: &str) -> (async_nats::Client, mpsc::UnboundedReceiver<String>) {
    let credentials = CredentialFiles::of_deployment(dir)
        .credentials(&city_identity(&city(), who), subjects::city_inbox(&city(), who))
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let options = credentials.options().event_callback(move |event| {
        let tx = tx.clone();
        async move {
            if let async_nats::Event::ServerError(error) = event {
                let _ = tx.send(error.to_string());
            }
        }
    });
    (options.connect(server.url()).await.unwrap(), rx)
}

async fn refusal(errors: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(BOUND, errors.recv()).await.expect("the server refuses").expect("connected")
}

/// Asks `subject` until someone answers, bounded by [`BOUND`]: a gateway's subscription in
/// its own account may reach the city's import a moment after its flush.
async fn ask(client: &async_nats::Client, subject: String, body: &'static str) -> Vec<u8> {
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        match tokio::time::timeout(BOUND, client.request(subject.clone(), body.into())).await.unwrap() {
            Ok(answer) => return answer.payload.to_vec(),
            Err(error) if error.kind() == async_nats::RequestErrorKind::NoResponders => {
                assert!(tokio::time::Instant::now() < deadline, "nobody answered {subject} within {BOUND:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => panic!("asking {subject}: {error}"),
        }
    }
}

/// Answers the first request on `subject` with `answer`.
async fn answer_once(client: async_nats::Client, subject: String, answer: &'static str) -> tokio::task::JoinHandle<()> {
    let mut requests = client.subscribe(subject).await.unwrap();
    client.flush().await.unwrap();
    tokio::spawn(async move {
        let request = requests.next().await.expect("a request");
        client.publish(request.reply.expect("a request has a reply"), answer.into()).await.unwrap();
        client.flush().await.unwrap();
    })
}

#[test]
fn a_carriers_gateway_is_granted_its_own_verbs_only() {
    let grant = roles::carrier_gateway(&city(), Carrier::Cmcc);
    assert!(grant.may_subscribe(&subjects::carrier(Carrier::Cmcc, carrier_verb::BLOCK)));
    assert!(grant.may_publish(&subjects::signals(&city(), "cmcc")));
    assert!(!grant.may_publish(&subjects::signals(&city(), "cucc")));
    assert!(!grant.may_publish(&subjects::signals(&City::parse("wenzhou").unwrap(), "cmcc")));
    for carrier in [Carrier::Cucc, Carrier::Ctcc] {
        assert!(!grant.may_subscribe(&subjects::carrier(carrier, carrier_verb::BLOCK)), "{carrier}");
    }
    assert!(!grant.may_subscribe(&subjects::bank_verbs(&icbc())));
    assert!(!grant.may_publish(&subjects::carrier(Carrier::Cucc, carrier_verb::BLOCK)));
    let bank = roles::bank_gateway(&icbc());
    for verb in bank_verb::ALL {
        assert!(bank.may_subscribe(&subjects::bank(&icbc(), verb)), "{verb}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carriers_gateway_answers_its_orders_and_cannot_listen_to_another_carriers() {
    let dir = tempfile::tempdir().unwrap();
    let (_secrets, server) = city_server(dir.path()).await;

    let (cmcc, mut cmcc_errors) = connect(dir.path(), &server, "carrier-cmcc").await;
    let _eavesdrop = cmcc.subscribe(subjects::carrier_verbs(Carrier::Cucc)).await.unwrap();
    let error = refusal(&mut cmcc_errors).await;
    assert!(error.contains("Permissions Violation for Subscription"), "{error}");
    assert!(error.contains(&subjects::carrier_verbs(Carrier::Cucc)), "{error}");

    let block = subjects::carrier(Carrier::Cmcc, carrier_verb::BLOCK);
    let answering = answer_once(cmcc.clone(), subjects::carrier_verbs(Carrier::Cmcc), "blocked").await;
    let (orderer, _) = connect(dir.path(), &server, ORDERER).await;
    assert_eq!(ask(&orderer, block, "block").await, b"blocked");
    answering.await.unwrap();

    let (bank, _) = connect(dir.path(), &server, "bank-icbc").await;
    let answering = answer_once(bank, subjects::bank_verbs(&icbc()), "restricted").await;
    let restrict = subjects::bank(&icbc(), bank_verb::RESTRICT);
    assert_eq!(ask(&orderer, restrict, "restrict").await, b"restricted");
    answering.await.unwrap();

    let (ctcc, mut ctcc_errors) = connect(dir.path(), &server, "carrier-ctcc").await;
    ctcc.publish(subjects::carrier(Carrier::Cmcc, carrier_verb::LIFT), "lift".into()).await.unwrap();
    let error = refusal(&mut ctcc_errors).await;
    assert!(error.contains("Permissions Violation for Publish"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_carriers_gateway_puts_its_signals_into_the_citys_signal_stream_and_no_other_carriers() {
    let dir = tempfile::tempdir().unwrap();
    let (_secrets, server) = city_server(dir.path()).await;
    let (admin, _) = connect(dir.path(), &server, "admin").await;
    bus::streams::ensure_signal_stream(&async_nats::jetstream::new(admin), &city()).await.unwrap();

    let (cmcc, mut cmcc_errors) = connect(dir.path(), &server, "carrier-cmcc").await;
    let js = async_nats::jetstream::new(cmcc.clone());
    let signal =
        r#"{"source":"cmcc","signal_id":"s-1","subscriber":"+8613800138000","at_ms":1,"what":"transfer_instructions"}"#;
    let ack = js.publish(subjects::signals(&city(), "cmcc"), signal.into()).await.unwrap();
    let ack = tokio::time::timeout(BOUND, ack).await.expect("the stream acknowledges").unwrap();
    assert_eq!(ack.stream, city().signal_stream_name());

    cmcc.publish(subjects::signals(&city(), "cucc"), signal.into()).await.unwrap();
    let error = refusal(&mut cmcc_errors).await;
    assert!(error.contains("Permissions Violation for Publish"), "{error}");
    assert!(error.contains(&subjects::signals(&city(), "cucc")), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platforms_gateway_puts_its_signals_into_the_citys_signal_stream_and_no_other_platforms() {
    let dir = tempfile::tempdir().unwrap();
    let (_secrets, server) = city_server(dir.path()).await;
    let (admin, _) = connect(dir.path(), &server, "admin").await;
    bus::streams::ensure_signal_stream(&async_nats::jetstream::new(admin), &city()).await.unwrap();

    let who = roles::platform_gateway_name(&alipay());
    let (alipay, mut errors) = connect(dir.path(), &server, &who).await;
    let js = async_nats::jetstream::new(alipay.clone());
    let signal = r#"{"source":"platform:alipay","signal_id":"a-1","subscriber":"+8613800138000","at_ms":1,"what":{"app_installed":{"app":"app:com.fake.loan"}}}"#;
    let ack = js.publish(subjects::signals(&city(), "platform:alipay"), signal.into()).await.unwrap();
    let ack = tokio::time::timeout(BOUND, ack).await.expect("the stream acknowledges").unwrap();
    assert_eq!(ack.stream, city().signal_stream_name());

    for other in [subjects::signals(&city(), "platform:douyin"), subjects::signals(&city(), "cmcc")] {
        alipay.publish(other.clone(), signal.into()).await.unwrap();
        let error = refusal(&mut errors).await;
        assert!(error.contains("Permissions Violation for Publish"), "{error}");
        assert!(error.contains(&other), "{error}");
    }
}

#[test]
fn only_the_coordinator_may_send_the_provinces_notices_and_no_identity_of_a_city_can() {
    let notice = subjects::province_notice(&city(), domain::Service::Freezing, subjects::notice_kind::CROSS_CITY);
    let block = subjects::province_notice(&city(), domain::Service::Blocking, subjects::notice_kind::PROVINCE_BLOCK);
    let unblock =
        subjects::province_notice(&city(), domain::Service::Blocking, subjects::notice_kind::PROVINCE_UNBLOCK);
    let coordinator = security::hub::province_coordinator();
    assert!(coordinator.may_publish(&notice) && coordinator.may_publish(&block) && coordinator.may_publish(&unblock));
    assert!(!coordinator.may_publish(&subjects::command(&city(), domain::Service::Freezing, "show")));
    for (who, grant) in [
        ("staff", roles::staff(&city())),
        ("observer", roles::observer(&city())),
        ("carrier", roles::carrier_gateway(&city(), Carrier::Cmcc)),
        ("province observer", security::hub::province_observer()),
    ] {
        assert!(!grant.may_publish(&notice) && !grant.may_publish(&block) && !grant.may_publish(&unblock), "{who}");
    }
    // The hub may send them down the city's leaf link, and only the city's own.
    let link = security::hub::leaf_link(&city());
    assert!(link.may_subscribe(&notice) && link.may_subscribe(&block) && link.may_subscribe(&unblock));
    let wenzhou = City::parse("wenzhou").unwrap();
    assert!(!link.may_subscribe(&subjects::province_notice(&wenzhou, domain::Service::Freezing, "cross_city")));
}
