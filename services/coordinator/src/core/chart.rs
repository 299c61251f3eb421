//! The joint meeting's ranking chart: one bar per city, its share of reported loss frozen,
//! best first, the province's median as a line, the cities to be called in drawn red. A
//! self-contained SVG document (no script, no external reference); every text from the
//! report goes through `domain::markup::escape`.

use std::fmt::Write as _;

use domain::markup::escape;

use super::report::{FlagFigure, Report};

const WIDTH: u32 = 720;
const BAR: u32 = 28;
const GAP: u32 = 10;
const LABEL: u32 = 140;
const TOP: u32 = 56;
/// Bars are drawn on a scale of 0 to 100% (10,000 basis points).
const FULL_BP: u64 = 10_000;

/// The chart of `report` as SVG.
pub fn ranking_svg(report: &Report) -> String {
    let mut rows: Vec<(&str, Option<u64>, bool)> = report
        .rows
        .iter()
        .filter_map(|row| row.city.as_ref().map(|city| (city, row.frozen_share_bp)))
        .map(|(city, share)| {
            let called_in = report.flagged.iter().any(|f| &f.city == city);
            (city.as_str(), share, called_in)
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let plot = WIDTH - LABEL - 80;
    let height = TOP + rows.len() as u32 * (BAR + GAP) + 40;
    let x_of = |bp: u64| LABEL + (bp.min(FULL_BP) * u64::from(plot) / FULL_BP) as u32;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="14">"#
    );
    let _ = write!(
        svg,
        r#"<text x="10" y="24" font-size="16" font-weight="bold">{} · 冻结占报案损失 / money frozen of reported loss</text>"#,
        escape(&report.period.to_string())
    );
    for (i, (city, share, called_in)) in rows.iter().enumerate() {
        let y = TOP + i as u32 * (BAR + GAP);
        let colour = if *called_in { "#c62828" } else { "#1565c0" };
        let _ =
            write!(svg, r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#, LABEL - 8, y + BAR * 2 / 3, escape(city));
        match share {
            Some(bp) => {
                let width = x_of(*bp) - LABEL;
                let _ = write!(
                    svg,
                    r#"<rect class="bar" data-city="{}" x="{LABEL}" y="{y}" width="{width}" height="{BAR}" fill="{colour}"/>"#,
                    escape(city)
                );
                let _ = write!(
                    svg,
                    r#"<text x="{}" y="{}">{}.{:02}%{}</text>"#,
                    x_of(*bp) + 6,
                    y + BAR * 2 / 3,
                    bp / 100,
                    bp % 100,
                    if *called_in { " · 约谈 / to be called in" } else { "" }
                );
            }
            None => {
                let _ = write!(
                    svg,
                    r##"<text x="{}" y="{}" fill="#757575">no reported loss</text>"##,
                    LABEL + 6,
                    y + BAR * 2 / 3
                );
            }
        }
    }
    let median = report.flagged.iter().find(|f| f.figure == FlagFigure::FrozenShare).map(|f| f.median).or_else(|| {
        let mut shares: Vec<u64> = rows.iter().filter_map(|r| r.1).collect();
        shares.sort_unstable();
        (!shares.is_empty()).then(|| shares[(shares.len() - 1) / 2])
    });
    if let Some(median) = median {
        let x = x_of(median);
        let bottom = height - 30;
        let _ = write!(
            svg,
            r##"<line class="median" x1="{x}" y1="{}" x2="{x}" y2="{bottom}" stroke="#424242" stroke-dasharray="4 3"/><text x="{x}" y="{}" text-anchor="middle" font-size="12">median {}.{:02}%</text>"##,
            TOP - 8,
            bottom + 16,
            median / 100,
            median % 100
        );
    }
    svg.push_str("</svg>");
    svg
}
