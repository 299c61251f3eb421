//! The `restitution` section from synthetic events: a single victim's account returned
//! exactly; a mixed account whose allocation was reopened, returned off the ground truth by
//! 50 fen each way; the banks' ledger checked against the confirmations and the victims'
//! own accounts.

use events::Service;
use events::restitution::{Rule, ShareLine};

use super::*;

const T0: TimeMs = 1_763_700_000_000;
const MINUTE: u64 = 60_000;

fn city() -> City {
    City::parse("hangzhou").unwrap()
}

fn mule(n: u32) -> AccountRef {
    AccountRef::parse(&format!("icbc:62220202000{n:05}")).unwrap()
}

fn own(n: usize) -> AccountRef {
    AccountRef::parse(&format!("ccb:62170000000{n:05}")).unwrap()
}

fn case_id(n: usize) -> CaseId {
    CaseId::derive(&city(), n as u64)
}

fn filed(index: usize, freezes: Vec<(AccountRef, u64, TimeMs)>) -> FiledCase {
    FiledCase {
        index,
        city: city(),
        case_id: case_id(index),
        victim_account: own(index),
        freezes: freezes.into_iter().map(|(a, fen, at)| (a, Fen::new(fen), at)).collect(),
    }
}

fn envelopes(events: Vec<RestitutionEvent>) -> BTreeMap<City, Vec<Envelope>> {
    let envelopes = events
        .into_iter()
        .enumerate()
        .map(|(seq, event)| Envelope {
            id: format!("hangzhou.restitution.{seq}"),
            city: city(),
            service: Service::Restitution,
            seq: seq as u64,
            time_ms: 0,
            correlation: None,
            causation: None,
            schema: 1,
            payload: Payload::Restitution(event),
        })
        .collect();
    BTreeMap::from([(city(), envelopes)])
}

fn proposed(allocation: AllocationNo, account: AccountRef, replaces: Option<AllocationNo>) -> RestitutionEvent {
    RestitutionEvent::AllocationProposed {
        allocation,
        account,
        rule: Rule::TimestampTrace,
        cause: if replaces.is_some() { Cause::Reopened } else { Cause::Frozen },
        replaces,
        frozen_fen: Fen::ZERO,
        shares: Vec::<ShareLine>::new(),
        unallocated_fen: Fen::ZERO,
        statement_entries: None,
        proposed_at_ms: T0,
        notice_ends_at_ms: T0 + 60 * MINUTE,
    }
}

/// Allocation `allocation` approved twice and its returns (case, fen) instructed and
/// confirmed at `at`.
fn executed(allocation: AllocationNo, returns: &[(usize, u64)], at: TimeMs) -> Vec<RestitutionEvent> {
    let mut out = vec![RestitutionEvent::NoticeEnded { allocation, at_ms: at }];
    for by in ["a", "b"] {
        out.push(RestitutionEvent::AllocationApproved { allocation, by: by.into(), key: by.into(), at_ms: at });
    }
    for (case, fen) in returns {
        out.push(RestitutionEvent::ReturnInstructed {
            allocation,
            case_id: case_id(*case),
            request_id: format!("r{allocation}-{case}"),
            amount_fen: Fen::new(*fen),
            due_ms: at + 3 * 24 * 60 * MINUTE,
            at_ms: at,
        });
    }
    for (case, fen) in returns {
        out.push(RestitutionEvent::ReturnConfirmed {
            allocation,
            case_id: case_id(*case),
            amount_fen: Fen::new(*fen),
            transfer_id: format!("SIM{allocation}{case}"),
            executed_at_ms: at,
            at_ms: at,
        });
    }
    let total = returns.iter().map(|(_, fen)| fen).sum();
    out.push(RestitutionEvent::AllocationCompleted { allocation, returned_fen: Fen::new(total), at_ms: at });
    out
}

/// The bank's record of a return of `fen` to `to` (the victim's own account unless said).
fn bank(allocation: AllocationNo, case: usize, from: AccountRef, to: AccountRef, fen: u64) -> ExecutedReturn {
    ExecutedReturn {
        request_id: format!("r{allocation}-{case}"),
        center: city(),
        case_id: case_id(case),
        allocation: allocation_name(allocation),
        from,
        to,
        amount: Fen::new(fen),
        transfer_id: format!("SIM{allocation}{case}"),
        accepted_at_ms: T0,
        executed_at_ms: T0,
    }
}

/// Within the histogram's three significant digits.
fn about(value: u64, expected: u64) -> bool {
    value.abs_diff(expected) <= expected / 1_000
}

fn holdings(account: AccountRef, held: &[(usize, u64)]) -> Holdings {
    BTreeMap::from([((city(), account), held.iter().map(|(c, f)| (*c, Fen::new(*f))).collect())])
}

#[test]
fn a_single_victims_account_returned_whole_is_exact_and_the_ledger_agrees() {
    let cases = [filed(0, vec![(mule(1), 10_000, T0)])];
    let back = T0 + 70 * MINUTE;
    let events = envelopes([vec![proposed(1, mule(1), None)], executed(1, &[(0, 10_000)], back)].concat());
    let ledger = [bank(1, 0, mule(1), own(0), 10_000)];
    let truth = holdings(mule(1), &[(0, 10_000)]);
    let r = section(&events, &cases, &ledger, &truth, &ApproverStats { approvals: 2, ..Default::default() }).unwrap();

    assert_eq!(
        (r.allocations_proposed, r.allocations_executed, r.allocations_completed, r.allocations_open),
        (1, 1, 1, 0)
    );
    assert_eq!((r.frozen_fen, r.returned_fen, r.returned_ledger_fen, r.returned_share), (10_000, 10_000, 10_000, 1.0));
    assert_eq!((r.returns_instructed, r.returns_confirmed, r.returns_executed), (1, 1, 1));
    assert_eq!((r.returns_unmatched, r.returns_to_other_accounts), (0, 0));
    assert_eq!((r.victims_scored, r.victims_exact, r.owed_fen, r.error_abs_fen), (1, 1, 10_000, 0));
    assert!(r.errors.is_empty());
    assert_eq!(r.freeze_to_return_ms.n, 1);
    assert!(about(r.freeze_to_return_ms.max, 70 * MINUTE), "{:?}", r.freeze_to_return_ms);
    assert_eq!((r.approvals, r.approvals_sent, r.approver_errors), (2, 2, 0));
}

#[test]
fn a_mixed_account_is_owed_pro_rata_to_the_frozen_money_and_errors_count_both_ways() {
    // Two victims each had 200 in the mule at its last freeze; the center froze 300: each is
    // owed 150. The first allocation was replaced (a second victim's claim), the second gave
    // 100 and 200.
    let cases = [filed(0, vec![(mule(1), 100, T0)]), filed(1, vec![(mule(1), 200, T0 + 5 * MINUTE)])];
    let events = [
        vec![proposed(1, mule(1), None), proposed(2, mule(1), Some(1))],
        executed(2, &[(0, 100), (1, 200)], T0 + 80 * MINUTE),
    ]
    .concat();
    // The bank paid case 1's return into someone else's account, and booked case 0's under
    // another transfer than the one confirmed.
    let mut wrong_transfer = bank(2, 0, mule(1), own(0), 100);
    wrong_transfer.transfer_id = "SIM-other".into();
    let ledger = [wrong_transfer, bank(2, 1, mule(1), own(7), 200)];
    let truth = holdings(mule(1), &[(0, 200), (1, 200), (9, 500)]);
    let r = section(&envelopes(events), &cases, &ledger, &truth, &ApproverStats::default()).unwrap();

    assert_eq!((r.allocations_proposed, r.reopened, r.allocations_open), (2, 1, 0));
    assert_eq!((r.frozen_fen, r.returned_fen, r.returned_ledger_fen), (300, 300, 300));
    assert_eq!(r.returns_unmatched, 2, "one executed return's transfer differs: unmatched on both sides");
    assert_eq!(r.returns_to_other_accounts, 1);
    // Case 9 never filed here: it is owed nothing by this center.
    assert_eq!((r.victims_scored, r.victims_exact, r.owed_fen), (2, 0, 300));
    assert_eq!((r.error_abs_fen, r.over_returned_fen, r.under_returned_fen), (100, 50, 50));
    let errors: Vec<(String, i64)> = r.errors.iter().map(|e| (e.case_id.clone(), e.error_fen)).collect();
    assert_eq!(errors, vec![(case_id(0).to_string(), -50), (case_id(1).to_string(), 50)]);
    // From each case's own freeze of the account.
    assert_eq!(r.freeze_to_return_ms.n, 2);
    assert!(about(r.freeze_to_return_ms.max, 80 * MINUTE), "{:?}", r.freeze_to_return_ms);
}

#[test]
fn an_allocation_still_in_its_notice_is_open_and_not_scored() {
    let cases = [filed(0, vec![(mule(1), 10_000, T0)])];
    let events = envelopes(vec![proposed(1, mule(1), None)]);
    let truth = holdings(mule(1), &[(0, 10_000)]);
    let r = section(&events, &cases, &[], &truth, &ApproverStats::default()).unwrap();
    assert_eq!((r.allocations_open, r.returned_fen, r.returned_share, r.victims_scored), (1, 0, 0.0, 0));
}

#[test]
fn what_is_owed_is_what_was_held_unless_more_than_was_frozen() {
    let held = BTreeMap::from([(0, Fen::new(100)), (1, Fen::new(200))]);
    assert_eq!(owed(&held, Fen::new(1_000)), BTreeMap::from([(0, 100), (1, 200)]));
    // 100 of 300: 33.3 and 66.7, the fen left over to the largest remainder.
    assert_eq!(owed(&held, Fen::new(100)), BTreeMap::from([(0, 33), (1, 67)]));
    let even = BTreeMap::from([(0, Fen::new(1)), (1, Fen::new(1))]);
    assert_eq!(owed(&even, Fen::new(1)), BTreeMap::from([(0, 1), (1, 0)]), "a tie goes to the lower case");
}

#[test]
fn refusals_are_counted_by_the_field_they_name() {
    let refused = |reason: &str| RestitutionEvent::AllocationRefused {
        account: mule(1),
        rule: Rule::TimestampTrace,
        reason: reason.into(),
        traced: Vec::new(),
        frozen_fen: Fen::new(1),
        at_ms: T0,
    };
    let events = envelopes(vec![
        refused("claims[2].deposits[0].at_ms = 1764810000000: expected a time at most 300000 ms after now"),
        refused("claims[0].deposits[11].at_ms = 1: expected …"),
        refused("statement[3].balance_after_fen = 5: expected 7"),
    ]);
    let r = section(&events, &[], &[], &Holdings::new(), &ApproverStats::default()).unwrap();
    assert_eq!(r.allocations_refused, 3);
    let fields =
        BTreeMap::from([("claims[].deposits[].at_ms".to_owned(), 2), ("statement[].balance_after_fen".to_owned(), 1)]);
    assert_eq!(r.refused_by_field, fields);
}
