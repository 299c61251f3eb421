//! How gangs reach their victims, and what a block at the carriers does to that.
//!
//! Each gang has **lines**: its phone numbers and its sites. A victim is first reached through
//! one of them, at the moment of their first payment (the scam before it is not modelled):
//! a site for the scams that start online (order brushing, pig butchering, stock tips, fake
//! shopping, luxury bait) when the victim's report names one, else the first number the
//! report names. The script records it ([`crate::CaseInfo::contact`]): who would have been
//! reached, when, and through what.
//!
//! When the drill plays the script, [`Contacts::contact_due`] decides each contact as it comes:
//!
//! - **Spared.** If the center of the victim's city holds a block of the line's identifier at
//!   any carrier ([`Telecom::blocked_by`]) since before the contact, the call or the page does
//!   not get through: the victim is not defrauded. Every transfer of their money (payments and
//!   the mule transfers that would have moved it) is taken out of the schedule, and they file
//!   no report. A block by another center does not protect them (each center blocks for its
//!   own city's subscribers, as the carriers hold each center's blocks apart).
//! - **Adapted.** A gang replaces a line after it is blocked, anywhere: `adapt_ms` (a scenario
//!   setting, drawn per block) after the block took effect, the gang uses a fresh number or
//!   site on that line. A victim reached from then on is reached through the fresh one, and
//!   their report names it instead of the old one. At most
//!   [`limits::MAX_LINE_GENERATIONS`] replacements per line.
//! - **Reached** otherwise, through the line's identifier in force at the contact.
//!
//! Nothing of this depends on real time beyond the block times the carriers recorded: a
//! drill without blocks plays the script unchanged (the unimpeded ground truth).

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, City, Fen, IdentifierKind, TimeMs};
use protocol::carrier::BlockTarget;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::limits;
use crate::scenario::Span;
use crate::schedule::Schedule;
use crate::synth;
use crate::telecom::Telecom;

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LineKind {
    /// A phone number, `+86170…`.
    Phone,
    /// A site, `https://<word><digits>.com.cn/`; carriers block its registrable domain.
    Site,
}

/// One identifier of a line: as victims name it, and as carriers block it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Generation {
    named: String,
    target: BlockTarget,
    /// When the gang started using it.
    from_ms: TimeMs,
}

/// A gang's number or site, through its replacements.
#[derive(Debug, Clone)]
struct Line {
    kind: LineKind,
    /// The original first.
    generations: Vec<Generation>,
}

/// A gang's lines, and what it needs to replace one.
#[derive(Debug, Clone)]
struct GangLines {
    /// Seeds the draws of replacements (delay and identifier).
    seed: u64,
    /// The word of its sites' hosts.
    host: &'static str,
    adapt_ms: Span<u64>,
    /// Phones first, then sites.
    lines: Vec<Line>,
}

/// A victim's first contact, as the script plans it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedContact {
    /// The case (the victim's report's position in the script).
    pub case: usize,
    /// When: the victim's first payment.
    pub at_ms: TimeMs,
    /// Where the victim lives: the center whose blocks protect them.
    pub city: City,
    /// The victim's account: every scheduled transfer of their money is tagged with it.
    pub victim_account: AccountRef,
    /// The loss the victim would suffer.
    pub loss: Fen,
    /// The gang (its position in the scenario).
    pub gang: usize,
    /// The line of first contact (an index into the gang's phones, then sites).
    pub line: usize,
    /// Every line the victim's report names.
    pub named: Vec<usize>,
}

/// What became of a contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contacted {
    /// The case.
    pub case: usize,
    /// When.
    pub at_ms: TimeMs,
    /// The victim's city.
    pub city: City,
    /// The identifier the gang reached (or tried to reach) them through, as they would name it.
    pub via: String,
    /// The same as the carriers block it.
    pub target: BlockTarget,
    /// 0 for the gang's original identifier, then one more per replacement.
    pub generation: u32,
    /// `Some(since)`: the victim's center had blocked it since then; not defrauded.
    pub spared_by_block_since: Option<TimeMs>,
    /// The loss the victim suffers, or would have suffered when spared.
    pub loss: Fen,
    /// For the report: each identifier it names that the gang had replaced, and the
    /// replacement in force at the contact.
    pub renamed: Vec<(String, String)>,
}

impl Contacted {
    /// Whether a block spared the victim.
    pub fn spared(&self) -> bool {
        self.spared_by_block_since.is_some()
    }
}

/// The gangs' lines, the contacts still to come, and what became of those past. See the
/// module documentation.
#[derive(Debug, Clone, Default)]
pub struct Contacts {
    gangs: Vec<GangLines>,
    pending: BTreeMap<(TimeMs, usize), PlannedContact>,
    done: BTreeMap<usize, Contacted>,
    /// Every identifier a line has used, so that a replacement is fresh.
    used: BTreeSet<String>,
    replaced: u64,
}

impl Contacts {
    /// Adds a gang: its phones and sites as its victims name them, the word of its sites'
    /// hosts, the delay of its replacements, and a seed for their draws. Returns its index.
    pub(crate) fn add_gang(
        &mut self,
        seed: u64,
        host: &'static str,
        adapt_ms: Span<u64>,
        phones: &[String],
        sites: &[String],
    ) -> usize {
        let mut lines = Vec::new();
        for (kind, named) in
            phones.iter().map(|p| (LineKind::Phone, p)).chain(sites.iter().map(|s| (LineKind::Site, s)))
        {
            self.used.insert(named.clone());
            let generation = target(kind, named).map(|target| Generation { named: named.clone(), target, from_ms: 0 });
            lines.push(Line { kind, generations: generation.into_iter().collect() });
        }
        self.gangs.push(GangLines { seed, host, adapt_ms, lines });
        self.gangs.len() - 1
    }

    /// Plans a victim's first contact.
    pub(crate) fn plan(&mut self, contact: PlannedContact) {
        self.pending.insert((contact.at_ms, contact.case), contact);
    }

    /// The line index of a gang's identifier as victims name it (its original).
    pub(crate) fn line_of(&self, gang: usize, named: &str) -> Option<usize> {
        let lines = &self.gangs.get(gang)?.lines;
        lines.iter().position(|line| line.generations.first().is_some_and(|g| g.named == named))
    }

    /// How many lines (phones, then sites) a gang has.
    pub(crate) fn line_count(&self, gang: usize) -> usize {
        self.gangs.get(gang).map_or(0, |g| g.lines.len())
    }

    /// What a gang's line is.
    pub(crate) fn line_kind(&self, gang: usize, line: usize) -> Option<LineKind> {
        Some(self.gangs.get(gang)?.lines.get(line)?.kind)
    }

    /// A contact of someone else than a victim (`crate::population`) through a gang's line at
    /// `at_ms`: the identifier in force then as carriers write it (`phone:+86…`,
    /// `domain:…`; the line replaced first as its blocks call for), and whether `city`'s
    /// center had it blocked since before then (the contact does not get through).
    pub(crate) fn reach(
        &mut self,
        gang: usize,
        line: usize,
        at_ms: TimeMs,
        city: &City,
        telecom: &Telecom,
    ) -> Option<(String, bool)> {
        self.adapt(gang, line, at_ms, telecom);
        let generations = &self.gangs.get(gang)?.lines.get(line)?.generations;
        // The one in force at `at_ms`, whatever order contacts are decided in.
        let current = generations.iter().rev().find(|g| g.from_ms <= at_ms).or(generations.first())?;
        let blocked = telecom.blocked_by(city, &current.target).is_some_and(|since| since <= at_ms);
        Some((current.target.to_string(), blocked))
    }

    /// When the next contact is due.
    pub fn next_due_ms(&self) -> Option<TimeMs> {
        self.pending.keys().next().map(|(at, _)| *at)
    }

    /// Contacts planned and not yet due.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Decides every contact due at or before `now`, in time order, against the carriers'
    /// blocks; a spared victim's transfers leave `schedule`. Returns how many were decided.
    pub fn contact_due(&mut self, now: TimeMs, telecom: &Telecom, schedule: &mut Schedule) -> usize {
        let mut decided = 0;
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let contact = entry.remove();
            decided += 1;
            let Some(outcome) = self.decide(&contact, telecom) else {
                continue;
            };
            if outcome.spared() {
                schedule.cancel_for(&contact.victim_account);
            }
            self.done.insert(contact.case, outcome);
        }
        decided
    }

    fn decide(&mut self, contact: &PlannedContact, telecom: &Telecom) -> Option<Contacted> {
        let mut lines: Vec<usize> = contact.named.clone();
        lines.push(contact.line);
        lines.sort_unstable();
        lines.dedup();
        for line in &lines {
            self.adapt(contact.gang, *line, contact.at_ms, telecom);
        }
        let gang = self.gangs.get(contact.gang)?;
        let line = gang.lines.get(contact.line)?;
        let generation = line.generations.len().checked_sub(1)?;
        let current = &line.generations[generation];
        let spared = telecom.blocked_by(&contact.city, &current.target).filter(|since| *since <= contact.at_ms);
        let renamed = contact
            .named
            .iter()
            .filter_map(|index| {
                let generations = &gang.lines.get(*index)?.generations;
                let (first, last) = (generations.first()?, generations.last()?);
                (generations.len() > 1).then(|| (first.named.clone(), last.named.clone()))
            })
            .collect();
        Some(Contacted {
            case: contact.case,
            at_ms: contact.at_ms,
            city: contact.city.clone(),
            via: current.named.clone(),
            target: current.target.clone(),
            generation: u32::try_from(generation).unwrap_or(u32::MAX),
            spared_by_block_since: spared,
            loss: contact.loss,
            renamed,
        })
    }

    /// Replaces a line, as often as its blocks call for, up to `at_ms`: the identifier in
    /// force, blocked anywhere since `since`, gives way to a fresh one at `since + delay`.
    fn adapt(&mut self, gang: usize, line: usize, at_ms: TimeMs, telecom: &Telecom) {
        loop {
            let Some(lines) = self.gangs.get(gang) else { return };
            let Some(current) = lines.lines.get(line).and_then(|l| l.generations.last()) else { return };
            let generations = lines.lines[line].generations.len();
            if generations > limits::MAX_LINE_GENERATIONS {
                return;
            }
            let Some(since) = telecom.first_blocked(&current.target) else { return };
            let mut rng =
                StdRng::seed_from_u64(domain::fnv1a64(format!("{}|{line}|{generations}", lines.seed).as_bytes()));
            let (min, max) = (lines.adapt_ms.min, lines.adapt_ms.max);
            let switch_ms = since.max(current.from_ms).saturating_add(rng.random_range(min..=max));
            if switch_ms > at_ms {
                return;
            }
            let kind = lines.lines[line].kind;
            let host = lines.host;
            let Some(fresh) = self.fresh(&mut rng, kind, host) else { return };
            let Some(target) = target(kind, &fresh) else { return };
            self.gangs[gang].lines[line].generations.push(Generation { named: fresh, target, from_ms: switch_ms });
            self.replaced += 1;
        }
    }

    /// A number or site no line has used.
    fn fresh(&mut self, rng: &mut StdRng, kind: LineKind, host: &str) -> Option<String> {
        (0..limits::MAX_ID_ATTEMPTS)
            .map(|_| match kind {
                LineKind::Phone => synth::scam_phone(rng),
                // Four digits: never one of the three-digit originals.
                LineKind::Site => synth::scam_site(rng, host, 4),
            })
            .find(|fresh| self.used.insert(fresh.clone()))
    }

    /// What became of a case's contact, once it is past.
    pub fn outcome(&self, case: usize) -> Option<&Contacted> {
        self.done.get(&case)
    }

    /// Every contact past, by case.
    pub fn outcomes(&self) -> impl Iterator<Item = &Contacted> {
        self.done.values()
    }

    /// Lines replaced so far, all gangs together.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// The report a case's victim files, from the script's `body`: `None` when a block spared
    /// them (nothing to report), else the body naming the identifiers in force when they were
    /// reached. A case whose contact is not past yet is filed as scripted.
    pub fn report_body(&self, case: usize, body: &Value) -> Option<Value> {
        let Some(outcome) = self.done.get(&case) else {
            return Some(body.clone());
        };
        if outcome.spared() {
            return None;
        }
        let mut body = body.clone();
        for field in ["phones", "urls"] {
            if let Some(Value::Array(values)) = body.get_mut("contacts").and_then(|c| c.get_mut(field)) {
                for value in values {
                    let renamed = outcome.renamed.iter().find(|(old, _)| value.as_str() == Some(old.as_str()));
                    if let Some((_, new)) = renamed {
                        *value = Value::String(new.clone());
                    }
                }
            }
        }
        Some(body)
    }
}

/// The block target of a gang's identifier as generated: a phone number is E.164 already; a
/// site `https://<host>/` is blocked as its host, a registrable domain under `com.cn`.
fn target(kind: LineKind, named: &str) -> Option<BlockTarget> {
    match kind {
        LineKind::Phone => BlockTarget::new(IdentifierKind::Phone, named).ok(),
        LineKind::Site => {
            let host = named.strip_prefix("https://")?.trim_end_matches('/');
            BlockTarget::new(IdentifierKind::Domain, host).ok()
        }
    }
}

#[cfg(test)]
mod tests;
