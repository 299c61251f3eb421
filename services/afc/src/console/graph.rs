//! The case page's money trail as a graph (SVG, drawn on the server): the victim on the left,
//! each account one column further right than the account it was traced from, one row per
//! hop in the tree's order, an edge from each account to those it sent money to with the
//! amount on it, and each account's state in its colour and words. Built from the same tree
//! as `afc case show` (`cli::trail`), so both say the same; every text is escaped by maud.

use domain::calendar::since;
use domain::{Fen, TimeMs};
use maud::{Markup, html};

use crate::cli::trail::{self, Node, State};

use super::labels::Lang;
use super::limits::MAX_GRAPH_HOPS;
use super::words;

const COLUMN: usize = 270;
const ROW: usize = 44;
const BOX_W: usize = 230;
const BOX_H: usize = 34;
const MARGIN: usize = 10;

/// The state's class (its colour) and its words.
fn state_class(node: &Node) -> &'static str {
    match &node.state {
        State::Stopped { .. } if node.at_risk => "at-risk",
        State::Stopped { .. } => "stopped",
        State::Frozen { .. } => "frozen",
        State::Queued { .. } => "queued",
        State::FreezeFailed => "released",
        State::Failed => "failed",
        State::NotFollowed(_) => "not-followed",
        State::Following | State::Retrying if !node.cashed_out_fen.is_zero() => "cashed-out",
        State::Following | State::Retrying => "following",
    }
}

/// The trail of a case as an SVG graph, with the victim's line as its root.
pub fn draw(nodes: &[Node], reported_at_ms: TimeMs, loss: Fen, lang: Lang) -> Markup {
    let rows = trail::ordered(nodes);
    let shown = rows.len().min(MAX_GRAPH_HOPS);
    let rows = &rows[..shown];
    // Each drawn hop's row, to draw the edge from its parent.
    let mut row_of = std::collections::HashMap::with_capacity(rows.len());
    for (at, row) in rows.iter().enumerate() {
        row_of.insert(row.node.hop, (at + 1, row.depth + 1));
    }
    let columns = rows.iter().map(|row| row.depth + 2).max().unwrap_or(1);
    let width = MARGIN * 2 + (columns - 1) * COLUMN + BOX_W;
    let height = MARGIN * 2 + (rows.len() + 1) * ROW;
    let x = |column: usize| MARGIN + column * COLUMN;
    let y = |row: usize| MARGIN + row * ROW;
    html! {
        svg.trail xmlns="http://www.w3.org/2000/svg" width=(width) height=(height) viewBox={"0 0 " (width) " " (height)}
            role="img" aria-label=(lang.t("trail")) {
            g.node.victim {
                rect x=(x(0)) y=(y(0)) width=(BOX_W) height=(BOX_H) rx="4" {}
                text x=(x(0) + 8) y=(y(0) + 15) { (lang.t("victim")) }
                text.small x=(x(0) + 8) y=(y(0) + 29) { (lang.t("loss")) " " (loss.grouped()) }
            }
            @for (at, row) in rows.iter().enumerate() {
                @let (from_row, from_column) = match row.node.parent.and_then(|p| row_of.get(&p)).filter(|_| !row.root) {
                    Some(&(r, c)) => (r, c),
                    None => (0, 0),
                };
                @let (me_row, me_column) = (at + 1, row.depth + 1);
                @let (x1, y1) = (x(from_column) + BOX_W, y(from_row) + BOX_H / 2);
                @let (x2, y2) = (x(me_column), y(me_row) + BOX_H / 2);
                path.edge d={"M" (x1) " " (y1) " C" (x1 + 20) " " (y1) " " (x2 - 20) " " (y2) " " (x2) " " (y2)} {}
                @if let Some(fen) = row.node.traced_fen {
                    text.amount x=(x2 - 4) y=(y2 - 4) text-anchor="end" { (fen.grouped()) }
                }
                g class={"node " (state_class(row.node))} data-hop=(row.node.hop) {
                    rect x=(x2) y=(y(me_row)) width=(BOX_W) height=(BOX_H) rx="4" {}
                    text x=(x2 + 8) y=(y(me_row) + 15) { (clip(&row.node.label(), 34)) }
                    text.small x=(x2 + 8) y=(y(me_row) + 29) {
                        (clip(&words::hop_state(lang, row.node), 30)) " · " (since(reported_at_ms, row.node.at_ms))
                    }
                    title { (row.node.label()) ": " (words::hop_state(lang, row.node)) }
                }
            }
        }
        @if shown < nodes.len() {
            p.warning { (shown) " / " (nodes.len()) " — " (lang.t("more")) }
        }
    }
}

/// `text` cut to `chars` characters, with an ellipsis when cut.
fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use domain::AccountRef;
    use protocol::intake::{TimelineEntry, TimelineKind};

    use super::*;

    const REPORTED: TimeMs = 1_741_914_000_000;

    fn traced(hop: u32, parent: Option<u32>, account: &str, fen: u64) -> TimelineEntry {
        TimelineEntry {
            at_ms: REPORTED + u64::from(hop) * 1000,
            kind: TimelineKind::Traced,
            account: Some(AccountRef::parse(account).unwrap()),
            amount_fen: Some(Fen::new(fen)),
            depth: None,
            hop: Some(hop),
            parent,
            order: None,
            detail: String::new(),
        }
    }

    #[test]
    fn each_hop_is_a_box_in_its_column_with_an_edge_from_its_parent_and_its_state() {
        let mut entries = vec![
            traced(1, None, "icbc:6222000000000001", 500_000),
            traced(2, Some(1), "ccb:6217000000000002", 300_000),
            traced(3, Some(1), "abc:6228000000000003", 200_000),
        ];
        entries.push(TimelineEntry {
            kind: TimelineKind::Stopped,
            amount_fen: Some(Fen::new(300_000)),
            account: Some(AccountRef::parse("ccb:6217000000000002").unwrap()),
            ..entries[1].clone()
        });
        let nodes = trail::build(&entries);
        let svg = draw(&nodes, REPORTED, Fen::new(500_000), Lang::En).into_string();
        assert_eq!(svg.matches(" data-hop=").count(), 3, "a box per hop: {svg}");
        assert_eq!(svg.matches("<path class=\"edge\"").count(), 3);
        assert!(svg.contains("class=\"node stopped\" data-hop=\"2\""), "{svg}");
        assert!(svg.contains("¥3,000.00"), "the amount on the edge");
        // Hop 3 is one column right of hop 1, like hop 2: both start at x = 10 + 2 * 270.
        assert_eq!(svg.matches("<rect x=\"550\"").count(), 2, "{svg}");
    }

    #[test]
    fn what_a_scammer_named_an_account_cannot_break_out_of_the_drawing() {
        let ended = TimelineEntry {
            amount_fen: None,
            detail: "hop 1 ended (Depth): <script>alert(1)</script>".into(),
            ..traced(1, None, "icbc:6222000000000001", 1)
        };
        let nodes = trail::build(&[traced(1, None, "icbc:6222000000000001", 1), ended]);
        let svg = draw(&nodes, REPORTED, Fen::new(1), Lang::Zh).into_string();
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "shown, as text: {svg}");
        assert!(!svg.contains("<script>"));
    }
}
