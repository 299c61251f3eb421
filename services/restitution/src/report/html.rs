//! The report as one self-contained HTML document: inline CSS and SVG, no script, no
//! external asset, so the file alone is the report (it is archived, mailed and printed as
//! is). Labels are Chinese then English; times are Beijing time; money is yuan to the fen.
//! Everything that comes from the data is escaped ([`super::format::escape`]).

use std::fmt::Write as _;

use domain::Fen;

use super::format::{escape, time_element, yuan};
use super::graph::{Graph, layout};
use super::model::{FundFlow, HopState, Subject};
use super::section;
use super::svg::{CASE_COLOURS, case_colour, draw, state_colours};

const STYLE: &str = "\
body{font-family:'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif;\
margin:24px;color:#222;line-height:1.45;max-width:100%}\
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:2px solid #345;padding-bottom:3px}\
h3{font-size:16px;margin:18px 0 6px}\
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}\
th,td{border:1px solid #bbb;padding:3px 7px;text-align:left;vertical-align:top}\
th{background:#eef1f5}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
.mono,time{white-space:nowrap}.mono{font-family:monospace}table.hops{font-size:12px}.meta td:first-child{color:#555;white-space:nowrap}\
.graph{overflow-x:auto;border:1px solid #ccc;padding:6px;background:#fcfcfc}\
.legend span{display:inline-block;margin:2px 12px 2px 0;font-size:13px}\
.swatch{display:inline-block;width:14px;height:14px;border:1px solid #555;vertical-align:-2px;margin-right:4px}\
.line{display:inline-block;width:22px;height:4px;vertical-align:3px;margin-right:4px}\
.ok{color:#1b5e20;font-weight:bold}.bad{color:#b00020;font-weight:bold}\
.note{color:#555;font-size:13px}.parts{margin:0;padding-left:18px;font-size:12px}\
.totals td{font-size:14px}.totals tr.sum td{font-weight:bold;border-top:2px solid #333}\
section.allocation{border-top:3px double #345;margin-top:28px}\
@media print{.graph{overflow:visible}.graph svg{max-width:100%;height:auto}}";

/// The report as one HTML document.
pub fn render_html(report: &FundFlow) -> String {
    let graph = layout(report);
    let mut out = String::with_capacity(64 * 1024 + report.trail.len() * 1500);
    out.push_str("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ =
        writeln!(out, "<title>资金流向分析报告 Fund-flow report — {}</title>", escape(&subject_text(&report.subject)));
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    header(&mut out, report, &graph);
    trail(&mut out, report, &graph);
    hops(&mut out, report);
    for (i, allocation) in report.allocations.iter().enumerate() {
        section::render(&mut out, i, allocation, &graph);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn subject_text(subject: &Subject) -> String {
    match subject {
        Subject::Case(case) => format!("案件 case {case}"),
        Subject::Allocation(id) => format!("分配 allocation {id}"),
    }
}

fn header(out: &mut String, report: &FundFlow, graph: &Graph) {
    let _ = writeln!(out, "<h1>资金流向分析报告 Fund-flow analysis report</h1>");
    let held = report.trail.iter().fold(Fen::ZERO, |sum, hop| sum.saturating_add(hop.held_fen));
    let accounts = graph.nodes.iter().filter(|n| n.kind == super::graph::NodeKind::Account).count();
    let _ = writeln!(out, "<table class=\"meta\">");
    let rows = [
        ("报告对象 Subject", escape(&subject_text(&report.subject))),
        ("反诈中心 Center", escape(report.city.as_str())),
        ("生成时间 Written", time_element(report.generated_at_ms)),
        ("时间 Times", "北京时间 Beijing time (UTC+8)".to_owned()),
        ("案件 Cases", graph.cases.len().to_string()),
        ("资金节点 Hops / 账户 accounts", format!("{} / {accounts}", report.trail.len())),
        ("在控资金 Victim money held (all hops)", yuan(held)),
        ("分配 Allocations", report.allocations.len().to_string()),
    ];
    for (label, value) in rows {
        let _ = writeln!(out, "<tr><td>{label}</td><td>{value}</td></tr>");
    }
    out.push_str("</table>\n");
}

fn trail(out: &mut String, report: &FundFlow, graph: &Graph) {
    let _ = writeln!(out, "<h2>资金流向图 Money trail</h2>");
    let _ = writeln!(
        out,
        "<p class=\"note\">左起：受害人，然后按层级的账户；每条线是一笔转账，标注金额与时间，颜色区分案件；\
         粗线为流入被分配账户的受害人资金。From the left: the victims, then the accounts level by level; \
         each line is a transfer with its amount and time, coloured by case; bold lines carry the victims' \
         money into the allocated accounts.</p>"
    );
    out.push_str("<div class=\"legend\">");
    for state in HopState::ALL.iter().rev() {
        let (fill, stroke) = state_colours(state.name());
        let _ = write!(
            out,
            "<span><i class=\"swatch\" style=\"background:{fill};border-color:{stroke}\"></i>{}</span>",
            state.label()
        );
    }
    out.push_str("<span><i class=\"swatch\" style=\"background:#fff;border:3px solid #b8860b\"></i>★ 被分配账户 allocated account</span>");
    out.push_str("</div>\n<div class=\"legend\">");
    for (c, case) in graph.cases.iter().enumerate() {
        let _ =
            write!(out, "<span><i class=\"line\" style=\"background:{}\"></i>{}</span>", case_colour(c), escape(case));
    }
    if graph.cases.len() > CASE_COLOURS.len() {
        let _ = write!(out, "<span class=\"note\">(colours repeat every {} cases)</span>", CASE_COLOURS.len());
    }
    out.push_str("</div>\n<div class=\"graph\">\n");
    out.push_str(&draw(report, graph));
    out.push_str("</div>\n");
}

fn hops(out: &mut String, report: &FundFlow) {
    let _ = writeln!(out, "<h2>资金节点明细 Every hop</h2>");
    let _ = writeln!(
        out,
        "<table class=\"hops\">\n<tr><th>案件 Case</th><th class=\"num\">节点 Hop</th><th class=\"num\">上级 From hop</th>\
         <th class=\"num\">层级 Level</th><th>去向 To</th><th class=\"num\">金额 Amount</th><th>时间 At</th>\
         <th>交易号 Transfer</th><th>状态 State</th><th class=\"num\">在控 Held</th><th>说明 Note</th></tr>"
    );
    let mut order: Vec<&super::model::TrailHop> = report.trail.iter().collect();
    order.sort_by(|a, b| (&a.case_id, a.hop).cmp(&(&b.case_id, b.hop)));
    for hop in order {
        let to = match &hop.via_order {
            Some(order) => format!("{} (经订单 via order {})", escape(&hop.to), escape(order)),
            None => escape(&hop.to),
        };
        let parent = hop.parent.map_or("受害人 victim".to_owned(), |p| p.to_string());
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{parent}</td><td class=\"num\">{}</td>\
             <td class=\"mono\">{to}</td><td class=\"num\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            escape(hop.case_id.as_str()),
            hop.hop,
            hop.depth,
            yuan(hop.amount_fen),
            time_element(hop.at_ms),
            escape(hop.transfer_id.as_deref().unwrap_or("—")),
            hop.state.label(),
            yuan(hop.held_fen),
            escape(hop.note.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table>\n");
}
