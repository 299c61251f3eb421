//! The money trail as a graph laid out for drawing: one node per place the money went
//! (the victims, each account, each unresolved order, each cash-out), one edge per hop.
//!
//! Columns are trail depths, left to right: the victims, then the accounts they paid into,
//! then the accounts those paid on to, and so on; an account reached at several depths
//! stands at the shallowest. Within a column nodes are ordered by where the money came from
//! (the mean row of their sources, then their name), which keeps most edges from crossing,
//! and stacked without overlap, the column centred. Each edge ends in a horizontal run into
//! its target, its label (amount and time) above the run, so labels sit beside the node they
//! belong to and never on another edge's curve. Everything is integer arithmetic over the
//! hops in (case, hop) order: the same trail lays out the same, to the pixel.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::{AccountRef, Fen, TimeMs};

use super::model::{FundFlow, HopState, TrailHop};
use crate::limits::MAX_GRAPH_NODES;

/// A node's width, px.
pub const NODE_W: i64 = 190;
/// The space between two columns, px: the curves, then the labels' runs.
pub const COLUMN_GAP: i64 = 220;
/// The horizontal run into a node that carries an edge's label, px.
pub const LABEL_RUN: i64 = 150;
/// Vertical space between two nodes of a column, px.
pub const ROW_GAP: i64 = 18;
/// From a node's top to its first incoming edge, px (room for the label above it).
pub const PORT_TOP: i64 = 20;
/// Between two incoming edges of a node, px (one label line).
pub const PORT_GAP: i64 = 16;
/// Between two outgoing edges of a node, at least, px.
pub const OUT_GAP: i64 = 5;
/// A node's least height, px: two lines of text.
pub const NODE_MIN_H: i64 = 46;
/// Around the drawing, px; the top margin holds the columns' titles.
pub const MARGIN: i64 = 20;
pub const HEADER_H: i64 = 34;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeKind {
    /// A victim (a case): where the money came from.
    Victim,
    /// A bank account.
    Account,
    /// A payment order not resolved to an account.
    Order,
    /// Money taken out in cash.
    Cash,
}

impl NodeKind {
    pub fn class(self) -> &'static str {
        match self {
            NodeKind::Victim => "victim",
            NodeKind::Account => "account",
            NodeKind::Order => "order",
            NodeKind::Cash => "cash",
        }
    }
}

/// A place the money went, placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique in the graph: the account or order, `victim:<case>`, `cash:<case>:<hop>`.
    pub key: String,
    /// What the node shows as its name: the account, the order, the case id, `cash`.
    pub name: String,
    pub kind: NodeKind,
    pub column: u32,
    pub x: i64,
    pub y: i64,
    pub h: i64,
    /// The most advanced state of the hops into it (none for a victim).
    pub state: Option<HopState>,
    /// Victim money held on it, all cases.
    pub held_fen: Fen,
    /// Victim money traced into it, all cases (a victim: the money they paid).
    pub traced_fen: Fen,
    /// An account whose frozen money one of the report's allocations shares.
    pub allocated: bool,
    /// Cases whose money reached it, by index into [`Graph::cases`].
    pub cases: BTreeSet<usize>,
}

/// A hop, drawn: from the node that sent the money to the node that received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The hop's index in the report's trail.
    pub hop: usize,
    /// Its case, by index into [`Graph::cases`] (the edge's colour).
    pub case: usize,
    pub from: usize,
    pub to: usize,
    pub amount_fen: Fen,
    pub at_ms: TimeMs,
    /// Where it leaves `from` and reaches `to`, px.
    pub from_xy: (i64, i64),
    pub to_xy: (i64, i64),
    /// On a path of the victims' money into an allocated account (or, in a report without
    /// allocations, into a frozen one).
    pub highlighted: bool,
}

/// The laid-out trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// The cases, in case-id order.
    pub cases: Vec<String>,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Columns: 0 the victims, then depths 1, 2, ….
    pub columns: u32,
    pub width: i64,
    pub height: i64,
    /// Nodes left out of the drawing past [`MAX_GRAPH_NODES`] (and their edges).
    pub omitted_nodes: usize,
}

/// The node key a hop's money goes to.
fn target_key(hop: &TrailHop) -> String {
    if hop.to == "cash" { format!("cash:{}:{}", hop.case_id, hop.hop) } else { hop.to.clone() }
}

fn kind_of(to: &str) -> NodeKind {
    if to == "cash" {
        NodeKind::Cash
    } else if AccountRef::parse(to).is_ok() {
        NodeKind::Account
    } else {
        NodeKind::Order
    }
}

/// Lays out `report`'s trail.
pub fn layout(report: &FundFlow) -> Graph {
    let mut order: Vec<usize> = (0..report.trail.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&report.trail[a], &report.trail[b]);
        (&a.case_id, a.hop).cmp(&(&b.case_id, b.hop))
    });
    let cases: Vec<String> =
        order.iter().map(|&i| report.trail[i].case_id.to_string()).collect::<BTreeSet<_>>().into_iter().collect();
    let case_index: HashMap<&str, usize> = cases.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
    let allocated: BTreeSet<&str> = report.allocations.iter().map(|a| a.allocation.account.as_str()).collect();

    // The nodes, with their columns; victims first.
    let mut nodes: Vec<Node> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for (c, case) in cases.iter().enumerate() {
        by_key.insert(format!("victim:{case}"), nodes.len());
        nodes.push(Node {
            key: format!("victim:{case}"),
            name: case.clone(),
            kind: NodeKind::Victim,
            column: 0,
            x: 0,
            y: 0,
            h: 0,
            state: None,
            held_fen: Fen::ZERO,
            traced_fen: Fen::ZERO,
            allocated: false,
            cases: BTreeSet::from([c]),
        });
    }
    let mut hop_node: HashMap<(usize, u32), usize> = HashMap::new();
    for &i in &order {
        let hop = &report.trail[i];
        let case = case_index[hop.case_id.as_str()];
        let key = target_key(hop);
        let column = u32::from(hop.depth.max(1));
        let n = *by_key.entry(key.clone()).or_insert_with(|| {
            nodes.push(Node {
                key,
                name: hop.to.clone(),
                kind: kind_of(&hop.to),
                column,
                x: 0,
                y: 0,
                h: 0,
                state: None,
                held_fen: Fen::ZERO,
                traced_fen: Fen::ZERO,
                allocated: allocated.contains(hop.to.as_str()),
                cases: BTreeSet::new(),
            });
            nodes.len() - 1
        });
        let node = &mut nodes[n];
        node.column = node.column.min(column);
        node.state = node.state.max(Some(hop.state));
        node.held_fen = node.held_fen.saturating_add(hop.held_fen);
        node.traced_fen = node.traced_fen.saturating_add(hop.amount_fen);
        node.cases.insert(case);
        hop_node.entry((case, hop.hop)).or_insert(n);
    }

    // The edges: from the parent hop's node, or the victim.
    let mut edges: Vec<Edge> = Vec::new();
    for &i in &order {
        let hop = &report.trail[i];
        let case = case_index[hop.case_id.as_str()];
        let to = hop_node[&(case, hop.hop)];
        let from = hop
            .parent
            .and_then(|parent| hop_node.get(&(case, parent)).copied())
            .unwrap_or_else(|| by_key[&format!("victim:{}", hop.case_id)]);
        if nodes[from].kind == NodeKind::Victim {
            nodes[from].traced_fen = nodes[from].traced_fen.saturating_add(hop.amount_fen);
        }
        edges.push(Edge {
            hop: i,
            case,
            from,
            to,
            amount_fen: hop.amount_fen,
            at_ms: hop.at_ms,
            from_xy: (0, 0),
            to_xy: (0, 0),
            highlighted: false,
        });
    }
    highlight(report, &order, &hop_node, &case_index, &mut edges);

    // Rows: column by column, each node after the mean row of its sources in earlier columns.
    let columns = nodes.iter().map(|n| n.column).max().unwrap_or(0) + 1;
    let mut row = vec![0i64; nodes.len()];
    let mut by_column: Vec<Vec<usize>> = vec![Vec::new(); columns as usize];
    for column in 0..columns {
        let mut members: Vec<(i64, &str, usize)> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.column == column)
            .map(|(i, n)| {
                let sources: Vec<i64> = edges
                    .iter()
                    .filter(|e| e.to == i && nodes[e.from].column < column)
                    .map(|e| row[e.from] * 1000)
                    .collect();
                let mean = if sources.is_empty() { 0 } else { sources.iter().sum::<i64>() / sources.len() as i64 };
                (mean, n.key.as_str(), i)
            })
            .collect();
        members.sort();
        for (r, (_, _, i)) in members.iter().enumerate() {
            row[*i] = r as i64;
        }
        by_column[column as usize] = members.into_iter().map(|(_, _, i)| i).collect();
    }

    // Bound the drawing: the first nodes column by column, row by row.
    let drawn: Vec<usize> = by_column.iter().flatten().copied().take(MAX_GRAPH_NODES).collect();
    let omitted_nodes = nodes.len() - drawn.len();
    let keep: BTreeSet<usize> = drawn.iter().copied().collect();
    for column in &mut by_column {
        column.retain(|n| keep.contains(n));
    }
    edges.retain(|e| keep.contains(&e.from) && keep.contains(&e.to));

    // Ports: incoming edges by their source's place, outgoing by their target's.
    let place = |n: usize| (nodes[n].column, row[n]);
    let mut incoming: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut outgoing: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (e, edge) in edges.iter().enumerate() {
        incoming.entry(edge.to).or_default().push(e);
        outgoing.entry(edge.from).or_default().push(e);
    }
    for list in incoming.values_mut() {
        list.sort_by_key(|&e| (place(edges[e].from), edges[e].case, edges[e].hop));
    }
    for list in outgoing.values_mut() {
        list.sort_by_key(|&e| (place(edges[e].to), edges[e].case, edges[e].hop));
    }
    for &n in &drawn {
        let ins = incoming.get(&n).map_or(0, Vec::len) as i64;
        let outs = outgoing.get(&n).map_or(0, Vec::len) as i64;
        let for_ins = if ins == 0 { 0 } else { PORT_TOP + (ins - 1) * PORT_GAP + 14 };
        // An allocated account shows a third line.
        let least = if nodes[n].allocated { NODE_MIN_H + 16 } else { NODE_MIN_H };
        nodes[n].h = least.max(for_ins).max((outs + 1) * OUT_GAP);
    }

    // Positions: columns side by side, each stacked and centred on the tallest.
    let heights: Vec<i64> = by_column
        .iter()
        .map(|members| members.iter().map(|&n| nodes[n].h).sum::<i64>() + ROW_GAP * (members.len() as i64 - 1).max(0))
        .collect();
    let tallest = heights.iter().copied().max().unwrap_or(0);
    for (c, members) in by_column.iter().enumerate() {
        let mut y = MARGIN + HEADER_H + (tallest - heights[c]) / 2;
        for &n in members {
            nodes[n].x = MARGIN + c as i64 * (NODE_W + COLUMN_GAP);
            nodes[n].y = y;
            y += nodes[n].h + ROW_GAP;
        }
    }
    for (&n, list) in &incoming {
        for (p, &e) in list.iter().enumerate() {
            edges[e].to_xy = (nodes[n].x, nodes[n].y + PORT_TOP + p as i64 * PORT_GAP);
        }
    }
    for (&n, list) in &outgoing {
        let count = list.len() as i64;
        for (p, &e) in list.iter().enumerate() {
            edges[e].from_xy = (nodes[n].x + NODE_W, nodes[n].y + nodes[n].h * (p as i64 + 1) / (count + 1));
        }
    }

    // Keep the drawn nodes only, edges renumbered.
    let mut renumber = vec![usize::MAX; nodes.len()];
    let mut kept = Vec::with_capacity(drawn.len());
    for (i, node) in nodes.into_iter().enumerate() {
        if keep.contains(&i) {
            renumber[i] = kept.len();
            kept.push(node);
        }
    }
    for edge in &mut edges {
        edge.from = renumber[edge.from];
        edge.to = renumber[edge.to];
    }
    let width = 2 * MARGIN + columns as i64 * NODE_W + (columns as i64 - 1) * COLUMN_GAP;
    let height = 2 * MARGIN + HEADER_H + tallest;
    Graph { cases, nodes: kept, edges, columns, width, height, omitted_nodes }
}

/// Marks the edges on the paths of the victims' money into the allocated accounts (in a
/// report without allocations, into the frozen ones): each such hop and its ancestors.
fn highlight(
    report: &FundFlow,
    order: &[usize],
    hop_node: &HashMap<(usize, u32), usize>,
    case_index: &HashMap<&str, usize>,
    edges: &mut [Edge],
) {
    let allocated: BTreeSet<&str> = report.allocations.iter().map(|a| a.allocation.account.as_str()).collect();
    let ends = |hop: &TrailHop| {
        if allocated.is_empty() { hop.state == HopState::Frozen } else { allocated.contains(hop.to.as_str()) }
    };
    // Each (case, hop) → its position in `order` (= its edge), and its parent.
    let mut edge_of: HashMap<(usize, u32), usize> = HashMap::new();
    for (e, &i) in order.iter().enumerate() {
        let hop = &report.trail[i];
        edge_of.entry((case_index[hop.case_id.as_str()], hop.hop)).or_insert(e);
    }
    debug_assert!(hop_node.len() == edge_of.len());
    for (e, &i) in order.iter().enumerate() {
        if !ends(&report.trail[i]) {
            continue;
        }
        // Walk up the parents; bounded by the trail's length (a cycle in bad data stops).
        let mut at = Some(e);
        let mut steps = 0;
        while let Some(current) = at {
            if edges[current].highlighted || steps > order.len() {
                break;
            }
            edges[current].highlighted = true;
            steps += 1;
            let hop = &report.trail[order[current]];
            at = hop.parent.and_then(|parent| edge_of.get(&(edges[current].case, parent)).copied());
        }
    }
}
