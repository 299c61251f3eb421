//! `--security on|off|both` of `afc-lab bench freeze` and `afc-lab load`: what auth and TLS
//! cost. `on` (the default) runs the deployment as a center does — every process its own
//! nkey identity, TLS on every connection and leaf link, the server enforcing each identity's
//! permissions; `off` runs the same deployment anonymous and in plain text; `both` runs them
//! one after the other in the same invocation, alternating (off, on, off, on, … for
//! `--rounds` rounds: the two runs of one setting show the noise the difference is read
//! against), each in a process of its own, and prints one [`Comparison`].
//!
//! The goal (issue 13): the time-to-freeze p99 of the secured runs within
//! [`SECURITY_P99_GOAL_RATIO`] of the insecure runs'.

use std::fmt::Write as _;

use crate::harness::Percentiles;

/// The goal: p99(on) / p99(off) of the time-to-freeze at most this.
pub const SECURITY_P99_GOAL_RATIO: f64 = 1.10;

/// Rounds (an off run and an on run each) `--security both` runs by default.
pub const DEFAULT_ROUNDS: u32 = 2;

/// Most `--rounds`.
pub const MAX_ROUNDS: u32 = 5;

/// `--security`: which deployments a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Security {
    /// Identities, permissions and TLS, as in a center.
    #[default]
    On,
    /// Anonymous and in plain text.
    Off,
    /// Off and on alternately, `--rounds` times each, then a comparison.
    Both,
}

impl Security {
    /// Whether each run, in order, is secured.
    pub fn runs(self, rounds: u32) -> Vec<bool> {
        match self {
            Security::On => vec![true],
            Security::Off => vec![false],
            Security::Both => (0..rounds).flat_map(|_| [false, true]).collect(),
        }
    }

    /// The value of `--security` that runs one deployment, secured or not.
    pub fn flag(secure: bool) -> &'static str {
        if secure { "on" } else { "off" }
    }
}

/// What a run's deployment is, in one line, for the reports.
pub fn describe(secure: bool) -> &'static str {
    if secure {
        "on: every process its own nkey identity, TLS on every connection and leaf link (development CA, ECDSA P-256), permissions per identity"
    } else {
        "off: anonymous connections in plain text, no permissions"
    }
}

/// Checks `--rounds`.
pub fn validate_rounds(rounds: u32) -> Result<(), String> {
    if (1..=MAX_ROUNDS).contains(&rounds) {
        Ok(())
    } else {
        Err(format!("--rounds {rounds} is out of range: 1 to {MAX_ROUNDS}"))
    }
}

/// One run of a comparison.
#[derive(Debug, Clone)]
pub struct Run {
    pub secure: bool,
    /// The time-to-freeze, µs.
    pub ttf_us: Percentiles,
    /// The run's other columns (the floor measured in it, the rate it reached, …), as
    /// [`Comparison::columns`] names them.
    pub cells: Vec<String>,
}

/// The runs of `--security both`, printed as one table and a verdict on the goal.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The command, e.g. `afc-lab bench freeze`.
    pub title: String,
    /// What every run shares (machine, nats-server, load), one line each.
    pub setup: Vec<String>,
    /// The names of the runs' other columns.
    pub columns: Vec<String>,
    pub runs: Vec<Run>,
}

/// p99s of one setting: their mean and their spread ((max − min) / mean), when there are
/// any.
fn mean_and_spread(p99s: &[f64]) -> Option<(f64, f64)> {
    if p99s.is_empty() {
        return None;
    }
    let mean = p99s.iter().sum::<f64>() / p99s.len() as f64;
    let (lo, hi) = p99s.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    Some((mean, if mean > 0.0 { (hi - lo) / mean } else { 0.0 }))
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1_000.0)
}

impl Comparison {
    /// The p99s (ms) of the runs with `secure`, in order.
    fn p99s(&self, secure: bool) -> Vec<f64> {
        self.runs.iter().filter(|r| r.secure == secure).map(|r| r.ttf_us.p99 as f64 / 1_000.0).collect()
    }

    /// p99(on) / p99(off), of the means of each setting's runs.
    pub fn ratio(&self) -> Option<f64> {
        let (on, _) = mean_and_spread(&self.p99s(true))?;
        let (off, _) = mean_and_spread(&self.p99s(false))?;
        (off > 0.0).then_some(on / off)
    }

    /// The comparison as Markdown: setup, a row per run, the ratio against the goal.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## {}: security on vs off\n", self.title);
        for line in &self.setup {
            let _ = writeln!(md, "- {line}");
        }
        let _ = writeln!(md, "- security {}", describe(false));
        let _ = writeln!(md, "- security {}", describe(true));
        let order: Vec<&str> = self.runs.iter().map(|r| Security::flag(r.secure)).collect();
        let _ = writeln!(
            md,
            "- runs in this order, each on a fresh deployment in a process of its own: {}\n",
            order.join(", ")
        );
        let extra: String = self.columns.iter().map(|c| format!(" {c} |")).collect();
        let _ = writeln!(md, "| run | security | ttf p50 | p90 | p99 | max |{extra}");
        let _ = writeln!(md, "|---|---|---|---|---|---|{}", "---|".repeat(self.columns.len()));
        for (i, run) in self.runs.iter().enumerate() {
            let t = &run.ttf_us;
            let cells: String = run.cells.iter().map(|c| format!(" {c} |")).collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |{cells}",
                i + 1,
                Security::flag(run.secure),
                ms(t.p50),
                ms(t.p90),
                ms(t.p99),
                ms(t.max)
            );
        }
        let _ = writeln!(md, "\nttf in ms.\n");
        let _ = write!(md, "{}", self.verdict());
        md
    }

    /// The ratio of the p99s against the goal, each round's ratio, and the noise.
    fn verdict(&self) -> String {
        let mut text = String::new();
        let (on, off) = (self.p99s(true), self.p99s(false));
        let (Some((on_mean, on_spread)), Some((off_mean, off_spread)), Some(ratio)) =
            (mean_and_spread(&on), mean_and_spread(&off), self.ratio())
        else {
            let _ = writeln!(text, "p99(on) / p99(off): n/a (needs a run of each with a time-to-freeze)");
            return text;
        };
        let rounds: Vec<String> = off.iter().zip(&on).map(|(off, on)| format!("{:.2}", on / off)).collect();
        let goal = SECURITY_P99_GOAL_RATIO;
        let verdict = if ratio <= goal {
            format!("within the goal of {goal:.2} (PASS)")
        } else {
            format!(
                "misses the goal of {goal:.2}: the secured p99 is {:.0}% above the insecure one, the goal allows {:.0}% (FAIL)",
                (ratio - 1.0) * 100.0,
                (goal - 1.0) * 100.0
            )
        };
        let _ = writeln!(
            text,
            "p99(on) / p99(off) = {on_mean:.1} / {off_mean:.1} ms (means of {} and {} runs) = **{ratio:.2}**: {verdict}",
            on.len(),
            off.len()
        );
        if rounds.len() > 1 {
            let _ = writeln!(text, "each round (on / off, in order): {}", rounds.join(", "));
        }
        if on.len() > 1 || off.len() > 1 {
            let _ = writeln!(
                text,
                "noise: the p99s of one setting differ by {:.0}% (off) and {:.0}% (on) among themselves{}",
                off_spread * 100.0,
                on_spread * 100.0,
                if off_spread.max(on_spread) > goal - 1.0 {
                    ": more than the goal's margin, so one pair of runs does not decide it"
                } else {
                    ""
                }
            );
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(secure: bool, p99_ms: u64) -> Run {
        let ttf_us =
            Percentiles { count: 10, p50: 1_000, p99: p99_ms * 1_000, max: p99_ms * 1_000, ..Percentiles::default() };
        Run { secure, ttf_us, cells: vec!["x".into()] }
    }

    #[test]
    fn both_alternates_off_and_on() {
        assert_eq!(Security::Both.runs(2), [false, true, false, true]);
        assert_eq!(Security::On.runs(2), [true]);
        assert_eq!(Security::Off.runs(3), [false]);
        assert!(validate_rounds(0).unwrap_err().contains("--rounds"));
        assert!(validate_rounds(MAX_ROUNDS).is_ok());
    }

    #[test]
    fn the_comparison_states_every_run_and_the_ratio_of_the_means() {
        let comparison = Comparison {
            title: "afc-lab bench freeze".into(),
            setup: vec!["machine: 2 cpus".into()],
            columns: vec!["floor".into()],
            runs: vec![run(false, 10), run(true, 12), run(false, 10), run(true, 10)],
        };
        assert_eq!(comparison.ratio(), Some(1.1));
        let md = comparison.markdown();
        assert!(md.contains("| 1 | off | 1.0 | 0.0 | 10.0 | 10.0 | x |"), "{md}");
        assert!(md.contains("| 2 | on |"), "{md}");
        assert!(md.contains("**1.10**: within the goal"), "{md}");
        assert!(md.contains("each round (on / off, in order): 1.20, 1.00"), "{md}");
        assert!(md.contains("off, on, off, on"), "{md}");

        let worse = Comparison { runs: vec![run(false, 10), run(true, 13)], ..comparison };
        assert!(worse.markdown().contains("the secured p99 is 30% above the insecure one"), "{}", worse.markdown());
    }
}
