//! The services' words in the staff's language: fraud types, a timeline's steps, a hop's
//! state, blocking's entries, a task's queue, grade, state and outcome, a case's state. The
//! services answer with stable English tokens (`traced`, `closed:persuaded`); the pages show
//! them in Chinese or English. A token this table does not know (a newer service's) is shown
//! as it came, never dropped.

use domain::FraudType;
use protocol::blocking::{CaseEntryKind, OrderState};
use protocol::intake::{CaseStatus, MatchSource, SearchKind, TimelineKind};

use super::labels::Lang;
use crate::cli::trail::{Node, State};

/// `zh` or `en`, as `lang` reads.
pub fn pick(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

pub fn fraud_type(lang: Lang, fraud_type: FraudType) -> &'static str {
    match fraud_type {
        FraudType::OnlineLoan => pick(lang, "网络贷款", "Online loan"),
        FraudType::OrderBrushing => pick(lang, "刷单返利", "Order brushing"),
        FraudType::FakeCustomerService => pick(lang, "冒充电商物流客服", "Fake customer service"),
        FraudType::PigButchering => pick(lang, "杀猪盘（网络交友）", "Pig butchering"),
        FraudType::ImpersonatingAuthorities => pick(lang, "冒充公检法", "Impersonating authorities"),
        FraudType::StockTips => pick(lang, "虚假投资理财", "Stock tips"),
        FraudType::FakeEcommerce => pick(lang, "虚假购物", "Fake e-commerce"),
        FraudType::LuxuryBait => pick(lang, "虚假奢侈品", "Luxury bait"),
    }
}

pub fn timeline_kind(lang: Lang, kind: TimelineKind) -> &'static str {
    match kind {
        TimelineKind::Reported => pick(lang, "报案", "Reported"),
        TimelineKind::OrderResolved => pick(lang, "订单查明收款账户", "Order resolved"),
        TimelineKind::Stopped => pick(lang, "止付", "Stopped"),
        TimelineKind::Traced => pick(lang, "查明流向", "Traced"),
        TimelineKind::CashedOut => pick(lang, "已取现", "Cashed out"),
        TimelineKind::Frozen => pick(lang, "冻结", "Frozen"),
        TimelineKind::FreezeQueued => pick(lang, "轮候冻结", "Freeze queued"),
        TimelineKind::StopRenewed => pick(lang, "止付续期", "Stop renewed"),
        TimelineKind::HopFailed => pick(lang, "查询失败", "Hop failed"),
        TimelineKind::Retrying => pick(lang, "重新查询", "Asking again"),
        TimelineKind::TraceCompleted => pick(lang, "追踪完成", "Trace completed"),
        TimelineKind::FreezeRetrying => pick(lang, "重新冻结", "Freezing again"),
        TimelineKind::FreezeAtRisk => pick(lang, "止付即将失效", "Freeze at risk"),
        TimelineKind::ClaimRevised => pick(lang, "份额调整", "Claim revised"),
        TimelineKind::CrossCityClaims => pick(lang, "外市同账户止付", "Other cities' claims"),
    }
}

pub fn case_status(lang: Lang, status: CaseStatus) -> &'static str {
    match status {
        CaseStatus::Tracing => pick(lang, "追踪中", "Tracing"),
        CaseStatus::Traced => pick(lang, "追踪完成", "Traced"),
        CaseStatus::Holding => pick(lang, "止付中", "Holding"),
        CaseStatus::Frozen => pick(lang, "已冻结", "Frozen"),
        CaseStatus::AtRisk => pick(lang, "即将失效", "At risk"),
        CaseStatus::NothingHeld => pick(lang, "无资金拦截", "Nothing held"),
    }
}

pub fn search_kind(lang: Lang, kind: SearchKind) -> &'static str {
    match kind {
        SearchKind::Case => pick(lang, "案件编号", "Case id"),
        SearchKind::Account => pick(lang, "账户", "Account"),
        SearchKind::Phone => pick(lang, "电话号码", "Phone number"),
        SearchKind::Domain => pick(lang, "网址", "Site"),
    }
}

pub fn match_source(lang: Lang, source: MatchSource) -> &'static str {
    match source {
        MatchSource::Report => pick(lang, "报案内容", "The report"),
        MatchSource::Trail => pick(lang, "资金链路", "The trail"),
    }
}

pub fn block_entry(lang: Lang, kind: CaseEntryKind) -> &'static str {
    match kind {
        CaseEntryKind::Screened => pick(lang, "筛查", "Screened"),
        CaseEntryKind::Refused => pick(lang, "不予封堵", "Refused"),
        CaseEntryKind::Blocked => pick(lang, "封堵", "Blocked"),
        CaseEntryKind::Extended => pick(lang, "延长封堵", "Extended"),
        CaseEntryKind::PoolEntered => pick(lang, "纳入高风险库", "High-risk pool"),
        CaseEntryKind::PoolInvolved => pick(lang, "再次涉案", "Involved again"),
        CaseEntryKind::HolderReported => pick(lang, "查明开户人", "Holder reported"),
    }
}

pub fn order_state(lang: Lang, state: OrderState) -> &'static str {
    match state {
        OrderState::Pending => pick(lang, "待确认", "Pending"),
        OrderState::Confirmed => pick(lang, "已确认", "Confirmed"),
        OrderState::Failed => pick(lang, "失败", "Failed"),
    }
}

/// A task's queue: `sms`, `call`, `visit.<level>`.
pub fn queue(lang: Lang, queue: &str) -> String {
    let known = match queue {
        "sms" => Some(pick(lang, "预警短信", "SMS")),
        "call" => Some(pick(lang, "电话劝阻", "Call-back")),
        "visit.city_bureau" => Some(pick(lang, "上门劝阻·市局", "Visit: city bureau")),
        "visit.district_bureau" => Some(pick(lang, "上门劝阻·分局", "Visit: district bureau")),
        "visit.police_station" => Some(pick(lang, "上门劝阻·派出所", "Visit: police station")),
        "visit.community" => Some(pick(lang, "上门劝阻·社区", "Visit: community")),
        _ => None,
    };
    known.map_or_else(|| queue.to_owned(), str::to_owned)
}

pub fn grade(lang: Lang, grade: &str) -> String {
    let known = match grade {
        "low" => Some(pick(lang, "低风险", "Low")),
        "medium" => Some(pick(lang, "中风险", "Medium")),
        "high" => Some(pick(lang, "高风险", "High")),
        _ => None,
    };
    known.map_or_else(|| grade.to_owned(), str::to_owned)
}

/// The outcome of a call or a visit, or how a task closed.
pub fn outcome(lang: Lang, outcome: &str) -> String {
    let known = match outcome {
        "persuaded" => Some(pick(lang, "劝阻成功", "Persuaded")),
        "refused" => Some(pick(lang, "不听劝阻", "Refused")),
        "unreachable" => Some(pick(lang, "联系不上", "Unreachable")),
        "already_paid" => Some(pick(lang, "已被骗（代为报案）", "Already paid (report filed)")),
        "false_positive" => Some(pick(lang, "误报", "False positive")),
        "sms_delivered" => Some(pick(lang, "短信已送达", "SMS delivered")),
        _ => None,
    };
    known.map_or_else(|| outcome.to_owned(), str::to_owned)
}

/// A task's state: `ready`, `waiting`, `closed:<how>`.
pub fn task_status(lang: Lang, status: &str) -> String {
    match status.split_once(':') {
        Some(("closed", how)) => format!("{}: {}", pick(lang, "已结", "Closed"), outcome(lang, how)),
        _ => match status {
            "ready" => pick(lang, "待处理", "Ready").to_owned(),
            "waiting" => pick(lang, "等待中", "Waiting").to_owned(),
            "closed" => pick(lang, "已结", "Closed").to_owned(),
            other => other.to_owned(),
        },
    }
}

/// A filter of the queue's list: `open`, `ready`, `waiting`, `overdue`, `closed`, `all`.
pub fn task_filter(lang: Lang, filter: &str) -> String {
    match filter {
        "open" => pick(lang, "未结", "Open").to_owned(),
        "overdue" => pick(lang, "已超时", "Overdue").to_owned(),
        "all" => pick(lang, "全部", "All").to_owned(),
        other => task_status(lang, other),
    }
}

/// What holds a hop's money now (`Node::state_text` is the CLI's English).
pub fn hop_state(lang: Lang, node: &Node) -> String {
    if lang == Lang::En {
        return node.state_text();
    }
    let mut text = match &node.state {
        State::Following => "追踪中".to_owned(),
        State::Retrying => "重新查询（暂无应答）".to_owned(),
        State::Stopped { claim } if node.at_risk => format!("即将失效 {}，止付将到期", claim.grouped()),
        State::Stopped { claim } if claim.is_zero() => "已止付，无资金".to_owned(),
        State::Stopped { claim } if node.renewed => format!("已止付 {}（已续期）", claim.grouped()),
        State::Stopped { claim } => format!("已止付 {}", claim.grouped()),
        State::Frozen { fen } => format!("已冻结 {}", fen.grouped()),
        State::Queued { fen } => format!("轮候冻结 {}", fen.grouped()),
        State::FreezeFailed => "冻结失败".to_owned(),
        State::Failed => "查询失败（无应答）".to_owned(),
        State::NotFollowed(why) => format!("未追踪：{why}"),
    };
    if !node.cashed_out_fen.is_zero() {
        text.push_str(&format!("，已取现 {}", node.cashed_out_fen.grouped()));
    }
    if node.other_cities {
        text.push_str("，外市亦有止付");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_tokens_read_in_both_languages_and_an_unknown_one_as_it_came() {
        assert_eq!(task_status(Lang::Zh, "closed:persuaded"), "已结: 劝阻成功");
        assert_eq!(task_status(Lang::En, "closed:false_positive"), "Closed: False positive");
        assert_eq!(task_status(Lang::Zh, "closed:something_new"), "已结: something_new");
        assert_eq!(queue(Lang::Zh, "visit.community"), "上门劝阻·社区");
        assert_eq!(queue(Lang::En, "visit.moon_base"), "visit.moon_base");
        assert_eq!(grade(Lang::Zh, "high"), "高风险");
        assert_eq!(task_filter(Lang::Zh, "waiting"), "等待中");
        assert_eq!(task_filter(Lang::En, "all"), "All");
        for fraud in FraudType::ALL {
            assert_ne!(fraud_type(Lang::Zh, fraud), fraud_type(Lang::En, fraud), "{fraud:?}");
        }
    }
}
