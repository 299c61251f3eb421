//! What a service changed, told to whoever shows it (the staff console): the cases its
//! events and its folds touched, gathered in [`Touched`] and published together on
//! `afc.<city>.changed.<service>` ([`tell`]) at most every [`CHANGES_EVERY`]. The first
//! change after a quiet spell is told at once; under load, one message every
//! [`CHANGES_EVERY`] names them all, so what a console hears does not grow with the event
//! rate. Core NATS, not stored: a console that was not listening reads the services afresh.

use std::collections::HashSet;
use std::sync::Mutex;

use domain::{CaseId, City, Service};
use protocol::changes::Changes;
use protocol::limits::{CHANGES_EVERY, MAX_CHANGES_CASES};
use tokio::sync::Notify;

use crate::{Shutdown, stopped};

/// The cases a service changed since it last told.
#[derive(Debug, Default)]
pub struct Touched {
    pending: Mutex<Pending>,
    /// Signalled when the first change after a take is noted.
    noted: Notify,
}

#[derive(Debug, Default)]
struct Pending {
    cases: HashSet<CaseId>,
    uncased: bool,
    overflow: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.cases.is_empty() && !self.uncased && !self.overflow
    }
}

impl Touched {
    /// Notes that the state of `case` changed (of no case: `None`).
    pub fn note(&self, case: Option<&CaseId>) {
        let mut pending = self.pending.lock().expect("never poisoned");
        let first = pending.is_empty();
        match case {
            None => pending.uncased = true,
            Some(_) if pending.overflow => {}
            Some(case) if pending.cases.contains(case) => {}
            Some(_) if pending.cases.len() >= MAX_CHANGES_CASES => {
                pending.overflow = true;
                pending.cases = HashSet::new();
            }
            Some(case) => {
                pending.cases.insert(case.clone());
            }
        }
        drop(pending);
        if first {
            self.noted.notify_one();
        }
    }

    /// What changed since the last take, if anything did.
    pub fn take(&self) -> Option<Changes> {
        let pending = std::mem::take(&mut *self.pending.lock().expect("never poisoned"));
        if pending.is_empty() {
            return None;
        }
        let mut cases: Vec<CaseId> = pending.cases.into_iter().collect();
        cases.sort_unstable();
        Some(Changes { cases, uncased: pending.uncased, overflow: pending.overflow })
    }
}

/// Tells `touched` on `afc.<city>.changed.<service>` until shutdown: at once after a quiet
/// spell, then at most every [`CHANGES_EVERY`]. A publish that fails is dropped (the next
/// change is told again); nobody listening costs the server nothing.
pub async fn tell(
    client: async_nats::Client,
    city: City,
    service: Service,
    touched: std::sync::Arc<Touched>,
    shutdown: Shutdown,
) -> Result<(), std::convert::Infallible> {
    let subject = protocol::subjects::changes(&city, service);
    tell_to(&touched, shutdown, |changes| {
        let (client, subject) = (client.clone(), subject.clone());
        async move {
            if let Err(error) = client.publish(subject, protocol::to_json(&changes).into()).await {
                tracing::debug!(%error, "telling what changed failed; the next change is told");
            }
        }
    })
    .await;
    Ok(())
}

async fn tell_to<F, Fut>(touched: &Touched, mut shutdown: Shutdown, mut send: F)
where
    F: FnMut(Changes) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        tokio::select! {
            () = touched.noted.notified() => {}
            () = stopped(&mut shutdown) => return,
        }
        let Some(changes) = touched.take() else { continue };
        send(changes).await;
        tokio::select! {
            () = tokio::time::sleep(CHANGES_EVERY) => {}
            () = stopped(&mut shutdown) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(n: usize) -> CaseId {
        CaseId::parse(&format!("hangzhou-{n:016x}")).unwrap()
    }

    #[test]
    fn touched_cases_are_told_once_each_and_then_forgotten() {
        let touched = Touched::default();
        assert_eq!(touched.take(), None, "nothing changed");
        touched.note(Some(&case(2)));
        touched.note(Some(&case(1)));
        touched.note(Some(&case(2)));
        let told = touched.take().unwrap();
        assert_eq!(told, Changes { cases: vec![case(1), case(2)], uncased: false, overflow: false });
        assert_eq!(touched.take(), None, "told once");
        touched.note(None);
        assert_eq!(touched.take(), Some(Changes { cases: vec![], uncased: true, overflow: false }));
    }

    #[test]
    fn more_cases_than_the_bound_are_told_as_every_case() {
        let touched = Touched::default();
        for n in 0..MAX_CHANGES_CASES {
            touched.note(Some(&case(n)));
        }
        assert_eq!(touched.take().unwrap().cases.len(), MAX_CHANGES_CASES, "at the bound: named");
        for n in 0..=MAX_CHANGES_CASES {
            touched.note(Some(&case(n)));
        }
        let told = touched.take().unwrap();
        assert!(told.overflow && told.cases.is_empty(), "past the bound: every case");
        assert!(protocol::to_json(&told).len() < 100);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_change_is_told_at_once_and_the_next_after_the_pause() {
        let touched = std::sync::Arc::new(Touched::default());
        let (stop, shutdown) = tokio::sync::watch::channel(false);
        let (told, mut heard) = tokio::sync::mpsc::unbounded_channel();
        let teller = {
            let touched = touched.clone();
            tokio::spawn(async move {
                tell_to(&touched, shutdown, |changes| {
                    told.send((tokio::time::Instant::now(), changes)).unwrap();
                    async {}
                })
                .await;
            })
        };
        let start = tokio::time::Instant::now();
        touched.note(Some(&case(1)));
        let (at, first) = heard.recv().await.unwrap();
        assert_eq!((at, first.cases), (start, vec![case(1)]), "at once");
        touched.note(Some(&case(2)));
        touched.note(Some(&case(3)));
        let (at, next) = heard.recv().await.unwrap();
        assert_eq!(next.cases, vec![case(2), case(3)], "both in one message");
        assert_eq!(at, start + CHANGES_EVERY, "not before the pause");
        stop.send(true).unwrap();
        teller.await.unwrap();
        assert!(heard.try_recv().is_err(), "nothing more");
    }
}
