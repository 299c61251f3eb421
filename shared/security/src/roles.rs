//! The grants of the identities that are not services (a service states its own: `intake::
//! grant`, `freezing::grant`), and the accounts of a city's server.

use domain::{BankId, Carrier, City, PlatformId};
use protocol::subjects;

use crate::accounts::{Account, Export, Import, User};
use crate::grant::Grant;

/// Staff tools (`afc case …`): request the city's commands, read their own replies.
pub fn staff(city: &City) -> Grant {
    Grant::new().publish(subjects::city_commands(city)).inbox(&subjects::city_inbox(city, "staff"))
}

/// The city's provisioner (`afc-lab up`, an operator's set-up): creates and updates the city's
/// streams (its events, its signals) and their consumers. The services only read the streams'
/// information. It also lists the services (discovery).
pub fn provisioner(city: &City) -> Grant {
    Grant::new()
        .provisions(&city.stream_name())
        .provisions(&city.signal_stream_name())
        .discovers()
        .inbox(&subjects::city_inbox(city, "admin"))
}

/// An engineer's or auditor's view of the city (the lab's harnesses, a drill's scoring):
/// reads the city's stream and hears its events as they are published, and files and shows
/// cases as staff do; and measures the bare round trip through the server on a subject of its
/// own (`afc-lab bench`'s floor); and lists the services (discovery). Changes nothing else.
pub fn observer(city: &City) -> Grant {
    Grant::new()
        .publish(subjects::city_commands(city))
        .reads(&city.stream_name())
        .subscribe(subjects::city_events(city))
        .publish(subjects::lab_round_trip())
        .answers(subjects::lab_round_trip())
        .discovers()
        .inbox(&subjects::city_inbox(city, OBSERVER))
}

/// The name an observer goes by: `<city>-lab`, its inbox `_INBOX.<city>.lab`.
pub const OBSERVER: &str = "lab";

/// A bank's gateway: answers its own bank's verbs, once each, and publishes nothing else.
pub fn bank_gateway(bank: &BankId) -> Grant {
    Grant::new().answers_only(subjects::bank_verbs(bank))
}

/// A payment platform's gateway at `city`: answers its own verbs (`afc.pay.<platform>.*`),
/// once each, and publishes its contact signals for the city (`afc.<city>.sig.platform.<id>`:
/// a scam app installed, transfer instructions seen), as a carrier's gateway does; nothing
/// else.
pub fn platform_gateway(city: &City, platform: &PlatformId) -> Grant {
    Grant::new()
        .answers(subjects::platform_verbs(platform))
        .publish(subjects::signals(city, &platform_source(platform)))
        .inbox(&subjects::city_inbox(city, &platform_gateway_name(platform)))
}

/// The name a platform's gateway goes by at a city: `<city>-pay-<platform>`.
pub fn platform_gateway_name(platform: &PlatformId) -> String {
    format!("pay-{platform}")
}

/// A platform as the source of a signal: `platform:<id>`.
fn platform_source(platform: &PlatformId) -> String {
    format!("platform:{platform}")
}

/// A carrier's gateway at `city`: answers its own carrier's verbs (`afc.carrier.<carrier>.*`),
/// once each, and publishes its contact signals for the city (`afc.<city>.sig.<carrier>`,
/// imported from the city's account into its signal stream, the stream's acknowledgements
/// coming back under its own inbox); nothing else: not another carrier's orders or signals.
pub fn carrier_gateway(city: &City, carrier: Carrier) -> Grant {
    Grant::new()
        .answers(subjects::carrier_verbs(carrier))
        .publish(subjects::signals(city, carrier.as_str()))
        .inbox(&subjects::city_inbox(city, &carrier_gateway_name(carrier)))
}

/// The name a carrier's gateway goes by at a city: `<city>-carrier-<carrier>`.
pub fn carrier_gateway_name(carrier: Carrier) -> String {
    format!("carrier-{carrier}")
}

/// The account of `city`'s services on its server (and of the city's leaf link on the hub).
pub fn city_account_name(city: &City) -> String {
    city.as_str().to_ascii_uppercase()
}

pub fn bank_account_name(bank: &BankId) -> String {
    format!("BANK_{}", bank.as_str().to_ascii_uppercase())
}

pub fn platform_account_name(platform: &PlatformId) -> String {
    format!("PAY_{}", platform.as_str().to_ascii_uppercase())
}

pub fn carrier_account_name(carrier: Carrier) -> String {
    format!("CARRIER_{}", carrier.as_str().to_ascii_uppercase())
}

/// The gateways a city's server holds accounts for, each with its user.
#[derive(Debug, Clone, Default)]
pub struct Gateways {
    pub banks: Vec<(BankId, User)>,
    pub platforms: Vec<(PlatformId, User)>,
    pub carriers: Vec<(Carrier, User)>,
}

/// The accounts of `city`'s server: the city's (JetStream on) with `users`, and one for each
/// bank, platform and carrier gateway served there, exporting its verbs to the city account
/// only.
pub fn city_accounts(city: &City, users: Vec<User>, served: Gateways) -> Vec<Account> {
    let Gateways { banks, platforms, carriers } = served;
    let city_name = city_account_name(city);
    let mut gateways = Vec::new();
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    let gateway = |name: String, subject: String, user: User| Account {
        name,
        users: vec![user],
        exports: vec![Export::Service { subject, to: vec![city_name.clone()] }],
        ..Account::default()
    };
    for (bank, user) in banks {
        let (name, subject) = (bank_account_name(&bank), subjects::bank_verbs(&bank));
        imports.push(Import::Service { from: name.clone(), subject: subject.clone() });
        gateways.push(gateway(name, subject, user));
    }
    for (platform, user) in platforms {
        let (name, subject) = (platform_account_name(&platform), subjects::platform_verbs(&platform));
        imports.push(Import::Service { from: name.clone(), subject: subject.clone() });
        // Its signals, as a carrier's below.
        let signals = subjects::signals(city, &platform_source(&platform));
        exports.push(Export::Service { subject: signals.clone(), to: vec![name.clone()] });
        let mut account = gateway(name, subject, user);
        account.imports.push(Import::Service { from: city_name.clone(), subject: signals });
        gateways.push(account);
    }
    for (carrier, user) in carriers {
        let (name, subject) = (carrier_account_name(carrier), subjects::carrier_verbs(carrier));
        imports.push(Import::Service { from: name.clone(), subject: subject.clone() });
        // Its signals go the other way: a service of the city's account (its signal stream
        // answers with the acknowledgement), for this carrier's account and subject only.
        let signals = subjects::signals(city, carrier.as_str());
        exports.push(Export::Service { subject: signals.clone(), to: vec![name.clone()] });
        let mut account = gateway(name, subject, user);
        account.imports.push(Import::Service { from: city_name.clone(), subject: signals });
        gateways.push(account);
    }
    let mut accounts = vec![Account { name: city_name, jetstream: true, users, imports, exports }];
    accounts.extend(gateways);
    accounts
}
