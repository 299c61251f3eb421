//! Given the cases of the index, when a list or a search, then this page or these matches.

use std::collections::BTreeMap;

use domain::{CaseId, City, Fen, FraudType, TimeMs};
use protocol::intake::{
    CaseCursor, CaseList, CaseStatus, CaseSummary, IntakeErrorKind, ListRequest, MAX_LIST_PAGE, MAX_SEARCH_MATCHES,
    MatchSource, SearchKind, SearchMatch,
};

use super::*;
use crate::limits::MAX_LIST_SCAN;

fn city() -> City {
    City::parse("huzhou").unwrap()
}

/// The index as the shell keeps it: (reported at, case id) → the row, with each case's totals.
struct Model {
    rows: BTreeMap<(TimeMs, String), IndexRow>,
    summaries: BTreeMap<CaseId, CaseSummary>,
}

impl Model {
    /// Case `n` (1-based) reported at `n * 1000`, of fraud type `types[n % len]`.
    fn with(cases: u64, types: &[FraudType]) -> Model {
        let mut rows = BTreeMap::new();
        for n in 1..=cases {
            let case_id = CaseId::derive(&city(), n);
            let row = IndexRow {
                reported_at_ms: n * 1000,
                case_id: case_id.clone(),
                fraud_type: types[usize::try_from(n).unwrap() % types.len()],
                reported_loss_fen: Fen::new(n),
            };
            rows.insert((n * 1000, case_id.to_string()), row);
        }
        Model { rows, summaries: BTreeMap::new() }
    }

    /// A page of `request`, read as the shell reads redb: below the query's key, newest first.
    fn list(&self, request: ListRequest) -> CaseList {
        let query = list_query(request).unwrap();
        let rows: Box<dyn Iterator<Item = &IndexRow>> = match &query.below {
            Some(below) => Box::new(self.rows.range(..below.clone()).rev().map(|(_, r)| r)),
            None => Box::new(self.rows.values().rev()),
        };
        let summary_of = |case: &CaseId| Ok::<_, ()>(self.summaries.get(case).cloned().unwrap_or_default());
        page(&query, rows.cloned().map(Ok), summary_of).unwrap()
    }
}

fn numbers(page: &CaseList) -> Vec<u64> {
    page.cases.iter().map(|c| c.reported_at_ms / 1000).collect()
}

fn cursor_of(n: u64) -> CaseCursor {
    CaseCursor { reported_at_ms: n * 1000, case_id: CaseId::derive(&city(), n) }
}

fn limit(n: u32) -> ListRequest {
    ListRequest { limit: Some(n), ..ListRequest::default() }
}

#[test]
fn pages_run_newest_first_and_the_last_full_page_says_nothing_follows() {
    let model = Model::with(5, &[FraudType::OnlineLoan]);
    let first = model.list(limit(2));
    assert_eq!((numbers(&first), first.next.clone()), (vec![5, 4], Some(cursor_of(4))));
    let second = model.list(ListRequest { after: first.next, ..limit(2) });
    assert_eq!((numbers(&second), second.next.clone()), (vec![3, 2], Some(cursor_of(2))));
    let third = model.list(ListRequest { after: second.next, ..limit(2) });
    assert_eq!((numbers(&third), third.next), (vec![1], None));

    let even = Model::with(4, &[FraudType::OnlineLoan]);
    let last = even.list(ListRequest { after: Some(cursor_of(3)), ..limit(2) });
    assert_eq!((numbers(&last), last.next), (vec![2, 1], None), "a full page with nothing after it is the last");
    assert_eq!(numbers(&even.list(ListRequest::default())), vec![4, 3, 2, 1], "the default page holds them all");
}

#[test]
fn a_cursor_past_the_end_gives_an_empty_last_page() {
    let model = Model::with(3, &[FraudType::OnlineLoan]);
    let past = CaseCursor { reported_at_ms: 0, case_id: CaseId::derive(&city(), 0) };
    let page = model.list(ListRequest { after: Some(past), ..ListRequest::default() });
    assert_eq!((page.cases.len(), page.next), (0, None));
    let page = model.list(ListRequest { after: Some(cursor_of(1)), ..ListRequest::default() });
    assert_eq!((page.cases.len(), page.next), (0, None), "nothing below the oldest case");
    assert_eq!(
        Model::with(0, &[FraudType::OnlineLoan]).list(ListRequest::default()),
        CaseList { cases: vec![], next: None }
    );
}

#[test]
fn filters_by_fraud_type_time_and_status_and_combine() {
    let mut model = Model::with(10, &[FraudType::OnlineLoan, FraudType::PigButchering]);
    let only = |fraud_type| ListRequest { fraud_type: Some(fraud_type), ..ListRequest::default() };
    assert_eq!(numbers(&model.list(only(FraudType::PigButchering))), vec![9, 7, 5, 3, 1]);
    assert_eq!(numbers(&model.list(only(FraudType::StockTips))), Vec::<u64>::new());
    // since inclusive, until exclusive.
    let window = ListRequest { since_ms: Some(3000), until_ms: Some(7000), ..ListRequest::default() };
    assert_eq!(numbers(&model.list(window.clone())), vec![6, 5, 4, 3]);
    let paged = model.list(ListRequest { limit: Some(3), ..window.clone() });
    assert_eq!((numbers(&paged), paged.next.clone()), (vec![6, 5, 4], Some(cursor_of(4))));
    let rest = model.list(ListRequest { after: paged.next, limit: Some(3), ..window });
    assert_eq!((numbers(&rest), rest.next), (vec![3], None), "the window ends the pages");

    let frozen = CaseSummary { accounts_frozen: 1, held_fen: Fen::new(5), ..CaseSummary::default() };
    let done = CaseSummary { trace_complete: true, ..CaseSummary::default() };
    model.summaries.insert(CaseId::derive(&city(), 8), frozen.clone());
    model.summaries.insert(CaseId::derive(&city(), 5), frozen);
    model.summaries.insert(CaseId::derive(&city(), 2), done);
    let status = |status| ListRequest { status: Some(status), ..ListRequest::default() };
    assert_eq!(numbers(&model.list(status(CaseStatus::Frozen))), vec![8, 5]);
    assert_eq!(numbers(&model.list(status(CaseStatus::Holding))), vec![8, 5]);
    assert_eq!(numbers(&model.list(status(CaseStatus::NothingHeld))), vec![2]);
    assert_eq!(numbers(&model.list(status(CaseStatus::Traced))), vec![2]);
    assert_eq!(model.list(status(CaseStatus::Tracing)).cases.len(), 9);
    assert_eq!(model.list(status(CaseStatus::AtRisk)).cases.len(), 0);
    let both = ListRequest { fraud_type: Some(FraudType::PigButchering), ..status(CaseStatus::Frozen) };
    let page = model.list(both);
    assert_eq!(numbers(&page), vec![5]);
    assert_eq!(page.cases[0].summary.accounts_frozen, 1, "each case comes with its totals");
    assert_eq!(page.cases[0].reported_loss_fen, Fen::new(5));
}

#[test]
fn limits_are_refused_outside_their_bounds_naming_the_field() {
    for bad in [0, MAX_LIST_PAGE + 1] {
        let error = list_query(limit(bad)).unwrap_err();
        assert_eq!(error.kind, IntakeErrorKind::InvalidQuery);
        assert_eq!((error.problems[0].field.as_str(), error.problems[0].value.clone()), ("limit", bad.to_string()));
        assert_eq!(error.problems[0].expected, format!("1 to {MAX_LIST_PAGE}"));
    }
    let model = Model::with(u64::from(MAX_LIST_PAGE) + 1, &[FraudType::OnlineLoan]);
    let page = model.list(limit(MAX_LIST_PAGE));
    assert_eq!(page.cases.len(), usize::try_from(MAX_LIST_PAGE).unwrap());
    assert_eq!(page.next, Some(cursor_of(2)));
    assert_eq!(model.list(ListRequest::default()).cases.len(), page.cases.len(), "the bound is the default");
    let error = list_query(ListRequest { since_ms: Some(5), until_ms: Some(5), ..ListRequest::default() }).unwrap_err();
    assert_eq!(error.problems[0].field, "until_ms");
}

#[test]
fn a_filter_few_cases_pass_stops_a_page_at_the_scan_bound_with_where_to_go_on() {
    let cases = u64::try_from(MAX_LIST_SCAN).unwrap() + 5;
    let model = Model::with(cases, &[FraudType::OnlineLoan]);
    let request = ListRequest { fraud_type: Some(FraudType::StockTips), ..ListRequest::default() };
    let page = model.list(request.clone());
    let last_read = cases + 1 - u64::try_from(MAX_LIST_SCAN).unwrap();
    assert_eq!((page.cases.len(), page.next.clone()), (0, Some(cursor_of(last_read))));
    let rest = model.list(ListRequest { after: page.next, ..request });
    assert_eq!((rest.cases.len(), rest.next), (0, None), "the rest is under the bound");
}

fn hit(n: u64, kind: SearchKind, matched: &str, source: MatchSource) -> SearchMatch {
    SearchMatch { case_id: CaseId::derive(&city(), n), kind, matched: matched.into(), source, reported_at_ms: n * 1000 }
}

#[test]
fn matches_come_newest_first_once_each_and_bounded() {
    let account = "icbc:6222020200001234";
    let matches = vec![
        hit(1, SearchKind::Account, account, MatchSource::Trail),
        hit(2, SearchKind::Account, account, MatchSource::Trail),
        hit(2, SearchKind::Account, account, MatchSource::Report),
        hit(2, SearchKind::Phone, "phone:+8613900000000", MatchSource::Report),
    ];
    let result = found(vec!["account:x".into()], matches, false);
    let shape: Vec<_> = result.matches.iter().map(|m| (m.reported_at_ms, m.kind, m.source)).collect();
    assert_eq!(
        shape,
        [
            (2000, SearchKind::Account, MatchSource::Report),
            (2000, SearchKind::Phone, MatchSource::Report),
            (1000, SearchKind::Account, MatchSource::Trail)
        ]
    );
    assert!(!result.truncated);
    let many =
        (1..=u64::from(MAX_SEARCH_MATCHES) + 1).map(|n| hit(n, SearchKind::Account, account, MatchSource::Report));
    let result = found(Vec::new(), many.collect(), false);
    assert_eq!(result.matches.len(), usize::try_from(MAX_SEARCH_MATCHES).unwrap());
    assert!(result.truncated);
    assert_eq!(result.matches[0].reported_at_ms, (u64::from(MAX_SEARCH_MATCHES) + 1) * 1000);
    assert!(found(Vec::new(), Vec::new(), true).truncated, "a walk cut at its bound says so");
}
