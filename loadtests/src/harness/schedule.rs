//! The open-loop schedule and its driver.
//!
//! Request `i` is due at `start + i / rate`. [`drive`] sleeps until each due time and hands
//! the request to a task of its own, so a slow answer never delays the next request (a
//! closed loop would: it waits for an answer before sending again, and so offers less load
//! exactly when the system is slow). The time each task actually started is kept next to
//! its due time; the difference is the sender's lateness.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tokio::time::Instant;

use super::limits::{MAX_IN_FLIGHT, MAX_RATE_PER_S, MAX_REQUESTS};

/// Why a schedule could not be built or driven.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("rate {given} requests/s is out of range: it must be above 0 and at most {max}")]
    Rate { given: f64, max: f64 },
    #[error("{given} requests is out of range: at most {max}")]
    Requests { given: u64, max: u64 },
    #[error("{given} requests in flight is out of range: 1 to {max}")]
    InFlight { given: usize, max: usize },
    #[error("a request task failed: {0}")]
    Task(#[from] JoinError),
}

/// When each request is due: `start + index / rate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    start: Instant,
    rate_per_s: f64,
}

impl Schedule {
    /// A schedule offering `rate_per_s` requests per second from `start`.
    pub fn new(start: Instant, rate_per_s: f64) -> Result<Schedule, ScheduleError> {
        if !(rate_per_s.is_finite() && rate_per_s > 0.0 && rate_per_s <= MAX_RATE_PER_S) {
            return Err(ScheduleError::Rate { given: rate_per_s, max: MAX_RATE_PER_S });
        }
        Ok(Schedule { start, rate_per_s })
    }

    /// When request 0 is due.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The offered rate, in requests per second.
    pub fn rate_per_s(&self) -> f64 {
        self.rate_per_s
    }

    /// Time between two consecutive due times.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate_per_s)
    }

    /// When request `index` is due. Computed from `start` each time, so rounding does not
    /// accumulate over a long run.
    pub fn due(&self, index: u64) -> Instant {
        self.start + Duration::from_secs_f64(index as f64 / self.rate_per_s)
    }

    /// How many requests are due in `[start, start + span)`.
    pub fn count_within(&self, span: Duration) -> u64 {
        let exact = span.as_secs_f64() * self.rate_per_s;
        // The smallest n with n / rate >= span; guard the float product against landing
        // just above a whole number.
        let mut count = exact.ceil() as u64;
        while count > 0 && self.due(count - 1) >= self.start + span {
            count -= 1;
        }
        count
    }
}

/// What the driver saw for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent<T> {
    /// The request's position in the schedule.
    pub index: u64,
    /// When the schedule wanted it sent: the start of its latency.
    pub due: Instant,
    /// When its task actually started.
    pub sent: Instant,
    /// What the request's future returned.
    pub output: T,
}

impl<T> Sent<T> {
    /// Actual send time minus due time.
    pub fn lateness(&self) -> Duration {
        self.sent.saturating_duration_since(self.due)
    }
}

/// Sends requests `0..count` of `schedule` open-loop: at each due time, `request(index)` is
/// spawned as a task of its own, without waiting for the earlier ones. At most `max_in_flight`
/// requests run at once; a request beyond that waits for a slot and is sent late (its
/// lateness, and so its latency measured from the due time, shows the wait). Returns every
/// request's [`Sent`], in index order, once all have finished.
pub async fn drive<F, Fut, T>(
    schedule: &Schedule,
    count: u64,
    max_in_flight: usize,
    mut request: F,
) -> Result<Vec<Sent<T>>, ScheduleError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    if count > MAX_REQUESTS {
        return Err(ScheduleError::Requests { given: count, max: MAX_REQUESTS });
    }
    if max_in_flight == 0 || max_in_flight > MAX_IN_FLIGHT {
        return Err(ScheduleError::InFlight { given: max_in_flight, max: MAX_IN_FLIGHT });
    }
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let mut tasks = JoinSet::new();
    let mut done = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for index in 0..count {
        let due = schedule.due(index);
        tokio::time::sleep_until(due).await;
        let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
        let future = request(index);
        tasks.spawn(async move {
            let sent = Instant::now();
            let output = future.await;
            drop(slot);
            Sent { index, due, sent, output }
        });
        // Reap what has finished, so the set holds only what is in flight.
        while let Some(finished) = tasks.try_join_next() {
            done.push(finished?);
        }
    }
    while let Some(finished) = tasks.join_next().await {
        done.push(finished?);
    }
    done.sort_by_key(|sent| sent.index);
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn due_times_are_start_plus_index_over_rate() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 200.0).unwrap();
        assert_eq!(schedule.due(0), start);
        assert_eq!(schedule.due(1), start + 5 * MS);
        assert_eq!(schedule.due(200), start + Duration::from_secs(1));
        // No drift after many requests.
        assert_eq!(schedule.due(200 * 3_600), start + Duration::from_secs(3_600));
        assert_eq!(schedule.interval(), 5 * MS);
    }

    #[test]
    fn counts_the_requests_due_within_a_span() {
        let schedule = Schedule::new(Instant::now(), 200.0).unwrap();
        assert_eq!(schedule.count_within(Duration::from_secs(20)), 4_000);
        assert_eq!(schedule.count_within(Duration::ZERO), 0);
        // Due at 0, 5 and 10 ms: three requests before 11 ms, two before 10 ms.
        assert_eq!(schedule.count_within(11 * MS), 3);
        assert_eq!(schedule.count_within(10 * MS), 2);
        let third = Schedule::new(Instant::now(), 3.0).unwrap();
        assert_eq!(third.count_within(Duration::from_secs(1)), 3);
    }

    #[test]
    fn refuses_rates_out_of_range() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_RATE_PER_S * 2.0] {
            assert!(matches!(Schedule::new(Instant::now(), rate), Err(ScheduleError::Rate { .. })), "{rate}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sends_each_request_at_its_due_time_without_waiting_for_answers() {
        let schedule = Schedule::new(Instant::now() + 100 * MS, 100.0).unwrap();
        // Every answer takes a second, far longer than the 10 ms interval: an open loop
        // still sends every request on time.
        let sent = drive(&schedule, 20, MAX_IN_FLIGHT, |index| async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            index * 2
        })
        .await
        .unwrap();
        assert_eq!(sent.len(), 20);
        for (i, s) in (0u64..).zip(&sent) {
            assert_eq!(s.index, i);
            assert_eq!(s.due, schedule.due(i));
            assert_eq!(s.lateness(), Duration::ZERO, "request {i}");
            assert_eq!(s.output, i * 2);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_in_flight_bound_makes_requests_late() {
        let schedule = Schedule::new(Instant::now(), 100.0).unwrap();
        // One slot, 50 ms per answer, due every 10 ms: request i starts at 50 i ms.
        let sent = drive(&schedule, 5, 1, |_| tokio::time::sleep(50 * MS)).await.unwrap();
        for (i, s) in (0u32..).zip(&sent) {
            assert_eq!(s.sent, schedule.start() + 50 * MS * i);
            assert_eq!(s.lateness(), 40 * MS * i);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_bounds_out_of_range() {
        let schedule = Schedule::new(Instant::now(), 1.0).unwrap();
        let zero = drive(&schedule, 1, 0, |_| async {}).await;
        assert!(matches!(zero, Err(ScheduleError::InFlight { given: 0, .. })));
        let many = drive(&schedule, MAX_REQUESTS + 1, 1, |_| async {}).await;
        assert!(matches!(many, Err(ScheduleError::Requests { .. })));
    }
}
