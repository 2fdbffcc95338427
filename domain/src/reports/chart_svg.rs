//! A report drawn as an SVG line chart: one line per series (the non-time key of a row), the
//! time buckets along the bottom in the report's order, the metric's unit on the side. The
//! report already comes time-first with every bucket present, so drawing is only placing: a
//! bucket with no value (a ratio on a zero base) leaves a gap, never a zero.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::metrics::{Dimension, Metric};
use super::sales_report::ReportResult;
use super::{ReportsError, invalid};

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 56.0;
const PALETTE: [&str; 8] = [
    "#c0392b", "#2471a3", "#229954", "#b7950b", "#7d3c98", "#ca6f1e", "#17a589", "#566573",
];
/// Series drawn at most (the largest by their sum); the rest are named as left out.
const MAX_SERIES: usize = 8;

const NO_TIME: &str = "a chart is drawn along day, week or month: group by one of them";
const NO_METRIC: &str = "the report does not hold the metric to draw";

/// One series: its name and one value per bucket (`None`: no value).
struct Series {
    name: String,
    points: Vec<Option<f64>>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The buckets (labels, in order) and the series of `metric`.
#[allow(clippy::cast_precision_loss)]
fn series_of(
    report: &ReportResult,
    metric: Metric,
) -> Result<(Vec<String>, Vec<Series>), ReportsError> {
    let time = report
        .dimensions
        .iter()
        .position(|d| d.is_time())
        .ok_or_else(|| invalid(NO_TIME))?;
    let at = report
        .metrics
        .iter()
        .position(|m| *m == metric)
        .ok_or_else(|| invalid(NO_METRIC))?;
    let mut buckets: Vec<String> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for row in &report.rows {
        let key = &row.keys[time].key;
        if !index.contains_key(key) {
            index.insert(key.clone(), buckets.len());
            buckets.push(row.keys[time].label.clone());
        }
    }
    let mut by_name: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for row in &report.rows {
        let name: Vec<&str> = row
            .keys
            .iter()
            .zip(&report.dimensions)
            .enumerate()
            .filter(|(i, _)| *i != time)
            .map(|(_, (k, d))| match (d, k.key.as_str()) {
                (Dimension::Store, "") => "线上（无门店）",
                (Dimension::Ba, "") => "无导购",
                _ => k.label.as_str(),
            })
            .collect();
        let name = if name.is_empty() {
            metric_name(metric).to_owned()
        } else {
            name.join(" · ")
        };
        let v = row.values.get(at);
        let value = v.and_then(|v| v.fen.map(|f| f as f64 / 100.0).or(v.number));
        let slot = by_name
            .entry(name)
            .or_insert_with(|| vec![None; buckets.len()]);
        if let Some(i) = index.get(&row.keys[time].key) {
            slot[*i] = value;
        }
    }
    let mut series: Vec<Series> = by_name
        .into_iter()
        .map(|(name, points)| Series { name, points })
        .collect();
    let weight = |s: &Series| -> f64 { s.points.iter().flatten().map(|v| v.abs()).sum() };
    series.sort_by(|a, b| weight(b).total_cmp(&weight(a)).then(a.name.cmp(&b.name)));
    Ok((buckets, series))
}

fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::NetRevenue => "净销售额",
        Metric::Margin => "毛利",
        Metric::MarginPct => "毛利率",
        Metric::Orders => "订单数",
        Metric::Units => "件数",
        Metric::AverageOrderValue => "客单价",
        Metric::Members => "会员数",
        Metric::CouponDiscount => "券抵扣",
        Metric::NewMembers => "新会员",
        Metric::RepurchaseRate => "复购率",
        Metric::CouponRedemptions => "用券订单",
        Metric::CouponRoi => "券回报",
        Metric::BookingsRedeemed => "预约核销",
        Metric::TurnoverDays => "库存周转天数",
    }
}

/// A figure for an axis: yuan for money, otherwise the number.
fn axis_label(metric: Metric, v: f64) -> String {
    let unit = metric.definition().unit;
    match unit {
        "FEN" if v.abs() >= 10_000.0 => format!("¥{:.1}万", v / 10_000.0),
        "FEN" => format!("¥{v:.0}"),
        "PERCENT" => format!("{v:.0}%"),
        _ if v.fract() == 0.0 => format!("{v:.0}"),
        _ => format!("{v:.1}"),
    }
}

/// A step that puts about five ticks over `span`: 1, 2 or 5 × a power of ten.
fn tick_step(span: f64) -> f64 {
    if span <= 0.0 {
        return 1.0;
    }
    let raw = span / 5.0;
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
}

/// The report's `metric` as a standalone SVG document.
#[allow(clippy::cast_precision_loss)]
pub fn render_svg(
    report: &ReportResult,
    metric: Metric,
    title: &str,
) -> Result<String, ReportsError> {
    let (buckets, mut series) = series_of(report, metric)?;
    let left_out = series.len().saturating_sub(MAX_SERIES);
    series.truncate(MAX_SERIES);
    let values = series
        .iter()
        .flat_map(|s| s.points.iter().flatten().copied());
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let step = tick_step(hi - lo);
    let (lo, hi) = (
        (lo / step).floor() * step,
        ((hi / step).ceil() * step).max(step),
    );
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let n = buckets.len().max(1);
    let x = |i: usize| {
        if n == 1 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + plot_w * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| TOP + plot_h * (hi - v) / (hi - lo);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>
"##,
        escape(title)
    );
    let mut tick = lo;
    while tick <= hi + step / 2.0 {
        let ty = y(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{ty:.1}" x2="{:.1}" y2="{ty:.1}" stroke="#e5e7e9"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            LEFT + plot_w,
            LEFT - 8.0,
            ty + 4.0,
            escape(&axis_label(metric, tick))
        );
        tick += step;
    }
    // About eight labels along the bottom, the last bucket always named.
    let every = n.div_ceil(8).max(1);
    for (i, label) in buckets.iter().enumerate() {
        if i % every == 0 || i + 1 == n {
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
                x(i),
                TOP + plot_h + 20.0,
                escape(label)
            );
        }
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888"/>"##,
        y(0.0),
        LEFT + plot_w,
        y(0.0)
    );
    for (k, s) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let mut path = String::new();
        let mut pen_down = false;
        for (i, p) in s.points.iter().enumerate() {
            match p {
                Some(v) => {
                    let cmd = if pen_down { 'L' } else { 'M' };
                    let _ = write!(path, "{cmd}{:.1},{:.1} ", x(i), y(*v));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = writeln!(
            svg,
            r##"<path d="{}" fill="none" stroke="{colour}" stroke-width="2"/>"##,
            path.trim_end()
        );
        let ly = TOP + 16.0 + 20.0 * k as f64;
        let lx = WIDTH - RIGHT + 16.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{lx}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"##,
            ly - 4.0,
            lx + 18.0,
            ly - 4.0,
            lx + 24.0,
            ly,
            escape(&s.name)
        );
    }
    if left_out > 0 {
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" fill="#555">+{left_out} more not drawn</text>"##,
            WIDTH - RIGHT + 16.0,
            TOP + 16.0 + 20.0 * MAX_SERIES as f64
        );
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::{
        Dimension, ReportKey, ReportRow, ReportSource, ReportValue, ReturnsBasis,
    };
    use chrono::NaiveDate;

    fn key(k: &str) -> ReportKey {
        ReportKey {
            key: k.to_owned(),
            label: k.to_owned(),
        }
    }

    fn report(rows: &[(&str, &str, Option<i64>)]) -> ReportResult {
        let day = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default();
        ReportResult {
            dimensions: vec![Dimension::Day, Dimension::Store],
            metrics: vec![Metric::NetRevenue],
            from: day,
            to: day,
            basis: ReturnsBasis::ReturnDate,
            rows: rows
                .iter()
                .map(|(d, s, fen)| ReportRow {
                    keys: vec![key(d), key(s)],
                    values: vec![ReportValue {
                        metric: Metric::NetRevenue,
                        fen: *fen,
                        number: None,
                    }],
                    previous: None,
                    change: None,
                })
                .collect(),
            totals: Vec::new(),
            previous_totals: None,
            change: None,
            definitions: Vec::new(),
            source: ReportSource::BaRollup,
        }
    }

    #[test]
    fn each_store_is_a_line_through_every_bucket_and_a_missing_value_is_a_gap() {
        let r = report(&[
            ("2026-09-01", "A<&>", Some(10_000)),
            ("2026-09-01", "B", Some(0)),
            ("2026-09-02", "A<&>", None),
            ("2026-09-02", "B", Some(50_000)),
            ("2026-09-03", "A<&>", Some(30_000)),
            ("2026-09-03", "B", Some(20_000)),
            ("2026-09-03", "", Some(1_000)),
        ]);
        let svg = render_svg(&r, Metric::NetRevenue, "净销售额 <demo>").unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        let paths: Vec<&str> = svg.lines().filter(|l| l.starts_with("<path")).collect();
        assert_eq!(paths.len(), 3, "{svg}");
        assert!(
            svg.contains("线上（无门店）"),
            "sales without a store are named"
        );
        // B (the larger) first, unbroken through three buckets; A broken by its gap.
        assert_eq!(
            paths[0].matches('M').count() + paths[0].matches('L').count(),
            3
        );
        assert_eq!(paths[1].matches('M').count(), 2, "{}", paths[1]);
        assert_eq!(paths[1].matches('L').count(), 0);
        for label in ["2026-09-01", "2026-09-02", "2026-09-03"] {
            assert!(svg.contains(label), "{label}");
        }
        assert!(svg.contains("A&lt;&amp;&gt;") && svg.contains("&lt;demo&gt;"));
        assert!(svg.contains("¥500"), "money in yuan on the axis: {svg}");
    }

    #[test]
    fn a_report_without_time_or_the_metric_is_not_drawn() {
        let mut r = report(&[("2026-09-01", "A", Some(1))]);
        let refused = |r: &ReportResult, m| match render_svg(r, m, "") {
            Err(ReportsError::InvalidQuery(why)) => why,
            other => panic!("drawn: {other:?}"),
        };
        assert_eq!(refused(&r, Metric::Orders), NO_METRIC);
        r.dimensions = vec![Dimension::Store, Dimension::Ba];
        assert_eq!(refused(&r, Metric::NetRevenue), NO_TIME);
    }

    #[test]
    fn ticks_are_one_two_or_five_times_a_power_of_ten() {
        assert!((tick_step(1_000.0) - 200.0).abs() < 1e-9);
        assert!((tick_step(37.0) - 10.0).abs() < 1e-9);
        assert!((tick_step(0.0) - 1.0).abs() < 1e-9);
    }
}
