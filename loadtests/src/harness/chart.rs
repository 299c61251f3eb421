//! A small SVG line chart, written by hand: one or more panels stacked vertically, each with
//! numbered axes, a linear x axis, a linear or logarithmic y axis, one polyline per series
//! (solid, dashed or dotted, with a marker and a tooltip per point) and a legend.
//!
//! It is enough for the knee of a load curve (latency and throughput against offered rate);
//! a plotting crate would bring a font rasterizer and dozens of dependencies for that.

use domain::markup::escape;
use std::fmt::Write;

use super::limits::{MAX_CHART_PANELS, MAX_CHART_POINTS, MAX_CHART_SERIES};

/// Width of the whole chart, px.
const WIDTH: f64 = 820.0;
/// Height of one panel, px.
const PANEL_HEIGHT: f64 = 380.0;
/// Space left of the plot area (y tick labels and axis title), px.
const MARGIN_LEFT: f64 = 78.0;
/// Space right of the plot area (legend), px.
const MARGIN_RIGHT: f64 = 200.0;
/// Space above the plot area (panel title), px.
const MARGIN_TOP: f64 = 40.0;
/// Space below the plot area (x tick labels and axis title), px.
const MARGIN_BOTTOM: f64 = 56.0;
/// About how many ticks a linear axis gets.
const LINEAR_TICKS: f64 = 6.0;
/// Line colours, picked by [`Series::color`] modulo their number.
const PALETTE: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#7f7f7f"];
/// Height of one legend row, px.
const LEGEND_ROW: f64 = 18.0;

/// Why a chart could not be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChartError {
    #[error("a chart needs 1 to {max} panels, got {given}")]
    Panels { given: usize, max: usize },
    #[error("panel {panel:?} has {given} series, at most {max}")]
    Series { panel: String, given: usize, max: usize },
    #[error("series {series:?} has {given} points, at most {max}")]
    Points { series: String, given: usize, max: usize },
    #[error("panel {panel:?} has no points")]
    Empty { panel: String },
    #[error("series {series:?} has a point that is not a finite number: ({x}, {y})")]
    NotFinite { series: String, x: f64, y: f64 },
    #[error("series {series:?} has y = {y} on a logarithmic axis, which needs y > 0")]
    NotPositive { series: String, y: f64 },
}

/// How values map onto the y axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Decades evenly spaced; for latencies that grow by orders of magnitude past the knee.
    Log10,
}

/// How a series' line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    Solid,
    Dashed,
    /// Thin and dotted, without markers: a reference line.
    Dotted,
}

/// One line of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Shown in the legend and in each point's tooltip.
    pub name: String,
    /// Index into the palette (wraps around).
    pub color: usize,
    pub stroke: Stroke,
    /// `(x, y)`, drawn in the given order.
    pub points: Vec<(f64, f64)>,
}

/// One plot: axes, series and legend.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub y_scale: Scale,
    pub series: Vec<Series>,
}

/// The SVG document of `panels`, stacked top to bottom.
pub fn render(panels: &[Panel]) -> Result<String, ChartError> {
    if panels.is_empty() || panels.len() > MAX_CHART_PANELS {
        return Err(ChartError::Panels { given: panels.len(), max: MAX_CHART_PANELS });
    }
    for panel in panels {
        validate(panel)?;
    }
    let height = PANEL_HEIGHT * panels.len() as f64;
    let mut svg = String::new();
    // Writing to a String cannot fail; the results are ignored below for that reason.
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>"#);
    for (i, panel) in panels.iter().enumerate() {
        draw_panel(&mut svg, panel, PANEL_HEIGHT * i as f64);
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

fn validate(panel: &Panel) -> Result<(), ChartError> {
    if panel.series.len() > MAX_CHART_SERIES {
        return Err(ChartError::Series {
            panel: panel.title.clone(),
            given: panel.series.len(),
            max: MAX_CHART_SERIES,
        });
    }
    for series in &panel.series {
        if series.points.len() > MAX_CHART_POINTS {
            return Err(ChartError::Points {
                series: series.name.clone(),
                given: series.points.len(),
                max: MAX_CHART_POINTS,
            });
        }
        for &(x, y) in &series.points {
            if !x.is_finite() || !y.is_finite() {
                return Err(ChartError::NotFinite { series: series.name.clone(), x, y });
            }
            if panel.y_scale == Scale::Log10 && y <= 0.0 {
                return Err(ChartError::NotPositive { series: series.name.clone(), y });
            }
        }
    }
    if panel.series.iter().all(|s| s.points.is_empty()) {
        return Err(ChartError::Empty { panel: panel.title.clone() });
    }
    Ok(())
}

/// A value range mapped onto pixels.
struct Axis {
    lo: f64,
    hi: f64,
    scale: Scale,
    ticks: Vec<f64>,
}

impl Axis {
    fn new(values: impl Iterator<Item = f64> + Clone, scale: Scale) -> Axis {
        let min = values.clone().fold(f64::INFINITY, f64::min);
        let max = values.fold(f64::NEG_INFINITY, f64::max);
        match scale {
            Scale::Linear => {
                let lo = min.min(0.0);
                let hi = if max > lo { max } else { lo + 1.0 };
                let step = nice_step((hi - lo) / LINEAR_TICKS);
                let (lo, hi) = ((lo / step).floor() * step, (hi / step).ceil() * step);
                let ticks = (0..).map(|i| lo + step * f64::from(i)).take_while(|t| *t <= hi + step / 2.0).collect();
                Axis { lo, hi, scale, ticks }
            }
            Scale::Log10 => {
                let lo = min.log10().floor() as i32;
                let hi = (max.log10().ceil() as i32).max(lo + 1);
                let ticks = (lo..=hi).map(|e| 10f64.powi(e)).collect();
                Axis { lo: f64::from(lo), hi: f64::from(hi), scale, ticks }
            }
        }
    }

    /// Where `value` falls between the axis' ends, 0.0 to 1.0.
    fn fraction(&self, value: f64) -> f64 {
        let v = match self.scale {
            Scale::Linear => value,
            Scale::Log10 => value.log10(),
        };
        (v - self.lo) / (self.hi - self.lo)
    }
}

/// 1, 2 or 5 times a power of ten, the first at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A tick label: no trailing zeros, at most 3 decimals.
fn label(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

fn draw_panel(svg: &mut String, panel: &Panel, top: f64) {
    let (left, right) = (MARGIN_LEFT, WIDTH - MARGIN_RIGHT);
    let (plot_top, plot_bottom) = (top + MARGIN_TOP, top + PANEL_HEIGHT - MARGIN_BOTTOM);
    let points = || panel.series.iter().flat_map(|s| s.points.iter().copied());
    let x_axis = Axis::new(points().map(|(x, _)| x), Scale::Linear);
    let y_axis = Axis::new(points().map(|(_, y)| y), panel.y_scale);
    let px = |x: f64| left + x_axis.fraction(x) * (right - left);
    let py = |y: f64| plot_bottom - y_axis.fraction(y) * (plot_bottom - plot_top);

    let _ = writeln!(svg, r#"<g class="panel">"#);
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14" font-weight="bold">{}</text>"#,
        (left + right) / 2.0,
        top + MARGIN_TOP / 2.0 + 5.0,
        escape(&panel.title)
    );
    // Grid and tick labels.
    for &t in &x_axis.ticks {
        let x = px(t);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{plot_top:.1}" x2="{x:.1}" y2="{plot_bottom:.1}" stroke="#e5e5e5"/>"##
        );
        let _ =
            writeln!(svg, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, plot_bottom + 16.0, label(t));
    }
    for &t in &y_axis.ticks {
        let y = py(t);
        let _ = writeln!(svg, r##"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="#e5e5e5"/>"##);
        let _ =
            writeln!(svg, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#, left - 6.0, y + 4.0, label(t));
    }
    // Axes and their titles.
    let _ = writeln!(
        svg,
        r##"<polyline points="{left:.1},{plot_top:.1} {left:.1},{plot_bottom:.1} {right:.1},{plot_bottom:.1}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        (left + right) / 2.0,
        plot_bottom + 40.0,
        escape(&panel.x_label)
    );
    let mid_y = (plot_top + plot_bottom) / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="18" y="{mid_y:.1}" text-anchor="middle" transform="rotate(-90 18 {mid_y:.1})">{}</text>"#,
        escape(&panel.y_label)
    );
    // Series.
    for series in &panel.series {
        let color = PALETTE[series.color % PALETTE.len()];
        let (width, dash) = match series.stroke {
            Stroke::Solid => ("2", ""),
            Stroke::Dashed => ("2", r#" stroke-dasharray="6 4""#),
            Stroke::Dotted => ("1", r#" stroke-dasharray="2 3""#),
        };
        let path: Vec<String> = series.points.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
        let _ = writeln!(
            svg,
            r#"<polyline class="series" points="{}" fill="none" stroke="{color}" stroke-width="{width}"{dash}/>"#,
            path.join(" ")
        );
        if series.stroke != Stroke::Dotted {
            for &(x, y) in &series.points {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"><title>{}: x={}, y={}</title></circle>"#,
                    px(x),
                    py(y),
                    escape(&series.name),
                    label(x),
                    label(y)
                );
            }
        }
    }
    // Legend.
    for (row, series) in (0u32..).zip(&panel.series) {
        let color = PALETTE[series.color % PALETTE.len()];
        let dash = match series.stroke {
            Stroke::Solid => "",
            Stroke::Dashed => r#" stroke-dasharray="6 4""#,
            Stroke::Dotted => r#" stroke-dasharray="2 3""#,
        };
        let y = plot_top + 8.0 + LEGEND_ROW * f64::from(row);
        let x = right + 14.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2"{dash}/>"#,
            x + 26.0
        );
        let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, x + 32.0, y + 4.0, escape(&series.name));
    }
    let _ = writeln!(svg, "</g>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knee() -> Vec<Panel> {
        let latency = Panel {
            title: "Latency vs offered rate".into(),
            x_label: "offered cases/s".into(),
            y_label: "latency, ms".into(),
            y_scale: Scale::Log10,
            series: vec![
                Series {
                    name: "1 city p50".into(),
                    color: 0,
                    stroke: Stroke::Dashed,
                    points: vec![(50.0, 9.0), (100.0, 10.5), (200.0, 40.0)],
                },
                Series {
                    name: "1 city p99".into(),
                    color: 0,
                    stroke: Stroke::Solid,
                    points: vec![(50.0, 14.0), (100.0, 30.0), (200.0, 12_000.0)],
                },
            ],
        };
        let throughput = Panel {
            title: "Throughput <achieved> & offered".into(),
            x_label: "offered cases/s".into(),
            y_label: "completed cases/s".into(),
            y_scale: Scale::Linear,
            series: vec![
                Series {
                    name: "offered".into(),
                    color: 7,
                    stroke: Stroke::Dotted,
                    points: vec![(50.0, 50.0), (200.0, 200.0)],
                },
                Series {
                    name: "1 city".into(),
                    color: 0,
                    stroke: Stroke::Solid,
                    points: vec![(50.0, 50.0), (100.0, 99.5), (200.0, 150.0)],
                },
            ],
        };
        vec![latency, throughput]
    }

    /// Checks that every element is closed in order, quotes are paired inside tags, and the
    /// text holds no bare `&`, `<` or `>`. Returns the element names in document order.
    fn check_well_formed(svg: &str) -> Vec<String> {
        let mut open: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = svg;
        while let Some(lt) = rest.find('<') {
            let text = &rest[..lt];
            assert!(!text.contains('>'), "bare > in text {text:?}");
            for (i, _) in text.match_indices('&') {
                let entity = &text[i..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;"].iter().any(|e| entity.starts_with(e)),
                    "bare & in {text:?}"
                );
            }
            let gt = rest[lt..].find('>').expect("an unterminated tag") + lt;
            let tag = &rest[lt + 1..gt];
            assert_eq!(tag.matches('"').count() % 2, 0, "unpaired quote in <{tag}>");
            assert!(!tag.contains('<'), "< inside <{tag}>");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop().as_deref(), Some(name), "closing </{name}>");
            } else {
                let name = tag.split_whitespace().next().unwrap().trim_end_matches('/').to_owned();
                names.push(name.clone());
                if !tag.ends_with('/') {
                    open.push(name);
                }
            }
            rest = &rest[gt + 1..];
        }
        assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
        assert!(open.is_empty(), "unclosed: {open:?}");
        names
    }

    #[test]
    fn the_chart_is_well_formed_and_holds_every_point() {
        let svg = render(&knee()).unwrap();
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let names = check_well_formed(&svg);
        assert_eq!(names.iter().filter(|n| *n == "svg").count(), 1);
        assert_eq!(names.iter().filter(|n| *n == "g").count(), 2);
        // One polyline per series plus one per panel's axes; one marker per point, none on
        // the dotted reference line.
        assert_eq!(svg.matches(r#"class="series""#).count(), 4);
        assert_eq!(names.iter().filter(|n| *n == "circle").count(), 9);
        for point in ["1 city p50: x=200, y=40", "1 city p99: x=200, y=12000", "1 city: x=100, y=99.5"] {
            assert!(svg.contains(&format!("<title>{point}</title>")), "{point}");
        }
        assert!(svg.contains("Throughput &lt;achieved&gt; &amp; offered"));
        // Log axis: decades from 1 to 100 000 ms cover 9 and 12 000.
        for tick in [">1<", ">10<", ">100000<"] {
            assert!(svg.contains(tick), "{tick}");
        }
    }

    #[test]
    fn points_map_inside_the_plot_area() {
        let svg = render(&knee()).unwrap();
        for circle in svg.split("<circle ").skip(1) {
            let attr = |name: &str| -> f64 {
                let start = circle.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                circle[start..start + circle[start..].find('"').unwrap()].parse().unwrap()
            };
            let (cx, cy) = (attr("cx"), attr("cy"));
            assert!((MARGIN_LEFT..=WIDTH - MARGIN_RIGHT).contains(&cx), "cx {cx}");
            assert!((0.0..=2.0 * PANEL_HEIGHT).contains(&cy), "cy {cy}");
        }
    }

    #[test]
    fn refuses_what_it_cannot_draw() {
        assert!(matches!(render(&[]), Err(ChartError::Panels { given: 0, .. })));
        let mut log_zero = knee();
        log_zero[0].series[0].points.push((300.0, 0.0));
        assert!(matches!(render(&log_zero), Err(ChartError::NotPositive { .. })));
        let mut nan = knee();
        nan[1].series[1].points.push((300.0, f64::NAN));
        assert!(matches!(render(&nan), Err(ChartError::NotFinite { .. })));
        let mut empty = knee();
        empty[1].series.iter_mut().for_each(|s| s.points.clear());
        assert!(matches!(render(&empty), Err(ChartError::Empty { .. })));
    }

    #[test]
    fn steps_and_labels_are_round() {
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(66.0), 100.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(label(200.0), "200");
        assert_eq!(label(0.1), "0.1");
        assert_eq!(label(12.345_6), "12.346");
    }
}
