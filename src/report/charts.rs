//! Charts as SVG (inlined in the HTML report) and PNG (for Markdown and documents). Text uses
//! the embedded DejaVu Sans, so a machine without font packages renders the same.

use crate::metrics::Metric;
use crate::results::RunResults;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const SIZE: (u32, u32) = (900, 480);
/// Freeze bars past this many streams are summarised, not drawn.
const MAX_STREAM_BARS: usize = 40;

#[derive(Debug, thiserror::Error)]
#[error("chart {chart}: {reason}")]
pub struct ChartError {
    pub chart: String,
    pub reason: String,
}

pub struct Chart {
    /// File stem under charts/.
    pub name: &'static str,
    pub title: String,
    pub svg: String,
    pub png: Vec<u8>,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is compiled in; failure would mean a corrupt build, and charts then show no text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

pub(crate) type Series = (String, Vec<(f64, f64)>);

pub(crate) fn palette(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    C[i % C.len()]
}

fn line_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    marks: &[(f64, String)],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let (mut x_max, mut y_max) = (1e-9f64, 1e-9f64);
    for &(x, y) in points {
        x_max = x_max.max(x);
        y_max = y_max.max(y);
    }
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..x_max * 1.02, 0f64..y_max * 1.1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| e.to_string())?;
    // Stage boundaries: a grey line each, labels staggered so neighbours stay readable.
    let y_top = y_max * 1.1;
    for (k, (at, label)) in marks.iter().enumerate() {
        let grey = RGBColor(150, 150, 150);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*at, 0.0), (*at, y_top)],
                grey.stroke_width(1),
            )))
            .map_err(|e| e.to_string())?;
        let y = y_top * (0.97 - 0.06 * (k % 4) as f64);
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (*at, y),
                ("sans-serif", 11).into_font().color(&RGBColor(90, 90, 90)),
            )))
            .map_err(|e| e.to_string())?;
    }
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = palette(i);
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    if series.len() > 1 || series.iter().any(|(n, _)| !n.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

/// Horizontal bars, one row per item, so long stream names stay readable.
fn bar_chart<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    bars: &[(String, f64)],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let x_max = bars.iter().map(|b| b.1).fold(0.0f64, f64::max).max(1.0);
    let n = bars.len().max(1);
    let label_width = bars.iter().map(|b| b.0.chars().count()).max().unwrap_or(4) as u32 * 8 + 16;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0f64..x_max * 1.1, (0..n).into_segmented())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_label)
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(|e| e.to_string())?;
    chart
        .draw_series(
            Histogram::horizontal(&chart)
                .style(palette(3).mix(0.8).filled())
                .margin(3)
                .data(bars.iter().enumerate().map(|(i, b)| (i, b.1))),
        )
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

pub(crate) enum Kind {
    Lines {
        x_label: &'static str,
        y_label: String,
        series: Vec<Series>,
        /// Vertical lines with labels (stage boundaries) at these x values.
        marks: Vec<(f64, String)>,
    },
    Bars {
        x_label: String,
        bars: Vec<(String, f64)>,
    },
    /// Scores 0–100 on spokes; one polygon per series.
    Radar {
        axes: Vec<String>,
        series: Vec<(String, Vec<Option<f64>>)>,
    },
    /// (name, estimate, low, high) as bars with whiskers.
    Whiskers {
        x_label: String,
        rows: Vec<(String, f64, f64, f64)>,
    },
    /// Values per series counted in bins of `bin`, with an optional labelled line.
    Histogram {
        x_label: String,
        bin: f64,
        series: Vec<(String, Vec<f64>)>,
        line: Option<(f64, String)>,
    },
}

pub(crate) fn render(name: &'static str, title: String, kind: Kind) -> Result<Chart, ChartError> {
    register_font();
    let size = match &kind {
        Kind::Bars { bars, .. } => (SIZE.0, SIZE.1.max(110 + 22 * bars.len() as u32)),
        Kind::Whiskers { rows, .. } => (SIZE.0, 130 + 34 * rows.len().max(2) as u32),
        Kind::Radar { .. } => (SIZE.0, 560),
        Kind::Lines { .. } | Kind::Histogram { .. } => SIZE,
    };
    let err = |reason: String| ChartError {
        chart: name.to_string(),
        reason,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(root, &title, &kind).map_err(err)?;
    }
    let mut rgb = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(root, &title, &kind).map_err(err)?;
    }
    let png = encode_png(&rgb, size).map_err(err)?;
    Ok(Chart {
        name,
        title,
        svg,
        png,
    })
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    kind: &Kind,
) -> Result<(), String> {
    match kind {
        Kind::Lines {
            x_label,
            y_label,
            series,
            marks,
        } => line_chart(root, title, x_label, y_label, series, marks),
        Kind::Bars { x_label, bars } => bar_chart(root, title, x_label, bars),
        Kind::Radar { axes, series } => super::shapes::radar(root, title, axes, series),
        Kind::Whiskers { x_label, rows } => super::shapes::whiskers(root, title, x_label, rows),
        Kind::Histogram {
            x_label,
            bin,
            series,
            line,
        } => super::shapes::histogram(root, title, x_label, *bin, series, line.as_ref()),
    }
}

fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(rgb, width, height, image::ColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// A metric's cumulative distribution: (value, percent of samples at or below) at 201
/// quantiles; `None` without samples.
pub(crate) fn cdf_points(m: &crate::results::MetricResult) -> Option<Vec<(f64, f64)>> {
    let h = &m.histogram.0;
    (!h.is_empty()).then(|| {
        (0..=200)
            .map(|i| {
                let q = i as f64 / 200.0;
                (h.value_at_quantile(q) as f64 / m.scale, q * 100.0)
            })
            .collect()
    })
}

/// Cumulative distribution of each group's `metric`.
pub(crate) fn cdf(results: &RunResults, metric: Metric) -> Vec<Series> {
    results
        .groups
        .iter()
        .filter_map(|g| Some((g.name.clone(), cdf_points(g.metric(metric)?)?)))
        .collect()
}

pub(crate) fn over_time(
    results: &RunResults,
    metric: Metric,
    pick: fn(&crate::results::Summary) -> f64,
    suffix: &str,
) -> Vec<Series> {
    results
        .groups
        .iter()
        .filter_map(|g| {
            let m = g.metric(metric)?;
            let pts: Vec<(f64, f64)> = m
                .intervals
                .iter()
                .filter(|i| i.summary.count > 0)
                .map(|i| (i.start_s, pick(&i.summary)))
                .collect();
            (!pts.is_empty()).then(|| (format!("{}{suffix}", g.name), pts))
        })
        .collect()
}

/// The report's charts; a chart with no data is left out.
pub fn build(results: &RunResults) -> Result<Vec<Chart>, ChartError> {
    let mut charts = Vec::new();
    let latency_cdf = cdf(results, Metric::E2eLatencyMs);
    if !latency_cdf.is_empty() {
        charts.push(render(
            "e2e_latency_cdf",
            "End-to-end latency, cumulative distribution".into(),
            Kind::Lines {
                x_label: "e2e latency (ms)",
                y_label: "% of frames at or below".into(),
                series: latency_cdf,
                marks: Vec::new(),
            },
        )?);
    }
    let mut latency_time = over_time(results, Metric::E2eLatencyMs, |s| s.p50, " p50");
    latency_time.extend(over_time(results, Metric::E2eLatencyMs, |s| s.p95, " p95"));
    if !latency_time.is_empty() {
        charts.push(super::timeline::lines(
            "e2e_latency_over_time",
            "End-to-end latency p50 and p95 per second",
            "e2e latency (ms)",
            latency_time,
            results,
        )?);
    }
    let fps = over_time(results, Metric::Fps, |s| s.mean, " mean");
    if !fps.is_empty() {
        charts.push(super::timeline::lines(
            "fps_over_time",
            "Received frame rate per second (mean over receivers)",
            "frames per second",
            fps,
            results,
        )?);
    }
    charts.extend(super::timeline::charts(results)?);
    charts.extend(super::degradation::charts(results)?);
    let mut bars: Vec<(String, f64)> = results
        .groups
        .iter()
        .flat_map(|g| g.sessions.iter().map(|s| (s.id.clone(), s.freeze_time_pct)))
        .collect();
    if !bars.is_empty() {
        let total = bars.len();
        bars.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        bars.truncate(MAX_STREAM_BARS);
        let title = if total > MAX_STREAM_BARS {
            format!("Freeze time per stream (W3C rule), worst {MAX_STREAM_BARS} of {total}")
        } else {
            "Freeze time per stream (W3C rule)".to_string()
        };
        charts.push(render(
            "freeze_time_per_stream",
            title,
            Kind::Bars {
                x_label: "freeze time (% of rendered time)".into(),
                bars,
            },
        )?);
    }
    Ok(charts)
}
