//! One allocation in the report: the rule applied and why (its fallback), the totals that
//! must add up, each victim's share and how every part of it was computed, the deposits as
//! found in the statement, then the approvals, objections and returns.

use std::fmt::Write as _;

use super::format::{escape, time_element, yuan};
use super::graph::Graph;
use super::model::AllocationSection;
use crate::core::{FallbackReason, Found, Limit, Part, Portion, Rule, Share, Step};

/// Writes allocation number `index` of the report. Statement entries are numbered from 1, as
/// a statement printed for the reader is (the core counts from 0).
pub fn render(out: &mut String, index: usize, section: &AllocationSection, graph: &Graph) {
    let allocation = &section.allocation;
    let _ = writeln!(
        out,
        "<section class=\"allocation\" id=\"allocation-{index}\">\n<h2>分配 Allocation {} (第 {} 版 version {}) — 账户 account <span class=\"mono\">{}</span></h2>",
        escape(&section.id),
        section.version,
        section.version,
        escape(allocation.account.as_str())
    );
    let _ = writeln!(
        out,
        "<table class=\"meta\"><tr><td>状态 State</td><td>{}</td></tr><tr><td>提出 Proposed</td><td>{}</td></tr>\
         <tr><td>公示截止 Notice ends</td><td>{}</td></tr>",
        escape(&section.state),
        time_element(section.proposed_at_ms),
        time_element(section.notice_ends_at_ms)
    );
    let statement = match &allocation.statement {
        Some(s) => format!(
            "{} 条 entries, {} – {}; 期初 opening {}, 期末 closing {}",
            s.entries,
            time_element(s.first_at_ms),
            time_element(s.last_at_ms),
            yuan(s.opening_balance_fen),
            yuan(s.closing_balance_fen)
        ),
        None => "未读取 none read: only the deposits' amounts and times are known".to_owned(),
    };
    let _ = writeln!(out, "<tr><td>流水 Statement</td><td>{statement}</td></tr></table>");

    let _ = writeln!(
        out,
        "<h3>适用规则 Rule applied: {}</h3>\n<p>{}</p>",
        rule_title(allocation.rule),
        rule_why(allocation.rule)
    );
    match &allocation.fallback {
        Some(fallback) => {
            let reason = match fallback.reason {
                FallbackReason::Undecided => {
                    "时间戳不能确定 the statement's timestamps do not decide whose money is left"
                }
                FallbackReason::NoStatement => "无流水 no statement was read",
            };
            let _ = writeln!(
                out,
                "<p><b>兜底 Fallback:</b> {reason}; {} 名受害人的资金可能在账户中 victims whose money can be there; \
                 {} 按转入金额比例分配 shared pro rata by traced money.</p>",
                fallback.contenders,
                yuan(fallback.shared_fen)
            );
        }
        None if allocation.rule == Rule::TimestampTrace => {
            let _ = writeln!(out, "<p><b>兜底 Fallback:</b> 无 none: the statement decided every fen.</p>");
        }
        None => {}
    }

    totals(out, section);
    shares(out, section, graph);
    approvals(out, section);
    objections(out, section);
    returns(out, section);
    out.push_str("</section>\n");
}

fn rule_title(rule: Rule) -> String {
    let chinese = match rule {
        Rule::TimestampTrace => "时间戳追溯",
        Rule::ProRata => "按比例",
        Rule::Fifo => "先进先出",
        Rule::LowestIntermediateBalance => "最低中间余额",
    };
    format!("{chinese} <span class=\"mono\">{}</span>", rule.name())
}

fn rule_why(rule: Rule) -> &'static str {
    match rule {
        Rule::TimestampTrace => {
            "能按时间戳追溯到某一受害人的资金退还该受害人；不能确定的，按各受害人转入该账户的金额比例分配。\
             Money the statement's times and balances trace to one victim goes back to that victim; no victim \
             gets more than the lowest balance since their deposits allows; where the statement does not decide, \
             the rest is shared pro rata by the money each victim traced into the account."
        }
        Rule::ProRata => {
            "按各受害人转入该账户的金额比例分配，不读流水。Shared pro rata by the money each victim traced into the \
             account; the statement is not read."
        }
        Rule::Fifo => {
            "先进先出：最早转入的资金最先转出，冻结的是最后转入的资金，从最新一笔起分配。First in, first out: the \
             earliest money left first, so what is frozen is the latest money, given back newest lot first."
        }
        Rule::LowestIntermediateBalance => {
            "最低中间余额：他人资金先转出时各受害人资金在账户中的上限，按上限比例分配。Each victim's lowest \
             intermediate balance (other money taken as leaving first) bounds their share; the frozen money is \
             shared pro rata by these bounds."
        }
    }
}

fn totals(out: &mut String, section: &AllocationSection) {
    let allocation = &section.allocation;
    let totals = section.totals();
    let verdict = if totals.adds_up {
        "<span class=\"ok\">✓ 平衡 adds up</span>".to_owned()
    } else {
        "<span class=\"bad\">✗ 不平衡 does not add up: this report's data is wrong</span>".to_owned()
    };
    let _ = writeln!(
        out,
        "<h3>合计 Totals {verdict}</h3>\n<table class=\"totals\">\
         <tr><td>冻结 Frozen</td><td class=\"num\">{}</td></tr>\
         <tr><td>已分配 Allocated (the shares' sum {})</td><td class=\"num\">{}</td></tr>\
         <tr><td>未分配：超出受害人资金 Unallocated: beyond the victims' money</td><td class=\"num\">{}</td></tr>\
         <tr><td>未分配：受上限限制 Unallocated: held back by caps</td><td class=\"num\">{}</td></tr>\
         <tr class=\"sum\"><td>已分配 + 未分配 Allocated + unallocated</td><td class=\"num\">{}</td></tr>\
         <tr><td>返还指令合计 Returns instructed</td><td class=\"num\">{}</td></tr></table>",
        yuan(totals.frozen_fen),
        yuan(totals.shares_fen),
        yuan(totals.allocated_fen),
        yuan(allocation.unallocated.beyond_victims_fen),
        yuan(allocation.unallocated.held_back_by_caps_fen),
        yuan(totals.allocated_fen.saturating_add(totals.unallocated_fen)),
        yuan(totals.returns_fen),
    );
}

fn shares(out: &mut String, section: &AllocationSection, graph: &Graph) {
    let _ = writeln!(
        out,
        "<h3>各受害人份额 Each victim's share</h3>\n<table class=\"shares\"><tr><th>案件 Case</th>\
         <th class=\"num\">转入 Traced in</th><th class=\"num\">权重 Basis</th><th class=\"num\">上限 Bound</th>\
         <th class=\"num\">可得 Cap</th><th class=\"num\">份额 Share</th><th>计算 How it was computed</th>\
         <th>转入明细 Deposits (where found)</th></tr>"
    );
    for share in &section.allocation.shares {
        let colour =
            graph.cases.iter().position(|c| c == share.case_id.as_str()).map_or("#999", super::svg::case_colour);
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\"><i class=\"line\" style=\"background:{colour}\"></i>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\"><b>{}</b></td>\
             <td>{}</td><td>{}</td></tr>",
            escape(share.case_id.as_str()),
            yuan(share.traced_in_fen),
            yuan(share.basis_fen),
            yuan(share.bound_fen),
            yuan(share.cap_fen),
            yuan(share.fen),
            parts(share),
            deposits(share),
        );
    }
    out.push_str("</table>\n");
}

fn parts(share: &Share) -> String {
    if share.parts.is_empty() {
        return "无 nothing: no step of the rule reaches this victim's money".to_owned();
    }
    let mut out = String::from("<ul class=\"parts\">");
    for part in &share.parts {
        let _ = write!(out, "<li>{}: <b>{}</b> — {}</li>", step(part), yuan(part.fen), portion(part));
    }
    out.push_str("</ul>");
    out
}

fn step(part: &Part) -> String {
    match part.step {
        Step::TimestampSole => "时间戳唯一 timestamp, sole (only this victim's money can be left)".to_owned(),
        Step::TimestampBound => "时间戳上限 timestamp, bound (all of theirs that can be left)".to_owned(),
        Step::TimestampProRata => "时间戳未决按比例 timestamp, pro rata (the timestamps do not decide)".to_owned(),
        Step::ProRata => "按比例 pro rata".to_owned(),
        Step::LowestIntermediateBalance => "最低中间余额 lowest intermediate balance".to_owned(),
        Step::Fifo { entry: Some(entry), at_ms } => {
            format!("先进先出 FIFO lot of statement entry {} ({})", u64::from(entry) + 1, time_element(at_ms))
        }
        Step::Fifo { entry: None, at_ms } => {
            format!("先进先出 FIFO lot outside the statement ({})", time_element(at_ms))
        }
    }
}

fn portion(part: &Part) -> String {
    match part.portion {
        Portion::Whole { limit: Limit::Bound } => "全额（上限）the whole of the rule's bound".to_owned(),
        Portion::Whole { limit: Limit::Cap } => {
            "全额（可得上限）the whole of the cap: loss less what was given elsewhere".to_owned()
        }
        Portion::Fraction { of_fen, weight_fen, total_weight_fen, floor_fen, remainder, leftover_fen } => {
            let leftover = if leftover_fen.is_zero() {
                String::new()
            } else {
                format!(" + {} 余数分配 a fen left over (largest remainder)", yuan(leftover_fen))
            };
            format!(
                "{} × {} ÷ {} = {} + {remainder}/{} fen{leftover}",
                yuan(of_fen),
                yuan(weight_fen),
                yuan(total_weight_fen),
                yuan(floor_fen),
                total_weight_fen.get()
            )
        }
    }
}

fn deposits(share: &Share) -> String {
    let mut out = String::from("<ul class=\"parts\">");
    for deposit in &share.deposits {
        let found = match deposit.found {
            Found::Entry { index } => {
                let number = u64::from(index) + 1;
                format!("流水第 {number} 条 statement entry {number}")
            }
            Found::BeforeStatement => "流水之前 before the statement".to_owned(),
            Found::AfterStatement => "流水之后 after the statement".to_owned(),
            Found::NotInStatement => "<span class=\"bad\">流水中无 not in the statement</span>".to_owned(),
            Found::NoStatement => "无流水 no statement".to_owned(),
        };
        let transfer = deposit.transfer_id.as_deref().map(|t| format!(" <span class=\"mono\">{}</span>", escape(t)));
        let _ = write!(
            out,
            "<li>{} {}{}: {found}</li>",
            yuan(deposit.amount_fen),
            time_element(deposit.at_ms),
            transfer.unwrap_or_default()
        );
    }
    out.push_str("</ul>");
    out
}

fn approvals(out: &mut String, section: &AllocationSection) {
    let _ = writeln!(out, "<h3>审批 Approvals ({})</h3>", section.approvals.len());
    if section.approvals.is_empty() {
        out.push_str("<p class=\"note\">尚无 none yet</p>\n");
        return;
    }
    out.push_str("<table><tr><th>审批人 By</th><th>密钥 Key</th><th>时间 At</th></tr>\n");
    for approval in &section.approvals {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            escape(&approval.by),
            escape(&approval.key),
            time_element(approval.at_ms)
        );
    }
    out.push_str("</table>\n");
}

fn objections(out: &mut String, section: &AllocationSection) {
    let _ = writeln!(out, "<h3>异议 Objections ({})</h3>", section.objections.len());
    if section.objections.is_empty() {
        out.push_str("<p class=\"note\">无 none</p>\n");
        return;
    }
    out.push_str("<table><tr><th>提出人 By</th><th>理由 Reason</th><th>时间 At</th><th>答复 Answer</th></tr>\n");
    for objection in &section.objections {
        let answer = match &objection.answer {
            Some(answer) => {
                format!("{} ({}, {})", escape(&answer.reason), escape(&answer.by), time_element(answer.at_ms))
            }
            None => "<span class=\"bad\">未答复 not answered yet</span>".to_owned(),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{answer}</td></tr>",
            escape(&objection.by),
            escape(&objection.reason),
            time_element(objection.at_ms)
        );
    }
    out.push_str("</table>\n");
}

fn returns(out: &mut String, section: &AllocationSection) {
    let _ = writeln!(out, "<h3>原路返还 Returns ({})</h3>", section.returns.len());
    if section.returns.is_empty() {
        out.push_str("<p class=\"note\">尚未指令 none instructed yet</p>\n");
        return;
    }
    out.push_str(
        "<table><tr><th>案件 Case</th><th class=\"num\">金额 Amount</th><th>返还账户 To (masked)</th>\
         <th>状态 State</th><th>交易号 Transfer</th><th>执行时间 Executed</th></tr>\n",
    );
    for line in &section.returns {
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"mono\">{}</td><td>{}</td>\
             <td class=\"mono\">{}</td><td>{}</td></tr>",
            escape(line.case_id.as_str()),
            yuan(line.amount_fen),
            escape(&line.to_account_masked),
            escape(&line.state),
            escape(line.transfer_id.as_deref().unwrap_or("—")),
            line.executed_at_ms.map_or("—".to_owned(), time_element)
        );
    }
    out.push_str("</table>\n");
}
