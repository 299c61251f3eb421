//! The lab's approvers: two people with keys of their own (nkeys, made for the run, held in
//! memory), named in every city's roster of the deployment the drill starts. In each city they
//! look for allocations awaiting approval (`list` with phase `awaiting_approval`, at most
//! [`APPROVER_POLL`] apart in real time, and at once when one falls due), and approve each
//! `approve_after_ms` of simulated time after its notice ended: one request per approver, each
//! signed with that approver's key. They begin once restitution answers, as staff do.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use domain::{City, Service, SharedClock, TimeMs};
use protocol::Reply;
use protocol::restitution::{
    AllocationView, ApproveRequest, ListRequest, ListResponse, MAX_LIST_PAGE, RestitutionErrorKind, Signed,
    VERB_APPROVE, VERB_LIST, statement,
};
use tokio::sync::watch;
use tokio::task::JoinSet;

use afc::client;

/// Longest an approver waits, in real time, before listing the allocations awaiting approval
/// again: new ones are seen within it (at 4,000x, 100 ms is under 7 simulated minutes).
pub const APPROVER_POLL: Duration = Duration::from_millis(100);
/// Pages of `list` an approver reads per look (100 allocations each): the rest at the next.
pub const MAX_LIST_PAGES: usize = 10;
/// Times an approval restitution did not answer, or answered `unavailable`, is sent again.
pub const APPROVE_ATTEMPTS: u32 = 5;
/// Pause before an approval is sent again.
const APPROVE_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// The two approvers' names in the rosters.
const NAMES: [&str; 2] = ["lab-approver-1", "lab-approver-2"];

/// Two approvers' keys, made for one run.
pub struct LabApprovers {
    keys: Vec<(String, nkeys::KeyPair)>,
}

impl std::fmt::Debug for LabApprovers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabApprovers").field("names", &NAMES).finish()
    }
}

impl LabApprovers {
    /// Two fresh keys.
    pub fn generate() -> LabApprovers {
        LabApprovers { keys: NAMES.iter().map(|name| ((*name).to_owned(), nkeys::KeyPair::new_user())).collect() }
    }

    /// Restitution's settings with this notice and these approvers as the roster.
    pub fn tuning(&self, notice_ms: u64) -> restitution::Tuning {
        let approvers = self.keys.iter().map(|(name, pair)| (name.clone(), pair.public_key())).collect();
        restitution::Tuning { notice_ms, approvers }
    }

    /// Approver `who`'s signed approval of `allocation` of `city`.
    fn sign(&self, who: usize, city: &City, allocation: &str) -> anyhow::Result<Signed> {
        let (name, pair) = &self.keys[who];
        let said = statement(city, VERB_APPROVE, allocation, None);
        let signature = pair.sign(said.as_bytes()).context("signing an approval")?;
        Ok(Signed { approver: name.clone(), signature: domain::hex::encode(&signature) })
    }
}

/// What the approvers did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApproverStats {
    /// Approvals restitution accepted (or had already recorded).
    pub approvals: u64,
    /// Approvals refused (the allocation replaced meanwhile aside).
    pub refused: u64,
    /// Approvals not answered after [`APPROVE_ATTEMPTS`].
    pub unanswered: u64,
    /// Allocations replaced or gone before their approval.
    pub superseded: u64,
}

impl ApproverStats {
    fn add(&mut self, other: ApproverStats) {
        self.approvals += other.approvals;
        self.refused += other.refused;
        self.unanswered += other.unanswered;
        self.superseded += other.superseded;
    }
}

/// The approvers of every city, until [`Approvers::stop`].
pub struct Approvers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<ApproverStats>,
}

impl Approvers {
    /// One pair of approvers per city, on its connection.
    pub fn start(
        keys: std::sync::Arc<LabApprovers>,
        cities: BTreeMap<City, async_nats::Client>,
        clock: SharedClock,
        approve_after_ms: u64,
    ) -> Approvers {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        for (city, client) in cities {
            let desk = Desk { city, client, keys: keys.clone(), clock: clock.clone(), approve_after_ms };
            tasks.spawn(desk.work(stopped.clone()));
        }
        Approvers { stop, tasks }
    }

    /// Stops them (each finishes the approval it is sending); returns what they did.
    pub async fn stop(mut self) -> anyhow::Result<ApproverStats> {
        let _ = self.stop.send(true);
        let mut total = ApproverStats::default();
        while let Some(done) = self.tasks.join_next().await {
            total.add(done.context("an approver task panicked")?);
        }
        Ok(total)
    }
}

/// One city's approvers.
struct Desk {
    city: City,
    client: async_nats::Client,
    keys: std::sync::Arc<LabApprovers>,
    clock: SharedClock,
    approve_after_ms: u64,
}

/// Waits up to `wait` or until stopped; `true` when stopped.
async fn pause(stopped: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    if *stopped.borrow() {
        return true;
    }
    let _ = tokio::time::timeout(wait, stopped.changed()).await;
    *stopped.borrow()
}

impl Desk {
    async fn work(self, mut stopped: watch::Receiver<bool>) -> ApproverStats {
        let mut stats = ApproverStats::default();
        // Approvals refused for good: not sent again (one per allocation and approver).
        let mut given_up = std::collections::BTreeSet::new();
        loop {
            let now = self.clock.now_ms();
            let mut next_due = TimeMs::MAX;
            for allocation in self.awaiting().await {
                let due = allocation.notice_ends_at_ms.saturating_add(self.approve_after_ms);
                if due > now {
                    next_due = next_due.min(due);
                    continue;
                }
                for who in 0..self.keys.keys.len() {
                    let name = &self.keys.keys[who].0;
                    let key = (allocation.allocation.clone(), who);
                    if allocation.approvals.iter().any(|a| &a.by == name) || given_up.contains(&key) {
                        continue;
                    }
                    let done = self.approve(who, &allocation.allocation).await;
                    if done.approvals == 0 {
                        given_up.insert(key);
                    }
                    stats.add(done);
                }
            }
            let wait = match next_due {
                TimeMs::MAX => APPROVER_POLL,
                due => self.clock.real_duration(due.saturating_sub(self.clock.now_ms())).min(APPROVER_POLL),
            };
            if pause(&mut stopped, wait).await {
                return stats;
            }
        }
    }

    /// The allocations awaiting approval (at most [`MAX_LIST_PAGES`] pages); none while
    /// restitution does not answer.
    async fn awaiting(&self) -> Vec<AllocationView> {
        let mut out = Vec::new();
        let mut after = None;
        for _ in 0..MAX_LIST_PAGES {
            let request = ListRequest {
                phase: Some("awaiting_approval".into()),
                after: after.take(),
                limit: Some(MAX_LIST_PAGE as u32),
                ..ListRequest::default()
            };
            let Some(Reply::Ok(page)) = self.ask::<ListResponse>(VERB_LIST, &request).await else {
                break;
            };
            out.extend(page.allocations);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        out
    }

    /// Approver `who` approves `allocation`, again while restitution does not answer or is
    /// unavailable (at most [`APPROVE_ATTEMPTS`] times).
    async fn approve(&self, who: usize, allocation: &str) -> ApproverStats {
        let mut stats = ApproverStats::default();
        let signed = match self.keys.sign(who, &self.city, allocation) {
            Ok(signed) => signed,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "an approval could not be signed");
                stats.refused += 1;
                return stats;
            }
        };
        let request = ApproveRequest { allocation: allocation.to_owned(), signed };
        for _ in 0..APPROVE_ATTEMPTS {
            match self.ask::<protocol::restitution::AllocationResponse>(VERB_APPROVE, &request).await {
                Some(Reply::Ok(_)) => {
                    stats.approvals += 1;
                    return stats;
                }
                Some(Reply::Error(error)) => match error.kind {
                    // A lost answer to an approval that was recorded.
                    RestitutionErrorKind::AlreadyApproved => {
                        stats.approvals += 1;
                        return stats;
                    }
                    RestitutionErrorKind::WrongPhase | RestitutionErrorKind::UnknownAllocation => {
                        stats.superseded += 1;
                        return stats;
                    }
                    RestitutionErrorKind::Unavailable => {}
                    kind => {
                        tracing::warn!(city = %self.city, allocation, ?kind, message = %error.message, "approval refused");
                        stats.refused += 1;
                        return stats;
                    }
                },
                None => {}
            }
            tokio::time::sleep(APPROVE_RETRY_PAUSE).await;
        }
        stats.unanswered += 1;
        stats
    }

    /// Asks restitution's command `verb`; `None` when it did not answer or the answer is not
    /// the expected JSON.
    async fn ask<A: serde::de::DeserializeOwned>(&self, verb: &str, request: &impl serde::Serialize) -> Option<A> {
        let body = serde_json::to_vec(request).ok()?;
        let answer = client::ask(&self.client, &self.city, Service::Restitution, verb, body).await.ok()?;
        serde_json::from_slice(&answer).ok()
    }
}
