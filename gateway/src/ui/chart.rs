//! Daily stacked bar charts as inline SVG, drawn here so the page needs no script and fetches
//! nothing. Each bar segment carries its day, group and cost in `data-*` attributes and a
//! `<title>` tooltip.

use super::html::{esc, usd};
use std::fmt::Write as _;
use tollgate_metering::dashboard::DayPoint;
use tollgate_metering::time::Date;

/// Series drawn one by one; the rest are summed into one "(other)" series so the colours stay
/// tellable apart.
const MAX_SERIES: usize = 8;

/// Colour-blind-safe categorical palette (Okabe–Ito, then two greys for the tail).
pub const PALETTE: [&str; MAX_SERIES] = [
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999",
];

/// Name of the series that sums the groups past the first `MAX_SERIES - 1`.
pub const OTHER: &str = "(other)";

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 26.0;

/// One group's cost (and requests) per day of the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Group key.
    pub name: String,
    /// Cost per day, USD, one entry per day of the window.
    pub cost: Vec<f64>,
    /// Requests per day.
    pub requests: Vec<u64>,
}

impl Series {
    fn total(&self) -> f64 {
        self.cost.iter().sum()
    }
}

/// Turns daily points into one series per group over `days`, the costliest groups first; past
/// `MAX_SERIES - 1` groups the rest become one [`OTHER`] series.
pub fn series(days: &[Date], points: &[DayPoint]) -> Vec<Series> {
    let index: std::collections::HashMap<String, usize> = days
        .iter()
        .enumerate()
        .map(|(i, d)| (d.to_string(), i))
        .collect();
    let mut by_key: Vec<Series> = Vec::new();
    for p in points {
        let Some(&day) = index.get(&p.day) else {
            continue;
        };
        let i = by_key
            .iter()
            .position(|s| s.name == p.key)
            .unwrap_or_else(|| {
                by_key.push(Series {
                    name: p.key.clone(),
                    cost: vec![0.0; days.len()],
                    requests: vec![0; days.len()],
                });
                by_key.len() - 1
            });
        by_key[i].cost[day] += p.cost_usd;
        by_key[i].requests[day] += p.requests;
    }
    // Costliest first; equal totals by name, so the colours do not move between loads.
    by_key.sort_by(|a, b| b.total().total_cmp(&a.total()).then(a.name.cmp(&b.name)));
    if by_key.len() > MAX_SERIES {
        let rest = by_key.split_off(MAX_SERIES - 1);
        let mut other = Series {
            name: OTHER.to_string(),
            cost: vec![0.0; days.len()],
            requests: vec![0; days.len()],
        };
        for s in rest {
            for d in 0..days.len() {
                other.cost[d] += s.cost[d];
                other.requests[d] += s.requests[d];
            }
        }
        by_key.push(other);
    }
    by_key
}

/// The smallest of 1, 2, 2.5 or 5 times a power of ten that is at least `v` (a round axis top).
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

/// An axis label for `v` on an axis stepping by `step`: enough decimals to tell ticks apart.
fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        ((-step.log10()).ceil() as usize + 1).min(9)
    };
    format!("${v:.decimals$}")
}

/// A stacked bar chart of daily cost, one segment per series, labelled `label` for screen
/// readers; `group` names what the series are (`route`, `tenant`, `model`). With no cost in the
/// window there is nothing to stack: a sentence says so instead.
pub fn stacked_bars(label: &str, group: &str, days: &[Date], series: &[Series]) -> String {
    let totals: Vec<f64> = (0..days.len())
        .map(|d| series.iter().map(|s| s.cost[d]).sum())
        .collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    if days.is_empty() || max <= 0.0 {
        return format!(
            "<p class=\"empty\" data-chart=\"{}\">No known cost by {} in this window.</p>",
            esc(group),
            esc(group)
        );
    }
    let top = nice_ceiling(max);
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let slot = plot_w / days.len() as f64;
    let y = |v: f64| TOP + plot_h * (1.0 - v / top);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" data-chart=\"{g}\" data-series=\"{n}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         role=\"img\" aria-label=\"{l}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{l}</title>",
        g = esc(group),
        n = series.len(),
        l = esc(label),
    );
    axes(&mut svg, top, &y, days, slot);
    for (d, day) in days.iter().enumerate() {
        let mut base = 0.0;
        for (i, s) in series.iter().enumerate() {
            let v = s.cost[d];
            if v <= 0.0 {
                continue;
            }
            let (y0, y1) = (y(base), y(base + v));
            base += v;
            let _ = write!(
                svg,
                "<rect x=\"{x:.2}\" y=\"{y1:.2}\" width=\"{w:.2}\" height=\"{h:.2}\" fill=\"{c}\" \
                 data-day=\"{day}\" data-key=\"{k}\" data-cost=\"{v}\">\
                 <title>{day} · {k}: ${cost} ({r} requests)</title></rect>",
                x = LEFT + slot * d as f64 + slot * 0.1,
                w = (slot * 0.8).max(0.5),
                h = (y0 - y1).max(0.5),
                c = PALETTE[i % PALETTE.len()],
                k = esc(&s.name),
                cost = usd(v),
                r = s.requests[d],
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Grid lines with their cost labels, and a day label under every few bars.
fn axes(svg: &mut String, top: f64, y: &dyn Fn(f64) -> f64, days: &[Date], slot: f64) {
    let step = top / 4.0;
    for i in 0..=4 {
        let v = step * f64::from(i);
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{yy:.2}\" y2=\"{yy:.2}\"/>\
             <text class=\"tick\" x=\"{tx}\" y=\"{ty:.2}\" text-anchor=\"end\">{label}</text>",
            x2 = WIDTH - RIGHT,
            yy = y(v),
            tx = LEFT - 6.0,
            ty = y(v) + 4.0,
            label = esc(&tick_label(v, step)),
        );
    }
    // About eight labels whatever the window's length, so they never overlap.
    let every = days.len().div_ceil(8).max(1);
    for (d, day) in days.iter().enumerate().filter(|(d, _)| d % every == 0) {
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{x:.2}\" y=\"{ty}\" text-anchor=\"middle\">{m:02}-{dd:02}</text>",
            x = LEFT + slot * (d as f64 + 0.5),
            ty = HEIGHT - 8.0,
            m = day.month,
            dd = day.day,
        );
    }
}

/// The chart's legend as HTML: a colour swatch and the escaped name of each series.
pub fn legend(series: &[Series]) -> String {
    let mut out = String::from("<ul class=\"legend\">");
    for (i, s) in series.iter().enumerate() {
        let _ = write!(
            out,
            "<li><span class=\"swatch\" style=\"background:{}\"></span>{}</li>",
            PALETTE[i % PALETTE.len()],
            esc(&s.name)
        );
    }
    out.push_str("</ul>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(n: u32) -> Vec<Date> {
        (1..=n).map(|d| Date::new(2025, 6, d).unwrap()).collect()
    }

    fn point(day: u32, key: &str, cost: f64) -> DayPoint {
        DayPoint {
            day: format!("2025-06-{day:02}"),
            key: key.into(),
            requests: 1,
            cost_usd: cost,
        }
    }

    #[test]
    fn series_follow_the_days_costliest_first_and_fold_the_tail() {
        let d = days(3);
        let s = series(
            &d,
            &[
                point(1, "a", 0.1),
                point(3, "b", 1.0),
                point(3, "a", 0.2),
                point(9, "a", 5.0),
            ],
        );
        assert_eq!(s[0].name, "b");
        assert_eq!(s[1].cost, vec![0.1, 0.0, 0.2]);
        assert_eq!(
            s[1].requests,
            vec![1, 0, 1],
            "a day outside the window is dropped"
        );
        let many: Vec<DayPoint> = (0..12)
            .map(|i| point(1, &format!("k{i:02}"), f64::from(i + 1)))
            .collect();
        let s = series(&d, &many);
        assert_eq!(s.len(), MAX_SERIES);
        assert_eq!(s[0].name, "k11");
        assert_eq!(s[MAX_SERIES - 1].name, OTHER);
        assert_eq!(s[MAX_SERIES - 1].cost[0], 1.0 + 2.0 + 3.0 + 4.0 + 5.0);
        assert_eq!(s[MAX_SERIES - 1].requests[0], 5);
    }

    #[test]
    fn bars_stack_to_each_days_total_and_names_are_escaped() {
        let d = days(2);
        let s = series(
            &d,
            &[
                point(1, "<b>&", 0.75),
                point(1, "x", 0.25),
                point(2, "x", 0.5),
            ],
        );
        let svg = stacked_bars("Daily cost by route", "route", &d, &s);
        assert!(svg.starts_with("<svg class=\"chart\" data-chart=\"route\" data-series=\"2\""));
        assert!(svg.contains("data-key=\"&lt;b&gt;&amp;\""), "{svg}");
        assert!(!svg.contains("<b>"));
        assert_eq!(svg.matches("<rect ").count(), 3);
        // Axis top is 1.0: day 1's two segments fill the plot, day 2's one fills half.
        let plot_h = HEIGHT - TOP - BOTTOM;
        let heights: Vec<f64> = svg
            .split("height=\"")
            .skip(1) // only the bars have a height
            .filter_map(|s| s.split('"').next()?.parse().ok())
            .collect();
        let day1: f64 = heights[..2].iter().sum();
        assert!((day1 - plot_h).abs() < 0.02, "{heights:?}");
        assert!((heights[2] - plot_h / 2.0).abs() < 0.02, "{heights:?}");
        assert!(
            svg.contains(
                "<text class=\"tick\" x=\"72\" y=\"14.00\" text-anchor=\"end\">$1.00</text>"
            ),
            "{svg}"
        );
        assert!(svg.contains(">06-01</text>") && svg.contains(">06-02</text>"));
        assert!(svg.contains("<title>2025-06-01 · x: $0.250000 (1 requests)</title>"));
    }

    #[test]
    fn no_cost_draws_a_sentence_and_axes_are_round() {
        let d = days(2);
        let empty = stacked_bars("t", "tenant", &d, &series(&d, &[point(1, "a", 0.0)]));
        assert_eq!(
            empty,
            "<p class=\"empty\" data-chart=\"tenant\">No known cost by tenant in this window.</p>"
        );
        assert_eq!(nice_ceiling(0.0031), 0.005);
        assert_eq!(nice_ceiling(0.75), 1.0);
        assert_eq!(nice_ceiling(2.0), 2.0);
        assert_eq!(nice_ceiling(2.1), 2.5);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(tick_label(0.0025, 0.0025), "$0.0025");
        assert_eq!(tick_label(250.0, 250.0), "$250");
        let legend = legend(&series(&d, &[point(1, "a\"b", 1.0)]));
        assert_eq!(
            legend,
            "<ul class=\"legend\"><li><span class=\"swatch\" style=\"background:#0072b2\"></span>a&quot;b</li></ul>"
        );
    }
}
