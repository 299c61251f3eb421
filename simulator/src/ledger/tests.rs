//! The ledger against the adapter protocol's rules: transfers and orders, stop-payments and
//! freezes, idempotent requests, and money conserved under random operations.

use domain::{AccountRef, CaseId, City, Fen, PaymentOrderRef, TimeMs};
use proptest::prelude::*;
use protocol::adapter::{
    AdapterErrorKind, Counterparty, Direction, FlowsRequest, FreezeRequest, FreezeStatus, ResolveOrderRequest,
    StopPaymentRequest,
};

use super::{BlockReason, Ledger, LedgerError};
use crate::limits;

const T0: TimeMs = 1_763_700_000_000;

fn acct(n: u32) -> AccountRef {
    AccountRef::parse(&format!("icbc:62220202{n:08}")).unwrap()
}

fn city(name: &str) -> City {
    City::parse(name).unwrap()
}

fn case(city_name: &str) -> CaseId {
    CaseId::derive(&city(city_name), 7)
}

fn stop_req(id: &str, center: &str, account: &AccountRef) -> StopPaymentRequest {
    StopPaymentRequest {
        request_id: id.to_owned(),
        center: city(center),
        case_id: case(center),
        account: account.clone(),
        since_ms: 0,
    }
}

fn freeze_req(id: &str, center: &str, account: &AccountRef, amount: Fen) -> FreezeRequest {
    FreezeRequest {
        request_id: id.to_owned(),
        center: city(center),
        case_id: case(center),
        account: account.clone(),
        amount_fen: amount,
    }
}

/// Victim 1 with 1000 yuan, mules 2 and 3 empty.
fn small_world() -> Ledger {
    let mut ledger = Ledger::new();
    for n in 1..=3 {
        ledger.open_account(acct(n)).unwrap();
    }
    ledger.deposit(&acct(1), Fen::yuan(1000), T0).unwrap();
    ledger
}

#[test]
fn transfer_moves_money_and_books_both_sides() {
    let mut ledger = small_world();
    let id = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(300), T0 + 1).unwrap();
    assert_eq!(ledger.balance(&acct(1)), Some(Fen::yuan(700)));
    assert_eq!(ledger.balance(&acct(2)), Some(Fen::yuan(300)));
    let out = ledger.statement(&acct(1)).unwrap().last().unwrap().clone();
    let inn = ledger.statement(&acct(2)).unwrap().last().unwrap().clone();
    assert_eq!(out.transfer_id, id);
    assert_eq!(inn.transfer_id, id);
    assert_eq!(out.direction, Direction::Out);
    assert_eq!(inn.direction, Direction::In);
    assert_eq!(out.balance_after_fen, Fen::yuan(700));
    assert_eq!(inn.counterparty, Counterparty::Account(acct(1)));
    ledger.check_conservation().unwrap();
}

#[test]
fn insufficient_funds_and_unknowns_move_nothing() {
    let mut ledger = small_world();
    let err = ledger.transfer(&acct(2), &Counterparty::Account(acct(3)), Fen::new(1), T0).unwrap_err();
    assert!(matches!(err, LedgerError::InsufficientFunds { .. }));
    let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(9)), Fen::new(1), T0).unwrap_err();
    assert_eq!(err, LedgerError::UnknownAccount(acct(9)));
    assert_eq!(ledger.balance(&acct(1)), Some(Fen::yuan(1000)));
    assert_eq!(ledger.statement(&acct(1)).unwrap().len(), 1);
}

#[test]
fn orders_settle_into_the_receiving_account_and_resolve() {
    let mut ledger = small_world();
    let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
    ledger.create_order(order.clone(), acct(2)).unwrap();
    let req = ResolveOrderRequest { request_id: "r1".into(), order: order.clone() };
    assert_eq!(ledger.resolve(&req).unwrap_err().kind, AdapterErrorKind::UnknownOrder);
    let id = ledger.transfer(&acct(1), &Counterparty::Order(order.clone()), Fen::yuan(200), T0 + 5).unwrap();
    let reply = ledger.resolve(&req).unwrap();
    assert_eq!(reply.account, acct(2));
    assert_eq!(reply.amount_fen, Fen::yuan(200));
    assert_eq!(reply.settled_at_ms, T0 + 5);
    assert_eq!(reply.transfer_id, id);
    assert_eq!(reply.payer.map(|p| p.expose().clone()), Some(acct(1)), "the platform names the account that paid");
    assert_eq!(ledger.balance(&acct(2)), Some(Fen::yuan(200)));
    let err = ledger.transfer(&acct(1), &Counterparty::Order(order.clone()), Fen::yuan(1), T0 + 6).unwrap_err();
    assert_eq!(err, LedgerError::OrderAlreadyPaid(order));
}

#[test]
fn cash_out_leaves_the_ledger_but_is_conserved() {
    let mut ledger = small_world();
    ledger.transfer(&acct(1), &Counterparty::CashOut("ATM".into()), Fen::yuan(100), T0 + 1).unwrap();
    assert_eq!(ledger.cashed_out(), Fen::yuan(100));
    assert_eq!(ledger.total_balances().unwrap(), Fen::yuan(900));
    ledger.check_conservation().unwrap();
}

#[test]
fn stop_blocks_until_it_lapses_and_is_idempotent() {
    let mut ledger = small_world();
    let reply = ledger.stop_payment(&stop_req("s1", "hangzhou", &acct(1)), T0 + 10).unwrap();
    assert_eq!(reply.stop_no, 1);
    assert_eq!(reply.held_fen, Fen::yuan(1000));
    assert_eq!(reply.stopped_at_ms, T0 + 10);
    assert_eq!(reply.expires_at_ms, T0 + 10 + limits::STOP_DURATION_MS);
    assert_eq!(reply.statement.len(), 1);
    assert!(ledger.is_stopped(&acct(1), T0 + 11));

    let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(1), T0 + 11).unwrap_err();
    assert!(matches!(err, LedgerError::Blocked { reason: BlockReason::Stopped { .. }, .. }));
    assert_eq!(ledger.balance(&acct(2)), Some(Fen::ZERO));

    // The same request again: the same reply, nothing applied.
    let again = ledger.stop_payment(&stop_req("s1", "hangzhou", &acct(1)), T0 + 99).unwrap();
    assert_eq!(again, reply);
    assert_eq!(ledger.duplicate_requests(), 1);
    assert_eq!(ledger.stops_applied(&city("hangzhou"), &acct(1)), 1);

    // After 48 h the money moves again.
    let after = T0 + 10 + limits::STOP_DURATION_MS;
    assert!(!ledger.is_stopped(&acct(1), after));
    ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(1), after).unwrap();
}

#[test]
fn a_center_may_stop_an_account_twice() {
    let mut ledger = small_world();
    assert_eq!(ledger.stop_payment(&stop_req("a", "hangzhou", &acct(1)), T0).unwrap().stop_no, 1);
    assert_eq!(ledger.stop_payment(&stop_req("b", "hangzhou", &acct(1)), T0 + 1).unwrap().stop_no, 2);
    let err = ledger.stop_payment(&stop_req("c", "hangzhou", &acct(1)), T0 + 2).unwrap_err();
    assert_eq!(err.kind, AdapterErrorKind::StopLimitReached);
    // Another center still may.
    assert_eq!(ledger.stop_payment(&stop_req("d", "ningbo", &acct(1)), T0 + 3).unwrap().stop_no, 1);
    assert_eq!(ledger.stops_applied(&city("hangzhou"), &acct(1)), 2);
    let err = ledger.stop_payment(&stop_req("e", "ningbo", &acct(9)), T0).unwrap_err();
    assert_eq!(err.kind, AdapterErrorKind::UnknownAccount);
    let err = ledger.stop_payment(&stop_req("", "ningbo", &acct(1)), T0).unwrap_err();
    assert_eq!(err.kind, AdapterErrorKind::InvalidRequest);
}

#[test]
fn statement_since_filters_by_time() {
    let mut ledger = small_world();
    ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(1), T0 + 100).unwrap();
    let mut req = stop_req("s", "hangzhou", &acct(1));
    req.since_ms = T0 + 100;
    let reply = ledger.stop_payment(&req, T0 + 200).unwrap();
    assert_eq!(reply.statement.len(), 1);
    assert_eq!(reply.statement[0].at_ms, T0 + 100);
    let flows = ledger.flows(&FlowsRequest { account: acct(1), since_ms: T0 + 101 }).unwrap();
    assert!(flows.statement.is_empty());
    assert_eq!(flows.balance_fen, Fen::yuan(999));
}

#[test]
fn the_audit_counts_repeated_ids_apart_and_sums_what_each_claims_freezes_held() {
    let mut ledger = small_world();
    let a = acct(1);
    for id in ["hz/stop1", "hz/stop1", "hz/stop2", "hz/stop3"] {
        let _ = ledger.stop_payment(&stop_req(id, "hangzhou", &a), T0);
    }
    ledger.freeze(&freeze_req("c/a/freeze", "hangzhou", &a, Fen::yuan(10)), T0).unwrap();
    ledger.freeze(&freeze_req("c/a/freeze", "hangzhou", &a, Fen::yuan(10)), T0).unwrap();
    let audit = ledger.hold_audit();
    assert_eq!(audit.repeated_requests, 2);
    assert_eq!((audit.stops_applied, audit.freezes_applied), (2, 1));
    assert_eq!(audit.stops_beyond_limit.len(), 1, "a third stop was asked for (and refused)");
    assert_eq!(audit.stops_beyond_limit[0].2.len(), 3);
    let key = (city("hangzhou"), case("hangzhou"), a.clone());
    assert_eq!(audit.freezes[&key], (1, Fen::yuan(10)));

    // The same freeze under another id holds the claim's money a second time.
    ledger.freeze(&freeze_req("c/a/freeze-again", "hangzhou", &a, Fen::yuan(10)), T0).unwrap();
    assert_eq!(ledger.hold_audit().freezes[&key], (2, Fen::yuan(20)));
}

#[test]
fn the_audit_lists_stop_ids_per_center_and_account_also_for_accounts_the_bank_does_not_hold() {
    let mut ledger = small_world();
    let (a, unknown) = (acct(1), acct(99));
    for (id, center, account) in [
        ("hz/a/stop1", "hangzhou", &a),
        ("wz/a/stop1", "wenzhou", &a),
        ("hz/a/stop2", "hangzhou", &a),
        ("hz/u/stop1", "hangzhou", &unknown),
        ("hz/u/stop2", "hangzhou", &unknown),
        ("hz/u/stop3", "hangzhou", &unknown),
        ("hz/u/stop3", "hangzhou", &unknown),
    ] {
        let _ = ledger.stop_payment(&stop_req(id, center, account), T0);
    }
    let audit = ledger.hold_audit();
    assert_eq!((audit.repeated_requests, audit.stops_applied), (1, 3));
    // Two from hangzhou and one from wenzhou on the held account are within the limit.
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        audit.stops_beyond_limit,
        vec![(city("hangzhou"), unknown, ids(&["hz/u/stop1", "hz/u/stop2", "hz/u/stop3"]))]
    );
}

#[test]
fn freeze_holds_money_and_later_claims_queue() {
    let mut ledger = small_world();
    let first = ledger.freeze(&freeze_req("f1", "hangzhou", &acct(1), Fen::yuan(600)), T0).unwrap();
    assert_eq!(first.status, FreezeStatus::Frozen);
    assert_eq!(first.frozen_fen, Fen::yuan(600));
    assert_eq!(first.expires_at_ms, T0 + limits::FREEZE_DURATION_MS);
    assert!(ledger.is_frozen(&acct(1), T0 + 1));

    // 400 yuan are free, the frozen 600 are not.
    ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(400), T0 + 1).unwrap();
    let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::new(1), T0 + 2).unwrap_err();
    assert!(matches!(err, LedgerError::Blocked { reason: BlockReason::Frozen { .. }, .. }));

    let second = ledger.freeze(&freeze_req("f2", "ningbo", &acct(1), Fen::yuan(50)), T0 + 3).unwrap();
    assert_eq!(second.status, FreezeStatus::Queued);
    assert_eq!(second.frozen_fen, Fen::ZERO);
    assert_eq!(second.queued_behind, Some(city("hangzhou")));
    assert_eq!(ledger.freeze(&freeze_req("f2", "ningbo", &acct(1), Fen::yuan(50)), T0 + 4).unwrap(), second);
    assert_eq!(ledger.duplicate_requests(), 1);
    let claims = ledger.freeze_claims(&acct(1));
    assert_eq!(claims.len(), 2);
    assert_eq!((claims[0].center.as_str(), claims[0].amount, claims[0].queued), ("hangzhou", Fen::yuan(600), false));
    assert_eq!((claims[1].center.as_str(), claims[1].amount, claims[1].queued), ("ningbo", Fen::yuan(50), true));

    // When the first freeze lapses the queued claim takes over.
    let lapse = T0 + limits::FREEZE_DURATION_MS;
    ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(550), lapse).unwrap();
    let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::new(1), lapse).unwrap_err();
    assert!(matches!(err, LedgerError::Blocked { reason: BlockReason::Frozen { .. }, .. }));
    ledger.check_conservation().unwrap();
}

#[test]
fn a_later_freeze_holds_what_is_still_free_and_only_a_claim_on_nothing_free_queues() {
    let mut ledger = small_world();
    // acct(1) holds 1000 yuan.
    let first = ledger.freeze(&freeze_req("a", "hangzhou", &acct(1), Fen::yuan(600)), T0).unwrap();
    assert_eq!((first.status, first.frozen_fen), (FreezeStatus::Frozen, Fen::yuan(600)));
    // Another case of the same center: 300 of the 400 still free.
    let second = ledger.freeze(&freeze_req("b", "hangzhou", &acct(1), Fen::yuan(300)), T0 + 1).unwrap();
    assert_eq!((second.status, second.frozen_fen, second.queued_behind), (FreezeStatus::Frozen, Fen::yuan(300), None));
    let err = ledger.transfer(&acct(1), &Counterparty::Account(acct(2)), Fen::yuan(101), T0 + 2).unwrap_err();
    assert!(
        matches!(err, LedgerError::Blocked { reason: BlockReason::Frozen { frozen, .. }, .. } if frozen == Fen::yuan(900))
    );
    // More is claimed than is free: the rest is held, and the reply says how much.
    let third = ledger.freeze(&freeze_req("c", "ningbo", &acct(1), Fen::yuan(200)), T0 + 3).unwrap();
    assert_eq!((third.status, third.frozen_fen), (FreezeStatus::Frozen, Fen::yuan(100)));
    // Nothing free: queued behind the first freeze.
    let fourth = ledger.freeze(&freeze_req("d", "ningbo", &acct(1), Fen::yuan(50)), T0 + 4).unwrap();
    assert_eq!((fourth.status, fourth.queued_behind), (FreezeStatus::Queued, Some(city("hangzhou"))));
    let claims = ledger.freeze_claims(&acct(1));
    let held: Vec<(u64, bool)> = claims.iter().map(|c| (c.amount.get(), c.queued)).collect();
    assert_eq!(held, vec![(60_000, false), (30_000, false), (10_000, false), (5_000, true)]);
    ledger.check_conservation().unwrap();
}

#[test]
fn freeze_holds_at_most_the_balance() {
    let mut ledger = small_world();
    let reply = ledger.freeze(&freeze_req("f", "hangzhou", &acct(2), Fen::yuan(10)), T0).unwrap();
    assert_eq!(reply.status, FreezeStatus::Frozen);
    assert_eq!(reply.frozen_fen, Fen::ZERO);
}

/// One random operation on a five-account ledger.
#[derive(Debug, Clone)]
enum Op {
    Deposit(u32, u64),
    Transfer(u32, u32, u64),
    CashOut(u32, u64),
    PayOrder(u32, u32, u64),
    Stop(u32, u8),
    Freeze(u32, u8, u64),
    /// A return from the first account to the second, asked by a center.
    Return(u32, u32, u8, u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u32..=5, 1u64..1_000_000).prop_map(|(a, x)| Op::Deposit(a, x)),
        (1u32..=5, 1u32..=5, 1u64..1_000_000).prop_map(|(a, b, x)| Op::Transfer(a, b, x)),
        (1u32..=5, 1u64..1_000_000).prop_map(|(a, x)| Op::CashOut(a, x)),
        (1u32..=5, 1u32..=5, 1u64..1_000_000).prop_map(|(a, b, x)| Op::PayOrder(a, b, x)),
        (1u32..=5, 0u8..3).prop_map(|(a, c)| Op::Stop(a, c)),
        (1u32..=5, 0u8..3, 0u64..1_000_000).prop_map(|(a, c, x)| Op::Freeze(a, c, x)),
        (1u32..=5, 1u32..=5, 0u8..3, 0u64..1_000_000).prop_map(|(a, b, c, x)| Op::Return(a, b, c, x)),
    ]
}

proptest! {
    #[test]
    fn money_is_conserved_and_blocked_transfers_move_nothing(ops in proptest::collection::vec(op(), 1..80)) {
        let centers = ["hangzhou", "ningbo", "wenzhou"];
        let mut ledger = Ledger::new();
        for n in 1..=5 {
            ledger.open_account(acct(n)).unwrap();
        }
        for (i, op) in ops.into_iter().enumerate() {
            // An hour between operations, so stop-payments lapse now and then.
            let now = T0 + i as u64 * 3_600_000;
            let before: Vec<Option<Fen>> = (1..=5).map(|n| ledger.balance(&acct(n))).collect();
            let refused = match op {
                Op::Deposit(a, x) => ledger.deposit(&acct(a), Fen::new(x), now).is_err(),
                Op::Transfer(a, b, x) => {
                    ledger.transfer(&acct(a), &Counterparty::Account(acct(b)), Fen::new(x), now).is_err()
                }
                Op::CashOut(a, x) => {
                    ledger.transfer(&acct(a), &Counterparty::CashOut("ATM".into()), Fen::new(x), now).is_err()
                }
                Op::PayOrder(a, b, x) => {
                    let order = PaymentOrderRef::parse(&format!("alipay:{i:08}")).unwrap();
                    ledger.create_order(order.clone(), acct(b)).unwrap();
                    ledger.transfer(&acct(a), &Counterparty::Order(order), Fen::new(x), now).is_err()
                }
                Op::Stop(a, c) => {
                    let _ = ledger.stop_payment(&stop_req(&format!("s{i}"), centers[usize::from(c)], &acct(a)), now);
                    false
                }
                Op::Freeze(a, c, x) => {
                    let req = freeze_req(&format!("f{i}"), centers[usize::from(c)], &acct(a), Fen::new(x));
                    let _ = ledger.freeze(&req, now);
                    false
                }
                Op::Return(a, b, c, x) => {
                    let center = city(centers[usize::from(c)]);
                    let frozen = ledger.frozen_for(&center, &acct(a), now);
                    let total = ledger.total_balances().unwrap();
                    let req = protocol::adapter::ReturnRequest {
                        request_id: format!("r{i}"),
                        case_id: CaseId::derive(&center, 7),
                        center,
                        account: acct(a),
                        to_account: domain::Sensitive::new(acct(b)),
                        amount_fen: Fen::new(x),
                        allocation: format!("a{i}"),
                    };
                    let returned = ledger.return_money(&req, now);
                    // At most what the center froze there; a return between held accounts
                    // changes no total.
                    prop_assert_eq!(returned.is_ok(), a != b && x > 0 && Fen::new(x) <= frozen);
                    prop_assert_eq!(ledger.total_balances().unwrap(), total);
                    returned.is_err()
                }
            };
            if refused {
                let after: Vec<Option<Fen>> = (1..=5).map(|n| ledger.balance(&acct(n))).collect();
                prop_assert_eq!(before, after);
            }
            prop_assert!(ledger.check_conservation().is_ok());
        }
        for n in 1..=5 {
            // Every statement's last balance is the balance.
            let account = acct(n);
            let last = ledger.statement(&account).unwrap().last().map_or(Fen::ZERO, |e| e.balance_after_fen);
            prop_assert_eq!(Some(last), ledger.balance(&account));
        }
    }
}

mod restrictions {
    //! Blocking's restrictions of an account: the transfers that need a cut channel are refused
    //! as a hold refuses them; a repeat is answered once; the counter's cash stays.

    use domain::{AccountRef, City, Fen};
    use protocol::adapter::{AccountRestrictRequest, AdapterErrorKind, Counterparty};
    use protocol::carrier::{BankChannels, Channel, RequestId};

    use crate::ledger::{BlockReason, Ledger, LedgerError};

    const T0: u64 = 1_763_700_000_000;

    fn mule() -> AccountRef {
        AccountRef::parse("icbc:6222020200001234").unwrap()
    }

    fn next() -> AccountRef {
        AccountRef::parse("ccb:6217000011112222").unwrap()
    }

    fn ledger() -> Ledger {
        let mut ledger = Ledger::new();
        ledger.open_account(mule()).unwrap();
        ledger.open_account(next()).unwrap();
        ledger.deposit(&mule(), Fen::yuan(1_000), T0).unwrap();
        ledger
    }

    fn request(id: &str, channels: &[Channel]) -> AccountRestrictRequest {
        AccountRestrictRequest {
            request_id: RequestId::parse(id).unwrap(),
            center: City::parse("huzhou").unwrap(),
            account: mule(),
            channels: BankChannels::new(channels.to_vec()).unwrap(),
        }
    }

    #[test]
    fn a_pool_account_cannot_forward_online_pay_or_cash_out() {
        let mut ledger = ledger();
        let reply = ledger.restrict(&request("r1", &Channel::BANK_POOL), T0 + 1).unwrap();
        assert_eq!(reply.restricted, Channel::BANK_POOL);
        assert_eq!(ledger.restrict(&request("r1", &Channel::BANK_POOL), T0 + 9).unwrap(), reply, "answered once");
        for to in [Counterparty::Account(next()), Counterparty::CashOut("ATM".into())] {
            let refused = ledger.transfer(&mule(), &to, Fen::yuan(10), T0 + 2).unwrap_err();
            assert!(
                matches!(&refused, LedgerError::Blocked { reason: BlockReason::Restricted { .. }, .. }),
                "{refused}"
            );
            assert!(refused.to_string().contains("restricted by huzhou"), "{refused}");
        }
        assert_eq!(ledger.balance(&mule()), Some(Fen::yuan(1_000)), "nothing moved");

        ledger.unrestrict(&request("u1", &Channel::BANK_POOL), T0 + 3).unwrap();
        assert!(ledger.restricted(&mule()).is_empty());
        ledger.transfer(&mule(), &Counterparty::Account(next()), Fen::yuan(10), T0 + 4).unwrap();
    }

    #[test]
    fn a_mule_uses_whichever_online_channel_is_left() {
        let mut ledger = ledger();
        ledger.restrict(&request("r1", &[Channel::OnlineBanking]), T0).unwrap();
        ledger.transfer(&mule(), &Counterparty::Account(next()), Fen::yuan(10), T0 + 1).unwrap();
        ledger.restrict(&request("r2", &[Channel::MobileBanking]), T0 + 2).unwrap();
        assert!(ledger.transfer(&mule(), &Counterparty::Account(next()), Fen::yuan(10), T0 + 3).is_err());
    }

    #[test]
    fn an_unknown_account_is_refused_and_nothing_is_recorded() {
        let mut ledger = Ledger::new();
        let error = ledger.restrict(&request("r1", &Channel::BANK_POOL), T0).unwrap_err();
        assert_eq!(error.kind, AdapterErrorKind::UnknownAccount);
        assert!(ledger.restricted(&mule()).is_empty());
    }
}
