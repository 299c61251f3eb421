//! Given an account several cases' money reached, when a case reads it: the tracing rule
//! runs over every case in it, earlier claims are revised and the money that left is
//! followed for the cases it carried.

use super::*;
use crate::rule::TracingRule;

/// Case A (two transfers: 1,000 into the mule, account 1, and 2,000 into account 2, whose
/// bank has not answered) and case B (3,000 into the mule).
fn two_victims(state: &mut State, config: &CoreConfig) -> (CaseId, CaseId) {
    let (a, b) = (case(), CaseId::derive(&City::parse("huzhou").unwrap(), 2));
    let transfers = vec![
        Transfer { from_account: None, to: Destination::Account(account(1)), amount: Fen::new(1_000), at_ms: 10 },
        Transfer { from_account: None, to: Destination::Account(account(2)), amount: Fen::new(2_000), at_ms: 10 },
    ];
    check(
        state,
        config,
        Input::CaseReported { case_id: a.clone(), reported_at_ms: 900, transfers, reported_loss: Fen::new(3_000) },
    );
    let transfers =
        vec![Transfer { from_account: None, to: Destination::Account(account(1)), amount: Fen::new(3_000), at_ms: 10 }];
    check(
        state,
        config,
        Input::CaseReported { case_id: b.clone(), reported_at_ms: 950, transfers, reported_loss: Fen::new(3_000) },
    );
    (a, b)
}

/// The mule's statement: A's 1,000 (`ta`), B's 3,000 (`tb`), then 2,000 on to account 3.
fn mule_statement() -> Vec<StatementEntry> {
    vec![
        entry(Direction::In, 1_000, 1_000, Counterparty::Account(account(90)), "ta"),
        entry(Direction::In, 3_000, 4_000, Counterparty::Account(account(91)), "tb"),
        entry(Direction::Out, 2_000, 2_000, Counterparty::Account(account(3)), "out"),
    ]
}

fn mule_answered(case_id: &CaseId, stop_no: u8) -> Input {
    let statement = Statement {
        stop_no,
        held: Fen::new(2_000),
        expires_at_ms: 200_000_000,
        since_ms: 0,
        entries: mule_statement(),
    };
    Input::AccountAnswered { case_id: case_id.clone(), hop: 1, asked_at_ms: 0, result: Ok(statement) }
}

#[test]
fn given_a_mule_holding_two_victims_money_when_the_second_reads_it_then_each_claims_its_share() {
    let config = libr();
    let mut state = State::default();
    let (a, b) = two_victims(&mut state, &config);
    // A alone takes B's money (unknown to it) as leaving first: it claims all its 1,000.
    let (events, _) = check(&mut state, &config, mule_answered(&a, 1));
    assert!(
        matches!(&events[0], FreezingEvent::AccountStopped { claim_fen, onward, .. } if *claim_fen == Fen::new(1_000) && onward.is_empty()),
        "{events:?}"
    );
    // B's reading is asked from before A's arrival too, so the rule sees both.
    // Then B reads it: the 2,000 that left carried 500 of A's and 1,500 of B's.
    let (events, actions) = check(&mut state, &config, mule_answered(&b, 0));
    let FreezingEvent::AccountStopped { case_id, claim_fen, onward, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!((case_id, *claim_fen), (&b, Fen::new(1_500)));
    assert_eq!(
        onward.iter().map(|l| (l.to.clone(), l.amount_fen)).collect::<Vec<_>>(),
        vec![(Destination::Account(account(3)), Fen::new(1_500))]
    );
    let revised = events.iter().find(|e| matches!(e, FreezingEvent::ClaimRevised { .. }));
    let Some(FreezingEvent::ClaimRevised { case_id, previous_fen, claim_fen, by_case, .. }) = revised else {
        panic!("{events:?}")
    };
    assert_eq!((case_id, *previous_fen, *claim_fen, by_case), (&a, Fen::new(1_000), Fen::new(500), &b));
    // A's trace is not complete (account 2 has not answered): its 500 is followed too.
    let a_hop = events.iter().find_map(|e| match e {
        FreezingEvent::HopOpened { case_id, hop, parent, traced_fen, target, .. } if *case_id == a => {
            Some((*hop, *parent, *traced_fen, target.clone()))
        }
        _ => None,
    });
    assert_eq!(a_hop, Some((3, Some(1), Fen::new(500), Destination::Account(account(3)))));
    assert!(
        actions
            .iter()
            .any(|x| matches!(x, Action::Stop { case_id, account: to, .. } if *case_id == a && *to == account(3))),
        "{actions:?}"
    );
    // The claims on the mule add up to what it holds; A's freeze asks for its share.
    let hold = &state.holds[&account(1)];
    assert_eq!((hold.claims[&a], hold.claims[&b]), (Fen::new(500), Fen::new(1_500)));
    assert_eq!(state.cases[&a].claimed, Fen::new(500));
    let Step { actions, .. } =
        step(&mut state, &config, Input::ConversionDue { case_id: a.clone(), account: account(1) }, 2_000).unwrap();
    assert!(matches!(&actions[..], [Action::Freeze { amount, .. }] if *amount == Fen::new(500)), "{actions:?}");
}

#[test]
fn a_reading_asks_for_the_statement_from_the_earliest_arrival_of_every_case_in_the_account() {
    let config = CoreConfig::default();
    let mut state = State::default();
    let a = case();
    let transfers = vec![Transfer {
        from_account: None,
        to: Destination::Account(account(1)),
        amount: Fen::new(1_000),
        at_ms: 10 * HOUR,
    }];
    check(
        &mut state,
        &config,
        Input::CaseReported {
            case_id: a.clone(),
            reported_at_ms: 11 * HOUR,
            transfers,
            reported_loss: Fen::new(1_000),
        },
    );
    let entries = vec![entry(Direction::In, 1_000, 1_000, Counterparty::Account(account(90)), "ta")];
    let statement =
        Statement { stop_no: 1, held: Fen::new(1_000), expires_at_ms: 60 * HOUR, since_ms: 9 * HOUR, entries };
    check(&mut state, &config, Input::AccountAnswered { case_id: a, hop: 1, asked_at_ms: 0, result: Ok(statement) });
    let b = CaseId::derive(&City::parse("huzhou").unwrap(), 2);
    let transfers = vec![Transfer {
        from_account: None,
        to: Destination::Account(account(1)),
        amount: Fen::new(500),
        at_ms: 20 * HOUR,
    }];
    let Step { actions, .. } = step(
        &mut state,
        &config,
        Input::CaseReported { case_id: b, reported_at_ms: 21 * HOUR, transfers, reported_loss: Fen::new(500) },
        21 * HOUR,
    )
    .unwrap();
    assert!(
        matches!(&actions[..], [Action::Read { since_ms, .. }] if *since_ms == 9 * HOUR),
        "from A's window: {actions:?}"
    );
}

#[test]
fn a_claim_revised_below_what_was_frozen_for_it_awaits_no_freeze_and_one_revised_above_gets_one() {
    let config = libr();
    let mut state = State::default();
    let (a, b) = two_victims(&mut state, &config);
    check(&mut state, &config, mule_answered(&a, 1));
    let frozen = FreezeReply {
        status: FreezeStatus::Frozen,
        frozen_fen: Fen::new(1_000),
        expires_at_ms: 9_000_000,
        frozen_at_ms: 1_000,
        queued_behind: None,
    };
    check(
        &mut state,
        &config,
        Input::FreezeAnswered {
            request_id: String::new(),
            case_id: a.clone(),
            account: account(1),
            result: Ok(frozen),
        },
    );
    assert!(!state.conversions.contains_key(&(a.clone(), account(1))));
    check(&mut state, &config, mule_answered(&b, 0));
    assert_eq!(state.holds[&account(1)].claims[&a], Fen::new(500));
    assert!(!state.conversions.contains_key(&(a.clone(), account(1))), "frozen past its claim: nothing to freeze");
    // A revision that raises the claim within what is frozen for it asks for nothing more.
    let revised = |previous, claim| revision(&a, &b, previous, claim);
    apply(&mut state, &revised(500, 800));
    assert!(!state.conversions.contains_key(&(a.clone(), account(1))), "the 1,000 frozen holds the 800");
    // One beyond it asks for a freeze of the part beyond, under an id never used for the case.
    apply(&mut state, &revised(800, 1_200));
    assert_eq!(state.conversions[&(a.clone(), account(1))].frozen, Fen::new(1_000));
    let Step { actions, .. } =
        step(&mut state, &config, Input::ConversionDue { case_id: a.clone(), account: account(1) }, 4_000).unwrap();
    let [Action::Freeze { amount, request_id, .. }] = &actions[..] else { panic!("{actions:?}") };
    assert_eq!(
        (*amount, request_id.as_str()),
        (Fen::new(200), freeze_request_id(&a, &account(1), 1, Fen::new(1_000)).as_str())
    );
}

#[test]
fn a_claim_settled_by_a_queued_freeze_revised_down_and_up_again_is_not_asked_for_under_an_id_used_before() {
    // A's freeze of 1,000 is queued (settled, nothing frozen); revised down to 600 and up to
    // 900 again: within what was settled, nothing is asked for again; past it, from 1,000.
    let config = libr();
    let mut state = State::default();
    let (a, b) = two_victims(&mut state, &config);
    check(&mut state, &config, mule_answered(&a, 1));
    let queued = FreezeReply {
        status: FreezeStatus::Queued,
        frozen_fen: Fen::ZERO,
        expires_at_ms: 9_000_000,
        frozen_at_ms: 1_000,
        queued_behind: Some(City::parse("wenzhou").unwrap()),
    };
    let answer = Input::FreezeAnswered {
        request_id: String::new(),
        case_id: a.clone(),
        account: account(1),
        result: Ok(queued),
    };
    check(&mut state, &config, answer);
    let revised = |previous, claim| revision(&a, &b, previous, claim);
    apply(&mut state, &revised(1_000, 600));
    apply(&mut state, &revised(600, 900));
    assert!(
        !state.conversions.contains_key(&(a.clone(), account(1))),
        "asking again under `after600` would repeat nothing the bank has not answered"
    );
    apply(&mut state, &revised(900, 1_100));
    assert_eq!(state.conversions[&(a.clone(), account(1))].frozen, Fen::new(1_000));
}

#[test]
fn by_pro_rata_each_case_claims_its_share_alone_and_a_later_reading_revises_nothing() {
    let config = CoreConfig::default();
    assert_eq!(config.rule, TracingRule::ProRata);
    let mut state = State::default();
    let (a, b) = two_victims(&mut state, &config);
    // A alone: half the balance left, half of A's money with it (B's is the rest of it).
    let (events, _) = check(&mut state, &config, mule_answered(&a, 1));
    let FreezingEvent::AccountStopped { claim_fen, onward, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(
        (*claim_fen, onward.iter().map(|l| l.amount_fen).collect::<Vec<_>>()),
        (Fen::new(500), vec![Fen::new(500)])
    );
    let (events, _) = check(&mut state, &config, mule_answered(&b, 0));
    assert!(!events.iter().any(|e| matches!(e, FreezingEvent::ClaimRevised { .. })), "{events:?}");
    let hold = &state.holds[&account(1)];
    assert_eq!((hold.claims[&a], hold.claims[&b]), (Fen::new(500), Fen::new(1_500)));
}

/// `claim_revised` of `case`'s claim on the mule from `previous` to `claim`, by `by`'s reading.
fn revision(case: &CaseId, by: &CaseId, previous: u64, claim: u64) -> FreezingEvent {
    FreezingEvent::ClaimRevised {
        case_id: case.clone(),
        account: account(1),
        previous_fen: Fen::new(previous),
        claim_fen: Fen::new(claim),
        by_case: by.clone(),
        by_hop: 1,
        revised_at_ms: 3_000,
    }
}

/// Lowest intermediate balance: each case alone takes the other victims' money as leaving
/// first, so readings revise the claims.
fn libr() -> CoreConfig {
    CoreConfig { rule: TracingRule::LowestIntermediateBalance, ..CoreConfig::default() }
}

const HOUR: u64 = 3_600_000;

mod many_victims {
    use proptest::prelude::*;

    use super::*;
    use crate::rule;

    /// Cases 0..n each paying into the mule (account 1), its statement (their arrivals, other
    /// money and outflows, mixed), its balance at the end, and an order for the cases to read it.
    fn arb_mule() -> impl Strategy<Value = (Vec<u64>, Vec<StatementEntry>, u64, Vec<usize>)> {
        (2usize..8).prop_flat_map(|n| {
            let amounts = proptest::collection::vec(100u64..50_000, n);
            let steps = proptest::collection::vec((0u8..3, 1u64..40_000), 0..12);
            let order = Just((0..n).collect::<Vec<_>>()).prop_shuffle();
            (amounts, steps, order, 0u64..20_000).prop_map(|(amounts, steps, order, before)| {
                let mut balance = before;
                let mut statement = Vec::new();
                let mut step_at = steps.into_iter().peekable();
                for (i, amount) in amounts.iter().enumerate() {
                    balance += amount;
                    // Each victim's payment at a time of its own: two payments alike in amount,
                    // time and payer cannot be told apart by anyone, so which is whose is not
                    // the rule's to decide.
                    let at_ms = arrival_at(i);
                    statement.push(StatementEntry {
                        at_ms,
                        ..entry(Direction::In, *amount, balance, Counterparty::Account(account(90)), &format!("v{i}"))
                    });
                    // Other money in, or money out, between the victims' payments.
                    if let Some((kind, amount)) = step_at.next() {
                        let id = format!("s{}", statement.len());
                        if kind == 0 {
                            balance += amount;
                            let other = Counterparty::Account(account(91));
                            statement
                                .push(StatementEntry { at_ms, ..entry(Direction::In, amount, balance, other, &id) });
                        } else {
                            let amount = amount.min(balance);
                            balance -= amount;
                            let to = Counterparty::Account(account(100 + statement.len() as u32));
                            statement.push(StatementEntry { at_ms, ..entry(Direction::Out, amount, balance, to, &id) });
                        }
                    }
                }
                (amounts, statement, balance, order)
            })
        })
    }

    /// When victim `i` paid the mule.
    fn arrival_at(i: usize) -> TimeMs {
        10 + i as TimeMs
    }

    fn victim(i: usize) -> CaseId {
        CaseId::derive(&City::parse("huzhou").unwrap(), 100 + i as u64)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn whatever_order_the_cases_read_a_mule_in_their_claims_end_as_the_rule_splits_it_over_all_of_them(
            (amounts, statement, held, order) in arb_mule(),
            lowest in any::<bool>(),
        ) {
            let config = if lowest { libr() } else { CoreConfig::default() };
            let mut state = State::default();
            for (i, amount) in amounts.iter().enumerate() {
                let transfers = vec![Transfer { from_account: None, to: Destination::Account(account(1)), amount: Fen::new(*amount), at_ms: arrival_at(i) }];
                let report = Input::CaseReported { case_id: victim(i), reported_at_ms: 900, transfers, reported_loss: Fen::new(*amount) };
                check(&mut state, &config, report);
            }
            for (nth, i) in order.iter().enumerate() {
                let stop_no = u8::from(nth == 0);
                let statement = Statement { stop_no, held: Fen::new(held), expires_at_ms: 9_000_000, since_ms: 0, entries: statement.clone() };
                check(&mut state, &config, Input::AccountAnswered { case_id: victim(*i), hop: 1, asked_at_ms: 0, result: Ok(statement) });
                let claims = Fen::sum(state.holds[&account(1)].claims.values().copied()).unwrap();
                prop_assert!(claims <= Fen::new(held), "after {} readings the claims {claims} exceed the {held} held", nth + 1);
            }
            // Every case ends with its share as the rule splits the mule over all of them
            // (listed in another order, a tie may move a fen per outflow).
            let arrivals: Vec<(usize, rule::Arrival)> = amounts.iter().enumerate()
                .map(|(i, a)| (i, rule::Arrival { transfer_id: None, amount: Fen::new(*a), at_ms: arrival_at(i) })).collect();
            let splits = rule::split_joint(config.rule, amounts.len(), &arrivals, &statement, Fen::new(held));
            let outflows = statement.iter().filter(|e| e.direction == Direction::Out).count() as u64 + 1;
            let hold = &state.holds[&account(1)];
            for (i, split) in splits.iter().enumerate() {
                let claim = hold.claims.get(&victim(i)).copied().unwrap_or(Fen::ZERO);
                prop_assert!(claim.get().abs_diff(split.claim.get()) <= outflows, "case {i}: {claim} against {}", split.claim);
            }
            let claims = Fen::sum(hold.claims.values().copied()).unwrap();
            prop_assert_eq!(claims, Fen::sum(splits.iter().map(|s| s.claim)).unwrap());
        }
    }
}

#[test]
fn a_reading_whose_statement_misses_the_cases_earlier_money_there_leaves_that_claim_as_it_stands() {
    // A claims 1,000 of the mule; then more of A's money (500, transfer `late`) reaches it
    // and the mule is read again, but the bank's statement starts after A's first arrival.
    let config = libr();
    let mut state = State::default();
    let (a, _) = two_victims(&mut state, &config);
    let first = vec![entry(Direction::In, 1_000, 1_000, Counterparty::Account(account(90)), "ta")];
    let statement =
        Statement { stop_no: 1, held: Fen::new(1_000), expires_at_ms: 9_000_000, since_ms: 0, entries: first };
    check(
        &mut state,
        &config,
        Input::AccountAnswered { case_id: a.clone(), hop: 1, asked_at_ms: 0, result: Ok(statement) },
    );
    let forwards = vec![
        entry(Direction::In, 2_000, 2_000, Counterparty::Account(account(91)), "t2"),
        entry(Direction::Out, 500, 1_500, Counterparty::Account(account(1)), "late"),
    ];
    let statement =
        Statement { stop_no: 1, held: Fen::new(1_500), expires_at_ms: 9_000_000, since_ms: 0, entries: forwards };
    let (_, actions) = check(
        &mut state,
        &config,
        Input::AccountAnswered { case_id: a.clone(), hop: 2, asked_at_ms: 0, result: Ok(statement) },
    );
    let Some(Action::Read { hop, .. }) =
        actions.iter().find(|x| matches!(x, Action::Read { case_id, .. } if *case_id == a))
    else {
        panic!("{actions:?}")
    };
    let late = vec![entry(Direction::In, 500, 1_500, Counterparty::Account(account(2)), "late")];
    let statement =
        Statement { stop_no: 0, held: Fen::new(1_500), expires_at_ms: 9_000_000, since_ms: 5 * HOUR, entries: late };
    let (events, _) = check(
        &mut state,
        &config,
        Input::AccountAnswered { case_id: a.clone(), hop: *hop, asked_at_ms: 0, result: Ok(statement) },
    );
    assert!(
        !events.iter().any(|e| matches!(e, FreezingEvent::ClaimRevised { .. })),
        "the earlier claim stands: {events:?}"
    );
    let FreezingEvent::AccountStopped { claim_fen, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(*claim_fen, Fen::new(500), "the late money is claimed beside it");
    assert_eq!(state.holds[&account(1)].claims[&a], Fen::new(1_500));
}
