//! The random quantities a scenario gives: uniform [`Span`]s and clamped [`LogNormal`]s,
//! with the log-normal's expected value, which the scenario's expected loss is made of.

/// The standard normal quantile of 0.9: a log-normal's p90 is `median * exp(1.2816 σ)`.
const Z90: f64 = 1.281_551_565_545;

/// An inclusive range `min..=max` drawn uniformly.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span<T> {
    /// Smallest value.
    pub min: T,
    /// Largest value.
    pub max: T,
}

impl<T: Copy> Span<T> {
    /// The range holding one value.
    pub const fn exactly(value: T) -> Self {
        Span { min: value, max: value }
    }
}

/// A log-normal distribution given by its median and 90th percentile, clamped to
/// `min..=max`, all in the unit of the field that holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogNormal {
    /// Half the draws are below it.
    pub median: f64,
    /// Nine draws in ten are below it (before clamping).
    pub p90: f64,
    /// Smaller draws become this.
    pub min: f64,
    /// Larger draws become this.
    pub max: f64,
}

impl LogNormal {
    /// σ of the underlying normal distribution.
    pub fn sigma(&self) -> f64 {
        (self.p90 / self.median).ln() / Z90
    }

    /// The draw for the standard normal deviate `z`, clamped.
    pub fn at(&self, z: f64) -> f64 {
        (self.median.ln() + self.sigma() * z).exp().clamp(self.min, self.max)
    }

    /// The expected value of a clamped draw (exact for the distribution, up to the error of
    /// the normal CDF used: below 1e-7).
    pub fn mean(&self) -> f64 {
        let sigma = self.sigma();
        let mu = self.median.ln();
        if sigma <= 0.0 {
            return self.median.clamp(self.min, self.max);
        }
        let alpha = (self.min.ln() - mu) / sigma;
        let beta = (self.max.ln() - mu) / sigma;
        let middle = (mu + sigma * sigma / 2.0).exp() * (normal_cdf(beta - sigma) - normal_cdf(alpha - sigma));
        self.min * normal_cdf(alpha) + middle + self.max * (1.0 - normal_cdf(beta))
    }
}

/// The standard normal CDF, from the complementary error function (Numerical Recipes'
/// `erfcc`, fractional error below 1.2e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = (-x / std::f64::consts::SQRT_2).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let erfc = if -x / std::f64::consts::SQRT_2 >= 0.0 { erfc } else { 2.0 - erfc };
    0.5 * erfc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clamped_log_normal_mean_matches_sampling() {
        let spread = LogNormal { median: 5_000.0, p90: 30_000.0, min: 100.0, max: 500_000.0 };
        // Deterministic quadrature over the standard normal: midpoints of 200k quantile slices.
        let n = 200_000;
        let mut sum = 0.0;
        for i in 0..n {
            let p = (f64::from(i) + 0.5) / f64::from(n);
            sum += spread.at(inverse_normal(p));
        }
        let numeric = sum / f64::from(n);
        assert!((spread.mean() / numeric - 1.0).abs() < 0.01, "{} vs {numeric}", spread.mean());
        let flat = LogNormal { median: 10.0, p90: 10.0, min: 1.0, max: 100.0 };
        assert_eq!(flat.mean(), 10.0);
    }

    /// Inverse standard normal CDF by bisection (test only).
    fn inverse_normal(p: f64) -> f64 {
        let (mut lo, mut hi) = (-10.0, 10.0);
        for _ in 0..80 {
            let mid = (lo + hi) / 2.0;
            if normal_cdf(mid) < p { lo = mid } else { hi = mid }
        }
        (lo + hi) / 2.0
    }
}
