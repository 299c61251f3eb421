//! `afc case list` and `afc case search`: the city's cases newest first, a page at a time and
//! filtered as the console filters them (intake's `list`); and the cases a case id, an
//! account, a phone number or a domain finds (intake's `search`). Times on the local clock;
//! `--json` prints each case or match as a JSON line.

use std::path::PathBuf;

use domain::calendar::{UtcOffset, span};
use domain::{CaseId, City, FraudType, Service};
use protocol::Reply;
use protocol::intake::{
    self as itk, CaseCursor, CaseList, CaseListItem, CaseStatus, IntakeError, ListRequest, SearchRequest, SearchResult,
};
use protocol::subjects;

use super::case::EXIT_REFUSED;
use super::out;
use crate::client;

/// Where the command connects, as for `afc case show`.
#[derive(clap::Args, Debug, Clone)]
pub struct Desk {
    #[arg(long, value_parser = City::parse)]
    pub city: City,
    #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// As for `afc case report`: connect as `<city>-staff`.
    #[arg(long, env = "AFC_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
    /// The clock to show times on: UTC, Asia/Shanghai or a fixed offset such as +08:00.
    #[arg(long, env = "AFC_TZ", default_value = "Asia/Shanghai", value_parser = UtcOffset::parse)]
    pub tz: UtcOffset,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub desk: Desk,
    #[arg(long, value_parser = FraudType::parse)]
    pub fraud_type: Option<FraudType>,
    /// tracing, traced, holding, frozen, at_risk or nothing_held.
    #[arg(long, value_parser = parse_status)]
    pub status: Option<CaseStatus>,
    /// Reported at or after this local date (`2025-03-14`) or time (`2025-03-14 09:00`).
    #[arg(long)]
    pub since: Option<String>,
    /// Where a page starts: what the previous page's `more:` line printed.
    #[arg(long, value_parser = parse_cursor)]
    pub after: Option<CaseCursor>,
    /// Cases per page (1 to 100).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Every page.
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub desk: Desk,
    /// A case id, an account (`icbc:6222…` or the digits), a phone number or a domain / URL.
    pub query: String,
}

fn parse_status(text: &str) -> Result<CaseStatus, String> {
    CaseStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| "accepted: tracing, traced, holding, frozen, at_risk, nothing_held".to_owned())
}

/// A page's cursor as `--after` takes it (and a console link carries it): `<ms>/<case id>`.
pub fn cursor_text(cursor: &CaseCursor) -> String {
    format!("{}/{}", cursor.reported_at_ms, cursor.case_id)
}

/// Reads what [`cursor_text`] printed.
pub fn parse_cursor(text: &str) -> Result<CaseCursor, String> {
    let expected = || format!("{text:?} is not a page's start: give what `more: --after` printed (<ms>/<case id>)");
    let (ms, case) = text.split_once('/').ok_or_else(expected)?;
    Ok(CaseCursor {
        reported_at_ms: ms.parse().map_err(|_| expected())?,
        case_id: CaseId::parse(case).map_err(|_| expected())?,
    })
}

async fn ask<Q: serde::Serialize, A: serde::de::DeserializeOwned>(
    client: &async_nats::Client,
    city: &City,
    verb: &str,
    request: &Q,
) -> anyhow::Result<A> {
    let answer = client::ask(client, city, Service::Intake, verb, serde_json::to_vec(request)?).await?;
    match serde_json::from_slice::<Reply<A, IntakeError>>(&answer)? {
        Reply::Ok(ok) => Ok(ok),
        Reply::Error(error) => {
            eprintln!("refused: {}", error.message);
            for problem in &error.problems {
                eprintln!("  {problem}");
            }
            std::process::exit(EXIT_REFUSED);
        }
    }
}

async fn connect(desk: &Desk) -> anyhow::Result<async_nats::Client> {
    let who = format!("{}-staff", desk.city);
    super::connect(&desk.nats, desk.credentials.as_deref(), &who, subjects::city_inbox(&desk.city, "staff")).await
}

/// One case as a line: id, local report time, fraud type, loss, held, frozen accounts, time to
/// freeze.
pub fn render_case(case: &CaseListItem, tz: UtcOffset) -> String {
    let s = &case.summary;
    format!(
        "{}  {}  {:<24} loss {:>14}  held {:>14}  frozen {:>3}  ttf {}{}",
        case.case_id,
        tz.local(case.reported_at_ms).to_minute(),
        case.fraud_type.as_str(),
        case.reported_loss_fen.grouped().to_string(),
        s.held_fen.grouped().to_string(),
        s.accounts_frozen,
        s.time_to_freeze_ms.map_or("-".to_owned(), span),
        if s.freeze_at_risk_alerts > 0 { "  AT RISK" } else { "" },
    )
}

/// Prints the cases, newest first: a page, or every page with `--all`.
pub async fn list(args: ListArgs) -> anyhow::Result<()> {
    let desk = &args.desk;
    let since_ms = match args.since.as_deref().map(|s| desk.tz.moment(s)).transpose() {
        Ok(since) => since,
        Err(expected) => anyhow::bail!("--since: {expected}"),
    };
    let client = connect(desk).await?;
    let mut request = ListRequest {
        fraud_type: args.fraud_type,
        since_ms,
        until_ms: None,
        status: args.status,
        after: args.after.clone(),
        limit: args.limit,
    };
    let mut shown = 0usize;
    loop {
        let page: CaseList = ask(&client, &desk.city, itk::VERB_LIST, &request).await?;
        shown += page.cases.len();
        let mut lines = Vec::with_capacity(page.cases.len() + 1);
        for case in &page.cases {
            lines.push(if desk.json { serde_json::to_string(case)? } else { render_case(case, desk.tz) });
        }
        match (&page.next, args.all, desk.json) {
            (Some(next), true, _) => request.after = Some(next.clone()),
            (Some(next), false, false) => lines.push(format!("more: --after {} (or --all)", cursor_text(next))),
            (None, _, false) if shown == 0 => lines.push("no case".to_owned()),
            _ => {}
        }
        out::print(|out| lines.iter().try_for_each(|line| writeln!(out, "{line}")))?;
        if page.next.is_none() || !args.all {
            return Ok(());
        }
    }
}

/// Prints what `query` finds: how it was read, then one line per case and what matched.
pub async fn search(args: SearchArgs) -> anyhow::Result<()> {
    let desk = &args.desk;
    let client = connect(desk).await?;
    let found: SearchResult =
        ask(&client, &desk.city, itk::VERB_SEARCH, &SearchRequest { query: args.query.clone(), kind: None }).await?;
    let mut lines = Vec::new();
    if desk.json {
        for m in &found.matches {
            lines.push(serde_json::to_string(m)?);
        }
    } else {
        lines.push(format!("read as: {}", found.read_as.join(", ")));
        for m in &found.matches {
            let when = desk.tz.local(m.reported_at_ms).to_minute();
            lines.push(format!("{}  {when}  {:?}  {}", m.case_id, m.kind, m.matched));
        }
        if found.matches.is_empty() {
            lines.push("no case".to_owned());
        }
        if found.truncated {
            lines.push("more matched: narrow the query".to_owned());
        }
    }
    out::print(|out| lines.iter().try_for_each(|line| writeln!(out, "{line}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_cursor_reads_back_as_it_was_printed_and_anything_else_is_refused() {
        let cursor = CaseCursor {
            reported_at_ms: 1_741_914_000_000,
            case_id: CaseId::parse("hangzhou-00000000000000aa").unwrap(),
        };
        assert_eq!(parse_cursor(&cursor_text(&cursor)).unwrap(), cursor);
        assert!(parse_cursor("1' OR 1=1 --/x").unwrap_err().contains("not a page's start"));
        assert!(parse_status("frozen").is_ok() && parse_status("<b>").is_err());
    }
}
