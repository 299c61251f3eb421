//! The console's words in Chinese and English. A page asks for a label by key; the table
//! holds each key once with both languages. What staff or victims wrote is never translated
//! (and always escaped).

/// The language of a session's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// `zh` or `en` (also `zh-CN`, `en-GB`, …); anything else is none.
    pub fn parse(text: &str) -> Option<Lang> {
        let lower = text.trim().to_ascii_lowercase();
        if lower == "zh" || lower.starts_with("zh-") {
            Some(Lang::Zh)
        } else if lower == "en" || lower.starts_with("en-") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The other language (the switch in the page header).
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The label `key` in this language; the key itself if the table lacks it (a test keeps
    /// the table whole).
    pub fn t(self, key: &str) -> &str {
        match LABELS.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => key,
        }
    }
}

/// Key, Chinese, English.
pub const LABELS: &[(&str, &str, &str)] = &[
    ("console", "反诈中心工作台", "Anti-fraud center console"),
    ("province_console", "省反诈工作台", "Province anti-fraud console"),
    ("login", "登录", "Log in"),
    ("logout", "退出", "Log out"),
    ("name", "身份名", "Identity"),
    ("key", "密钥", "Key (seed)"),
    (
        "login_hint",
        "用本人身份的密钥文件（.nk）内容登录。",
        "Log in with the contents of your identity's key file (.nk).",
    ),
    ("expired", "会话已过期，请重新登录。", "Your session expired; log in again."),
    ("logged_out", "已退出。", "You have logged out."),
    ("role", "角色", "Role"),
    ("role_intake", "接警民警", "Intake officer"),
    ("role_bank_liaison", "银行驻场人员", "Bank liaison"),
    ("role_carrier_liaison", "运营商驻场人员", "Carrier liaison"),
    ("role_dissuasion", "劝阻专员", "Dissuasion staff"),
    ("role_approver", "审批/会计", "Approver / accountant"),
    ("role_province", "省反诈办", "Province officer"),
    ("search", "查询", "Search"),
    ("search_hint", "案件编号、账户、电话号码或网址", "Case id, account, phone number or domain"),
    ("cases", "案件", "Cases"),
    ("file_report", "报案登记", "File a report"),
    ("case", "案件", "Case"),
    ("no_match", "没有找到匹配的案件。", "No case matches."),
    ("fraud_type", "诈骗类型", "Fraud type"),
    ("reported_at", "报案时间", "Reported"),
    ("loss", "损失", "Loss"),
    ("stopped", "止付", "Stopped"),
    ("frozen", "冻结", "Frozen"),
    ("held", "已拦截", "Held"),
    ("cashed_out", "已取现", "Cashed out"),
    ("time_to_freeze", "止付用时", "Time to freeze"),
    ("trail", "资金链路", "Money trail"),
    ("trail_tree", "链路明细", "Trail, hop by hop"),
    ("timeline", "时间线", "Timeline"),
    ("victim", "受害人", "Victim"),
    ("account", "账户", "Account"),
    ("amount", "金额", "Amount"),
    ("state", "状态", "State"),
    ("after_report", "报案后", "After report"),
    ("when", "时间", "When"),
    ("what", "事项", "What"),
    ("blocks", "封堵", "Blocks"),
    ("block_check", "封堵查询", "Check a block"),
    ("identifier", "号码/网址", "Number or domain"),
    ("kind", "类型", "Kind"),
    ("blocked", "已封堵", "Blocked"),
    ("not_blocked", "未封堵", "Not blocked"),
    ("since", "起", "Since"),
    ("expires", "到期", "Expires"),
    ("carriers", "运营商", "Carriers"),
    ("lift", "解除封堵", "Lift the block"),
    ("reason", "理由", "Reason"),
    ("tasks", "劝阻队列", "Dissuasion queue"),
    ("warnings", "劝阻预警", "Warnings"),
    ("task", "任务", "Task"),
    ("queue", "队列", "Queue"),
    ("next_task", "领取下一个", "Take the next"),
    ("claim", "认领", "Claim"),
    ("complete", "完成", "Complete"),
    ("outcome", "结果", "Outcome"),
    ("note", "备注", "Note"),
    ("due", "期限", "Due"),
    ("overdue", "已超时", "Overdue"),
    ("person", "对象", "Person"),
    ("status", "状态", "Status"),
    ("claimed_by", "认领人", "Claimed by"),
    ("returns", "返还", "Returns"),
    ("allocation", "分配方案", "Allocation"),
    ("phase", "阶段", "Phase"),
    ("notice_ends", "公示截止", "Notice ends"),
    ("shares", "分配明细", "Shares"),
    ("approvals", "审批", "Approvals"),
    ("approve", "批准", "Approve"),
    ("object", "提出异议", "Object"),
    ("objections", "异议", "Objections"),
    ("fund_flow", "资金流向报告", "Fund-flow report"),
    ("rule", "规则", "Rule"),
    ("province_board", "全省通报", "Province board"),
    ("period", "期间", "Period"),
    ("city", "城市", "City"),
    ("ranking", "排名", "Ranking"),
    ("cross_city", "跨市账户", "Cross-city accounts"),
    ("convergence", "同步状态", "Convergence"),
    ("gaps", "缺口", "Gaps"),
    ("in_sync", "已同步", "In sync"),
    ("refused", "已拒绝", "Refused"),
    ("not_allowed", "您的角色不能执行此操作。", "Your role may not do this."),
    (
        "stale_form",
        "此表单已提交过或已失效，未做任何更改。请刷新页面。",
        "This form was already sent or is stale; nothing was changed. Reload the page.",
    ),
    ("other_city", "该案件属于其他城市。", "That case belongs to another city."),
    ("unavailable", "服务暂时无应答，请稍后再试。", "The service did not answer; try again shortly."),
    ("done", "已完成。", "Done."),
    ("live", "实时", "Live"),
    ("more", "更多", "More"),
    ("none", "无", "None"),
    ("language", "English", "中文"),
    ("at_risk", "即将失效", "At risk"),
    ("queued", "轮候冻结", "Queued"),
    ("following", "追踪中", "Following"),
    ("failed", "失败", "Failed"),
    ("province_total", "全省", "Province"),
    ("stopped_frozen_accounts", "止付 / 冻结账户", "Accounts stopped / frozen"),
    ("ttf_p50_p90", "止付用时 p50 / p90（秒）", "Time to freeze p50 / p90 (s)"),
    ("notices_pending", "待送达通报", "Notices pending"),
    ("frozen_share", "冻结占比 %", "Frozen %"),
    ("traced_in", "流入", "Traced in"),
    ("ready", "待处理", "Ready"),
    ("waiting", "等待中", "Waiting"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_has_both_languages_once() {
        let mut keys = std::collections::BTreeSet::new();
        for (key, zh, en) in LABELS {
            assert!(keys.insert(*key), "{key} twice");
            assert!(!zh.is_empty() && !en.is_empty(), "{key}");
        }
        assert_eq!(Lang::Zh.t("login"), "登录");
        assert_eq!(Lang::En.t("login"), "Log in");
        assert_eq!(Lang::parse("en-GB"), Some(Lang::En));
        assert_eq!(Lang::parse("<script>"), None);
    }
}
