//! The drill report as a table for the terminal and as an SVG chart: the distribution of
//! time-to-freeze per account, money frozen against money cashed out over simulated time,
//! and (when the scenario has them) the high-risk pool and dissuasion's open tasks per queue
//! over simulated time.

use std::fmt::Write;

use crate::harness::chart::{self, ChartError, Panel, Scale, Series, Stroke};
use domain::{Fen, TimeMs, calendar};

use super::blocking::BlockingSection;
use super::dissuasion::{BACKLOG_QUEUES, DissuasionSection};
use super::restitution::RestitutionSection;
use super::score::{DrillReport, Spread, Tally};

/// Most points of the time-to-freeze distribution line.
const CDF_POINTS: usize = 200;

/// `2025-03-01 09:15` (UTC+8, the centers' time) for simulated ms since the epoch.
pub fn sim_time(ms: TimeMs) -> String {
    const CHINA_OFFSET_MS: u64 = 8 * 60 * 60 * 1000;
    const DAY_MS: u64 = 86_400_000;
    let local = ms.saturating_add(CHINA_OFFSET_MS);
    // u64::MAX ms is under 2^38 days: the day count always fits an i64.
    let days = i64::try_from(local / DAY_MS).expect("ms / a day's ms fits an i64");
    let minutes = (local % DAY_MS) / 60_000;
    let (year, month, day) = calendar::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}", minutes / 60, minutes % 60)
}

/// A simulated duration: `850 ms`, `42 s`, `12.5 min`, `3.2 h`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{:.1} s", ms as f64 / 1_000.0),
        120_000..7_200_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        _ => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

fn spread(s: &Spread) -> String {
    if s.n == 0 {
        return "-".into();
    }
    format!("{} / {} / {} / {}", duration(s.p50), duration(s.p90), duration(s.p99), duration(s.max))
}

fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The report as the terminal shows it.
pub fn table(report: &DrillReport) -> String {
    let mut out = String::new();
    let truth = &report.ground_truth;
    let t = &report.total;
    let _ = writeln!(out, "\nafc-lab sim run: {}", report.scenario);
    let _ = writeln!(out, "reproducibility");
    let _ = writeln!(out, "  {:<38} {} / {}", "scenario hash / seed", report.scenario_hash, report.seed);
    let _ = writeln!(
        out,
        "  {:<38} {} / {}",
        "script / ground-truth fingerprint", truth.script_fingerprint, truth.truth_fingerprint
    );
    let _ = writeln!(
        out,
        "  {:<38} {:.0}x ({:.0} s real, to {})",
        "time scale",
        report.run.time_scale,
        report.run.real_seconds,
        sim_time(report.run.ended_at_ms)
    );
    let _ = writeln!(out, "ground truth (the same for every run with this seed)");
    let _ = writeln!(out, "  {:<38} {} / {}", "reports / mule accounts", truth.reports, truth.mule_accounts);
    let _ = writeln!(out, "  {:<38} {}", "lost by victims", Fen::new(truth.loss_fen));
    let _ = writeln!(
        out,
        "  {:<38} {} cashed out, {} left in accounts",
        "if nobody intervened",
        Fen::new(truth.unimpeded_cashed_out_fen),
        Fen::new(truth.unimpeded_held_fen)
    );
    let _ = writeln!(out, "outcome (depends on timing: {})", report.timing_dependent.join(", "));
    money_rows(&mut out, t);
    let _ = writeln!(
        out,
        "  {:<38} {} ({} of {} at-risk accounts frozen)",
        "recall",
        percent(t.recall()),
        t.accounts_frozen_at_risk,
        t.accounts_at_risk
    );
    let _ = writeln!(
        out,
        "  {:<38} {} ({} of {} frozen accounts held the case's money)",
        "precision",
        percent(t.precision()),
        t.accounts_frozen_correctly,
        t.accounts_frozen
    );
    let _ = writeln!(out, "  {:<38} {}", "reports not traced", t.not_traced);
    let _ = writeln!(out, "time-to-freeze, simulated (p50 / p90 / p99 / max)");
    let _ = writeln!(out, "  {:<38} {}", "per case (to the last freeze)", spread(&t.ttf_case_ms));
    let _ = writeln!(out, "  {:<38} {}", "per account", spread(&t.ttf_account_ms));
    let share = &report.time_share;
    let _ = writeln!(
        out,
        "  {:<38} {} of {} waiting for banks and platforms; system share {}{}",
        "system vs banks (critical path)",
        duration(share.banks_ms),
        duration(share.ttf_ms),
        percent(share.system_share),
        if share.cases_unmeasured > 0 {
            format!(" ({} cases unmeasured)", share.cases_unmeasured)
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "by fraud type");
    let header = ["type", "cases", "lost", "frozen", "cashed", "recall"];
    let _ = writeln!(
        out,
        "  {:<28} {:>6} {:>16} {:>8} {:>8} {:>8}  ttf per case p50 / p90 / p99 / max",
        header[0], header[1], header[2], header[3], header[4], header[5]
    );
    for (fraud_type, tally) in &report.by_fraud_type {
        let _ = writeln!(
            out,
            "  {:<28} {:>6} {:>16} {:>8} {:>8} {:>8}  {}",
            fraud_type,
            tally.cases,
            Fen::new(tally.loss_fen).to_string(),
            percent(tally.frozen_share()),
            percent(tally.cashed_out_share()),
            percent(tally.recall()),
            spread(&tally.ttf_case_ms)
        );
    }
    let _ = writeln!(out, "by trail depth (accounts holding the money at or after the report)");
    let header = ["depth", "at risk", "frozen", "recall"];
    let _ = writeln!(
        out,
        "  {:<8} {:>10} {:>10} {:>8}  ttf p50 / p90 / p99 / max",
        header[0], header[1], header[2], header[3]
    );
    for row in &report.by_depth {
        let recall = if row.accounts_at_risk == 0 {
            1.0
        } else {
            row.accounts_frozen_at_risk as f64 / row.accounts_at_risk as f64
        };
        let _ = writeln!(
            out,
            "  {:<8} {:>10} {:>10} {:>8}  {}",
            row.depth,
            row.accounts_at_risk,
            row.accounts_frozen_at_risk,
            percent(recall),
            spread(&row.ttf_account_ms)
        );
    }
    blocking_rows(&mut out, &report.blocking);
    if report.dissuasion.people > 0 {
        dissuasion_rows(&mut out, &report.dissuasion);
    }
    restitution_rows(&mut out, &report.restitution);
    super::province::rows(&mut out, &report.province);
    out
}

/// A simulated wait in days once it is one, else as [`duration`].
fn days(ms: u64) -> String {
    const DAY_MS: u64 = 86_400_000;
    if ms >= DAY_MS { format!("{:.1} d", ms as f64 / DAY_MS as f64) } else { duration(ms) }
}

fn restitution_rows(out: &mut String, r: &RestitutionSection) {
    let _ = writeln!(out, "restitution (depends on timing)");
    let _ = writeln!(
        out,
        "  {:<38} {} ({} reopened, {} of remainders, {} refused); {} objections; {} executed, {} completed, {} open",
        "allocations proposed",
        r.allocations_proposed,
        r.reopened,
        r.remainders,
        r.allocations_refused,
        r.objections,
        r.allocations_executed,
        r.allocations_completed,
        r.allocations_open
    );
    let agree = if r.returned_fen == r.returned_ledger_fen && r.returns_unmatched == 0 {
        "the banks' ledger agrees".to_owned()
    } else {
        format!("the banks' ledger: {}, {} returns unmatched", Fen::new(r.returned_ledger_fen), r.returns_unmatched)
    };
    let _ = writeln!(
        out,
        "  {:<38} {} of {} frozen ({}); {agree}",
        "returned",
        Fen::new(r.returned_fen),
        Fen::new(r.frozen_fen),
        percent(r.returned_share)
    );
    let _ = writeln!(
        out,
        "  {:<38} {} instructed, {} confirmed, {} failed, {} overdue; {} to an account not the victim's",
        "returns",
        r.returns_instructed,
        r.returns_confirmed,
        r.returns_failed,
        r.returns_overdue,
        r.returns_to_other_accounts
    );
    let w = &r.freeze_to_return_ms;
    let wait = if w.n == 0 { "-".to_owned() } else { format!("{} / {} / {}", days(w.p50), days(w.p90), days(w.max)) };
    let _ = writeln!(out, "  {:<38} {wait}", "freeze to return, simulated (p50/p90/max)");
    if r.allocations_refused > 0 {
        let mut fields: Vec<(&String, &u64)> = r.refused_by_field.iter().collect();
        fields.sort_by_key(|(_, n)| std::cmp::Reverse(**n));
        let fields: Vec<String> = fields.iter().take(3).map(|(field, n)| format!("{n} {field}")).collect();
        let _ = writeln!(out, "  {:<38} {}", "allocations refused, by field", fields.join(", "));
    }
    let worst = match r.errors.first() {
        Some(e) => format!(
            "; worst {}{} ({} on {}: owed {}, returned {})",
            if e.error_fen < 0 { "-" } else { "+" },
            Fen::new(e.error_fen.unsigned_abs()),
            e.case_id,
            e.account,
            Fen::new(e.owed_fen),
            Fen::new(e.returned_fen)
        ),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "  {:<38} {} of {} exact; |error| {} of {} owed ({} over, {} short){worst}",
        "per victim and account vs ground truth",
        r.victims_exact,
        r.victims_scored,
        Fen::new(r.error_abs_fen),
        Fen::new(r.owed_fen),
        Fen::new(r.over_returned_fen),
        Fen::new(r.under_returned_fen)
    );
    if r.approver_errors > 0 {
        let _ = writeln!(
            out,
            "  {:<38} {} of {} sent",
            "approvals refused or unanswered", r.approver_errors, r.approvals_sent
        );
    }
}

fn dissuasion_rows(out: &mut String, d: &DissuasionSection) {
    let _ = writeln!(
        out,
        "dissuasion (the population is the same for every run with this seed; the rest depends on timing)"
    );
    let _ = writeln!(
        out,
        "  {:<38} {} of {} ({} spared by blocks); {} would pay {}",
        "people reached",
        d.reached,
        d.people,
        d.spared_by_blocks,
        d.would_pay,
        Fen::new(d.would_pay_fen)
    );
    let stopped: Vec<String> = d.stopped_by.iter().map(|(step, n)| format!("{n} by {step}")).collect();
    let stopped = if stopped.is_empty() { String::new() } else { format!(" ({})", stopped.join(", ")) };
    let _ = writeln!(
        out,
        "  {:<38} {} of {} ({}){stopped}",
        "warned before paying",
        d.warned_before_paying,
        d.would_pay,
        percent(d.warned_before_paying_share)
    );
    let _ = writeln!(
        out,
        "  {:<38} {} ({} paid {}; {} not due yet)",
        "loss avoided",
        Fen::new(d.loss_avoided_fen),
        d.paid,
        Fen::new(d.lost_fen),
        d.not_paid_yet
    );
    let _ = writeln!(
        out,
        "  {:<38} {} SMS ({} delivered), {} calls, {} visits; {} signals ({} lost)",
        "warnings given", d.sms_sent, d.sms_delivered, d.calls, d.visits, d.signals_published, d.signals_lost
    );
    let outcomes: Vec<String> = d.outcomes.iter().map(|(outcome, n)| format!("{n} {outcome}")).collect();
    let _ = writeln!(out, "  {:<38} {}", "outcomes of calls and visits", outcomes.join(", "));
    let misses: Vec<String> = d.deadline_misses_by_queue.iter().map(|(queue, n)| format!("{n} {queue}")).collect();
    let misses = if misses.is_empty() { String::new() } else { format!(" ({})", misses.join(", ")) };
    let _ = writeln!(
        out,
        "  {:<38} {}{misses}; {} overdue at the last level",
        "deadline misses", d.deadline_misses, d.overdue
    );
    let peaks: Vec<String> =
        BACKLOG_QUEUES.iter().zip(d.peak_backlog).filter(|(_, n)| *n > 0).map(|(q, n)| format!("{q} {n}")).collect();
    let _ = writeln!(
        out,
        "  {:<38} {} opened, {} closed; peak open: {}",
        "tasks",
        d.tasks_opened,
        d.tasks_closed,
        if peaks.is_empty() { "-".to_owned() } else { peaks.join(", ") }
    );
    let _ = writeln!(
        out,
        "  {:<38} {} found paid, {} reports filed with intake{}",
        "already paid",
        d.already_paid,
        d.reports_filed,
        if d.staff_errors > 0 { format!("; {} staff commands failed", d.staff_errors) } else { String::new() }
    );
}

fn blocking_rows(out: &mut String, b: &BlockingSection) {
    let _ = writeln!(out, "blocking (depends on timing)");
    let kinds: Vec<String> = b.blocked_by_kind.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
    let kinds = if kinds.is_empty() { String::new() } else { format!(" ({})", kinds.join(", ")) };
    let _ = writeln!(
        out,
        "  {:<38} {}{kinds}; {} extended",
        "identifiers blocked", b.identifiers_blocked, b.blocks_extended
    );
    let c = &b.report_to_confirmed_ms;
    let confirmed = if c.n == 0 { "-".into() } else { format!("{} / {}", duration(c.p50), duration(c.p99)) };
    let _ = writeln!(
        out,
        "  {:<38} {confirmed} ({} blocks; {} not confirmed at the end)",
        "report to carrier confirmation p50/p99", c.n, b.blocks_unconfirmed
    );
    let _ = writeln!(
        out,
        "  {:<38} {} of {} contacted, {} loss avoided",
        "victims spared by blocks",
        b.victims_spared,
        b.victims_contacted,
        Fen::new(b.loss_avoided_fen)
    );
    let _ = writeln!(
        out,
        "  {:<38} {} numbers and sites replaced, {} victims reached through them",
        "gangs adapting", b.lines_replaced, b.reached_through_replacement
    );
    let last = b.pool_series.last().map_or(0, |p| p.size);
    let _ = writeln!(out, "  {:<38} {} entered, {} in the pool at the end", "high-risk pool", b.pool_entered, last);
    let _ = writeln!(
        out,
        "  {:<38} {} found ({} of the plan's {}); {} of their {} cards restricted",
        "card sellers",
        b.card_sellers_found,
        b.card_sellers_found_true,
        b.card_sellers_truth,
        b.seller_cards_restricted,
        b.seller_cards
    );
}

fn money_rows(out: &mut String, t: &Tally) {
    let _ = writeln!(
        out,
        "  {:<38} {} ({} of the loss; the system claims {})",
        "frozen",
        Fen::new(t.frozen_fen),
        percent(t.frozen_share()),
        Fen::new(t.claimed_fen)
    );
    let _ = writeln!(out, "  {:<38} {} ({})", "cashed out", Fen::new(t.cashed_out_fen), percent(t.cashed_out_share()));
    let _ = writeln!(
        out,
        "  {:<38} {} ({} of what is frozen)",
        "claimed beyond the case's money held",
        Fen::new(t.over_claim_fen),
        percent(ratio(t.over_claim_fen, t.frozen_fen))
    );
    let _ = writeln!(
        out,
        "  {:<38} {} (by attribution alone, frozen money included: {})",
        "found, then released by a lapse",
        Fen::new(t.released_by_lapse_fen),
        Fen::new(t.released_pro_rata_fen)
    );
    let _ = writeln!(out, "  {:<38} {}", "left in accounts not frozen", Fen::new(t.loose_fen));
    let _ = writeln!(out, "  {:<38} {}", "not paid by victims (blocked or later)", Fen::new(t.unpaid_fen));
}

/// `part / whole`, 0 when there is no whole.
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// The chart: time-to-freeze distribution per account, and money over simulated time.
pub fn chart(report: &DrillReport) -> Result<String, ChartError> {
    let values = &report.ttf_account_values_ms;
    let mut cdf = Vec::new();
    if !values.is_empty() {
        let step = values.len().div_ceil(CDF_POINTS).max(1);
        for (i, value) in values.iter().enumerate().step_by(step) {
            cdf.push((*value as f64 / 1_000.0, (i + 1) as f64 / values.len() as f64 * 100.0));
        }
        if let Some(last) = values.last() {
            cdf.push((*last as f64 / 1_000.0, 100.0));
        }
    } else {
        cdf.push((0.0, 0.0));
    }
    let distribution = Panel {
        title: format!("Time-to-freeze per account ({} accounts), simulated", values.len()),
        x_label: "time from report to stop-payment, simulated s".into(),
        y_label: "accounts frozen within, %".into(),
        y_scale: Scale::Linear,
        series: vec![Series { name: "accounts".into(), color: 0, stroke: Stroke::Solid, points: cdf }],
    };
    let origin = report.series.first().map_or(0, |p| p.at_ms);
    let hours = |at: TimeMs| at.saturating_sub(origin) as f64 / 3_600_000.0;
    let line = |name: &str, color, pick: fn(&super::score::MoneyPoint) -> u64| Series {
        name: name.into(),
        color,
        stroke: Stroke::Solid,
        points: report.series.iter().map(|p| (hours(p.at_ms), pick(p) as f64 / 100.0)).collect(),
    };
    let money = Panel {
        title: "Money over simulated time".into(),
        x_label: "hours since the scenario's start".into(),
        y_label: "yuan".into(),
        y_scale: Scale::Linear,
        series: vec![
            line("paid by victims", 7, |p| p.paid_fen),
            line("reported lost", 4, |p| p.reported_fen),
            line("frozen (claimed)", 2, |p| p.frozen_fen),
            line("cashed out", 1, |p| p.cashed_out_fen),
        ],
    };
    let mut panels = vec![distribution, money];
    if report.blocking.pool_entered > 0 {
        let pool = &report.blocking.pool_series;
        panels.push(Panel {
            title: format!("High-risk pool ({} entered)", report.blocking.pool_entered),
            x_label: "hours since the scenario's start".into(),
            y_label: "accounts and card sellers in the pool".into(),
            y_scale: Scale::Linear,
            series: vec![Series {
                name: "in the pool".into(),
                color: 3,
                stroke: Stroke::Solid,
                points: pool.iter().map(|p| (hours(p.at_ms), p.size as f64)).collect(),
            }],
        });
    }
    if report.dissuasion.tasks_opened > 0 {
        let d = &report.dissuasion;
        let series = BACKLOG_QUEUES
            .iter()
            .enumerate()
            .map(|(q, name)| Series {
                name: (*name).into(),
                color: q,
                stroke: Stroke::Solid,
                points: d.backlog_series.iter().map(|p| (hours(p.at_ms), p.open[q] as f64)).collect(),
            })
            .collect();
        panels.push(Panel {
            title: format!(
                "Dissuasion: open tasks per queue ({} opened, {} deadline misses)",
                d.tasks_opened, d.deadline_misses
            ),
            x_label: "hours since the scenario's start".into(),
            y_label: "open tasks, every city".into(),
            y_scale: Scale::Linear,
            series,
        });
    }
    chart::render(&panels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_times_print_in_china_time() {
        // 2025-03-01T01:00:00Z is 09:00 in Beijing.
        assert_eq!(sim_time(1_740_790_800_000), "2025-03-01 09:00");
        assert_eq!(sim_time(0), "1970-01-01 08:00");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(42_000), "42.0 s");
        assert_eq!(duration(750_000), "12.5 min");
        assert_eq!(duration(3 * 3_600_000), "3.0 h");
    }
}
