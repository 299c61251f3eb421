//! `afc task next|claim|complete|reassign|list`: what a call-back operator (96110) and a
//! community officer work the dissuasion queues with (docs/dissuasion.md, "Working the
//! queues"). Staff connect as `<city>-staff`, as for `afc block`.
//!
//! The person's number is personal data: only `next` and `claim` print it (the operator
//! calls or visits them); the other commands drop it from an answer should one ever hold
//! it, and nothing logs it. Times print as the city's clock reads them
//! (UTC+8) with how far they are from now. Output goes through [`super::out`]: a reader
//! that goes away (`afc task list | head -1`) ends the command with exit 0, never a panic.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use domain::{City, Service, TimeMs};
use protocol::Reply;
use protocol::dissuasion::{
    ClaimRequest, CompleteRequest, CompleteResponse, DissuasionError, ListReply, ListRequest, ListResponse,
    NextRequest, NextResponse, PaidReport, QueueBacklog, ReassignRequest, TaskResponse, TaskView, VERB_CLAIM,
    VERB_COMPLETE, VERB_LIST, VERB_NEXT, VERB_REASSIGN,
};
use protocol::subjects;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::case::EXIT_REFUSED;
use super::out::{json as print_json, print};
use crate::client;

/// The outcomes of a call or a visit (docs/dissuasion.md, "Tasks").
pub const OUTCOMES: [&str; 5] = ["persuaded", "refused", "unreachable", "already_paid", "false_positive"];

/// `afc task …`.
#[derive(clap::Subcommand, Debug)]
pub enum TaskCommand {
    /// Take the head of a queue (or the task you hold there already) and print who to call or
    /// visit: the number, the scam identifiers and fraud types, how soon; or "queue empty".
    Next {
        #[command(flatten)]
        staff: super::StaffArgs,
        /// call, visit.city_bureau, visit.district_bureau, visit.police_station or
        /// visit.community.
        #[arg(long)]
        queue: String,
        /// You, as the center's staff directory names you.
        #[arg(long)]
        operator: String,
        #[arg(long)]
        json: bool,
    },
    /// Take TASK (e.g. t42) and print it with the number to call.
    Claim {
        #[command(flatten)]
        staff: super::StaffArgs,
        task: String,
        #[arg(long)]
        operator: String,
        #[arg(long)]
        json: bool,
    },
    /// Report the outcome of TASK's call or visit: refused and unreachable move it to the next
    /// step, the others close it.
    Complete {
        #[command(flatten)]
        staff: super::StaffArgs,
        task: String,
        #[arg(long)]
        operator: String,
        #[arg(long, value_parser = OUTCOMES)]
        outcome: String,
        /// What happened (up to 1,024 characters).
        #[arg(long, default_value = "")]
        note: String,
        /// For already_paid: the victim's report taken on the call (JSON: name, id_number,
        /// transfers, optional fraud_type and narrative); it is filed with intake and the case
        /// id printed.
        #[arg(long, value_name = "FILE.json")]
        report: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// A supervisor gives TASK to another operator.
    Reassign {
        #[command(flatten)]
        staff: super::StaffArgs,
        task: String,
        /// The supervisor.
        #[arg(long)]
        by: String,
        /// The operator who takes it.
        #[arg(long)]
        to: String,
        #[arg(long)]
        json: bool,
    },
    /// Tasks, oldest first (by id), one line each (a page; --all for every page), then the
    /// backlog per queue. Never prints a person's number.
    List {
        #[command(flatten)]
        staff: super::StaffArgs,
        /// sms, call or visit.<level> (every queue when not given).
        #[arg(long)]
        queue: Option<String>,
        /// open (ready and waiting: the default), ready, waiting, overdue, closed or all.
        #[arg(long, value_parser = ["open", "ready", "waiting", "overdue", "closed", "all"])]
        status: Option<String>,
        /// Only the tasks this operator holds.
        #[arg(long)]
        operator: Option<String>,
        /// Only the tasks of people this scam identifier reached, as tasks show it
        /// (`phone:+8617100002222`, `domain:example.cn`); repeat for any of several (a case's).
        #[arg(long = "identifier", value_name = "KIND:VALUE")]
        identifiers: Vec<String>,
        /// Start after this task (the `more: --after` of the previous page).
        #[arg(long, value_name = "TASK")]
        after: Option<String>,
        /// Tasks a page (at most 200, the default).
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
        /// Every page to the end.
        #[arg(long)]
        all: bool,
        /// Each page's answer as one JSON line.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an `afc task` command.
pub async fn run(command: TaskCommand) -> anyhow::Result<()> {
    fn staff_of(s: &super::StaffArgs) -> Staff<'_> {
        Staff { nats: &s.nats, credentials: s.credentials.as_deref(), city: &s.city }
    }
    match &command {
        TaskCommand::Next { staff, queue, operator, json } => next(staff_of(staff), queue, operator, *json).await,
        TaskCommand::Claim { staff, task, operator, json } => claim(staff_of(staff), task, operator, *json).await,
        TaskCommand::Complete { staff, task, operator, outcome, note, report, json } => {
            let completion = Completion { task, operator, outcome, note, report: report.as_deref() };
            complete(staff_of(staff), completion, *json).await
        }
        TaskCommand::Reassign { staff, task, by, to, json } => reassign(staff_of(staff), task, by, to, *json).await,
        TaskCommand::List { staff, queue, status, operator, identifiers, after, limit, all, json } => {
            let (queue, status, operator, after) = (queue.clone(), status.clone(), operator.clone(), after.clone());
            let identifiers = identifiers.clone();
            let request = ListRequest { queue, status, operator, identifiers, after, limit: *limit };
            list(staff_of(staff), request, *all, *json).await
        }
    }
}

/// How long `complete` waits: an already-paid person's report is filed with intake first,
/// which dissuasion itself waits 10 s for; its own typed answer must come first.
const COMPLETE_TIMEOUT: Duration = Duration::from_secs(25);

/// Where a task command connects: the city, its nats-server and the deployment's secrets.
#[derive(Debug, Clone, Copy)]
pub struct Staff<'a> {
    pub nats: &'a str,
    pub credentials: Option<&'a Path>,
    pub city: &'a City,
}

impl Staff<'_> {
    /// Connects as the city's staff (`<city>-staff`).
    async fn connect(&self) -> anyhow::Result<async_nats::Client> {
        let (name, inbox) = (format!("{}-staff", self.city), subjects::city_inbox(self.city, "staff"));
        super::connect(self.nats, self.credentials, &name, inbox).await
    }
}

/// Asks dissuasion's command `verb` with `request`, waiting at most `timeout`.
async fn ask<Q: Serialize, A: DeserializeOwned>(
    client: &async_nats::Client,
    city: &City,
    verb: &str,
    request: &Q,
    timeout: Duration,
) -> anyhow::Result<A> {
    let body = serde_json::to_vec(request)?;
    let answer = client::ask_within(client, city, Service::Dissuasion, verb, body, timeout).await?;
    serde_json::from_slice(&answer).context("unreadable answer from dissuasion")
}

/// Prints the refusal (its kind, message and each problem) to stderr and exits with
/// [`EXIT_REFUSED`].
fn refused(error: &DissuasionError) -> ! {
    let kind = serde_json::to_value(error.kind).ok().and_then(|k| k.as_str().map(str::to_owned));
    eprintln!("refused ({}): {}", kind.unwrap_or_else(|| format!("{:?}", error.kind)), error.message);
    for problem in &error.problems {
        eprintln!("  {problem}");
    }
    std::process::exit(EXIT_REFUSED);
}

/// `next`: takes the head of `queue` for `operator` (or the task they hold there already)
/// and prints who to call or visit; "queue empty" when nobody is waiting.
pub async fn next(staff: Staff<'_>, queue: &str, operator: &str, json: bool) -> anyhow::Result<()> {
    let client = staff.connect().await?;
    let request = NextRequest { queue: queue.to_owned(), operator: operator.to_owned() };
    let answer: NextResponse = ask(&client, staff.city, VERB_NEXT, &request, client::COMMAND_TIMEOUT).await?;
    let task = match answer {
        Reply::Ok(task) => task,
        Reply::Error(error) => refused(&error),
    };
    if json {
        return print_json(&task);
    }
    let now = domain::system_clock().now_ms();
    print(|out| match &task {
        Some(task) => render_task(out, task, now),
        None => writeln!(out, "queue empty: no task in {queue} is ready and free"),
    })
}

/// `claim`: takes `task` for `operator` and prints it, with the number to call.
pub async fn claim(staff: Staff<'_>, task: &str, operator: &str, json: bool) -> anyhow::Result<()> {
    let client = staff.connect().await?;
    let request = ClaimRequest { task: task.to_owned(), operator: operator.to_owned() };
    let answer: TaskResponse = ask(&client, staff.city, VERB_CLAIM, &request, client::COMMAND_TIMEOUT).await?;
    let task = match answer {
        Reply::Ok(task) => task,
        Reply::Error(error) => refused(&error),
    };
    if json {
        return print_json(&task);
    }
    let now = domain::system_clock().now_ms();
    print(|out| render_task(out, &task, now))
}

/// What `afc task complete` reports.
#[derive(Debug, Clone)]
pub struct Completion<'a> {
    pub task: &'a str,
    pub operator: &'a str,
    pub outcome: &'a str,
    pub note: &'a str,
    /// The victim's report (a `PaidReport` as JSON) for `already_paid`.
    pub report: Option<&'a Path>,
}

/// Reads the report an operator took from a person who has paid.
fn read_report(path: &Path) -> anyhow::Result<PaidReport> {
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| {
        format!(
            "{}: expected the victim's report as JSON: name, id_number, transfers (as a report lists them), \
             optional fraud_type and narrative",
            path.display()
        )
    })
}

/// `complete`: reports the outcome of a call or a visit; prints where the task went, and the
/// case filed for a person who has paid.
pub async fn complete(staff: Staff<'_>, completion: Completion<'_>, json: bool) -> anyhow::Result<()> {
    let report = completion.report.map(read_report).transpose()?;
    let client = staff.connect().await?;
    let request = CompleteRequest {
        task: completion.task.to_owned(),
        operator: completion.operator.to_owned(),
        outcome: completion.outcome.to_owned(),
        note: completion.note.to_owned(),
        report,
    };
    let answer: CompleteResponse = ask(&client, staff.city, VERB_COMPLETE, &request, COMPLETE_TIMEOUT).await?;
    let mut done = match answer {
        Reply::Ok(done) => done,
        Reply::Error(error) => refused(&error),
    };
    done.task.phone = None;
    if json {
        return print_json(&done);
    }
    let now = domain::system_clock().now_ms();
    print(|out| {
        let task = &done.task;
        match task.status.strip_prefix("closed:") {
            Some(closure) => writeln!(out, "{}: closed ({closure})", task.task)?,
            None => writeln!(out, "{}: {}; now in {}, {}", task.task, completion.outcome, task.queue, due(task, now))?,
        }
        if let Some(case_id) = &done.case_id {
            writeln!(out, "report filed: case {case_id}")?;
        }
        Ok(())
    })
}

/// `reassign`: supervisor `by` gives `task` to `to`.
pub async fn reassign(staff: Staff<'_>, task: &str, by: &str, to: &str, json: bool) -> anyhow::Result<()> {
    let client = staff.connect().await?;
    let request = ReassignRequest { task: task.to_owned(), by: by.to_owned(), to: to.to_owned() };
    let answer: TaskResponse = ask(&client, staff.city, VERB_REASSIGN, &request, client::COMMAND_TIMEOUT).await?;
    let task = match answer {
        Reply::Ok(task) => TaskView { phone: None, ..task },
        Reply::Error(error) => refused(&error),
    };
    if json {
        return print_json(&task);
    }
    let now = domain::system_clock().now_ms();
    let holder = task.claimed_by.as_deref().unwrap_or("nobody");
    print(|out| writeln!(out, "{}: held by {holder}; in {}, {}", task.task, task.queue, due(&task, now)))
}

/// `list`: one page of tasks (every page with `all`), one line each, then the backlog per
/// queue. With `json`, each answer as one JSON line.
pub async fn list(staff: Staff<'_>, mut request: ListRequest, all: bool, json: bool) -> anyhow::Result<()> {
    let client = staff.connect().await?;
    let mut shown = 0usize;
    loop {
        let answer: ListResponse = ask(&client, staff.city, VERB_LIST, &request, client::COMMAND_TIMEOUT).await?;
        let mut page = match answer {
            Reply::Ok(page) => page,
            Reply::Error(error) => refused(&error),
        };
        page.tasks.iter_mut().for_each(|task| task.phone = None);
        shown += page.tasks.len();
        if json {
            let line = serde_json::to_string(&page)?;
            print(|out| writeln!(out, "{line}"))?;
        } else {
            let now = domain::system_clock().now_ms();
            print(|out| page.tasks.iter().try_for_each(|task| writeln!(out, "{}", task_line(task, now))))?;
        }
        match page.next {
            Some(next) if all => request.after = Some(next),
            _ if json => return Ok(()),
            _ => return print(|out| render_list_end(out, &page, shown)),
        }
    }
}

/// After the tasks: where the next page starts, or that there were none; then the backlog.
fn render_list_end(out: &mut dyn Write, page: &ListReply, shown: usize) -> io::Result<()> {
    if shown == 0 {
        writeln!(out, "no tasks")?;
    }
    if let Some(next) = &page.next {
        writeln!(out, "more: --after {next} (or --all)")?;
    }
    render_backlog(out, &page.backlog)
}

/// The backlog per queue, as a table.
pub fn render_backlog(out: &mut dyn Write, backlog: &[QueueBacklog]) -> io::Result<()> {
    writeln!(out, "backlog {:<22} {:>7} {:>7} {:>7}", "", "ready", "waiting", "overdue")?;
    for queue in backlog {
        writeln!(out, "  {:<28} {:>7} {:>7} {:>7}", queue.queue, queue.ready, queue.waiting, queue.overdue)?;
    }
    Ok(())
}

/// When a task is due, as staff read it: its time and how far from now, or why it has none.
fn due(task: &TaskView, now: TimeMs) -> String {
    match task.due_at_ms {
        _ if task.status.starts_with("closed") => task.status.clone(),
        _ if task.status == "waiting" => "waiting for the day's capacity".to_owned(),
        Some(at) if task.overdue || at < now => format!("OVERDUE, due {}", when(at, now)),
        Some(at) => format!("due {}", when(at, now)),
        None => task.status.clone(),
    }
}

/// One task as a line of `afc task list` (never the number).
pub fn task_line(task: &TaskView, now: TimeMs) -> String {
    let holder = task.claimed_by.as_deref().unwrap_or("-");
    let alarm = if task.alarm { "  TRANSFER INSTRUCTIONS SEEN" } else { "" };
    let types: Vec<String> = task.fraud_types.iter().map(ToString::to_string).collect();
    format!(
        "{:<6} {:<24} {:<6} {:<44} {:<12} {} [{}]{alarm}",
        task.task,
        task.queue,
        task.grade,
        due(task, now),
        holder,
        types.join(","),
        task.identifiers.join(" "),
    )
}

/// A task as the operator who takes it reads it: who to call or visit (the number, when the
/// answer holds it), how urgent, what reached them.
pub fn render_task(out: &mut dyn Write, task: &TaskView, now: TimeMs) -> io::Result<()> {
    let holder = task.claimed_by.as_deref().map_or(String::new(), |h| format!(", held by {h}"));
    writeln!(out, "task {} in {}: {} risk{holder}", task.task, task.queue, task.grade)?;
    if let Some(phone) = &task.phone {
        writeln!(out, "  phone          {phone}")?;
    }
    writeln!(out, "  person         {}", task.person)?;
    writeln!(out, "  {:<14} {}", "status", due(task, now))?;
    writeln!(out, "  first reached  {}", when(task.first_contact_ms, now))?;
    writeln!(out, "  opened         {}", when(task.opened_at_ms, now))?;
    writeln!(out, "  identifiers    {}", task.identifiers.join(", "))?;
    let types: Vec<String> = task.fraud_types.iter().map(ToString::to_string).collect();
    writeln!(out, "  fraud types    {}", types.join(", "))?;
    if task.alarm {
        writeln!(out, "  ALARM          transfer instructions seen (or a scam app installed): they may be paying now")?;
    }
    if let Some(case_id) = &task.case_id {
        writeln!(out, "  case           {case_id}")?;
    }
    Ok(())
}

/// `at_ms` on the city's clock (UTC+8), to the minute: `2026-11-30 20:15`.
pub fn local_time(at_ms: TimeMs) -> String {
    domain::calendar::UtcOffset::CHINA.local(at_ms).to_minute()
}

/// How far `at_ms` is from `now_ms`, to the minute, in its two largest units: `in 3h 10m`,
/// `2h ago`, `in 1d 4h`; `now` within a minute.
pub fn from_now(at_ms: TimeMs, now_ms: TimeMs) -> String {
    let minutes = at_ms.abs_diff(now_ms) / 60_000;
    let (days, hours, mins) = (minutes / 1_440, minutes / 60 % 24, minutes % 60);
    let span = match (days, hours, mins) {
        (0, 0, 0) => return "now".to_owned(),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    };
    if at_ms >= now_ms { format!("in {span}") } else { format!("{span} ago") }
}

/// `2026-11-30 20:15 (in 3h 10m)`.
pub fn when(at_ms: TimeMs, now_ms: TimeMs) -> String {
    format!("{} ({})", local_time(at_ms), from_now(at_ms, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: u64 = 60_000;
    const HOUR: u64 = 60 * MINUTE;

    /// 2026-11-30 12:15 UTC: 20:15 in China.
    fn evening() -> TimeMs {
        let days = domain::calendar::days_from_civil(2026, 11, 30);
        u64::try_from(days).unwrap() * 24 * HOUR + 12 * HOUR + 15 * MINUTE
    }

    #[test]
    fn times_read_on_the_city_clock_across_midnight_and_the_year() {
        assert_eq!(local_time(evening()), "2026-11-30 20:15");
        assert_eq!(local_time(evening() + 4 * HOUR), "2026-12-01 00:15", "past midnight in China");
        assert_eq!(local_time(evening() + 31 * 24 * HOUR + 4 * HOUR), "2027-01-01 00:15");
        assert_eq!(local_time(0), "1970-01-01 08:00");
    }

    #[test]
    fn offsets_from_now_read_in_their_two_largest_units() {
        let now = evening();
        for (at, read) in [
            (now, "now"),
            (now + 59_999, "now"),
            (now + 3 * HOUR + 10 * MINUTE, "in 3h 10m"),
            (now - 2 * HOUR, "2h ago"),
            (now - 45 * MINUTE - 30_000, "45m ago"),
            (now + 28 * HOUR + 5 * MINUTE, "in 1d 4h"),
            (now - 48 * HOUR - 3 * MINUTE, "2d ago"),
        ] {
            assert_eq!(from_now(at, now), read, "{at}");
        }
        assert_eq!(when(now + 3 * HOUR, now), "2026-11-30 23:15 (in 3h)");
    }

    fn view() -> TaskView {
        TaskView {
            task: "t7".into(),
            person: "p-0123456789abcdef".into(),
            phone: Some("+8613800138001".into()),
            grade: "medium".into(),
            queue: "call".into(),
            status: "ready".into(),
            due_at_ms: Some(evening() + 3 * HOUR + 10 * MINUTE),
            overdue: false,
            claimed_by: Some("caller-7".into()),
            opened_at_ms: evening() - 10 * MINUTE,
            first_contact_ms: evening() - 2 * HOUR,
            identifiers: vec!["phone:+8617100002222".into()],
            fraud_types: vec![domain::FraudType::parse("impersonating_authorities").unwrap()],
            alarm: true,
            case_id: None,
        }
    }

    #[test]
    fn the_operator_who_takes_a_task_reads_the_number_the_time_left_and_the_alarm() {
        let mut out = Vec::new();
        render_task(&mut out, &view(), evening()).unwrap();
        let text = String::from_utf8(out).unwrap();
        for part in [
            "task t7 in call: medium risk, held by caller-7",
            "phone          +8613800138001",
            "due 2026-11-30 23:25 (in 3h 10m)",
            "first reached  2026-11-30 18:15 (2h ago)",
            "phone:+8617100002222",
            "impersonating_authorities",
            "transfer instructions seen",
        ] {
            assert!(text.contains(part), "{part:?} in\n{text}");
        }
    }

    #[test]
    fn a_list_line_never_holds_the_number() {
        let line = task_line(&view(), evening() + 4 * HOUR);
        assert!(!line.contains("13800138001"), "{line}");
        assert!(line.contains("OVERDUE, due 2026-11-30 23:25 (50m ago)") && line.contains("caller-7"), "{line}");
        let waiting = TaskView { status: "waiting".into(), due_at_ms: None, ..view() };
        assert!(task_line(&waiting, evening()).contains("waiting for the day's capacity"));
    }
}
