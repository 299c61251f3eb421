//! NATS subject names. Every subject afc uses is built here, so the scheme in
//! docs/protocols.md has one implementation.

use domain::{BankId, City, PlatformId, Service};

/// Events of one service of one city: `afc.<city>.evt.<service>.<event>`.
pub fn event(city: &City, service: Service, event: &str) -> String {
    format!("afc.{city}.evt.{service}.{event}")
}

/// All events of one service of one city (a consumer filter).
pub fn service_events(city: &City, service: Service) -> String {
    format!("afc.{city}.evt.{service}.>")
}

/// All events of one city: what its stream holds and what the province sources.
pub fn city_events(city: &City) -> String {
    format!("afc.{city}.evt.>")
}

/// Dead letters of one service of one city: `afc.<city>.dlq.<service>`.
pub fn dead_letter(city: &City, service: Service) -> String {
    format!("afc.{city}.dlq.{service}")
}

/// All dead letters of one city.
pub fn city_dead_letters(city: &City) -> String {
    format!("afc.{city}.dlq.>")
}

/// A command to a city's service: `afc.<city>.cmd.<service>.<verb>`.
pub fn command(city: &City, service: Service, verb: &str) -> String {
    format!("afc.{city}.cmd.{service}.{verb}")
}

/// Every command to a city's service (what the service subscribes to).
pub fn service_commands(city: &City, service: Service) -> String {
    format!("afc.{city}.cmd.{service}.*")
}

/// The verb of a command subject: its last token.
pub fn command_verb(subject: &str) -> &str {
    subject.rsplit('.').next().unwrap_or_default()
}

/// A bank adapter verb: `afc.bank.<bank>.<verb>`.
pub fn bank(bank: &BankId, verb: &str) -> String {
    format!("afc.bank.{bank}.{verb}")
}

/// A payment-platform adapter verb: `afc.pay.<platform>.<verb>`.
pub fn platform(platform: &PlatformId, verb: &str) -> String {
    format!("afc.pay.{platform}.{verb}")
}

/// The lab's round-trip probe: a core subject no service uses, so `afc-lab bench freeze`
/// measures the bare NATS round trip.
pub fn lab_round_trip() -> String {
    "afc.lab.rtt".to_owned()
}

/// The JetStream API prefix of a domain (`$JS.<domain>.API`), through which a stream in
/// one domain reaches a stream in another (the province sourcing a city).
pub fn domain_api(domain: &str) -> String {
    format!("$JS.{domain}.API")
}

/// The advisory nats-server publishes when a message of `stream` reached the most
/// deliveries `consumer` allows without being acknowledged or terminated.
pub fn max_deliveries_advisory(stream: &str, consumer: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}")
}

/// Name of the province stream on the hub.
pub const PROVINCE_STREAM: &str = "AFC_PROVINCE";

/// JetStream domain of the province hub.
pub const PROVINCE_DOMAIN: &str = "province";

/// Bank verbs.
pub mod bank_verb {
    pub const STOP_PAYMENT: &str = "stop_payment";
    pub const FREEZE: &str = "freeze";
    pub const FLOWS: &str = "flows";
}

/// Payment-platform verbs.
pub mod platform_verb {
    pub const RESOLVE: &str = "resolve";
}
