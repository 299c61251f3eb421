//! Time as the services see it: injected, never read from the OS inside business logic.
//!
//! Business time is milliseconds since the epoch ([`TimeMs`]). In production it is the wall
//! clock. In a drill it is a [`ScaledClock`]: simulated time that runs `scale` times faster
//! than real time, so a 48 h stop-payment lapse or a report filed a day after the payment
//! happens within minutes. Whoever waits for a business-time instant converts the wait with
//! [`Clock::real_duration`], so timers fire at the right simulated moment under any scale.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::TimeMs;

/// A source of the current time in milliseconds since the epoch. The system clock in
/// production; a scaled clock in drills; a fixed or manual clock in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current business time.
    fn now_ms(&self) -> TimeMs;

    /// How long to wait in real time for `business_ms` of business time to pass. Identity
    /// for clocks that run at real speed.
    fn real_duration(&self, business_ms: u64) -> Duration {
        Duration::from_millis(business_ms)
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> TimeMs {
        wall_ms()
    }
}

fn wall_ms() -> TimeMs {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("system clock is after 1970");
    u64::try_from(since_epoch.as_millis()).expect("milliseconds since 1970 fit in u64")
}

/// The highest accepted time scale: a simulated year in about 53 real minutes.
pub const MAX_TIME_SCALE: f64 = 10_000.0;

/// Why a scaled clock could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("time_scale is {given}, expected a number from 1 to {MAX_TIME_SCALE}")]
pub struct TimeScaleError {
    /// The scale given.
    pub given: f64,
}

/// Simulated time for drills: reads `origin_ms` until started, then runs `scale` times
/// faster than real time (monotonic, read from [`Instant`]). A scale of 1 is real speed from
/// any origin, which replays a scenario in real time.
#[derive(Debug)]
pub struct ScaledClock {
    origin_ms: TimeMs,
    started: OnceLock<Instant>,
    scale: f64,
}

impl ScaledClock {
    /// A clock reading `origin_ms` now and advancing `scale` simulated ms per real ms.
    pub fn new(origin_ms: TimeMs, scale: f64) -> Result<Self, TimeScaleError> {
        let clock = Self::paused(origin_ms, scale)?;
        clock.start();
        Ok(clock)
    }

    /// A clock that reads `origin_ms` until [`ScaledClock::start`]: a drill's deployment
    /// starts on it without simulated time passing meanwhile.
    pub fn paused(origin_ms: TimeMs, scale: f64) -> Result<Self, TimeScaleError> {
        if !(1.0..=MAX_TIME_SCALE).contains(&scale) {
            return Err(TimeScaleError { given: scale });
        }
        Ok(ScaledClock { origin_ms, started: OnceLock::new(), scale })
    }

    /// Lets simulated time run from now on. Later calls change nothing.
    pub fn start(&self) {
        let _ = self.started.set(Instant::now());
    }

    /// Simulated ms per real ms.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now_ms(&self) -> TimeMs {
        let Some(started) = self.started.get() else {
            return self.origin_ms;
        };
        let real_ms = started.elapsed().as_secs_f64() * 1000.0;
        // Truncation is the intent: business time has ms resolution.
        self.origin_ms.saturating_add((real_ms * self.scale) as u64)
    }

    fn real_duration(&self, business_ms: u64) -> Duration {
        // Rounded up, so a waiter never wakes before the simulated instant it waits for.
        Duration::from_micros(((business_ms as f64) * 1000.0 / self.scale).ceil() as u64)
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock as a shared handle.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_outside_the_accepted_range_are_refused() {
        for scale in [0.0, 0.5, -3.0, f64::NAN, f64::INFINITY, MAX_TIME_SCALE * 2.0] {
            assert!(ScaledClock::new(0, scale).is_err(), "{scale} accepted");
        }
        assert!(ScaledClock::new(0, 1.0).is_ok());
        assert!(ScaledClock::new(0, MAX_TIME_SCALE).is_ok());
    }

    #[test]
    fn a_scaled_clock_starts_at_its_origin_and_never_goes_back() {
        let clock = ScaledClock::new(1_000_000, 60.0).unwrap();
        let first = clock.now_ms();
        assert!(first >= 1_000_000);
        let second = clock.now_ms();
        assert!(second >= first);
    }

    #[test]
    fn a_paused_clock_stays_at_its_origin_until_started() {
        let clock = ScaledClock::paused(5_000, 1_000.0).unwrap();
        assert_eq!(clock.now_ms(), 5_000);
        assert_eq!(clock.now_ms(), 5_000);
        clock.start();
        assert!(clock.now_ms() >= 5_000);
    }

    #[test]
    fn real_durations_shrink_by_the_scale_and_round_up() {
        let clock = ScaledClock::new(0, 60.0).unwrap();
        assert_eq!(clock.real_duration(60_000), Duration::from_secs(1));
        assert_eq!(clock.real_duration(48 * 3_600_000), Duration::from_secs(48 * 60));
        assert_eq!(clock.real_duration(1), Duration::from_micros(17));
        assert_eq!(SystemClock.real_duration(1_500), Duration::from_millis(1_500));
    }
}
