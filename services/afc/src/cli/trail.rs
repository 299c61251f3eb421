//! `afc case show`'s money trail as a tree: the victim at the root, each account (or payment
//! order) under the account it was traced from, with the money traced into it, what holds
//! it now, and when that happened after the report.
//!
//! Built from intake's timeline alone ([`build`]): each entry of a hop names it, and the
//! entry that opens a hop names its parent. Events about an account (frozen, queued, at
//! risk, a claim revised) apply to the hops that stopped that account. The data is trusted
//! to be a tree but not assumed one: a hop whose parent is not in the trail, or whose
//! parents go round in a cycle, is still shown (at the root, saying where it came from),
//! and every hop is drawn once.

use std::collections::{BTreeMap, HashMap};

use domain::calendar::since;
use domain::{AccountRef, Fen, PaymentOrderRef, TimeMs};
use protocol::intake::{TimelineEntry, TimelineKind};

/// Where a hop's money went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Account(AccountRef),
    /// A payment order, with the account it paid into once resolved.
    Order(PaymentOrderRef, Option<AccountRef>),
    /// Not named by the timeline (a hop whose opening entry is missing).
    Unknown,
}

/// What holds a hop's money now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Opened; its bank or platform has not answered yet.
    Following,
    /// Its bank or platform could not answer; asked again.
    Retrying,
    /// Stopped: `claim` of the victim's money held by a stop-payment.
    Stopped { claim: Fen },
    /// Frozen.
    Frozen { fen: Fen },
    /// Queued behind another center's freeze (轮候冻结).
    Queued { fen: Fen },
    /// The freeze failed for good, or the stop lapsed.
    FreezeFailed,
    /// The bank or platform refused or never answered.
    Failed,
    /// Not followed: merged into another hop, past the depth bound, too little money.
    NotFollowed(String),
}

/// One hop of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub hop: u32,
    pub parent: Option<u32>,
    pub place: Place,
    /// Victim money traced into the place.
    pub traced_fen: Option<Fen>,
    pub state: State,
    /// When the state was reached.
    pub at_ms: TimeMs,
    pub cashed_out_fen: Fen,
    /// The stop-payment was renewed (the second and last).
    pub renewed: bool,
    /// The claim is not frozen and its last stop lapses soon.
    pub at_risk: bool,
    /// Cases of other cities stopped the account too.
    pub other_cities: bool,
    /// The account the hop stopped (its `account_frozen` and the like apply to it).
    stopped: Option<AccountRef>,
}

impl Node {
    fn new(hop: u32, at_ms: TimeMs) -> Self {
        Node {
            hop,
            parent: None,
            place: Place::Unknown,
            traced_fen: None,
            state: State::Following,
            at_ms,
            cashed_out_fen: Fen::ZERO,
            renewed: false,
            at_risk: false,
            other_cities: false,
            stopped: None,
        }
    }

    /// `icbc:6222…`, `order wechatpay:42… → icbc:6222…`.
    pub fn label(&self) -> String {
        match &self.place {
            Place::Account(account) => account.to_string(),
            Place::Order(order, Some(account)) => format!("order {order} → {account}"),
            Place::Order(order, None) => format!("order {order}"),
            Place::Unknown => format!("hop {}", self.hop),
        }
    }

    /// `frozen ¥5,000.00, cashed out ¥1,000.00`.
    pub fn state_text(&self) -> String {
        let mut text = match &self.state {
            State::Following => "following".to_owned(),
            State::Retrying => "retrying (no answer yet)".to_owned(),
            State::Stopped { claim } if self.at_risk => format!("AT RISK {}, stop lapses soon", claim.grouped()),
            State::Stopped { claim } if claim.is_zero() => "stopped, nothing held".to_owned(),
            State::Stopped { claim } if self.renewed => format!("stopped {} (renewed)", claim.grouped()),
            State::Stopped { claim } => format!("stopped {}", claim.grouped()),
            State::Frozen { fen } => format!("frozen {}", fen.grouped()),
            State::Queued { fen } => format!("queued {} behind another freeze", fen.grouped()),
            State::FreezeFailed => "FREEZE FAILED".to_owned(),
            State::Failed => "failed (no answer)".to_owned(),
            State::NotFollowed(why) => format!("not followed: {why}"),
        };
        if !self.cashed_out_fen.is_zero() {
            text.push_str(&format!(", cashed out {}", self.cashed_out_fen.grouped()));
        }
        if self.other_cities {
            text.push_str(", other cities claim it too");
        }
        text
    }

    /// Whether the state asks for someone's attention (drawn in red on a terminal).
    pub fn alarming(&self) -> bool {
        self.at_risk && matches!(self.state, State::Stopped { .. })
            || matches!(self.state, State::FreezeFailed | State::Failed)
    }
}

/// The hops of a timeline, in the order they were opened.
pub fn build(entries: &[TimelineEntry]) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut index: HashMap<u32, usize> = HashMap::new();
    let mut opened: Vec<bool> = Vec::new();
    for entry in entries {
        if let Some(hop) = entry.hop {
            let at = *index.entry(hop).or_insert_with(|| {
                nodes.push(Node::new(hop, entry.at_ms));
                opened.push(false);
                nodes.len() - 1
            });
            let node = &mut nodes[at];
            match entry.kind {
                // The entry that opens the hop: where the money went, from where, how much.
                TimelineKind::Traced if entry.amount_fen.is_some() && !opened[at] => {
                    opened[at] = true;
                    node.parent = entry.parent.filter(|parent| *parent != hop);
                    node.traced_fen = entry.amount_fen;
                    node.at_ms = entry.at_ms;
                    node.place = match (&entry.account, &entry.order) {
                        (Some(account), _) => Place::Account(account.clone()),
                        (None, Some(order)) => Place::Order(order.clone(), None),
                        (None, None) => Place::Unknown,
                    };
                }
                // Opened again (an event delivered twice): the first opening stands.
                TimelineKind::Traced if entry.amount_fen.is_some() => {}
                // A hop ended without a stop.
                TimelineKind::Traced => {
                    node.state = State::NotFollowed(not_followed(&entry.detail));
                    node.at_ms = entry.at_ms;
                }
                TimelineKind::HopFailed => {
                    node.state = State::Failed;
                    node.at_ms = entry.at_ms;
                }
                TimelineKind::Retrying => {
                    if matches!(node.state, State::Following | State::Retrying) {
                        node.state = State::Retrying;
                        node.at_ms = entry.at_ms;
                    }
                }
                TimelineKind::OrderResolved => {
                    if let (Place::Order(_, resolved), Some(account)) = (&mut node.place, &entry.account) {
                        *resolved = Some(account.clone());
                    }
                }
                TimelineKind::Stopped => {
                    node.state = State::Stopped { claim: entry.amount_fen.unwrap_or_default() };
                    node.at_ms = entry.at_ms;
                    node.stopped = entry.account.clone();
                    if let (Place::Unknown, Some(account)) = (&node.place, &entry.account) {
                        node.place = Place::Account(account.clone());
                    }
                }
                TimelineKind::CashedOut => {
                    node.cashed_out_fen = node.cashed_out_fen.saturating_add(entry.amount_fen.unwrap_or_default());
                }
                _ => {}
            }
            continue;
        }
        let Some(account) = &entry.account else { continue };
        for node in nodes.iter_mut().filter(|n| n.stopped.as_ref() == Some(account)) {
            let amount = entry.amount_fen.unwrap_or_default();
            match entry.kind {
                TimelineKind::Frozen => {
                    node.state = State::Frozen { fen: amount };
                    node.at_risk = false;
                    node.at_ms = entry.at_ms;
                }
                TimelineKind::FreezeQueued => {
                    node.state = State::Queued { fen: amount };
                    node.at_ms = entry.at_ms;
                }
                TimelineKind::StopRenewed => node.renewed = true,
                TimelineKind::FreezeAtRisk => node.at_risk = !matches!(node.state, State::Frozen { .. }),
                TimelineKind::ClaimRevised => match &mut node.state {
                    State::Stopped { claim } | State::Queued { fen: claim } => *claim = amount,
                    _ => {}
                },
                TimelineKind::HopFailed => {
                    node.state = State::FreezeFailed;
                    node.at_ms = entry.at_ms;
                }
                TimelineKind::CrossCityClaims => node.other_cities = true,
                _ => {}
            }
        }
    }
    nodes
}

/// Why a hop was not followed, from its entry's detail (`hop 4 ended (Merged): why`, as
/// intake writes it): a merge says the account is followed elsewhere in the trail (it has
/// a line of its own there); the depth bound and too little money say their own why.
fn not_followed(detail: &str) -> String {
    match detail.split_once(" ended (").and_then(|(_, rest)| rest.split_once("): ")) {
        Some(("Merged", _)) => "already followed elsewhere in the trail".to_owned(),
        Some((_, why)) => why.to_owned(),
        None => detail.to_owned(),
    }
}

/// The hops as a tree under `root` (the victim's line), one line each: the label, the money
/// traced in, how long after `reported_at_ms` the state was reached, and the state; columns
/// lined up. Alarming states are red when `colour`.
pub fn render(root: &str, nodes: &[Node], reported_at_ms: TimeMs, colour: bool) -> String {
    let rows = order(nodes);
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|(prefix, node, root)| {
            let mut label = format!("{prefix}{}", node.label());
            if let Some(parent) = node.parent.filter(|_| *root) {
                label.push_str(&format!(" (from hop {parent})"));
            }
            let traced = node.traced_fen.map_or(String::new(), |fen| fen.grouped().to_string());
            [label, traced, node.state_text(), since(reported_at_ms, node.at_ms)]
        })
        .collect();
    let width = |column: usize| cells.iter().map(|c| c[column].chars().count()).max().unwrap_or(0);
    let (label_width, traced_width, offset_width) = (width(0), width(1), width(3));
    let mut out = format!("{root}\n");
    for (cell, (_, node, _)) in cells.iter().zip(&rows) {
        let [label, traced, state, offset] = cell;
        let pad = |text: &str, width: usize| " ".repeat(width.saturating_sub(text.chars().count()));
        let state = if colour && node.alarming() { format!("\x1b[31m{state}\x1b[0m") } else { state.clone() };
        let line = format!(
            "{label}{}  {}{traced}  {offset}{}  {state}",
            pad(label, label_width),
            pad(traced, traced_width),
            pad(offset, offset_width),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Each node with its tree prefix (`├─ `, `│  └─ ` …) and whether it is drawn at the root,
/// depth first, children in the order they were opened. Roots: hops without a parent, or
/// whose parent is not in the trail; then, for hops no root reaches (their parents go round
/// in a cycle), the first of them, until every hop is reached. Each hop is drawn once.
fn order(nodes: &[Node]) -> Vec<(String, &Node, bool)> {
    ordered(nodes).into_iter().map(|row| (row.prefix, row.node, row.root)).collect()
}

/// One hop in drawing order: its tree prefix, the hop, whether it is drawn at the root, and
/// its depth below the victim (0 at the root).
#[derive(Debug)]
pub struct Row<'a> {
    pub prefix: String,
    pub node: &'a Node,
    pub root: bool,
    pub depth: usize,
}

/// The hops in drawing order (see [`order`]): what the console's graph lays out.
pub fn ordered(nodes: &[Node]) -> Vec<Row<'_>> {
    let known: HashMap<u32, usize> = nodes.iter().enumerate().map(|(i, n)| (n.hop, i)).collect();
    let mut children: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut roots = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        match node.parent.and_then(|parent| known.get(&parent)) {
            Some(&parent) if parent != i => children.entry(parent).or_default().push(i),
            _ => roots.push(i),
        }
    }
    let kids = |i: usize| children.get(&i).map_or(&[][..], Vec::as_slice);
    let mut reached = vec![false; nodes.len()];
    let mut next = 0;
    loop {
        let mut todo: Vec<usize> = roots[next..].to_vec();
        next = roots.len();
        while let Some(i) = todo.pop() {
            if !std::mem::replace(&mut reached[i], true) {
                todo.extend(kids(i));
            }
        }
        match reached.iter().position(|r| !r) {
            Some(left) => roots.push(left),
            None => break,
        }
    }
    let mut is_root = vec![false; nodes.len()];
    for &root in &roots {
        is_root[root] = true;
    }
    let connector = |k: usize, of: usize| if k + 1 == of { "└─ " } else { "├─ " };
    let mut drawn = vec![false; nodes.len()];
    let mut rows = Vec::with_capacity(nodes.len());
    // (node, the prefix of its line before its connector, its connector, at the root)
    let mut stack: Vec<(usize, String, &str, bool, usize)> =
        roots.iter().enumerate().rev().map(|(k, &i)| (i, String::new(), connector(k, roots.len()), true, 0)).collect();
    while let Some((i, indent, link, root, depth)) = stack.pop() {
        if std::mem::replace(&mut drawn[i], true) {
            continue;
        }
        rows.push(Row { prefix: format!("{indent}{link}"), node: &nodes[i], root, depth });
        let below = format!("{indent}{}", if link == "└─ " { "   " } else { "│  " });
        let kids: Vec<usize> = kids(i).iter().copied().filter(|&k| !drawn[k] && !is_root[k]).collect();
        for (k, &kid) in kids.iter().enumerate().rev() {
            stack.push((kid, below.clone(), connector(k, kids.len()), false, depth + 1));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report: 2025-03-14 09:00:00 in China.
    const REPORTED: TimeMs = 1_741_914_000_000;
    const S: u64 = 1000;

    fn entry(
        at_s: u64,
        kind: TimelineKind,
        hop: Option<u32>,
        account: Option<&str>,
        yuan: Option<u32>,
    ) -> TimelineEntry {
        TimelineEntry {
            at_ms: REPORTED + at_s * S,
            kind,
            account: account.map(|a| AccountRef::parse(a).unwrap()),
            amount_fen: yuan.map(Fen::yuan),
            depth: None,
            hop,
            parent: None,
            order: None,
            detail: String::new(),
        }
    }

    fn opened(at_s: u64, hop: u32, parent: Option<u32>, account: &str, yuan: u32) -> TimelineEntry {
        TimelineEntry { parent, ..entry(at_s, TimelineKind::Traced, Some(hop), Some(account), Some(yuan)) }
    }

    fn stopped(at_s: u64, hop: u32, account: &str, yuan: u32) -> TimelineEntry {
        entry(at_s, TimelineKind::Stopped, Some(hop), Some(account), Some(yuan))
    }

    /// Three levels: a frozen account, an account stopped under it with an order under that
    /// still asked, an account past the depth bound, and a second root cashed out.
    fn three_levels() -> Vec<TimelineEntry> {
        let order = PaymentOrderRef::parse("wechatpay:4200001234ABC").unwrap();
        vec![
            opened(0, 1, None, "icbc:6222020200001234", 800_000),
            opened(0, 5, None, "cmb:6225880000000001", 20_000),
            TimelineEntry { detail: "hop 5: stop-payment 1".into(), ..stopped(45, 5, "cmb:6225880000000001", 0) },
            entry(45, TimelineKind::CashedOut, Some(5), Some("cmb:6225880000000001"), Some(20_000)),
            stopped(60, 1, "icbc:6222020200001234", 300_000),
            opened(60, 2, Some(1), "abc:622848000011", 400_000),
            opened(60, 4, Some(1), "boc:6013820000000001", 100_000),
            stopped(90, 2, "abc:622848000011", 250_000),
            TimelineEntry {
                order: Some(order),
                ..with_parent(entry(90, TimelineKind::Traced, Some(3), None, Some(150_000)), 2)
            },
            TimelineEntry {
                detail: "hop 4 ended (DepthLimit): depth 7 is beyond the bound of 6".into(),
                ..entry(91, TimelineKind::Traced, Some(4), None, None)
            },
            entry(100, TimelineKind::OrderResolved, Some(3), Some("ccb:6217000000001"), None),
            entry(125, TimelineKind::Retrying, Some(3), None, None),
            entry(600, TimelineKind::Frozen, None, Some("icbc:6222020200001234"), Some(300_000)),
            entry(7_200, TimelineKind::FreezeAtRisk, None, Some("abc:622848000011"), Some(250_000)),
        ]
    }

    fn with_parent(entry: TimelineEntry, parent: u32) -> TimelineEntry {
        TimelineEntry { parent: Some(parent), ..entry }
    }

    #[test]
    fn a_three_level_trail_draws_each_account_under_the_one_it_was_traced_from() {
        let text = render("victim", &build(&three_levels()), REPORTED, false);
        let expected = "\
victim
├─ icbc:6222020200001234                                    ¥800,000.00  +10m00s  frozen ¥300,000.00
│  ├─ abc:622848000011                                      ¥400,000.00  +1m30s   AT RISK ¥250,000.00, stop lapses soon
│  │  └─ order wechatpay:4200001234ABC → ccb:6217000000001  ¥150,000.00  +2m05s   retrying (no answer yet)
│  └─ boc:6013820000000001                                  ¥100,000.00  +1m31s   not followed: depth 7 is beyond the bound of 6
└─ cmb:6225880000000001                                      ¥20,000.00  +45s     stopped, nothing held, cashed out ¥20,000.00
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn an_alarming_state_is_red_only_when_asked() {
        let nodes = build(&three_levels());
        assert!(!render("victim", &nodes, REPORTED, false).contains('\x1b'));
        let coloured = render("victim", &nodes, REPORTED, true);
        assert!(coloured.contains("\x1b[31mAT RISK ¥250,000.00, stop lapses soon\x1b[0m"), "{coloured}");
        assert_eq!(coloured.matches('\x1b').count(), 2, "only the alarming state: {coloured}");
    }

    #[test]
    fn a_hop_whose_parent_is_unknown_is_shown_at_the_root_not_dropped() {
        let entries = vec![
            opened(0, 1, None, "icbc:6222020200001234", 100),
            opened(5, 7, Some(6), "abc:622848000011", 50),
            // An entry of a hop never opened: shown by its number.
            stopped(9, 9, "boc:6013820000000001", 20),
        ];
        let text = render("victim", &build(&entries), REPORTED, false);
        let expected = "\
victim
├─ icbc:6222020200001234          ¥100.00  +0s  following
├─ abc:622848000011 (from hop 6)   ¥50.00  +5s  following
└─ boc:6013820000000001                    +9s  stopped ¥20.00
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_cycle_or_a_duplicate_in_the_data_draws_each_hop_once_and_ends() {
        let entries = vec![
            opened(0, 1, Some(2), "icbc:6222020200001234", 100),
            opened(0, 2, Some(1), "abc:622848000011", 100),
            opened(0, 3, Some(3), "boc:6013820000000001", 100),
            // Opened twice (a redelivered event): the first opening stands.
            opened(1, 1, None, "cmb:6225880000000001", 999),
            opened(2, 4, Some(2), "ccb:6217000000001", 10),
        ];
        let text = render("victim", &build(&entries), REPORTED, false);
        let expected = "\
victim
├─ boc:6013820000000001                ¥100.00  +0s  following
└─ icbc:6222020200001234 (from hop 2)  ¥100.00  +0s  following
   └─ abc:622848000011                 ¥100.00  +0s  following
      └─ ccb:6217000000001              ¥10.00  +2s  following
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn a_merged_hop_says_its_account_is_followed_elsewhere_and_other_ends_say_why() {
        let merged =
            "hop 9 ended (Merged): icbc:6222020200001234 already followed by hop 1; its money is followed there too";
        assert_eq!(not_followed(merged), "already followed elsewhere in the trail");
        assert_eq!(
            not_followed("hop 2 ended (BelowMinimum): ¥5.00 is below the ¥100.00 worth following"),
            "¥5.00 is below the ¥100.00 worth following"
        );
        assert_eq!(not_followed("something else"), "something else");
    }

    #[test]
    fn a_long_chain_draws_without_recursion() {
        let entries: Vec<TimelineEntry> =
            (1..=1_000).map(|hop| opened(0, hop, (hop > 1).then(|| hop - 1), "icbc:6222020200001234", 1)).collect();
        let text = render("victim", &build(&entries), REPORTED, false);
        assert_eq!(text.lines().count(), 1_001);
    }
}
