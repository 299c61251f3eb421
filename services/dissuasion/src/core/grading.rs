//! A person's risk grade from their evidence: a pure function, its thresholds configuration.
//! The rule and why are in docs/dissuasion.md ("Grading").

use std::collections::BTreeSet;
use std::fmt;

use domain::{FraudType, TimeMs};
use identifiers::Identifier;

use crate::events::Clue;
use crate::limits::MAX_IDENTIFIERS_PER_PERSON;

pub use crate::events::Grade;

/// The thresholds of the grading rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradingConfig {
    /// Points at which a person is Medium.
    pub medium_points: u32,
    /// Points at which a person is High.
    pub high_points: u32,
    /// Contacts from one identifier that make a repeated contact (a gang calling back is
    /// grooming, not a wrong number).
    pub repeat_contacts: u32,
    /// Seconds of one contact that make a long contact (an impersonation script runs 20
    /// minutes and more; a wrong number lasts seconds).
    pub long_contact_s: u32,
    /// Fraud types whose victims pay within the first contacts (a fake police officer, a
    /// fake customer-service refund): one point more.
    pub fast_types: BTreeSet<FraudType>,
}

impl Default for GradingConfig {
    fn default() -> GradingConfig {
        GradingConfig {
            medium_points: 2,
            high_points: 3,
            repeat_contacts: 3,
            long_contact_s: 300,
            fast_types: [FraudType::ImpersonatingAuthorities, FraudType::FakeCustomerService, FraudType::OnlineLoan]
                .into(),
        }
    }
}

/// What reached a person from one scam identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub contacts: u32,
    pub longest_s: u32,
    pub first_at_ms: TimeMs,
    pub last_at_ms: TimeMs,
    /// The fraud types the identifier was reported under when it was matched.
    pub fraud_types: BTreeSet<FraudType>,
}

/// What reached a person, by scam identifier, in identifier order: a small sorted vector
/// (most people have one to three; a map's first node takes ~900 bytes, and a case that finds
/// 50,000 people makes 50,000 of them).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Exposures(Vec<(Identifier, Exposure)>);

impl Exposures {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, identifier: &Identifier) -> Option<&Exposure> {
        self.place(identifier).ok().map(|at| &self.0[at].1)
    }

    pub fn contains_key(&self, identifier: &Identifier) -> bool {
        self.place(identifier).is_ok()
    }

    /// The identifiers, in order.
    pub fn keys(&self) -> impl Iterator<Item = &Identifier> {
        self.0.iter().map(|(identifier, _)| identifier)
    }

    /// The exposures, in their identifiers' order.
    pub fn values(&self) -> impl Iterator<Item = &Exposure> {
        self.0.iter().map(|(_, exposure)| exposure)
    }

    /// Each identifier with its exposure, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Identifier, &Exposure)> {
        self.0.iter().map(|(identifier, exposure)| (identifier, exposure))
    }

    /// Where `identifier` is, or where it would go.
    fn place(&self, identifier: &Identifier) -> Result<usize, usize> {
        self.0.binary_search_by(|(held, _)| held.cmp(identifier))
    }
}

impl std::ops::Index<&Identifier> for Exposures {
    type Output = Exposure;

    fn index(&self, identifier: &Identifier) -> &Exposure {
        self.get(identifier).unwrap_or_else(|| panic!("no exposure to {identifier}"))
    }
}

impl fmt::Debug for Exposures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Everything known against one person since their evidence was last cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// By scam identifier (at most `MAX_IDENTIFIERS_PER_PERSON`).
    pub exposures: Exposures,
    /// When a carrier saw transfer instructions reach them, last.
    pub transfer_at_ms: Option<TimeMs>,
    /// When they installed a known scam app, last.
    pub scam_app_at_ms: Option<TimeMs>,
}

impl Evidence {
    /// The time of the latest evidence, if any.
    pub fn last_at_ms(&self) -> Option<TimeMs> {
        let contacts = self.exposures.values().map(|e| e.last_at_ms).max();
        [contacts, self.transfer_at_ms, self.scam_app_at_ms].into_iter().flatten().max()
    }

    /// Adds one contact from `identifier`.
    pub fn add_contact(
        &mut self,
        identifier: &Identifier,
        at_ms: TimeMs,
        duration_s: u32,
        types: &BTreeSet<FraudType>,
    ) {
        let at = self.exposures.place(identifier).unwrap_or_else(|at| {
            let exposure = Exposure {
                contacts: 0,
                longest_s: 0,
                first_at_ms: at_ms,
                last_at_ms: at_ms,
                fraud_types: BTreeSet::new(),
            };
            self.exposures.0.insert(at, (identifier.clone(), exposure));
            at
        });
        let exposure = &mut self.exposures.0[at].1;
        exposure.contacts = exposure.contacts.saturating_add(1);
        exposure.longest_s = exposure.longest_s.max(duration_s);
        exposure.first_at_ms = exposure.first_at_ms.min(at_ms);
        exposure.last_at_ms = exposure.last_at_ms.max(at_ms);
        exposure.fraud_types.extend(types.iter().copied());
    }

    /// Adds one clue (what `apply` and the decision's preview both call, so they agree). A
    /// new identifier past `MAX_IDENTIFIERS_PER_PERSON` is not kept: the grade is High long
    /// before.
    pub fn add_clue(&mut self, clue: &Clue) {
        match clue {
            Clue::Contact { identifier, at_ms, duration_s, fraud_types, .. } => {
                if self.exposures.len() < MAX_IDENTIFIERS_PER_PERSON || self.exposures.contains_key(identifier) {
                    self.add_contact(identifier, *at_ms, *duration_s, fraud_types);
                }
            }
            Clue::TransferInstructions { at_ms, .. } => {
                self.transfer_at_ms = Some(self.transfer_at_ms.map_or(*at_ms, |t| t.max(*at_ms)));
            }
            Clue::ScamApp { at_ms, .. } => {
                self.scam_app_at_ms = Some(self.scam_app_at_ms.map_or(*at_ms, |t| t.max(*at_ms)));
            }
        }
    }

    /// The earliest contact: the person reached first is closest to paying.
    pub fn first_contact_ms(&self) -> Option<TimeMs> {
        let contacts = self.exposures.values().map(|e| e.first_at_ms);
        contacts.chain(self.transfer_at_ms).chain(self.scam_app_at_ms).min()
    }

    pub fn is_empty(&self) -> bool {
        self.exposures.is_empty() && self.transfer_at_ms.is_none() && self.scam_app_at_ms.is_none()
    }

    pub fn fraud_types(&self) -> BTreeSet<FraudType> {
        self.exposures.values().flat_map(|e| e.fraud_types.iter().copied()).collect()
    }
}

/// The grade of `evidence`, or `None` when there is none.
///
/// A transfer-instruction or scam-app signal is High: the person is paying now. Otherwise
/// points: one per distinct scam identifier, one if any identifier reached them
/// `repeat_contacts` times, one if any contact lasted `long_contact_s`, one if any
/// identifier's fraud type is a fast one; `high_points` and `medium_points` cut the scale.
pub fn grade(evidence: &Evidence, config: &GradingConfig) -> Option<Grade> {
    if evidence.transfer_at_ms.is_some() || evidence.scam_app_at_ms.is_some() {
        return Some(Grade::High);
    }
    if evidence.exposures.is_empty() {
        return None;
    }
    let points = points(evidence, config);
    Some(if points >= config.high_points {
        Grade::High
    } else if points >= config.medium_points {
        Grade::Medium
    } else {
        Grade::Low
    })
}

/// The points of the rule (see [`grade`]).
pub fn points(evidence: &Evidence, config: &GradingConfig) -> u32 {
    let exposures = || evidence.exposures.values();
    let distinct = u32::try_from(evidence.exposures.len()).unwrap_or(u32::MAX);
    let repeated = exposures().any(|e| e.contacts >= config.repeat_contacts);
    let long = exposures().any(|e| e.longest_s >= config.long_contact_s);
    let fast = exposures().any(|e| e.fraud_types.iter().any(|t| config.fast_types.contains(t)));
    distinct.saturating_add(u32::from(repeated) + u32::from(long) + u32::from(fast))
}
