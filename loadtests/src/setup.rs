//! What a measurement prints about what it ran on and what it measured, so a figure can be
//! reproduced: the machine's cores, the nats-server version, the shape of the trail.

use simulator::wave::{SINGLE_TRAIL_ACCOUNTS, SINGLE_TRAIL_DEPTH, SINGLE_TRAIL_LEVEL_WIDTHS};

/// The machine and the software, probed once per run.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Cores this process may run on (`nproc`); 0 when unknown.
    pub cpus: usize,
    /// `nats-server --version` of the binary the deployment runs, or "unknown".
    pub nats_version: String,
}

impl Setup {
    pub fn probe() -> Setup {
        Setup {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            nats_version: nats_server_version().unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// `nats-server --version` of the binary the testkit runs.
fn nats_server_version() -> Option<String> {
    let binary = testkit::nats_server_binary().ok()?;
    let output = std::process::Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The measured trail ([`simulator::wave::WaveConfig::single_trail`]) as the reports print
/// it: `4 levels (1, 4, 8, 12), 25 accounts`.
pub fn trail() -> String {
    let widths: Vec<String> = SINGLE_TRAIL_LEVEL_WIDTHS.iter().map(u32::to_string).collect();
    format!("{SINGLE_TRAIL_DEPTH} levels ({}), {SINGLE_TRAIL_ACCOUNTS} accounts", widths.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trail_prints_its_levels_and_accounts() {
        assert_eq!(trail(), "4 levels (1, 4, 8, 12), 25 accounts");
    }
}
