//! NATS subject names. Every subject afc uses is built here, so the scheme in
//! docs/protocols.md has one implementation.

use domain::{BankId, City, PlatformId};

/// Events of one service of one city: `afc.<city>.evt.<service>.<event>`.
pub fn event(city: &City, service: &str, event: &str) -> String {
    format!("afc.{city}.evt.{service}.{event}")
}

/// All events of one service of one city (a consumer filter).
pub fn service_events(city: &City, service: &str) -> String {
    format!("afc.{city}.evt.{service}.>")
}

/// All events of one city: what its stream holds and what the province sources.
pub fn city_events(city: &City) -> String {
    format!("afc.{city}.evt.>")
}

/// Dead letters of one service of one city: `afc.<city>.dlq.<service>`.
pub fn dead_letter(city: &City, service: &str) -> String {
    format!("afc.{city}.dlq.{service}")
}

/// All dead letters of one city.
pub fn city_dead_letters(city: &City) -> String {
    format!("afc.{city}.dlq.>")
}

/// A command to a city's service: `afc.<city>.cmd.<service>.<verb>`.
pub fn command(city: &City, service: &str, verb: &str) -> String {
    format!("afc.{city}.cmd.{service}.{verb}")
}

/// A bank adapter verb: `afc.bank.<bank>.<verb>`.
pub fn bank(bank: &BankId, verb: &str) -> String {
    format!("afc.bank.{bank}.{verb}")
}

/// A payment-platform adapter verb: `afc.pay.<platform>.<verb>`.
pub fn platform(platform: &PlatformId, verb: &str) -> String {
    format!("afc.pay.{platform}.{verb}")
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
