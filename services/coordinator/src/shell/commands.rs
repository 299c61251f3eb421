//! The coordinator's commands (`afc.province.cmd.coordinator.<verb>`, `protocol::coordinator`):
//! each answered from the state in memory, under its read lock.

use protocol::coordinator::{CoordinatorError, DEFAULT_MARGIN_PERCENT, ProducerStatus, ReportRequest, Status, verb};
use protocol::{Reply, to_json};

use super::Shared;
use crate::core::{FlagMargin, PERIOD_EXPECTED, Period, ReportError, report};
use crate::limits::MAX_REQUEST_BYTES;

/// The answer to `verb` with `body`, as JSON.
pub(super) fn answer(shared: &Shared, verb: &str, body: &[u8]) -> Vec<u8> {
    match verb {
        verb::REPORT => to_json(&Reply::from(province_report(shared, body))),
        verb::CITY => to_json(&Reply::from(city_report(shared, body))),
        verb::STATUS => to_json(&Reply::<Status, CoordinatorError>::Ok(status(shared))),
        verb::CASE => to_json(&Reply::from(case(shared, body))),
        other => to_json(&Reply::<(), _>::Error(CoordinatorError::UnknownVerb {
            verb: other.chars().take(64).collect(),
            known: verb::ALL.join(", "),
        })),
    }
}

fn bad(field: &str, value: impl Into<String>, expected: impl Into<String>) -> CoordinatorError {
    CoordinatorError::BadRequest { field: field.into(), value: value.into(), expected: expected.into() }
}

/// The request, its period and its margin, each checked.
fn read(body: &[u8]) -> Result<(ReportRequest, Period, FlagMargin), CoordinatorError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(bad("request", format!("{} bytes", body.len()), format!("at most {MAX_REQUEST_BYTES} bytes")));
    }
    let request: ReportRequest = serde_json::from_slice(body).map_err(|e| {
        bad(
            "request",
            format!("line {} column {}", e.line(), e.column()),
            "JSON {\"period\": …, \"margin_percent\": …, \"city\": …}",
        )
    })?;
    let period = Period::parse(&request.period).map_err(|_| bad("period", request.period.clone(), PERIOD_EXPECTED))?;
    let percent = request.margin_percent.unwrap_or(DEFAULT_MARGIN_PERCENT);
    let margin = FlagMargin::percent(percent).map_err(|_| bad("margin_percent", percent.to_string(), "0 to 100"))?;
    Ok((request, period, margin))
}

fn made(shared: &Shared, period: Period, margin: FlagMargin) -> Result<crate::core::Report, CoordinatorError> {
    let state = shared.state.read().expect("no panic holds the state");
    report(&state, period, margin).map_err(|error| match error {
        ReportError::NoData { period } => CoordinatorError::NoData { period: period.to_string() },
        ReportError::Margin { value } => bad("margin_percent", value.to_string(), "0 to 100"),
    })
}

fn province_report(shared: &Shared, body: &[u8]) -> Result<crate::core::Report, CoordinatorError> {
    let (_, period, margin) = read(body)?;
    made(shared, period, margin)
}

/// One city's row of the report (with the province's median flags that concern it).
fn city_report(shared: &Shared, body: &[u8]) -> Result<crate::core::Report, CoordinatorError> {
    let (request, period, margin) = read(body)?;
    let Some(name) = request.city else { return Err(bad("city", "", "the name of one of the province's cities")) };
    let known = || {
        let state = shared.state.read().expect("no panic holds the state");
        state.cities().map(|c| c.as_str().to_owned()).collect::<Vec<_>>().join(", ")
    };
    let mut full = made(shared, period, margin)?;
    let Some(row) = full.rows.iter().find(|row| row.city.as_ref().is_some_and(|c| c.as_str() == name)).cloned() else {
        return Err(CoordinatorError::UnknownCity { city: name.chars().take(64).collect(), known: known() });
    };
    full.flagged.retain(|flag| flag.city.as_str() == name);
    full.rows = vec![row];
    Ok(full)
}

/// The accounts a case shares with other cities' cases.
fn case(shared: &Shared, body: &[u8]) -> Result<Vec<crate::core::CrossCity>, CoordinatorError> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(bad("request", format!("{} bytes", body.len()), format!("at most {MAX_REQUEST_BYTES} bytes")));
    }
    let request: protocol::coordinator::CaseRequest = serde_json::from_slice(body)
        .map_err(|e| bad("request", format!("line {} column {}", e.line(), e.column()), "JSON {\"case_id\": …}"))?;
    let case_id = domain::CaseId::parse(&request.case_id).map_err(|_| {
        bad("case_id", request.case_id.chars().take(64).collect::<String>(), "a case id, <city>-<16 hex digits>")
    })?;
    let state = shared.state.read().expect("no panic holds the state");
    Ok(state.links.cross_city_of(&case_id))
}

fn status(shared: &Shared) -> Status {
    let state = shared.state.read().expect("no panic holds the state");
    let progress = shared.progress.lock().expect("no panic holds the progress");
    let producers = crate::core::producers(&state)
        .map(|(producer, track)| ProducerStatus {
            producer: producer.to_string(),
            highest_seq: track.highest,
            gaps: track.missing_ranges().map(|r| (*r.start(), *r.end())).collect(),
            duplicates: track.duplicates,
            conflicts: track.conflicts,
        })
        .collect();
    Status {
        cities: state.cities().map(|c| c.as_str().to_owned()).collect(),
        absorbed_stream_seq: progress.absorbed_seq,
        producers,
        refused: progress.refused.iter().map(|(kind, n)| ((*kind).to_owned(), *n)).collect(),
        notices: progress.notices.iter().map(|n| serde_json::to_value(n).expect("notices serialize")).collect(),
        notices_pending: state.outbox.pending_by_city().into_iter().map(|(c, n)| (c.as_str().to_owned(), n)).collect(),
        notices_taken: state.outbox.taken,
        notices_refused: state.outbox.refused,
        notices_dropped: state.outbox.dropped,
        events_resent: progress.resent,
    }
}
