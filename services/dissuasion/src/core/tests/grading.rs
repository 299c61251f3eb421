//! The grading rule, case by case (docs/dissuasion.md, "Grading").

use std::collections::BTreeSet;

use domain::FraudType;

use super::*;
use crate::core::grading::points;

/// A row of evidence: identifier, contacts, the longest in seconds, fraud type.
type Row<'a> = (&'a str, u32, u32, FraudType);

/// Evidence from rows.
fn evidence(rows: &[Row]) -> Evidence {
    let mut evidence = Evidence::default();
    for (identifier, contacts, longest_s, fraud_type) in rows {
        let types: BTreeSet<FraudType> = [*fraud_type].into();
        for n in 0..*contacts {
            let duration = if n == 0 { *longest_s } else { 0 };
            evidence.add_contact(&id(identifier), T0 + u64::from(n), duration, &types);
        }
    }
    evidence
}

const PIG: FraudType = FraudType::PigButchering;
const POLICE: FraudType = FraudType::ImpersonatingAuthorities;
const OTHER: &str = "phone:+8613900000000";
const THIRD: &str = "domain:fake-bank.com.cn";

#[test]
fn grading_table() {
    let config = GradingConfig::default();
    #[rustfmt::skip]
    let table: [(&str, Vec<Row>, u32, Grade); 9] = [
        ("one short contact, slow type", vec![(FAKE_SHOP, 1, 10, PIG)], 1, Grade::Low),
        ("one short contact, fast type", vec![(FAKE_POLICE, 1, 10, POLICE)], 2, Grade::Medium),
        ("one long call, slow type", vec![(FAKE_SHOP, 1, 300, PIG)], 2, Grade::Medium),
        ("just under long", vec![(FAKE_SHOP, 1, 299, PIG)], 1, Grade::Low),
        ("repeated contacts, slow type", vec![(FAKE_SHOP, 3, 0, PIG)], 2, Grade::Medium),
        ("twice is not repeated", vec![(FAKE_SHOP, 2, 0, PIG)], 1, Grade::Low),
        ("a long call from a fake police officer", vec![(FAKE_POLICE, 1, 1200, POLICE)], 3, Grade::High),
        ("two identifiers", vec![(FAKE_SHOP, 1, 0, PIG), (OTHER, 1, 0, PIG)], 2, Grade::Medium),
        ("three identifiers", vec![(FAKE_SHOP, 1, 0, PIG), (OTHER, 1, 0, PIG), (THIRD, 1, 0, PIG)], 3, Grade::High),
    ];
    for (name, rows, expected_points, expected) in table {
        let evidence = evidence(&rows);
        assert_eq!(points(&evidence, &config), expected_points, "{name}");
        assert_eq!(grade(&evidence, &config), Some(expected), "{name}");
    }
}

#[test]
fn no_evidence_is_no_grade_and_an_alarm_alone_is_high() {
    let config = GradingConfig::default();
    assert_eq!(grade(&Evidence::default(), &config), None);
    let transfer = Evidence { transfer_at_ms: Some(T0), ..Evidence::default() };
    assert_eq!(grade(&transfer, &config), Some(Grade::High), "transfer instructions: paying now");
    let app = Evidence { scam_app_at_ms: Some(T0), ..evidence(&[(FAKE_SHOP, 1, 0, PIG)]) };
    assert_eq!(grade(&app, &config), Some(Grade::High), "a scam app installed");
}

#[test]
fn thresholds_are_configuration() {
    let strict = GradingConfig { medium_points: 1, high_points: 2, fast_types: BTreeSet::new(), ..Default::default() };
    assert_eq!(grade(&evidence(&[(FAKE_SHOP, 1, 0, PIG)]), &strict), Some(Grade::Medium));
    assert_eq!(grade(&evidence(&[(FAKE_POLICE, 1, 0, POLICE)]), &strict), Some(Grade::Medium), "no fast types");
    assert_eq!(grade(&evidence(&[(FAKE_SHOP, 3, 0, PIG)]), &strict), Some(Grade::High));
}

#[test]
fn a_grade_comes_with_its_first_step() {
    use crate::events::{Level, TaskKind};
    assert_eq!(TaskKind::for_grade(Grade::Low), TaskKind::Sms);
    assert_eq!(TaskKind::for_grade(Grade::Medium), TaskKind::Call);
    assert_eq!(TaskKind::for_grade(Grade::High), TaskKind::Visit(Level::CityBureau));
}
