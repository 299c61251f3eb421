//! Returns against their rules: at most what the center froze, money conserved, executed
//! once however often asked, accepted first when the bank takes its time.

use domain::{AccountRef, BankId, CaseId, City, Fen, Sensitive, TimeMs};
use protocol::adapter::{
    AdapterErrorKind, Counterparty, Direction, FreezeRequest, ReturnReply, ReturnRequest, ReturnStatus,
};

use crate::ledger::{BlockReason, ExecutedReturn, Ledger, LedgerError};
use crate::limits;

const T0: TimeMs = 1_763_700_000_000;
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

fn victim() -> AccountRef {
    AccountRef::parse("ccb:6217000011112222").unwrap()
}

fn mule() -> AccountRef {
    AccountRef::parse("icbc:6222020200001234").unwrap()
}

fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

fn case(center: &str) -> CaseId {
    CaseId::derive(&city(center), 7)
}

/// The victim paid the mule 600 of their 1000 yuan; hangzhou froze 500 of it for the case.
fn frozen_world() -> Ledger {
    let mut ledger = Ledger::new();
    ledger.open_account(victim()).unwrap();
    ledger.open_account(mule()).unwrap();
    ledger.deposit(&victim(), Fen::yuan(1_000), T0).unwrap();
    ledger.transfer(&victim(), &Counterparty::Account(mule()), Fen::yuan(600), T0 + 1).unwrap();
    freeze(&mut ledger, "hangzhou", "f1", Fen::yuan(500));
    ledger
}

fn freeze(ledger: &mut Ledger, center: &str, id: &str, amount: Fen) {
    let request = FreezeRequest {
        request_id: id.to_owned(),
        center: city(center),
        case_id: case(center),
        account: mule(),
        amount_fen: amount,
    };
    ledger.freeze(&request, T0 + 2).unwrap();
}

fn request(id: &str, amount: Fen) -> ReturnRequest {
    ReturnRequest {
        request_id: id.to_owned(),
        center: city("hangzhou"),
        case_id: case("hangzhou"),
        account: mule(),
        to_account: Sensitive::new(victim()),
        amount_fen: amount,
        allocation: "hangzhou-alloc-1".to_owned(),
    }
}

fn refusal(ledger: &mut Ledger, request: &ReturnRequest, now: TimeMs) -> AdapterErrorKind {
    let before = (ledger.balance(&mule()), ledger.balance(&victim()), ledger.frozen_for(&request.center, &mule(), now));
    let kind = ledger.return_money(request, now).unwrap_err().kind;
    let after = (ledger.balance(&mule()), ledger.balance(&victim()), ledger.frozen_for(&request.center, &mule(), now));
    assert_eq!(before, after, "a refused return changes nothing");
    kind
}

#[test]
fn a_return_pays_frozen_money_back_to_the_victim_and_conserves_money() {
    let mut ledger = frozen_world();
    let total = ledger.total_balances().unwrap();
    let reply = ledger.return_money(&request("r1", Fen::yuan(300)), T0 + 10).unwrap();
    assert_eq!(
        (reply.status, reply.amount_fen, reply.executed_at_ms),
        (ReturnStatus::Executed, Fen::yuan(300), Some(T0 + 10))
    );
    let transfer_id = reply.transfer_id.clone().unwrap();
    assert_eq!(ledger.balance(&mule()), Some(Fen::yuan(300)));
    assert_eq!(ledger.balance(&victim()), Some(Fen::yuan(700)));
    assert_eq!(ledger.total_balances().unwrap(), total, "the sum of all balances is unchanged");
    assert_eq!(ledger.frozen_for(&city("hangzhou"), &mule(), T0 + 10), Fen::yuan(200));
    ledger.check_conservation().unwrap();

    let out = ledger.statement(&mule()).unwrap().last().unwrap().clone();
    let back = ledger.statement(&victim()).unwrap().last().unwrap().clone();
    assert_eq!(
        (out.transfer_id.as_str(), out.direction, out.balance_after_fen),
        (transfer_id.as_str(), Direction::Out, Fen::yuan(300))
    );
    assert_eq!(
        (back.transfer_id.as_str(), back.direction, back.counterparty),
        (transfer_id.as_str(), Direction::In, Counterparty::Account(mule()))
    );
    assert_eq!(
        ledger.returns_executed(),
        vec![ExecutedReturn {
            request_id: "r1".into(),
            center: city("hangzhou"),
            case_id: case("hangzhou"),
            allocation: "hangzhou-alloc-1".into(),
            from: mule(),
            to: victim(),
            amount: Fen::yuan(300),
            transfer_id,
            accepted_at_ms: T0 + 10,
            executed_at_ms: T0 + 10,
        }]
    );
    // The 100 yuan no freeze held stay free; the 200 still frozen do not.
    ledger.transfer(&mule(), &Counterparty::CashOut("ATM".into()), Fen::yuan(100), T0 + 11).unwrap();
    let held = ledger.transfer(&mule(), &Counterparty::CashOut("ATM".into()), Fen::new(1), T0 + 12).unwrap_err();
    assert!(matches!(held, LedgerError::Blocked { reason: BlockReason::Frozen { .. }, .. }), "{held}");
}

#[test]
fn a_return_takes_at_most_what_the_centers_freezes_hold_less_what_it_returned() {
    let mut ledger = frozen_world();
    // Another center's freeze on the rest is not hangzhou's to return.
    freeze(&mut ledger, "ningbo", "f2", Fen::yuan(100));
    assert_eq!(refusal(&mut ledger, &request("r1", Fen::yuan(501)), T0 + 10), AdapterErrorKind::NotFrozen);
    let message = ledger.return_money(&request("r1", Fen::yuan(501)), T0 + 10).unwrap_err().message;
    assert!(message.contains("hold ¥500.00") && message.contains("asks ¥501.00"), "{message}");
    assert!(!message.contains(victim().number()), "the victim's account is not named: {message}");

    ledger.return_money(&request("r1", Fen::yuan(400)), T0 + 10).unwrap();
    assert_eq!(refusal(&mut ledger, &request("r2", Fen::yuan(101)), T0 + 11), AdapterErrorKind::NotFrozen);
    let last = ledger.return_money(&request("r2", Fen::yuan(100)), T0 + 11).unwrap();
    assert_eq!(last.status, ReturnStatus::Executed);
    assert_eq!(ledger.frozen_for(&city("hangzhou"), &mule(), T0 + 11), Fen::ZERO);
    assert_eq!(refusal(&mut ledger, &request("r3", Fen::new(1)), T0 + 12), AdapterErrorKind::NotFrozen);
    assert_eq!(ledger.frozen_for(&city("ningbo"), &mule(), T0 + 12), Fen::yuan(100), "ningbo's freeze stands");
    assert_eq!((ledger.balance(&mule()), ledger.balance(&victim())), (Some(Fen::yuan(100)), Some(Fen::yuan(900))));
    ledger.check_conservation().unwrap();

    // A freeze that lapsed holds nothing to return.
    let lapsed = T0 + 2 + limits::FREEZE_DURATION_MS;
    let mut ningbo = request("r4", Fen::new(1));
    ningbo.center = city("ningbo");
    assert_eq!(refusal(&mut ledger, &ningbo, lapsed), AdapterErrorKind::NotFrozen);
}

#[test]
fn the_same_request_is_answered_again_and_moves_no_money_twice() {
    let mut ledger = frozen_world();
    let first = ledger.return_money(&request("r1", Fen::yuan(200)), T0 + 10).unwrap();
    let again = ledger.return_money(&request("r1", Fen::yuan(200)), T0 + 99).unwrap();
    assert_eq!(again, first, "the first answer, its transfer and time");
    assert_eq!((ledger.balance(&mule()), ledger.balance(&victim())), (Some(Fen::yuan(400)), Some(Fen::yuan(600))));
    assert_eq!(ledger.returns_executed().len(), 1);
    let audit = ledger.hold_audit().returns;
    assert_eq!((audit.accepted, audit.executed, audit.repeats), (1, 1, 1));

    // The same id for another return is refused, whatever differs.
    let mut other = request("r1", Fen::yuan(100));
    assert_eq!(refusal(&mut ledger, &other, T0 + 100), AdapterErrorKind::InvalidRequest);
    other = request("r1", Fen::yuan(200));
    other.allocation = "hangzhou-alloc-2".into();
    assert_eq!(refusal(&mut ledger, &other, T0 + 100), AdapterErrorKind::InvalidRequest);
}

#[test]
fn a_bank_that_takes_its_time_accepts_first_and_executes_once_the_delay_has_passed() {
    let mut ledger = frozen_world();
    let icbc = BankId::parse("icbc").unwrap();
    ledger.set_return_delay(icbc.clone(), 3 * DAY_MS);
    assert_eq!(ledger.return_delay(&icbc), 3 * DAY_MS);
    let accepted = ledger.return_money(&request("r1", Fen::yuan(500)), T0 + 10).unwrap();
    let pending = ReturnReply {
        status: ReturnStatus::Accepted,
        amount_fen: Fen::yuan(500),
        transfer_id: None,
        executed_at_ms: None,
    };
    assert_eq!(accepted, pending);
    assert_eq!((ledger.balance(&mule()), ledger.returns_pending()), (Some(Fen::yuan(600)), 1), "nothing moved yet");
    assert_eq!(ledger.frozen_for(&city("hangzhou"), &mule(), T0 + 10), Fen::ZERO, "out of the freeze");
    assert_eq!(refusal(&mut ledger, &request("r2", Fen::new(1)), T0 + 11), AdapterErrorKind::NotFrozen);
    // The earmarked money cannot leave otherwise, and no queued claim takes it.
    freeze(&mut ledger, "ningbo", "f2", Fen::yuan(600));
    assert_eq!(ledger.frozen_for(&city("ningbo"), &mule(), T0 + 12), Fen::yuan(100));
    let held = ledger.transfer(&mule(), &Counterparty::CashOut("ATM".into()), Fen::new(1), T0 + 12).unwrap_err();
    assert!(matches!(held, LedgerError::Blocked { .. }), "{held}");

    let due = T0 + 10 + 3 * DAY_MS;
    assert_eq!(ledger.return_money(&request("r1", Fen::yuan(500)), due - 1).unwrap(), pending);
    assert_eq!(ledger.execute_due_returns(due - 1), 0);
    assert_eq!(ledger.execute_due_returns(due), 1);
    let executed = ledger.return_money(&request("r1", Fen::yuan(500)), due + 5).unwrap();
    assert_eq!((executed.status, executed.executed_at_ms), (ReturnStatus::Executed, Some(due)));
    assert_eq!(ledger.return_money(&request("r1", Fen::yuan(500)), due + 9).unwrap(), executed);
    assert_eq!((ledger.balance(&mule()), ledger.balance(&victim())), (Some(Fen::yuan(100)), Some(Fen::yuan(900))));
    assert_eq!(ledger.returns_pending(), 0);
    ledger.check_conservation().unwrap();
}

#[test]
fn a_due_return_is_executed_when_asked_even_if_nothing_else_executed_it() {
    let mut ledger = frozen_world();
    ledger.set_return_delay(BankId::parse("icbc").unwrap(), DAY_MS);
    ledger.return_money(&request("r1", Fen::yuan(100)), T0 + 10).unwrap();
    let polled = ledger.return_money(&request("r1", Fen::yuan(100)), T0 + 10 + DAY_MS + 7).unwrap();
    assert_eq!((polled.status, polled.executed_at_ms), (ReturnStatus::Executed, Some(T0 + 10 + DAY_MS + 7)));
    assert_eq!(ledger.execute_due_returns(T0 + 20 * DAY_MS), 0, "executed once");
    assert_eq!(ledger.balance(&victim()), Some(Fen::yuan(500)));
}

#[test]
fn the_victims_account_must_be_one_the_bank_can_pay_and_the_request_well_formed() {
    let mut ledger = frozen_world();
    let mut unknown_here = request("r1", Fen::yuan(1));
    unknown_here.to_account = Sensitive::new(AccountRef::parse("icbc:6222020299999999").unwrap());
    assert_eq!(refusal(&mut ledger, &unknown_here, T0 + 10), AdapterErrorKind::UnknownAccount);
    let mut unknown_mule = request("r1", Fen::yuan(1));
    unknown_mule.account = AccountRef::parse("icbc:6222020288888888").unwrap();
    assert_eq!(ledger.return_money(&unknown_mule, T0 + 10).unwrap_err().kind, AdapterErrorKind::UnknownAccount);
    let mut itself = request("r1", Fen::yuan(1));
    itself.to_account = Sensitive::new(mule());
    let mut no_basis = request("r1", Fen::yuan(1));
    no_basis.allocation = String::new();
    let mut long_basis = request("r1", Fen::yuan(1));
    long_basis.allocation = "a".repeat(limits::MAX_ALLOCATION_BYTES + 1);
    for bad in [request("r1", Fen::ZERO), request("", Fen::yuan(1)), itself, no_basis, long_basis] {
        assert_eq!(refusal(&mut ledger, &bad, T0 + 10), AdapterErrorKind::InvalidRequest, "{bad:?}");
    }
    // A refusal is not recorded: the id is free for the return it names.
    ledger.return_money(&request("r1", Fen::yuan(1)), T0 + 11).unwrap();

    // Another bank's account the ledger does not hold: the money leaves the ledger.
    let mut elsewhere = request("r2", Fen::yuan(50));
    elsewhere.to_account = Sensitive::new(AccountRef::parse("cmbc:6226000055556666").unwrap());
    let total = ledger.total_balances().unwrap();
    ledger.return_money(&elsewhere, T0 + 12).unwrap();
    assert_eq!(ledger.paid_out(), Fen::yuan(50));
    assert_eq!(ledger.total_balances().unwrap(), total.checked_sub(Fen::yuan(50)).unwrap());
    ledger.check_conservation().unwrap();
}

#[test]
fn a_return_takes_the_cases_own_freeze_first_and_ends_a_freeze_it_empties() {
    let mut ledger = frozen_world();
    // Another case of hangzhou froze the other 100.
    let other_case = FreezeRequest {
        request_id: "f3".into(),
        center: city("hangzhou"),
        case_id: CaseId::derive(&city("hangzhou"), 8),
        account: mule(),
        amount_fen: Fen::yuan(100),
    };
    ledger.freeze(&other_case, T0 + 3).unwrap();
    ledger.return_money(&request("r1", Fen::yuan(500)), T0 + 10).unwrap();
    let claims = ledger.freeze_claims(&mule());
    assert_eq!(claims.len(), 1, "the case's emptied freeze ended: {claims:?}");
    assert_eq!((&claims[0].case_id, claims[0].amount), (&other_case.case_id, Fen::yuan(100)));
}

#[test]
fn a_return_that_empties_the_cases_freeze_and_an_earlier_one_of_another_case_ends_both() {
    let mut ledger = Ledger::new();
    ledger.open_account(victim()).unwrap();
    ledger.open_account(mule()).unwrap();
    ledger.deposit(&victim(), Fen::yuan(1_000), T0).unwrap();
    ledger.transfer(&victim(), &Counterparty::Account(mule()), Fen::yuan(600), T0 + 1).unwrap();
    // Another case of hangzhou froze 100 first; the case's own 500 comes second in the list.
    let other_case = FreezeRequest {
        request_id: "f0".into(),
        center: city("hangzhou"),
        case_id: CaseId::derive(&city("hangzhou"), 8),
        account: mule(),
        amount_fen: Fen::yuan(100),
    };
    ledger.freeze(&other_case, T0 + 2).unwrap();
    freeze(&mut ledger, "hangzhou", "f1", Fen::yuan(500));
    ledger.return_money(&request("r1", Fen::yuan(600)), T0 + 10).unwrap();
    assert!(ledger.freeze_claims(&mule()).is_empty(), "both freezes emptied and ended");
    assert_eq!(ledger.balance(&victim()), Some(Fen::yuan(1_000)));
    ledger.check_conservation().unwrap();
}
