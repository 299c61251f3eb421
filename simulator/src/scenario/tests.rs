//! Loading scenario texts: defaults, the forms each field accepts, and the field path every
//! refusal names.

use super::*;

const MINIMAL: &str = r#"
[scenario]
name = "minimal"
seed = 7
start = 2025-03-01
duration_hours = 24

[[cities]]
name = "wenzhou"
population = 9300000

[[gangs]]
fraud_type = "pig_butchering"
victims = 3
"#;

fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

/// Parses `text` and returns the field its error names.
fn error_field(text: &str) -> String {
    let error = Scenario::parse(text).expect_err("accepted");
    let field = error.field().unwrap_or_else(|| panic!("no field in {error}")).to_owned();
    let shown = error.to_string();
    assert!(shown.contains(&field) || matches!(error, ScenarioError::Syntax { .. }), "{shown}");
    field
}

#[test]
fn a_minimal_file_gets_the_defaults() {
    let scenario = Scenario::parse(MINIMAL).unwrap();
    assert_eq!(scenario.name, "minimal");
    assert_eq!(scenario.seed, 7);
    // 2025-03-01T00:00:00+08:00
    assert_eq!(scenario.start_ms, 1_740_758_400_000);
    assert_eq!(scenario.duration_ms, 24 * 3_600_000);
    assert_eq!(scenario.time_scale, DEFAULT_TIME_SCALE);
    let gang = &scenario.gangs[0];
    assert_eq!(gang.typology, Typology::FanOut);
    assert_eq!(gang.widths, Typology::FanOut.default_widths());
    assert_eq!(gang.cities, vec![City::parse("wenzhou").unwrap()]);
    assert_eq!(gang.amount_yuan, default_amount_yuan(FraudType::PigButchering));
    assert_eq!(gang.active_ms, Span { min: 0, max: 24 * 3_600_000 });
    assert_eq!(gang.adapt_ms, Span { min: 2 * 3_600_000, max: 24 * 3_600_000 });
    assert!(scenario.victims.spared_by_blocks);
    assert_eq!(scenario.hash, domain::fnv1a64(MINIMAL.as_bytes()));
    assert_eq!(scenario.hash_hex().len(), 16);
    assert_eq!(scenario.mules.forward_delay_ms, Span { min: 5 * 60_000, max: 60 * 60_000 });
}

#[test]
fn start_accepts_dates_date_times_strings_and_ms() {
    let base = MINIMAL.replace("start = 2025-03-01", "start = START");
    for (start, ms) in [
        ("2025-03-01", 1_740_758_400_000),
        ("\"2025-03-01\"", 1_740_758_400_000),
        ("2025-03-01T08:00:00", 1_740_787_200_000),
        ("2025-03-01T00:00:00Z", 1_740_787_200_000),
        ("2025-03-01T08:00:00+08:00", 1_740_787_200_000),
        ("1740787200000", 1_740_787_200_000),
    ] {
        let scenario = Scenario::parse(&base.replace("START", start)).unwrap();
        assert_eq!(scenario.start_ms, ms, "{start}");
    }
    for bad in ["-5", "\"yesterday\"", "08:00:00", "1969-12-01T00:00:00Z", "true"] {
        assert_eq!(error_field(&base.replace("START", bad)), "scenario.start", "{bad}");
    }
}

#[test]
fn time_scale_is_a_number_or_real() {
    let set = |v: &str| MINIMAL.replace("duration_hours = 24", &format!("duration_hours = 24\ntime_scale = {v}"));
    assert_eq!(Scenario::parse(&set("\"real\"")).unwrap().time_scale, 1.0);
    assert_eq!(Scenario::parse(&set("1440")).unwrap().time_scale, 1440.0);
    assert_eq!(Scenario::parse(&set("2.5")).unwrap().time_scale, 2.5);
    for bad in ["0", "0.5", "100000", "\"fast\"", "-60"] {
        assert_eq!(error_field(&set(bad)), "scenario.time_scale", "{bad}");
    }
}

#[test]
fn unknown_fields_are_named_with_their_table() {
    let top = MINIMAL.replace("seed = 7", "seed = 7\ncolour = \"red\"");
    let error = Scenario::parse(&top).unwrap_err();
    assert_eq!(error.field(), Some("scenario.colour"), "{error}");
    assert!(matches!(error, ScenarioError::Syntax { line: 5, .. }), "{error}");

    let root = format!("speed = 3\n{MINIMAL}");
    assert_eq!(error_field(&root), "speed");

    let gang = with("\n[[gangs]]\nfraud_type = \"online_loan\"\nvictims = 2\nvictim = 3\n");
    let error = Scenario::parse(&gang).unwrap_err();
    assert_eq!(error.field(), Some("gangs[1].victim"), "{error}");
    assert!(error.to_string().contains("unknown field `victim`"), "{error}");

    let inline = with("amount_yuan = { median = 100, p90 = 200, mean = 5 }\n");
    assert_eq!(error_field(&inline), "gangs[0].amount_yuan.mean");

    let nested = with("\n[mules]\nmargin = [0.0, 0.1]\ndelay = [1, 2]\n");
    assert_eq!(error_field(&nested), "mules.delay");

    let missing = MINIMAL.replace("seed = 7\n", "");
    assert_eq!(error_field(&missing), "scenario.seed");
}

#[test]
fn bad_values_name_their_field() {
    let cases: Vec<(String, &str)> = vec![
        (MINIMAL.replace("pig_butchering", "romance"), "gangs[0].fraud_type"),
        (with("typology = \"star\"\n"), "gangs[0].typology"),
        (MINIMAL.replace("victims = 3", "victims = 0"), "gangs[0].victims"),
        (MINIMAL.replace("victims = 3", "victims = -2"), "gangs[0].victims"),
        (with("cities = [\"ningbo\"]\n"), "gangs[0].cities[0]"),
        (with("cities = []\n"), "gangs[0].cities"),
        (with("widths = [1, 0, 3]\n"), "gangs[0].widths[1]"),
        (with("widths = [1, [5, 2]]\n"), "gangs[0].widths[1]"),
        (with("widths = [1, [-1, 2]]\n"), "gangs[0].widths[1]"),
        (with("widths = []\n"), "gangs[0].widths"),
        (with("typology = \"fan_in\"\nwidths = [4, 2]\n"), "gangs[0].widths"),
        (with("typology = \"cycle\"\nwidths = [1, 2]\n"), "gangs[0].widths"),
        (with("typology = \"scatter_gather\"\nwidths = [2, 4, 1]\n"), "gangs[0].widths"),
        (with("typology = \"gather_scatter\"\nwidths = [4, 2, 4]\n"), "gangs[0].widths"),
        (with("amount_yuan = { median = 5000, p90 = 1000 }\n"), "gangs[0].amount_yuan"),
        (with("amount_yuan = { median = -5, p90 = 1000 }\n"), "gangs[0].amount_yuan"),
        (with("phones = 0\n"), "gangs[0].phones"),
        (with("sites = [3, 1]\n"), "gangs[0].sites"),
        (with("victims_per_network = 0\n"), "gangs[0].victims_per_network"),
        (with("active_hours = [10, 5]\n"), "gangs[0].active_hours"),
        (with("active_hours = [0, 25]\n"), "gangs[0].active_hours"),
        (with("adapt_hours = [0, 1]\n"), "gangs[0].adapt_hours"),
        (with("adapt_hours = [2, 1]\n"), "gangs[0].adapt_hours"),
        (with("\n[mules]\nmargin = [0.2, 0.1]\n"), "mules.margin"),
        (with("\n[mules]\nmargin = [-0.1, 0.1]\n"), "mules.margin"),
        (with("\n[mules]\nforward_delay_minutes = [0, 10]\n"), "mules.forward_delay_minutes"),
        (with("\n[mules]\nforward_delay_minutes = [30, 10]\n"), "mules.forward_delay_minutes"),
        (with("\n[mules]\ncash_out_share = 1.5\n"), "mules.cash_out_share"),
        (with("\n[mules]\norder_share = -0.1\n"), "mules.order_share"),
        (with("\n[victims]\npayments = 0\n"), "victims.payments"),
        (with("\n[victims]\npayments = [1, 65]\n"), "victims.payments"),
        (with("\n[victims]\npayment_gap_minutes = [5, 1]\n"), "victims.payment_gap_minutes"),
        (with("\n[victims]\nreport_delay_minutes = { median = 0, p90 = 10 }\n"), "victims.report_delay_minutes"),
        (with("\n[victims]\norder_share = 2\n"), "victims.order_share"),
        (with("\n[banks]\nanswer_ms = [500, 100]\n"), "banks.answer_ms"),
        (with("\n[banks]\nreturn_ms = -1\n"), "banks.return_ms"),
        (with("\n[banks]\nreturn_ms = 432000001\n"), "banks.return_ms"),
        (MINIMAL.replace("duration_hours = 24", "duration_hours = 0"), "scenario.duration_hours"),
        (MINIMAL.replace("duration_hours = 24", "duration_hours = -3"), "scenario.duration_hours"),
        (MINIMAL.replace("duration_hours = 24", "duration_days = 400"), "scenario.duration_days"),
        (MINIMAL.replace("duration_hours = 24\n", ""), "scenario.duration_hours"),
        (MINIMAL.replace("seed = 7", "seed = -7"), "scenario.seed"),
        (MINIMAL.replace("name = \"minimal\"", "name = \" \""), "scenario.name"),
        (MINIMAL.replace("population = 9300000", "population = 0"), "cities[0].population"),
        (MINIMAL.replace("name = \"wenzhou\"", "name = \"Wen Zhou\""), "cities[0].name"),
        (MINIMAL.replace("[[gangs]]", "[[cities]]\nname = \"wenzhou\"\npopulation = 5\n\n[[gangs]]"), "cities[1].name"),
    ];
    for (text, field) in cases {
        assert_eq!(error_field(&text), field, "{text}");
    }
}

#[test]
fn empty_cities_and_gangs_are_refused() {
    let no_cities = MINIMAL.replace("[[cities]]\nname = \"wenzhou\"\npopulation = 9300000\n", "");
    assert_eq!(error_field(&no_cities), "cities");
    let no_gangs = MINIMAL.replace("[[gangs]]\nfraud_type = \"pig_butchering\"\nvictims = 3\n", "");
    assert_eq!(error_field(&no_gangs), "gangs");
}

#[test]
fn errors_say_what_is_accepted() {
    let error = Scenario::parse(&with("typology = \"star\"\n")).unwrap_err();
    let shown = error.to_string();
    assert!(shown.contains("gangs[0].typology"), "{shown}");
    assert!(shown.contains("\"star\""), "{shown}");
    assert!(shown.contains(Typology::EXPECTED), "{shown}");
    let error = Scenario::parse(&MINIMAL.replace("pig_butchering", "romance")).unwrap_err();
    assert!(error.to_string().contains(FraudType::EXPECTED), "{error}");
}

#[test]
fn widths_take_counts_and_ranges() {
    let scenario = Scenario::parse(&with("widths = [1, 4, [6, 10], 12]\n")).unwrap();
    assert_eq!(
        scenario.gangs[0].widths,
        vec![Span::exactly(1), Span::exactly(4), Span { min: 6, max: 10 }, Span::exactly(12)]
    );
    for typology in Typology::ALL {
        let text = with(&format!("typology = \"{typology}\"\n"));
        let gang = &Scenario::parse(&text).unwrap().gangs[0];
        assert_eq!(gang.widths, typology.default_widths(), "{typology}");
    }
}

#[test]
fn a_file_without_a_population_reaches_nobody_and_an_empty_one_gets_the_defaults() {
    let scenario = Scenario::parse(MINIMAL).unwrap();
    assert_eq!(scenario.population, None);
    let population = Scenario::parse(&with("\n[population]\n")).unwrap().population.unwrap();
    assert_eq!(population.per_victim, 10);
    assert_eq!(population.pay_share, 0.1);
    assert_eq!(population.pay_delay_ms, Span { min: 3_600_000, max: 48 * 3_600_000 });
    assert_eq!(population.contacts, Span { min: 1, max: 4 });
    assert_eq!(population.signal_delay_ms, Span { min: 60_000, max: 600_000 });
    assert_eq!((population.sms_effect, population.call_effect, population.visit_effect), (0.1, 0.4, 0.8));
    assert_eq!(scenario.staff, StaffSpec { calls_per_day: 2_000, visits_per_day: [50, 150, 300, 500] });

    let text = with(
        "\n[population]\nper_victim = 3\npay_share = 0.5\npay_delay_hours = [2, 4]\ncontacts = 2\n\
         signal_delay_minutes = [0, 0]\nhandset_off_share = 0\nsms_effect = 1\n\
         \n[staff]\ncalls_per_day = 10\nvisits_per_day = [1, 2, 3, 0]\n",
    );
    let scenario = Scenario::parse(&text).unwrap();
    let population = scenario.population.unwrap();
    assert_eq!((population.per_victim, population.pay_share, population.sms_effect), (3, 0.5, 1.0));
    assert_eq!(population.contacts, Span::exactly(2));
    assert_eq!(population.signal_delay_ms, Span::exactly(0));
    assert_eq!(scenario.staff, StaffSpec { calls_per_day: 10, visits_per_day: [1, 2, 3, 0] });
}

#[test]
fn bad_population_and_staff_values_name_their_field() {
    let population = |line: &str| with(&format!("\n[population]\n{line}\n"));
    let staff = |line: &str| with(&format!("\n[staff]\n{line}\n"));
    let cases = [
        (population("per_victim = -1"), "population.per_victim"),
        (population("per_victim = 1001"), "population.per_victim"),
        (population("pay_share = 1.5"), "population.pay_share"),
        (population("pay_delay_hours = [0, 1]"), "population.pay_delay_hours"),
        (population("pay_delay_hours = [5, 2]"), "population.pay_delay_hours"),
        (population("pay_delay_hours = [1, 1000]"), "population.pay_delay_hours"),
        (population("contacts = 0"), "population.contacts"),
        (population("contacts = [3, 40]"), "population.contacts"),
        (population("instructions_share = -0.5"), "population.instructions_share"),
        (population("signal_delay_minutes = [10, 1]"), "population.signal_delay_minutes"),
        (population("signal_delay_minutes = [1, 2000]"), "population.signal_delay_minutes"),
        (population("handset_off_share = 2"), "population.handset_off_share"),
        (population("sms_effect = -0.1"), "population.sms_effect"),
        (population("call_effect = 1.1"), "population.call_effect"),
        (population("visit_effect = 7"), "population.visit_effect"),
        (population("unreachable_share = -1"), "population.unreachable_share"),
        (population("people = 5"), "population.people"),
        (staff("calls_per_day = -3"), "staff.calls_per_day"),
        (staff("calls_per_day = 25001"), "staff.calls_per_day"),
        (staff("visits_per_day = [1, 2, 3]"), "staff.visits_per_day"),
        (staff("visits_per_day = [1, 2, -3, 4]"), "staff.visits_per_day[2]"),
        (staff("calls = 5"), "staff.calls"),
    ];
    for (text, field) in cases {
        assert_eq!(error_field(&text), field, "{text}");
    }
    let error = Scenario::parse(&population("per_victim = 1001")).unwrap_err();
    assert!(error.to_string().contains("is 1001, expected 0 to 1000"), "{error}");
}

#[test]
fn restitution_plays_an_hours_notice_by_default_and_bad_values_name_their_field() {
    let spec = Scenario::parse(MINIMAL).unwrap().restitution;
    assert_eq!(spec, RestitutionSpec { notice_ms: 3_600_000, approve_after_ms: 600_000 });
    let text = with("\n[restitution]\nnotice_minutes = 0.5\napprove_after_minutes = 0\n");
    let spec = Scenario::parse(&text).unwrap().restitution;
    assert_eq!(spec, RestitutionSpec { notice_ms: 30_000, approve_after_ms: 0 });
    let restitution = |line: &str| with(&format!("\n[restitution]\n{line}\n"));
    let cases = [
        (restitution("notice_minutes = 0"), "restitution.notice_minutes"),
        (restitution("notice_minutes = 525601"), "restitution.notice_minutes"),
        (restitution("approve_after_minutes = -1"), "restitution.approve_after_minutes"),
        (restitution("notice_days = 30"), "restitution.notice_days"),
    ];
    for (text, field) in cases {
        assert_eq!(error_field(&text), field, "{text}");
    }
}
