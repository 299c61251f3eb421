//! The services of a city node. A service's name is a NATS subject token
//! (`afc.<city>.evt.<service>.…`, `afc.<city>.cmd.<service>.…`), part of every event id
//! (`<city>.<service>.<seq>`) and the stem of its store files.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A service of a city node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Intake,
    Freezing,
    Blocking,
    Dissuasion,
    Restitution,
}

impl Service {
    /// Every service a node runs, in the order it starts them: what a node hosts, provisions
    /// (streams, consumers, grants, deployment units) and accepts as `only`.
    pub const ALL: [Service; 5] =
        [Service::Intake, Service::Freezing, Service::Blocking, Service::Dissuasion, Service::Restitution];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Intake => "intake",
            Service::Freezing => "freezing",
            Service::Blocking => "blocking",
            Service::Dissuasion => "dissuasion",
            Service::Restitution => "restitution",
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|service| service.as_str() == s)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_parses_back_from_its_name_and_serializes_as_it() {
        for service in Service::ALL {
            assert_eq!(Service::parse(service.as_str()), Some(service));
            assert_eq!(serde_json::to_string(&service).unwrap(), format!("\"{service}\""));
        }
        assert_eq!(Service::parse("warning"), None);
    }
}
