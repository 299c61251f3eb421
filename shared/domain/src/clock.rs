//! Time as the services see it: injected, never read from the OS inside business logic.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::TimeMs;

/// A source of the current time in milliseconds since the epoch. The system clock in
/// production; a scaled clock in drills; a fixed or manual clock in tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_ms(&self) -> TimeMs;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> TimeMs {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("system clock is after 1970");
        u64::try_from(since_epoch.as_millis()).expect("milliseconds since 1970 fit in u64")
    }
}

/// A shared clock handle.
pub type SharedClock = Arc<dyn Clock>;

/// The system clock as a shared handle.
pub fn system_clock() -> SharedClock {
    Arc::new(SystemClock)
}
