//! Order does not matter: any permutation of the same envelopes, with redeliveries, gives the
//! same figures, the same gaps and the same claims.

use proptest::prelude::*;

use super::*;

/// Envelopes of three producers of two cities over two Beijing days.
fn stream() -> Vec<Envelope> {
    let (hz, wz) = (hangzhou(), wenzhou());
    let mule = account("icbc:6222020000001234");
    let mut all = Vec::new();
    for n in 1..=6u64 {
        let at = MARCH_14 - 3 * HOUR_MS + n * HOUR_MS;
        all.push(env(&hz, n, at, reported(case(&hz, n), 1_000 * n, at)));
        all.push(env(&wz, n, at, stopped(case(&wz, n), mule.clone(), (n == 1) as u8, 500 * n, at)));
        let freezing = if n % 2 == 0 {
            frozen(case(&hz, n), mule.clone(), 300 * n, at)
        } else {
            completed(case(&hz, n), 60_000 * n, at)
        };
        all.push(env(&hz, n, at, freezing));
    }
    all.push(env(&hz, 7, MARCH_14, stopped(case(&hz, 7), mule, 1, 50, MARCH_14)));
    all
}

/// What must not depend on the order: every report, the gaps, the claims on the mule.
type Outcome = (Vec<Report>, Vec<(Producer, std::ops::RangeInclusive<u64>)>, Vec<events::province::CrossCityClaim>);

fn outcome(state: &State) -> Outcome {
    let reports = ["2025-03-13", "2025-03-14", "2025-W11", "2025-03"]
        .into_iter()
        .map(|p| report(state, Period::parse(p).unwrap(), margin(20)).unwrap())
        .collect();
    (reports, gaps(state), state.links.claims_on(&account("icbc:6222020000001234")))
}

proptest! {
    #[test]
    fn any_order_with_redeliveries_gives_the_same_figures(
        order in Just((0..stream().len()).collect::<Vec<_>>()).prop_shuffle(),
        again in proptest::collection::vec(0..stream().len(), 0..10),
        dropped in 0..stream().len(),
    ) {
        let all = stream();
        let mut in_order = province();
        for envelope in &all {
            absorb(&mut in_order, envelope).unwrap();
        }
        let mut shuffled = province();
        for &i in order.iter().chain(&again) {
            absorb(&mut shuffled, &all[i]).unwrap();
        }
        prop_assert_eq!(outcome(&shuffled), outcome(&in_order));
        // Without one envelope, in any order: its seq is a gap, unless it was a producer's last.
        let mut holed = province();
        for &i in order.iter().filter(|&&i| i != dropped) {
            absorb(&mut holed, &all[i]).unwrap();
        }
        let lost = &all[dropped];
        let producer = Producer { city: lost.city.clone(), service: lost.service };
        let highest = holed.track(&producer).map_or(0, |t| t.highest);
        let expected = if lost.seq < highest { vec![(producer, lost.seq..=lost.seq)] } else { vec![] };
        prop_assert_eq!(gaps(&holed), expected);
    }
}
