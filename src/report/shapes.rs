//! The comparison's scored charts: a radar of dimension scores, bars with interval whiskers,
//! and a histogram with a target line.

use super::charts::palette;
use plotters::coord::Shift;
use plotters::prelude::*;

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

/// The series names in a box, as the report's other charts draw them.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(e)
}

/// Dimension scores (0–100) on spokes, one closed polygon per provider; a missing score
/// leaves a gap at the centre for that spoke.
pub(crate) fn radar<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    axes: &[String],
    series: &[(String, Vec<Option<f64>>)],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(e)?;
    let root = root.titled(title, ("sans-serif", 22)).map_err(e)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .build_cartesian_2d(-1.6f64..1.6f64, -1.25f64..1.25f64)
        .map_err(e)?;
    let n = axes.len().max(1);
    let at = |k: usize, r: f64| {
        let angle = std::f64::consts::FRAC_PI_2 - k as f64 * std::f64::consts::TAU / n as f64;
        (r * angle.cos(), r * angle.sin())
    };
    let grey = RGBColor(200, 200, 200);
    for ring in [0.2, 0.4, 0.6, 0.8, 1.0] {
        let mut pts: Vec<(f64, f64)> = (0..n).map(|k| at(k, ring)).collect();
        pts.push(at(0, ring));
        chart
            .draw_series(std::iter::once(PathElement::new(pts, grey.stroke_width(1))))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{:.0}", ring * 100.0),
                at(0, ring),
                ("sans-serif", 11)
                    .into_font()
                    .color(&RGBColor(130, 130, 130)),
            )))
            .map_err(e)?;
    }
    for (k, name) in axes.iter().enumerate() {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), at(k, 1.0)],
                grey.stroke_width(1),
            )))
            .map_err(e)?;
        let (x, y) = at(k, 1.12);
        chart
            .draw_series(std::iter::once(Text::new(
                name.clone(),
                (x - 0.03 * name.len() as f64 * 0.5, y + 0.03),
                ("sans-serif", 15),
            )))
            .map_err(e)?;
    }
    for (i, (name, scores)) in series.iter().enumerate() {
        let color = palette(i);
        let mut pts: Vec<(f64, f64)> = scores
            .iter()
            .enumerate()
            .map(|(k, s)| at(k, s.unwrap_or(0.0).clamp(0.0, 100.0) / 100.0))
            .collect();
        if let Some(first) = pts.first().copied() {
            pts.push(first);
        }
        chart
            .draw_series(std::iter::once(Polygon::new(
                pts.clone(),
                color.mix(0.12).filled(),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                pts,
                color.stroke_width(2),
            )))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight)?;
    root.present().map_err(e)
}

/// Horizontal bars of estimates with their interval as a whisker.
pub(crate) fn whiskers<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    rows: &[(String, f64, f64, f64)],
) -> Result<(), String> {
    root.fill(&WHITE).map_err(e)?;
    let x_max = rows
        .iter()
        .map(|r| r.3.max(r.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-6);
    let n = rows.len().max(1);
    let label_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(4) as u32 * 8 + 16;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(label_width)
        .build_cartesian_2d(0f64..x_max * 1.1, -0.5f64..n as f64 - 0.5)
        .map_err(e)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_label)
        .y_labels(n)
        .y_label_formatter(&|v| {
            let i = v.round();
            if (v - i).abs() < 1e-6 && i >= 0.0 {
                rows.get(i as usize)
                    .map(|r| r.0.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(e)?;
    for (i, (_, est, low, high)) in rows.iter().enumerate() {
        let y = i as f64;
        let color = palette(i);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.3), (*est, y + 0.3)],
                color.mix(0.7).filled(),
            )))
            .map_err(e)?;
        if low.is_finite() && high.is_finite() {
            let black = BLACK.stroke_width(2);
            for path in [
                vec![(*low, y), (*high, y)],
                vec![(*low, y - 0.15), (*low, y + 0.15)],
                vec![(*high, y - 0.15), (*high, y + 0.15)],
            ] {
                chart
                    .draw_series(std::iter::once(PathElement::new(path, black)))
                    .map_err(e)?;
            }
        }
    }
    root.present().map_err(e)
}

/// Counts per bin for each series side by side, with a labelled vertical line.
pub(crate) fn histogram<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    bin: f64,
    series: &[(String, Vec<f64>)],
    line: Option<&(f64, String)>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(e)?;
    let max_value = series
        .iter()
        .flat_map(|s| s.1.iter())
        .copied()
        .chain(line.map(|l| l.0))
        .fold(0.0f64, f64::max);
    // Room past the line, so it and its label sit inside the plot.
    let bins = ((max_value * 1.12 / bin).floor() as usize + 1).max(1);
    let counts: Vec<Vec<usize>> = series
        .iter()
        .map(|(_, values)| {
            let mut c = vec![0usize; bins];
            for v in values {
                let k = ((v / bin).floor().max(0.0) as usize).min(bins - 1);
                c[k] += 1;
            }
            c
        })
        .collect();
    let y_max = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let x_max = bins as f64 * bin;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max * 1.15)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("sessions")
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(e)?;
    let width = bin / series.len().max(1) as f64;
    for (i, ((name, _), c)) in series.iter().zip(&counts).enumerate() {
        let color = palette(i);
        chart
            .draw_series(c.iter().enumerate().filter(|(_, n)| **n > 0).map(|(k, n)| {
                let x0 = k as f64 * bin + i as f64 * width;
                Rectangle::new(
                    [(x0 + width * 0.05, 0.0), (x0 + width * 0.95, *n as f64)],
                    color.mix(0.8).filled(),
                )
            }))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], color.filled()));
    }
    if let Some((at, label)) = line {
        let red = RGBColor(200, 30, 30);
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*at, 0.0), (*at, y_max * 1.15)],
                red.stroke_width(2),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (*at + bin * 0.15, y_max * 1.1),
                ("sans-serif", 13).into_font().color(&red),
            )))
            .map_err(e)?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperMiddle)?;
    root.present().map_err(e)
}
