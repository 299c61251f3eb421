//! `afc case report` and `afc case show`: file a report, print a case's timeline and what
//! blocking did with its contacts and accounts.

use std::path::Path;

use anyhow::Context;
use domain::{CaseId, City};
use protocol::Reply;
use protocol::intake::CaseTimeline;
use protocol::subjects;

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
            println!("{}{note}", accepted.case_id);
            Ok(())
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

/// Prints a case's timeline (as a table, or as JSON).
pub async fn show(
    nats: &str,
    credentials: Option<&Path>,
    city: &City,
    case_id: &CaseId,
    json: bool,
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
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", render(&timeline));
                match &blocking {
                    Ok(blocking) if blocking.entries.is_empty() => println!("blocking: nothing blocked"),
                    Ok(blocking) => print!("blocking:\n{}", super::block::render_case(blocking)),
                    Err(reason) => println!("blocking: not available ({reason})"),
                }
                match &returns {
                    Ok(returns) => print!("{}", super::restitution::render_case(case_id, returns)),
                    Err(reason) => println!("returns: not available ({reason})"),
                }
            }
            Ok(())
        }
        Reply::Error(error) => {
            eprintln!("{}", error.message);
            std::process::exit(EXIT_REFUSED);
        }
    }
}

/// A case's timeline as text: a header, one line per entry, the totals.
pub fn render(timeline: &CaseTimeline) -> String {
    use std::fmt::Write as _;
    let s = &timeline.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "case {} ({}, {}): {} reported lost",
        timeline.case_id, timeline.city, timeline.fraud_type, timeline.reported_loss_fen
    );
    for entry in &timeline.entries {
        let account = entry.account.as_ref().map_or(String::new(), |a| a.to_string());
        let kind = format!("{:?}", entry.kind);
        let _ = writeln!(out, "  {:>13}  {kind:<15} {account:<28} {}", entry.at_ms, entry.detail);
    }
    let _ = writeln!(
        out,
        "stopped {} accounts, frozen {}, held {}, frozen {}, cashed out {}, time-to-freeze {}",
        s.accounts_stopped,
        s.accounts_frozen,
        s.held_fen,
        s.frozen_fen,
        s.cashed_out_fen,
        s.time_to_freeze_ms.map_or("-".into(), |ms| format!("{ms} ms")),
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
