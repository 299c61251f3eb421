//! `afc case report` and `afc case show`: file a report, print a case — its money trail as
//! a tree ([`trail`]), its events in local time with their offsets from the report, what
//! blocking did with its contacts and accounts, its returns.

use std::path::Path;

use anyhow::Context;
use domain::calendar::{UtcOffset, since, span};
use domain::{CaseId, City, TimeMs};
use protocol::Reply;
use protocol::intake::{CaseTimeline, TimelineEntry, TimelineKind};
use protocol::subjects;

use super::{out, trail};
use crate::client;

/// Exit code of a command intake refused.
pub const EXIT_REFUSED: i32 = 2;

/// Connects as the city's staff (`<city>-staff`).
async fn connect(nats: &str, credentials: Option<&Path>, city: &City) -> anyhow::Result<async_nats::Client> {
    super::connect(nats, credentials, &format!("{city}-staff"), subjects::city_inbox(city, "staff")).await
}

/// Files the report in `file`; prints its case id, or the problems and exits with
/// [`EXIT_REFUSED`].
pub async fn report(nats: &str, credentials: Option<&Path>, city: &City, file: &Path) -> anyhow::Result<()> {
    let body = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let client = connect(nats, credentials, city).await?;
    match client::report(&client, city, body).await? {
        Reply::Ok(accepted) => {
            let note = if accepted.duplicate { " (already reported; nothing new recorded)" } else { "" };
            out::line(format_args!("{}{note}", accepted.case_id))
        }
        Reply::Error(error) => {
            eprintln!("report refused: {}", error.message);
            for problem in &error.problems {
                eprintln!("  {problem}");
            }
            std::process::exit(EXIT_REFUSED);
        }
    }
}

/// How `afc case show` prints a case for a reader (`--json` prints intake's answer as it is).
#[derive(Debug, Clone, Copy, Default)]
pub struct View {
    /// The clock times are shown on (`--tz`; China's by default).
    pub tz: UtcOffset,
    /// Every entry of the timeline (`--timeline`), not only those the trail does not show.
    pub timeline: bool,
    /// Alarming states in red: only on a terminal, without `NO_COLOR` ([`out::colours`]).
    pub colour: bool,
}

/// Prints a case: its trail as a tree, its events in local time, its totals, blocks and
/// returns (or, with `json`, intake's timeline with blocking's and restitution's parts).
pub async fn show(
    nats: &str,
    credentials: Option<&Path>,
    city: &City,
    case_id: &CaseId,
    json: bool,
    view: View,
) -> anyhow::Result<()> {
    let client = connect(nats, credentials, city).await?;
    match client::show(&client, city, case_id).await? {
        Reply::Ok(timeline) => {
            // Blocking's part of the case is asked of blocking itself (its `case` command):
            // the timeline stays intake's, and a case shows without blocking running.
            let blocking = super::block::of_case(&client, city, case_id).await;
            let returns = super::restitution::of_case(&client, city, case_id).await;
            if json {
                let mut value = serde_json::to_value(&timeline)?;
                value["blocking"] = match &blocking {
                    Ok(blocking) => serde_json::to_value(blocking)?,
                    Err(reason) => serde_json::json!({"unavailable": reason}),
                };
                value["returns"] = match &returns {
                    Ok(returns) => serde_json::to_value(returns)?,
                    Err(reason) => serde_json::json!({"unavailable": reason}),
                };
                return out::json(&value);
            }
            let mut text = render(&timeline, view);
            match &blocking {
                Ok(blocking) if blocking.entries.is_empty() => text.push_str("blocking: nothing blocked\n"),
                Ok(blocking) => {
                    text.push_str("blocking:\n");
                    text.push_str(&super::block::render_case(blocking, view.tz, timeline.reported_at_ms));
                }
                Err(reason) => text.push_str(&format!("blocking: not available ({reason})\n")),
            }
            match &returns {
                Ok(returns) => text.push_str(&super::restitution::render_case(case_id, returns)),
                Err(reason) => text.push_str(&format!("returns: not available ({reason})\n")),
            }
            out::text(&text)
        }
        Reply::Error(error) => {
            eprintln!("{}", error.message);
            std::process::exit(EXIT_REFUSED);
        }
    }
}

/// A case as text: a header with the time of the report; the trail as a tree; the events
/// the tree does not show (every entry with `view.timeline`, or when there is no trail), one
/// a line with its local time and its offset from the report; the totals.
pub fn render(timeline: &CaseTimeline, view: View) -> String {
    use std::fmt::Write as _;
    let s = &timeline.summary;
    let reported = timeline.reported_at_ms;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "case {} ({}, {}): {} reported lost",
        timeline.case_id,
        timeline.city,
        timeline.fraud_type,
        timeline.reported_loss_fen.grouped()
    );
    let _ = writeln!(out, "reported {} ({}); offsets are from the report", view.tz.local(reported), view.tz);
    let nodes = trail::build(&timeline.entries);
    if nodes.is_empty() {
        out.push_str("\ntrail: nothing traced yet\n");
    } else {
        let _ = writeln!(out, "\ntrail: money traced in, what holds it now, since when");
        out.push_str(&trail::render("victim", &nodes, reported, view.colour));
    }
    let every = view.timeline || nodes.is_empty();
    let _ = writeln!(out, "\n{}", if every { "timeline:" } else { "events:" });
    for entry in timeline.entries.iter().filter(|e| every || !in_the_trail(e)) {
        let account = entry.account.as_ref().map_or(String::new(), |a| a.to_string());
        let kind = format!("{:?}", entry.kind);
        let _ = writeln!(
            out,
            "  {}  {:<7} {kind:<15} {account:<28} {}",
            view.tz.local(entry.at_ms),
            since(reported, entry.at_ms),
            localize(&entry.detail, view.tz)
        );
    }
    let _ = writeln!(
        out,
        "\nstopped {} accounts, frozen {}, held {}, frozen {}, cashed out {}, time-to-freeze {}",
        s.accounts_stopped,
        s.accounts_frozen,
        s.held_fen.grouped(),
        s.frozen_fen.grouped(),
        s.cashed_out_fen.grouped(),
        s.time_to_freeze_ms.map_or("-".into(), span),
    );
    if s.freeze_at_risk_alerts > 0 {
        let _ = writeln!(
            out,
            "AT RISK: {} claim(s) not frozen with their stop-payment about to lapse (see the FreezeAtRisk lines)",
            s.freeze_at_risk_alerts
        );
    }
    out
}

/// Whether the trail shows what `entry` says (its line is left out of the events): the
/// steps of a hop and the freezes, queues and renewals of the accounts it stopped.
fn in_the_trail(entry: &TimelineEntry) -> bool {
    match entry.kind {
        TimelineKind::Traced
        | TimelineKind::OrderResolved
        | TimelineKind::Stopped
        | TimelineKind::CashedOut
        | TimelineKind::Frozen
        | TimelineKind::FreezeQueued
        | TimelineKind::StopRenewed
        | TimelineKind::Retrying => true,
        // A hop that failed is in the trail; a freeze that failed is news.
        TimelineKind::HopFailed => entry.hop.is_some(),
        TimelineKind::Reported
        | TimelineKind::TraceCompleted
        | TimelineKind::FreezeRetrying
        | TimelineKind::FreezeAtRisk
        | TimelineKind::ClaimRevised
        | TimelineKind::CrossCityClaims => false,
    }
}

/// `detail` with each time it states in ms since the epoch (a number of 12 to 14 digits
/// after `until`, `at` or `stop`, as intake's details write them: `frozen until
/// 1795978317866`) shown as a local time instead. Other numbers are left as they are.
pub fn localize(detail: &str, tz: UtcOffset) -> String {
    let mut previous = "";
    let words: Vec<String> = detail
        .split(' ')
        .map(|word| {
            let digits = word.trim_end_matches([',', ';', ')', '.']);
            let time = matches!(previous, "until" | "at" | "stop")
                && (12..=14).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit());
            previous = word;
            match digits.parse::<TimeMs>() {
                Ok(ms) if time => format!("{}{}", tz.local(ms), &word[digits.len()..]),
                _ => word.to_owned(),
            }
        })
        .collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use domain::{AccountRef, Fen, FraudType};
    use protocol::intake::CaseSummary;

    use super::*;

    /// 2025-03-14 09:00:12 in China.
    const REPORTED: TimeMs = 1_741_914_012_000;

    fn entry(after_ms: u64, kind: TimelineKind, hop: Option<u32>, yuan: Option<u32>, detail: &str) -> TimelineEntry {
        TimelineEntry {
            at_ms: REPORTED + after_ms,
            kind,
            account: hop.map(|_| AccountRef::parse("icbc:6222020200001234").unwrap()),
            amount_fen: yuan.map(Fen::yuan),
            depth: None,
            hop,
            parent: None,
            order: None,
            detail: detail.to_owned(),
        }
    }

    fn timeline() -> CaseTimeline {
        let city = City::parse("hangzhou").unwrap();
        CaseTimeline {
            case_id: CaseId::derive(&city, 7),
            city,
            fraud_type: FraudType::ALL[0],
            reported_at_ms: REPORTED,
            reported_loss_fen: Fen::new(1_234_567),
            entries: vec![
                entry(0, TimelineKind::Reported, None, Some(12_345), "reported: ¥12345.67 lost in 1 transfer(s)"),
                entry(1_000, TimelineKind::Traced, Some(1), Some(12_000), "hop 1: traced"),
                entry(133_000, TimelineKind::Stopped, Some(1), Some(12_000), "hop 1: stop-payment 1"),
                TimelineEntry {
                    account: AccountRef::parse("icbc:6222020200001234").ok(),
                    ..entry(
                        3_600_000,
                        TimelineKind::FreezeAtRisk,
                        None,
                        Some(12_000),
                        "AT RISK: ¥12000.00 not frozen, the stop-payment lapses at 1742086812000; no answer",
                    )
                },
            ],
            summary: CaseSummary {
                accounts_stopped: 1,
                held_fen: Fen::yuan(12_000),
                time_to_freeze_ms: Some(133_000),
                freeze_at_risk_alerts: 1,
                ..CaseSummary::default()
            },
        }
    }

    #[test]
    fn a_case_shows_its_trail_and_the_events_the_trail_does_not_in_local_time() {
        let timeline = timeline();
        let text = render(&timeline, View::default());
        let expected = format!(
            "\
case {id} (hangzhou, {fraud}): ¥12,345.67 reported lost
reported 2025-03-14 09:00:12 (UTC+08:00); offsets are from the report

trail: money traced in, what holds it now, since when
victim
└─ icbc:6222020200001234  ¥12,000.00  +2m13s  AT RISK ¥12,000.00, stop lapses soon

events:
  2025-03-14 09:00:12  +0s     Reported                                     reported: ¥12345.67 lost in 1 transfer(s)
  2025-03-14 10:00:12  +1h00m  FreezeAtRisk    icbc:6222020200001234        AT RISK: ¥12000.00 not frozen, the stop-payment lapses at 2025-03-16 09:00:12; no answer

stopped 1 accounts, frozen 0, held ¥12,000.00, frozen ¥0.00, cashed out ¥0.00, time-to-freeze 2m13s
AT RISK: 1 claim(s) not frozen with their stop-payment about to lapse (see the FreezeAtRisk lines)
",
            id = timeline.case_id,
            fraud = timeline.fraud_type
        );
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn with_timeline_every_entry_shows_and_times_follow_the_chosen_clock() {
        let view = View { tz: UtcOffset::UTC, timeline: true, colour: false };
        let text = render(&timeline(), view);
        assert!(text.contains("reported 2025-03-14 01:00:12 (UTC)"), "{text}");
        assert!(text.contains("\ntimeline:\n"), "{text}");
        assert!(text.contains("  2025-03-14 01:02:25  +2m13s  Stopped "), "{text}");
        assert_eq!(text.lines().filter(|l| l.starts_with("  2025-")).count(), 4, "{text}");
        assert!(!text.contains("1742086812000"), "no time in ms: {text}");
    }

    #[test]
    fn a_case_without_a_trail_yet_shows_its_timeline() {
        let mut timeline = timeline();
        timeline.entries.truncate(1);
        let text = render(&timeline, View::default());
        assert!(text.contains("\ntrail: nothing traced yet\n\ntimeline:\n  2025-03-14 09:00:12  +0s "), "{text}");
    }

    #[test]
    fn times_in_ms_in_a_detail_show_as_local_times_and_other_numbers_stay() {
        let tz = UtcOffset::CHINA;
        assert_eq!(localize("frozen until 1742086812000", tz), "frozen until 2025-03-16 09:00:12");
        assert_eq!(
            localize("attempt 3 failed, asking again at 1741914012000; later", tz),
            "attempt 3 failed, asking again at 2025-03-14 09:00:12; later"
        );
        assert_eq!(
            localize("hangzhou case hangzhou-01, first stop 1741914012000; ningbo", tz),
            "hangzhou case hangzhou-01, first stop 2025-03-14 09:00:12; ningbo"
        );
        // An account number, an amount, a short number after `at`: unchanged.
        for kept in ["paid into icbc:6222020200001234", "at 12345", "held ¥1741914012.00", "seat 1741914012000", ""] {
            assert_eq!(localize(kept, tz), kept);
        }
    }
}
