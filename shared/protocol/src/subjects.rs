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

#[cfg(test)]
mod tests {
    use super::*;

    fn city() -> City {
        City::parse("hangzhou").unwrap()
    }

    #[test]
    fn every_subject_follows_the_scheme_in_protocols_md() {
        let (city, intake) = (city(), Service::Intake);
        assert_eq!(event(&city, intake, "case_reported"), "afc.hangzhou.evt.intake.case_reported");
        assert_eq!(service_events(&city, Service::Freezing), "afc.hangzhou.evt.freezing.>");
        assert_eq!(city_events(&city), "afc.hangzhou.evt.>");
        assert_eq!(dead_letter(&city, Service::Freezing), "afc.hangzhou.dlq.freezing");
        assert_eq!(city_dead_letters(&city), "afc.hangzhou.dlq.>");
        assert_eq!(command(&city, intake, "report"), "afc.hangzhou.cmd.intake.report");
        assert_eq!(service_commands(&city, intake), "afc.hangzhou.cmd.intake.*");
        assert_eq!(bank(&BankId::parse("icbc").unwrap(), bank_verb::FREEZE), "afc.bank.icbc.freeze");
        assert_eq!(platform(&PlatformId::parse("alipay").unwrap(), platform_verb::RESOLVE), "afc.pay.alipay.resolve");
        assert_eq!(domain_api("hangzhou"), "$JS.hangzhou.API");
        assert_eq!(
            max_deliveries_advisory("AFC_HANGZHOU", "freezing"),
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.AFC_HANGZHOU.freezing"
        );
    }

    #[test]
    fn a_commands_verb_is_its_last_token() {
        assert_eq!(command_verb(&command(&city(), Service::Intake, "show")), "show");
        assert_eq!(command_verb("no-dots"), "no-dots");
        assert_eq!(command_verb(""), "");
    }
}
