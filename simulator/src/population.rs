//! The people a gang's contact campaign reaches besides its victims (a scenario's
//! `[population]`), what the carriers signal about them, and the ground truth of who would
//! have paid, who was warned in time, and what that saved.
//!
//! Each person has a phone number of one carrier, a city, the gang that reaches them, the
//! gang's contacts with them (each at a time, through one of the gang's lines — the same
//! numbers and sites its victims' reports name — for a duration: a page visit lasts 0 s), and
//! maybe transfer instructions before they pay. A share of them **would pay** amount A at time
//! T (a delay after their first contact), **unless warned effectively before T**.
//!
//! As the drill plays, [`Population::advance`] decides each contact at its time against the
//! carriers' blocks, as [`crate::contact`] decides a victim's: a contact through a number or
//! site the person's center had blocked does not get through, and a person whose first contact
//! does not get through is never reached (spared: they do not pay). A contact that gets
//! through becomes the person's carrier's signal `signal_delay` later (a
//! [`protocol::signal::SignalMessage`], taken by [`Population::take_signals`]). Nothing reaches a
//! person warned effectively before (the officer deleted the scammer's contacts).
//!
//! Warnings: an SMS delivered by the carrier ([`Population::sms_delivered`]) stops the person
//! with the scenario's `sms_effect`; a call or visit that staff complete
//! ([`Population::staff_outcome`]) is `already_paid` if the person has paid, else `persuaded`
//! with the step's effect, else `unreachable` (a handset off is never reached by a call) or
//! `refused`. Every draw is seeded from the scenario's seed, the person and the attempt, so
//! the same warnings give the same outcomes. The payments are ground truth only: they are not
//! booked in the ledger (freezing never traces them).

use std::collections::BTreeMap;

use domain::{AccountRef, Carrier, City, Fen, FraudType, MoneyError, TimeMs};
use protocol::dissuasion::PaidReport;
use protocol::signal::{SignalMessage, SignalWhat};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::contact::Contacts;
use crate::scenario::PopulationSpec;
use crate::telecom::Telecom;

/// What a person would pay, and when, if nobody warned them effectively before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// When.
    pub at_ms: TimeMs,
    /// How much.
    pub amount: Fen,
    /// Into which account: the gang's account for the people it reaches, opened empty (the
    /// payment is not booked: it is what the person tells the operator who calls them).
    pub to: AccountRef,
}

/// One person a gang's campaign reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their mobile number, E.164 (personal data: never logged).
    pub phone: String,
    /// Their name (personal data), for the report an operator takes when they have paid.
    pub name: String,
    /// Their ID number (personal data), likewise.
    pub id_number: String,
    /// The carrier that issued it: the one that signals their contacts.
    pub carrier: Carrier,
    /// Where they live: the center whose blocks protect them and whose staff warn them.
    pub city: City,
    /// The gang (its position in the scenario).
    pub gang: usize,
    /// The gang's scam.
    pub fraud_type: FraudType,
    /// Their first contact with the gang.
    pub first_contact_ms: TimeMs,
    /// `Some`: they would pay.
    pub pays: Option<Payment>,
    /// An SMS or a call does not reach them.
    pub handset_off: bool,
}

impl Person {
    /// The report an operator takes from them once they have paid (dissuasion's `complete`
    /// with `already_paid`): who they are, and their payment as they tell it. `None` for
    /// someone who would not pay.
    pub fn paid_report(&self) -> Option<PaidReport> {
        let pays = self.pays.as_ref()?;
        let transfer = serde_json::json!({
            "account": pays.to.as_str(),
            "amount_fen": pays.amount.get(),
            "at_ms": pays.at_ms,
        });
        Some(PaidReport {
            name: self.name.clone(),
            id_number: self.id_number.clone(),
            transfers: vec![transfer],
            fraud_type: Some(self.fraud_type.as_str().to_owned()),
            narrative: "Paid the caller before anybody warned me.".into(),
        })
    }
}

/// Something the gang does to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// A call (`duration_s` > 0) or a page visit (0) through one of the gang's lines.
    Contact {
        /// The line (an index into the gang's phones, then sites).
        line: usize,
        /// How long, in seconds.
        duration_s: u32,
    },
    /// Instructions to move money (the carrier sees the SMS or the call script).
    Instructions,
}

/// A touch as planned, with the carrier's delay in signalling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    /// When it happens.
    pub at_ms: TimeMs,
    /// From then to the carrier's signal.
    pub delay_ms: u64,
    /// What.
    pub touch: Touch,
}

/// How warnings work: the chance each step stops a person it reaches, and the share of
/// people a call or visit that does not persuade them does not reach.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Effects {
    /// A delivered SMS.
    pub sms: f64,
    /// A call-back that reaches them.
    pub call: f64,
    /// A visit that reaches them.
    pub visit: f64,
    /// Of those not persuaded by a call or visit, the share not reached.
    pub unreachable_share: f64,
}

impl Effects {
    /// The effects a scenario's `[population]` gives.
    pub fn of(spec: &PopulationSpec) -> Effects {
        Effects {
            sms: spec.sms_effect,
            call: spec.call_effect,
            visit: spec.visit_effect,
            unreachable_share: spec.unreachable_share,
        }
    }
}

/// A dissuasion step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// An SMS warning.
    Sms,
    /// A call-back.
    Call,
    /// A visit at a level: 0 city bureau, 1 district bureau, 2 police station, 3 community.
    Visit(u8),
}

impl Step {
    /// `sms`, `call`, `visit` (every level).
    pub fn kind(self) -> &'static str {
        match self {
            Step::Sms => "sms",
            Step::Call => "call",
            Step::Visit(_) => "visit",
        }
    }
}

/// What staff report of a call or visit, decided from the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StaffOutcome {
    /// The person understood: they will not pay.
    Persuaded,
    /// They do not believe it.
    Refused,
    /// Nobody answered, nobody home.
    Unreachable,
    /// They had paid already.
    AlreadyPaid,
    /// Not a person any gang reached.
    FalsePositive,
}

impl StaffOutcome {
    /// As dissuasion's `complete` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            StaffOutcome::Persuaded => "persuaded",
            StaffOutcome::Refused => "refused",
            StaffOutcome::Unreachable => "unreachable",
            StaffOutcome::AlreadyPaid => "already_paid",
            StaffOutcome::FalsePositive => "false_positive",
        }
    }
}

/// One warning given: an SMS delivered, a call or a visit completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRecord {
    /// The person (`None`: a number no gang reached).
    pub person: Option<usize>,
    /// The step.
    pub step: Step,
    /// When.
    pub at_ms: TimeMs,
    /// What came of it (an SMS: `persuaded` when it stopped the person, `refused` when not).
    pub outcome: StaffOutcome,
}

/// What became of a person's first contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Not due yet.
    Pending,
    /// A block stopped it: never reached.
    Spared,
    /// It got through.
    Reached,
}

/// A signal due to be published on `afc.<city>.sig.<carrier>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueSignal {
    /// The person's city.
    pub city: City,
    /// Their carrier: the source.
    pub carrier: Carrier,
    /// When the carrier sends it.
    pub emit_at_ms: TimeMs,
    /// The signal.
    pub message: SignalMessage,
}

/// The people, their contacts to come and the signals to send, and the warnings given. See
/// the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Population {
    seed: u64,
    effects: Effects,
    people: Vec<Person>,
    by_phone: BTreeMap<String, usize>,
    /// Touches not decided yet, by time (person, sequence number).
    touches: BTreeMap<(TimeMs, usize, u32), Planned>,
    /// Signals decided and not sent yet, by the time they are due.
    outbox: BTreeMap<(TimeMs, usize, u32), DueSignal>,
    fates: BTreeMap<usize, Fate>,
    /// Each person's first effective warning.
    warned: BTreeMap<usize, (TimeMs, Step)>,
    steps: Vec<StepRecord>,
    attempts: BTreeMap<(usize, Step), u32>,
    contacts_blocked: u64,
    signals_sent: u64,
}

impl Population {
    /// Nobody yet, warnings working with `effects`, draws seeded from `seed`.
    pub fn new(seed: u64, effects: Effects) -> Population {
        Population { seed, effects, ..Population::default() }
    }

    /// Adds a person with their touches; returns their number, `None` when the phone number
    /// is someone's already.
    pub fn add(&mut self, person: Person, touches: &[Planned]) -> Option<usize> {
        let index = self.people.len();
        if self.by_phone.insert(person.phone.clone(), index).is_some() {
            return None;
        }
        for (seq, planned) in touches.iter().enumerate() {
            self.touches.insert((planned.at_ms, index, seq as u32), *planned);
        }
        self.fates.insert(index, Fate::Pending);
        self.people.push(person);
        Some(index)
    }

    /// Every person, by number.
    pub fn people(&self) -> &[Person] {
        &self.people
    }

    /// The person with this phone number.
    pub fn find(&self, phone: &str) -> Option<usize> {
        self.by_phone.get(phone).copied()
    }

    /// The last moment a touch or signal is planned for, `None` for nobody.
    pub fn last_planned_ms(&self) -> Option<TimeMs> {
        let touches = self.touches.iter().map(|((at, _, _), planned)| at.saturating_add(planned.delay_ms));
        let payments = self.people.iter().filter_map(|p| p.pays.as_ref().map(|pay| pay.at_ms));
        touches.chain(payments).max()
    }

    /// Decides every touch due at or before `now`, in time order, against the carriers'
    /// blocks (module documentation); those that get through wait in the outbox for their
    /// signal's time. Returns how many were decided.
    pub fn advance(&mut self, now: TimeMs, contacts: &mut Contacts, telecom: &Telecom) -> usize {
        let mut decided = 0;
        while let Some(entry) = self.touches.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at_ms, index, seq), planned) = entry.remove_entry();
            decided += 1;
            let Some(person) = self.people.get(index) else { continue };
            let fate = self.fates.get(&index).copied().unwrap_or(Fate::Pending);
            if fate == Fate::Spared || self.warned.get(&index).is_some_and(|(when, _)| *when <= at_ms) {
                continue;
            }
            let what = match planned.touch {
                Touch::Contact { line, duration_s } => {
                    match contacts.reach(person.gang, line, at_ms, &person.city, telecom) {
                        Some((_, true)) | None => {
                            self.contacts_blocked += 1;
                            if fate == Fate::Pending {
                                self.fates.insert(index, Fate::Spared);
                            }
                            continue;
                        }
                        Some((identifier, false)) => SignalWhat::Contact { identifier, duration_s },
                    }
                }
                Touch::Instructions if fate == Fate::Reached => SignalWhat::TransferInstructions,
                Touch::Instructions => continue,
            };
            self.fates.insert(index, Fate::Reached);
            let message = SignalMessage {
                source: person.carrier.as_str().to_owned(),
                signal_id: format!("p{index}-{seq}"),
                subscriber: person.phone.clone(),
                at_ms,
                what,
            };
            let emit_at_ms = at_ms.saturating_add(planned.delay_ms);
            let due = DueSignal { city: person.city.clone(), carrier: person.carrier, emit_at_ms, message };
            self.outbox.insert((emit_at_ms, index, seq), due);
        }
        decided
    }

    /// Takes at most `max` signals due at or before `now`, in time order.
    pub fn take_signals(&mut self, now: TimeMs, max: usize) -> Vec<DueSignal> {
        let mut due = Vec::new();
        while due.len() < max {
            let Some(entry) = self.outbox.first_entry() else { break };
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        self.signals_sent += due.len() as u64;
        due
    }

    /// Signals decided and not taken yet, and touches not decided yet.
    pub fn pending(&self) -> (usize, usize) {
        (self.outbox.len(), self.touches.len())
    }

    /// What became of a person's first contact.
    pub fn fate(&self, person: usize) -> Fate {
        self.fates.get(&person).copied().unwrap_or(Fate::Pending)
    }

    /// A person's first effective warning: when, and by which step.
    pub fn warned(&self, person: usize) -> Option<(TimeMs, Step)> {
        self.warned.get(&person).copied()
    }

    /// When the person paid, if they had by `now`: they would pay, were reached, and no
    /// warning stopped them before.
    pub fn paid_at(&self, person: usize, now: TimeMs) -> Option<TimeMs> {
        let pays = self.people.get(person)?.pays.as_ref()?;
        let stopped = self.warned.get(&person).is_some_and(|(when, _)| *when < pays.at_ms);
        (pays.at_ms <= now && self.fate(person) == Fate::Reached && !stopped).then_some(pays.at_ms)
    }

    /// An SMS warning the carrier delivered to `phone` at `now`: it stops the person with the
    /// scenario's `sms_effect` (not once they have paid). A number no gang reached is ignored.
    pub fn sms_delivered(&mut self, phone: &str, now: TimeMs) {
        let Some(person) = self.find(phone) else { return };
        let effect = self.effects.sms;
        let outcome = if self.paid_at(person, now).is_some() {
            StaffOutcome::AlreadyPaid
        } else if self.draw(person, Step::Sms, "effect") < effect {
            StaffOutcome::Persuaded
        } else {
            StaffOutcome::Refused
        };
        self.record(Some(person), Step::Sms, now, outcome);
    }

    /// What staff find when they call or visit `phone` at `now` (module documentation), and
    /// the warning recorded.
    pub fn staff_outcome(&mut self, phone: &str, step: Step, now: TimeMs) -> StaffOutcome {
        let Some(person) = self.find(phone) else {
            self.record(None, step, now, StaffOutcome::FalsePositive);
            return StaffOutcome::FalsePositive;
        };
        let effects = self.effects;
        let effect = match step {
            Step::Sms => effects.sms,
            Step::Call => effects.call,
            Step::Visit(_) => effects.visit,
        };
        let off = self.people[person].handset_off && step == Step::Call;
        let outcome = if self.paid_at(person, now).is_some() {
            StaffOutcome::AlreadyPaid
        } else if off {
            StaffOutcome::Unreachable
        } else if self.draw(person, step, "effect") < effect {
            StaffOutcome::Persuaded
        } else if self.draw(person, step, "reach") < effects.unreachable_share {
            StaffOutcome::Unreachable
        } else {
            StaffOutcome::Refused
        };
        self.record(Some(person), step, now, outcome);
        outcome
    }

    /// Every warning given, in order.
    pub fn steps(&self) -> &[StepRecord] {
        &self.steps
    }

    /// Contacts a block stopped, so far.
    pub fn contacts_blocked(&self) -> u64 {
        self.contacts_blocked
    }

    /// Signals taken to be sent, so far.
    pub fn signals_sent(&self) -> u64 {
        self.signals_sent
    }

    fn record(&mut self, person: Option<usize>, step: Step, at_ms: TimeMs, outcome: StaffOutcome) {
        if let Some(person) = person {
            *self.attempts.entry((person, step)).or_default() += 1;
            if outcome == StaffOutcome::Persuaded {
                self.warned.entry(person).or_insert((at_ms, step));
            }
        }
        self.steps.push(StepRecord { person, step, at_ms, outcome });
    }

    /// A uniform draw in [0, 1) for the person's next attempt at `step`, seeded from the
    /// scenario's seed: the same warnings give the same outcomes.
    fn draw(&self, person: usize, step: Step, what: &str) -> f64 {
        let attempt = self.attempts.get(&(person, step)).copied().unwrap_or(0);
        let key = format!("{}|population|{person}|{step:?}|{attempt}|{what}", self.seed);
        StdRng::seed_from_u64(domain::fnv1a64(key.as_bytes())).random::<f64>()
    }

    /// The ground truth at `end_ms`.
    pub fn truth(&self, end_ms: TimeMs) -> Result<PopulationTruth, MoneyError> {
        self.truth_in(end_ms, None)
    }

    /// The ground truth at `end_ms` of the people of `city` (every city: `None`).
    pub fn truth_in(&self, end_ms: TimeMs, city: Option<&City>) -> Result<PopulationTruth, MoneyError> {
        let mut truth = PopulationTruth::default();
        let (mut avoided, mut lost, mut would) = (Fen::ZERO, Fen::ZERO, Fen::ZERO);
        for (index, person) in self.people.iter().enumerate() {
            if city.is_some_and(|c| &person.city != c) {
                continue;
            }
            truth.people += 1;
            match self.fate(index) {
                Fate::Pending => truth.not_reached_yet += 1,
                Fate::Spared => truth.spared_by_blocks += 1,
                Fate::Reached => truth.reached += 1,
            }
            let warned = self.warned(index);
            truth.warned += u64::from(warned.is_some());
            let Some(pays) = person.pays.as_ref().filter(|_| self.fate(index) == Fate::Reached) else { continue };
            truth.would_pay += 1;
            would = would.checked_add(pays.amount)?;
            match warned {
                Some((when, step)) if when < pays.at_ms => {
                    truth.warned_before_paying += 1;
                    avoided = avoided.checked_add(pays.amount)?;
                    *truth.stopped_by.entry(step.kind().to_owned()).or_default() += 1;
                }
                _ if pays.at_ms <= end_ms => {
                    truth.paid += 1;
                    lost = lost.checked_add(pays.amount)?;
                }
                _ => truth.not_paid_yet += 1,
            }
        }
        truth.would_pay_fen = would.get();
        truth.loss_avoided_fen = avoided.get();
        truth.lost_fen = lost.get();
        Ok(truth)
    }
}

/// Who would have paid, who was warned in time and what that saved (the people a block spared
/// are counted apart: never reached, they pay nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PopulationTruth {
    /// People planned.
    pub people: u64,
    /// Whose first contact got through.
    pub reached: u64,
    /// Whose first contact a block stopped.
    pub spared_by_blocks: u64,
    /// Whose first contact was not due by the end.
    pub not_reached_yet: u64,
    /// Reached people who would pay if nobody warned them.
    pub would_pay: u64,
    /// What they would pay together.
    pub would_pay_fen: u64,
    /// People warned effectively (whether they would have paid or not).
    pub warned: u64,
    /// People who would have paid, warned effectively before.
    pub warned_before_paying: u64,
    /// What they would have paid.
    pub loss_avoided_fen: u64,
    /// The step that stopped them, by kind (`sms`, `call`, `visit`).
    pub stopped_by: BTreeMap<String, u64>,
    /// People who paid by the end.
    pub paid: u64,
    /// What they paid.
    pub lost_fen: u64,
    /// People who would pay after the end, not warned.
    pub not_paid_yet: u64,
}

#[cfg(test)]
mod tests;
