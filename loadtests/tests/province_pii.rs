//! Personal data stays in the cities (issue 17, part 5): a whole drill on the embedded
//! secured deployment (two cities; cases, blocks, freezes, a dissuasion population with its
//! signals, SMS, tasks and a report filed for someone found paid, and restitution), then
//! every message the hub's `AFC_PROVINCE` holds — subject, headers and payload, raw bytes —
//! and the province coordinator's files are searched for every personal value of every one
//! of the drill's people, in every form it could be written: the victims' names, ID numbers,
//! phone numbers and own bank accounts (the accounts they paid from, which restitution pays
//! back into), and the numbers, names and ID numbers of the people the gang's campaign
//! reached. None may be there.
//!
//! The search is shown to work on the same run: the same scan of each city's signal stream
//! (`AFC_<CITY>_SIG`, never sourced by the province) finds the subscribers the carriers
//! signalled, and the same scan of each city node's files (intake's reports, dissuasion's
//! people) finds every victim who filed and every person found paid.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use domain::{City, Service};
use loadtests::deployment::Embedded;
use loadtests::drill::{DrillOptions, Target, run_inspected};
use simulator::crime::{Script, generate_script};
use simulator::scenario::Scenario;

/// Bound on the province holding what the cities' streams held when the drill ended.
const SOURCED_TIMEOUT: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Whose value a needle is, and of what kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    VictimName,
    VictimIdNumber,
    VictimPhone,
    VictimAccount,
    Subscriber,
    PersonName,
    PersonIdNumber,
    /// Not personal: a gang's number and the mule accounts victims paid into, which the
    /// province must hear of (the control of the province's own scan).
    ScamPhone,
    MuleAccount,
}

/// One personal value in one written form.
#[derive(Debug)]
struct Needle {
    bytes: Vec<u8>,
    /// The value and the form, for the failure message (masked there).
    form: &'static str,
    /// Who it belongs to (`victim 3`, `person 17`) and what it is; several when two people
    /// share a value (a name).
    owners: BTreeSet<(Kind, String)>,
}

/// Every personal value of a drill's people, searched for in one pass over a haystack.
#[derive(Debug, Default)]
struct Needles {
    list: Vec<Needle>,
    index: BTreeMap<Vec<u8>, usize>,
    /// Needles by their first four bytes.
    by_head: HashMap<[u8; 4], Vec<usize>>,
    /// Bytes some needle starts with.
    starts: Vec<bool>,
    /// The distinct values (not forms) of each kind.
    values: BTreeMap<Kind, BTreeSet<String>>,
}

impl Needles {
    fn add(&mut self, kind: Kind, owner: &str, value: &str) {
        self.values.entry(kind).or_default().insert(value.to_owned());
        for (form, written) in forms(kind, value) {
            assert!(written.len() >= 4, "{kind:?} of {owner} is too short to search for");
            let at = *self.index.entry(written.clone().into_bytes()).or_insert_with(|| {
                self.list.push(Needle { bytes: written.into_bytes(), form, owners: BTreeSet::new() });
                self.list.len() - 1
            });
            self.list[at].owners.insert((kind, owner.to_owned()));
        }
    }

    fn build(mut self) -> Needles {
        self.starts = vec![false; 256];
        for (i, needle) in self.list.iter().enumerate() {
            self.starts[usize::from(needle.bytes[0])] = true;
            let head = [needle.bytes[0], needle.bytes[1], needle.bytes[2], needle.bytes[3]];
            self.by_head.entry(head).or_default().push(i);
        }
        self
    }

    /// The needles found in `hay`.
    fn scan(&self, hay: &[u8]) -> BTreeSet<usize> {
        let mut found = BTreeSet::new();
        for i in 0..hay.len().saturating_sub(3) {
            if !self.starts[usize::from(hay[i])] {
                continue;
            }
            let Some(candidates) = self.by_head.get(&[hay[i], hay[i + 1], hay[i + 2], hay[i + 3]]) else {
                continue;
            };
            found.extend(candidates.iter().copied().filter(|&n| hay[i..].starts_with(&self.list[n].bytes)));
        }
        found
    }

    /// The people (kind, owner) a set of found needles names.
    fn owners(&self, found: &BTreeSet<usize>) -> BTreeSet<(Kind, String)> {
        found.iter().flat_map(|&n| self.list[n].owners.iter().cloned()).collect()
    }

    /// `kind of owner, form, masked value` for a failure message.
    fn describe(&self, n: usize) -> String {
        let needle = &self.list[n];
        let owners: Vec<String> = needle.owners.iter().map(|(kind, who)| format!("{kind:?} of {who}")).collect();
        format!("{} ({}: {})", owners.join(", "), needle.form, mask(&String::from_utf8_lossy(&needle.bytes)))
    }
}

/// Every way a value of `kind` could be written in a message.
fn forms(kind: Kind, value: &str) -> Vec<(&'static str, String)> {
    match kind {
        Kind::VictimPhone | Kind::Subscriber | Kind::ScamPhone => {
            let national = value.strip_prefix("+86").unwrap_or(value);
            assert!(national.len() == 11 && national.bytes().all(|b| b.is_ascii_digit()), "a mainland mobile number");
            let spaced = format!("{} {} {}", &national[..3], &national[3..7], &national[7..]);
            vec![
                ("national", national.to_owned()),
                ("E.164", format!("+86{national}")),
                ("86 without +", format!("86{national}")),
                ("spaced", spaced.clone()),
                ("E.164 spaced", format!("+86 {spaced}")),
                ("dashed", spaced.replace(' ', "-")),
            ]
        }
        Kind::VictimName | Kind::PersonName => {
            let escaped = |upper: bool| -> String {
                value
                    .encode_utf16()
                    .map(|u| if upper { format!("\\u{u:04X}") } else { format!("\\u{u:04x}") })
                    .collect()
            };
            vec![
                ("UTF-8", value.to_owned()),
                ("JSON-escaped", escaped(false)),
                ("JSON-escaped, upper hex", escaped(true)),
            ]
        }
        Kind::VictimIdNumber | Kind::PersonIdNumber => {
            vec![("as given", value.to_owned()), ("lower case", value.to_ascii_lowercase())]
        }
        Kind::VictimAccount | Kind::MuleAccount => {
            let number = value.split_once(':').map_or(value, |(_, number)| number);
            let grouped: Vec<&str> = number.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect();
            vec![("bank:number", value.to_owned()), ("number", number.to_owned()), ("grouped", grouped.join(" "))]
        }
    }
}

/// Shows a value's first and last few characters only.
fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let keep = (chars.len() / 4).max(1);
    let tail = if chars.len() > 2 * keep { keep } else { 0 };
    let mut out: String = chars[..keep].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - keep - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// Every personal value of the script's people: each report's victim (as the body the
/// simulator files names them, and the accounts it names as theirs), and each person of the
/// population.
fn personal_values(script: &Script) -> Needles {
    let mut needles = Needles::default();
    for (i, report) in script.reports.iter().enumerate() {
        let who = format!("victim {i}");
        let victim = &report.body["victim"];
        for (field, kind) in
            [("name", Kind::VictimName), ("id_number", Kind::VictimIdNumber), ("phone", Kind::VictimPhone)]
        {
            needles.add(kind, &who, victim[field].as_str().unwrap_or_else(|| panic!("{who} has a {field}")));
        }
        needles.add(Kind::VictimAccount, &who, report.case.victim_account.as_str());
        for transfer in report.body["transfers"].as_array().expect("transfers") {
            if let Some(from) = transfer["from_account"].as_str() {
                needles.add(Kind::VictimAccount, &who, from);
            }
        }
    }
    for (i, person) in script.world.population.people().iter().enumerate() {
        let who = format!("person {i}");
        needles.add(Kind::Subscriber, &who, &person.phone);
        needles.add(Kind::PersonName, &who, &person.name);
        needles.add(Kind::PersonIdNumber, &who, &person.id_number);
    }
    needles.build()
}

/// What the province must hold: the gangs' numbers the victims name, and the accounts they
/// paid into.
fn suspects(script: &Script) -> Needles {
    let mut needles = Needles::default();
    for (i, gang) in script.gangs.iter().enumerate() {
        for phone in &gang.phones {
            needles.add(Kind::ScamPhone, &format!("gang {i}"), phone);
        }
    }
    for (i, report) in script.reports.iter().enumerate() {
        for transfer in report.body["transfers"].as_array().expect("transfers") {
            if let Some(account) = transfer["account"].as_str() {
                needles.add(Kind::MuleAccount, &format!("victim {i}'s payee"), account);
            }
        }
    }
    needles.build()
}

/// A stored message, as the bytes a reader of the stream gets: subject, headers, payload.
struct Held {
    place: String,
    subject: String,
    bytes: Vec<u8>,
}

fn held(stream: &str, seq: u64, subject: &str, headers: &async_nats::HeaderMap, payload: &[u8]) -> Held {
    let mut bytes = format!("{subject}\n").into_bytes();
    for (name, values) in headers.iter() {
        for value in values {
            bytes.extend_from_slice(format!("{name}: {value}\n").as_bytes());
        }
    }
    bytes.push(b'\n');
    bytes.extend_from_slice(payload);
    Held { place: format!("{stream} seq {seq} ({subject})"), subject: subject.to_owned(), bytes }
}

/// Every message `stream` holds, read one by one by sequence number.
async fn every_message(js: &jetstream::Context, name: &str) -> anyhow::Result<Vec<Held>> {
    let mut stream = js.get_stream(name).await.with_context(|| format!("opening {name}"))?;
    let state = stream.info().await?.state.clone();
    let mut out = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        match stream.get_raw_message(seq).await {
            Ok(m) => out.push(held(name, seq, &m.subject, &m.headers, &m.payload)),
            Err(e) if e.kind() == jetstream::stream::RawMessageErrorKind::NoMessageFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {name} seq {seq}")),
        }
    }
    anyhow::ensure!(
        out.len() as u64 == state.messages,
        "read {} of the {} messages of {name}",
        out.len(),
        state.messages
    );
    Ok(out)
}

/// Every message of a city's signal stream, read as its provisioner may: a consumer of its own
/// delivering to the provisioner's inbox, acknowledging nothing.
async fn every_signal(admin: async_nats::Client, city: &City) -> anyhow::Result<Vec<Held>> {
    use futures::StreamExt;
    let name = city.signal_stream_name();
    let js = jetstream::new(admin);
    let mut stream = js.get_stream(&name).await.with_context(|| format!("opening {name}"))?;
    let total = stream.info().await?.state.messages;
    let consumer = stream
        .create_consumer(jetstream::consumer::push::Config {
            name: Some("pii-scan".into()),
            deliver_subject: format!("{}.pii-scan", protocol::subjects::city_inbox(city, "admin")),
            filter_subject: protocol::subjects::city_signals(city),
            ack_policy: jetstream::consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .with_context(|| format!("a consumer of {name}"))?;
    let mut messages = consumer.messages().await?;
    let mut out = Vec::new();
    while (out.len() as u64) < total {
        let next = tokio::time::timeout(SOURCED_TIMEOUT, messages.next())
            .await
            .with_context(|| format!("read {} of the {total} signals of {name}", out.len()))?;
        let message = next.context("the consumer ended")?.map_err(|e| anyhow::anyhow!("reading {name}: {e}"))?;
        let seq = message.info().map_err(|e| anyhow::anyhow!("{e}"))?.stream_sequence;
        let headers = message.headers.clone().unwrap_or_default();
        out.push(held(&name, seq, &message.subject, &headers, &message.payload));
    }
    Ok(out)
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                out.push((path, bytes));
            }
        }
    }
    Ok(out)
}

/// Messages on `stream` of each city's events, by subject filter.
async fn counts(js: &jetstream::Context, stream: &str, cities: &[City]) -> anyhow::Result<BTreeMap<City, usize>> {
    let mut out = BTreeMap::new();
    for city in cities {
        out.insert(city.clone(), common::count(js, stream, &protocol::subjects::city_events(city)).await?);
    }
    Ok(out)
}

/// What the inspection found, checked once the deployment has stopped.
#[derive(Default)]
struct Scans {
    /// Every message of the province stream.
    province: Vec<Held>,
    /// Each needle found in the province's messages, with where.
    province_hits: BTreeMap<usize, Vec<String>>,
    /// The suspects' identifiers found there.
    suspects_found: BTreeSet<usize>,
    /// Files of the province coordinator scanned, and what was found in them.
    coordinator_files: usize,
    coordinator_hits: BTreeMap<usize, Vec<String>>,
    /// Signals read from the cities' signal streams, and the needles found in them.
    signals: usize,
    signal_found: BTreeSet<usize>,
    /// The needles found in the city nodes' files.
    city_files_found: BTreeSet<usize>,
}

async fn inspect(embedded: &Embedded, cities: &[City], needles: &Needles, suspects: &Needles) -> anyhow::Result<Scans> {
    let hub = jetstream::new(embedded.hub.clone());
    // The province holds everything the cities' streams held when the drill ended.
    let mut held = BTreeMap::new();
    for city in cities {
        held.extend(
            counts(&jetstream::new(embedded.client(city).clone()), &city.stream_name(), std::slice::from_ref(city))
                .await?,
        );
    }
    let province_stream = protocol::subjects::PROVINCE_STREAM;
    common::poll(SOURCED_TIMEOUT, "the province holding every city event", || async {
        let sourced = counts(&hub, province_stream, cities).await?;
        Ok(if cities.iter().all(|c| sourced[c] >= held[c]) { Ok(()) } else { Err(format!("{sourced:?} of {held:?}")) })
    })
    .await?;

    let mut scans = Scans { province: every_message(&hub, province_stream).await?, ..Scans::default() };
    for message in &scans.province {
        for n in needles.scan(&message.bytes) {
            scans.province_hits.entry(n).or_default().push(message.place.clone());
        }
        scans.suspects_found.extend(suspects.scan(&message.bytes));
    }
    for (path, bytes) in files_under(&embedded.data_root().join("province"))? {
        scans.coordinator_files += 1;
        for n in needles.scan(&bytes) {
            scans.coordinator_hits.entry(n).or_default().push(path.display().to_string());
        }
    }
    let connector = embedded.connector();
    for city in cities {
        for signal in every_signal(connector.city_admin(city).await?, city).await? {
            scans.signals += 1;
            scans.signal_found.extend(needles.scan(&signal.bytes));
        }
        for (_, bytes) in files_under(&embedded.data_dir(city))? {
            scans.city_files_found.extend(needles.scan(&bytes));
        }
    }
    Ok(scans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_province_receives_no_personal_data_of_a_drills_people() {
    common::init();
    let scenario = fixture("province-pii.toml");
    let script = generate_script(&Scenario::load(&scenario).unwrap()).unwrap();
    let cities: Vec<City> = Scenario::load(&scenario).unwrap().cities.iter().map(|c| c.city.clone()).collect();
    let (needles, suspects) = (personal_values(&script), suspects(&script));
    let out = tempfile::tempdir().unwrap();
    let options = DrillOptions {
        scenario,
        out: out.path().to_owned(),
        seed: None,
        time_scale: None,
        progress: false,
        target: Target::Embedded,
        tracing_rule: freezing::rule::TracingRule::default(),
    };
    let mut scans = None;
    let run = run_inspected(options, async |embedded: &Embedded| {
        scans = Some(inspect(embedded, &cities, &needles, &suspects).await?);
        Ok(())
    })
    .await
    .unwrap();
    let scans = scans.expect("the deployment was inspected");
    eprintln!("{}", loadtests::drill::render::table(&run.report));

    // The drill was whole: every service of the cities published, the province sourced both.
    let mut by_service: BTreeMap<(String, String), usize> = BTreeMap::new();
    for message in &scans.province {
        let parts: Vec<&str> = message.subject.split('.').collect();
        assert!(parts.len() >= 5 && parts[2] == "evt", "{}", message.place);
        *by_service.entry((parts[1].to_owned(), parts[3].to_owned())).or_default() += 1;
    }
    eprintln!("AFC_PROVINCE: {} messages: {by_service:?}", scans.province.len());
    let of = |service: Service| -> usize {
        by_service.iter().filter(|((_, s), _)| s == service.as_str()).map(|(_, n)| n).sum()
    };
    let filed = run.case_ids.iter().flatten().count();
    let d = &run.report.dissuasion;
    assert_eq!(filed, script.reports.len(), "every victim filed (spared_by_blocks = false)");
    assert!(of(Service::Intake) >= filed + d.reports_filed as usize, "{by_service:?}");
    for service in Service::ALL {
        assert!(of(service) >= 2, "{service} published {} events to the province: {by_service:?}", of(service));
    }
    for city in &cities {
        assert!(by_service.keys().filter(|(c, _)| c == city.as_str()).count() >= 3, "{city}: {by_service:?}");
    }
    assert!(d.signals_published > 0 && d.sms_sent > 0 && d.tasks_opened > 0 && d.calls + d.visits > 0, "{d:?}");
    assert!(d.reports_filed > 0, "someone was found paid and their report filed: {d:?}");
    assert!(run.report.restitution.returns_confirmed > 0, "{:?}", run.report.restitution);

    // The search works: the province's own messages name every gang number and payee account
    // the victims reported; the subscribers are in the cities' signal streams, and every victim's
    // data and every paid person's name and ID number in the city nodes' files.
    let named = suspects.owners(&scans.suspects_found);
    let expected = suspects.owners(&(0..suspects.list.len()).collect());
    assert!(expected.len() >= script.gangs.len() + 2, "{expected:?}");
    assert_eq!(named, expected, "the province's messages name what the victims reported");
    let signalled = needles.owners(&scans.signal_found);
    let subscribers: BTreeSet<&String> =
        signalled.iter().filter(|(kind, _)| *kind == Kind::Subscriber).map(|(_, who)| who).collect();
    assert!(scans.signals as u64 >= d.signals_published, "{} signals read", scans.signals);
    assert!(subscribers.len() as u64 >= d.reached && d.reached > 0, "{} subscribers found", subscribers.len());
    let stored = needles.owners(&scans.city_files_found);
    for i in 0..script.reports.len() {
        for kind in [Kind::VictimName, Kind::VictimIdNumber, Kind::VictimPhone, Kind::VictimAccount] {
            assert!(stored.contains(&(kind, format!("victim {i}"))), "{kind:?} of victim {i} not in the city's files");
        }
    }
    let paid: BTreeSet<&String> =
        stored.iter().filter(|(kind, _)| *kind == Kind::PersonIdNumber).map(|(_, who)| who).collect();
    assert!(paid.len() as u64 >= d.reports_filed, "{} people's ID numbers in the cities' files", paid.len());

    // And none of it reached the province.
    let report = |hits: &BTreeMap<usize, Vec<String>>| -> String {
        let lines: Vec<String> = hits
            .iter()
            .map(|(&n, places)| {
                let more = places.len().saturating_sub(5);
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                format!("  {} in {}{more}", needles.describe(n), places[..places.len().min(5)].join("; "))
            })
            .collect();
        lines.join("\n")
    };
    let searched: BTreeMap<Kind, usize> = needles.values.iter().map(|(kind, v)| (*kind, v.len())).collect();
    eprintln!(
        "searched {} messages and {} coordinator files for {} written forms of {searched:?}",
        scans.province.len(),
        scans.coordinator_files,
        needles.list.len()
    );
    assert!(scans.province_hits.is_empty(), "personal data in AFC_PROVINCE:\n{}", report(&scans.province_hits));
    assert!(scans.coordinator_files > 0, "the coordinator keeps a store");
    assert!(
        scans.coordinator_hits.is_empty(),
        "personal data in the coordinator's files:\n{}",
        report(&scans.coordinator_hits)
    );
}

#[test]
fn the_scan_finds_each_form_and_masks_what_it_prints() {
    let mut needles = Needles::default();
    needles.add(Kind::Subscriber, "person 0", "+8613812345678");
    needles.add(Kind::VictimName, "victim 0", "王伟");
    needles.add(Kind::VictimAccount, "victim 0", "icbc:6222020200001234");
    let needles = needles.build();
    for hay in [
        "x\"13812345678\"",
        "+86 138 1234 5678",
        "138-1234-5678",
        "{\"n\":\"\\u738b\\u4f1f\"}",
        "王伟",
        "6222 0202 0000 1234",
    ] {
        assert!(!needles.scan(hay.as_bytes()).is_empty(), "{hay}");
    }
    assert!(needles.scan(b"icbc:6222020200001234 +8613812345678").len() >= 4);
    assert!(needles.scan(b"1381234567 62220202000012 \xe7\x8e\x8b").is_empty());
    assert_eq!(mask("+8613812345678"), "+86********678");
    assert_eq!(mask("王伟"), "王*");
}
