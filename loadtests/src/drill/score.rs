//! Scoring a drill: what the system did (its freezing events) against where the money really
//! went (the simulator's ledger, attributed to cases). Pure: the runner gathers the inputs.
//!
//! Definitions (docs/drills.md explains them with examples):
//! - **At risk**, per case: the accounts holding the case's money when the case was reported,
//!   plus those the money reached after the report. Money that had left an account before
//!   the report cannot be frozen there, so those accounts do not count.
//! - **Frozen**, per case: accounts the system stopped with a non-zero claim for the case.
//! - **Recall**: at-risk accounts frozen / at-risk accounts. **Precision**: frozen accounts
//!   that ever held the case's money / frozen accounts.
//! - **Time-to-freeze per account**: from the report's receipt to the stop-payment that held
//!   money there; **per case**: to the last such stop (the service's `time_to_freeze_ms`).
//!   Both in simulated time, which is real time × the time scale.
//! - **Frozen money** is the money of the case that sits, at the end, in the accounts the
//!   system froze for it (by attribution), next to what the system claims; **escaped** is
//!   what was cashed out.

use std::collections::{BTreeMap, BTreeSet};

use domain::{AccountRef, CaseId, Fen, FraudType, TimeMs};
use events::FreezingEvent;
use serde::Serialize;
use simulator::crime::Script;
use simulator::ledger::Ledger;
use simulator::truth::{Attribution, GroundTruth};

use super::blocking::BlockingSection;
use super::claims::claim_outcome;
use super::claims::{ClaimLine, MAX_CLAIM_LINES};
use super::dissuasion::DissuasionSection;
use super::observed::{SystemCase, system_case};
use super::restitution::RestitutionSection;
pub use super::spread::Spread;

/// Points of the money-over-time series.
pub const SERIES_POINTS: usize = 120;

/// What the runner observed of one case.
#[derive(Debug, Clone)]
pub struct ObservedCase {
    /// The case id intake gave the report.
    pub case_id: CaseId,
    /// The freezing events of the case, in publication order.
    pub events: Vec<FreezingEvent>,
}

/// How the drill ran.
#[derive(Debug, Clone, Serialize)]
pub struct RunFacts {
    /// Simulated ms per real ms.
    pub time_scale: f64,
    /// Mean time a simulated bank takes to answer, simulated ms.
    pub bank_answer_ms: f64,
    /// When the run stopped, simulated ms since the epoch.
    pub ended_at_ms: TimeMs,
    /// Real seconds the run took.
    pub real_seconds: f64,
}

/// Money and accounts of a group of cases (all, one fraud type, ...).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Tally {
    pub cases: u64,
    /// What the victims lost.
    pub loss_fen: u64,
    /// Case money in the accounts the system froze for the case, at the end.
    pub frozen_fen: u64,
    /// What the system claims it holds.
    pub claimed_fen: u64,
    /// Case money cashed out (gone).
    pub cashed_out_fen: u64,
    /// Case money still in accounts the system did not freeze for the case.
    pub loose_fen: u64,
    /// What the system claims for the case beyond the case's money truly in the claimed
    /// accounts at the end: a claim that a restitution would pay out of other money.
    #[serde(default)]
    pub over_claim_fen: u64,
    /// Case money that was in an account when the system claimed it there, and had left it
    /// by the end: found, then let go (a stop that lapsed before a freeze held it).
    #[serde(default)]
    pub released_by_lapse_fen: u64,
    /// The same by attribution alone, counting money frozen for the case (see `claims`).
    #[serde(default)]
    pub released_pro_rata_fen: u64,
    /// Money victims had not paid when the run ended (or never paid: a blocked payment).
    pub unpaid_fen: u64,
    pub accounts_at_risk: u64,
    pub accounts_frozen_at_risk: u64,
    pub accounts_frozen: u64,
    pub accounts_frozen_correctly: u64,
    /// Reports refused or never answered.
    pub not_traced: u64,
    /// Time-to-freeze per case.
    pub ttf_case_ms: Spread,
    /// Time-to-freeze per account.
    pub ttf_account_ms: Spread,
}

impl Tally {
    /// Frozen money / lost money.
    pub fn frozen_share(&self) -> f64 {
        ratio(self.frozen_fen, self.loss_fen)
    }

    /// Cashed-out money / lost money.
    pub fn cashed_out_share(&self) -> f64 {
        ratio(self.cashed_out_fen, self.loss_fen)
    }

    /// At-risk accounts frozen / at-risk accounts.
    pub fn recall(&self) -> f64 {
        ratio(self.accounts_frozen_at_risk, self.accounts_at_risk)
    }

    /// Frozen accounts that held the case's money / frozen accounts.
    pub fn precision(&self) -> f64 {
        ratio(self.accounts_frozen_correctly, self.accounts_frozen)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 1.0 } else { part as f64 / whole as f64 }
}

/// Accounts at one trail depth.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct DepthRow {
    pub depth: u8,
    pub accounts_at_risk: u64,
    pub accounts_frozen_at_risk: u64,
    pub ttf_account_ms: Spread,
}

/// The system's share of time-to-freeze against the banks' answer time.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TimeShare {
    /// Sum over cases of time-to-freeze, simulated ms.
    pub ttf_ms: u64,
    /// Sum over cases of the time spent waiting for banks and payment platforms along the
    /// critical path: the hops from the victim's payment to the case's last stop, each
    /// hop's answer times as freezing measured them (request sent → answer decided,
    /// retries included; `answered_in_ms` of its `order_resolved` and `account_stopped`).
    pub banks_ms: u64,
    /// 1 − banks / ttf, over the cases whose path was measured.
    pub system_share: f64,
    /// Cases with a time-to-freeze whose path had a hop without a measured answer time
    /// (events recorded before it was measured); left out of the three figures above.
    pub cases_unmeasured: u64,
}

/// One point of the money-over-time series, in fen.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct MoneyPoint {
    /// Simulated ms since the epoch.
    pub at_ms: TimeMs,
    /// Paid by victims so far.
    pub paid_fen: u64,
    /// Claimed by the system (stops holding money) so far.
    pub frozen_fen: u64,
    /// Cashed out so far.
    pub cashed_out_fen: u64,
    /// Reported lost so far.
    pub reported_fen: u64,
}

/// Figures that depend only on the scenario and seed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroundTruthFigures {
    pub reports: u64,
    pub loss_fen: u64,
    pub mule_accounts: u64,
    /// Cashed out and still held if nobody intervened.
    pub unimpeded_cashed_out_fen: u64,
    pub unimpeded_held_fen: u64,
    pub script_fingerprint: String,
    pub truth_fingerprint: String,
}

/// The whole drill report (`report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub scenario: String,
    pub scenario_hash: String,
    pub seed: u64,
    pub run: RunFacts,
    pub ground_truth: GroundTruthFigures,
    pub total: Tally,
    pub by_fraud_type: BTreeMap<String, Tally>,
    pub by_depth: Vec<DepthRow>,
    pub time_share: TimeShare,
    pub series: Vec<MoneyPoint>,
    /// Per-account times-to-freeze, simulated ms (for the distribution chart).
    pub ttf_account_values_ms: Vec<u64>,
    /// The figures that may differ between two runs with one seed (they depend on timing).
    pub timing_dependent: Vec<&'static str>,
    /// The claims that over-claim or let money go, largest first (at most
    /// [`MAX_CLAIM_LINES`]): each with what the figures are made of.
    pub claims_not_backed: Vec<ClaimLine>,
    /// What blocking did and whom it spared (`super::blocking`); empty in older reports.
    #[serde(default)]
    pub blocking: BlockingSection,
    /// Whom dissuasion warned before they paid, and what it saved (`super::dissuasion`);
    /// empty without a population and in older reports.
    #[serde(default)]
    pub dissuasion: DissuasionSection,
    /// What restitution returned, and to whom against the ground truth (`super::restitution`).
    #[serde(default)]
    pub restitution: RestitutionSection,
    /// The province coordinator's figures against each city's own (`super::province`).
    #[serde(default)]
    pub province: super::province::ProvinceSection,
}

/// The report's figures that depend on how fast the system and the machine were.
pub const TIMING_DEPENDENT: [&str; 14] = [
    "total.frozen_fen",
    "total.claimed_fen",
    "total.over_claim_fen",
    "total.released_by_lapse_fen",
    "total.released_pro_rata_fen",
    "total.cashed_out_fen",
    "recall and precision",
    "time-to-freeze (all)",
    "by_fraud_type and by_depth",
    "time_share",
    "series",
    "blocking",
    "dissuasion",
    "restitution",
];

/// Why a drill could not be scored.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("attributing the ledger to cases: {0}")]
    Attribution(#[from] simulator::truth::AttributionError),
    #[error(transparent)]
    Money(#[from] domain::MoneyError),
    #[error("{observed} observed cases for {reports} reports")]
    Mismatch { observed: usize, reports: usize },
}

/// Scores a drill. `observed[i]` is what the system did with `script.reports[i]` (`None`
/// when the report was refused or not answered). The cases in `spared` (victims a block
/// spared: they paid nothing and reported nothing) are left out of every tally; the report's
/// `blocking` section, left empty here, counts them.
pub fn score(
    script: &Script,
    truth: &GroundTruth,
    ledger: &Ledger,
    observed: &[Option<ObservedCase>],
    spared: &BTreeSet<usize>,
    run: RunFacts,
) -> Result<DrillReport, ScoreError> {
    if observed.len() != script.reports.len() {
        return Err(ScoreError::Mismatch { observed: observed.len(), reports: script.reports.len() });
    }
    let systems: Vec<Option<SystemCase>> = observed.iter().map(|o| o.as_ref().and_then(system_case)).collect();

    // Replay what really happened, snapshotting each case's holdings when it was reported
    // and the money totals at the series' points. Returns to victims are left out: frozen
    // money returned still counts as frozen (the `restitution` section scores the returns).
    let booked = simulator::truth::booked_transfers_before_returns(ledger);
    let mut attribution = script.attribution();
    let report_times: Vec<TimeMs> = script
        .reports
        .iter()
        .zip(&systems)
        .enumerate()
        .map(|(case, (report, system))| match system {
            _ if spared.contains(&case) => TimeMs::MAX, // never reported
            Some(s) => s.reported_at_ms,
            None => report.due_at_ms,
        })
        .collect();
    let mut by_time: Vec<usize> = (0..report_times.len()).collect();
    by_time.sort_by_key(|case| report_times[*case]);
    let end_ms = run.ended_at_ms.max(script.origin_ms + 1);
    let step = (end_ms - script.origin_ms).div_ceil(SERIES_POINTS as u64).max(1);
    let sample_times: Vec<TimeMs> = (1..=SERIES_POINTS as u64).map(|k| script.origin_ms + k * step).collect();

    let mut at_risk_at_report: Vec<BTreeSet<AccountRef>> = vec![BTreeSet::new(); script.reports.len()];
    // Every claim, by when it was made: the case's money in the account then.
    let mut claim_times: Vec<(TimeMs, usize, AccountRef)> = systems
        .iter()
        .enumerate()
        .flat_map(|(case, system)| {
            system.iter().flat_map(move |s| s.freezes.iter().map(move |f| (f.stopped_at_ms, case, f.account.clone())))
        })
        .collect();
    claim_times.sort();
    let mut held_at_claim: BTreeMap<(usize, AccountRef), Fen> = BTreeMap::new();
    let mut series = Vec::with_capacity(SERIES_POINTS);
    let (mut next_report, mut next_sample, mut next_claim) = (0, 0, 0);
    let mut snapshot =
        |attribution: &Attribution, until: TimeMs, series: &mut Vec<MoneyPoint>| -> Result<(), ScoreError> {
            while next_claim < claim_times.len() && claim_times[next_claim].0 <= until {
                let (_, case, account) = &claim_times[next_claim];
                let held = attribution.held_by(*case).get(account).copied().unwrap_or(Fen::ZERO);
                held_at_claim.entry((*case, account.clone())).or_insert(held);
                next_claim += 1;
            }
            while next_report < by_time.len() && report_times[by_time[next_report]] <= until {
                let case = by_time[next_report];
                at_risk_at_report[case] = attribution.held_by(case).into_keys().collect();
                next_report += 1;
            }
            while next_sample < sample_times.len() && sample_times[next_sample] <= until {
                let at_ms = sample_times[next_sample];
                series.push(money_point(script, attribution, &systems, &report_times, at_ms)?);
                next_sample += 1;
            }
            Ok(())
        };
    for transfer in &booked {
        // Everything strictly before this transfer's time is settled.
        snapshot(&attribution, transfer.at_ms.saturating_sub(1), &mut series)?;
        attribution.record(&transfer.from, &transfer.to, transfer.amount, transfer.at_ms)?;
    }
    snapshot(&attribution, TimeMs::MAX, &mut series)?;
    attribution.check()?;

    let mut total = Tally::default();
    let mut by_fraud_type: BTreeMap<FraudType, Tally> = BTreeMap::new();
    let mut depth_rows: BTreeMap<u8, (u64, u64, Vec<u64>)> = BTreeMap::new();
    let mut ttf_case: BTreeMap<Option<FraudType>, Vec<u64>> = BTreeMap::new();
    let mut ttf_account: BTreeMap<Option<FraudType>, Vec<u64>> = BTreeMap::new();
    let mut time_share = TimeShare::default();
    let mut lines = Vec::new();
    for (case, report) in script.reports.iter().enumerate().filter(|(case, _)| !spared.contains(case)) {
        let fraud_type = report.case.fraud_type;
        let money = attribution.case_money(case).unwrap_or_default();
        let held_now = attribution.held_by(case);
        let reached = attribution.reached(case).cloned().unwrap_or_default();
        let reported_at = report_times[case];
        let mut at_risk = at_risk_at_report[case].clone();
        at_risk.extend(reached.iter().filter(|(_, reach)| reach.first_at_ms > reported_at).map(|(a, _)| a.clone()));

        let mut row = Tally {
            cases: 1,
            loss_fen: money.loss.get(),
            cashed_out_fen: money.cashed_out.get(),
            unpaid_fen: money.unpaid.get(),
            accounts_at_risk: at_risk.len() as u64,
            ..Tally::default()
        };
        let mut case_ttfs = Vec::new();
        let mut account_ttfs = Vec::new();
        match &systems[case] {
            None => row.not_traced = 1,
            Some(system) => {
                let frozen: BTreeSet<&AccountRef> = system.freezes.iter().map(|f| &f.account).collect();
                let frozen_fen = Fen::sum(frozen.iter().filter_map(|a| held_now.get(*a).copied()))?;
                row.frozen_fen = frozen_fen.get();
                row.claimed_fen = system.claimed.get();
                row.accounts_frozen = frozen.len() as u64;
                row.accounts_frozen_correctly = frozen.iter().filter(|a| reached.contains_key(**a)).count() as u64;
                row.accounts_frozen_at_risk = at_risk.iter().filter(|a| frozen.contains(a)).count() as u64;
                case_ttfs.extend(system.ttf_ms);
                let case_id = observed[case].as_ref().map(|o| &o.case_id);
                for (account, claim) in system.claims.iter().map(|(a, c)| (a, *c)) {
                    let now = held_now.get(account).copied().unwrap_or(Fen::ZERO);
                    let then = held_at_claim.get(&(case, account.clone())).copied().unwrap_or(Fen::ZERO);
                    // What the account's bank holds frozen for the case at the end.
                    let freezes = ledger.freeze_claims(account).into_iter();
                    let ours = freezes.filter(|c| !c.queued && Some(&c.case_id) == case_id);
                    let frozen_for_case = Fen::sum(ours.map(|c| c.amount))?;
                    let outcome = claim_outcome(claim, then, now, frozen_for_case);
                    if !(outcome.over.is_zero() && outcome.released.is_zero()) {
                        let case_id = case_id.map(ToString::to_string).unwrap_or_default();
                        lines.push(ClaimLine::new(case_id, account, claim, then, now, frozen_for_case, outcome));
                    }
                    row.over_claim_fen += outcome.over.get();
                    row.released_by_lapse_fen += outcome.released.get();
                    row.released_pro_rata_fen += outcome.released_pro_rata.get();
                }
                for freeze in &system.freezes {
                    let ttf = freeze.stopped_at_ms.saturating_sub(system.reported_at_ms);
                    account_ttfs.push(ttf);
                    depth_rows.entry(freeze.depth).or_default().2.push(ttf);
                }
                match (system.ttf_ms, system.path_adapter_ms) {
                    (Some(ttf), Some(waited)) => {
                        time_share.ttf_ms = time_share.ttf_ms.saturating_add(ttf);
                        time_share.banks_ms = time_share.banks_ms.saturating_add(waited.min(ttf));
                    }
                    (Some(_), None) => time_share.cases_unmeasured += 1,
                    (None, _) => {}
                }
                for account in &at_risk {
                    let depth = reached.get(account).map_or(0, |r| r.depth);
                    let entry = depth_rows.entry(depth).or_default();
                    entry.0 += 1;
                    entry.1 += u64::from(frozen.contains(account));
                }
            }
        }
        let loose = Fen::sum(held_now.values().copied())?.saturating_sub(Fen::new(row.frozen_fen));
        row.loose_fen = loose.get();
        if systems[case].is_none() {
            for account in &at_risk {
                let depth = reached.get(account).map_or(0, |r| r.depth);
                depth_rows.entry(depth).or_default().0 += 1;
            }
        }
        for key in [None, Some(fraud_type)] {
            ttf_case.entry(key).or_default().extend(&case_ttfs);
            ttf_account.entry(key).or_default().extend(&account_ttfs);
        }
        add(&mut total, &row);
        add(by_fraud_type.entry(fraud_type).or_default(), &row);
    }
    total.ttf_case_ms = Spread::of(ttf_case.get(&None).map_or(&[][..], Vec::as_slice));
    total.ttf_account_ms = Spread::of(ttf_account.get(&None).map_or(&[][..], Vec::as_slice));
    for (fraud_type, tally) in &mut by_fraud_type {
        tally.ttf_case_ms = Spread::of(ttf_case.get(&Some(*fraud_type)).map_or(&[][..], Vec::as_slice));
        tally.ttf_account_ms = Spread::of(ttf_account.get(&Some(*fraud_type)).map_or(&[][..], Vec::as_slice));
    }
    time_share.system_share = 1.0 - ratio(time_share.banks_ms, time_share.ttf_ms);
    let by_depth = depth_rows
        .into_iter()
        .map(|(depth, (at_risk, frozen, ttfs))| DepthRow {
            depth,
            accounts_at_risk: at_risk,
            accounts_frozen_at_risk: frozen,
            ttf_account_ms: Spread::of(&ttfs),
        })
        .collect();
    let mut ttf_account_values_ms = ttf_account.remove(&None).unwrap_or_default();
    ttf_account_values_ms.sort_unstable();

    Ok(DrillReport {
        scenario: script.name.clone(),
        scenario_hash: format!("{:016x}", script.scenario_hash),
        seed: script.seed,
        run,
        ground_truth: GroundTruthFigures {
            reports: script.reports.len() as u64,
            loss_fen: truth.total.loss.get(),
            mule_accounts: script.mule_accounts() as u64,
            unimpeded_cashed_out_fen: truth.total.cashed_out.get(),
            unimpeded_held_fen: truth.total.held.get(),
            script_fingerprint: format!("{:016x}", script.fingerprint()),
            truth_fingerprint: format!("{:016x}", truth.fingerprint()),
        },
        total,
        by_fraud_type: by_fraud_type.into_iter().map(|(t, tally)| (t.as_str().to_owned(), tally)).collect(),
        by_depth,
        time_share,
        series,
        ttf_account_values_ms,
        timing_dependent: TIMING_DEPENDENT.to_vec(),
        claims_not_backed: ClaimLine::largest(lines, MAX_CLAIM_LINES),
        blocking: BlockingSection::default(),
        dissuasion: DissuasionSection::default(),
        restitution: RestitutionSection::default(),
        province: Default::default(),
    })
}

/// What one claim came to: how much of it the case's money in the account at the end does
/// not back (over-claim), and how much of the case's money found there when it was claimed
/// (up to the claim) had left by the end (released).
fn add(into: &mut Tally, row: &Tally) {
    into.cases += row.cases;
    into.loss_fen += row.loss_fen;
    into.frozen_fen += row.frozen_fen;
    into.claimed_fen += row.claimed_fen;
    into.cashed_out_fen += row.cashed_out_fen;
    into.loose_fen += row.loose_fen;
    into.over_claim_fen += row.over_claim_fen;
    into.released_by_lapse_fen += row.released_by_lapse_fen;
    into.released_pro_rata_fen += row.released_pro_rata_fen;
    into.unpaid_fen += row.unpaid_fen;
    into.accounts_at_risk += row.accounts_at_risk;
    into.accounts_frozen_at_risk += row.accounts_frozen_at_risk;
    into.accounts_frozen += row.accounts_frozen;
    into.accounts_frozen_correctly += row.accounts_frozen_correctly;
    into.not_traced += row.not_traced;
}

fn money_point(
    script: &Script,
    attribution: &Attribution,
    systems: &[Option<SystemCase>],
    report_times: &[TimeMs],
    at_ms: TimeMs,
) -> Result<MoneyPoint, ScoreError> {
    let totals = attribution.total()?;
    let frozen = systems
        .iter()
        .flatten()
        .flat_map(|s| s.freezes.iter())
        .filter(|f| f.stopped_at_ms <= at_ms)
        .try_fold(Fen::ZERO, |sum, f| sum.checked_add(f.claim))?;
    let reported = script
        .reports
        .iter()
        .zip(report_times)
        .filter(|(_, at)| **at <= at_ms)
        .try_fold(Fen::ZERO, |sum, (r, _)| sum.checked_add(r.case.loss))?;
    Ok(MoneyPoint {
        at_ms,
        paid_fen: totals.paid.get(),
        frozen_fen: frozen.get(),
        cashed_out_fen: totals.cashed_out.get(),
        reported_fen: reported.get(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::report::Destination;
    use domain::{City, PaymentOrderRef};

    fn case() -> CaseId {
        CaseId::derive(&City::parse("hangzhou").unwrap(), 1)
    }

    fn account(n: u32) -> AccountRef {
        AccountRef::parse(&format!("icbc:62220202{n:08}")).unwrap()
    }

    fn opened(hop: u32, parent: Option<u32>, target: Destination) -> FreezingEvent {
        FreezingEvent::HopOpened {
            case_id: case(),
            hop,
            parent,
            depth: 1 + u8::from(parent.is_some()),
            target,
            traced_fen: Fen::new(1_000),
            since_ms: 0,
            arrival_transfer_id: None,
        }
    }

    fn stopped(hop: u32, at: TimeMs, claim: u64, answered_in_ms: Option<u64>) -> FreezingEvent {
        FreezingEvent::AccountStopped {
            case_id: case(),
            hop,
            account: account(hop),
            stop_no: 1,
            held_fen: Fen::new(claim),
            claim_fen: Fen::new(claim),
            onward: Vec::new(),
            cashed_out_fen: Fen::ZERO,
            stopped_at_ms: at,
            expires_at_ms: at + 1,
            answered_in_ms,
            first_onward_hop: None,
            depth: None,
        }
    }

    /// Hop 1 (a stop answered in 5 ms) sends money on to hop 2 (an order resolved in 3 ms,
    /// then a stop answered in 7 ms, the case's last stop) and to hop 3 (a slow bank, 50 ms,
    /// stopped earlier). The path to the last stop is 1 → 2.
    fn trail(hop2_answer: Option<u64>) -> ObservedCase {
        let events = vec![
            FreezingEvent::TraceStarted { case_id: case(), reported_at_ms: 0, reported_loss_fen: Fen::new(3_000) },
            opened(1, None, Destination::Account(account(1))),
            stopped(1, 40, 1_000, Some(5)),
            opened(2, Some(1), Destination::Order(PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap())),
            opened(3, Some(1), Destination::Account(account(3))),
            FreezingEvent::OrderResolved {
                case_id: case(),
                hop: 2,
                order: PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap(),
                account: account(2),
                settled_at_ms: 1,
                transfer_id: "t".into(),
                answered_in_ms: Some(3),
            },
            stopped(3, 150, 500, Some(50)),
            stopped(2, 200, 1_000, hop2_answer),
        ];
        ObservedCase { case_id: case(), events }
    }

    #[test]
    fn the_banks_share_is_the_answer_times_on_the_path_to_the_last_stop() {
        let system = system_case(&trail(Some(7))).unwrap();
        assert_eq!(system.path_adapter_ms, Some(5 + 3 + 7), "hop 3's 50 ms is off the path");
        assert_eq!(system.claimed, Fen::new(2_500));
    }

    #[test]
    fn a_path_with_an_unmeasured_hop_is_not_counted() {
        assert_eq!(system_case(&trail(None)).unwrap().path_adapter_ms, None);
    }
}
