//! Latency histograms with coordinated-omission correction and warm-up exclusion.
//!
//! **Coordinated omission.** A load generator that measures a request from the moment it
//! actually sent it undercounts every stall: while the sender (or a queue in front of the
//! system) is stuck, the requests that should have been sent are not, and when they finally
//! go they look fast. [`Recorder::record`] therefore measures from the request's *intended*
//! send time (its due time in the [`crate::harness::Schedule`]) to its completion: a request due
//! during a one-second stall has a latency of up to a second, as a user arriving at that
//! moment would have seen.
//!
//! [`Recorder::record_with_expected_interval`] is the other remedy, for values that were
//! measured from the actual send (a closed loop): HdrHistogram's `record_correct` adds the
//! samples the stall kept from being taken. Use one or the other for a data set, not both.

use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;

use super::limits::{HISTOGRAM_MAX, HISTOGRAM_SIGFIG};

/// Why a histogram could not be created or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("creating the histogram: {0}")]
    Create(#[from] hdrhistogram::CreationError),
    #[error("recording a value: {0}")]
    Record(#[from] hdrhistogram::RecordError),
}

/// Which requests are warm-up (left out of the results).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warmup {
    /// Nothing is left out.
    None,
    /// The first `n` requests (by index).
    Requests(u64),
    /// Every request intended within this long after the schedule's start.
    Time(Duration),
}

/// What happened to one recorded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Counted in the histogram.
    Measured,
    /// Left out as warm-up.
    WarmUp,
}

/// Percentiles of a histogram, in its unit (µs for a [`Recorder`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// Values recorded as a timeout (the true value is at least the one recorded), so every
    /// percentile at or above `1 - censored / count` is a lower bound.
    pub censored: u64,
}

impl Percentiles {
    /// The percentiles of `histogram`, none of them censored.
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        Percentiles {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
            censored: 0,
        }
    }
}

/// A latency histogram in µs for the requests of one schedule, warm-up left out.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// Measured latencies, µs, saturating at [`HISTOGRAM_MAX`].
    histogram: Histogram<u64>,
    /// The schedule's start, which a [`Warmup::Time`] counts from.
    start: Instant,
    warmup: Warmup,
    /// Values left out as warm-up.
    warmup_excluded: u64,
    /// Measured values recorded as a timeout.
    censored: u64,
}

impl Recorder {
    /// An empty recorder for a schedule that starts at `start`.
    pub fn new(start: Instant, warmup: Warmup) -> Result<Recorder, RecordError> {
        let max_us = micros(HISTOGRAM_MAX);
        Ok(Recorder {
            histogram: Histogram::new_with_bounds(1, max_us, HISTOGRAM_SIGFIG)?,
            start,
            warmup,
            warmup_excluded: 0,
            censored: 0,
        })
    }

    /// Whether request `index`, intended at `intended`, is warm-up.
    pub fn is_warmup(&self, index: u64, intended: Instant) -> bool {
        match self.warmup {
            Warmup::None => false,
            Warmup::Requests(n) => index < n,
            Warmup::Time(span) => intended < self.start + span,
        }
    }

    /// Records the latency of a request that completed at `completed`, **measured from its
    /// intended send time** (coordinated-omission corrected).
    pub fn record(&mut self, index: u64, intended: Instant, completed: Instant) -> Recorded {
        self.record_value(index, intended, completed.saturating_duration_since(intended))
    }

    /// Records a latency measured by someone else (e.g. the system's own figure), under the
    /// same warm-up rule. It is only as free of coordinated omission as its source.
    pub fn record_value(&mut self, index: u64, intended: Instant, value: Duration) -> Recorded {
        if self.is_warmup(index, intended) {
            self.warmup_excluded += 1;
            return Recorded::WarmUp;
        }
        self.histogram.saturating_record(micros(value));
        Recorded::Measured
    }

    /// Records a request that had not completed `timeout` after its intended send time: as
    /// `timeout`, a lower bound of its latency, and counted in [`Percentiles::censored`].
    pub fn record_timeout(&mut self, index: u64, intended: Instant, timeout: Duration) -> Recorded {
        let recorded = self.record_value(index, intended, timeout);
        if recorded == Recorded::Measured {
            self.censored += 1;
        }
        recorded
    }

    /// Records a value measured from the *actual* send of a sender that sends the next
    /// request only after this one, every `expected_interval`: HdrHistogram adds the samples
    /// a longer value kept from being taken (`value - interval`, `value - 2 interval`, …).
    pub fn record_with_expected_interval(
        &mut self,
        index: u64,
        intended: Instant,
        value: Duration,
        expected_interval: Duration,
    ) -> Result<Recorded, RecordError> {
        if self.is_warmup(index, intended) {
            self.warmup_excluded += 1;
            return Ok(Recorded::WarmUp);
        }
        let value = micros(value).min(self.histogram.high());
        self.histogram.record_correct(value, micros(expected_interval))?;
        Ok(Recorded::Measured)
    }

    /// Values left out as warm-up.
    pub fn warmup_excluded(&self) -> u64 {
        self.warmup_excluded
    }

    /// The recorded values.
    pub fn histogram(&self) -> &Histogram<u64> {
        &self.histogram
    }

    /// Percentiles of the measured values, µs.
    pub fn percentiles(&self) -> Percentiles {
        Percentiles { censored: self.censored, ..Percentiles::of(&self.histogram) }
    }
}

/// A duration in whole µs (saturating).
pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// A duration in whole ms (saturating).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Schedule;

    const MS: Duration = Duration::from_millis(1);

    /// A synthetic run: 100 requests/s for 2 s, each answered 1 ms after it is sent, and a
    /// sender that stalls for 1 s from 0.5 s on (everything due in the stall goes at 1.5 s).
    fn stalled_run() -> (Schedule, Vec<(u64, Instant, Instant, Instant)>) {
        let start = Instant::now();
        let schedule = Schedule::new(start, 100.0).unwrap();
        let stall_from = start + 500 * MS;
        let stall_to = start + 1_500 * MS;
        let requests = (0..200)
            .map(|i| {
                let due = schedule.due(i);
                let sent = if due >= stall_from && due < stall_to { stall_to } else { due };
                (i, due, sent, sent + MS)
            })
            .collect();
        (schedule, requests)
    }

    #[test]
    fn latency_from_the_intended_time_shows_a_stall_that_service_time_hides() {
        let (schedule, requests) = stalled_run();
        let mut corrected = Recorder::new(schedule.start(), Warmup::None).unwrap();
        let mut naive = Recorder::new(schedule.start(), Warmup::None).unwrap();
        for &(i, due, sent, done) in &requests {
            corrected.record(i, due, done);
            naive.record(i, sent, done);
        }
        let naive = naive.percentiles();
        assert_eq!(naive.count, 200);
        assert_eq!((naive.p50, naive.p99, naive.max), (1_000, 1_000, 1_000), "measured from the send: all 1 ms");
        let corrected = corrected.percentiles();
        assert_eq!(corrected.count, 200);
        // Half the requests were due in the stall; the first of them waited the whole second.
        assert!(corrected.p50 >= 1_000 && corrected.p50 <= 20_000, "{corrected:?}");
        assert!(corrected.p90 >= 700_000, "{corrected:?}");
        assert!(corrected.p99 >= 980_000, "{corrected:?}");
        assert!(corrected.max.abs_diff(1_001_000) <= 1_001, "{corrected:?}");
    }

    #[test]
    fn record_correct_fills_in_the_samples_a_closed_loop_missed() {
        let start = Instant::now();
        let mut recorder = Recorder::new(start, Warmup::None).unwrap();
        // A closed loop sending every 10 ms saw 99 fast answers and one of 1 s.
        for i in 0..99 {
            recorder.record_with_expected_interval(i, start, MS, 10 * MS).unwrap();
        }
        recorder.record_with_expected_interval(99, start, Duration::from_secs(1), 10 * MS).unwrap();
        let p = recorder.percentiles();
        // 1 s, 990 ms, ..., 10 ms: 100 values for the stall, as an open loop would have seen.
        assert_eq!(p.count, 199);
        assert!(p.p50 >= 10_000, "{p:?}");
        assert!(p.max.abs_diff(1_000_000) <= 1_000, "{p:?}");
    }

    #[test]
    fn warm_up_by_count_leaves_out_the_first_requests() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 10.0).unwrap();
        let mut recorder = Recorder::new(start, Warmup::Requests(3)).unwrap();
        let outcomes: Vec<Recorded> =
            (0..5).map(|i| recorder.record(i, schedule.due(i), schedule.due(i) + MS)).collect();
        assert_eq!(outcomes[..3], [Recorded::WarmUp; 3]);
        assert_eq!(outcomes[3..], [Recorded::Measured; 2]);
        assert_eq!(recorder.warmup_excluded(), 3);
        assert_eq!(recorder.percentiles().count, 2);
    }

    #[test]
    fn warm_up_by_time_leaves_out_requests_intended_before_its_end() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 10.0).unwrap();
        let mut recorder = Recorder::new(start, Warmup::Time(Duration::from_secs(1))).unwrap();
        // Requests 0..=9 are due before 1 s; a slow warm-up request still stays out.
        for i in 0..20 {
            let latency = if i < 10 { Duration::from_secs(5) } else { 2 * MS };
            recorder.record_value(i, schedule.due(i), latency);
        }
        assert_eq!(recorder.warmup_excluded(), 10);
        let p = recorder.percentiles();
        assert_eq!((p.count, p.max), (10, 2_000));
    }

    #[test]
    fn timeouts_are_lower_bounds_and_counted() {
        let start = Instant::now();
        let mut recorder = Recorder::new(start, Warmup::Requests(1)).unwrap();
        recorder.record_timeout(0, start, Duration::from_secs(30));
        recorder.record_value(1, start, MS);
        recorder.record_timeout(2, start, Duration::from_secs(30));
        let p = recorder.percentiles();
        assert_eq!((p.count, p.censored), (2, 1));
        assert!(p.max.abs_diff(30_000_000) <= 30_000, "{p:?}");
    }

    #[test]
    fn values_beyond_the_histogram_saturate() {
        let start = Instant::now();
        let mut recorder = Recorder::new(start, Warmup::None).unwrap();
        recorder.record_value(0, start, HISTOGRAM_MAX * 2);
        let p = recorder.percentiles();
        assert_eq!(p.count, 1);
        assert!(p.max >= micros(HISTOGRAM_MAX) * 999 / 1_000, "{p:?}");
    }
}
