//! What the statement says of each victim's money: where each deposit is in it, the most of
//! a victim's money that can still be in the account (the lowest intermediate balance
//! bound), and, first in first out, which lots of whose money are left.
//!
//! Everything here works on the checked input ([`Checked`]), whose victims and deposits are
//! in canonical order, so what it finds does not depend on the order the input was given in.

use std::collections::{HashMap, VecDeque};

use domain::{Fen, TimeMs};
use protocol::adapter::Direction;
use serde::{Deserialize, Serialize};

use super::input::{Statement, Victim};
use crate::limits::ARRIVAL_WINDOW_MS;

/// Where a deposit is in the statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Found {
    /// The statement's incoming entry `index` (from 0): by the deposit's transfer id, else the
    /// unclaimed entry of its amount nearest its time within `ARRIVAL_WINDOW_MS`.
    Entry { index: u32 },
    /// Before the statement's first entry (by more than the window): the money was in the
    /// balance the statement opens with, if it was still there.
    BeforeStatement,
    /// After the statement's last entry (by more than the window): the statement says
    /// nothing of it.
    AfterStatement,
    /// Within the statement's time but not in it: the statement shows no such deposit, and no
    /// share rests on it where the statement is read.
    NotInStatement,
    /// No statement was given.
    NoStatement,
}

/// Where each deposit of each victim is: `found[victim][deposit]`, in the victims' and
/// deposits' canonical order.
///
/// Deposits with a transfer id are found first, by id (the first incoming entry with it not
/// yet found for another deposit of the same victim: one transfer may carry several victims'
/// money, each victim's part found at its entry). Then those without, in order of time,
/// amount and case id: each is the not yet found incoming entry of its amount nearest its time
/// within the window (the earlier entry on a tie). An entry found by amount is found for one
/// deposit only.
pub(crate) fn find(victims: &[Victim<'_>], statement: Option<&Statement<'_>>) -> Vec<Vec<Found>> {
    let mut found: Vec<Vec<Found>> = victims.iter().map(|v| vec![Found::NoStatement; v.deposits.len()]).collect();
    let Some(statement) = statement else { return found };
    let entries = statement.entries;
    let incoming = || entries.iter().enumerate().filter(|(_, e)| e.direction == Direction::In);
    // Incoming entries by transfer id: the first of each id, and each one's next of the same
    // id (a map read per deposit; a binary search over the ids missed the cache at every
    // probe).
    let mut first_with_id: HashMap<&str, usize> = HashMap::new();
    let mut next_with_id = vec![usize::MAX; entries.len()];
    for (index, entry) in incoming().collect::<Vec<_>>().into_iter().rev() {
        next_with_id[index] = first_with_id.insert(&entry.transfer_id, index).unwrap_or(usize::MAX);
    }
    let mut by_amount: Vec<(Fen, TimeMs, usize)> =
        incoming().map(|(index, e)| (e.amount_fen, e.at_ms, index)).collect();
    by_amount.sort_unstable();
    let mut taken = vec![false; entries.len()];
    let found_at = |index: usize, taken: &mut [bool]| {
        taken[index] = true;
        Found::Entry { index: u32::try_from(index).expect("statements are bounded far below u32") }
    };
    let mut without_id = Vec::new();
    for (v, victim) in victims.iter().enumerate() {
        // Entries this victim's deposits were found at (another victim's part of the same
        // transfer may be found there too).
        let mut mine: Vec<usize> = Vec::new();
        for (d, deposit) in victim.deposits.iter().enumerate() {
            let Some(id) = &deposit.transfer_id else {
                without_id.push((deposit.at_ms, deposit.amount_fen, v, d));
                continue;
            };
            let mut index = first_with_id.get(id.as_str()).copied().unwrap_or(usize::MAX);
            while index != usize::MAX && mine.contains(&index) {
                index = next_with_id[index];
            }
            if index != usize::MAX {
                mine.push(index);
                found[v][d] = found_at(index, &mut taken);
            }
        }
    }
    without_id.sort_unstable();
    for (at_ms, amount, v, d) in without_id {
        let low = at_ms.saturating_sub(ARRIVAL_WINDOW_MS);
        let high = at_ms.saturating_add(ARRIVAL_WINDOW_MS);
        let start = by_amount.partition_point(|&(a, t, _)| (a, t) < (amount, low));
        let nearest = by_amount[start..]
            .iter()
            .take_while(|&&(a, t, _)| a == amount && t <= high)
            .filter(|(_, _, index)| !taken[*index])
            .min_by_key(|&&(_, t, index)| (t.abs_diff(at_ms), index));
        if let Some(&(_, _, index)) = nearest {
            found[v][d] = found_at(index, &mut taken);
        }
    }
    let first_at = entries.first().map_or(0, |e| e.at_ms);
    let last_at = entries.last().map_or(0, |e| e.at_ms);
    for (victim, found) in victims.iter().zip(&mut found) {
        for (deposit, found) in victim.deposits.iter().zip(found.iter_mut()) {
            if *found == Found::NoStatement {
                *found = if deposit.at_ms.saturating_add(ARRIVAL_WINDOW_MS) < first_at {
                    Found::BeforeStatement
                } else if deposit.at_ms > last_at.saturating_add(ARRIVAL_WINDOW_MS) {
                    Found::AfterStatement
                } else {
                    Found::NotInStatement
                };
            }
        }
    }
    found
}

/// The most of each victim's money that can still be in the account at the statement's end:
/// its **lowest intermediate balance** bound, taking every other fen in the account (other
/// victims' included) as leaving first. Walking the statement, the victim's money becomes
/// `min(money + deposit, balance after it)` at each of its deposits and `min(money, balance)`
/// after every other entry; a deposit before the statement is in its opening balance, one
/// after it is all still there, one not in it counts nothing. Without a statement nothing is
/// known to have left: the bound is the traced money.
pub(crate) fn lowest_balance_bounds(
    victims: &[Victim<'_>],
    found: &[Vec<Found>],
    statement: Option<&Statement<'_>>,
) -> Vec<Fen> {
    let Some(statement) = statement else { return victims.iter().map(|v| v.traced).collect() };
    let tree = MinTree::new(&statement.balances);
    victims.iter().zip(found).map(|(victim, found)| bound(victim, found, statement, &tree)).collect()
}

/// One victim's bound, in a pass over its deposits rather than the statement: with the
/// deposits at positions `q_1 < … < q_m` of `balances` (0 before the statement, `i + 1` at
/// entry `i`), the walk above comes to `min(all deposits, min over j of (lowest balance in
/// [q_j, q_{j+1}) + the deposits after q_j))`.
fn bound(victim: &Victim<'_>, found: &[Found], statement: &Statement<'_>, tree: &MinTree) -> Fen {
    let mut at: Vec<(usize, u128)> = Vec::new();
    let mut total: u128 = 0;
    for (deposit, found) in victim.deposits.iter().zip(found) {
        let amount = u128::from(deposit.amount_fen.get());
        match found {
            Found::Entry { index } => at.push((*index as usize + 1, amount)),
            Found::BeforeStatement => at.push((0, amount)),
            Found::AfterStatement => {}
            Found::NotInStatement | Found::NoStatement => continue,
        }
        total += amount;
    }
    at.sort_unstable();
    let mut best = total;
    let mut later = total;
    let mut j = 0;
    while j < at.len() {
        let start = at[j].0;
        while j < at.len() && at[j].0 == start {
            later -= at[j].1;
            j += 1;
        }
        let end = at.get(j).map_or(statement.balances.len(), |(position, _)| *position);
        best = best.min(u128::from(tree.min(start, end).get()) + later);
    }
    Fen::new(u64::try_from(best).expect("a bound is at most the victim's traced money, which fits"))
}

/// A lot of one victim's money still in the account, first in first out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lot {
    pub victim: usize,
    pub amount: Fen,
    /// The statement entry it came in by, if it is in the statement.
    pub entry: Option<u32>,
    pub at_ms: TimeMs,
    /// Its place in time: (position in the balances, 0 before the statement and one past its
    /// end after it; time). Lots of one place arrived together.
    pub place: (usize, TimeMs),
}

/// The victims' lots left in the account, oldest first, when money leaves in the order it
/// came in. Without a statement, every deposit is a lot. With one, the opening balance is the
/// oldest money: the deposits before the statement, newest first, then other money; each
/// incoming entry adds a lot (the victim's part of a deposit found there — at most the
/// entry's amount — after the rest of the entry, if any); each outgoing entry takes from the
/// oldest lots; deposits after the statement are the newest lots. Deposits not in the
/// statement have no lot.
pub(crate) fn fifo_lots(victims: &[Victim<'_>], found: &[Vec<Found>], statement: Option<&Statement<'_>>) -> Vec<Lot> {
    let mut before = Vec::new();
    let mut after = Vec::new();
    // The victims' parts found at each entry, in the victims' canonical order.
    let mut at_entry: Vec<Vec<(usize, Fen)>> = vec![Vec::new(); statement.map_or(0, |s| s.entries.len())];
    for (v, (victim, found)) in victims.iter().zip(found).enumerate() {
        for (deposit, found) in victim.deposits.iter().zip(found) {
            let lot = |place| Lot { victim: v, amount: deposit.amount_fen, entry: None, at_ms: deposit.at_ms, place };
            match found {
                Found::Entry { index } => {
                    at_entry[*index as usize].push((v, deposit.amount_fen));
                }
                Found::BeforeStatement => before.push(lot((0, deposit.at_ms))),
                Found::NoStatement => before.push(lot((0, deposit.at_ms))),
                Found::AfterStatement => after.push(lot((usize::MAX, deposit.at_ms))),
                Found::NotInStatement => {}
            }
        }
    }
    let by_time = |a: &Lot, b: &Lot| (a.at_ms, a.victim).cmp(&(b.at_ms, b.victim));
    before.sort_by(by_time);
    after.sort_by(by_time);
    let Some(statement) = statement else { return before };
    // The opening balance holds the newest deposits before the statement, then other money.
    let mut left = statement.balances[0];
    let mut queue: VecDeque<(Option<Lot>, Fen)> = VecDeque::new();
    for mut lot in before.into_iter().rev() {
        lot.amount = lot.amount.min(left);
        left = left.checked_sub(lot.amount).expect("at most what is left");
        if !lot.amount.is_zero() {
            queue.push_front((Some(lot.clone()), lot.amount));
        }
    }
    if !left.is_zero() {
        queue.push_front((None, left));
    }
    for (index, entry) in statement.entries.iter().enumerate() {
        let index32 = u32::try_from(index).expect("statements are bounded far below u32");
        match entry.direction {
            Direction::In => {
                // The victims' parts, each at most what the entry has left for it.
                let mut rest = entry.amount_fen;
                let mut parts = Vec::new();
                for &(victim, amount) in &at_entry[index] {
                    let part = amount.min(rest);
                    rest = rest.checked_sub(part).expect("at most the entry");
                    if !part.is_zero() {
                        parts.push((victim, part));
                    }
                }
                if !rest.is_zero() {
                    queue.push_back((None, rest));
                }
                for (victim, amount) in parts {
                    let place = (index + 1, entry.at_ms);
                    queue.push_back((
                        Some(Lot { victim, amount, entry: Some(index32), at_ms: entry.at_ms, place }),
                        amount,
                    ));
                }
            }
            Direction::Out => {
                let mut out = entry.amount_fen;
                while !out.is_zero() {
                    let front =
                        queue.front_mut().expect("the statement's balances were checked: lots hold the balance");
                    let taken = front.1.min(out);
                    front.1 = front.1.checked_sub(taken).expect("at most the lot");
                    out = out.checked_sub(taken).expect("at most what leaves");
                    if front.1.is_zero() {
                        queue.pop_front();
                    }
                }
            }
        }
    }
    let mut lots: Vec<Lot> =
        queue.into_iter().filter_map(|(lot, left)| lot.map(|lot| Lot { amount: left, ..lot })).collect();
    lots.extend(after);
    lots
}

/// Minimum of a range of balances, in O(log n): a bottom-up segment tree.
struct MinTree {
    size: usize,
    nodes: Vec<Fen>,
}

impl MinTree {
    fn new(values: &[Fen]) -> MinTree {
        let size = values.len();
        let mut nodes = vec![Fen::new(u64::MAX); 2 * size];
        nodes[size..].copy_from_slice(values);
        for i in (1..size).rev() {
            nodes[i] = nodes[2 * i].min(nodes[2 * i + 1]);
        }
        MinTree { size, nodes }
    }

    /// The least of `values[start..end]` (`end > start`).
    fn min(&self, start: usize, end: usize) -> Fen {
        let (mut low, mut high) = (start + self.size, end + self.size);
        let mut least = Fen::new(u64::MAX);
        while low < high {
            if low & 1 == 1 {
                least = least.min(self.nodes[low]);
                low += 1;
            }
            if high & 1 == 1 {
                high -= 1;
                least = least.min(self.nodes[high]);
            }
            low /= 2;
            high /= 2;
        }
        least
    }
}
