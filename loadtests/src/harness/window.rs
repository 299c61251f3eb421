//! The measured window of a run and the rates counted in it.
//!
//! A run is `warm-up + duration` long from the schedule's start; the measured window is the
//! `duration` after the warm-up. A rate is the number of events (sends, completions, …) whose
//! time falls in the window, divided by the window's length. A system that keeps up
//! completes as many requests per second as are offered; one that falls behind completes
//! fewer inside the window, however many it finishes later.

use std::time::Duration;

use tokio::time::Instant;

/// `[start, end)` of the measured part of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    /// The window after `warmup`, `duration` long, of a schedule that starts at
    /// `schedule_start`.
    pub fn after_warmup(schedule_start: Instant, warmup: Duration, duration: Duration) -> Window {
        let start = schedule_start + warmup;
        Window { start, end: start + duration }
    }

    /// Whether `at` falls in the window.
    pub fn contains(&self, at: Instant) -> bool {
        at >= self.start && at < self.end
    }

    /// The window's length.
    pub fn length(&self) -> Duration {
        self.end.saturating_duration_since(self.start)
    }

    /// Events per second in the window: the events (by time) that fall in it, divided by its
    /// length. Zero for an empty window.
    pub fn rate(&self, events: impl IntoIterator<Item = Instant>) -> f64 {
        self.weighted_rate(events.into_iter().map(|at| (at, 1)))
    }

    /// Like [`Window::rate`], each event counting `weight` (e.g. accounts stopped by a
    /// completed case).
    pub fn weighted_rate(&self, events: impl IntoIterator<Item = (Instant, u64)>) -> f64 {
        let length = self.length().as_secs_f64();
        if length == 0.0 {
            return 0.0;
        }
        let total: u64 = events.into_iter().filter(|(at, _)| self.contains(*at)).map(|(_, weight)| weight).sum();
        total as f64 / length
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::Schedule;

    #[test]
    fn rates_count_only_events_inside_the_window() {
        let start = Instant::now();
        let schedule = Schedule::new(start, 100.0).unwrap();
        let window = Window::after_warmup(start, Duration::from_secs(1), Duration::from_secs(2));
        assert_eq!(window.length(), Duration::from_secs(2));
        // 4 s of requests at 100/s: 200 of them fall in [1 s, 3 s).
        let sends: Vec<Instant> = (0..400).map(|i| schedule.due(i)).collect();
        assert_eq!(window.rate(sends.iter().copied()), 100.0);
        // Completions that lag by half a second: still 200 in the window.
        let lagging = sends.iter().map(|&at| at + Duration::from_millis(500));
        assert_eq!(window.rate(lagging), 100.0);
        // A system completing one request every 20 ms keeps up with half the rate.
        let slow = (0..400).map(|i| start + Duration::from_millis(20 * i));
        assert_eq!(window.rate(slow), 50.0);
        let weighted = sends.iter().map(|&at| (at, 25));
        assert_eq!(window.weighted_rate(weighted), 2_500.0);
    }

    #[test]
    fn an_empty_window_has_no_rate() {
        let start = Instant::now();
        let window = Window::after_warmup(start, Duration::ZERO, Duration::ZERO);
        assert_eq!(window.rate([start]), 0.0);
        assert!(!window.contains(start));
    }
}
