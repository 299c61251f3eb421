//! The province board, on the hub: the joint meeting's table (通报) of a period, a row per
//! city and the province's totals, the cities to be called in; the ranking by share of loss
//! frozen as a chart; the latest cross-city accounts and province-wide blocks; and whether
//! every city's stream is whole at the province (gaps, notices a city is still to hear).
//! Asked of the coordinator as the province officer logged in.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use coordinator::core::Report;
use maud::{Markup, html};
use protocol::coordinator::{CoordinatorError, ReportRequest, Status, verb};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Console;
use super::auth::Staff;
use super::labels::Lang;
use super::limits::ASK_TIMEOUT;
use super::live::{Live, Topic};
use super::view::{self, money, notice, respond};
use super::words;
use domain::calendar::UtcOffset;

/// Notices the board shows, newest first.
const BOARD_NOTICES: usize = 20;

#[derive(Debug, Default, Deserialize)]
pub struct BoardQuery {
    #[serde(default)]
    period: Option<String>,
}

impl Console {
    /// Asks the coordinator's `verb` as `staff`.
    async fn ask_coordinator<Q: serde::Serialize, T: DeserializeOwned>(
        &self,
        staff: &Staff,
        verb: &str,
        request: &Q,
    ) -> Result<T, Response> {
        if !staff.role.coordinator_verbs().contains(&verb) {
            tracing::warn!(target: "afc::console::audit", who = %staff.who, role = %staff.role, verb, "refused: outside the role");
            return Err(self.refusal(staff, StatusCode::FORBIDDEN, "not_allowed"));
        }
        let subject = protocol::subjects::coordinator_command(verb);
        let body = serde_json::to_vec(request).expect("a request serializes");
        let answer = tokio::time::timeout(ASK_TIMEOUT, staff.client.request(subject, body.into())).await;
        let Ok(Ok(message)) = answer else {
            return Err(self.refusal(staff, StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        };
        match serde_json::from_slice::<protocol::Reply<T, CoordinatorError>>(&message.payload) {
            Ok(protocol::Reply::Ok(ok)) => Ok(ok),
            Ok(protocol::Reply::Error(error)) => {
                Err(self.failure(staff, StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()))
            }
            Err(_) => Err(self.refusal(staff, StatusCode::BAD_GATEWAY, "unavailable")),
        }
    }
}

pub async fn board(State(console): State<Console>, headers: HeaderMap, Query(query): Query<BoardQuery>) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    let mark = console.live().mark();
    let lang = staff.lang;
    let local = console.tz().local(console.now_ms());
    let period = query
        .period
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| format!("{:04}-{:02}", local.year, local.month));
    let status: Status = match console.ask_coordinator(&staff, verb::STATUS, &serde_json::json!({})).await {
        Ok(status) => status,
        Err(response) => return response,
    };
    let request = ReportRequest { period: period.clone(), margin_percent: None, city: None };
    // A period with nothing counted yet is not an error for the board: it says so.
    let report: Option<Report> = console.ask_coordinator(&staff, verb::REPORT, &request).await.ok();
    let body = html! {
        form.filters method="get" action="/province" {
            input name="period" value=(period) maxlength="16" aria-label=(lang.t("period"));
            " " button type="submit" { (lang.t("search")) }
        }
        @match &report {
            Some(report) => { (table(report, lang)) h2 { (lang.t("ranking")) } (ranking(report)) }
            None => { (notice("info", &format!("{period}: {}", lang.t("none")))) }
        }
        h2 { (lang.t("cross_city")) }
        (notices(&status.notices, lang, console.tz()))
        h2 { (lang.t("convergence")) }
        (convergence(&status, lang))
    };
    let viewer = console.viewer(&staff);
    respond(
        StatusCode::OK,
        view::page(
            Some(&viewer),
            lang,
            lang.t("province_board"),
            Some(Live { topic: Topic::Province, after: mark }),
            body,
        ),
    )
}

fn table(report: &Report, lang: Lang) -> Markup {
    let flagged = |row: &coordinator::core::report::Row| {
        row.city.as_ref().is_some_and(|c| report.flagged.iter().any(|f| &f.city == c))
    };
    html! {
        table.report {
            thead { tr {
                th { (lang.t("city")) } th { (lang.t("cases")) } th { (lang.t("loss")) } th { (lang.t("stopped")) }
                th { (lang.t("frozen")) } th { (lang.t("frozen_share")) } th { (lang.t("ttf_p50_p90")) } th { (lang.t("blocks")) } th { (lang.t("returns")) }
            } }
            tbody {
                @for row in report.rows.iter().chain(std::iter::once(&report.totals)) {
                    @let f = &row.figures;
                    tr class=(if flagged(row) { "alarm" } else { "" }) {
                        td { (row.city.as_ref().map_or(lang.t("province_total"), |c| c.as_str())) }
                        td.num { (f.reports) }
                        td.num { (money(f.reported_loss)) }
                        td.num { (money(f.money_stopped)) }
                        td.num { (money(f.money_frozen)) }
                        td.num { (row.frozen_share_bp.map_or("-".to_owned(), |bp| format!("{}.{:02}", bp / 100, bp % 100))) }
                        td.num { (row.time_to_freeze_s_p50.map_or("-".to_owned(), |s| s.to_string())) " / "
                                 (row.time_to_freeze_s_p90.map_or("-".to_owned(), |s| s.to_string())) }
                        td.num { (f.blocks) }
                        td.num { (money(f.money_returned)) }
                    }
                }
            }
        }
    }
}

/// The cities by share of loss frozen, best first, as bars.
fn ranking(report: &Report) -> Markup {
    let mut rows: Vec<(&str, u64)> =
        report.rows.iter().filter_map(|r| Some((r.city.as_ref()?.as_str(), r.frozen_share_bp?))).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let (bar, label, row_h) = (400u64, 120u64, 24u64);
    let height = row_h * rows.len() as u64 + 10;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(label + bar + 80) height=(height) role="img" {
            @for (i, (city, bp)) in rows.iter().enumerate() {
                @let y = i as u64 * row_h + 5;
                @let w = (bar * (*bp).min(10_000) / 10_000).max(1);
                text x="0" y=(y + 15) { (city) }
                rect x=(label) y=(y) width=(w) height=(row_h - 6) {}
                text x=(label + w + 6) y=(y + 15) { (format!("{}.{:02}%", bp / 100, bp % 100)) }
            }
        }
    }
}

/// The coordinator's latest notices to the cities, newest first: accounts that cases of
/// several cities stopped (with each city's case), and province-wide blocks and their
/// withdrawals. A notice of a kind this console does not know is counted, not dropped.
pub fn notices(notices: &[serde_json::Value], lang: Lang, tz: UtcOffset) -> Markup {
    let read: Vec<Option<Notice>> =
        notices.iter().rev().take(BOARD_NOTICES).map(|n| serde_json::from_value(n.clone()).ok()).collect();
    let unknown = read.iter().filter(|n| n.is_none()).count();
    html! {
        @if notices.is_empty() { p.dim { (lang.t("none")) } }
        table.notices {
            @for notice in read.iter().flatten() {
                @match notice {
                    Notice::CrossCity(n) => tr {
                        td { (view::local(tz, n.decided_at_ms)) }
                        td { (words::pick(lang, "跨市同账户", "Account of several cities")) }
                        td { (n.account.to_string()) }
                        td { @for claim in &n.claims { (claim.city.as_str()) " " span.dim { (claim.case_id) } br; } }
                    },
                    Notice::ProvinceBlock(n) => tr {
                        td { (view::local(tz, n.decided_at_ms)) }
                        td { (words::pick(lang, "全省封堵", "Province-wide block")) }
                        td { (n.identifier.to_string()) }
                        td { (n.cities.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")) " · " (words::fraud_type(lang, n.fraud_type)) }
                    },
                    Notice::ProvinceUnblock(n) => tr {
                        td { (view::local(tz, n.decided_at_ms)) }
                        td { (words::pick(lang, "撤销全省封堵", "Province-wide block withdrawn")) }
                        td { (n.identifier.to_string()) }
                        td { (words::pick(lang, "解封城市：", "lifted in ")) (n.lifted_in.as_str()) }
                    },
                }
            }
        }
        @if unknown > 0 {
            p.dim { (words::pick(lang, "另有通报（本工作台无法显示）：", "Notices of a kind this console does not show: ")) (unknown) }
        }
    }
}

/// A notice the coordinator sent, as its `status` lists them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Notice {
    CrossCity(events::province::CrossCityNotice),
    ProvinceBlock(events::province::ProvinceBlockNotice),
    ProvinceUnblock(events::province::ProvinceUnblockNotice),
}

fn convergence(status: &Status, lang: Lang) -> Markup {
    html! {
        table.convergence {
            thead { tr { th { (lang.t("city")) } th { (lang.t("gaps")) } th { (lang.t("notices_pending")) } th { (lang.t("state")) } } }
            tbody {
                @for city in &status.cities {
                    @let gaps: usize = status.producers.iter().filter(|p| p.producer.starts_with(&format!("{city}."))).map(|p| p.gaps.len()).sum();
                    @let pending = status.notices_pending.iter().find(|(c, _)| c == city).map_or(0, |(_, n)| *n);
                    tr class=(if gaps > 0 || pending > 0 { "alarm" } else { "" }) {
                        td { (city) } td.num { (gaps) } td.num { (pending) }
                        td { (if gaps == 0 && pending == 0 { lang.t("in_sync") } else { lang.t("gaps") }) }
                    }
                }
            }
        }
        p.dim { "AFC_PROVINCE #" (status.absorbed_stream_seq) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{AccountRef, CaseId, City, FraudType};
    use events::province::{CrossCityClaim, CrossCityNotice, ProvinceBlockNotice};

    #[test]
    fn the_coordinators_notices_read_as_accounts_and_blocks_of_several_cities() {
        let (hangzhou, wenzhou) = (City::parse("hangzhou").unwrap(), City::parse("wenzhou").unwrap());
        let account = AccountRef::parse("icbc:6222020200001234").unwrap();
        let claim = |city: &City, n| CrossCityClaim {
            city: city.clone(),
            case_id: CaseId::derive(city, n),
            first_stop_at_ms: 1_000 * n,
        };
        let cross = coordinator::core::Notice::CrossCity(CrossCityNotice {
            account: account.clone(),
            claims: vec![claim(&hangzhou, 1), claim(&wenzhou, 2)],
            decided_at_ms: 1_795_000_000_000,
        });
        let block = coordinator::core::Notice::ProvinceBlock(ProvinceBlockNotice {
            identifier: serde_json::from_value(serde_json::json!("phone:+8617100002222")).unwrap(),
            cities: vec![hangzhou.clone(), wenzhou.clone()],
            case_id: CaseId::derive(&hangzhou, 1),
            fraud_type: FraudType::ImpersonatingAuthorities,
            first_reported_at_ms: 1,
            decided_at_ms: 1_795_000_000_001,
        });
        let as_status = |n: &coordinator::core::Notice| serde_json::to_value(n).unwrap();
        let listed = vec![as_status(&cross), as_status(&block), serde_json::json!({"something_new": {}})];
        let page = notices(&listed, Lang::En, UtcOffset::parse("Asia/Shanghai").unwrap()).into_string();
        assert!(page.contains(&account.to_string()) && page.contains("Account of several cities"), "{page}");
        assert!(page.contains(CaseId::derive(&wenzhou, 2).as_str()), "each city's case: {page}");
        assert!(page.contains("phone:+8617100002222") && page.contains("hangzhou, wenzhou"), "{page}");
        assert!(page.contains("Impersonating authorities"), "{page}");
        assert!(page.find("Province-wide block") < page.find("Account of several"), "newest first: {page}");
        assert!(page.contains("does not show: 1"), "the unknown notice counted: {page}");
    }
}
