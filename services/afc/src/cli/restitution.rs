//! `afc restitution list|show|object|dismiss|approve|propose`: what the center's accountant
//! and its approvers work the returns of frozen money with (docs/restitution.md, "The
//! process"). Staff connect as `<city>-staff`, as for `afc task`.
//!
//! `approve` and `dismiss` sign the allocation with the approver's own key (`--key`, an nkey
//! seed file readable by its owner only): the service checks it against the center's roster,
//! so an approval is the approver's whoever relays it. Times print on the city's clock
//! (UTC+8); a closed pipe ends a command with exit 0.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use domain::{AccountRef, CaseId, City, Service, TimeMs};
use protocol::Reply;
use protocol::restitution::{
    AllocationView, ApproveRequest, DismissRequest, ListReply, ListRequest, ListResponse, ObjectRequest,
    ProposeRequest, RestitutionError, ShowRequest, Signed, VERB_APPROVE, VERB_DISMISS, VERB_LIST, VERB_OBJECT,
    VERB_PROPOSE, VERB_SHOW, statement,
};
use protocol::restitution::{ReportRequest, VERB_REPORT};
use protocol::subjects;
use serde::Serialize;

use super::case::EXIT_REFUSED;
use super::out::{json as print_json, print};
use super::task::when;
use crate::client;

/// Where a restitution command connects.
#[derive(clap::Args, Debug, Clone)]
pub struct Staff {
    #[arg(long, value_parser = City::parse)]
    pub city: City,
    #[arg(long, env = "AFC_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// As for `afc case report`: connect as `<city>-staff`.
    #[arg(long, env = "AFC_CREDENTIALS")]
    pub credentials: Option<PathBuf>,
}

/// An approver's signature: who, and the seed file of their key.
#[derive(clap::Args, Debug, Clone)]
pub struct Approver {
    /// Your name in the center's roster of approvers.
    #[arg(long = "as", value_name = "NAME")]
    pub name: String,
    /// Your key's seed file (`<name>.nk`, readable by you only).
    #[arg(long, value_name = "FILE.nk")]
    pub key: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List allocations, newest first: the open ones (notice, awaiting approval, executing)
    /// unless --phase says otherwise.
    List {
        #[command(flatten)]
        staff: Staff,
        /// open, notice, awaiting_approval, executing, completed, superseded or all.
        #[arg(long)]
        phase: Option<String>,
        /// Only allocations giving this victim a share.
        #[arg(long = "case", value_parser = CaseId::parse)]
        case_id: Option<CaseId>,
        #[arg(long, value_parser = AccountRef::parse)]
        account: Option<AccountRef>,
        #[arg(long)]
        after: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Show ALLOCATION (e.g. a3): the shares and how each is returned, the objections and the
    /// approvals.
    Show {
        #[command(flatten)]
        staff: Staff,
        allocation: String,
        #[arg(long)]
        json: bool,
    },
    /// Record an objection to ALLOCATION within its notice period: it waits until an
    /// approver dismisses the objection or the account is allocated again.
    Object {
        #[command(flatten)]
        staff: Staff,
        allocation: String,
        /// Who objects (the victim, their lawyer, an officer).
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
        /// The victim objecting, if a victim does.
        #[arg(long = "case", value_parser = CaseId::parse)]
        case_id: Option<CaseId>,
        #[arg(long)]
        json: bool,
    },
    /// Dismiss objection OBJECTION of ALLOCATION, signed as an approver.
    Dismiss {
        #[command(flatten)]
        staff: Staff,
        allocation: String,
        objection: u32,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        approver: Approver,
        #[arg(long)]
        json: bool,
    },
    /// Approve ALLOCATION, signed: the second approver's approval sends the returns.
    Approve {
        #[command(flatten)]
        staff: Staff,
        allocation: String,
        #[command(flatten)]
        approver: Approver,
        #[arg(long)]
        json: bool,
    },
    /// Write the fund-flow report (资金流向分析报告) of a case or an allocation: one
    /// self-contained HTML page (the money trail as a graph, every hop, each allocation's
    /// rule, shares, approvals, objections and returns), or its data as JSON.
    Report {
        #[command(flatten)]
        staff: Staff,
        /// A case id, or an allocation (a3).
        subject: String,
        /// Where to write it.
        #[arg(long, value_name = "FILE.html")]
        out: PathBuf,
        /// Write the data as JSON instead of HTML.
        #[arg(long)]
        json: bool,
    },
    /// Allocate ACCOUNT again by another rule (timestamp-trace, pro-rata, fifo,
    /// lowest-intermediate-balance): the notice period starts again.
    Propose {
        #[command(flatten)]
        staff: Staff,
        #[arg(value_parser = AccountRef::parse)]
        account: AccountRef,
        #[arg(long)]
        rule: String,
        #[arg(long)]
        by: String,
        #[arg(long)]
        json: bool,
    },
}

/// Runs an `afc restitution` command.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::List { staff, phase, case_id, account, after, limit, json } => {
            let request = ListRequest { phase, case_id, account, after, limit };
            let answer: ListResponse = ask(&staff, VERB_LIST, &request).await?;
            let page = answered(answer);
            if json {
                return print_json(&page);
            }
            print(|out| render_list(out, &page, now()))
        }
        Command::Show { staff, allocation, json } => {
            let view = answered(ask(&staff, VERB_SHOW, &ShowRequest { allocation }).await?);
            show(&view, json)
        }
        Command::Object { staff, allocation, by, reason, case_id, json } => {
            let request = ObjectRequest { allocation, case_id, by, reason };
            show(&answered(ask(&staff, VERB_OBJECT, &request).await?), json)
        }
        Command::Dismiss { staff, allocation, objection, reason, approver, json } => {
            let said = statement(&staff.city, VERB_DISMISS, &allocation, Some(objection));
            let signed = sign(&approver, &said)?;
            let request = DismissRequest { allocation, objection, reason, signed };
            show(&answered(ask(&staff, VERB_DISMISS, &request).await?), json)
        }
        Command::Approve { staff, allocation, approver, json } => {
            let signed = sign(&approver, &statement(&staff.city, VERB_APPROVE, &allocation, None))?;
            let request = ApproveRequest { allocation, signed };
            show(&answered(ask(&staff, VERB_APPROVE, &request).await?), json)
        }
        Command::Report { staff, subject, out, json } => {
            let request = match CaseId::parse(&subject) {
                Ok(case_id) => ReportRequest { case_id: Some(case_id), allocation: None },
                Err(_) => ReportRequest { case_id: None, allocation: Some(subject) },
            };
            let answer: Reply<restitution::report::FundFlow, RestitutionError> =
                ask(&staff, VERB_REPORT, &request).await?;
            let report = answered(answer);
            let text =
                if json { restitution::report::to_json(&report) } else { restitution::report::render_html(&report) };
            std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
            let totals = report.allocations.iter().map(|a| a.totals()).filter(|t| !t.adds_up).count();
            print(|o| {
                writeln!(
                    o,
                    "{}: {} hops, {} allocation(s), {} bytes",
                    out.display(),
                    report.trail.len(),
                    report.allocations.len(),
                    text.len()
                )?;
                if totals > 0 {
                    writeln!(o, "warning: {totals} allocation(s) whose totals do not add up (shown in red)")?;
                }
                Ok(())
            })
        }
        Command::Propose { staff, account, rule, by, json } => {
            let request = ProposeRequest { account, rule, by };
            show(&answered(ask(&staff, VERB_PROPOSE, &request).await?), json)
        }
    }
}

fn now() -> TimeMs {
    domain::system_clock().now_ms()
}

/// Signs `said` with the approver's key, read from their seed file (refused when others may
/// read it, as the services' own keys are).
pub fn sign(approver: &Approver, said: &str) -> anyhow::Result<Signed> {
    let (dir, name) = split_key_path(&approver.key)?;
    let identity =
        security::Identity::load(dir, name).with_context(|| format!("the approver key {}", approver.key.display()))?;
    let pair = nkeys::KeyPair::from_seed(identity.seed()).context("the approver key is not a seed")?;
    let signature = pair.sign(said.as_bytes()).context("signing")?;
    Ok(Signed { approver: approver.name.clone(), signature: domain::hex::encode(&signature) })
}

/// `dir/name.nk` as (dir, name).
fn split_key_path(path: &Path) -> anyhow::Result<(&Path, &str)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".nk"))
        .with_context(|| format!("{}: expected a seed file named <name>.nk", path.display()))?;
    Ok((path.parent().unwrap_or(Path::new(".")), name))
}

async fn ask<Q: Serialize, A: serde::de::DeserializeOwned>(
    staff: &Staff,
    verb: &str,
    request: &Q,
) -> anyhow::Result<A> {
    let (name, inbox) = (format!("{}-staff", staff.city), subjects::city_inbox(&staff.city, "staff"));
    let client = super::connect(&staff.nats, staff.credentials.as_deref(), &name, inbox).await?;
    let body = serde_json::to_vec(request)?;
    let answer =
        client::ask_within(&client, &staff.city, Service::Restitution, verb, body, client::COMMAND_TIMEOUT).await?;
    serde_json::from_slice(&answer).context("unreadable answer from restitution")
}

/// The answer, or the refusal printed (kind, message, each problem) and exit
/// [`EXIT_REFUSED`].
fn answered<T>(reply: Reply<T, RestitutionError>) -> T {
    match reply {
        Reply::Ok(value) => value,
        Reply::Error(error) => {
            let kind = serde_json::to_value(error.kind).ok().and_then(|k| k.as_str().map(str::to_owned));
            eprintln!("refused ({}): {}", kind.unwrap_or_default(), error.message);
            for problem in &error.problems {
                eprintln!("  {problem}");
            }
            std::process::exit(EXIT_REFUSED);
        }
    }
}

fn show(view: &AllocationView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(view);
    }
    print(|out| render_allocation(out, view, now()))
}

/// One line an allocation: `a3  notice until 2026-12-30 09:00 (in 29d)  icbc:…  ¥1,000.00 frozen, 2 victims`.
pub fn allocation_line(view: &AllocationView, now: TimeMs) -> String {
    let phase = match view.phase.as_str() {
        "notice" => format!("notice until {}", when(view.notice_ends_at_ms, now)),
        other => other.replace('_', " "),
    };
    let victims = view.shares.iter().filter(|s| !s.fen.is_zero()).count();
    format!(
        "{:<5} {phase}  {}  {} frozen, {} to {victims} of {} victim(s) by {}, {} returned",
        view.allocation,
        view.account,
        view.frozen_fen,
        view.frozen_fen.saturating_sub(view.unallocated_fen),
        view.shares.len(),
        view.rule,
        view.returned_fen
    )
}

pub fn render_list(out: &mut dyn Write, page: &ListReply, now: TimeMs) -> std::io::Result<()> {
    if page.allocations.is_empty() {
        return writeln!(out, "no allocation");
    }
    for view in &page.allocations {
        writeln!(out, "{}", allocation_line(view, now))?;
    }
    if let Some(next) = &page.next {
        writeln!(out, "more: --after {next}")?;
    }
    Ok(())
}

pub fn render_allocation(out: &mut dyn Write, view: &AllocationView, now: TimeMs) -> std::io::Result<()> {
    writeln!(out, "{}", allocation_line(view, now))?;
    writeln!(
        out,
        "  proposed {} ({}), notice until {}",
        when(view.proposed_at_ms, now),
        view.cause,
        when(view.notice_ends_at_ms, now)
    )?;
    if let Some(by) = &view.replaced_by {
        writeln!(out, "  replaced by {by}")?;
    }
    if !view.unallocated_fen.is_zero() {
        writeln!(out, "  unallocated: {} (stays frozen)", view.unallocated_fen)?;
    }
    for share in &view.shares {
        let ret = match &share.r#return {
            None => String::new(),
            Some(r) => match (r.state.as_str(), &r.transfer_id, r.executed_at_ms) {
                ("confirmed", Some(transfer), Some(at)) => format!("  returned {} by {transfer}", when(at, now)),
                ("failed", _, _) => format!("  FAILED: {}", r.problem.as_deref().unwrap_or("")),
                (state, _, _) => format!("  {state}, due {}", when(r.due_ms, now)),
            },
        };
        writeln!(out, "  {}  {} (traced in {}){ret}", share.case_id, share.fen, share.traced_in_fen)?;
    }
    for objection in &view.objections {
        let case = objection.case_id.as_ref().map(|c| format!(" for {c}")).unwrap_or_default();
        writeln!(
            out,
            "  objection {} by {}{case}, {}: {}",
            objection.objection,
            objection.by,
            when(objection.at_ms, now),
            objection.reason
        )?;
        if let (Some(by), Some(why)) = (&objection.dismissed_by, &objection.dismissal) {
            writeln!(out, "    dismissed by {by}: {why}")?;
        }
    }
    for approval in &view.approvals {
        writeln!(out, "  approved by {} {}", approval.by, when(approval.at_ms, now))?;
    }
    for case in &view.late_claims {
        writeln!(out, "  claim after execution: {case} (allocated from what remains)")?;
    }
    Ok(())
}

/// The allocations giving `case_id` a share (every phase), asked of restitution on `client`.
pub async fn of_case(client: &async_nats::Client, city: &City, case_id: &CaseId) -> Result<ListReply, String> {
    let request = ListRequest { phase: Some("all".into()), case_id: Some(case_id.clone()), ..ListRequest::default() };
    let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
    let answer = client::ask_within(client, city, Service::Restitution, VERB_LIST, body, client::COMMAND_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    match serde_json::from_slice::<ListResponse>(&answer).map_err(|e| e.to_string())? {
        Reply::Ok(page) => Ok(page),
        Reply::Error(error) => Err(error.message),
    }
}

/// `afc case show`'s returns: the case's share in each allocation and where its return is.
pub fn render_case(case_id: &CaseId, page: &ListReply) -> String {
    let now = now();
    let mut text = String::new();
    let shares: Vec<_> = page
        .allocations
        .iter()
        .filter(|a| a.phase != "superseded")
        .filter_map(|a| a.shares.iter().find(|s| &s.case_id == case_id).map(|s| (a, s)))
        .collect();
    if shares.is_empty() {
        return "returns: no allocation yet\n".into();
    }
    text.push_str("returns:\n");
    for (allocation, share) in shares {
        let state = match &share.r#return {
            Some(r) if r.state == "confirmed" => {
                format!("returned {}", r.executed_at_ms.map(|at| when(at, now)).unwrap_or_default())
            }
            Some(r) => format!("{} (due {})", r.state, when(r.due_ms, now)),
            None => allocation.phase.replace('_', " "),
        };
        text.push_str(&format!("  {} {} from {}: {state}\n", allocation.allocation, share.fen, allocation.account));
    }
    text
}
