//! What the core must never do, whatever comes in: apply a report that does not add up, or
//! panic.

use super::*;

#[test]
fn a_report_whose_transfers_do_not_add_up_to_its_loss_is_refused_for_good() {
    let mut state = State::default();
    let transfers = |amounts: &[u64]| {
        amounts
            .iter()
            .map(|&a| Transfer {
                from_account: None,
                to: Destination::Account(account(1)),
                amount: Fen::new(a),
                at_ms: 5,
            })
            .collect()
    };
    let cases = [
        (transfers(&[500, 700]), 1_000, "add up to"),
        (transfers(&[u64::MAX, 2]), 1, "more than 64 bits"),
        (
            transfers(&[1; domain::report::MAX_TRANSFERS + 1]),
            domain::report::MAX_TRANSFERS as u64 + 1,
            "transfers, at most",
        ),
    ];
    for (transfers, loss, why) in cases {
        let input =
            Input::CaseReported { case_id: case(), reported_at_ms: 900, transfers, reported_loss: Fen::new(loss) };
        let refused = step(&mut state, &CoreConfig::default(), input, 1_000).unwrap_err();
        assert!(refused.is_poison(), "{refused}");
        assert!(refused.to_string().contains(why), "{refused}");
        assert!(state.cases.is_empty(), "nothing of it applied");
    }
    assert!(!Rejection::AlreadyTraced { case_id: case() }.is_poison(), "a repeat is not poison");
}

mod properties {
    //! Whatever a report and a bank's statement say, the core refuses or decides: it never
    //! panics (a panic would stop the service, and the restart would meet the same input).

    use proptest::prelude::*;

    use super::*;

    fn transfers() -> impl Strategy<Value = Vec<Transfer>> {
        proptest::collection::vec((1u32..4, any::<u64>()), 1..6).prop_map(|legs| {
            legs.into_iter()
                .map(|(n, amount)| Transfer {
                    from_account: None,
                    to: Destination::Account(account(n)),
                    amount: Fen::new(amount),
                    at_ms: 5,
                })
                .collect()
        })
    }

    fn statement() -> impl Strategy<Value = Vec<StatementEntry>> {
        proptest::collection::vec((any::<bool>(), any::<u64>(), any::<u64>(), 0u8..3, 1u32..50), 0..20).prop_map(
            |entries| {
                entries
                    .into_iter()
                    .enumerate()
                    .map(|(i, (incoming, amount, balance, kind, n))| {
                        let to = match kind {
                            0 => Counterparty::Account(account(n)),
                            1 => Counterparty::Order(PaymentOrderRef::parse(&format!("alipay:ord{n:06}")).unwrap()),
                            _ => Counterparty::CashOut("atm".into()),
                        };
                        let direction = if incoming { Direction::In } else { Direction::Out };
                        entry(direction, amount, balance, to, &format!("t{i}"))
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn arbitrary_reports_and_statements_are_decided_or_refused_without_a_panic(
            transfers in transfers(),
            loss in any::<u64>(),
            exact in any::<bool>(),
            held in any::<u64>(),
            entries in statement(),
        ) {
            let mut state = State::default();
            let config = CoreConfig::default();
            // Half the reports state the loss their transfers add up to, when it fits.
            let total = Fen::sum(transfers.iter().map(|t| t.amount)).ok();
            let reported_loss = match (exact, total) {
                (true, Some(total)) => total,
                _ => Fen::new(loss),
            };
            let report = Input::CaseReported { case_id: case(), reported_at_ms: 900, transfers, reported_loss };
            if step(&mut state, &config, report, 1_000).is_ok() {
                for hop in state.cases[&case()].hops.keys().copied().collect::<Vec<_>>() {
                    let statement = Statement { stop_no: 1, held: Fen::new(held), expires_at_ms: 2_000, since_ms: 0, entries: entries.clone() };
                    let answer = Input::AccountAnswered { case_id: case(), hop, asked_at_ms: 0, result: Ok(statement) };
                    let _ = step(&mut state, &config, answer, 1_100);
                }
            }
        }
    }
}
