//! Filing a report (intake officer): the victim, the fraud type, the payments one a line, the
//! scammer's numbers and sites, the victim's words. The form is read into intake's report
//! (JSON) and sent as the officer; intake validates it and answers with the case id (the page
//! then shows the case, whose trail fills in live) or with every problem, each naming its
//! field, shown above the form as it was typed. Nothing of it is logged but the case id.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use domain::calendar::UtcOffset;
use domain::{FraudType, Service, TimeMs};
use maud::{Markup, html};
use protocol::intake::{self as itk, ReportAccepted, ReportResponse};
use serde::Deserialize;

use super::Console;
use super::auth::Staff;
use super::labels::Lang;
use super::limits::{ASK_TIMEOUT, MAX_TEXT_CHARS};
use super::view::{self, notice, respond};
use super::words;

/// Payments one report lists at most (intake checks its own bound too).
const MAX_FORM_TRANSFERS: usize = 50;
/// Contacts of one kind one report lists at most.
const MAX_FORM_CONTACTS: usize = 20;

/// What the officer typed.
#[derive(Default, Deserialize)]
pub struct ReportForm {
    #[serde(default)]
    form: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id_number: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    fraud_type: String,
    /// One payment a line: `<bank>:<account> <yuan> [<local date and time>]`.
    #[serde(default)]
    transfers: String,
    /// One number a line.
    #[serde(default)]
    phones: String,
    /// One site a line.
    #[serde(default)]
    urls: String,
    #[serde(default)]
    narrative: String,
}

impl std::fmt::Debug for ReportForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportForm").finish_non_exhaustive()
    }
}

pub async fn page(State(console): State<Console>, headers: HeaderMap) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if let Err(response) = console.permit(&staff, Service::Intake, itk::VERB_REPORT, "report form") {
        return response;
    }
    render(&console, &staff, &ReportForm::default(), None, StatusCode::OK)
}

fn render(
    console: &Console,
    staff: &Staff,
    typed: &ReportForm,
    problems: Option<Markup>,
    status: StatusCode,
) -> Response {
    let lang = staff.lang;
    let token = console.form(staff);
    let body = html! {
        @if let Some(problems) = problems { (problems) }
        form.report method="post" action="/file" autocomplete="off" {
            input type="hidden" name="form" value=(token);
            fieldset {
                legend { (lang.t("victim")) }
                label { (label(lang, "姓名", "Name")) " " input name="name" value=(typed.name) required maxlength="64"; }
                " " label { (label(lang, "身份证号", "ID number")) " " input name="id_number" value=(typed.id_number) required maxlength="32"; }
                " " label { (label(lang, "电话", "Phone")) " " input name="phone" value=(typed.phone) required maxlength="32"; }
            }
            p { label { (lang.t("fraud_type")) " "
                select name="fraud_type" {
                    @for t in FraudType::ALL { option value=(t.as_str()) selected[typed.fraud_type == t.as_str()] { (words::fraud_type(lang, t)) } }
                }
            } }
            p { label { (label(lang, "转账（每行：账户 金额（元） 时间）", "Payments (a line each: account yuan time)")) br;
                textarea name="transfers" rows="4" cols="70" required placeholder="icbc:6222020200001234 5000.00 2025-03-14 09:00" { (typed.transfers) } } }
            p { label { (label(lang, "诈骗电话（每行一个）", "Scammer's numbers (a line each)")) br;
                textarea name="phones" rows="2" cols="40" { (typed.phones) } } }
            p { label { (label(lang, "诈骗网址（每行一个）", "Scam sites (a line each)")) br;
                textarea name="urls" rows="2" cols="40" { (typed.urls) } } }
            p { label { (label(lang, "案情", "What happened")) br;
                textarea name="narrative" rows="4" cols="70" maxlength=(MAX_TEXT_CHARS) { (typed.narrative) } } }
            button type="submit" { (label(lang, "提交报案", "File the report")) }
        }
    };
    let viewer = console.viewer(staff);
    respond(status, view::page(Some(&viewer), lang, &label(lang, "报案登记", "File a report"), None, body))
}

fn label(lang: Lang, zh: &str, en: &str) -> String {
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// A form problem: the field, the value, what is accepted.
fn problem(field: &str, value: &str, expected: &str) -> String {
    let value: String = value.chars().take(60).collect();
    format!("{field}: got {value:?}, expected {expected}")
}

/// The report's JSON from the form, or every problem found.
pub fn to_report(typed: &ReportForm, tz: UtcOffset, now_ms: TimeMs) -> Result<serde_json::Value, Vec<String>> {
    let mut problems = Vec::new();
    let mut transfers = Vec::new();
    let lines: Vec<&str> = typed.transfers.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        problems.push(problem("transfers", "", "at least one line: <bank>:<account> <yuan> [<date time>]"));
    }
    if lines.len() > MAX_FORM_TRANSFERS {
        problems.push(problem(
            "transfers",
            &format!("{} lines", lines.len()),
            &format!("at most {MAX_FORM_TRANSFERS}"),
        ));
    }
    for (n, line) in lines.iter().take(MAX_FORM_TRANSFERS).enumerate() {
        let field = format!("transfers line {}", n + 1);
        let mut parts = line.splitn(3, char::is_whitespace);
        let (account, amount, when) = (parts.next().unwrap_or_default(), parts.next(), parts.next());
        let Some(fen) = amount.and_then(yuan_to_fen) else {
            problems.push(problem(&field, line, "<bank>:<account> <yuan, at most 2 decimals> [<date time>]"));
            continue;
        };
        let at_ms = match when.map(str::trim).filter(|w| !w.is_empty()) {
            None => now_ms,
            Some(when) => match tz.moment(when) {
                Ok(at) => at,
                Err(expected) => {
                    problems.push(problem(&field, when, &expected));
                    continue;
                }
            },
        };
        transfers.push(serde_json::json!({"account": account, "amount_fen": fen, "at_ms": at_ms}));
    }
    let list = |text: &str, field: &str, problems: &mut Vec<String>| -> Vec<String> {
        let items: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
        if items.len() > MAX_FORM_CONTACTS {
            problems.push(problem(field, &format!("{} lines", items.len()), &format!("at most {MAX_FORM_CONTACTS}")));
        }
        items.into_iter().take(MAX_FORM_CONTACTS).collect()
    };
    let phones = list(&typed.phones, "phones", &mut problems);
    let urls = list(&typed.urls, "urls", &mut problems);
    if typed.narrative.chars().count() > MAX_TEXT_CHARS {
        problems.push(problem("narrative", "…", &format!("at most {MAX_TEXT_CHARS} characters")));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(serde_json::json!({
        "victim": {"name": typed.name.trim(), "id_number": typed.id_number.trim(), "phone": typed.phone.trim()},
        "fraud_type": typed.fraud_type,
        "transfers": transfers,
        "contacts": {"phones": phones, "urls": urls, "apps": [], "social": []},
        "narrative": typed.narrative.trim(),
    }))
}

/// `5000`, `5000.5`, `5,000.00` yuan in fen; none for anything else or an overflow.
fn yuan_to_fen(text: &str) -> Option<u64> {
    let text: String = text.chars().filter(|c| *c != ',').collect();
    let (whole, cents) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty()
        || cents.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !cents.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let cents = format!("{cents:0<2}").parse::<u64>().ok()?;
    whole.parse::<u64>().ok()?.checked_mul(100)?.checked_add(cents)
}

pub async fn file(State(console): State<Console>, headers: HeaderMap, Form(typed): Form<ReportForm>) -> Response {
    let staff = match console.poster(&headers, &typed.form, (Service::Intake, itk::VERB_REPORT), "file a report") {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let lang = staff.lang;
    let shown = |problems: Vec<String>| {
        html! { div.notice.error role="alert" { ul { @for p in &problems { li { (p) } } } } }
    };
    let report = match to_report(&typed, console.tz(), console.now_ms()) {
        Ok(report) => report,
        Err(problems) => return render(&console, &staff, &typed, Some(shown(problems)), StatusCode::BAD_REQUEST),
    };
    let Some(city) = console.city() else { return console.refusal(&staff, StatusCode::NOT_FOUND, "not_allowed") };
    let subject = protocol::subjects::command(city, Service::Intake, itk::VERB_REPORT);
    let body = serde_json::to_vec(&report).expect("a report serializes");
    let Ok(Ok(answer)) = tokio::time::timeout(ASK_TIMEOUT, staff.client.request(subject, body.into())).await else {
        let problems = Some(notice("error", lang.t("unavailable")));
        return render(&console, &staff, &typed, problems, StatusCode::SERVICE_UNAVAILABLE);
    };
    match serde_json::from_slice::<ReportResponse>(&answer.payload) {
        Ok(protocol::Reply::Ok(ReportAccepted { case_id, duplicate })) => {
            tracing::info!(target: "afc::console::audit", who = %staff.who, case = %case_id, duplicate, "filed a report");
            Redirect::to(&format!("/case/{case_id}")).into_response()
        }
        Ok(protocol::Reply::Error(error)) => {
            let mut problems: Vec<String> = error.problems.iter().map(ToString::to_string).collect();
            if problems.is_empty() {
                problems.push(error.message.clone());
            }
            render(&console, &staff, &typed, Some(shown(problems)), StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(_) => console.refusal(&staff, StatusCode::BAD_GATEWAY, "unavailable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: TimeMs = 1_741_914_000_000;

    fn typed(transfers: &str) -> ReportForm {
        ReportForm {
            name: "王芳".into(),
            id_number: "33070219800101002X".into(),
            phone: "13900001111".into(),
            fraud_type: "impersonating_authorities".into(),
            transfers: transfers.into(),
            phones: "+86 170 0000 1111\n".into(),
            ..ReportForm::default()
        }
    }

    #[test]
    fn a_form_becomes_intake_s_report_with_amounts_in_fen_and_times_on_the_local_clock() {
        let report = to_report(
            &typed("icbc:6222020200001234 5,000.5 2025-03-14 09:00\nccb:6217000000000002 12"),
            UtcOffset::CHINA,
            NOW,
        )
        .unwrap();
        let transfers = report["transfers"].as_array().unwrap();
        assert_eq!(transfers[0]["amount_fen"], 500_050);
        assert_eq!(transfers[0]["at_ms"], 1_741_914_000_000u64, "09:00 in China is 01:00 UTC");
        assert_eq!(transfers[1]["amount_fen"], 1200);
        assert_eq!(transfers[1]["at_ms"], NOW, "no time: now");
        assert_eq!(report["contacts"]["phones"][0], "+86 170 0000 1111");
    }

    #[test]
    fn every_bad_line_is_named_and_nothing_is_sent() {
        let problems =
            to_report(&typed("icbc:1 abc\nicbc:2 1.234\nicbc:3 5 yesterday"), UtcOffset::CHINA, NOW).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("transfers line 1: got \"icbc:1 abc\""), "{problems:?}");
        assert!(problems[2].contains("yesterday"), "{problems:?}");
        assert!(to_report(&typed(""), UtcOffset::CHINA, NOW).is_err());
        assert_eq!(yuan_to_fen("184467440737095516.16"), None, "overflow refused");
    }
}
