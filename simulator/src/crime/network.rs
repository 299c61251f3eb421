//! Mule networks: the accounts and edges of one network of a gang's typology, and the
//! money of one payment followed down it, every forward and cash-out scheduled.

use std::collections::BTreeMap;

use domain::{AccountRef, Fen, PaymentOrderRef, TimeMs};
use protocol::adapter::Counterparty;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::draw::{draw_f64, draw_u32, draw_u64};
use super::{Generator, ScriptError};
use crate::limits;
use crate::scenario::{GangSpec, Typology};
use crate::schedule::ScheduledTransfer;
use crate::synth;

/// A mule account of a network.
pub(super) struct Mule {
    pub(super) account: AccountRef,
    /// Share of each receipt it keeps when it forwards.
    pub(super) margin: f64,
    /// Whether it cashes out what it receives when it has nobody to forward to.
    pub(super) cashes_out: bool,
}

/// A place of an account in a network: the same account may have several (a cycle passes
/// through its first account twice).
pub(super) struct Node {
    /// Index into the network's mules.
    pub(super) mule: usize,
    /// Nodes on the next level it forwards to.
    pub(super) children: Vec<usize>,
    /// Whether its forwards always go through a payment order (a cycle's ring).
    pub(super) through_orders: bool,
}

/// A gang's mule network.
pub(super) struct Network {
    pub(super) mules: Vec<Mule>,
    pub(super) nodes: Vec<Node>,
    /// Nodes victims pay into.
    pub(super) entries: Vec<usize>,
}

impl Generator<'_> {
    /// Builds one network of the gang's typology, opening its accounts.
    pub(super) fn network(&mut self, rng: &mut StdRng, gang: &GangSpec) -> Result<Network, ScriptError> {
        let scenario = self.scenario;
        let mules_cfg = &scenario.mules;
        let mut network = Network { mules: Vec::new(), nodes: Vec::new(), entries: Vec::new() };
        let new_mule = |generator: &mut Self, rng: &mut StdRng, network: &mut Network| {
            let account = generator.open_account(rng)?;
            let margin = draw_f64(rng, mules_cfg.margin);
            let cashes_out = rng.random_bool(mules_cfg.cash_out_share);
            network.mules.push(Mule { account, margin, cashes_out });
            Ok::<usize, ScriptError>(network.mules.len() - 1)
        };
        match gang.typology {
            Typology::Cycle => {
                let ring = draw_u32(rng, gang.widths[0]) as usize;
                let exits = draw_u32(rng, gang.widths[1]) as usize;
                let ring_mules: Vec<usize> =
                    (0..ring).map(|_| new_mule(self, rng, &mut network)).collect::<Result<_, _>>()?;
                let exit_mules: Vec<usize> =
                    (0..exits).map(|_| new_mule(self, rng, &mut network)).collect::<Result<_, _>>()?;
                // Levels 1..=ring go round the ring; level ring + 1 is the first account
                // again, which pays the exits on level ring + 2.
                for level in 0..=ring {
                    let mule = ring_mules[level % ring];
                    let children = vec![level + 1];
                    network.nodes.push(Node { mule, children, through_orders: level < ring });
                }
                let exit_nodes: Vec<usize> = (0..exits).map(|i| ring + 1 + i).collect();
                network.nodes[ring].children = exit_nodes;
                for mule in exit_mules {
                    network.nodes.push(Node { mule, children: Vec::new(), through_orders: false });
                }
                network.entries = vec![0];
            }
            Typology::FanOut | Typology::FanIn | Typology::ScatterGather | Typology::GatherScatter => {
                let mut levels: Vec<Vec<usize>> = Vec::new();
                for width in &gang.widths {
                    let width = draw_u32(rng, *width) as usize;
                    let mut nodes = Vec::with_capacity(width);
                    for _ in 0..width {
                        let mule = new_mule(self, rng, &mut network)?;
                        network.nodes.push(Node { mule, children: Vec::new(), through_orders: false });
                        nodes.push(network.nodes.len() - 1);
                    }
                    if let Some(above) = levels.last() {
                        for (parent, child) in connect(rng, above.len(), nodes.len()) {
                            network.nodes[above[parent]].children.push(nodes[child]);
                        }
                    }
                    levels.push(nodes);
                }
                network.entries = levels.first().cloned().unwrap_or_default();
            }
        }
        Ok(network)
    }

    /// Follows the money of one payment down the network, scheduling every forward and
    /// cash-out. Arrivals at one node on one level are gathered and forwarded once.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cascade(
        &mut self,
        rng: &mut StdRng,
        network: &Network,
        entry: usize,
        amount: Fen,
        at_ms: TimeMs,
        mules: &mut BTreeMap<AccountRef, u8>,
        orders: &mut Vec<PaymentOrderRef>,
    ) -> Result<(), ScriptError> {
        let scenario = self.scenario;
        let cfg = &scenario.mules;
        // Node → (money gathered, when the last part arrived, depth of the arrival).
        let mut arrivals: BTreeMap<usize, (Fen, TimeMs, u8)> = BTreeMap::from([(entry, (amount, at_ms, 1))]);
        while !arrivals.is_empty() {
            let mut next: BTreeMap<usize, (Fen, TimeMs, u8)> = BTreeMap::new();
            for (node_index, (received, arrived_ms, arrival_depth)) in arrivals {
                let node = &network.nodes[node_index];
                let mule = &network.mules[node.mule];
                // An account's depth is that of the first arrival (a cycle passes its first
                // account twice), and what it forwards arrives one level deeper.
                let depth = *mules.entry(mule.account.clone()).or_insert(arrival_depth);
                let send_ms = arrived_ms + draw_u64(rng, cfg.forward_delay_ms);
                if node.children.is_empty() {
                    if mule.cashes_out {
                        let to = Counterparty::CashOut(format!("ATM withdrawal {}", mule.account.bank()));
                        self.schedule(ScheduledTransfer {
                            due_at_ms: send_ms,
                            from: mule.account.clone(),
                            to,
                            amount: received,
                        })?;
                    }
                    continue;
                }
                // Truncation is the intent: the margin is whole fen, at most what arrived.
                let keep = Fen::new((received.get() as f64 * mule.margin).floor() as u64).min(received);
                let forward = received.checked_sub(keep)?;
                let parts = synth::split(rng, forward, node.children.len());
                for (i, (&child, part)) in node.children.iter().zip(parts).enumerate() {
                    if part.is_zero() {
                        continue;
                    }
                    let due_at_ms = send_ms + i as u64 * limits::SPLIT_GAP_MS;
                    let share = if node.through_orders { 1.0 } else { cfg.order_share };
                    let child_account = &network.mules[network.nodes[child].mule].account;
                    let to = self.destination(rng, child_account, share, orders)?;
                    self.schedule(ScheduledTransfer { due_at_ms, from: mule.account.clone(), to, amount: part })?;
                    let child_depth = depth.saturating_add(1);
                    let gathered = next.entry(child).or_insert((Fen::ZERO, due_at_ms, child_depth));
                    gathered.0 = gathered.0.checked_add(part)?;
                    gathered.1 = gathered.1.max(due_at_ms);
                    gathered.2 = gathered.2.min(child_depth);
                }
            }
            arrivals = next;
        }
        Ok(())
    }
}

/// Edges between a level of `above` accounts and the next of `below`: when the next level
/// is at least as wide, each account below gets one parent and every parent a child (a
/// split); when it is narrower, each account above forwards to one account below and every
/// account below gets a sender (a merge). Returns `(parent, child)` index pairs.
fn connect(rng: &mut StdRng, above: usize, below: usize) -> Vec<(usize, usize)> {
    if below >= above {
        let mut parents: Vec<usize> = (0..above).collect();
        parents.shuffle(rng);
        (0..below)
            .map(|child| (if child < above { parents[child] } else { rng.random_range(0..above) }, child))
            .collect()
    } else {
        let mut children: Vec<usize> = (0..below).collect();
        children.shuffle(rng);
        (0..above)
            .map(|parent| (parent, if parent < below { children[parent] } else { rng.random_range(0..below) }))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use rand::SeedableRng;

    use super::*;

    #[test]
    fn connect_splits_or_merges_covering_both_levels() {
        let mut rng = StdRng::seed_from_u64(5);
        for (above, below) in [(1, 4), (4, 8), (3, 3), (8, 1), (6, 2), (2, 7)] {
            let edges = connect(&mut rng, above, below);
            let parents: BTreeSet<usize> = edges.iter().map(|e| e.0).collect();
            let children: BTreeSet<usize> = edges.iter().map(|e| e.1).collect();
            assert_eq!(parents.len(), above, "{above}->{below}");
            assert_eq!(children.len(), below, "{above}->{below}");
            assert_eq!(edges.len(), above.max(below));
        }
    }
}
