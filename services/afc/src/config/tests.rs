//! The config file's checks, each on the problem it names.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use super::*;

/// The example an operator copies (deploy/afc/city.toml.example).
const EXAMPLE: &str = include_str!("../../../../deploy/afc/city.toml.example");

fn keys_of(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(Problem::key).collect()
}

/// A deployment directory with the seeds of hangzhou's services and a CA file.
fn credentials_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for service in domain::Service::ALL {
        security::Identity::generate(&format!("hangzhou-{service}")).unwrap().save(&dir.path().join("keys")).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("pki")).unwrap();
    std::fs::write(dir.path().join("pki/ca.crt"), "a CA").unwrap();
    dir
}

fn file(city: &str, data: &Path, credentials: Option<&Path>) -> CityFile {
    CityFile {
        city: Some(city.into()),
        data_dir: Some(data.to_owned()),
        credentials: credentials.map(|dir| CredentialsSection { dir: Some(dir.to_owned()), ..Default::default() }),
        ..CityFile::default()
    }
}

#[test]
fn the_example_file_sets_every_key_and_has_no_problem() {
    let (parsed, problems) = parse(EXAMPLE).unwrap();
    assert_eq!(problems, []);
    assert_eq!(parsed.city.as_deref(), Some("hangzhou"));
    assert_eq!(parsed.freeze_after_ms, Some(freezing::limits::DEFAULT_FREEZE_AFTER_MS));
    assert_eq!(parsed.credentials.unwrap().dir, Some("/etc/afc".into()));
    assert_eq!(parsed.logging.unwrap().format.as_deref(), Some("text"));
    assert_eq!(parsed.dissuasion.unwrap().visits_per_day, Some([50, 150, 300, 500]));
    assert_eq!(parsed.restitution.unwrap().notice_days, Some(30));
    assert_eq!(parsed.http.as_deref(), Some("127.0.0.1:9464"));
}

#[test]
fn the_http_address_is_off_by_default_a_flag_overrides_the_file_and_a_bad_one_is_named() {
    let data = tempfile::tempdir().unwrap();
    let off = resolve(file("hangzhou", data.path(), None), Overrides::default()).unwrap();
    assert_eq!(off.options.http, None);
    let mut with_http = file("hangzhou", data.path(), None);
    with_http.http = Some("127.0.0.1:9464".into());
    let flag = Overrides { http: Some("0.0.0.0:9100".into()), ..Overrides::default() };
    let settings = resolve(with_http.clone(), flag).unwrap();
    assert_eq!(settings.options.http, Some("0.0.0.0:9100".parse().unwrap()));
    with_http.http = Some("localhost".into());
    let Problems(problems) = resolve(with_http, Overrides::default()).unwrap_err();
    assert_eq!(keys_of(&problems), ["http"]);
}

#[test]
fn restitution_reads_the_notice_and_the_roster_and_bad_values_are_each_named() {
    let data = tempfile::tempdir().unwrap();
    let key = security::Identity::generate("approver").unwrap().public_key().to_owned();
    let mut good = file("hangzhou", data.path(), None);
    let approvers = [("li".to_owned(), key.clone())].into_iter().collect();
    good.restitution =
        Some(RestitutionSection { notice_minutes: Some(5), approvers: Some(approvers), ..Default::default() });
    let tuning = resolve(good, Overrides::default()).unwrap().options.restitution;
    assert_eq!(tuning.notice_ms, 5 * 60_000);
    assert_eq!(tuning.approvers.get("li"), Some(&key));
    let mut bad = file("hangzhou", data.path(), None);
    let approvers = [("li wang".to_owned(), key), ("zhao".to_owned(), "SUAKEYSEED".to_owned())].into_iter().collect();
    bad.restitution =
        Some(RestitutionSection { notice_days: Some(0), approvers: Some(approvers), ..Default::default() });
    let Problems(problems) = resolve(bad, Overrides::default()).unwrap_err();
    assert_eq!(keys_of(&problems), ["restitution.notice_days", "restitution.approvers", "restitution.approvers.zhao"]);
}

#[test]
fn dissuasion_tuning_reads_over_the_defaults_and_bad_values_are_each_named() {
    let data = tempfile::tempdir().unwrap();
    let mut good = file("hangzhou", data.path(), None);
    good.dissuasion = Some(DissuasionSection { calls_per_day: Some(300), high_points: Some(4), ..Default::default() });
    let tuning = resolve(good, Overrides::default()).unwrap().options.dissuasion;
    assert_eq!((tuning.capacity.calls_per_day, tuning.grading.high_points), (300, 4));
    assert_eq!(tuning.grading.medium_points, 2, "the rest keeps its default");
    let mut bad = file("hangzhou", data.path(), None);
    bad.dissuasion = Some(DissuasionSection {
        medium_points: Some(3),
        high_points: Some(3),
        visits_per_day: Some([50, 0, 300, 500]),
        retention_days: Some(90),
        ..Default::default()
    });
    let Problems(problems) = resolve(bad, Overrides::default()).unwrap_err();
    assert_eq!(
        keys_of(&problems),
        ["dissuasion.medium_points", "dissuasion.visits_per_day", "dissuasion.retention_days"]
    );
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(shown[0].contains("(3, 3)") && shown[0].contains("below high_points"), "{shown:?}");
    assert!(shown[2].contains("90") && shown[2].contains("1 to 31 days"), "{shown:?}");
}

#[test]
fn unknown_keys_and_wrong_types_are_each_named_and_the_other_keys_still_read() {
    let text = "city = \"hangzhou\"\ncolour = 1\nfreeze_after_ms = \"soon\"\n[credentials]\nkeyz = \"x\"\n[logging]\nlevel = 3\nformat = \"json\"\n";
    let (parsed, problems) = parse(text).unwrap();
    // In the order of the keys (a TOML table is sorted).
    assert_eq!(keys_of(&problems), ["colour", "credentials.keyz", "freeze_after_ms", "logging.level"]);
    assert!(matches!(&problems[0], Problem::Unknown { message, .. } if message.contains("`colour`")));
    assert!(
        matches!(&problems[1], Problem::Unknown { message, .. } if message.contains("keys_dir")),
        "says what is accepted"
    );
    assert!(matches!(&problems[2], Problem::Type { message, .. } if message.contains("\"soon\"")));
    assert_eq!(parsed.city.as_deref(), Some("hangzhou"), "the good keys are kept");
    assert_eq!(parsed.logging.unwrap().format.as_deref(), Some("json"));
}

#[test]
fn a_file_that_is_not_toml_names_the_line() {
    let error = parse("city = \"hangzhou\"\nfreeze_after_ms = = 3\n").unwrap_err();
    assert!(error.starts_with("line 2:"), "{error}");
}

#[test]
fn bad_values_are_each_named_with_the_value_and_what_is_accepted() {
    let data = tempfile::tempdir().unwrap();
    let mut bad = file("Hang Zhou", data.path(), None);
    bad.freeze_after_ms = Some(STOP_LAPSE_MS - 1);
    bad.at_risk_margin_ms = Some(0);
    bad.tracing_rule = Some("fifo".into());
    bad.only = Some("warning".into());
    bad.nats_url = Some("hub:4222".into());
    bad.logging = Some(LoggingSection { level: Some("freezing=loudest".into()), format: Some("xml".into()) });
    let Problems(problems) = resolve(bad, Overrides::default()).unwrap_err();
    let mut keys = keys_of(&problems);
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "at_risk_margin_ms",
            "city",
            "freeze_after_ms",
            "logging.format",
            "logging.level",
            "nats_url",
            "only",
            "tracing_rule"
        ]
    );
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(shown.iter().any(|p| p.starts_with("city: \"Hang Zhou\" is not a city name")), "{shown:?}");
    assert!(
        shown
            .iter()
            .any(|p| p.contains("freeze_after_ms: 172799999 is not well under") && p.contains("at most 43200000")),
        "{shown:?}"
    );
    assert!(
        shown.iter().any(|p| p.contains("\"fifo\"") && p.contains("pro-rata, lowest-intermediate-balance")),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|p| p.contains("\"warning\"") && p.contains("intake, freezing, blocking, dissuasion, restitution")),
        "{shown:?}"
    );
}

#[test]
fn freeze_after_is_accepted_up_to_a_quarter_of_the_lapse() {
    assert_eq!(check::freeze_after(MAX_FREEZE_AFTER_MS), None);
    assert!(check::freeze_after(MAX_FREEZE_AFTER_MS + 1).is_some());
}

#[test]
fn the_city_and_the_data_directory_are_required() {
    let Problems(problems) = resolve(CityFile::default(), Overrides::default()).unwrap_err();
    assert_eq!(keys_of(&problems), ["city", "data_dir"]);
    assert!(problems.iter().all(|p| matches!(p, Problem::Missing { .. })));
}

#[test]
fn a_flag_or_variable_overrides_the_file_which_overrides_the_default() {
    let data = tempfile::tempdir().unwrap();
    let mut written = file("hangzhou", data.path(), None);
    written.nats_url = Some("tls://file:4222".into());
    written.freeze_after_ms = Some(1_000);
    let overrides = Overrides { nats_url: Some("tls://flag:4222".into()), ..Overrides::default() };
    let settings = resolve(written, overrides).unwrap();
    assert_eq!(settings.options.nats_url, "tls://flag:4222", "the flag wins over the file");
    assert_eq!(settings.options.freeze_after_ms, 1_000, "the file wins over the default");
    assert_eq!(settings.options.at_risk_margin_ms, freezing::limits::DEFAULT_AT_RISK_MARGIN_MS, "the default");
    assert_eq!((settings.log_level.as_str(), settings.log_format), (DEFAULT_LOG_LEVEL, LogFormat::Text));
    assert_eq!(settings.options.credentials, None, "no credentials: anonymous");
}

#[test]
fn the_credentials_directory_gives_the_paths_and_each_can_be_overridden() {
    let secrets = credentials_dir();
    let data = tempfile::tempdir().unwrap();
    let settings = resolve(file("hangzhou", data.path(), Some(secrets.path())), Overrides::default()).unwrap();
    assert_eq!(settings.options.credentials, Some(CredentialFiles::of_deployment(secrets.path())));

    let ca = secrets.path().join("pki/ca.crt");
    let overrides =
        Overrides { keys_dir: Some(secrets.path().join("keys")), ca_file: Some(ca.clone()), ..Overrides::default() };
    let settings = resolve(file("hangzhou", data.path(), None), overrides).unwrap();
    assert_eq!(settings.options.credentials.unwrap().ca_file, ca);

    let alone = Overrides { keys_dir: Some(secrets.path().join("keys")), ..Overrides::default() };
    let Problems(problems) = resolve(file("hangzhou", data.path(), None), alone).unwrap_err();
    assert_eq!(keys_of(&problems), ["credentials.ca_file"]);
}

#[test]
fn a_missing_seed_a_seed_others_may_read_and_a_missing_ca_are_each_named() {
    let secrets = credentials_dir();
    let keys = secrets.path().join("keys");
    std::fs::remove_file(keys.join("hangzhou-intake.nk")).unwrap();
    std::fs::set_permissions(keys.join("hangzhou-freezing.nk"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(secrets.path().join("pki/ca.crt")).unwrap();
    let data = tempfile::tempdir().unwrap();
    let Problems(problems) =
        resolve(file("hangzhou", data.path(), Some(secrets.path())), Overrides::default()).unwrap_err();
    assert_eq!(keys_of(&problems), ["credentials.keys_dir", "credentials.keys_dir", "credentials.ca_file"]);
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(shown[0].contains("hangzhou-intake.nk") && shown[0].contains("no seed"), "{shown:?}");
    assert!(shown[1].contains("hangzhou-freezing") && shown[1].contains("mode 644"), "{shown:?}");
    assert!(shown[2].contains("ca.crt"), "{shown:?}");
    assert!(!shown.iter().any(|line| line.contains("SU")), "no seed is ever shown");

    // A node running only freezing needs only freezing's seed.
    std::fs::set_permissions(keys.join("hangzhou-freezing.nk"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(secrets.path().join("pki/ca.crt"), "a CA").unwrap();
    let mut only = file("hangzhou", data.path(), Some(secrets.path()));
    only.only = Some("freezing".into());
    resolve(only, Overrides::default()).expect("freezing's seed is there");
}

#[test]
fn a_data_directory_that_cannot_be_created_is_named_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    let Problems(problems) = resolve(file("hangzhou", &blocker.join("data"), None), Overrides::default()).unwrap_err();
    assert_eq!(keys_of(&problems), ["data_dir"]);
    assert!(problems[0].to_string().contains("is not a directory"), "{}", problems[0]);

    let fresh = dir.path().join("not-yet/data");
    resolve(file("hangzhou", &fresh, None), Overrides::default()).expect("a directory that can be created");
    assert!(!dir.path().join("not-yet").exists(), "checking creates nothing");
    let Problems(problems) =
        resolve(file("hangzhou", Path::new("relative/data"), None), Overrides::default()).unwrap_err();
    assert_eq!(keys_of(&problems), ["data_dir"]);
}

#[test]
fn a_key_refused_for_its_type_is_not_also_reported_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.toml");
    std::fs::write(&path, format!("city = 5\ndata_dir = \"{}\"\n", dir.path().display())).unwrap();
    let Problems(problems) = load(&path, Overrides::default()).unwrap_err();
    assert_eq!(keys_of(&problems), ["city"]);
    assert!(matches!(problems[0], Problem::Type { .. }));
}

#[test]
fn the_approvers_of_the_city_s_roster_of_staff_join_restitution_s_and_the_config_s_own_key_wins() {
    use security::staff::{Roster, StaffMember, StaffRole};
    let (data, credentials) = (tempfile::tempdir().unwrap(), credentials_dir());
    let member = |name: &str, role, key: &str| StaffMember { name: name.into(), role, public_key: key.into() };
    let roster = Roster {
        members: vec![
            member("hangzhou-approver-1", StaffRole::Approver, "UROSTER1"),
            member("hangzhou-approver-2", StaffRole::Approver, "UROSTER2"),
            member("hangzhou-intake-1", StaffRole::Intake, "UINTAKE"),
        ],
    };
    roster.save(&Roster::path(credentials.path(), "hangzhou")).unwrap();
    let mut with_roster = file("hangzhou", data.path(), Some(credentials.path()));
    let own = security::Identity::generate("x").unwrap().public_key().to_owned();
    let approvers = [("hangzhou-approver-2".to_owned(), own.clone())].into_iter().collect();
    with_roster.restitution = Some(RestitutionSection { approvers: Some(approvers), ..Default::default() });
    let settings = resolve(with_roster.clone(), Overrides::default()).unwrap();
    let approvers = &settings.options.restitution.approvers;
    assert_eq!(approvers.get("hangzhou-approver-1").map(String::as_str), Some("UROSTER1"));
    assert_eq!(approvers.get("hangzhou-approver-2"), Some(&own), "the config's own key");
    assert!(!approvers.contains_key("hangzhou-intake-1"), "only approvers approve");

    std::fs::write(Roster::path(credentials.path(), "hangzhou"), "not json").unwrap();
    let Problems(problems) = resolve(with_roster, Overrides::default()).unwrap_err();
    assert_eq!(keys_of(&problems), ["credentials.dir"]);
}
