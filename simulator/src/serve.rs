//! NATS servers for the simulated banks, payment platforms and carriers.
//!
//! [`serve`] subscribes, on every given client, to `afc.bank.<bank>.*` for each bank of the
//! world, to `afc.pay.<platform>.*` for each platform and to `afc.carrier.<carrier>.*` for
//! each carrier, in the queue group `sim-bank-<bank>` / `sim-pay-<platform>` /
//! `sim-carrier-<carrier>`, so each request is answered once however many city servers carry
//! the subscription (NATS prefers a queue member on the requester's own server, so a city cut
//! off from the hub still reaches its banks). On a secured province each bank, platform and
//! carrier has a gateway identity at each city, allowed its own verbs only: [`serve_as`]
//! serves each connection as what it [`Serves`].
//!
//! Each request is answered in its own task (at most [`limits::MAX_CONCURRENT_REQUESTS`] at
//! once), after the configured latency, with a [`protocol::Reply`] JSON body. A body that does
//! not parse is answered `{"error":{"kind":"invalid_request","message":…}}` naming the problem.
//! [`answer`] is the same dispatch without NATS, for in-process use.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::{BankId, Carrier, PlatformId, SharedClock, TimeMs};
use futures::StreamExt;
use protocol::Reply;
use protocol::adapter::{
    AccountRestrictRequest, AdapterError, AdapterErrorKind, FlowsRequest, FreezeRequest, ResolveOrderRequest,
    ReturnRequest, StopPaymentRequest,
};
use protocol::holder::AccountRestrictReply;
use protocol::subjects::{bank_verb, platform_verb};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use crate::limits;
use crate::world::{self, World};

/// How the simulated banks behave on the bus.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The clock stop-payments and freezes are applied by.
    pub clock: SharedClock,
    /// How long each request takes to answer (simulated bank latency). The request is
    /// applied, and answered, when the latency has passed.
    pub latency: Duration,
    /// Answer every k-th request (counted over all subjects) `unavailable` without applying
    /// it, for retry tests. `None` never fails.
    pub fail_every: Option<NonZeroU64>,
}

impl Default for ServeOptions {
    /// The system clock, no latency, no failures.
    fn default() -> Self {
        ServeOptions { clock: domain::system_clock(), latency: Duration::ZERO, fail_every: None }
    }
}

/// Why [`serve`] could not start. Nothing is left subscribed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// No client was given.
    #[error("no NATS client to serve on")]
    NoClients,
    /// More clients than [`limits::MAX_SERVE_CLIENTS`].
    #[error("{given} NATS clients given, at most {max} are served")]
    TooManyClients {
        /// Clients given.
        given: usize,
        /// The bound.
        max: usize,
    },
    /// A subscription was refused.
    #[error("subscribing to {subject}: {source}")]
    Subscribe {
        /// The subject.
        subject: String,
        /// The client's error.
        #[source]
        source: async_nats::SubscribeError,
    },
    /// The subscriptions could not be confirmed with the server.
    #[error("flushing subscriptions: {0}")]
    Flush(#[from] async_nats::client::FlushError),
}

/// Counts of requests answered so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Requests received (with a reply subject).
    pub requests: u64,
    /// Requests answered `unavailable` by failure injection.
    pub injected_failures: u64,
    /// Requests answered `invalid_request`.
    pub invalid: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    injected_failures: AtomicU64,
    invalid: AtomicU64,
}

/// What every request task shares.
#[derive(Debug)]
struct Shared {
    world: Arc<Mutex<World>>,
    opts: ServeOptions,
    counters: Counters,
    permits: Arc<Semaphore>,
}

/// The running servers. Dropping the handle stops them (and so unsubscribes).
#[derive(Debug)]
pub struct ServeHandle {
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl ServeHandle {
    /// Counts of requests so far.
    pub fn stats(&self) -> ServeStats {
        let counters = &self.shared.counters;
        ServeStats {
            requests: counters.requests.load(Ordering::Relaxed),
            injected_failures: counters.injected_failures.load(Ordering::Relaxed),
            invalid: counters.invalid.load(Ordering::Relaxed),
        }
    }

    /// Stops every server and request task and waits until they have stopped.
    pub async fn shutdown(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in &mut self.tasks {
            // Aborted: the join error says only that.
            let _ = task.await;
        }
    }
}

impl Drop for ServeHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What one connection serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serves {
    /// Every bank and platform of the world (a connection that may subscribe to them all).
    All,
    /// One bank's verbs: the connection is that bank's gateway, allowed nothing else.
    Bank(BankId),
    /// One payment platform's verbs.
    Platform(PlatformId),
    /// One carrier's verbs.
    Carrier(Carrier),
}

mod carrier;

/// Serves the world's banks and platforms on every client (one per city server) until the
/// returned handle is dropped. Returns once every subscription is registered with its
/// server. Must be called within a tokio runtime.
pub async fn serve(
    world: Arc<Mutex<World>>,
    clients: Vec<async_nats::Client>,
    opts: ServeOptions,
) -> Result<ServeHandle, ServeError> {
    serve_as(world, clients.into_iter().map(|client| (client, Serves::All)).collect(), opts).await
}

/// Serves the world's banks and platforms as `connections` say: each connection answers
/// what it [`Serves`] (a gateway identity its own bank's or platform's verbs), until the
/// returned handle is dropped. A bank or platform not of the world is served all the same:
/// it answers that it holds no such account.
pub async fn serve_as(
    world: Arc<Mutex<World>>,
    connections: Vec<(async_nats::Client, Serves)>,
    opts: ServeOptions,
) -> Result<ServeHandle, ServeError> {
    let clients = connections;
    if clients.is_empty() {
        return Err(ServeError::NoClients);
    }
    if clients.len() > limits::MAX_SERVE_CLIENTS {
        return Err(ServeError::TooManyClients { given: clients.len(), max: limits::MAX_SERVE_CLIENTS });
    }
    let (banks, platforms, carriers) = {
        let world = world::lock(&world);
        (world.banks.clone(), world.platforms.clone(), world.carriers.clone())
    };
    let bank_group = |bank: &BankId| (protocol::subjects::bank(bank, "*"), format!("sim-bank-{bank}"));
    let platform_group =
        |platform: &PlatformId| (protocol::subjects::platform(platform, "*"), format!("sim-pay-{platform}"));
    let carrier_group =
        |carrier: &Carrier| (protocol::subjects::carrier_verbs(*carrier), format!("sim-carrier-{carrier}"));
    let mut everything = Vec::new();
    everything.extend(banks.iter().map(bank_group));
    everything.extend(platforms.iter().map(platform_group));
    everything.extend(carriers.iter().map(carrier_group));
    let shared = Arc::new(Shared {
        world,
        opts,
        counters: Counters::default(),
        permits: Arc::new(Semaphore::new(limits::MAX_CONCURRENT_REQUESTS)),
    });
    let mut handle = ServeHandle { tasks: Vec::new(), shared: Arc::clone(&shared) };
    for (client, serves) in &clients {
        let groups = match serves {
            Serves::All => everything.clone(),
            Serves::Bank(bank) => vec![bank_group(bank)],
            Serves::Platform(platform) => vec![platform_group(platform)],
            Serves::Carrier(carrier) => vec![carrier_group(carrier)],
        };
        for (subject, group) in groups {
            let subscriber = client
                .queue_subscribe(subject.clone(), group)
                .await
                .map_err(|source| ServeError::Subscribe { subject: subject.clone(), source })?;
            let task = tokio::spawn(run_subscription(subscriber, client.clone(), Arc::clone(&shared)));
            handle.tasks.push(task);
        }
    }
    for (client, _) in &clients {
        client.flush().await?;
    }
    tracing::info!(
        banks = banks.len(),
        platforms = platforms.len(),
        carriers = carriers.len(),
        clients = clients.len(),
        "simulator serving"
    );
    Ok(handle)
}

async fn run_subscription(mut subscriber: async_nats::Subscriber, client: async_nats::Client, shared: Arc<Shared>) {
    // Request tasks live in this set, so stopping this task stops them too.
    let mut in_flight = JoinSet::new();
    while let Some(message) = subscriber.next().await {
        while in_flight.try_join_next().is_some() {}
        let Some(reply_to) = message.reply.clone() else {
            tracing::debug!(subject = %message.subject, "adapter message without reply subject ignored");
            continue;
        };
        let Ok(permit) = Arc::clone(&shared.permits).acquire_owned().await else {
            // The semaphore is never closed.
            break;
        };
        let client = client.clone();
        let shared = Arc::clone(&shared);
        in_flight.spawn(async move {
            let _permit = permit;
            if !shared.opts.latency.is_zero() {
                tokio::time::sleep(shared.opts.latency).await;
            }
            let body = answer_counted(&shared, message.subject.as_str(), &message.payload);
            if let Err(error) = client.publish(reply_to, body.into()).await {
                tracing::warn!(%error, subject = %message.subject, "could not publish adapter reply");
            }
        });
    }
}

fn answer_counted(shared: &Shared, subject: &str, body: &[u8]) -> Vec<u8> {
    let counters = &shared.counters;
    let number = counters.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if shared.opts.fail_every.is_some_and(|k| number.checked_rem(k.get()) == Some(0)) {
        counters.injected_failures.fetch_add(1, Ordering::Relaxed);
        return error_body(AdapterErrorKind::Unavailable, "injected failure: try again".to_owned());
    }
    let (body, invalid) = dispatch(&shared.world, subject, body, shared.opts.clock.now_ms());
    if invalid {
        counters.invalid.fetch_add(1, Ordering::Relaxed);
    }
    body
}

/// Answers one adapter request on `subject` (`afc.bank.<bank>.<verb>`,
/// `afc.pay.<platform>.<verb>` or `afc.carrier.<carrier>.<verb>`) at `now`, as the NATS servers do, without latency or failure
/// injection. Returns the JSON reply body.
pub fn answer(world: &Mutex<World>, subject: &str, body: &[u8], now: TimeMs) -> Vec<u8> {
    dispatch(world, subject, body, now).0
}

/// The reply body, and whether it is `invalid_request`.
fn dispatch(world: &Mutex<World>, subject: &str, body: &[u8], now: TimeMs) -> (Vec<u8>, bool) {
    if body.len() > protocol::MAX_BODY_BYTES {
        let message = format!("body of {} bytes exceeds {} bytes", body.len(), protocol::MAX_BODY_BYTES);
        return (error_body(AdapterErrorKind::InvalidRequest, message), true);
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    let result = match tokens.as_slice() {
        ["afc", "bank", bank, verb] => answer_bank(world, bank, verb, body, now),
        ["afc", "pay", platform, verb] => answer_platform(world, platform, verb, body),
        ["afc", "carrier", carrier, verb] => carrier::answer_carrier(world, carrier, verb, body, now),
        _ => Err(invalid(format!("subject {subject} is not an adapter subject"))),
    };
    match result {
        Ok(body) => (body, false),
        Err(error) => {
            let invalid = error.kind == AdapterErrorKind::InvalidRequest;
            (protocol::to_json(&Reply::<(), AdapterError>::Error(error)), invalid)
        }
    }
}

fn answer_bank(
    world: &Mutex<World>,
    bank: &str,
    verb: &str,
    body: &[u8],
    now: TimeMs,
) -> Result<Vec<u8>, AdapterError> {
    let check_bank = |account: &domain::AccountRef| {
        if account.bank().as_str() == bank {
            Ok(())
        } else {
            Err(AdapterError {
                kind: AdapterErrorKind::UnknownAccount,
                message: format!("account {account} is not held at bank {bank}"),
            })
        }
    };
    match verb {
        bank_verb::STOP_PAYMENT => {
            let req: StopPaymentRequest = parse(verb, body)?;
            check_bank(&req.account)?;
            Ok(reply_body(world::lock(world).ledger.stop_payment(&req, now)))
        }
        bank_verb::FREEZE => {
            let req: FreezeRequest = parse(verb, body)?;
            check_bank(&req.account)?;
            Ok(reply_body(world::lock(world).ledger.freeze(&req, now)))
        }
        bank_verb::FLOWS => {
            let req: FlowsRequest = parse(verb, body)?;
            check_bank(&req.account)?;
            Ok(reply_body(world::lock(world).ledger.flows(&req)))
        }
        bank_verb::RESTRICT => {
            let req: AccountRestrictRequest = parse(verb, body)?;
            check_bank(&req.account)?;
            let mut world = world::lock(world);
            // The bank names the account's holder when it has one on file (a mule account).
            let reply = world.ledger.restrict(&req, now);
            let holder = world.holders.record(&req.account);
            Ok(reply_body(reply.map(|reply| AccountRestrictReply::new(reply, holder))))
        }
        bank_verb::UNRESTRICT => {
            let req: AccountRestrictRequest = parse(verb, body)?;
            check_bank(&req.account)?;
            Ok(reply_body(world::lock(world).ledger.unrestrict(&req, now)))
        }
        bank_verb::RETURN => {
            let req: ReturnRequest = parse(verb, body)?;
            check_bank(&req.account)?;
            Ok(reply_body(world::lock(world).return_money(&req, now)))
        }
        _ => Err(invalid(format!("unknown bank verb {verb:?}: expected {}", bank_verb::ALL.join(", ")))),
    }
}

fn answer_platform(world: &Mutex<World>, platform: &str, verb: &str, body: &[u8]) -> Result<Vec<u8>, AdapterError> {
    if verb != platform_verb::RESOLVE {
        return Err(invalid(format!("unknown platform verb {verb:?}: expected {}", platform_verb::RESOLVE)));
    }
    let req: ResolveOrderRequest = parse(verb, body)?;
    if req.order.platform().as_str() != platform {
        return Err(AdapterError {
            kind: AdapterErrorKind::UnknownOrder,
            message: format!("order {} is not an order of {platform}", req.order),
        });
    }
    Ok(reply_body(world::lock(world).ledger.resolve(&req)))
}

fn parse<T: DeserializeOwned>(verb: &str, body: &[u8]) -> Result<T, AdapterError> {
    serde_json::from_slice(body).map_err(|error| invalid(format!("invalid {verb} request: {error}")))
}

fn invalid(message: String) -> AdapterError {
    AdapterError { kind: AdapterErrorKind::InvalidRequest, message }
}

fn reply_body<T: Serialize>(result: Result<T, AdapterError>) -> Vec<u8> {
    protocol::to_json(&Reply::from(result))
}

fn error_body(kind: AdapterErrorKind, message: String) -> Vec<u8> {
    protocol::to_json(&Reply::<(), AdapterError>::Error(AdapterError { kind, message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bank verb's subject, built as production builds it.
    fn subject(bank: &str, verb: &str) -> String {
        protocol::subjects::bank(&domain::BankId::parse(bank).unwrap(), verb)
    }
    use domain::{AccountRef, BankId, Fen};
    use protocol::adapter::{FlowsResponse, StopPaymentResponse};

    const T0: TimeMs = 1_763_700_000_000;

    fn world() -> Mutex<World> {
        let mut world = World::new(vec![BankId::parse("icbc").unwrap()], vec![]);
        let account = AccountRef::parse("icbc:6222020200001234").unwrap();
        world.ledger.open_account(account.clone()).unwrap();
        world.ledger.deposit(&account, Fen::yuan(5), T0).unwrap();
        Mutex::new(world)
    }

    fn error_kind(body: &[u8]) -> AdapterErrorKind {
        let reply: Reply<serde_json::Value, AdapterError> = serde_json::from_slice(body).unwrap();
        reply.into_result().unwrap_err().kind
    }

    #[test]
    fn answers_a_stop_payment() {
        let world = world();
        let body = br#"{"request_id":"r1","center":"hangzhou","case_id":"hangzhou-00000000deadbeef",
            "account":"icbc:6222020200001234","since_ms":0}"#;
        let reply: StopPaymentResponse =
            serde_json::from_slice(&answer(&world, &subject("icbc", "stop_payment"), body, T0)).unwrap();
        let reply = reply.into_result().unwrap();
        assert_eq!(reply.held_fen, Fen::yuan(5));
        assert_eq!(reply.stopped_at_ms, T0);
    }

    #[test]
    fn names_what_is_wrong_with_a_body() {
        let world = world();
        let body = answer(&world, &subject("icbc", "stop_payment"), b"{not json", T0);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["error"]["kind"], "invalid_request");
        assert!(value["error"]["message"].as_str().unwrap().contains("stop_payment"));

        let body = answer(&world, &subject("icbc", "flows"), br#"{"account":"icbc:12","since_ms":0}"#, T0);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(value["error"]["message"].as_str().unwrap().contains("icbc:12"), "{value}");

        assert_eq!(
            error_kind(&answer(&world, &subject("icbc", "launder"), b"{}", T0)),
            AdapterErrorKind::InvalidRequest
        );
        let huge = vec![b' '; protocol::MAX_BODY_BYTES + 1];
        assert_eq!(error_kind(&answer(&world, &subject("icbc", "flows"), &huge, T0)), AdapterErrorKind::InvalidRequest);
    }

    #[test]
    fn an_account_of_another_bank_is_unknown_here() {
        let world = world();
        let body = br#"{"account":"icbc:6222020200001234","since_ms":0}"#;
        assert_eq!(error_kind(&answer(&world, &subject("ccb", "flows"), body, T0)), AdapterErrorKind::UnknownAccount);
        let reply: FlowsResponse =
            serde_json::from_slice(&answer(&world, &subject("icbc", "flows"), body, T0)).unwrap();
        assert_eq!(reply.into_result().unwrap().balance_fen, Fen::yuan(5));
    }

    #[test]
    fn every_kth_request_fails_when_injected() {
        let shared = Shared {
            world: Arc::new(world()),
            opts: ServeOptions { fail_every: NonZeroU64::new(2), ..ServeOptions::default() },
            counters: Counters::default(),
            permits: Arc::new(Semaphore::new(1)),
        };
        let body = br#"{"account":"icbc:6222020200001234","since_ms":0}"#;
        let kinds: Vec<bool> = (0..4)
            .map(|_| {
                let reply: FlowsResponse =
                    serde_json::from_slice(&answer_counted(&shared, &subject("icbc", "flows"), body)).unwrap();
                reply.into_result().is_err()
            })
            .collect();
        assert_eq!(kinds, [false, true, false, true]);
        assert_eq!(shared.counters.injected_failures.load(Ordering::Relaxed), 2);
    }
}
