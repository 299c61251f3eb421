//! The state's cold part on a real redb file: holds moved out of memory, brought back,
//! changed and moved out again between snapshots; a start at any write rebuilds the state of
//! the whole log, and the service then decides as if it had never stopped.

use domain::report::{Destination, Transfer};
use domain::{AccountRef, CaseId, City, Fen, Service, TimeMs};
use events::{FreezingEvent, Payload};
use freezing::core::{self, Action, Cold, CoreConfig, Input, State, Statement, Step};
use freezing::shell::{Chores, Upkeep, snapshot};
use protocol::adapter::{Counterparty, Direction, FreezeReply, FreezeStatus, StatementEntry};
use store::{Producer, Store, WriteError};

const HOUR: u64 = 3_600_000;
const CASES: u64 = 14;
const MULES: u64 = 3;

fn city() -> City {
    City::parse("huzhou").unwrap()
}

fn open(dir: &tempfile::TempDir) -> Store {
    let producer = Producer { city: city(), service: Service::Freezing };
    Store::open(&dir.path().join("freezing.redb"), producer, domain::system_clock()).unwrap()
}

/// Freezing as a restart leaves it: the state rebuilt from `store`, and its upkeep.
fn start(store: &Store, snapshot_every: u64, evict_every: u64) -> (State, Upkeep) {
    let (state, rebuilt) = snapshot::rebuild(store).unwrap();
    let upkeep = Upkeep::new(rebuilt.cold.clone(), snapshot_every, evict_every, rebuilt.replayed);
    (state, upkeep)
}

/// The inputs of case `n` are decided one after another; `n`'s mule, its money and when.
struct Wave {
    balances: [u64; MULES as usize],
    statements: [Vec<StatementEntry>; MULES as usize],
}

fn mule(n: u64) -> AccountRef {
    AccountRef::parse(&format!("icbc:{:08}", 10 + n % MULES)).unwrap()
}

/// Every fourth case comes two days later (the center's stops have lapsed); the others a
/// minute apart. Even cases' freezes are queued behind another center's, odd ones frozen.
fn at(n: u64) -> TimeMs {
    1_700_000_000_000 + n * 60_000 + (n / 4) * 50 * HOUR
}

/// Records `events` as the engine does: with the chores due, in one write.
async fn record(store: &Store, upkeep: &mut Upkeep, state: &mut State, events: Vec<FreezingEvent>) {
    let chores = upkeep.after(state, events.len() as u64);
    let receipt = chores.as_ref().map(Chores::receipt);
    store
        .write(move |ctx| -> Result<(), WriteError<std::convert::Infallible>> {
            for event in events {
                let case_id = event.case_id().cloned();
                ctx.append(case_id, None, Payload::Freezing(event))?;
            }
            if let Some(chores) = &chores {
                chores.write(ctx)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    if let Some(receipt) = receipt {
        receipt.committed();
    }
}

/// The steps of case `n`: reported, its mule stopped or read, its claim frozen or queued.
/// Returns every event and request, in order, for comparing runs.
async fn play(n: u64, wave: &mut Wave, store: &Store, upkeep: &mut Upkeep, state: &mut State) -> Vec<String> {
    let config = CoreConfig::default();
    let (now, account, case_id) = (at(n), mule(n), CaseId::derive(&city(), n));
    let amount = 1_000 + n * 37;
    let m = (n % MULES) as usize;
    wave.balances[m] += amount;
    wave.statements[m].push(StatementEntry {
        transfer_id: format!("v{n}"),
        at_ms: now - 1_000,
        direction: Direction::In,
        amount_fen: Fen::new(amount),
        counterparty: Counterparty::Account(AccountRef::parse("abc:6228480000000001").unwrap()),
        balance_after_fen: Fen::new(wave.balances[m]),
    });
    let mut log = Vec::new();
    let transfers = vec![Transfer {
        from_account: None,
        to: Destination::Account(account.clone()),
        amount: Fen::new(amount),
        at_ms: now - 1_000,
    }];
    let report = Input::CaseReported {
        case_id: case_id.clone(),
        reported_at_ms: now,
        transfers,
        reported_loss: Fen::new(amount),
    };
    let Step { events, actions } = core::step(state, &config, report, now).unwrap();
    log.push(format!("{events:?} {actions:?}"));
    record(store, upkeep, state, events).await;
    let (hop, since_ms, stop_no) = match &actions[..] {
        [Action::Stop { hop, since_ms, request_id, .. }] => {
            (*hop, *since_ms, request_id.rsplit("stop").next().unwrap().parse::<u8>().unwrap())
        }
        [Action::Read { hop, since_ms, .. }] => (*hop, *since_ms, 0),
        other => panic!("one request for case {n}, got {other:?}"),
    };
    let entries = wave.statements[m].iter().filter(|e| e.at_ms >= since_ms).cloned().collect();
    let statement = Statement {
        stop_no,
        held: Fen::new(wave.balances[m]),
        expires_at_ms: if stop_no > 0 { now + 48 * HOUR } else { 0 },
        since_ms,
        entries,
    };
    let answered = Input::AccountAnswered { case_id: case_id.clone(), hop, asked_at_ms: now, result: Ok(statement) };
    let Step { events, actions } = core::step(state, &config, answered, now).unwrap();
    log.push(format!("{events:?} {actions:?}"));
    record(store, upkeep, state, events).await;
    // Every claim awaiting its freeze (this case's, and others' a revision reopened).
    let pending: Vec<(CaseId, AccountRef)> = state.conversions.keys().cloned().collect();
    for (case, account) in pending {
        state.warm(&account);
        let request_id = core::awaited_freeze(state, &case, &account).unwrap();
        let claim = state.hold(&account).and_then(|h| h.claims.get(&case)).copied().unwrap_or(Fen::ZERO);
        let frozen = n % 2 == 1;
        let reply = FreezeReply {
            status: if frozen { FreezeStatus::Frozen } else { FreezeStatus::Queued },
            frozen_fen: if frozen { claim } else { Fen::ZERO },
            expires_at_ms: now + 180 * 24 * HOUR,
            frozen_at_ms: now,
            queued_behind: (!frozen).then(|| City::parse("wenzhou").unwrap()),
        };
        let answer = Input::FreezeAnswered { case_id: case, account, request_id, result: Ok(reply) };
        let Step { events, actions } = core::step(state, &config, answer, now).unwrap();
        log.push(format!("{events:?} {actions:?}"));
        record(store, upkeep, state, events).await;
    }
    log
}

fn replayed_whole(store: &Store) -> State {
    let mut whole = State::default();
    store
        .replay(|envelope| {
            if let Payload::Freezing(event) = &envelope.payload {
                core::apply(&mut whole, event);
            }
        })
        .unwrap();
    whole
}

/// Whether `state`, with what it moved out brought back, is `whole`.
fn same_as(mut state: State, whole: &State) -> bool {
    for account in whole.holds.keys() {
        state.warm(account);
    }
    if !whole.closed.iter().all(|case_id| state.is_closed(case_id)) {
        return false;
    }
    state.closed = whole.closed.clone();
    state.set_cold(Cold::default());
    state == *whole
}

fn new_wave() -> Wave {
    Wave { balances: [0; MULES as usize], statements: Default::default() }
}

#[tokio::test]
async fn a_start_after_any_case_rebuilds_the_whole_logs_state_and_decides_as_if_never_stopped() {
    for (snapshot_every, evict_every) in [(7, 1), (23, 3), (u64::MAX, 1)] {
        // Undisturbed.
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let (mut state, mut upkeep) = start(&store, snapshot_every, evict_every);
        let mut wave = new_wave();
        let mut undisturbed = Vec::new();
        for n in 0..CASES {
            undisturbed.extend(play(n, &mut wave, &store, &mut upkeep, &mut state).await);
        }
        let whole = replayed_whole(&store);
        assert!(state.holds.len() < whole.holds.len(), "holds left memory (every {evict_every} events)");
        assert!(same_as(state, &whole), "the running state is the whole log's");
        drop((store, upkeep));

        // Stopped after case `stop_after` and started again on the same file.
        for stop_after in 0..CASES {
            let dir = tempfile::tempdir().unwrap();
            let mut store = open(&dir);
            let (mut state, mut upkeep) = start(&store, snapshot_every, evict_every);
            let mut wave = new_wave();
            let mut log = Vec::new();
            for n in 0..CASES {
                log.extend(play(n, &mut wave, &store, &mut upkeep, &mut state).await);
                if n == stop_after {
                    state.set_cold(Cold::default());
                    drop((state, upkeep, store));
                    store = open(&dir);
                    (state, upkeep) = start(&store, snapshot_every, evict_every);
                    let whole = replayed_whole(&store);
                    let (started, _) = snapshot::rebuild(&store).unwrap();
                    assert!(
                        same_as(started, &whole),
                        "snapshot every {snapshot_every}, cold part out every {evict_every}: a start after case {stop_after} is the whole log's state"
                    );
                }
            }
            assert_eq!(log, undisturbed, "a start after case {stop_after} changes no decision");
            state.set_cold(Cold::default());
        }
    }
}
