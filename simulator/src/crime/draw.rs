//! Randomness of generation: generators seeded from the scenario's seed, one per part of
//! the world, and draws from a scenario's spans and log-normal distributions.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::scenario::{LogNormal, Span};

/// A random generator for one part of the world, seeded from the scenario's seed, a tag and
/// an index.
pub(super) fn sub_rng(seed: u64, tag: &str, index: u64) -> StdRng {
    let mut bytes = seed.to_le_bytes().to_vec();
    bytes.extend_from_slice(tag.as_bytes());
    bytes.extend_from_slice(&index.to_le_bytes());
    StdRng::seed_from_u64(domain::fnv1a64(&bytes))
}

/// A standard normal deviate (Box-Muller).
fn standard_normal(rng: &mut StdRng) -> f64 {
    // 1 - [0, 1) is (0, 1]: the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

pub(super) fn draw_log_normal(rng: &mut StdRng, spread: &LogNormal) -> f64 {
    spread.at(standard_normal(rng))
}

pub(super) fn draw_u32(rng: &mut StdRng, span: Span<u32>) -> u32 {
    rng.random_range(span.min..=span.max)
}

pub(super) fn draw_u64(rng: &mut StdRng, span: Span<u64>) -> u64 {
    rng.random_range(span.min..=span.max)
}

pub(super) fn draw_f64(rng: &mut StdRng, span: Span<f64>) -> f64 {
    if span.min < span.max { rng.random_range(span.min..=span.max) } else { span.min }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_deviates_have_mean_zero_and_unit_variance() {
        let mut rng = StdRng::seed_from_u64(9);
        let n = 20_000;
        let draws: Vec<f64> = (0..n).map(|_| standard_normal(&mut rng)).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let variance = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((variance - 1.0).abs() < 0.05, "{variance}");
    }
}
