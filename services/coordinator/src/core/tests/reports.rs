//! The report: totals are the sum of the rows, and cities below the median are called in.

use super::*;

/// `of` reported `loss` and stopped and froze `held` on the day, its trace taking `ttf_s` seconds.
fn city_day(of: &City, loss: u64, held: u64, ttf_s: u64) -> Vec<Envelope> {
    let at = MARCH_14 + 9 * HOUR_MS;
    let c = case(of, 1);
    let mule = account("abc:6228480000000001");
    vec![
        env(of, 1, at, reported(c.clone(), loss, at)),
        env(of, 1, at, stopped(c.clone(), mule.clone(), 1, held, at)),
        env(of, 2, at, frozen(c.clone(), mule, held, at)),
        env(of, 3, at, completed(c, ttf_s * 1000, at)),
    ]
}

fn three_cities() -> Vec<Envelope> {
    let mut all = city_day(&hangzhou(), 1_000_000, 800_000, 600);
    all.extend(city_day(&ningbo(), 1_000_000, 700_000, 900));
    all.extend(city_day(&wenzhou(), 1_000_000, 200_000, 7_200));
    all
}

#[test]
fn given_three_cities_when_the_report_is_made_then_the_totals_are_the_sum_of_the_rows() {
    let all = three_cities();
    let (last, given) = all.split_last().unwrap();
    check(given, last, |_, state| {
        let report = report(state, Period::parse("2025-03").unwrap(), margin(20)).unwrap();
        let names: Vec<_> = report.rows.iter().map(|r| r.city.clone().unwrap()).collect();
        assert_eq!(names, vec![hangzhou(), ningbo(), wenzhou()]);
        let sum = report.rows.iter().try_fold(Figures::default(), |total, row| total.plus(&row.figures)).unwrap();
        assert_eq!(report.totals.figures, sum);
        assert_eq!(report.totals.figures.money_frozen, Fen::new(1_700_000));
        assert_eq!(report.totals.time_to_freeze_samples, 3);
        assert_eq!(report.totals.city, None);
        assert_eq!(report.totals.frozen_share_bp, Some(5_666));
    });
}

#[test]
fn given_a_city_far_below_the_median_when_the_report_is_made_then_it_alone_is_called_in() {
    let all = three_cities();
    let (last, given) = all.split_last().unwrap();
    check(given, last, |_, state| {
        let report = report(state, Period::parse("2025-03-14").unwrap(), margin(20)).unwrap();
        // Shares 8,000, 7,000 and 2,000 bp: median 7,000, the line 5,600. P90s about 600,
        // 900 and 7,200 s: median ~900, the line ~1,080.
        let called: Vec<(City, FlagFigure)> = report.flagged.iter().map(|f| (f.city.clone(), f.figure)).collect();
        assert_eq!(called, vec![(wenzhou(), FlagFigure::FrozenShare), (wenzhou(), FlagFigure::TimeToFreezeP90)]);
        assert_eq!((report.flagged[0].value, report.flagged[0].median), (2_000, 7_000));
        // With a margin of 100 % nobody is below zero; with 0 % Ningbo is not below itself.
        let lenient = super::report(state, report.period, margin(100)).unwrap();
        assert!(lenient.flagged.iter().all(|f| f.figure == FlagFigure::TimeToFreezeP90));
        let strict = super::report(state, report.period, margin(0)).unwrap();
        assert!(!strict.flagged.iter().any(|f| f.city == ningbo()));
    });
}

#[test]
fn given_one_active_city_when_the_report_is_made_then_nobody_is_called_in_and_idle_cities_show_zeros() {
    let given = city_day(&wenzhou(), 1_000_000, 1, 90_000);
    let (last, given) = given.split_last().unwrap();
    check(given, last, |_, state| {
        let report = report(state, Period::parse("2025-W11").unwrap(), margin(20)).unwrap();
        assert!(report.flagged.is_empty(), "no median of one city");
        assert_eq!(report.rows.len(), 3);
        assert_eq!(report.rows[0].figures, Figures::default());
        assert_eq!(report.rows[0].frozen_share_bp, None);
    });
}

#[test]
fn margins_past_100_percent_are_refused_and_medians_are_exact() {
    assert_eq!(FlagMargin::percent(101), Err(ReportError::Margin { value: 101 }));
    assert_eq!(report::median(vec![5]), None);
    assert_eq!(report::median(vec![3, 1, 2]), Some(2));
    assert_eq!(report::median(vec![4, 1, 2, 3]), Some(2));
    assert_eq!(report::median(vec![u64::MAX, u64::MAX]), Some(u64::MAX));
    assert_eq!(report::median(vec![u64::MAX, u64::MAX - 2]), Some(u64::MAX - 1));
}

#[test]
fn given_three_cities_when_the_state_goes_through_a_snapshot_then_it_reports_and_recognises_the_same() {
    let all = three_cities();
    let (last, given) = all.split_last().unwrap();
    check(given, last, |_, state| {
        let bytes = rmp_serde::to_vec_named(state).unwrap();
        let mut back: State = rmp_serde::from_slice(&bytes).unwrap();
        for text in ["2025-03", "2025-W11", "2025-03-14"] {
            let period = Period::parse(text).unwrap();
            assert_eq!(report(&back, period, margin(20)), report(state, period, margin(20)), "{text}");
        }
        assert_eq!(gaps(&back), gaps(state));
        // The content hashes came through: a redelivery is a duplicate, a changed one a conflict.
        assert_eq!(absorb(&mut back, last), Ok(Absorbed::Duplicate));
        let mut changed = last.clone();
        changed.time_ms += 1;
        assert!(matches!(absorb(&mut back, &changed), Err(Refusal::Conflict { .. })));
    });
}

#[test]
fn given_three_cities_when_the_ranking_is_drawn_then_the_best_comes_first_and_the_city_called_in_is_red() {
    let all = three_cities();
    let (last, given) = all.split_last().unwrap();
    check(given, last, |_, state| {
        let report = report(state, Period::parse("2025-03").unwrap(), margin(20)).unwrap();
        let svg = ranking_svg(&report);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("<script"), "no script in the chart");
        let order: Vec<usize> = ["hangzhou", "ningbo", "wenzhou"]
            .iter()
            .map(|city| svg.find(&format!(r#"data-city="{city}""#)).unwrap())
            .collect();
        assert!(order[0] < order[1] && order[1] < order[2], "80% before 70% before 20%: {svg}");
        let wenzhou = &svg[order[2]..];
        assert!(wenzhou[..wenzhou.find("/>").unwrap()].contains("#c62828"), "Wenzhou is called in: {svg}");
        let hangzhou = &svg[order[0]..];
        assert!(hangzhou[..hangzhou.find("/>").unwrap()].contains("#1565c0"));
        assert!(svg.contains(r#"class="median""#) && svg.contains("median 70.00%"), "{svg}");
    });
}
