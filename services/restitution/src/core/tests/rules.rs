//! Each rule on hand-computed accounts (docs/restitution.md has the same tables): given the
//! statement and the claims, when allocated, then each victim's share and the step and
//! fraction that gave it.

use super::*;

/// Example 1: A's money left before B's arrived (the balance fell to zero between them).
fn drained_then_b() -> FrozenAccount {
    let lines =
        [(60, IN, 300_000, "t-a"), (65, OUT, 300_000, "t-x"), (80, IN, 500_000, "t-b"), (90, OUT, 100_000, "t-y")];
    let claims = vec![claim(1, vec![deposit(300_000, 60, Some("t-a"))]), claim(2, vec![deposit(500_000, 80, None)])];
    frozen(400_000, Some(statement(0, &lines)), claims)
}

#[test]
fn given_a_victims_money_drained_to_zero_before_anothers_arrived_when_traced_by_timestamp_then_the_other_gets_it_all() {
    let allocation = check(&drained_then_b(), Rule::TimestampTrace);
    assert_eq!(shares(&allocation), [0, 400_000]);
    assert_eq!(steps(&allocation), [vec![], vec![Step::TimestampSole]]);
    let a = &allocation.shares[0];
    assert_eq!((a.bound_fen, a.deposits[0].found), (Fen::ZERO, Found::Entry { index: 0 }));
    let b = &allocation.shares[1];
    assert_eq!(b.bound_fen, Fen::new(400_000));
    assert_eq!(b.deposits[0].found, Found::Entry { index: 2 }, "found by amount and time, without an id");
    assert_eq!(allocation.fallback, None);
    assert_eq!(allocation.allocated_fen, Fen::new(400_000));
    // Pro rata does not read the statement: A's 300,000 weighs as much as if it were there.
    assert_eq!(shares(&check(&drained_then_b(), Rule::ProRata)), [150_000, 250_000]);
    // FIFO: the 300,000 out took A's lot, the 100,000 out 100,000 of B's. LIBR: bounds 0 and
    // 400,000.
    assert_eq!(shares(&check(&drained_then_b(), Rule::Fifo)), [0, 400_000]);
    assert_eq!(shares(&check(&drained_then_b(), Rule::LowestIntermediateBalance)), [0, 400_000]);
}

/// Example 2: three victims whose money may all still be there.
fn three_mixed() -> FrozenAccount {
    let lines = [
        (0, IN, 100_000, "t-a"),
        (10, OUT, 60_000, "t-x"),
        (20, IN, 200_000, "t-b"),
        (30, IN, 100_000, "t-c"),
        (40, OUT, 100_000, "t-y"),
    ];
    let claims = vec![
        claim(1, vec![deposit(100_000, 0, Some("t-a"))]),
        claim(2, vec![deposit(200_000, 20, Some("t-b"))]),
        claim(3, vec![deposit(100_000, 30, Some("t-c"))]),
    ];
    frozen(240_000, Some(statement(0, &lines)), claims)
}

#[test]
fn given_timestamps_that_do_not_decide_when_traced_by_timestamp_then_pro_rata_within_each_victims_bound() {
    let allocation = check(&three_mixed(), Rule::TimestampTrace);
    let bounds: Vec<u64> = allocation.shares.iter().map(|s| s.bound_fen.get()).collect();
    assert_eq!(bounds, [40_000, 200_000, 100_000], "A's lowest balance since its deposit is 40,000");
    // Pro rata by traced money (1:2:1) would give A 60,000: more than can be A's. A gets its
    // 40,000, B and C share the other 200,000 2:1.
    assert_eq!(shares(&allocation), [40_000, 133_333, 66_667]);
    assert_eq!(steps(&allocation), [[Step::TimestampBound], [Step::TimestampProRata], [Step::TimestampProRata]]);
    let fraction = |s: usize| allocation.shares[s].parts[0].portion;
    assert_eq!(fraction(0), Portion::Whole { limit: Limit::Bound });
    let b = Portion::Fraction {
        of_fen: Fen::new(200_000),
        weight_fen: Fen::new(200_000),
        total_weight_fen: Fen::new(300_000),
        floor_fen: Fen::new(133_333),
        remainder: 100_000,
        leftover_fen: Fen::ZERO,
    };
    assert_eq!(fraction(1), b);
    let Portion::Fraction { floor_fen, remainder, leftover_fen, .. } = fraction(2) else { panic!() };
    assert_eq!((floor_fen, remainder, leftover_fen), (Fen::new(66_666), 200_000, Fen::new(1)), "the larger remainder");
    let fallback = Fallback { reason: FallbackReason::Undecided, contenders: 3, shared_fen: Fen::new(200_000) };
    assert_eq!(allocation.fallback, Some(fallback));
}

#[test]
fn given_three_victims_when_shared_pro_rata_then_by_the_money_each_traced_into_the_account() {
    let allocation = check(&three_mixed(), Rule::ProRata);
    assert_eq!(shares(&allocation), [60_000, 120_000, 60_000]);
    assert!(allocation.shares.iter().all(|s| s.basis_fen == s.traced_in_fen));
    assert_eq!(allocation.unallocated, Unallocated { beyond_victims_fen: Fen::ZERO, held_back_by_caps_fen: Fen::ZERO });
}

#[test]
fn given_three_victims_when_shared_by_lowest_intermediate_balance_then_pro_rata_by_their_bounds() {
    // Bounds 40,000, 200,000, 100,000 (340,000): 240,000 of it.
    let allocation = check(&three_mixed(), Rule::LowestIntermediateBalance);
    // 28,235.29…, 141,176.47…, 70,588.23…: remainders 100,000, 160,000, 80,000 of 340,000.
    assert_eq!(shares(&allocation), [28_235, 141_177, 70_588]);
    assert!(allocation.shares.iter().all(|s| s.basis_fen == s.bound_fen));
}

#[test]
fn given_three_victims_when_allocated_first_in_first_out_then_the_newest_money_is_frozen() {
    // Lots: A's 100,000 less the 60,000 out: 40,000; B's 200,000; C's 100,000. The 100,000
    // out takes A's 40,000 and 60,000 of B's. Newest first: C's 100,000, B's 140,000.
    let allocation = check(&three_mixed(), Rule::Fifo);
    assert_eq!(shares(&allocation), [0, 140_000, 100_000]);
    assert_eq!(allocation.shares[0].bound_fen, Fen::ZERO, "none of A's lots is left");
}

/// Example 3: FIFO — others' money first, A, B, then A again.
fn fifo_account(with_statement: bool) -> FrozenAccount {
    let lines = [
        (0, IN, 50_000, "t-o"),
        (10, IN, 100_000, "t-a1"),
        (20, IN, 100_000, "t-b"),
        (30, OUT, 120_000, "t-x"),
        (40, IN, 80_000, "t-a2"),
    ];
    let claims = vec![
        claim(1, vec![deposit(100_000, 10, Some("t-a1")), deposit(80_000, 40, Some("t-a2"))]),
        claim(2, vec![deposit(100_000, 20, Some("t-b"))]),
    ];
    frozen(150_000, with_statement.then(|| statement(0, &lines)), claims)
}

#[test]
fn given_money_that_left_first_in_first_out_when_allocated_by_fifo_then_the_newest_lots_are_frozen() {
    let allocation = check(&fifo_account(true), Rule::Fifo);
    // The 120,000 out took the other 50,000 and 70,000 of A's first lot: left are A's 30,000
    // (entry 1), B's 100,000 (entry 2), A's 80,000 (entry 4). Newest first: A's 80,000, then
    // 70,000 of B's 100,000.
    assert_eq!(shares(&allocation), [80_000, 70_000]);
    assert_eq!(
        steps(&allocation),
        [vec![Step::Fifo { entry: Some(4), at_ms: at(40) }], vec![Step::Fifo { entry: Some(2), at_ms: at(20) }]]
    );
    let bounds: Vec<u64> = allocation.shares.iter().map(|s| s.bound_fen.get()).collect();
    assert_eq!(bounds, [110_000, 100_000], "A's lots left: 30,000 and 80,000");
    // Without the statement the outflow is unknown, and the newest deposits are the same.
    assert_eq!(shares(&check(&fifo_account(false), Rule::Fifo)), [80_000, 70_000]);
    // The other rules on the same account: LIBR bounds A 180,000, B 100,000 (280,000).
    assert_eq!(shares(&check(&fifo_account(true), Rule::LowestIntermediateBalance)), [96_429, 53_571]);
    assert_eq!(shares(&check(&fifo_account(true), Rule::TimestampTrace)), [96_429, 53_571]);
    assert_eq!(shares(&check(&fifo_account(true), Rule::ProRata)), [96_429, 53_571]);
}

#[test]
fn given_deposits_of_the_same_time_without_a_statement_when_allocated_by_fifo_then_they_share_their_step_pro_rata() {
    let claims = vec![
        claim(1, vec![deposit(30_000, 0, None)]),
        claim(2, vec![deposit(10_000, 5, None)]),
        claim(3, vec![deposit(20_000, 5, None)]),
    ];
    let allocation = check(&frozen(15_001, None, claims), Rule::Fifo);
    // 2 and 3 paid at the same minute: 15,001 shared 1:2 — 5,000.33 and 10,000.67.
    assert_eq!(shares(&allocation), [0, 5_000, 10_001]);
}

#[test]
fn given_equal_remainders_then_the_leftover_fen_go_to_the_earlier_first_deposit_then_the_lower_case_id() {
    // Three victims of 100,000 each; victim 3 paid first, 1 and 2 at the same time later.
    let claims = vec![
        claim(1, vec![deposit(100_000, 30, None)]),
        claim(2, vec![deposit(100_000, 30, None)]),
        claim(3, vec![deposit(100_000, 0, None)]),
    ];
    // 100,000 / 3 = 33,333.33 each: one fen over, to victim 3 (earliest).
    let allocation = check(&frozen(100_000, None, claims.clone()), Rule::ProRata);
    assert_eq!(shares(&allocation), [33_333, 33_333, 33_334]);
    // 100,001 / 3 = 33,333.67 each: two fen over, to victim 3, then victim 1 (lower case id).
    let allocation = check(&frozen(100_001, None, claims), Rule::ProRata);
    assert_eq!(shares(&allocation), [33_334, 33_333, 33_334]);
    let leftovers: Vec<Fen> = allocation
        .shares
        .iter()
        .map(|s| match s.parts[0].portion {
            Portion::Fraction { leftover_fen, remainder, .. } => {
                assert_eq!(remainder, 200_000, "equal remainders (of 300,000)");
                leftover_fen
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(leftovers, [Fen::new(1), Fen::ZERO, Fen::new(1)]);
}

#[test]
fn given_a_victim_already_repaid_elsewhere_then_their_cap_stops_them_and_the_others_take_the_rest_within_their_bounds()
{
    let mut claims = vec![claim(1, vec![deposit(100_000, 0, None)]), claim(2, vec![deposit(100_000, 10, None)])];
    // Victim 1 lost 100,000 and was given 70,000 from another account: 30,000 at most here.
    claims[0].allocated_elsewhere_fen = Fen::new(70_000);
    let allocation = check(&frozen(150_000, None, claims.clone()), Rule::ProRata);
    assert_eq!(shares(&allocation), [30_000, 100_000]);
    assert_eq!(allocation.shares[0].parts[0].portion, Portion::Whole { limit: Limit::Cap });
    assert_eq!(allocation.shares[1].parts[0].portion, Portion::Whole { limit: Limit::Bound });
    let unallocated = Unallocated { beyond_victims_fen: Fen::ZERO, held_back_by_caps_fen: Fen::new(20_000) };
    assert_eq!(allocation.unallocated, unallocated, "B's 100,000 is all B traced here; 20,000 stays");
    // Repaid in full elsewhere: a zero part, limited by the cap.
    claims[0].allocated_elsewhere_fen = Fen::new(100_000);
    let allocation = check(&frozen(150_000, None, claims), Rule::ProRata);
    assert_eq!(shares(&allocation), [0, 100_000]);
    assert_eq!(
        allocation.shares[0].parts,
        [Part { step: Step::ProRata, fen: Fen::ZERO, portion: Portion::Whole { limit: Limit::Cap } }]
    );
}

#[test]
fn given_more_frozen_than_the_victims_money_then_the_rest_stays_unallocated() {
    let claims = vec![claim(1, vec![deposit(100_000, 0, None)])];
    for rule in [Rule::ProRata, Rule::TimestampTrace, Rule::Fifo] {
        let allocation = check(&frozen(250_000, None, claims.clone()), rule);
        assert_eq!(shares(&allocation), [100_000], "{rule:?}");
        assert_eq!(allocation.unallocated.beyond_victims_fen, Fen::new(150_000));
    }
}

#[test]
fn given_no_statement_when_traced_by_timestamp_then_it_falls_back_to_pro_rata_and_says_so() {
    let claims = vec![claim(1, vec![deposit(100_000, 0, None)]), claim(2, vec![deposit(300_000, 10, None)])];
    let allocation = check(&frozen(200_000, None, claims), Rule::TimestampTrace);
    assert_eq!(shares(&allocation), [50_000, 150_000]);
    let fallback = Fallback { reason: FallbackReason::NoStatement, contenders: 2, shared_fen: Fen::new(200_000) };
    assert_eq!(allocation.fallback, Some(fallback));
    assert_eq!(steps(&allocation), [[Step::TimestampProRata], [Step::TimestampProRata]]);
}

#[test]
fn a_deposit_is_found_by_id_else_by_amount_nearest_its_time_and_otherwise_placed_before_after_or_outside() {
    let lines = [
        (70, IN, 5_000, "t-1"),  // someone else's 5,000 at 10:10
        (100, IN, 5_000, "t-2"), // the victim's, booked at 10:40
        (110, OUT, 9_000, "t-3"),
        (120, IN, 7_000, "t-4"),
    ];
    let claims = vec![
        // Typed at 10:45: the 10:40 deposit is nearer than the 10:10 one.
        claim(1, vec![deposit(5_000, 105, None), deposit(7_000, 120, Some("t-4"))]),
        // Before the statement (09:00 + the window < 10:10), after it (14:00), and inside it
        // but absent (10:30).
        claim(2, vec![deposit(1_000, 0, None), deposit(2_000, 300, None), deposit(3_000, 90, None)]),
    ];
    let account = frozen(8_000, Some(statement(0, &lines)), claims);
    let allocation = check(&account, Rule::TimestampTrace);
    let found: Vec<Vec<Found>> =
        allocation.shares.iter().map(|s| s.deposits.iter().map(|d| d.found).collect()).collect();
    assert_eq!(
        found,
        [
            vec![Found::Entry { index: 1 }, Found::Entry { index: 3 }],
            vec![Found::BeforeStatement, Found::NotInStatement, Found::AfterStatement],
        ]
    );
    // Victim 1: 5,000 at entry 1 (balance 10,000), 1,000 left after the 9,000 out, then
    // 7,000: 8,000. Victim 2: its 1,000 was in the opening balance of 0 (none of it left);
    // the 2,000 after the statement is all there; the 3,000 the statement does not show
    // counts nothing.
    let bounds: Vec<u64> = allocation.shares.iter().map(|s| s.bound_fen.get()).collect();
    assert_eq!(bounds, [8_000, 2_000]);
    // Pro rata by traced money (12,000 : 6,000) would give victim 2 2,666.67: its bound is
    // 2,000.
    assert_eq!(shares(&allocation), [6_000, 2_000]);
}
