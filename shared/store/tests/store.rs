//! The store against real redb files: group commit, replay, outbox, inbox, timers.

use std::sync::Arc;

use domain::report::{Contacts, Destination, Transfer};
use domain::{AccountRef, CaseId, City, Fen, FraudType, system_clock};
use events::{IntakeEvent, Payload, Service};
use store::{Producer, Store, WriteError};

fn producer() -> Producer {
    Producer { city: City::parse("huzhou").unwrap(), service: Service::Intake }
}

fn reported(n: u64) -> Payload {
    let case_id = CaseId::derive(&City::parse("huzhou").unwrap(), n);
    Payload::Intake(IntakeEvent::CaseReported {
        case_id,
        received_at_ms: n,
        fraud_type: FraudType::OnlineLoan,
        transfers: vec![Transfer {
            from_account: None,
            to: Destination::Account(AccountRef::parse("icbc:622202020000").unwrap()),
            amount: Fen::new(n + 1),
            at_ms: n,
        }],
        contacts: Contacts::default(),
        reported_loss_fen: Fen::new(n + 1),
    })
}

async fn append(store: &Store, n: u64) -> Result<u64, WriteError<String>> {
    store
        .write(move |ctx| {
            let envelope = ctx.append(None, None, reported(n))?;
            Ok(envelope.seq)
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_get_contiguous_sequences_that_replay_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("intake.redb");
    {
        let store = Store::open(&path, producer(), system_clock()).unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move { append(&store, n).await.unwrap() })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
        assert_eq!(store.outbox_len().await.unwrap(), 200);
    }
    let store = Store::open(&path, producer(), system_clock()).unwrap();
    let mut seen = Vec::new();
    let count = store.replay(|e| seen.push(e.seq)).unwrap();
    assert_eq!(count, 200);
    assert_eq!(seen, (1..=200).collect::<Vec<_>>());
    assert_eq!(append(&store, 999).await.unwrap(), 201, "sequence continues after reopen");
}

#[tokio::test]
async fn a_rejected_operation_writes_nothing_and_its_batch_neighbours_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), producer(), system_clock()).unwrap();
    let rejected = store.write(|_ctx| -> Result<(), WriteError<String>> { Err(WriteError::Rejected("no".into())) });
    let (rejected, accepted) = tokio::join!(rejected, append(&store, 1));
    assert!(matches!(rejected, Err(WriteError::Rejected(reason)) if reason == "no"));
    assert_eq!(accepted.unwrap(), 1);
    assert_eq!(store.replay(|_| {}).unwrap(), 1);
}

/// A batch that fails in storage leaves the store refusing every later write: the callers
/// queued behind it decided on a state that includes what was lost (in freezing, an answer
/// to a hop opened in the lost batch), and a log holding them would not replay.
#[tokio::test]
async fn after_a_failed_batch_the_store_refuses_every_later_write_and_commits_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let store = Store::open(&path, producer(), system_clock()).unwrap();
    append(&store, 1).await.unwrap();
    // A storage failure inside an operation aborts its batch (an injected one here). The
    // operation holds its batch until the dependent write is queued, so that one lands in the
    // next batch.
    let (running_tx, running) = tokio::sync::oneshot::channel::<()>();
    let (go, gate) = std::sync::mpsc::channel::<()>();
    let lost = store
        .enqueue(move |ctx| -> Result<(), WriteError<String>> {
            ctx.append(None, None, reported(2))?;
            let _ = running_tx.send(());
            gate.recv().expect("released");
            Err(WriteError::Store(store::StoreError::Corrupt("injected disk failure".into())))
        })
        .await
        .unwrap();
    running.await.unwrap();
    // Queued behind it, before anyone learned of the failure.
    let dependent = store
        .enqueue(|ctx| -> Result<u64, WriteError<String>> { Ok(ctx.append(None, None, reported(3))?.seq) })
        .await
        .unwrap();
    go.send(()).unwrap();
    assert!(matches!(lost.wait().await, Err(WriteError::Store(_))));
    let refused = dependent.wait().await;
    assert!(
        matches!(&refused, Err(WriteError::Store(store::StoreError::Failed(reason))) if reason.contains("injected disk failure")),
        "{refused:?}"
    );
    let later = append(&store, 4).await;
    assert!(matches!(later, Err(WriteError::Store(store::StoreError::Failed(_)))), "{later:?}");
    let reason = tokio::time::timeout(std::time::Duration::from_secs(5), store.failed()).await.unwrap();
    assert!(reason.contains("injected disk failure"), "the store says why it failed: {reason}");
    drop(store);
    // What a restart replays: the one batch committed before the failure.
    let reopened = Store::open(&path, producer(), system_clock()).unwrap();
    assert_eq!(reopened.replay(|_| {}).unwrap(), 1);
    assert_eq!(append(&reopened, 5).await.unwrap(), 2, "a restarted store writes again, after the last logged event");
}

#[tokio::test]
async fn outbox_rows_leave_only_when_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), producer(), system_clock()).unwrap();
    for n in 0..3 {
        append(&store, n).await.unwrap();
    }
    let pending = store.outbox(10).await.unwrap();
    assert_eq!(pending.iter().map(|(seq, _, _)| *seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(pending[0].1.id, "huzhou.intake.1");
    store.outbox_confirm(vec![1, 2]).await.unwrap();
    let pending = store.outbox(10).await.unwrap();
    assert_eq!(pending.iter().map(|(seq, _, _)| *seq).collect::<Vec<_>>(), vec![3]);
}

#[tokio::test]
async fn a_relay_cursor_skips_rows_whose_removal_is_still_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), producer(), system_clock()).unwrap();
    for n in 0..4 {
        append(&store, n).await.unwrap();
    }
    let seqs =
        |rows: Vec<(u64, events::Envelope, Vec<u8>)>| rows.into_iter().map(|(seq, _, _)| seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.outbox_after(2, 10).await.unwrap()), vec![3, 4]);
    assert_eq!(seqs(store.outbox_after(4, 10).await.unwrap()), Vec::<u64>::new());
    assert_eq!(seqs(store.outbox_after(u64::MAX, 10).await.unwrap()), Vec::<u64>::new());
    // Queued, not awaited; once committed the rows are gone for a reader from the start too.
    let queued = store.outbox_confirm_queued(vec![1, 2]).await.unwrap();
    queued.wait().await.unwrap();
    assert_eq!(seqs(store.outbox(10).await.unwrap()), vec![3, 4]);
}

#[tokio::test]
async fn a_lazy_confirm_is_made_durable_by_the_next_immediate_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path, producer(), system_clock()).unwrap();
        for n in 0..3 {
            append(&store, n).await.unwrap();
        }
        // Lazy: no fsync of its own; the append after it commits both to disk.
        store.outbox_confirm(vec![1, 2]).await.unwrap();
        append(&store, 3).await.unwrap();
    }
    let store = Store::open(&path, producer(), system_clock()).unwrap();
    let pending = store.outbox(10).await.unwrap();
    assert_eq!(pending.iter().map(|(seq, _, _)| *seq).collect::<Vec<_>>(), vec![3, 4]);
}

#[tokio::test]
async fn pruning_removes_only_inbox_rows_older_than_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let clock = std::sync::Arc::new(ManualClock(std::sync::atomic::AtomicU64::new(1_000)));
    let store = Store::open(&dir.path().join("s.redb"), producer(), clock.clone()).unwrap();
    let consume = |id: &'static str| {
        let store = store.clone();
        async move {
            let result: Result<bool, WriteError<String>> = store.write(move |ctx| Ok(ctx.mark_consumed(id)?)).await;
            result.unwrap()
        }
    };
    assert!(consume("old-1").await);
    assert!(consume("old-2").await);
    clock.0.store(5_000, std::sync::atomic::Ordering::SeqCst);
    assert!(consume("new").await);
    assert_eq!(store.prune_inbox(2_000, 1).await.unwrap(), 1, "the limit bounds one pass");
    assert_eq!(store.prune_inbox(2_000, 10).await.unwrap(), 1);
    assert_eq!(store.prune_inbox(2_000, 10).await.unwrap(), 0);
    // The recent row stays: its message is still recognised.
    assert!(!consume("new").await);
    assert!(consume("old-1").await, "a pruned id is forgotten");
    // The time index and the inbox hold the same messages (old-1 again, at 5,000, and new).
    let (inbox, by_time) = store
        .read(|tx| {
            use store::redb::ReadableTableMetadata;
            Ok((tx.open_table(store::INBOX)?.len()?, tx.open_table(store::INBOX_BY_TIME)?.len()?))
        })
        .await
        .unwrap();
    assert_eq!((inbox, by_time), (2, 2));
}

#[derive(Debug)]
struct ManualClock(std::sync::atomic::AtomicU64);

impl domain::Clock for ManualClock {
    fn now_ms(&self) -> domain::TimeMs {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[tokio::test]
async fn inbox_detects_a_message_consumed_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), producer(), system_clock()).unwrap();
    let mark = |store: Store| async move {
        store.write(|ctx| -> Result<bool, WriteError<()>> { Ok(ctx.mark_consumed("wenzhou.intake.7")?) }).await.unwrap()
    };
    assert!(mark(store.clone()).await);
    assert!(!mark(store.clone()).await);
}

#[tokio::test]
async fn timers_are_due_in_order_and_cancel_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&dir.path().join("s.redb"), producer(), system_clock()).unwrap());
    store
        .write(|ctx| -> Result<(), WriteError<()>> {
            ctx.schedule("b", 200, b"B")?;
            ctx.schedule("a", 100, b"A")?;
            ctx.schedule("c", 300, b"C")?;
            ctx.schedule("c", 50, b"C2")?;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(store.next_timer_due().await.unwrap(), Some(50));
    let due = store.due_timers(150, 10).await.unwrap();
    assert_eq!(due.iter().map(|t| (t.key.as_str(), t.due_ms)).collect::<Vec<_>>(), vec![("c", 50), ("a", 100)]);
    assert_eq!(due[0].action, b"C2");
    let existed = store.write(|ctx| -> Result<bool, WriteError<()>> { Ok(ctx.cancel("a")?) }).await.unwrap();
    assert!(existed);
    let due = store.due_timers(1_000, 10).await.unwrap();
    assert_eq!(due.iter().map(|t| t.key.as_str()).collect::<Vec<_>>(), vec!["c", "b"]);
}

#[tokio::test]
async fn a_deferred_write_is_committed_durably_even_with_nothing_else_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let store = Store::open(&path, producer(), system_clock()).unwrap();
        for n in 0..3 {
            // Nothing else writes: only the writer's own flush after the linger can answer.
            let write = store.write_deferred(move |ctx| -> Result<u64, WriteError<String>> {
                Ok(ctx.append(None, None, reported(n))?.seq)
            });
            let seq = tokio::time::timeout(std::time::Duration::from_secs(30), write)
                .await
                .expect("a deferred write is answered without other writes")
                .unwrap();
            assert_eq!(seq, n + 1);
        }
    }
    let store = Store::open(&path, producer(), system_clock()).unwrap();
    let mut seqs = Vec::new();
    store.replay(|e| seqs.push(e.seq)).unwrap();
    assert_eq!(seqs, vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_writes_mixed_with_immediate_ones_all_commit_with_contiguous_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), producer(), system_clock()).unwrap();
    let tasks: Vec<_> = (0..100u64)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let op = move |ctx: &mut store::WriteCtx<'_>| -> Result<u64, WriteError<String>> {
                    Ok(ctx.append(None, None, reported(n))?.seq)
                };
                if n % 2 == 0 { store.write_deferred(op).await } else { store.write(op).await }
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_write_does_not_wait_behind_a_queue_of_deferred_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.redb"), producer(), system_clock()).unwrap();
    let ran = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    // Hold the writer so that everything below is queued before anything of it runs.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
    let held = store
        .enqueue(move |_ctx| -> Result<(), WriteError<String>> {
            let _ = started_tx.send(());
            gate.recv().expect("released");
            Ok(())
        })
        .await
        .unwrap();
    started.await.unwrap();
    let deferred_count = 3 * store::limits::MAX_DEFERRED_PER_BATCH;
    let mut deferred = Vec::new();
    for n in 0..deferred_count {
        let ran = ran.clone();
        deferred.push(
            store
                .enqueue_deferred(move |_ctx| -> Result<(), WriteError<String>> {
                    ran.lock().unwrap().push(format!("deferred {n}"));
                    Ok(())
                })
                .await
                .unwrap(),
        );
    }
    let ran_report = ran.clone();
    let report = store
        .enqueue(move |_ctx| -> Result<(), WriteError<String>> {
            ran_report.lock().unwrap().push("report".into());
            Ok(())
        })
        .await
        .unwrap();
    release.send(()).unwrap();
    held.wait().await.unwrap();
    report.wait().await.unwrap();
    for write in deferred {
        write.wait().await.unwrap();
    }
    let ran = ran.lock().unwrap().clone();
    let position = ran.iter().position(|op| op == "report").unwrap();
    assert!(
        position <= store::limits::MAX_DEFERRED_PER_BATCH,
        "the report ran after {position} of {deferred_count} deferred writes queued before it"
    );
    assert_eq!(ran.len(), deferred_count + 1, "every deferred write ran");
    let order: Vec<&String> = ran.iter().filter(|op| *op != "report").collect();
    let expected: Vec<String> = (0..deferred_count).map(|n| format!("deferred {n}")).collect();
    assert_eq!(order, expected.iter().collect::<Vec<_>>(), "deferred writes keep their order among themselves");
}

#[cfg(target_os = "linux")]
/// The nice value of this process's thread named `name` (as `/proc` shows it, at most 15
/// bytes), if there is exactly one.
fn nice_of_thread(name: &str) -> Option<i64> {
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            // Fields after the parenthesised name: state is field 3, nice field 19.
            let after_name = &stat[stat.rfind(')')? + 2..];
            found.push(after_name.split(' ').nth(16)?.parse().ok()?);
        }
    }
    (found.len() == 1).then(|| found[0])
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_background_store_runs_its_writer_at_a_lower_priority() {
    let dir = tempfile::tempdir().unwrap();
    let open = |city: &str, priority| {
        let producer = Producer { city: City::parse(city).unwrap(), service: Service::Intake };
        Store::open_with(&dir.path().join(format!("{city}.redb")), producer, system_clock(), priority).unwrap()
    };
    let background = open("lishui", store::WriterPriority::Background);
    let normal = open("quzhou", store::WriterPriority::Normal);
    // A write has gone through each writer, so each thread is past its start.
    for store in [&background, &normal] {
        append(store, 1).await.unwrap();
    }
    let base = nice_of_thread("store-quzhou-in").expect("the normal writer thread");
    let lowered = nice_of_thread("store-lishui-in").expect("the background writer thread");
    // setpriority sets the value; a process already nicer than it keeps its own value.
    let background = i64::from(store::limits::BACKGROUND_WRITER_NICE);
    assert_eq!(lowered, background.max(base), "normal writer at nice {base}");
    assert!(base < background, "the test process runs at nice {base}: it cannot show the difference");
}

#[tokio::test]
async fn a_background_store_spaces_its_durable_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open_with(&dir.path().join("s.redb"), producer(), system_clock(), store::WriterPriority::Background)
            .unwrap();
    // Each write waits for its own commit, so each needs a durable commit of its own.
    let writes = 6u32;
    let started = std::time::Instant::now();
    for n in 0..writes {
        append(&store, u64::from(n)).await.unwrap();
    }
    // The first commit may start at once; every later one at least an interval after the last.
    let least = store::limits::BACKGROUND_COMMIT_INTERVAL * (writes - 1);
    assert!(started.elapsed() >= least, "{writes} commits in {:?}, under {least:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_queued_after_events_holds_them_and_replay_after_it_yields_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("intake.redb");
    {
        let store = Store::open(&path, producer(), system_clock()).unwrap();
        assert_eq!(store.snapshot("state").unwrap(), None);
        for n in 0..3 {
            append(&store, n).await.unwrap();
        }
        // Events and the snapshot in one operation: it holds those appended before it.
        let saved = store
            .write(|ctx| -> Result<u64, WriteError<String>> {
                ctx.append(None, None, reported(3))?;
                let seq = ctx.save_snapshot("state", b"after four")?;
                ctx.append(None, None, reported(4))?;
                Ok(seq)
            })
            .await
            .unwrap();
        assert_eq!(saved, 4);
        append(&store, 5).await.unwrap();
    }
    let store = Store::open(&path, producer(), system_clock()).unwrap();
    assert_eq!(store.snapshot("state").unwrap(), Some((4, b"after four".to_vec())));
    let mut rest = Vec::new();
    let last = store.replay_after(4, |envelope| rest.push(envelope.seq)).unwrap();
    assert_eq!((rest, last), (vec![5, 6], 6));
    let mut none = Vec::new();
    assert_eq!(store.replay_after(6, |envelope| none.push(envelope.seq)).unwrap(), 6);
    assert!(none.is_empty());
}
