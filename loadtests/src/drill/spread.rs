//! Percentiles of simulated durations, as the drill report gives them.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest duration the histograms hold, in ms (30 simulated days).
const MAX_TTF_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Percentiles of a distribution, in ms.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Spread {
    pub n: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

impl Spread {
    pub fn of(values: &[u64]) -> Spread {
        let mut histogram = Histogram::<u64>::new_with_max(MAX_TTF_MS, 3).expect("valid histogram bounds");
        for value in values {
            histogram.saturating_record(*value);
        }
        if histogram.is_empty() {
            return Spread::default();
        }
        Spread {
            n: histogram.len(),
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p99: histogram.value_at_quantile(0.99),
            max: histogram.max(),
        }
    }
}
