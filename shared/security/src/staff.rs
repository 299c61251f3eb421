//! The people of a center and of the province: each member of staff has an identity of their
//! own (an nkey, `<city>-<person>` or `province-<person>`) and one role, and a role names
//! exactly the commands it may send. The table here is the one truth both enforcers read: the
//! servers (each person's grant, [`grant`]) and the staff console (which checks a page or an
//! action against [`StaffRole::may`] before it asks anything).
//!
//! Every city role may read a case (intake's `show`, `list`, `search`); beyond that:
//!
//! | role | may also |
//! |---|---|
//! | intake officer | file a report; look up blocks |
//! | bank liaison | read the returns and the fund-flow report; look up blocks |
//! | carrier liaison | look up, list and lift blocks |
//! | dissuasion staff | work the call-back queue |
//! | approver / accountant | work the returns: object, dismiss, approve, propose, report |
//!
//! The province officer reads the coordinator's report, status and cross-city cases on the
//! hub. The roster of a node ([`Roster`], `staff/<city>.json` in a deployment's directory)
//! lists each person's name, role and public key; the console logs a person in only if the
//! key they present is the roster's, and the server only if it is in its config.

use std::path::{Path, PathBuf};

use domain::{City, Service};
use protocol::subjects;
use serde::{Deserialize, Serialize};

use crate::grant::Grant;

/// In a deployment directory: the rosters (`staff/<city>.json`, `staff/province.json`).
pub const STAFF_DIR: &str = "staff";
/// The roster of the province's hub.
pub const PROVINCE_ROSTER: &str = "province";
/// The most people one roster lists (a center's staff on every shift, with room).
pub const MAX_ROSTER: usize = 500;
/// The name the staff console's own connection goes by in a city (`<city>-console`): it only
/// hears the city's events, to tell open pages that something changed.
pub const CONSOLE: &str = "console";

/// A member of staff's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    Intake,
    BankLiaison,
    CarrierLiaison,
    Dissuasion,
    Approver,
    Province,
}

use protocol::{blocking as blk, dissuasion as dis, intake as itk, restitution as rst};

/// What every city role may ask: read a case, list and search the city's cases.
const READ_CASES: [(Service, &str); 3] =
    [(Service::Intake, itk::VERB_SHOW), (Service::Intake, itk::VERB_LIST), (Service::Intake, itk::VERB_SEARCH)];

impl StaffRole {
    /// The roles of a city's staff.
    pub const CITY: [StaffRole; 5] = [
        StaffRole::Intake,
        StaffRole::BankLiaison,
        StaffRole::CarrierLiaison,
        StaffRole::Dissuasion,
        StaffRole::Approver,
    ];
    pub const ALL: [StaffRole; 6] = [
        StaffRole::Intake,
        StaffRole::BankLiaison,
        StaffRole::CarrierLiaison,
        StaffRole::Dissuasion,
        StaffRole::Approver,
        StaffRole::Province,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Intake => "intake",
            StaffRole::BankLiaison => "bank_liaison",
            StaffRole::CarrierLiaison => "carrier_liaison",
            StaffRole::Dissuasion => "dissuasion",
            StaffRole::Approver => "approver",
            StaffRole::Province => "province",
        }
    }

    pub fn parse(s: &str) -> Option<StaffRole> {
        StaffRole::ALL.into_iter().find(|role| role.as_str() == s)
    }

    /// The commands of the city's services this role may send, beyond reading cases.
    fn own_verbs(self) -> &'static [(Service, &'static str)] {
        match self {
            StaffRole::Intake => &[(Service::Intake, itk::VERB_REPORT), (Service::Blocking, blk::VERB_CHECK)],
            StaffRole::BankLiaison => &[
                (Service::Restitution, rst::VERB_LIST),
                (Service::Restitution, rst::VERB_SHOW),
                (Service::Restitution, rst::VERB_REPORT),
                (Service::Blocking, blk::VERB_CHECK),
            ],
            StaffRole::CarrierLiaison => &[
                (Service::Blocking, blk::VERB_CHECK),
                (Service::Blocking, blk::VERB_LIST),
                (Service::Blocking, blk::VERB_LIFT),
                (Service::Blocking, blk::VERB_CASE),
            ],
            StaffRole::Dissuasion => &[
                (Service::Dissuasion, dis::VERB_NEXT),
                (Service::Dissuasion, dis::VERB_CLAIM),
                (Service::Dissuasion, dis::VERB_COMPLETE),
                (Service::Dissuasion, dis::VERB_REASSIGN),
                (Service::Dissuasion, dis::VERB_LIST),
                // A case's blocked numbers and sites: whom they reached are its warnings.
                (Service::Blocking, blk::VERB_CASE),
            ],
            StaffRole::Approver => &[
                (Service::Restitution, rst::VERB_LIST),
                (Service::Restitution, rst::VERB_SHOW),
                (Service::Restitution, rst::VERB_OBJECT),
                (Service::Restitution, rst::VERB_DISMISS),
                (Service::Restitution, rst::VERB_APPROVE),
                (Service::Restitution, rst::VERB_PROPOSE),
                (Service::Restitution, rst::VERB_REPORT),
            ],
            StaffRole::Province => &[],
        }
    }

    /// Every command of a city's services this role may send.
    pub fn verbs(self) -> Vec<(Service, &'static str)> {
        if self == StaffRole::Province {
            return Vec::new();
        }
        READ_CASES.iter().chain(self.own_verbs()).copied().collect()
    }

    /// Whether this role may send `service`'s command `verb`.
    pub fn may(self, service: Service, verb: &str) -> bool {
        self != StaffRole::Province
            && READ_CASES.iter().chain(self.own_verbs()).any(|(s, v)| *s == service && *v == verb)
    }

    /// The province coordinator's commands this role may send.
    pub fn coordinator_verbs(self) -> &'static [&'static str] {
        match self {
            StaffRole::Province => &protocol::coordinator::verb::ALL,
            _ => &[],
        }
    }
}

impl std::fmt::Display for StaffRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One person on a roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    /// Their identity's name: `<city>-<person>`, or `province-<person>` on the hub.
    pub name: String,
    pub role: StaffRole,
    /// Their nkey's public key (`U…`).
    pub public_key: String,
}

/// The people of one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub members: Vec<StaffMember>,
}

/// Why a roster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a roster ({detail}); expected {{\"members\": [{{\"name\", \"role\", \"public_key\"}}]}}")]
    Unreadable { path: PathBuf, detail: String },
    #[error("{path}: {count} people; a roster lists at most {MAX_ROSTER}")]
    TooLarge { path: PathBuf, count: usize },
}

impl Roster {
    /// The member named `name`.
    pub fn member(&self, name: &str) -> Option<&StaffMember> {
        self.members.iter().find(|member| member.name == name)
    }

    /// The approvers: each name with the public key their signatures are checked against
    /// (what restitution's roster of approvers takes).
    pub fn approvers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().filter(|m| m.role == StaffRole::Approver).map(|m| (m.name.as_str(), m.public_key.as_str()))
    }

    /// Where a deployment directory keeps roster `who` (a city's name, or [`PROVINCE_ROSTER`]).
    pub fn path(dir: &Path, who: &str) -> PathBuf {
        dir.join(STAFF_DIR).join(format!("{who}.json"))
    }

    pub fn load(path: &Path) -> Result<Roster, RosterError> {
        let text = std::fs::read(path).map_err(|source| RosterError::Io { path: path.to_owned(), source })?;
        let roster: Roster = serde_json::from_slice(&text)
            .map_err(|e| RosterError::Unreadable { path: path.to_owned(), detail: e.to_string() })?;
        if roster.members.len() > MAX_ROSTER {
            return Err(RosterError::TooLarge { path: path.to_owned(), count: roster.members.len() });
        }
        Ok(roster)
    }

    pub fn save(&self, path: &Path) -> Result<(), RosterError> {
        let io = |source| RosterError::Io { path: path.to_owned(), source };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let text = serde_json::to_vec_pretty(self).expect("a roster serializes");
        std::fs::write(path, text).map_err(io)
    }
}

/// The people a new deployment's city starts with, one per role and two approvers (a return
/// needs two): `<city>-<person>`. An operator replaces them with the center's own.
pub const DEFAULT_CITY_STAFF: [(&str, StaffRole); 6] = [
    ("intake-1", StaffRole::Intake),
    ("bankdesk-1", StaffRole::BankLiaison),
    ("carrierdesk-1", StaffRole::CarrierLiaison),
    ("dissuasion-1", StaffRole::Dissuasion),
    ("approver-1", StaffRole::Approver),
    ("approver-2", StaffRole::Approver),
];

/// The people a new deployment's hub starts with: `province-officer-1`.
pub const DEFAULT_PROVINCE_STAFF: [(&str, StaffRole); 1] = [("officer-1", StaffRole::Province)];

/// The grant of `person` (their identity's name, `<city>-<person>`) of `city` in `role`:
/// the role's commands, replies under their own inbox.
pub fn grant(city: &City, person: &str, role: StaffRole) -> Grant {
    let grant = role
        .verbs()
        .into_iter()
        .fold(Grant::new(), |grant, (service, verb)| grant.publish(subjects::command(city, service, verb)));
    grant.inbox(&subjects::city_inbox(city, person))
}

/// The grant of `person` of the province (`province-<person>`) in `role`.
pub fn province_grant(person: &str, role: StaffRole) -> Grant {
    let grant = role
        .coordinator_verbs()
        .iter()
        .fold(Grant::new(), |grant, verb| grant.publish(subjects::coordinator_command(verb)));
    grant.inbox(&subjects::province_inbox(person))
}

/// The grant of a city's staff console (`<city>-console`): hears which cases the city's
/// services changed (`afc.<city>.changed.*`), not their events, and sends nothing.
pub fn console(city: &City) -> Grant {
    Grant::new().subscribe(subjects::city_changes(city)).inbox(&subjects::city_inbox(city, CONSOLE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_send_exactly_its_verbs_and_the_grant_says_the_same() {
        let city = City::parse("hangzhou").unwrap();
        let every: Vec<(Service, &str)> = StaffRole::CITY.iter().flat_map(|role| role.verbs()).collect();
        for role in StaffRole::CITY {
            let grant = grant(&city, "someone", role);
            for (service, verb) in &every {
                let subject = subjects::command(&city, *service, verb);
                assert_eq!(role.may(*service, verb), grant.may_publish(&subject), "{role} {service}.{verb}");
            }
            assert!(role.may(Service::Intake, itk::VERB_SHOW), "{role} reads cases");
        }
        assert!(!StaffRole::Dissuasion.may(Service::Restitution, rst::VERB_APPROVE));
        assert!(!StaffRole::BankLiaison.may(Service::Restitution, rst::VERB_APPROVE));
        assert!(StaffRole::Approver.may(Service::Restitution, rst::VERB_APPROVE));
        assert!(!StaffRole::Intake.may(Service::Blocking, blk::VERB_LIFT));
        assert!(StaffRole::CarrierLiaison.may(Service::Blocking, blk::VERB_LIFT));
        assert!(!StaffRole::Province.may(Service::Intake, itk::VERB_SHOW));
        assert!(province_grant("officer-1", StaffRole::Province).may_publish(&subjects::coordinator_command("report")));
        assert!(!province_grant("x", StaffRole::Approver).may_publish(&subjects::coordinator_command("report")));
    }

    #[test]
    fn a_person_reads_replies_under_their_own_inbox_only() {
        let city = City::parse("hangzhou").unwrap();
        let grant = grant(&city, "hangzhou-approver-1", StaffRole::Approver);
        assert!(grant.may_subscribe("_INBOX.hangzhou.hangzhou-approver-1.abc"));
        assert!(!grant.may_subscribe("_INBOX.hangzhou.hangzhou-approver-2.abc"));
        assert!(!console(&city).may_publish(&subjects::command(&city, Service::Intake, itk::VERB_SHOW)));
        assert!(console(&city).may_subscribe(&subjects::changes(&city, Service::Intake)));
        assert!(!console(&city).may_subscribe(&subjects::event(&city, Service::Freezing, "account_frozen")));
        assert!(!console(&city).may_publish(&subjects::changes(&city, Service::Intake)), "it cannot forge one");
    }

    #[test]
    fn a_roster_saves_and_loads_and_refuses_a_stranger_file() {
        let dir = tempfile::tempdir().unwrap();
        let roster = Roster {
            members: vec![StaffMember {
                name: "hangzhou-intake-1".into(),
                role: StaffRole::Intake,
                public_key: "U1".into(),
            }],
        };
        let path = Roster::path(dir.path(), "hangzhou");
        roster.save(&path).unwrap();
        assert_eq!(Roster::load(&path).unwrap(), roster);
        std::fs::write(&path, b"<html>").unwrap();
        let error = Roster::load(&path).unwrap_err().to_string();
        assert!(error.contains("not a roster"), "{error}");
    }
}
