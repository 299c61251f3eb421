//! Following restitution while a drill runs, to know when it has settled: every account a
//! center froze money on has had an allocation proposed (or refused), and no allocation is
//! open (in its notice, awaiting approval or executing). The drill waits for it, bounded by
//! [`RESTITUTION_SETTLE_TIMEOUT`], before it reads the streams back. With no allocation open
//! and restitution quiet for [`RESTITUTION_QUIET`], frozen accounts still without an
//! allocation are not waited for: they are named, and the section counts their money as not
//! returned.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::{AccountRef, City};
use events::restitution::{AllocationNo, RestitutionEvent};
use events::{FreezingEvent, Payload, Service};
use futures::StreamExt;
use tokio::task::JoinHandle;

use crate::deployment::Watch;

/// Longest the drill waits, in real time, for restitution to settle once the freezes have:
/// an hour's notice and the approvers' ten minutes are about a real second at 4,000x, a
/// minute at 60x; a notice of days at a low scale is not waited for (the section shows the
/// allocations still open).
pub const RESTITUTION_SETTLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long restitution may publish nothing, with no allocation open, before the accounts it
/// has not allocated are no longer waited for (real time: its statement reads are retried
/// within seconds).
pub const RESTITUTION_QUIET: Duration = Duration::from_secs(10);
/// Pause between two looks while waiting.
const SETTLE_POLL: Duration = Duration::from_millis(100);

/// What restitution did so far in one city.
#[derive(Debug, Default)]
struct CityState {
    /// Envelope ids seen (a re-sent event has the same).
    seen: BTreeSet<String>,
    /// Accounts with an allocation proposed or refused.
    handled: BTreeSet<AccountRef>,
    /// Allocations proposed, not replaced and not completed.
    open: BTreeSet<AllocationNo>,
}

/// Restitution's events of every city, as they are published.
pub struct RestitutionWatch {
    state: Arc<Mutex<BTreeMap<City, CityState>>>,
    /// When the last event arrived (or the watch started).
    last: Arc<Mutex<Instant>>,
    task: JoinHandle<()>,
}

impl Drop for RestitutionWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RestitutionWatch {
    /// Subscribes to each city's restitution events on its connection; the subscriptions are
    /// in place when this returns.
    pub async fn start(sources: &[(async_nats::Client, City)]) -> anyhow::Result<RestitutionWatch> {
        let mut subscriptions = Vec::new();
        let state: Arc<Mutex<BTreeMap<City, CityState>>> = Arc::default();
        for (client, city) in sources {
            let subject = protocol::subjects::service_events(city, Service::Restitution);
            subscriptions.push(client.subscribe(subject).await?);
            client.flush().await?;
            state.lock().expect("restitution watch lock").insert(city.clone(), CityState::default());
        }
        let sink = state.clone();
        let last = Arc::new(Mutex::new(Instant::now()));
        let heard = last.clone();
        let mut messages = futures::stream::select_all(subscriptions);
        let task = tokio::spawn(async move {
            while let Some(message) = messages.next().await {
                let Ok(envelope) = events::decode(&message.payload) else { continue };
                let Payload::Restitution(event) = envelope.payload else { continue };
                let mut state = sink.lock().expect("restitution watch lock");
                let city = state.entry(envelope.city.clone()).or_default();
                if city.seen.insert(envelope.id) {
                    city.absorb(&event);
                    *heard.lock().expect("restitution watch lock") = Instant::now();
                }
            }
        });
        Ok(RestitutionWatch { state, last, task })
    }

    /// The accounts a city froze money on (its freezing watch) that have had no allocation
    /// yet, and the allocations open, every city: settled when both are none.
    fn waiting(&self, watches: &[(&City, &Watch)]) -> (BTreeSet<(City, AccountRef)>, usize) {
        let state = self.state.lock().expect("restitution watch lock");
        let mut unallocated = BTreeSet::new();
        for (city, watch) in watches {
            let Some(seen) = state.get(*city) else { continue };
            for event in watch.all().values().flatten() {
                if let FreezingEvent::AccountFrozen { account, frozen_fen, .. } = event
                    && !frozen_fen.is_zero()
                    && !seen.handled.contains(account)
                {
                    unallocated.insert(((*city).clone(), account.clone()));
                }
            }
        }
        (unallocated, state.values().map(|city| city.open.len()).sum())
    }

    /// Waits until restitution has settled in every city, or [`RESTITUTION_SETTLE_TIMEOUT`]
    /// passed (then says how many allocations are still open).
    pub async fn until_settled(&self, watches: &[(&City, &Watch)]) {
        let deadline = Instant::now() + RESTITUTION_SETTLE_TIMEOUT;
        loop {
            let (unallocated, open) = self.waiting(watches);
            if unallocated.is_empty() && open == 0 {
                return;
            }
            let quiet = self.last.lock().expect("restitution watch lock").elapsed();
            if open == 0 && quiet >= RESTITUTION_QUIET {
                let listed: Vec<String> = unallocated.iter().take(5).map(|(c, a)| format!("{a} in {c}")).collect();
                eprintln!(
                    "restitution proposed nothing for {} frozen accounts ({}{}); not waited for",
                    unallocated.len(),
                    listed.join(", "),
                    if unallocated.len() > listed.len() { ", …" } else { "" }
                );
                return;
            }
            if Instant::now() >= deadline {
                let first = unallocated.first().map(|(city, account)| format!(", e.g. {account} in {city}"));
                eprintln!(
                    "restitution not settled after {RESTITUTION_SETTLE_TIMEOUT:?}: {open} allocations open, {} frozen accounts without one{}",
                    unallocated.len(),
                    first.unwrap_or_default()
                );
                return;
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }
}

impl CityState {
    fn absorb(&mut self, event: &RestitutionEvent) {
        match event {
            RestitutionEvent::AllocationProposed { allocation, account, replaces, .. } => {
                self.handled.insert(account.clone());
                self.open.insert(*allocation);
                if let Some(replaced) = replaces {
                    self.open.remove(replaced);
                }
            }
            RestitutionEvent::AllocationRefused { account, .. } => {
                self.handled.insert(account.clone());
            }
            RestitutionEvent::AllocationCompleted { allocation, .. } => {
                self.open.remove(allocation);
            }
            _ => {}
        }
    }
}
