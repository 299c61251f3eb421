//! `afc block check|list|lift`: what a carrier liaison asks blocking every day — is this
//! number or site blocked and why, what was blocked lately, and lift a block on appeal. Staff
//! connect as `<city>-staff`, as for `afc case`.

use std::fmt::Write as _;
use std::path::Path;

use domain::calendar::{UtcOffset, since};
use domain::{City, IdentifierKind, TimeMs};
use protocol::Reply;
use protocol::blocking::{
    BlockSummary, BlockingError, CaseBlocking, CaseRequest, CaseResponse, CheckRequest, CheckResponse, LiftRequest,
    LiftResponse, ListCursor, ListRequest, ListResponse, VERB_CASE, VERB_CHECK, VERB_LIFT, VERB_LIST,
};
use protocol::subjects;

use super::case::EXIT_REFUSED;
use super::out;
use crate::client;

/// Connects as the city's staff (`<city>-staff`).
async fn connect(nats: &str, credentials: Option<&Path>, city: &City) -> anyhow::Result<async_nats::Client> {
    super::connect(nats, credentials, &format!("{city}-staff"), subjects::city_inbox(city, "staff")).await
}

fn refused(error: &BlockingError) -> ! {
    eprintln!("refused ({:?}): {}", error.kind, error.message);
    for problem in &error.problems {
        eprintln!("  {problem}");
    }
    std::process::exit(EXIT_REFUSED);
}

/// The kind a bare value most likely is, when `--kind` is not given: a URL or host when it
/// has a scheme, a slash or a dot followed by letters; a phone number otherwise.
pub fn guess_kind(value: &str) -> &'static str {
    let value = value.trim();
    if value.contains("://") || value.contains('/') {
        "url"
    } else if value.chars().any(|c| c.is_alphabetic()) && value.contains('.') {
        "domain"
    } else if value.contains(':') && value.chars().any(|c| c.is_alphabetic()) {
        "social"
    } else {
        "phone"
    }
}

/// Prints whether `value` is blocked, times on `tz`'s clock.
pub async fn check(
    nats: &str,
    credentials: Option<&Path>,
    city: &City,
    value: &str,
    kind: Option<&str>,
    tz: UtcOffset,
    json: bool,
) -> anyhow::Result<()> {
    let client = connect(nats, credentials, city).await?;
    let kind = kind.unwrap_or_else(|| guess_kind(value)).to_owned();
    let request = CheckRequest { kind, value: value.to_owned() };
    let answer: CheckResponse = client::blocking(&client, city, VERB_CHECK, &request).await?;
    match answer {
        Reply::Ok(checked) if json => out::json(&checked)?,
        Reply::Ok(checked) => {
            let mut line = format!("{}: ", checked.identifier);
            match (checked.blocked, checked.since_ms, checked.expires_at_ms) {
                (true, Some(since), Some(expires)) => {
                    let _ = write!(line, "BLOCKED since {}, until {}", tz.local(since), tz.local(expires).to_minute());
                }
                _ => line.push_str("not blocked"),
            }
            if checked.case_count > 0 {
                let types: Vec<String> = checked.fraud_types.iter().map(|t| t.to_string()).collect();
                let _ = write!(line, "; named in {} case(s) ({})", checked.case_count, types.join(", "));
            }
            if !checked.province_cities.is_empty() {
                let cities: Vec<&str> = checked.province_cities.iter().map(|c| c.as_str()).collect();
                let _ = write!(line, "; blocked for the province (reported in {})", cities.join(", "));
            }
            if checked.in_pool {
                line.push_str("; a card seller's card in the high-risk pool (local voice only)");
            }
            out::line(line)?;
        }
        Reply::Error(error) => refused(&error),
    }
    Ok(())
}

/// One block as a line, times on `tz`'s clock.
pub fn render_block(block: &BlockSummary, tz: UtcOffset) -> String {
    let carriers: Vec<String> =
        block.carriers.iter().map(|c| format!("{}={}", c.carrier, format!("{:?}", c.status).to_lowercase())).collect();
    let mut looks = block.looks_like.as_ref().map_or(String::new(), |l| format!(" looks like {l}"));
    if !block.province_cities.is_empty() {
        let cities: Vec<&str> = block.province_cities.iter().map(|c| c.as_str()).collect();
        let _ = write!(looks, " province ({})", cities.join(", "));
    }
    format!(
        "{}  {:<40} until {}  cases {:>3}  [{}]{looks}",
        tz.local(block.blocked_at_ms),
        block.identifier,
        tz.local(block.expires_at_ms).to_minute(),
        block.case_count,
        carriers.join(" ")
    )
}

/// What `afc block list` asks: blocks started at or after `since_ms`, from `after` on, at
/// most `limit` a page; every page with `all`.
#[derive(Debug, Clone)]
pub struct ListArgs {
    pub since_ms: TimeMs,
    pub after: Option<ListCursor>,
    pub limit: Option<u32>,
    /// Only blocks of identifiers of this kind.
    pub kind: Option<IdentifierKind>,
    pub all: bool,
    pub tz: UtcOffset,
    pub json: bool,
}

/// Prints the active blocks started at or after `since_ms`, oldest first: one page, or every
/// page with `all`; then where the next page starts. With `json`, each block as a JSON line.
pub async fn list(nats: &str, credentials: Option<&Path>, city: &City, args: ListArgs) -> anyhow::Result<()> {
    let client = connect(nats, credentials, city).await?;
    let mut request = ListRequest { since_ms: args.since_ms, after: args.after, limit: args.limit, kind: args.kind };
    let mut shown = 0usize;
    loop {
        let answer: ListResponse = client::blocking(&client, city, VERB_LIST, &request).await?;
        let page = match answer {
            Reply::Ok(page) => page,
            Reply::Error(error) => refused(&error),
        };
        shown += page.blocks.len();
        let mut lines = Vec::with_capacity(page.blocks.len() + 1);
        for block in &page.blocks {
            lines.push(if args.json { serde_json::to_string(block)? } else { render_block(block, args.tz) });
        }
        match (&page.next, args.all, args.json) {
            (Some(next), true, _) => request.after = Some(next.clone()),
            (Some(next), false, false) => lines.push(format!("more: --after {} (or --all)", cursor_text(next))),
            (None, _, false) if shown == 0 => lines.push("no active blocks".to_owned()),
            _ => {}
        }
        out::print(|out| lines.iter().try_for_each(|line| writeln!(out, "{line}")))?;
        if page.next.is_none() || !args.all {
            return Ok(());
        }
    }
}

/// A page's cursor as `--after` takes it: `<blocked at, ms>/<identifier>`.
pub fn cursor_text(cursor: &ListCursor) -> String {
    format!("{}/{}", cursor.blocked_at_ms, cursor.identifier)
}

/// Reads `--after`: what [`cursor_text`] printed.
pub fn parse_cursor(text: &str) -> Result<ListCursor, String> {
    let expected = || format!("{text:?} is not a page's start: give what `more: --after` printed (<ms>/<identifier>)");
    let (ms, identifier) = text.split_once('/').ok_or_else(expected)?;
    let blocked_at_ms = ms.parse().map_err(|_| expected())?;
    if identifier.is_empty() {
        return Err(expected());
    }
    Ok(ListCursor { blocked_at_ms, identifier: identifier.to_owned() })
}

/// Reads `--kind` of `afc block list`: a kind of identifier blocking keeps.
pub fn parse_kind(text: &str) -> Result<IdentifierKind, String> {
    IdentifierKind::parse(text).ok_or_else(|| {
        let kinds: Vec<&str> = IdentifierKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("{text:?} is not a kind of blocked identifier: give one of {}", kinds.join(", "))
    })
}

/// Reads `--since` on `tz`'s clock: a date or a date and time (`2025-03-14`,
/// `2025-03-14 09:00`), or ms since the epoch.
pub fn parse_since(text: &str, tz: UtcOffset) -> Result<TimeMs, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| format!("{text:?} is too large for ms since the epoch"));
    }
    tz.moment(text)
}

/// Lifts the block of `value` with staff's reason and operator id.
pub async fn lift(
    nats: &str,
    credentials: Option<&Path>,
    city: &City,
    value: &str,
    kind: Option<&str>,
    reason: &str,
    operator: &str,
) -> anyhow::Result<()> {
    let client = connect(nats, credentials, city).await?;
    let kind = kind.unwrap_or_else(|| guess_kind(value)).to_owned();
    let request =
        LiftRequest { kind, value: value.to_owned(), reason: reason.to_owned(), operator: operator.to_owned() };
    let answer: LiftResponse = client::blocking(&client, city, VERB_LIFT, &request).await?;
    match answer {
        Reply::Ok(lifted) => {
            let carriers: Vec<&str> = lifted.carriers.iter().map(|c| c.as_str()).collect();
            out::line(format_args!(
                "{} lifted (block {}); asked [{}] to lift it",
                lifted.identifier,
                lifted.generation,
                carriers.join(", ")
            ))
        }
        Reply::Error(error) => refused(&error),
    }
}

/// Blocking's part of a case, or why it could not be had (blocking not running, or not
/// answering): `afc case show` prints the timeline either way.
pub async fn of_case(
    client: &async_nats::Client,
    city: &City,
    case_id: &domain::CaseId,
) -> Result<CaseBlocking, String> {
    let request = CaseRequest { case_id: case_id.clone() };
    match client::blocking::<_, CaseResponse>(client, city, VERB_CASE, &request).await {
        Ok(Reply::Ok(blocking)) => Ok(blocking),
        Ok(Reply::Error(error)) => Err(error.message),
        Err(error) => Err(format!("{error:#}")),
    }
}

/// A case's blocking entries as text: each at its time on `tz`'s clock and its offset from
/// the report (`reported_at_ms`).
pub fn render_case(blocking: &CaseBlocking, tz: UtcOffset, reported_at_ms: TimeMs) -> String {
    let mut out = String::new();
    for entry in &blocking.entries {
        let kind = format!("{:?}", entry.kind);
        let _ = writeln!(
            out,
            "  {}  {:<7} {kind:<15} {:<40} {}",
            tz.local(entry.at_ms),
            since(reported_at_ms, entry.at_ms),
            entry.subject,
            super::case::localize(&entry.detail, tz)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_without_its_kind_is_read_as_what_it_looks_like() {
        for (value, kind) in [
            ("+86 170-0000-0000", "phone"),
            ("170 0000 0000", "phone"),
            ("https://m.fake-bank.com.cn/login", "url"),
            ("fake-bank.com.cn", "domain"),
            ("wechat:wxid_abc123", "social"),
        ] {
            assert_eq!(guess_kind(value), kind, "{value}");
        }
    }

    #[test]
    fn a_province_block_names_the_cities_that_reported_it() {
        let mut block = BlockSummary {
            identifier: "phone:+8617000000000".into(),
            generation: 1,
            active: true,
            blocked_at_ms: 1,
            expires_at_ms: 2,
            case_count: 0,
            fraud_types: Vec::new(),
            carriers: Vec::new(),
            looks_like: None,
            province_cities: Vec::new(),
        };
        let tz = UtcOffset::CHINA;
        assert!(!render_block(&block, tz).contains("province"));
        block.province_cities = ["hangzhou", "wenzhou"].map(|c| domain::City::parse(c).unwrap()).to_vec();
        assert!(render_block(&block, tz).ends_with("province (hangzhou, wenzhou)"), "{}", render_block(&block, tz));
    }

    #[test]
    fn a_block_reads_in_local_time_and_a_page_s_cursor_reads_back_as_it_was_printed() {
        let block = BlockSummary {
            identifier: "url:https://fake-bank.com.cn/a/b".into(),
            generation: 1,
            active: true,
            blocked_at_ms: 1_741_914_000_000,
            expires_at_ms: 1_741_914_000_000 + 180 * 86_400_000,
            case_count: 2,
            fraud_types: Vec::new(),
            carriers: Vec::new(),
            looks_like: None,
            province_cities: Vec::new(),
        };
        let line = render_block(&block, UtcOffset::CHINA);
        assert!(line.starts_with("2025-03-14 09:00:00  url:https://fake-bank.com.cn/a/b"), "{line}");
        assert!(line.contains("until 2025-09-10 09:00  cases   2"), "{line}");
        let cursor = ListCursor { blocked_at_ms: block.blocked_at_ms, identifier: block.identifier.clone() };
        assert_eq!(parse_cursor(&cursor_text(&cursor)), Ok(cursor));
        for bad in ["", "17419", "x/phone:+86", "17419/"] {
            assert!(parse_cursor(bad).unwrap_err().contains("more: --after"), "{bad}");
        }
        assert_eq!(parse_since("0", UtcOffset::CHINA), Ok(0));
        assert_eq!(parse_since("2025-03-14 09:00", UtcOffset::CHINA), Ok(1_741_914_000_000));
        assert!(parse_since("last week", UtcOffset::CHINA).is_err());
    }
}
