//! The services a city node runs: one line per service. Each service crate says itself
//! which stores it keeps and how it runs ([`runtime::Hosted`]); the runtime opens the
//! stores, connects each service to NATS on its own connection, and supervises them.

use std::path::PathBuf;

use domain::{City, Service, SharedClock};
use freezing::core::CoreConfig;
use freezing::rule::TracingRule;
use runtime::{Hosted, NodeError, NodeOptions, Shutdown};
use security::CredentialFiles;

/// How to run a city.
#[derive(Debug, Clone)]
pub struct CityOptions {
    pub city: City,
    pub nats_url: String,
    pub data_dir: PathBuf,
    /// Run only this service; all of them when `None`.
    pub only: Option<Service>,
    /// Delay from a stop-payment to its conversion into a freeze.
    pub freeze_after_ms: u64,
    /// How long before its last stop lapses an unfrozen claim raises `freeze_at_risk`.
    pub at_risk_margin_ms: u64,
    /// How money leaving a mixed account is attributed to the victims in it.
    pub tracing_rule: TracingRule,
    /// Dissuasion's thresholds, capacities and retention.
    pub dissuasion: dissuasion::Tuning,
    /// Restitution's notice period and roster of approvers.
    pub restitution: restitution::Tuning,
    /// Where the identities' keys and the CA are (`afc-lab secure` writes a directory of
    /// them): each service connects with its own identity over TLS. `None`: anonymous and
    /// without TLS.
    pub credentials: Option<CredentialFiles>,
    /// Where the node serves `/healthz`, `/readyz` and `/metrics`; nowhere when `None`.
    pub http: Option<std::net::SocketAddr>,
}

/// Every service of a city node, configured from `options`.
pub fn services(options: &CityOptions) -> Vec<Box<dyn Hosted>> {
    let freezing = freezing::Config::new(CoreConfig {
        freeze_after_ms: options.freeze_after_ms,
        at_risk_margin_ms: options.at_risk_margin_ms,
        rule: options.tracing_rule,
        ..CoreConfig::default()
    });
    let blocking = blocking::Config::new(blocking::core::CoreConfig::new(options.city.clone()));
    vec![
        Box::new(intake::Intake),
        Box::new(freezing::Freezing::new(freezing)),
        Box::new(blocking::Blocking::new(blocking)),
        Box::new(dissuasion::Dissuasion::new(dissuasion::Config::tuned(
            options.city.clone(),
            options.dissuasion.clone(),
        ))),
        Box::new(restitution::Restitution::new(restitution::Config::tuned(
            options.city.clone(),
            options.restitution.clone(),
        ))),
    ]
}

/// Runs the city's services (or only `options.only`) until shutdown or the first one fails.
pub async fn run_city(options: CityOptions, clock: SharedClock, shutdown: Shutdown) -> Result<(), NodeError> {
    let services =
        services(&options).into_iter().filter(|s| options.only.is_none_or(|only| only == s.service())).collect();
    let node = NodeOptions {
        city: options.city,
        nats_url: options.nats_url,
        data_dir: options.data_dir,
        clock,
        credentials: options.credentials,
        http: options.http,
    };
    runtime::run_node(node, services, shutdown).await
}

/// What each service of a city node may do on the city's server, by service name: each
/// service states its own (`intake::grant`, `freezing::grant`, `blocking::grant`); a
/// deployment's accounts are generated from these.
pub fn service_grants(city: &City) -> Vec<(&'static str, security::Grant)> {
    vec![
        (Service::Intake.as_str(), intake::grant(city)),
        (Service::Freezing.as_str(), freezing::grant(city)),
        (Service::Blocking.as_str(), blocking::grant(city)),
        (Service::Dissuasion.as_str(), dissuasion::grant(city)),
        (Service::Restitution.as_str(), restitution::grant(city)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_hosts_every_service_once_with_stores_of_their_own() {
        let options = CityOptions {
            city: City::parse("huzhou").unwrap(),
            nats_url: String::new(),
            data_dir: PathBuf::new(),
            only: None,
            freeze_after_ms: 1,
            at_risk_margin_ms: 1,
            tracing_rule: TracingRule::default(),
            dissuasion: dissuasion::Tuning::default(),
            restitution: restitution::Tuning::default(),
            credentials: None,
            http: None,
        };
        let hosted: Vec<Service> = services(&options).iter().map(|s| s.service()).collect();
        assert_eq!(hosted, Service::ALL);
        let mut files: Vec<&str> = services(&options).iter().flat_map(|s| s.stores()).map(|spec| spec.name).collect();
        let count = files.len();
        files.sort_unstable();
        files.dedup();
        assert_eq!(files.len(), count, "no two services share a store file");
    }
}
