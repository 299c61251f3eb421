//! The accounts of the province's hub: one per city, bound to that city's leaf link and
//! letting it send into the hub only what the province's sourcing and the banks served at
//! the hub need; and the province's account, holding `AFC_PROVINCE`, which imports from
//! each city account exactly what sourcing its stream needs.
//!
//! How sourcing crosses the accounts (verified against nats-server 2.15): the province's
//! stream creates a source consumer on the city's JetStream through `$JS.<city>.API` (a
//! service the city account exports to the province, pinned to the city's stream and its
//! event filter), answers its flow control (`$JS.FC.<stream>.>`), and receives its
//! deliveries on the city's own deliver prefix (`protocol::subjects::source_deliver_prefix`,
//! a stream export). The leaf user's permissions are seen from the city: `publish` is what
//! the city may send into the hub.

use domain::{City, Service};
use protocol::subjects::{self, PROVINCE_STREAM, bank_verb, js_api, notice_kind, platform_verb};

use crate::accounts::{Account, Export, Import, User};
use crate::grant::Grant;
use crate::roles::city_account_name;

/// The province's account on the hub.
pub const PROVINCE_ACCOUNT: &str = "PROVINCE";

/// What a city's leaf link may carry: from the city, its source deliveries, its bank and
/// platform requests, and replies to the requests the hub forwards to it (`_R_.>`: the
/// source consumer's creation is answered on one); to the city, its JetStream API (the
/// whole mapping, or the city drops it and sourcing stops), flow control of its stream, and
/// replies to its own identities, the province's probe of its JetStream
/// (`$JS.<city>.API.INFO`, asked before restarting its source: `bus::province`), and the
/// coordinator's notices to the city (`afc.<city>.province.>`).
pub fn leaf_link(city: &City) -> Grant {
    let stream = city.stream_name();
    Grant::new()
        .publish(format!("{}.>", subjects::source_deliver_prefix(city)))
        .publish(subjects::any_bank(bank_verb::STOP_PAYMENT))
        .publish(subjects::any_bank(bank_verb::FREEZE))
        .publish(subjects::any_bank(bank_verb::FLOWS))
        .publish(subjects::any_platform(platform_verb::RESOLVE))
        .publish("_R_.>")
        .subscribe(format!("{}.CONSUMER.>", subjects::domain_api(city.as_str())))
        .subscribe(subjects::domain_api_info(city.as_str()))
        .subscribe(js_api::flow_control(&stream))
        .subscribe(format!("_INBOX.{city}.>"))
        .subscribe(subjects::city_province_notices(city))
}

/// The province's provisioner: creates and updates `AFC_PROVINCE`.
pub fn province_provisioner() -> Grant {
    Grant::new()
        .publish(js_api::INFO)
        .publish(js_api::stream_create(PROVINCE_STREAM))
        .publish(js_api::stream_update(PROVINCE_STREAM))
        .publish(js_api::stream_info(PROVINCE_STREAM))
        .inbox(&subjects::province_inbox("admin"))
}

/// The province's observer (engineers' harnesses, the joint meeting's auditors): reads
/// `AFC_PROVINCE` and asks the coordinator for its reports, changes nothing.
pub fn province_observer() -> Grant {
    Grant::new()
        .reads(PROVINCE_STREAM)
        .publish(subjects::coordinator_commands())
        .inbox(&subjects::province_inbox(crate::roles::OBSERVER))
}

/// The name the province coordinator goes by (`province-coordinator`).
pub const COORDINATOR: &str = "coordinator";

/// The province coordinator: reads `AFC_PROVINCE` in order, answers its commands, and
/// dead-letters what it refuses. It also runs the link watcher (`bus::province::
/// watch_links`): it asks each city's JetStream whether it answers (`$JS.<city>.API.INFO`,
/// imported from each city's account) and restarts a silent city source by updating
/// `AFC_PROVINCE` (without the source, then with it again), so it may update that stream.
/// And it sends its notices to the cities: cross-city accounts to each claiming city's
/// freezing, province-wide blocks and their withdrawals to every city's blocking, and asks
/// any service for the events the province misses (`resend`), which it puts into
/// `AFC_PROVINCE` on `afc.province.resent.>` (`events::province`; imported from each city's
/// account).
pub fn province_coordinator() -> Grant {
    Grant::new()
        .reads(PROVINCE_STREAM)
        .publish(js_api::stream_info(PROVINCE_STREAM))
        .publish(js_api::stream_update(PROVINCE_STREAM))
        .publish(subjects::any_domain_api_info())
        .answers(subjects::coordinator_commands())
        .publish(subjects::coordinator_dead_letter())
        .publish(subjects::any_province_notice(Service::Freezing, notice_kind::CROSS_CITY))
        .publish(subjects::any_province_notice(Service::Blocking, notice_kind::PROVINCE_BLOCK))
        .publish(subjects::any_province_notice(Service::Blocking, notice_kind::PROVINCE_UNBLOCK))
        .publish(subjects::any_province_notice_of_any_service(notice_kind::RESEND))
        .publish(subjects::province_resent_all())
        .inbox(&subjects::province_inbox(COORDINATOR))
}

/// The hub's accounts: one per city with its leaf user (`leaf_users`, in the order of
/// `cities`), and the province's with `province_users`.
pub fn hub_accounts(cities: &[(City, User)], province_users: Vec<User>) -> Vec<Account> {
    let mut accounts = Vec::new();
    let mut imports = Vec::new();
    for (city, leaf) in cities {
        let name = city_account_name(city);
        let stream = city.stream_name();
        let create = source_consumer_create(city);
        let deliveries = format!("{}.>", subjects::source_deliver_prefix(city));
        let flow = js_api::flow_control(&stream);
        let probe = subjects::domain_api_info(city.as_str());
        let notices = subjects::city_province_notices(city);
        let to = vec![PROVINCE_ACCOUNT.to_owned()];
        accounts.push(Account {
            name: name.clone(),
            users: vec![User { leaf: true, ..leaf.clone() }],
            exports: vec![
                Export::Service { subject: create.clone(), to: to.clone() },
                Export::Service { subject: flow.clone(), to: to.clone() },
                Export::Service { subject: probe.clone(), to: to.clone() },
                Export::Service { subject: notices.clone(), to: to.clone() },
                Export::Stream { subject: deliveries.clone(), to },
            ],
            ..Account::default()
        });
        imports.push(Import::Service { from: name.clone(), subject: create });
        imports.push(Import::Service { from: name.clone(), subject: flow });
        imports.push(Import::Service { from: name.clone(), subject: probe });
        imports.push(Import::Service { from: name.clone(), subject: notices });
        imports.push(Import::Stream { from: name, subject: deliveries });
    }
    accounts.push(Account {
        name: PROVINCE_ACCOUNT.into(),
        jetstream: true,
        users: province_users,
        imports,
        ..Account::default()
    });
    accounts
}

/// The creation of the province's source consumer on `city`'s stream, with the city's event
/// filter only: the one JetStream call the province may make in a city.
fn source_consumer_create(city: &City) -> String {
    format!(
        "{}.CONSUMER.CREATE.{}.*.{}",
        subjects::domain_api(city.as_str()),
        city.stream_name(),
        subjects::city_events(city)
    )
}
