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

/// A drill clock several processes share: simulated time reads `origin_ms` until the wall
/// clock reaches `anchor_unix_ms`, then runs `scale` times faster than real time. Every
/// process given the same three numbers (and a synchronised wall clock) reads the same
/// simulated time, so city nodes started on their own (`afc city --drill-clock`) and the
/// drill that files reports and plays the banks (`afc-lab sim run --nats`) agree on it.
///
/// Written `ORIGIN_MS:SCALE:ANCHOR_UNIX_MS`, e.g. `1767225600000:3000:1763730000000`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DrillClock {
    /// Simulated time at the anchor.
    pub origin_ms: TimeMs,
    /// Simulated ms per real ms.
    pub scale: f64,
    /// Wall-clock time (ms since the epoch) at which simulated time starts to run.
    pub anchor_unix_ms: TimeMs,
}

/// Why a drill clock was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DrillClockError {
    #[error("drill clock {given:?}: expected ORIGIN_MS:SCALE:ANCHOR_UNIX_MS, e.g. 1767225600000:3000:1763730000000")]
    Shape { given: String },
    #[error("drill clock {field} is {given:?}: expected {expected}")]
    Field { field: &'static str, given: String, expected: &'static str },
    #[error(transparent)]
    Scale(#[from] TimeScaleError),
}

impl DrillClock {
    /// A drill clock; the scale must be within 1 to [`MAX_TIME_SCALE`].
    pub fn new(origin_ms: TimeMs, scale: f64, anchor_unix_ms: TimeMs) -> Result<Self, TimeScaleError> {
        if !(1.0..=MAX_TIME_SCALE).contains(&scale) {
            return Err(TimeScaleError { given: scale });
        }
        Ok(DrillClock { origin_ms, scale, anchor_unix_ms })
    }

    /// Parses `ORIGIN_MS:SCALE:ANCHOR_UNIX_MS`.
    pub fn parse(text: &str) -> Result<Self, DrillClockError> {
        let parts: Vec<&str> = text.trim().split(':').collect();
        let [origin, scale, anchor] = parts.as_slice() else {
            return Err(DrillClockError::Shape { given: text.to_owned() });
        };
        let ms = |field, value: &str| {
            value.parse::<u64>().map_err(|_| DrillClockError::Field {
                field,
                given: value.to_owned(),
                expected: "whole milliseconds since 1970",
            })
        };
        let scale = scale.parse::<f64>().map_err(|_| DrillClockError::Field {
            field: "scale",
            given: (*scale).to_owned(),
            expected: "a number from 1 to 10000",
        })?;
        Ok(DrillClock::new(ms("origin", origin)?, scale, ms("anchor", anchor)?)?)
    }

    /// Real time until simulated time starts to run (zero once it runs).
    pub fn until_anchor(&self) -> Duration {
        Duration::from_millis(self.anchor_unix_ms.saturating_sub(wall_ms()))
    }
}

impl std::fmt::Display for DrillClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.origin_ms, self.scale, self.anchor_unix_ms)
    }
}

impl std::str::FromStr for DrillClock {
    type Err = DrillClockError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        DrillClock::parse(text)
    }
}

impl Clock for DrillClock {
    fn now_ms(&self) -> TimeMs {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("system clock is after 1970");
        let real_ms = (since_epoch.as_micros() as f64 / 1000.0) - self.anchor_unix_ms as f64;
        if real_ms <= 0.0 {
            return self.origin_ms;
        }
        // Truncation is the intent: business time has ms resolution.
        self.origin_ms.saturating_add((real_ms * self.scale) as u64)
    }

    fn real_duration(&self, business_ms: u64) -> Duration {
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
    fn a_drill_clock_round_trips_through_its_text_and_names_the_bad_part() {
        let clock = DrillClock::parse("1767225600000:3000:1763730000000").unwrap();
        assert_eq!(
            clock,
            DrillClock { origin_ms: 1_767_225_600_000, scale: 3000.0, anchor_unix_ms: 1_763_730_000_000 }
        );
        assert_eq!(DrillClock::parse(&clock.to_string()).unwrap(), clock);
        assert!(matches!(DrillClock::parse("1:2"), Err(DrillClockError::Shape { .. })));
        assert!(matches!(DrillClock::parse("x:2:3"), Err(DrillClockError::Field { field: "origin", .. })));
        assert!(matches!(DrillClock::parse("1:fast:3"), Err(DrillClockError::Field { field: "scale", .. })));
        assert!(matches!(DrillClock::parse("1:2:-3"), Err(DrillClockError::Field { field: "anchor", .. })));
        assert_eq!(DrillClock::parse("1:0.5:3"), Err(DrillClockError::Scale(TimeScaleError { given: 0.5 })));
    }

    #[test]
    fn a_drill_clock_reads_its_origin_before_the_anchor_and_runs_scaled_after_it() {
        let far_future = wall_ms() + 3_600_000;
        let waiting = DrillClock::new(1_000, 60.0, far_future).unwrap();
        assert_eq!(waiting.now_ms(), 1_000);
        assert!(waiting.until_anchor() > Duration::from_secs(3_500));
        // Anchored ten real seconds ago at 60x: ten simulated minutes have passed, and more
        // for however long this test takes (bounded loosely: half a real minute).
        let running = DrillClock::new(1_000, 60.0, wall_ms() - 10_000).unwrap();
        let elapsed = running.now_ms() - 1_000;
        assert!((600_000..600_000 + 60 * 30_000).contains(&elapsed), "elapsed {elapsed} ms");
        assert_eq!(running.until_anchor(), Duration::ZERO);
        assert_eq!(running.real_duration(60_000), Duration::from_secs(1));
    }

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
