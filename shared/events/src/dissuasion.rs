//! What dissuasion records: past tense, one enum, serde only here (the log and, later, the
//! wire). Moved from the dissuasion crate unchanged, with golden bytes
//! (`tests/golden_dissuasion.rs`), as blocking's were.
//!
//! Personal data: no event holds a subscriber's number. A person is named by a [`PersonId`]:
//! a keyed hash of the number under the node's secret (stable for the node, meaningless
//! without the key) and the carrier that serves it. The number is kept in dissuasion's own
//! store only: in each kept signal's [`SignalRecord`] (a row of that store, never an event:
//! at tens of thousands of signals a second the log and the city stream would hold every one)
//! and its table of numbers by person, which the SMS order and the report filed for a person
//! who has paid read.

use std::collections::BTreeSet;
use std::fmt;

use domain::{Carrier, CaseId, FraudType, PlatformId, TimeMs};
use identifiers::{ContactKind, Identifier, Reason, normalize};
use serde::{Deserialize, Serialize};

/// A subscriber a signal names: a phone number in its canonical (E.164) form. Built only by
/// [`Subscriber::parse`]; never shown in clear by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subscriber(String);

impl Subscriber {
    pub const EXPECTED: &'static str = "a phone number a carrier serves, in any spelling (+86 1xx xxxx xxxx)";

    /// Normalises a phone number as blocking does (libphonenumber, China by default).
    pub fn parse(raw: &str) -> Result<Subscriber, Reason> {
        let identifier = normalize(ContactKind::Phone, raw).map_err(|problem| problem.reason)?;
        Ok(Subscriber(identifier.value().to_owned()))
    }

    /// The number in clear, for the SMS order and the report filed for an already-paid
    /// victim: every caller is a place personal data leaves the core.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The carrier that issued the number, if it is a Chinese mobile number: the one asked to
    /// send it an SMS.
    pub fn carrier(&self) -> Option<Carrier> {
        Carrier::issuing(&self.0)
    }
}

impl fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subscriber(<redacted>)")
    }
}

impl fmt::Display for Subscriber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl TryFrom<String> for Subscriber {
    type Error = String;
    fn try_from(s: String) -> Result<Subscriber, String> {
        Subscriber::parse(&s).map_err(|reason| format!("invalid subscriber <redacted>: {}", reason.as_str()))
    }
}

impl From<Subscriber> for String {
    fn from(subscriber: Subscriber) -> String {
        subscriber.0
    }
}

/// A person reached, as dissuasion's events name them: [`PersonKey`] and the carrier that
/// serves their number (the one asked to send them an SMS), never the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PersonId {
    pub key: PersonKey,
    pub carrier: Option<Carrier>,
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key.fmt(f)
    }
}

/// A keyed 128-bit hash of a person's number (`p-<32 hex digits>`): what logs, events and
/// staff's lists name a person by. Computed by dissuasion under its node secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonKey(pub u128);

impl PersonKey {
    pub const EXPECTED: &'static str = "p- and 32 lower-case hexadecimal digits";

    pub fn parse(s: &str) -> Option<PersonKey> {
        let hex = s.strip_prefix("p-")?;
        let valid = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| u128::from_str_radix(hex, 16).ok()).flatten().map(PersonKey)
    }
}

impl fmt::Display for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p-{:032x}", self.0)
    }
}

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl TryFrom<String> for PersonKey {
    type Error = String;
    fn try_from(s: String) -> Result<PersonKey, String> {
        PersonKey::parse(&s).ok_or_else(|| format!("invalid person key {s:?}: expected {}", PersonKey::EXPECTED))
    }
}

impl From<PersonKey> for String {
    fn from(key: PersonKey) -> String {
        key.to_string()
    }
}

/// A signal dissuasion keeps for matching: a row of its own store, never an event (see the
/// module's doc). `subscriber` is the number, in clear in that store only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalRecord {
    pub key: SignalKey,
    pub person: PersonId,
    pub subscriber: Subscriber,
    pub at_ms: TimeMs,
    pub received_at_ms: TimeMs,
    pub body: SignalBody,
    /// Signals older than this (the retention window at `received_at_ms`) are forgotten.
    pub forget_before_ms: TimeMs,
}

/// Who sent a signal: a carrier (calls and SMS) or a platform (apps, social accounts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Carrier(Carrier),
    Platform(PlatformId),
}

impl Source {
    pub const EXPECTED: &'static str = "cmcc, cucc, ctcc, or platform:<2-16 lower-case letters or digits>";

    pub fn parse(s: &str) -> Option<Source> {
        match s.strip_prefix("platform:") {
            Some(platform) => PlatformId::parse(platform).ok().map(Source::Platform),
            None => Carrier::parse(s).ok().map(Source::Carrier),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Carrier(carrier) => write!(f, "{carrier}"),
            Source::Platform(platform) => write!(f, "platform:{platform}"),
        }
    }
}

/// A signal's identity: its source and the source's id for it. A re-sent signal has the same
/// key and is deduplicated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SignalKey {
    pub source: Source,
    pub id: String,
}

/// What a transfer signal says happened to the subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    /// The carrier saw instructions to move money reach the subscriber (a call script, an SMS
    /// with an account number): the person is about to pay.
    TransferInstructions,
    /// The subscriber installed an app (a scam app, if it is known as one).
    AppInstalled { app: Identifier },
}

/// How likely a person is to pay soon, and so which step warns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// An SMS warning.
    Low,
    /// A call-back.
    Medium,
    /// A visit.
    High,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Low => "low",
            Grade::Medium => "medium",
            Grade::High => "high",
        }
    }
}

/// A task: one person's dissuasion, from the first warning to its close. Numbered by the
/// core in the order tasks open (`t<n>`), so the id says nothing about the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// The four levels a visit escalates through (Wuhan), from the city down to the community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    CityBureau,
    DistrictBureau,
    PoliceStation,
    Community,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::CityBureau, Level::DistrictBureau, Level::PoliceStation, Level::Community];

    /// The level a visit goes down to when this one does not reach the person.
    pub fn next(self) -> Option<Level> {
        match self {
            Level::CityBureau => Some(Level::DistrictBureau),
            Level::DistrictBureau => Some(Level::PoliceStation),
            Level::PoliceStation => Some(Level::Community),
            Level::Community => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// What a task asks for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// An SMS warning through the subscriber's carrier (no staff).
    Sms,
    /// A call-back (96110).
    Call,
    /// A face-to-face visit at a level.
    Visit(Level),
}

impl TaskKind {
    /// The step after this one, `None` at the last level.
    pub fn next(self) -> Option<TaskKind> {
        match self {
            TaskKind::Sms => Some(TaskKind::Call),
            TaskKind::Call => Some(TaskKind::Visit(Level::CityBureau)),
            TaskKind::Visit(level) => level.next().map(TaskKind::Visit),
        }
    }

    /// Whether staff work it (a queue with a capacity).
    pub fn is_staffed(self) -> bool {
        self != TaskKind::Sms
    }

    /// The first step for a grade.
    pub fn for_grade(grade: Grade) -> TaskKind {
        match grade {
            Grade::Low => TaskKind::Sms,
            Grade::Medium => TaskKind::Call,
            Grade::High => TaskKind::Visit(Level::CityBureau),
        }
    }
}

/// Why a task moved to its next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Escalation {
    /// Its deadline passed with the person not reached.
    Deadline,
    /// The person refused to believe it.
    Refused,
    /// The person could not be reached.
    Unreachable,
    /// The carrier did not deliver the SMS warning.
    SmsFailed,
    /// New evidence raised the person's grade past the task's step.
    Regraded,
}

/// What staff report when they complete a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The person understood; the scammer's contacts were removed and the anti-fraud app
    /// installed.
    Persuaded,
    /// The person does not believe it ("I'm not being scammed"): the next level goes.
    Refused,
    /// Nobody answered or was home: the next level goes.
    Unreachable,
    /// The person has paid already: a report is filed for them (they are a victim now).
    AlreadyPaid,
    /// The evidence was wrong (a relative's number, a test call): their evidence is cleared.
    FalsePositive,
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Closure {
    /// The carrier delivered the SMS warning.
    SmsDelivered,
    Persuaded,
    /// Refused at the last level: nobody further down can go.
    Refused,
    /// Unreachable at the last level.
    Unreachable,
    AlreadyPaid,
    FalsePositive,
}

/// Where a task entered a staffed queue: ready with a deadline, or waiting for the next day's
/// capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Admission {
    Ready {
        day: u64,
        due_at_ms: TimeMs,
    },
    /// The queue's capacity for `day` is used up: the task waits for the next day, which
    /// starts at `until_ms`.
    Waiting {
        day: u64,
        until_ms: TimeMs,
    },
}

/// What a recorded signal said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignalBody {
    Contact { identifier: Identifier, duration_s: u32 },
    Transfer { kind: TransferKind },
}

/// One piece of evidence against a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clue {
    /// A scam identifier reached them (matched when the signal came, or back-matched when
    /// the identifier became known).
    Contact {
        signal: SignalKey,
        identifier: Identifier,
        at_ms: TimeMs,
        duration_s: u32,
        fraud_types: BTreeSet<FraudType>,
    },
    TransferInstructions {
        signal: SignalKey,
        at_ms: TimeMs,
    },
    ScamApp {
        signal: SignalKey,
        app: Identifier,
        at_ms: TimeMs,
    },
}

/// What dissuasion recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DissuasionEvent {
    /// `identifier` is known as a scam identifier from `since_ms` (blocking blocked it, or a
    /// case named it), or is named again and gains fraud types.
    ScamIdentifierKnown {
        identifier: Identifier,
        since_ms: TimeMs,
        fraud_types: BTreeSet<FraudType>,
        case_id: Option<CaseId>,
    },
    /// `identifier` is no longer a scam identifier from `until_ms` (its block ended).
    ScamIdentifierEnded {
        identifier: Identifier,
        until_ms: TimeMs,
    },
    /// A case was read (once): its identifiers follow as `scam_identifier_known`.
    CaseMatched {
        case_id: CaseId,
        fraud_type: FraudType,
        reported_at_ms: TimeMs,
        identifiers: u32,
    },
    /// Evidence against `person`.
    EvidenceAdded {
        person: PersonId,
        clue: Clue,
    },
    /// A task opened for `person` at `kind`.
    TaskOpened {
        task: TaskId,
        person: PersonId,
        grade: Grade,
        kind: TaskKind,
        opened_at_ms: TimeMs,
        first_contact_ms: TimeMs,
        admission: Admission,
        /// The SMS warning's request id, for an SMS task.
        sms_request: Option<String>,
    },
    /// A task moved on to its next step (`to`).
    TaskEscalated {
        task: TaskId,
        grade: Grade,
        to: TaskKind,
        reason: Escalation,
        at_ms: TimeMs,
        admission: Admission,
        /// The operator whose outcome escalated it, and their note.
        operator: Option<String>,
        note: String,
    },
    /// Tasks of a queue still wait for capacity after `day`'s admissions: they are
    /// considered again when the next day starts (`until_ms`).
    QueueWaiting {
        queue: TaskKind,
        day: u64,
        waiting: u32,
        until_ms: TimeMs,
    },
    /// A waiting task got its day's capacity.
    TaskAdmitted {
        task: TaskId,
        day: u64,
        due_at_ms: TimeMs,
    },
    /// A task at the last level passed its deadline: it stays open, flagged, with nobody
    /// further to send.
    TaskOverdue {
        task: TaskId,
        at_ms: TimeMs,
    },
    TaskClaimed {
        task: TaskId,
        operator: String,
        at_ms: TimeMs,
    },
    TaskReassigned {
        task: TaskId,
        to: String,
        by: String,
        at_ms: TimeMs,
    },
    TaskClosed {
        task: TaskId,
        closure: Closure,
        operator: Option<String>,
        note: String,
        at_ms: TimeMs,
    },
    /// The person of `task` had paid already: the report the operator took on the call, with
    /// what dissuasion knew (the number, the scam identifiers, the fraud type), was filed with
    /// intake as `case_id` before the task closed.
    ReportFiled {
        task: TaskId,
        /// The case intake recorded for them: the task and the case are linked.
        case_id: CaseId,
        person: PersonId,
        identifiers: Vec<Identifier>,
        fraud_types: BTreeSet<FraudType>,
        first_contact_ms: TimeMs,
        at_ms: TimeMs,
    },
    /// People and closed tasks with nothing since `before_ms` left the service's memory (which
    /// must not grow with everyone ever reached): each person with no open task whose last
    /// evidence is older, each task closed before it. What they were stays in the log; a person
    /// reached again starts afresh.
    PeopleForgotten {
        before_ms: TimeMs,
        people: u64,
        tasks: u64,
        at_ms: TimeMs,
    },
}

impl DissuasionEvent {
    /// Every kind, in declaration order: the last token of its subject.
    pub const KINDS: [&'static str; 14] = [
        "scam_identifier_known",
        "scam_identifier_ended",
        "case_matched",
        "evidence_added",
        "task_opened",
        "task_escalated",
        "queue_waiting",
        "task_admitted",
        "task_overdue",
        "task_claimed",
        "task_reassigned",
        "task_closed",
        "report_filed",
        "people_forgotten",
    ];

    /// The case the event belongs to, if it belongs to one (a case's match, and an identifier
    /// a case named).
    pub fn case_id(&self) -> Option<&CaseId> {
        match self {
            DissuasionEvent::ScamIdentifierKnown { case_id, .. } => case_id.as_ref(),
            DissuasionEvent::CaseMatched { case_id, .. } | DissuasionEvent::ReportFiled { case_id, .. } => {
                Some(case_id)
            }
            DissuasionEvent::ScamIdentifierEnded { .. }
            | DissuasionEvent::EvidenceAdded { .. }
            | DissuasionEvent::TaskOpened { .. }
            | DissuasionEvent::TaskEscalated { .. }
            | DissuasionEvent::QueueWaiting { .. }
            | DissuasionEvent::TaskAdmitted { .. }
            | DissuasionEvent::TaskOverdue { .. }
            | DissuasionEvent::TaskClaimed { .. }
            | DissuasionEvent::TaskReassigned { .. }
            | DissuasionEvent::TaskClosed { .. }
            | DissuasionEvent::PeopleForgotten { .. } => None,
        }
    }

    pub fn name(&self) -> &'static str {
        let index = match self {
            DissuasionEvent::ScamIdentifierKnown { .. } => 0,
            DissuasionEvent::ScamIdentifierEnded { .. } => 1,
            DissuasionEvent::CaseMatched { .. } => 2,
            DissuasionEvent::EvidenceAdded { .. } => 3,
            DissuasionEvent::TaskOpened { .. } => 4,
            DissuasionEvent::TaskEscalated { .. } => 5,
            DissuasionEvent::QueueWaiting { .. } => 6,
            DissuasionEvent::TaskAdmitted { .. } => 7,
            DissuasionEvent::TaskOverdue { .. } => 8,
            DissuasionEvent::TaskClaimed { .. } => 9,
            DissuasionEvent::TaskReassigned { .. } => 10,
            DissuasionEvent::TaskClosed { .. } => 11,
            DissuasionEvent::ReportFiled { .. } => 12,
            DissuasionEvent::PeopleForgotten { .. } => 13,
        };
        DissuasionEvent::KINDS[index]
    }
}
