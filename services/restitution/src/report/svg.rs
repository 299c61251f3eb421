//! The laid-out trail ([`super::graph`]) drawn as inline SVG: nodes coloured by state, the
//! allocated accounts outlined, edges coloured by case with their amount and time, the
//! paths of the victims' money into the allocated accounts drawn bold. Every text escaped.

use std::fmt::Write as _;

use super::format::{escape, local, local_short, yuan};
use super::graph::{COLUMN_GAP, Graph, LABEL_RUN, MARGIN, NODE_W, NodeKind};
use super::model::FundFlow;

/// The cases' colours, in case order (repeating past eight): distinct for the usual few
/// victims of an account, and readable on white.
pub const CASE_COLOURS: [&str; 8] =
    ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// A name longer than this many characters is squeezed to fit its node.
const NAME_FIT_CHARS: usize = 24;

pub fn case_colour(case: usize) -> &'static str {
    CASE_COLOURS[case % CASE_COLOURS.len()]
}

/// The SVG element of `graph`, drawn from `report`'s trail.
pub fn draw(report: &FundFlow, graph: &Graph) -> String {
    let mut out = String::with_capacity(4096 + graph.edges.len() * 600 + graph.nodes.len() * 700);
    let _ = writeln!(
        out,
        "<svg class=\"trail\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         role=\"img\" aria-label=\"资金流向图 money trail\" font-family=\"sans-serif\" font-size=\"12\">",
        w = graph.width,
        h = graph.height
    );
    for column in 0..graph.columns {
        let title =
            if column == 0 { "受害人 Victims".to_owned() } else { format!("第 {column} 层 Level {column}") };
        let x = MARGIN + i64::from(column) * (NODE_W + COLUMN_GAP) + NODE_W / 2;
        let _ = writeln!(
            out,
            "<text class=\"column-title\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"#333\">{}</text>",
            MARGIN + 14,
            escape(&title)
        );
    }
    // Dim edges first, then the highlighted ones over them.
    let mut edges: Vec<&super::graph::Edge> = graph.edges.iter().collect();
    edges.sort_by_key(|e| e.highlighted);
    for edge in edges {
        let hop = &report.trail[edge.hop];
        let (sx, sy) = edge.from_xy;
        let (tx, ty) = edge.to_xy;
        let run = tx - LABEL_RUN;
        let mid = (sx + run) / 2;
        let colour = case_colour(edge.case);
        let (width, opacity, class) = if edge.highlighted { (3, "1", " highlighted") } else { (1, "0.55", "") };
        let _ = write!(
            out,
            "<g class=\"edge case-{}{class}\" data-hop=\"{}\" opacity=\"{opacity}\">\
             <path d=\"M{sx},{sy} C{mid},{sy} {mid},{ty} {run},{ty} L{tx},{ty}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width}\"/>",
            edge.case, hop.hop
        );
        let label = format!("{} {}", yuan(edge.amount_fen), local_short(edge.at_ms));
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\" fill=\"{colour}\"{}>{}</text>",
            tx - 6,
            ty - 4,
            if edge.highlighted { " font-weight=\"bold\"" } else { "" },
            escape(&label)
        );
        let transfer = hop.transfer_id.as_deref().unwrap_or("—");
        let tooltip = format!(
            "{} hop {} → {}: {} at {} (transfer {transfer}), {}",
            hop.case_id,
            hop.hop,
            hop.to,
            yuan(hop.amount_fen),
            local(hop.at_ms),
            hop.state.label()
        );
        let _ = writeln!(out, "<title>{}</title></g>", escape(&tooltip));
    }
    for node in &graph.nodes {
        draw_node(&mut out, graph, node);
    }
    if graph.omitted_nodes > 0 {
        let _ = writeln!(
            out,
            "<text x=\"{MARGIN}\" y=\"{}\" fill=\"#b00\">另有 {n} 处未画出 {n} more places not drawn: see the table of hops</text>",
            graph.height - 6,
            n = graph.omitted_nodes
        );
    }
    out.push_str("</svg>\n");
    out
}

fn draw_node(out: &mut String, graph: &Graph, node: &super::graph::Node) {
    let state = node.state.map_or("victim", |s| s.name());
    let allocated = if node.allocated { " allocated" } else { "" };
    let _ = write!(
        out,
        "<g class=\"node {} state-{state}{allocated}\" data-key=\"{}\" data-column=\"{}\">",
        node.kind.class(),
        escape(&node.key),
        node.column
    );
    let (fill, stroke) = match node.kind {
        NodeKind::Victim => ("#fde8ec", "#b83266"),
        _ => state_colours(state),
    };
    let (stroke, stroke_width) = if node.allocated { ("#b8860b", 4) } else { (stroke, 1) };
    let dash = if node.kind == NodeKind::Order || state == "open" { " stroke-dasharray=\"5,3\"" } else { "" };
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"{NODE_W}\" height=\"{}\" rx=\"6\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_width}\"{dash}/>",
        node.x, node.y, node.h
    );
    let (first, second) = match node.kind {
        NodeKind::Victim => (format!("受害人 Victim · {}", yuan(node.traced_fen)), node.name.clone()),
        NodeKind::Cash => ("现金 cash".to_owned(), format!("取现 cashed out {}", yuan(node.traced_fen))),
        NodeKind::Account | NodeKind::Order => {
            let state = node.state.map_or("", |s| s.label());
            let held = if node.held_fen.is_zero() { String::new() } else { format!(" {}", yuan(node.held_fen)) };
            (node.name.clone(), format!("{state}{held}"))
        }
    };
    let (name, caption) = if node.kind == NodeKind::Victim { (second, first) } else { (first, second) };
    let fit = if name.chars().count() > NAME_FIT_CHARS {
        format!(" textLength=\"{}\" lengthAdjust=\"spacingAndGlyphs\"", NODE_W - 14)
    } else {
        String::new()
    };
    let (name_y, caption_y) =
        if node.kind == NodeKind::Victim { (node.y + 36, node.y + 18) } else { (node.y + 18, node.y + 36) };
    let _ = write!(
        out,
        "<text class=\"name\" x=\"{}\" y=\"{name_y}\" font-family=\"monospace\" font-size=\"12\"{fit}>{}</text>",
        node.x + 7,
        escape(&name)
    );
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{caption_y}\" font-size=\"11\" fill=\"#333\">{}</text>",
        node.x + 7,
        escape(&caption)
    );
    if node.allocated {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" font-weight=\"bold\" fill=\"#8a6100\">★ 分配 allocated</text>",
            node.x + 7,
            node.y + 54
        );
    }
    let cases: Vec<&str> = node.cases.iter().map(|&c| graph.cases[c].as_str()).collect();
    let tooltip = format!("{} ({}): cases {}", node.name, caption_plain(node), cases.join(", "));
    let _ = writeln!(out, "<title>{}</title></g>", escape(&tooltip));
}

fn caption_plain(node: &super::graph::Node) -> String {
    match node.state {
        Some(state) => format!("{}, traced in {}, held {}", state.label(), yuan(node.traced_fen), yuan(node.held_fen)),
        None => format!("paid {}", yuan(node.traced_fen)),
    }
}

/// A node's fill and outline by its state's name.
pub fn state_colours(state: &str) -> (&'static str, &'static str) {
    match state {
        "frozen" => ("#d4edda", "#2e7d32"),
        "queued" => ("#e6dcf5", "#6b46c1"),
        "stopped" => ("#fff3cd", "#b7791f"),
        "cashed_out" => ("#f8d7da", "#c53030"),
        "ended" => ("#e2e3e5", "#6c757d"),
        _ => ("#ffffff", "#888888"),
    }
}
