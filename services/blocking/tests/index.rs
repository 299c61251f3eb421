//! The blocked-identifier index: every identifier set is found with its facts, every one
//! removed is not, over random sequences of operations checked against a `HashMap`; and an
//! index following the core's events answers every lookup as the core's rule does.

use std::collections::HashMap;
use std::sync::OnceLock;

use blocking::core::{CoreConfig, Input, State, lookup, step};
use blocking::events::{Appeal, HolderKey, PoolSubject};
use blocking::index::{Blocked, Facts, FraudTypes, Index};
use blocking::normalize::{ContactKind, Identifier};
use domain::report::Contacts;
use domain::{CaseId, City, FraudType, TimeMs};
use proptest::prelude::*;

/// A universe of canonical identifiers of every kind, large enough to make the table grow.
fn universe() -> &'static [Identifier] {
    static UNIVERSE: OnceLock<Vec<Identifier>> = OnceLock::new();
    UNIVERSE.get_or_init(|| {
        (0..1500u32)
            .map(|n| {
                let text = match n % 5 {
                    0 | 1 => format!("phone:+86138{:08}", n * 7919),
                    2 => format!("domain:site-{n}.com.cn"),
                    3 => format!("app:com.loan{n}.app"),
                    _ => format!("social:wechat:wxid_{n:06}"),
                };
                Identifier::parse(&text).unwrap()
            })
            .collect()
    })
}

fn facts() -> impl Strategy<Value = Facts> {
    let blocked = (0u64..1_000, 0u64..1_000, 0u32..10, prop::collection::vec(0..FraudType::ALL.len(), 0..3)).prop_map(
        |(since, life, cases, types)| Blocked {
            since_ms: since,
            expires_at_ms: since + life,
            case_count: cases,
            fraud_types: types.into_iter().map(|t| FraudType::ALL[t]).collect::<FraudTypes>(),
        },
    );
    (prop::option::of(blocked), 0u16..3).prop_map(|(blocked, pool_cards)| Facts { blocked, pool_cards })
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, Facts),
    Remove(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..1500usize, facts()).prop_map(|(n, facts)| Op::Insert(n, facts)),
        1 => (0..1500usize).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every identifier set is found with its facts, removed ones are not, like a `HashMap`.
    #[test]
    fn behaves_as_a_hashmap(ops in prop::collection::vec(op(), 1..3000)) {
        let ids = universe();
        let mut index = Index::default();
        let mut model: HashMap<Identifier, Facts> = HashMap::new();
        for op in ops {
            match op {
                Op::Insert(n, facts) => {
                    index.insert(index.key(&ids[n]), facts).unwrap();
                    if facts.is_empty() {
                        model.remove(&ids[n]);
                    } else {
                        model.insert(ids[n].clone(), facts);
                    }
                }
                Op::Remove(n) => {
                    prop_assert_eq!(index.remove(index.key(&ids[n])), model.remove(&ids[n]));
                }
            }
            prop_assert_eq!(index.len(), model.len());
        }
        for id in ids {
            prop_assert_eq!(index.get(id), model.get(id).copied(), "{}", id);
        }
        let mut many = Vec::new();
        index.get_many(ids, &mut many);
        prop_assert_eq!(many.len(), ids.len());
        for (id, facts) in ids.iter().zip(many) {
            prop_assert_eq!(facts, model.get(id).copied(), "{}", id);
        }
    }
}

#[test]
fn a_key_from_the_stored_form_is_the_identifiers_key() {
    let index = Index::default();
    for id in universe() {
        assert_eq!(index.stored_key(id.kind(), id.value()), index.key(id));
    }
    let other = Index::default();
    let id = &universe()[0];
    assert_ne!(index.key(id), other.key(id), "each index draws keys of its own");
}

// ---------------------------------------------------------------------------------------------
// Following the core
// ---------------------------------------------------------------------------------------------

const DAY_MS: u64 = 24 * 60 * 60 * 1000;
const T0: TimeMs = 1_763_946_000_000;
const PHONES: [&str; 5] = ["13800138000", "+86 139 0000 1111", "17000000001", "18612345678", "13312345678"];
const URLS: [&str; 3] = ["https://fake-bank.com.cn/login", "http://m.invest-now.cn", "8.8.4.4"];

fn city() -> City {
    City::parse("huzhou").unwrap()
}

fn holder(n: usize) -> HolderKey {
    HolderKey::parse(&format!("icbc:{:016x}", n + 1)).unwrap()
}

fn staff() -> Appeal {
    Appeal { reason: "appeal upheld".into(), operator: "huzhou-liaison-07".into() }
}

/// Something that happens to blocking, its values from the small sets above.
#[derive(Debug, Clone)]
enum Happening {
    Report { phones: Vec<usize>, urls: Vec<usize>, fraud_type: usize },
    Holder { holder: usize, phones: Vec<usize> },
    Days(u64),
    Lift(usize),
    Release(usize),
}

fn happening() -> impl Strategy<Value = Happening> {
    let phones = || prop::collection::vec(0..PHONES.len(), 0..3);
    prop_oneof![
        4 => (phones(), prop::collection::vec(0..URLS.len(), 0..2), 0..FraudType::ALL.len())
            .prop_map(|(phones, urls, fraud_type)| Happening::Report { phones, urls, fraud_type }),
        2 => (0..2usize, phones()).prop_map(|(holder, phones)| Happening::Holder { holder, phones }),
        2 => (1..400u64).prop_map(Happening::Days),
        1 => (0..PHONES.len() + URLS.len()).prop_map(Happening::Lift),
        1 => (0..2usize).prop_map(Happening::Release),
    ]
}

fn lookup_values() -> Vec<(ContactKind, &'static str)> {
    PHONES.iter().map(|p| (ContactKind::Phone, *p)).chain(URLS.iter().map(|u| (ContactKind::Url, *u))).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// An index that follows every event answers every lookup as `core::lookup` does from the
    /// state, and equals the index built from that state at the end.
    #[test]
    fn following_the_core_answers_as_its_lookup_rule(happenings in prop::collection::vec(happening(), 1..40)) {
        let config = CoreConfig::new(city());
        let mut state = State::default();
        let mut index = Index::default();
        let mut now = T0;
        for (n, happening) in happenings.into_iter().enumerate() {
            let case_id = CaseId::derive(&city(), n as u64);
            let input = match happening {
                Happening::Report { phones, urls, fraud_type } => Input::CaseReported {
                    case_id,
                    reported_at_ms: now,
                    fraud_type: FraudType::ALL[fraud_type],
                    contacts: Contacts {
                        phones: phones.iter().map(|p| PHONES[*p].to_owned()).collect(),
                        urls: urls.iter().map(|u| URLS[*u].to_owned()).collect(),
                        ..Contacts::default()
                    },
                },
                Happening::Holder { holder: h, phones } => Input::HolderReported {
                    case_id,
                    holder: holder(h),
                    phones: phones.iter().map(|p| PHONES[*p].to_owned()).collect(),
                    accounts: Vec::new(),
                },
                Happening::Days(days) => {
                    now += days * DAY_MS;
                    Input::TimerFired
                }
                Happening::Lift(v) => {
                    let (kind, value) = lookup_values()[v];
                    let identifier = blocking::normalize::normalize(kind, value).unwrap();
                    Input::Lift { identifier, appeal: staff() }
                }
                Happening::Release(h) => {
                    Input::PoolAppeal { subject: PoolSubject::Holder(holder(h)), appeal: staff() }
                }
            };
            // Timers may be due several times over (a batch at a time).
            let inputs = if matches!(input, Input::TimerFired) { vec![input; 4] } else { vec![input] };
            for input in inputs {
                let Ok(step) = step(&mut state, &config, input, now) else { continue };
                for event in &step.events {
                    index.follow(&state, event).unwrap();
                }
            }
            for (kind, value) in lookup_values() {
                let rule = lookup(&state, kind, value).unwrap();
                let facts = index.get(&rule.identifier).unwrap_or_default();
                prop_assert_eq!(facts.answer(rule.identifier.clone()), rule);
            }
        }
        let built = Index::build(&state).unwrap();
        prop_assert_eq!(built.len(), index.len());
        for (kind, value) in lookup_values() {
            let identifier = blocking::normalize::normalize(kind, value).unwrap();
            prop_assert_eq!(built.get(&identifier), index.get(&identifier));
        }
    }
}
