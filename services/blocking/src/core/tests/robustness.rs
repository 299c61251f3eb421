//! What must never break the core: arbitrary sequences of reports, answers, timers and staff
//! commands are decided or refused, never a panic; the log always replays to the live state;
//! spellings of one number are one block.

use proptest::prelude::*;

use super::*;

/// Spellings of three numbers (two spellings each) and one domain, and a malformed value.
const PHONES: [&str; 7] =
    ["13800138000", "+86 138-0013-8000", "17000000000", "0086 170 0000 0000", "18900000000", "189 0000 0000", "95588"];

#[derive(Debug, Clone)]
enum Op {
    Report { case: u64, phones: Vec<usize> },
    Held { case: u64 },
    Holder { case: u64, phone: usize },
    Answer { pick: usize, result: Result<(), OrderErrorKind> },
    Wait { days: u64 },
    Lift { phone: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let error = prop::sample::select(vec![
        OrderErrorKind::Timeout,
        OrderErrorKind::NoResponders,
        OrderErrorKind::InvalidReply,
        OrderErrorKind::Refused,
    ]);
    prop_oneof![
        (0u64..6, prop::collection::vec(0..PHONES.len(), 0..4)).prop_map(|(case, phones)| Op::Report { case, phones }),
        (0u64..6).prop_map(|case| Op::Held { case }),
        (0u64..6, 0..PHONES.len()).prop_map(|(case, phone)| Op::Holder { case, phone }),
        (any::<usize>(), prop::option::of(error))
            .prop_map(|(pick, e)| Op::Answer { pick, result: e.map_or(Ok(()), Err) }),
        (0u64..2000).prop_map(|days| Op::Wait { days }),
        (0..PHONES.len()).prop_map(|phone| Op::Lift { phone }),
    ]
}

proptest! {
    #[test]
    fn any_sequence_of_inputs_is_decided_or_refused_and_the_log_replays_to_the_state(ops in prop::collection::vec(op(), 1..60)) {
        let mut world = World::new();
        let mut now = T0;
        for op in ops {
            now += 1_000;
            let input = match op {
                Op::Report { case: n, phones } => reported(n, &phones.iter().map(|i| PHONES[*i]).collect::<Vec<_>>(), &["https://fake.example.cn/"]),
                Op::Held { case: n } => Input::MoneyHeld { case_id: case(n), account: AccountRef::parse("icbc:6222020200001234").unwrap() },
                Op::Holder { case: n, phone } => Input::HolderReported {
                    case_id: case(n),
                    holder: crate::events::HolderKey::parse("icbc:0123456789abcdef").unwrap(),
                    phones: vec![PHONES[phone].into()],
                    accounts: Vec::new(),
                },
                Op::Answer { pick, result } => {
                    let ids: Vec<String> = world.state.orders.keys();
                    if ids.is_empty() { continue; }
                    Input::OrderAnswered { request_id: ids[pick % ids.len()].clone(), result }
                }
                Op::Wait { days } => {
                    now += days * DAY_MS;
                    Input::TimerFired
                }
                Op::Lift { phone } => match normalize(ContactKind::Phone, PHONES[phone]) {
                    Ok(identifier) => Input::Lift { identifier, appeal: staff("appeal upheld") },
                    Err(_) => continue,
                },
            };
            if let Ok(Step { events, .. }) = step(&mut world.state, &world.config, input, now) {
                world.log.extend(events);
            }
            let phone_blocks = world.state.blocks.keys().iter().filter(|id| id.kind() == IdentifierKind::Phone).count();
            prop_assert!(phone_blocks <= 3, "three numbers, one block each, however spelled");
            if let Some(next) = world.state.next_deadline() {
                prop_assert!(world.state.deadlines.keys().iter().all(|(at, _)| *at >= next));
            }
        }
        let mut replayed = State::default();
        for event in &world.log {
            apply(&mut replayed, &world.config.city, event);
        }
        prop_assert_eq!(replayed, world.state);
    }
}
