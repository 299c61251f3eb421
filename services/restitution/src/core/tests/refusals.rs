//! Bad input is refused with a typed reason naming the field, the value and what is
//! accepted: nothing is allocated from it.

use super::*;

fn refused(account: &FrozenAccount, rule: Rule) -> Refusal {
    allocate(account, rule, NOW).expect_err("bad input must be refused")
}

fn one_victim() -> FrozenAccount {
    frozen(1_000, None, vec![claim(1, vec![deposit(1_000, 0, None)])])
}

#[test]
fn no_victims_is_refused() {
    let refusal = refused(&frozen(1_000, None, vec![]), Rule::ProRata);
    assert_eq!((refusal.reason, refusal.field.as_str(), refusal.value.as_str()), (Reason::NoVictims, "claims", "[]"));
}

#[test]
fn nothing_frozen_is_refused() {
    let mut account = one_victim();
    account.frozen_fen = Fen::ZERO;
    let refusal = refused(&account, Rule::TimestampTrace);
    assert_eq!((refusal.reason, refusal.field.as_str()), (Reason::NothingFrozen, "frozen_fen"));
    assert_eq!(refusal.to_string(), "frozen_fen = 0: expected money frozen on the account (at least 1 fen)");
}

#[test]
fn a_deposit_in_the_future_is_refused_and_a_clock_a_minute_fast_is_not() {
    let mut account = one_victim();
    account.claims[0].deposits[0].at_ms = NOW + 60 * MINUTE_MS;
    let refusal = refused(&account, Rule::ProRata);
    assert_eq!((refusal.reason, refusal.field.as_str()), (Reason::InTheFuture, "claims[0].deposits[0].at_ms"));
    assert_eq!(refusal.value, (NOW + 60 * MINUTE_MS).to_string());
    assert!(refusal.expected.contains(&NOW.to_string()), "{}", refusal.expected);
    account.claims[0].deposits[0].at_ms = NOW + MINUTE_MS;
    assert!(allocate(&account, Rule::ProRata, NOW).is_ok());
}

#[test]
fn a_statement_entry_in_the_future_is_refused() {
    let mut account = one_victim();
    let mut lines = statement(0, &[(0, IN, 1_000, "t-1")]);
    lines[0].at_ms = NOW + 24 * 60 * MINUTE_MS;
    account.statement = Some(lines);
    let refusal = refused(&account, Rule::TimestampTrace);
    assert_eq!((refusal.reason, refusal.field.as_str()), (Reason::InTheFuture, "statement[0].at_ms"));
}

#[test]
fn a_case_claimed_twice_is_refused() {
    let claims = vec![
        claim(1, vec![deposit(1_000, 0, None)]),
        claim(2, vec![deposit(2_000, 0, None)]),
        claim(1, vec![deposit(3_000, 5, None)]),
    ];
    let refusal = refused(&frozen(1_000, None, claims), Rule::ProRata);
    assert_eq!((refusal.reason, refusal.field.as_str()), (Reason::DuplicateCase, "claims[2].case_id"));
    assert_eq!(refusal.value, case(1).to_string());
    assert!(refusal.expected.contains("claims[0]"), "{}", refusal.expected);
}

#[test]
fn one_transfer_claimed_twice_by_one_victim_is_refused() {
    let claims = vec![claim(1, vec![deposit(1_000, 0, Some("t-1")), deposit(500, 1, Some("t-1"))])];
    let refusal = refused(&frozen(1_000, None, claims), Rule::ProRata);
    assert_eq!(
        (refusal.reason, refusal.field.as_str()),
        (Reason::DuplicateTransfer, "claims[0].deposits[1].transfer_id")
    );
}

#[test]
fn one_transfer_carrying_two_victims_money_is_each_victims_part_by_every_rule() {
    // A mule forwarded 1,500 fen in one transfer: 1,000 of victim 1's money, 500 of victim 2's.
    let statement = statement(0, &[(10, Direction::In, 1_500, "t-1")]);
    let claims = vec![claim(1, vec![deposit(1_000, 10, Some("t-1"))]), claim(2, vec![deposit(500, 10, Some("t-1"))])];
    let account = frozen(1_500, Some(statement), claims);
    for rule in Rule::ALL {
        let allocation = check(&account, rule);
        let shares: Vec<u64> = allocation.shares.iter().map(|s| s.fen.get()).collect();
        assert_eq!(shares, [1_000, 500], "{rule:?}");
        for share in &allocation.shares {
            assert!(matches!(share.deposits[0].found, Found::Entry { index: 0 }), "{rule:?}: found at the one entry");
        }
    }
}

#[test]
fn a_claim_without_deposits_or_with_a_zero_deposit_or_no_loss_is_refused() {
    let mut account = one_victim();
    account.claims[0].deposits.clear();
    assert_eq!(refused(&account, Rule::ProRata).reason, Reason::NoDeposits);
    let mut account = one_victim();
    account.claims[0].deposits[0].amount_fen = Fen::ZERO;
    assert_eq!(refused(&account, Rule::ProRata).field, "claims[0].deposits[0].amount_fen");
    let mut account = one_victim();
    account.claims[0].traced_loss_fen = Fen::ZERO;
    assert_eq!(refused(&account, Rule::ProRata).reason, Reason::NoLoss);
}

#[test]
fn more_allocated_elsewhere_than_the_victim_lost_is_refused() {
    let mut account = one_victim();
    account.claims[0].allocated_elsewhere_fen = Fen::new(1_001);
    let refusal = refused(&account, Rule::ProRata);
    assert_eq!((refusal.reason, refusal.value.as_str()), (Reason::ElsewhereExceedsLoss, "1001"));
    assert_eq!(refusal.expected, "at most the traced loss, 1000 fen");
}

#[test]
fn sums_that_overflow_are_refused_not_wrapped() {
    let half = u64::MAX / 2 + 1;
    let account = frozen(1_000, None, vec![claim(1, vec![deposit(half, 0, None), deposit(half, 5, None)])]);
    let refusal = refused(&account, Rule::ProRata);
    assert_eq!((refusal.reason, refusal.field.as_str()), (Reason::Overflow, "claims[0].deposits[1].amount_fen"));
    // Each victim's sum fits, all of them together do not.
    let claims = vec![claim(1, vec![deposit(half, 0, None)]), claim(2, vec![deposit(half, 5, None)])];
    let refusal = refused(&frozen(1_000, None, claims), Rule::ProRata);
    assert_eq!((refusal.reason, refusal.field.as_str()), (Reason::Overflow, "claims[1].deposits"));
}

#[test]
fn the_largest_amounts_that_fit_are_allocated_exactly() {
    let big = u64::MAX / 2;
    let mut claims = vec![claim(1, vec![deposit(big, 0, None)]), claim(2, vec![deposit(big, 5, None)])];
    claims.iter_mut().for_each(|c| c.traced_loss_fen = Fen::new(u64::MAX));
    let allocation = check(&frozen(u64::MAX, None, claims), Rule::ProRata);
    assert_eq!(shares(&allocation), [big, big]);
    assert_eq!(allocation.unallocated.beyond_victims_fen, Fen::new(1));
}

#[test]
fn a_statement_that_does_not_add_up_or_runs_backwards_or_is_empty_is_refused() {
    let mut account = one_victim();
    let mut lines = statement(0, &[(0, IN, 1_000, "t-1"), (5, OUT, 400, "t-2")]);
    lines[1].balance_after_fen = Fen::new(500);
    account.statement = Some(lines);
    let refusal = refused(&account, Rule::TimestampTrace);
    assert_eq!((refusal.reason, refusal.field.as_str()), (Reason::BalanceMismatch, "statement[1].balance_after_fen"));
    assert!(refusal.expected.starts_with("600 fen"), "{}", refusal.expected);
    account.statement = Some(statement(0, &[(10, IN, 1_000, "t-1"), (5, OUT, 400, "t-2")]));
    assert_eq!(refused(&account, Rule::Fifo).reason, Reason::StatementOutOfOrder);
    account.statement = Some(Vec::new());
    assert_eq!(refused(&account, Rule::Fifo).reason, Reason::EmptyStatement);
    // An incoming first entry larger than the balance after it leaves no balance before it.
    account.statement = Some(vec![Entry {
        transfer_id: "t-1".into(),
        at_ms: at(0),
        direction: IN,
        amount_fen: Fen::new(2_000),
        balance_after_fen: Fen::new(1_000),
    }]);
    assert_eq!(refused(&account, Rule::Fifo).field, "statement[0].balance_after_fen");
}

#[test]
fn the_lowest_intermediate_balance_rule_without_a_statement_is_refused() {
    let refusal = refused(&one_victim(), Rule::LowestIntermediateBalance);
    assert_eq!((refusal.reason, refusal.field.as_str()), (Reason::StatementRequired, "statement"));
}

#[test]
fn a_bad_transfer_id_is_refused() {
    let mut account = one_victim();
    account.claims[0].deposits[0].transfer_id = Some("t\n1".into());
    assert_eq!(refused(&account, Rule::ProRata).reason, Reason::BadTransferId);
    account.claims[0].deposits[0].transfer_id = Some("x".repeat(crate::limits::MAX_TRANSFER_ID_BYTES + 1));
    let refusal = refused(&account, Rule::ProRata);
    assert!(refusal.value.chars().count() <= crate::limits::MAX_ECHO_CHARS, "the value echoed is cut short");
}

#[test]
fn rules_are_named_on_the_command_line_and_in_json_alike() {
    for rule in Rule::ALL {
        assert_eq!(rule.name().parse::<Rule>(), Ok(rule));
        assert_eq!(serde_json::to_string(&rule).unwrap(), format!("\"{}\"", rule.name()));
    }
    assert!("lifo".parse::<Rule>().unwrap_err().contains("timestamp-trace"));
    assert_eq!(Rule::default(), Rule::TimestampTrace);
}
