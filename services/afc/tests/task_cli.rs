//! `afc task …` as a call-back operator runs it: the real `afc` binary against a whole city
//! node (`afc city`, a real nats-server). A carrier's signal and a report make a call task;
//! `list` shows it and the backlog without the number; `next` gives one operator the number
//! and tells the next one the queue is empty; refused moves the task to a visit; a supervisor
//! reassigns it; already-paid files the victim's report; completing a closed task is refused
//! with its kind; a reader that goes away after the first line of a long list ends `afc task
//! list` cleanly.

mod common;

use std::io::Write as _;
use std::process::{Output, Stdio};
use std::time::Duration;

use async_nats::jetstream;
use domain::{City, system_clock};
use protocol::dissuasion::ListReply;
use protocol::signal::{SignalMessage, SignalWhat};
use protocol::subjects;
use protocol::to_json;
use testkit::NatsServer;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

const BOUND: Duration = Duration::from_secs(60);
/// The scam number of the report: a fake policeman's.
const SCAM: &str = "17100002222";
/// Bob, whom it reached.
const BOB: &str = "13800138001";
/// People the same number reached afterwards: more lines than a pipe holds (64 KiB), so
/// `afc task list --all` is still writing when its reader goes away.
const CROWD: u64 = 600;

fn city() -> City {
    City::parse("jinhua").unwrap()
}

fn fake_police_call(subscriber: String, id: String, at_ms: u64) -> SignalMessage {
    let what = SignalWhat::Contact { identifier: format!("phone:{SCAM}"), duration_s: 30 };
    SignalMessage { source: "cmcc".into(), signal_id: id, subscriber, at_ms, what }
}

/// Publishes `signals` on the city's signal stream and waits for each to be stored.
async fn signals(js: &jetstream::Context, signals: Vec<SignalMessage>) {
    let mut acks = Vec::new();
    for message in signals {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, message.message_id().as_str());
        let subject = subjects::signals(&city(), &message.source);
        acks.push(js.publish_with_headers(subject, headers, to_json(&message).into()).await.unwrap());
    }
    for ack in acks {
        ack.await.unwrap();
    }
}

fn report() -> Vec<u8> {
    let now = system_clock().now_ms();
    to_json(&serde_json::json!({
        "victim": {"name": "王芳", "id_number": "33070219800101002X", "phone": "13900001111"},
        "fraud_type": "impersonating_authorities",
        "transfers": [{"account": "icbc:6222020200001234", "amount_fen": 500_000, "at_ms": now - 60_000}],
        "contacts": {"phones": [SCAM], "urls": [], "apps": [], "social": []},
        "narrative": "A caller said my bank card was used for money laundering."
    }))
}

/// `afc task VERB ARGS…` against `server`'s city.
fn afc_task(server: &NatsServer, verb: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_afc"));
    command
        .args(["task", verb])
        .args(args)
        .args(["--city", city().as_str(), "--nats", &server.url()])
        .env_remove("AFC_CREDENTIALS")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `afc task VERB ARGS…` to its end, at most [`BOUND`].
async fn run(server: &NatsServer, verb: &str, args: &[&str]) -> Output {
    let output = afc_task(server, verb, args).output();
    tokio::time::timeout(BOUND, output).await.expect("afc task ends").expect("afc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs it and returns its stdout, asserting it succeeded.
async fn ok(server: &NatsServer, verb: &str, args: &[&str]) -> String {
    let output = run(server, verb, args).await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "afc task {verb} {args:?}: {}\n{stdout}\n{stderr}", output.status);
    stdout
}

/// Polls `afc task list ARGS --json` (one page) until `done` holds of its answer.
async fn listed(server: &NatsServer, args: &[&str], what: &str, done: impl Fn(&ListReply) -> bool) -> ListReply {
    let args: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    testkit::eventually(BOUND, what, || async {
        let output = run(server, "list", &args).await;
        let page: ListReply = serde_json::from_slice(&output.stdout).ok()?;
        done(&page).then_some(page)
    })
    .await
}

fn backlog(page: &ListReply, queue: &str) -> (u32, u32, u32) {
    let row = page.backlog.iter().find(|b| b.queue == queue).unwrap_or_else(|| panic!("{queue}: {page:?}"));
    (row.ready, row.waiting, row.overdue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_a_call_back_from_the_command_line_down_to_a_filed_report() {
    let server = NatsServer::single().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let client = async_nats::connect(server.url()).await.unwrap();
    let js = jetstream::new(client.clone());
    bus::streams::ensure_city_stream(&js, &city()).await.unwrap();
    bus::streams::ensure_signal_stream(&js, &city()).await.unwrap();
    let _node = common::start(&server, data.path(), &city(), &[], "warn", Stdio::inherit());
    common::wait_ready(&client, &city(), BOUND).await;

    // The fake policeman's number reaches Bob for half a minute; then it is reported: a
    // medium risk, a call-back.
    let now = system_clock().now_ms();
    signals(&js, vec![fake_police_call(BOB.into(), "s-bob".into(), now - 1_800_000)]).await;
    common::report(&client, &city(), report()).await;
    let page = listed(&server, &["--queue", "call"], "the call task opens", |page| !page.tasks.is_empty()).await;
    let task = page.tasks[0].task.clone();
    assert_eq!(backlog(&page, "call"), (1, 0, 0), "{page:?}");

    // The list shows it, one line, then the backlog; never the number.
    let list = ok(&server, "list", &[]).await;
    let line = list.lines().next().unwrap();
    assert!(line.starts_with(&task) && line.contains("call") && line.contains("medium"), "{list}");
    assert!(line.contains("due ") && line.contains(" (in "), "a readable due time: {list}");
    assert!(list.contains("backlog") && list.lines().any(|l| l.split_whitespace().eq(["call", "1", "0", "0"])));
    assert!(!list.contains(&BOB[3..]), "{list}");

    // The first operator gets Bob's number; the second finds the queue empty.
    let next = ok(&server, "next", &["--queue", "call", "--operator", "caller-a"]).await;
    for part in [task.as_str(), "+8613800138001", "caller-a", "phone:+8617100002222", "impersonating_authorities"] {
        assert!(next.contains(part), "{part:?} in\n{next}");
    }
    let empty = ok(&server, "next", &["--queue", "call", "--operator", "caller-b"]).await;
    assert!(empty.contains("queue empty"), "{empty}");

    // Bob refuses to believe it: the city bureau goes.
    let refused = ["--operator", "caller-a", "--outcome", "refused", "--note", "says it is a real policeman"];
    let moved = ok(&server, "complete", &[&[task.as_str()][..], &refused[..]].concat()).await;
    assert!(moved.contains("visit.city_bureau"), "{moved}");
    assert!(!moved.contains(&BOB[3..]), "{moved}");

    // An officer claims it, the supervisor gives it to another, who finds Bob has paid: his
    // report is filed and the case id printed.
    let claimed = ok(&server, "claim", &[&task, "--operator", "officer-3"]).await;
    assert!(claimed.contains("+8613800138001") && claimed.contains("visit.city_bureau"), "{claimed}");
    let reassigned = ok(&server, "reassign", &[&task, "--by", "sup-1", "--to", "officer-4"]).await;
    assert!(reassigned.contains("officer-4") && !reassigned.contains(&BOB[3..]), "{reassigned}");
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let paid = serde_json::json!({"name": "李强", "id_number": "33070219800101003X",
        "transfers": [{"account": "icbc:6222020200005678", "amount_fen": 300_000, "at_ms": now - 600_000}]});
    file.write_all(&to_json(&paid)).unwrap();
    let path = file.path().to_str().unwrap();
    let paid = ["--operator", "officer-4", "--outcome", "already_paid", "--report", path];
    let filed = ok(&server, "complete", &[&[task.as_str()][..], &paid[..]].concat()).await;
    assert!(filed.contains("closed (already_paid)") && filed.contains("report filed: case "), "{filed}");

    // Completing it again is refused with its kind.
    let again = run(&server, "complete", &[&task, "--operator", "officer-4", "--outcome", "persuaded"]).await;
    assert_eq!(again.status.code(), Some(afc::cli::case::EXIT_REFUSED), "{again:?}");
    assert!(text(&again.stderr).contains("already_closed"), "{}", text(&again.stderr));
    let closed = ok(&server, "list", &["--status", "closed"]).await;
    assert!(closed.contains(&task) && closed.contains("closed:already_paid"), "{closed}");
    // The warnings of the number: every task of the people it reached, closed ones too.
    let warned = ok(&server, "list", &["--status", "all", "--identifier", "phone:+8617100002222"]).await;
    assert!(warned.lines().next().is_some_and(|l| l.starts_with(&task)), "{warned}");
    let other = ok(&server, "list", &["--status", "all", "--identifier", "phone:+8617100009999"]).await;
    assert!(!other.contains(&task), "{other}");

    // The number reaches a crowd: a long list. A reader that takes its first line and goes
    // away (`afc task list --all | head -1`) ends it cleanly.
    let crowd = (0..CROWD).map(|i| fake_police_call(format!("139{:08}", i), format!("s-{i}"), now - 600_000));
    signals(&js, crowd.collect()).await;
    let want = u32::try_from(CROWD).unwrap();
    listed(&server, &["--queue", "call", "--limit", "1"], "the crowd's calls open", |page| {
        backlog(page, "call").0 == want
    })
    .await;
    let mut head = afc_task(&server, "list", &["--all"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(head.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("a first line");
    assert!(first.starts_with('t') && first.contains("call"), "{first}");
    drop(lines);
    let output = tokio::time::timeout(BOUND, head.wait_with_output()).await.unwrap().unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success() && !stderr.contains("panicked"), "{}: {stderr}", output.status);

    // And one whose reader is gone before it writes anything (`afc task next … | true`).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let closed = afc_task(&server, "list", &["--queue", "call"]).stdout(writer).stderr(Stdio::piped()).output();
    let output = tokio::time::timeout(BOUND, closed).await.unwrap().unwrap();
    let stderr = text(&output.stderr);
    assert!(output.status.success() && !stderr.contains("panicked"), "{}: {stderr}", output.status);
}
