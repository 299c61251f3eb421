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
        @if status.notices.is_empty() { p.dim { (lang.t("none")) } }
        ul.notices {
            @for n in status.notices.iter().rev().take(BOARD_NOTICES) {
                li { (n.get("kind").and_then(|k| k.as_str()).unwrap_or("notice")) " · "
                     (n.get("subject").or_else(|| n.get("account")).or_else(|| n.get("identifier")).map(|s| s.to_string()).unwrap_or_default()) }
            }
        }
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
