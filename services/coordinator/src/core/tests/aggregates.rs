//! Figures per city and period, in Beijing time: which event feeds which figure, and where
//! the days, weeks and months begin.

use events::dissuasion::Level;

use super::*;

#[test]
fn given_a_report_at_23_59_when_another_comes_at_00_01_beijing_time_then_they_count_in_different_days() {
    let hz = hangzhou();
    let late = env(&hz, 1, MARCH_14 - MINUTE_MS, reported(case(&hz, 1), 100, MARCH_14 - MINUTE_MS));
    let early = env(&hz, 2, MARCH_14 + MINUTE_MS, reported(case(&hz, 2), 200, MARCH_14 + MINUTE_MS));
    check(&[late], &early, |answer, state| {
        assert!(answer.is_ok());
        assert_eq!(row_of(state, "2025-03-13", &hz).figures.reported_loss, Fen::new(100));
        assert_eq!(row_of(state, "2025-03-14", &hz).figures.reported_loss, Fen::new(200));
        // Both in ISO week 11 (Monday 10 March to Sunday 16 March) and in March.
        assert_eq!(row_of(state, "2025-W11", &hz).figures.reports, 2);
        assert_eq!(row_of(state, "2025-03", &hz).figures.reports, 2);
    });
}

#[test]
fn given_utc_times_when_periods_are_found_then_beijing_days_weeks_and_months_are_used() {
    // 16:00 UTC on 31 March is 00:00 on 1 April in Beijing.
    let april_1 = MARCH_14 + 18 * DAY_MS;
    assert_eq!(Period::month_of(april_1).to_string(), "2025-04");
    assert_eq!(Period::month_of(april_1 - 1).to_string(), "2025-03");
    assert_eq!(Period::day_of(april_1).to_string(), "2025-04-01");
    // Sunday 16 March 23:59 is week 11, Monday 17 March 00:00 week 12.
    let monday = MARCH_14 + 3 * DAY_MS;
    assert_eq!(Period::week_of(monday - 1).to_string(), "2025-W11");
    assert_eq!(Period::week_of(monday).to_string(), "2025-W12");
    // ISO years: 29 December 2025 (a Monday) is in 2026-W01; 1 January 2021 in 2020-W53.
    let dec_29 = (domain::calendar::days_from_civil(2025, 12, 29) as u64) * DAY_MS - 8 * HOUR_MS;
    assert_eq!(Period::week_of(dec_29).to_string(), "2026-W01");
    let jan_1 = (domain::calendar::days_from_civil(2021, 1, 1) as u64) * DAY_MS;
    assert_eq!(Period::week_of(jan_1).to_string(), "2020-W53");
    assert_eq!(Period::parse("2020-W53").unwrap().first_day(), domain::calendar::days_from_civil(2020, 12, 28));
}

#[test]
fn given_period_texts_when_parsed_then_each_error_names_the_field_the_value_and_what_is_accepted() {
    assert_eq!(Period::parse("2025-03").unwrap(), Period::Month { year: 2025, month: 3 });
    assert_eq!(Period::parse("2025-W10").unwrap(), Period::Week { year: 2025, week: 10 });
    assert_eq!(Period::parse("2025-03-14").unwrap(), Period::day_of(MARCH_14));
    for text in ["2025-03", "2025-W10", "2025-03-14", "2024-02-29", "2020-W53"] {
        assert_eq!(Period::parse(text).unwrap().to_string(), text);
    }
    let error = |text: &str| Period::parse(text).unwrap_err();
    assert_eq!(error("2025-13").field, "month");
    assert_eq!(error("2025-13").to_string(), "period month \"13\": expected two digits, 01 to 12");
    assert_eq!(error("2025-02-29").to_string(), "period day \"29\": expected two digits, 01 to 28 in 2025-02");
    assert_eq!(error("2025-W53").to_string(), "period week \"W53\": expected W and two digits, W01 to W52 in 2025");
    assert_eq!(error("25-03").field, "year");
    assert_eq!(error("March").field, "period");
    assert_eq!(error("2025-3").field, "month");
    assert_eq!(error("").to_string(), format!("period period \"\": expected {PERIOD_EXPECTED}"));
}

#[test]
fn given_one_event_of_each_kind_when_reported_then_each_feeds_its_figure() {
    let wz = wenzhou();
    let at = MARCH_14 + 10 * HOUR_MS;
    let mule = account("icbc:6222020000001234");
    let c = case(&wz, 1);
    let given = [
        env(&wz, 1, at, reported(c.clone(), 1_000_000, at)),
        env(&wz, 1, at, stopped(c.clone(), mule.clone(), 1, 600_000, at)),
        env(&wz, 2, at, stopped(case(&wz, 2), mule.clone(), 0, 50_000, at)),
        env(&wz, 3, at, frozen(c.clone(), mule.clone(), 550_000, at)),
        env(&wz, 4, at, completed(c.clone(), 95_500, at)),
        env(&wz, 1, at, blocked(c.clone(), identifier("phone:+8617000000000"), at)),
        env(&wz, 1, at, task_opened(1, TaskKind::Sms, at)),
        env(&wz, 2, at, task_opened(2, TaskKind::Call, at)),
        env(&wz, 3, at, task_opened(3, TaskKind::Visit(Level::CityBureau), at)),
        env(
            &wz,
            4,
            at,
            Payload::Dissuasion(DissuasionEvent::TaskEscalated {
                task: TaskId(2),
                grade: Grade::Medium,
                to: TaskKind::Visit(Level::CityBureau),
                reason: events::dissuasion::Escalation::Unreachable,
                at_ms: at,
                admission: Admission::Ready { day: 0, due_at_ms: at + HOUR_MS },
                operator: None,
                note: String::new(),
            }),
        ),
        env(&wz, 5, at, task_closed(1, Closure::SmsDelivered, at)),
        env(&wz, 6, at, task_closed(3, Closure::Persuaded, at)),
    ];
    check(&given, &env(&wz, 1, at, returned(c, 300_000, at)), |answer, state| {
        assert!(answer.is_ok());
        let row = row_of(state, "2025-03-14", &wz);
        let expected = Figures {
            reports: 1,
            reported_loss: Fen::new(1_000_000),
            accounts_stopped: 1,
            money_stopped: Fen::new(650_000),
            money_frozen: Fen::new(550_000),
            blocks: 1,
            pool_entries: 0,
            sms_warnings: 1,
            calls: 1,
            visits: 2,
            persuaded: 1,
            money_returned: Fen::new(300_000),
        };
        assert_eq!(row.figures, expected);
        assert_eq!((row.time_to_freeze_samples, row.time_to_freeze_s_p50), (1, Some(96)));
        assert_eq!(row.frozen_share_bp, Some(5_500));
        assert_eq!(row_of(state, "2025-03-14", &hangzhou()).figures, Figures::default());
    });
}

#[test]
fn given_events_that_feed_no_figure_when_a_report_is_asked_then_the_period_has_no_data() {
    let hz = hangzhou();
    let retrying = Payload::Freezing(FreezingEvent::FreezeFailed {
        case_id: case(&hz, 1),
        account: account("icbc:6222020000001234"),
        reason: "lapsed".into(),
    });
    check(&[], &env(&hz, 1, MARCH_14, retrying), |answer, state| {
        assert!(matches!(answer, Ok(Absorbed::New { .. })));
        let period = Period::parse("2025-03").unwrap();
        assert_eq!(report(state, period, margin(20)), Err(ReportError::NoData { period }));
        assert_eq!(ReportError::NoData { period }.to_string(), "no data for period 2025-03: nothing counted in it yet");
    });
}
