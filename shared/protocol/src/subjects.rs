//! NATS subject names. Every subject afc uses is built here, so the scheme in
//! docs/protocols.md has one implementation.

use domain::{BankId, Carrier, City, PlatformId, Service};

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

/// What one service of one city changed (`changes::Changes`, core NATS, not stored):
/// `afc.<city>.changed.<service>`.
pub fn changes(city: &City, service: Service) -> String {
    format!("afc.{city}.changed.{service}")
}

/// What any service of one city changed (the staff console's subscription).
pub fn city_changes(city: &City) -> String {
    format!("afc.{city}.changed.*")
}

/// The service a [`changes`] subject is of.
pub fn changes_service(subject: &str) -> Option<Service> {
    let mut tokens = subject.split('.');
    let (_, _, changed, service) = (tokens.next()?, tokens.next()?, tokens.next()?, tokens.next()?);
    (changed == "changed" && tokens.next().is_none()).then_some(())?;
    Service::parse(service)
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

/// A carrier adapter verb: `afc.carrier.<carrier>.<verb>`.
pub fn carrier(carrier: Carrier, verb: &str) -> String {
    format!("afc.carrier.{carrier}.{verb}")
}

/// Every verb of one carrier (what its gateway serves).
pub fn carrier_verbs(carrier: Carrier) -> String {
    format!("afc.carrier.{carrier}.*")
}

/// One verb at every carrier (what blocking may request).
pub fn any_carrier(verb: &str) -> String {
    format!("afc.carrier.*.{verb}")
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

/// The JetStream account information of a domain (`$JS.<domain>.API.INFO`): it answers
/// once the domain's server is reachable again (the province probing a city across its leaf
/// link before restarting the city's source).
pub fn domain_api_info(domain: &str) -> String {
    format!("{}.INFO", domain_api(domain))
}

/// The JetStream account information of every domain (`$JS.*.API.INFO`): what the
/// province's link watcher may ask (only the cities' are imported into its account).
pub fn any_domain_api_info() -> String {
    domain_api_info("*")
}

/// The advisory nats-server publishes when a message of `stream` reached the most
/// deliveries `consumer` allows without being acknowledged or terminated.
pub fn max_deliveries_advisory(stream: &str, consumer: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}")
}

/// Every command to every service of a city (what staff tools may request).
pub fn city_commands(city: &City) -> String {
    format!("afc.{city}.cmd.*.*")
}

/// Every verb of one bank (what its gateway serves).
pub fn bank_verbs(bank: &BankId) -> String {
    format!("afc.bank.{bank}.*")
}

/// One verb at every bank (what freezing may request).
pub fn any_bank(verb: &str) -> String {
    format!("afc.bank.*.{verb}")
}

/// Every verb of one payment platform (what its gateway serves).
pub fn platform_verbs(platform: &PlatformId) -> String {
    format!("afc.pay.{platform}.*")
}

/// One verb at every payment platform.
pub fn any_platform(verb: &str) -> String {
    format!("afc.pay.*.{verb}")
}

/// Where the province's source of a city's stream delivers, on the city's side of the hub:
/// a prefix of the city's own, so that a city can only ever feed its own source.
pub fn source_deliver_prefix(city: &City) -> String {
    format!("afc.{city}.src")
}

/// The inbox prefix of one identity of a city (`_INBOX.<city>.<who>`): replies to its
/// requests come there, and it may subscribe to nothing else of the kind, so no identity
/// reads another's replies.
pub fn city_inbox(city: &City, who: &str) -> String {
    format!("_INBOX.{city}.{who}")
}

/// A command of the province coordinator: `afc.province.cmd.coordinator.<verb>`.
pub fn coordinator_command(verb: &str) -> String {
    format!("afc.province.cmd.coordinator.{verb}")
}

/// Every command of the province coordinator (what it serves).
pub fn coordinator_commands() -> String {
    coordinator_command("*")
}

/// Where the province coordinator dead-letters what it refuses from the province stream.
pub fn coordinator_dead_letter() -> String {
    "afc.province.dlq.coordinator".to_owned()
}

/// A notice of the province coordinator to one service of a city:
/// `afc.<city>.province.<service>.<kind>` (`events::province`). Outside the city's commands
/// (`afc.<city>.cmd.>`), so that no identity of the city can forge one: only the hub sends
/// them.
pub fn province_notice(city: &City, service: Service, kind: &str) -> String {
    format!("afc.{city}.province.{service}.{kind}")
}

/// Every notice of the province to one service of a city (what the service answers).
pub fn province_notices(city: &City, service: Service) -> String {
    province_notice(city, service, "*")
}

/// Every notice of the province to a city (what the hub may send down its leaf link).
pub fn city_province_notices(city: &City) -> String {
    format!("afc.{city}.province.>")
}

/// One kind of notice to one service in any city (what the coordinator may send).
pub fn any_province_notice(service: Service, kind: &str) -> String {
    format!("afc.*.province.{service}.{kind}")
}

/// Where the coordinator puts back into `AFC_PROVINCE` the events a producer re-sent from its
/// log: `afc.province.resent.<city>.<service>`.
pub fn province_resent(city: &City, service: Service) -> String {
    format!("afc.province.resent.{city}.{service}")
}

/// Every re-sent event (a subject of `AFC_PROVINCE` beside its sources).
pub fn province_resent_all() -> String {
    "afc.province.resent.>".to_owned()
}

/// One kind of notice to any service in any city.
pub fn any_province_notice_of_any_service(kind: &str) -> String {
    format!("afc.*.province.*.{kind}")
}

/// The inbox prefix of one identity of the province (`_INBOX.province.<who>`).
pub fn province_inbox(who: &str) -> String {
    format!("_INBOX.{PROVINCE_DOMAIN}.{who}")
}

/// JetStream API subjects (nats-server's, `$JS.API.…`), as the permissions of a service
/// that consumes or produces a stream name them.
pub mod js_api {
    /// Information about a stream.
    pub fn stream_info(stream: &str) -> String {
        format!("$JS.API.STREAM.INFO.{stream}")
    }

    /// Creating or updating a stream.
    pub fn stream_create(stream: &str) -> String {
        format!("$JS.API.STREAM.CREATE.{stream}")
    }

    pub fn stream_update(stream: &str) -> String {
        format!("$JS.API.STREAM.UPDATE.{stream}")
    }

    /// Reading one message of a stream by its sequence number.
    pub fn stream_msg_get(stream: &str) -> String {
        format!("$JS.API.STREAM.MSG.GET.{stream}")
    }

    /// Creating the durable consumer `durable` with the one filter `filter` (the extended
    /// create subject: the permission pins both).
    pub fn consumer_create(stream: &str, durable: &str, filter: &str) -> String {
        format!("$JS.API.CONSUMER.CREATE.{stream}.{durable}.{filter}")
    }

    /// Creating an unnamed (ephemeral) consumer: the server names it, so the permission
    /// cannot reach a durable consumer.
    pub fn ephemeral_consumer_create(stream: &str) -> String {
        format!("$JS.API.CONSUMER.CREATE.{stream}")
    }

    /// Pulling from, and reading the information of, any consumer of `stream` (an
    /// ephemeral consumer's name is the server's choice).
    pub fn any_consumer_next(stream: &str) -> String {
        consumer_next(stream, "*")
    }

    pub fn any_consumer_info(stream: &str) -> String {
        consumer_info(stream, "*")
    }

    /// Any consumer call on a stream (a provisioner's).
    pub fn consumers(stream: &str) -> String {
        format!("$JS.API.CONSUMER.*.{stream}.>")
    }

    pub fn consumer_info(stream: &str, durable: &str) -> String {
        format!("$JS.API.CONSUMER.INFO.{stream}.{durable}")
    }

    /// Pulling the next messages of a consumer.
    pub fn consumer_next(stream: &str, durable: &str) -> String {
        format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}")
    }

    /// Acknowledging messages of a consumer.
    pub fn ack(stream: &str, durable: &str) -> String {
        format!("$JS.ACK.{stream}.{durable}.>")
    }

    /// Flow control of the consumers of `stream` (a sourcing stream answers them).
    pub fn flow_control(stream: &str) -> String {
        format!("$JS.FC.{stream}.>")
    }

    /// The account's JetStream information.
    pub const INFO: &str = "$JS.API.INFO";
}

/// Where `source` (`cmcc`, `cucc`, `ctcc` or `platform:<id>`) publishes its contact signals
/// for `city`: `afc.<city>.sig.<carrier>` or `afc.<city>.sig.platform.<id>`. Dissuasion
/// refuses a signal whose `source` is not the one its subject names (a carrier's account may
/// publish under its own token only).
pub fn signals(city: &City, source: &str) -> String {
    format!("afc.{city}.sig.{}", source.replace(':', "."))
}

/// Every signal of `city`: what its signal stream holds.
pub fn city_signals(city: &City) -> String {
    format!("afc.{city}.sig.>")
}

/// The source a signal subject of `city` names (`cmcc`, `platform:<id>`), if it is one.
pub fn signal_source(city: &City, subject: &str) -> Option<String> {
    let prefix = format!("afc.{city}.sig.");
    let rest = subject.strip_prefix(prefix.as_str())?;
    Some(match rest.strip_prefix("platform.") {
        Some(platform) => format!("platform:{platform}"),
        None => rest.to_owned(),
    })
}

/// Name of the province stream on the hub.
/// The NATS micro protocol's discovery verbs: `$SRV.<verb>`, `$SRV.<verb>.<name>`,
/// `$SRV.<verb>.<name>.<id>` (every service instance answers; `nats micro ls` asks them).
pub mod micro_verb {
    pub const PING: &str = "PING";
    pub const INFO: &str = "INFO";
    pub const STATS: &str = "STATS";
    pub const ALL: [&str; 3] = [PING, INFO, STATS];
}

/// Every discovery request of the NATS micro protocol (what a service answers, and what an
/// operator's identity may ask).
pub const MICRO_DISCOVERY: &str = "$SRV.>";

/// The discovery subject of `verb` for every service, one service name, or one instance.
pub fn micro(verb: &str, name: Option<&str>, id: Option<&str>) -> String {
    match (name, id) {
        (None, _) => format!("$SRV.{verb}"),
        (Some(name), None) => format!("$SRV.{verb}.{name}"),
        (Some(name), Some(id)) => format!("$SRV.{verb}.{name}.{id}"),
    }
}

pub const PROVINCE_STREAM: &str = "AFC_PROVINCE";

/// JetStream domain of the province hub.
pub const PROVINCE_DOMAIN: &str = "province";

/// Bank verbs.
pub mod bank_verb {
    pub const STOP_PAYMENT: &str = "stop_payment";
    pub const FREEZE: &str = "freeze";
    pub const FLOWS: &str = "flows";
    /// Cut channels of an account (blocking's high-risk pool).
    pub const RESTRICT: &str = "restrict";
    /// Give them back.
    pub const UNRESTRICT: &str = "unrestrict";
    /// Pay money frozen for a center back to a victim's account (restitution's).
    pub const RETURN: &str = "return";
    /// Every bank verb.
    pub const ALL: [&str; 6] = [STOP_PAYMENT, FREEZE, FLOWS, RESTRICT, UNRESTRICT, RETURN];
}

/// The kinds of the province coordinator's notices, the last token of their subjects
/// (`events::province`).
pub mod notice_kind {
    /// To freezing: cases of two or more cities stopped one account.
    pub const CROSS_CITY: &str = "cross_city";
    /// To blocking: an identifier blocked in two or more cities is blocked in every city.
    pub const PROVINCE_BLOCK: &str = "province_block";
    /// To blocking: fewer than two cities still hold their own block of an identifier the
    /// province blocked; the province withdraws its block.
    pub const PROVINCE_UNBLOCK: &str = "province_unblock";
    /// To any service: the events of a range of its sequence numbers, from its own log (the
    /// province misses them).
    pub const RESEND: &str = "resend";
}

/// Carrier verbs.
pub mod carrier_verb {
    /// Block a phone number, domain or IP address for every subscriber.
    pub const BLOCK: &str = "block";
    /// Lift the center's block.
    pub const LIFT: &str = "lift";
    /// Cut channels of a phone card.
    pub const RESTRICT: &str = "restrict";
    /// Give them back.
    pub const UNRESTRICT: &str = "unrestrict";
    /// Send a subscriber the center's fraud warning by SMS (dissuasion).
    pub const SMS: &str = "sms";
    /// Every carrier verb.
    pub const ALL: [&str; 5] = [BLOCK, LIFT, RESTRICT, UNRESTRICT, SMS];
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
        assert_eq!(city_commands(&city), "afc.hangzhou.cmd.*.*");
        assert_eq!(bank_verbs(&BankId::parse("icbc").unwrap()), "afc.bank.icbc.*");
        assert_eq!(any_bank(bank_verb::FLOWS), "afc.bank.*.flows");
        assert_eq!(platform_verbs(&PlatformId::parse("alipay").unwrap()), "afc.pay.alipay.*");
        assert_eq!(any_platform(platform_verb::RESOLVE), "afc.pay.*.resolve");
        assert_eq!(carrier(Carrier::Cmcc, carrier_verb::BLOCK), "afc.carrier.cmcc.block");
        assert_eq!(carrier_verbs(Carrier::Ctcc), "afc.carrier.ctcc.*");
        assert_eq!(any_carrier(carrier_verb::LIFT), "afc.carrier.*.lift");
        assert_eq!(bank(&BankId::parse("icbc").unwrap(), bank_verb::RESTRICT), "afc.bank.icbc.restrict");
        assert_eq!(bank(&BankId::parse("icbc").unwrap(), bank_verb::RETURN), "afc.bank.icbc.return");
        assert_eq!(source_deliver_prefix(&city), "afc.hangzhou.src");
        assert_eq!(city_inbox(&city, "freezing"), "_INBOX.hangzhou.freezing");
        assert_eq!(province_inbox("reader"), "_INBOX.province.reader");
        assert_eq!(
            province_notice(&city, Service::Freezing, "cross_city"),
            "afc.hangzhou.province.freezing.cross_city"
        );
        assert_eq!(province_notices(&city, Service::Blocking), "afc.hangzhou.province.blocking.*");
        assert_eq!(city_province_notices(&city), "afc.hangzhou.province.>");
        assert_eq!(province_resent(&city, Service::Freezing), "afc.province.resent.hangzhou.freezing");
        assert_eq!(any_province_notice(Service::Blocking, "province_block"), "afc.*.province.blocking.province_block");
        assert_eq!(
            js_api::consumer_create("AFC_HANGZHOU", "freezing", &service_events(&city, intake)),
            "$JS.API.CONSUMER.CREATE.AFC_HANGZHOU.freezing.afc.hangzhou.evt.intake.>"
        );
        assert_eq!(js_api::ack("AFC_HANGZHOU", "freezing"), "$JS.ACK.AFC_HANGZHOU.freezing.>");
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
