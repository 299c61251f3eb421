//! The drill's progress line on stderr: simulated time, reports filed, accounts stopped and
//! frozen, money held; redrawn in place on a terminal, every tenth time otherwise.

use std::io::IsTerminal;
use std::time::Instant;

use events::FreezingEvent;
use simulator::crime::Script;

use super::{PROGRESS_EVERY, render};
use crate::deployment::Watch;

/// The progress line: simulated time, reports filed, accounts stopped and money held.
pub(super) struct Progress {
    enabled: bool,
    terminal: bool,
    total: usize,
    last: Instant,
    ticks: u64,
}

impl Progress {
    pub(super) fn new(enabled: bool, script: &Script) -> Progress {
        Progress {
            enabled,
            terminal: std::io::stderr().is_terminal(),
            total: script.reports.len(),
            last: Instant::now(),
            ticks: 0,
        }
    }

    pub(super) fn tick(&mut self, now_ms: u64, filed: usize, watches: &[Watch]) {
        if !self.enabled || self.last.elapsed() < PROGRESS_EVERY {
            return;
        }
        self.last = Instant::now();
        self.ticks += 1;
        if self.terminal {
            eprint!("\r{}", self.line(now_ms, filed, watches));
        } else if self.ticks.is_multiple_of(10) {
            eprintln!("{}", self.line(now_ms, filed, watches));
        }
    }

    pub(super) fn finish(&mut self, now_ms: u64, watches: &[Watch]) {
        if self.enabled {
            let line = self.line(now_ms, self.total, watches);
            if self.terminal { eprintln!("\r{line}") } else { eprintln!("{line}") }
        }
    }

    fn line(&self, now_ms: u64, filed: usize, watches: &[Watch]) -> String {
        let (mut stops, mut frozen, mut held) = (0u64, 0u64, 0u64);
        for watch in watches {
            for events in watch.all().values() {
                for event in events {
                    match event {
                        FreezingEvent::AccountStopped { claim_fen, .. } if !claim_fen.is_zero() => {
                            stops += 1;
                            held = held.saturating_add(claim_fen.get());
                        }
                        FreezingEvent::AccountFrozen { .. } | FreezingEvent::FreezeQueued { .. } => frozen += 1,
                        _ => {}
                    }
                }
            }
        }
        let bar_width = 24;
        let done = (filed * bar_width).checked_div(self.total).unwrap_or(bar_width);
        format!(
            "[{}{}] {} | reports {filed}/{} | stopped {stops} | frozen {frozen} | held {}",
            "#".repeat(done),
            " ".repeat(bar_width - done),
            render::sim_time(now_ms),
            self.total,
            domain::Fen::new(held)
        )
    }
}
