//! Seq tracking per producer: out of order, gaps filled, duplicates, conflicts, unknown
//! cities, and the bounds.

use domain::Service;

use super::*;
use crate::limits::{HASH_WINDOW, MAX_GAP_RANGES, MAX_SEQ_AHEAD};

fn intake(seq: u64) -> Envelope {
    let hz = hangzhou();
    env(&hz, seq, MARCH_14 + seq, reported(case(&hz, seq), 100, MARCH_14 + seq))
}

fn producer() -> Producer {
    Producer { city: hangzhou(), service: Service::Intake }
}

#[test]
fn given_seqs_1_and_2_when_5_arrives_then_3_to_4_are_missing() {
    check(&[intake(1), intake(2)], &intake(5), |answer, state| {
        assert_eq!(answer, Ok(Absorbed::New { filled_gap: false, notices: vec![] }));
        assert_eq!(gaps(state), vec![(producer(), 3..=4)]);
        assert_eq!(state.track(&producer()).unwrap().highest, 5);
    });
}

#[test]
fn given_a_gap_when_its_middle_arrives_then_it_splits_and_filling_the_rest_closes_it() {
    let state = check(&[intake(1), intake(6)], &intake(4), |answer, state| {
        assert_eq!(answer, Ok(Absorbed::New { filled_gap: true, notices: vec![] }));
        assert_eq!(gaps(state), vec![(producer(), 2..=3), (producer(), 5..=5)]);
    });
    let mut state = state;
    for seq in [2, 5, 3] {
        assert_eq!(absorb(&mut state, &intake(seq)), Ok(Absorbed::New { filled_gap: true, notices: vec![] }));
    }
    assert_eq!(gaps(&state), vec![]);
    assert_eq!(row_of(&state, "2025-03-14", &hangzhou()).figures.reports, 6, "each seq counted once");
}

#[test]
fn given_a_seq_held_when_the_same_content_arrives_again_then_it_is_a_duplicate_and_nothing_changes() {
    check(&[intake(1), intake(2)], &intake(1), |answer, state| {
        assert_eq!(answer, Ok(Absorbed::Duplicate));
        assert_eq!(state.track(&producer()).unwrap().duplicates, 1);
        assert_eq!(row_of(state, "2025-03", &hangzhou()).figures.reports, 2);
    });
}

#[test]
fn given_a_seq_held_when_other_content_arrives_under_its_id_then_it_is_a_conflict_and_the_first_is_kept() {
    let first = intake(1);
    let hz = hangzhou();
    let other = env(&hz, 1, MARCH_14, reported(case(&hz, 99), 9_999_999, MARCH_14));
    check(std::slice::from_ref(&first), &other, |answer, state| {
        let kept = content_hash(&first).unwrap();
        let offered = content_hash(&other).unwrap();
        assert_ne!(kept, offered);
        assert_eq!(answer, Err(Refusal::Conflict { id: "hangzhou.intake.1".into(), kept, offered }));
        assert_eq!(state.track(&producer()).unwrap().conflicts, 1);
        assert_eq!(row_of(state, "2025-03", &hz).figures.reported_loss, Fen::new(100), "the first content counts");
    });
}

#[test]
fn given_a_province_when_an_unknown_city_sends_then_it_is_refused_naming_the_known_ones() {
    let shanghai = city("shanghai");
    let event = env(&shanghai, 1, MARCH_14, reported(case(&shanghai, 1), 100, MARCH_14));
    check(&[], &event, |answer, state| {
        let Err(refusal) = answer else { panic!("{answer:?}") };
        assert_eq!(refusal.kind(), "unknown_city");
        assert_eq!(
            refusal.to_string(),
            "event \"shanghai.intake.1\" of unknown city \"shanghai\": the province's cities are hangzhou, ningbo, wenzhou"
        );
        assert!(
            gaps(state).is_empty() && state.track(&Producer { city: shanghai, service: Service::Intake }).is_none()
        );
    });
}

#[test]
fn given_nothing_when_an_envelope_with_a_forged_id_arrives_then_it_is_refused_as_inconsistent() {
    let mut forged = intake(1);
    forged.id = "hangzhou.intake.7".into();
    check(&[], &forged, |answer, _| assert_eq!(answer.unwrap_err().kind(), "inconsistent"));
}

#[test]
fn given_a_producer_when_a_seq_far_beyond_its_highest_arrives_then_it_is_refused() {
    check(&[intake(1)], &intake(2 + MAX_SEQ_AHEAD), |answer, state| {
        assert_eq!(answer.unwrap_err().kind(), "too_far_ahead");
        assert_eq!(state.track(&producer()).unwrap().highest, 1);
    });
}

#[test]
fn given_the_most_ranges_when_another_would_open_then_it_is_refused_and_filling_at_an_edge_still_works() {
    let given: Vec<Envelope> = (0..=MAX_GAP_RANGES as u64).map(|i| intake(1 + 2 * i)).collect();
    let top = 1 + 2 * MAX_GAP_RANGES as u64;
    let mut state = check(&given, &intake(top + 2), |answer, state| {
        assert_eq!(answer.unwrap_err().kind(), "too_many_gaps");
        assert_eq!(gaps(state).len(), MAX_GAP_RANGES);
    });
    assert_eq!(absorb(&mut state, &intake(top + 1)), Ok(Absorbed::New { filled_gap: false, notices: vec![] }));
    assert!(matches!(absorb(&mut state, &intake(2)), Ok(Absorbed::New { filled_gap: true, .. })));
    assert_eq!(gaps(&state).len(), MAX_GAP_RANGES - 1);
}

#[test]
fn given_a_seq_far_below_the_highest_when_it_arrives_again_then_it_is_unverified_not_a_conflict() {
    let hz = hangzhou();
    let mut state = province();
    let far = 1 + HASH_WINDOW;
    absorb(&mut state, &intake(1)).unwrap();
    absorb(&mut state, &intake(far)).unwrap();
    // Held, but outside the window of kept hashes: not compared, not merged.
    let other = env(&hz, 1, MARCH_14, reported(case(&hz, 99), 5, MARCH_14));
    assert_eq!(absorb(&mut state, &other), Ok(Absorbed::Unverified));
    // A seq inside the window is still compared.
    let recent = env(&hz, far, MARCH_14, reported(case(&hz, 98), 5, MARCH_14));
    assert_eq!(absorb(&mut state, &recent).unwrap_err().kind(), "conflict");
    assert_eq!(gaps(&state), vec![(producer(), 2..=far - 1)]);
}
