//! The report's simulcast table: which picture sizes each group's viewers were shown, for how
//! long, at what PSNR, and how their switches went.

use super::charts::Series;
use super::Table;
use crate::record::{LayersShown, ReceiverSummary};
use crate::results::{GroupResult, RunResults};

/// Shown when any viewer was shown more than one size, or a group's viewers were shown
/// different sizes.
pub fn table(r: &RunResults) -> Option<Table> {
    if !r.groups.iter().any(layered) {
        return None;
    }
    let rows = r
        .groups
        .iter()
        .filter(|g| !sizes_of(&g.sessions).is_empty())
        .map(|g| row(&g.name, &g.sessions))
        .collect();
    Some(Table {
        title: "Simulcast layers".into(),
        note: Some(
            "The picture sizes viewers were shown, read from the stream's SPS: a simulcast viewer's layer. Time: share of the group's viewing time at each size. Switch time: a scheduled change of the viewer's network to the first frame of another size, for changes followed by one. Frames skipped: source frames never shown across switches. PSNR by size: probes' mean luma PSNR against the source scaled to that size."
                .into(),
        ),
        headers: [
            "group",
            "time at each size",
            "switches down",
            "switches up",
            "switch time p50 ms",
            "switch time max ms",
            "frames skipped",
            "PSNR by size",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows,
    })
}

fn layered(g: &GroupResult) -> bool {
    sizes_of(&g.sessions).len() > 1
}

/// In a run where any group was shown more than one size, each group's mean picture height over its viewers watching at each interval, for
/// the chart of layers over time.
pub fn height_series(r: &RunResults) -> Vec<Series> {
    if !r.groups.iter().any(layered) {
        return Vec::new();
    }
    let step = (r.interval_ms as f64 / 1000.0).max(0.1);
    let points = (r.duration_s / step).ceil() as usize;
    r.groups
        .iter()
        .filter(|g| !sizes_of(&g.sessions).is_empty())
        .map(|g| {
            let line = (0..points)
                .map(|i| i as f64 * step)
                .filter_map(|t| {
                    let heights: Vec<f64> = g
                        .sessions
                        .iter()
                        .filter(|s| s.left_s.is_none_or(|l| t < l))
                        .filter_map(|s| height_at(s.layers.as_ref()?, t))
                        .collect();
                    let n = heights.len() as f64;
                    (n > 0.0).then(|| (t, heights.iter().sum::<f64>() / n))
                })
                .collect();
            (g.name.clone(), line)
        })
        .collect()
}

/// The height shown at `t` seconds into the run (the last change at or before it).
fn height_at(layers: &LayersShown, t: f64) -> Option<f64> {
    layers
        .changes
        .iter()
        .take_while(|c| c.at_s <= t)
        .last()
        .map(|c| c.height as f64)
}

fn shown(sessions: &[ReceiverSummary]) -> impl Iterator<Item = &LayersShown> {
    sessions.iter().filter_map(|s| s.layers.as_ref())
}

/// (width, height, ms shown, PSNR sum, PSNR count) per size, largest first.
fn sizes_of(sessions: &[ReceiverSummary]) -> Vec<(u32, u32, f64, f64, u32)> {
    let mut sizes: Vec<(u32, u32, f64, f64, u32)> = Vec::new();
    for t in shown(sessions).flat_map(|l| &l.resolutions) {
        let psnr = t.psnr_db.map_or((0.0, 0), |p| (p, 1));
        match sizes.iter_mut().find(|s| (s.0, s.1) == (t.width, t.height)) {
            Some(s) => {
                s.2 += t.ms;
                s.3 += psnr.0;
                s.4 += psnr.1;
            }
            None => sizes.push((t.width, t.height, t.ms, psnr.0, psnr.1)),
        }
    }
    sizes.sort_by_key(|s| std::cmp::Reverse(s.0 as u64 * s.1 as u64));
    sizes
}

fn row(name: &str, sessions: &[ReceiverSummary]) -> Vec<String> {
    let sizes = sizes_of(sessions);
    let total: f64 = sizes.iter().map(|s| s.2).sum();
    let time = sizes
        .iter()
        .map(|s| format!("{}x{} {:.0}%", s.0, s.1, 100.0 * s.2 / total.max(1e-9)))
        .collect::<Vec<_>>()
        .join(" · ");
    let psnr = sizes
        .iter()
        .filter(|s| s.4 > 0)
        .map(|s| format!("{}x{} {:.1} dB", s.0, s.1, s.3 / s.4 as f64))
        .collect::<Vec<_>>()
        .join(" · ");
    let mut switch_ms: Vec<f64> = shown(sessions)
        .flat_map(|l| l.switch_ms.iter().copied())
        .collect();
    switch_ms.sort_by(f64::total_cmp);
    let at = |q: f64| match switch_ms.is_empty() {
        true => "–".to_string(),
        false => {
            let i = ((switch_ms.len() - 1) as f64 * q).round() as usize;
            format!("{:.0}", switch_ms[i])
        }
    };
    let sum = |f: fn(&LayersShown) -> u64| shown(sessions).map(f).sum::<u64>().to_string();
    vec![
        name.to_string(),
        time,
        sum(|l| l.switches_down),
        sum(|l| l.switches_up),
        at(0.5),
        at(1.0),
        sum(|l| l.frames_skipped_at_switches),
        if psnr.is_empty() { "–".into() } else { psnr },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{LayerChange, ResolutionTime};

    fn viewer(sizes: &[(u32, f64, Option<f64>)], switch_ms: Vec<f64>) -> LayersShown {
        LayersShown {
            resolutions: sizes
                .iter()
                .map(|&(h, ms, psnr_db)| ResolutionTime {
                    width: h * 16 / 9,
                    height: h,
                    ms,
                    psnr_db,
                })
                .collect(),
            switches_down: (sizes.len() > 1) as u64,
            switches_up: 0,
            switch_ms,
            frames_skipped_at_switches: 3,
            changes: vec![LayerChange {
                at_s: 0.0,
                width: 640,
                height: 360,
            }],
        }
    }

    #[test]
    fn a_groups_row_adds_its_viewers_time_switches_and_psnr_by_size() {
        let blank = |id: &str| {
            use crate::media::receiver::{AudioReceiver, Receiver, Role, VideoReceiver};
            let video = VideoReceiver::new(0, None);
            Receiver::new(id.into(), Role::Light, 0, video, AudioReceiver::new(None))
                .summary("g", 0)
        };
        let mut s = blank("g/r000");
        let two_sizes = [(360, 3000.0, Some(46.0)), (180, 1000.0, Some(36.0))];
        s.layers = Some(viewer(&two_sizes, vec![800.0]));
        let mut t = blank("g/r001");
        t.layers = Some(viewer(&[(360, 4000.0, None)], vec![]));
        assert!(sizes_of(&[]).is_empty());
        let changes = |v: &[(f64, u32)]| LayersShown {
            changes: v
                .iter()
                .map(|&(at_s, height)| LayerChange {
                    at_s,
                    width: height * 16 / 9,
                    height,
                })
                .collect(),
            ..viewer(&[], vec![])
        };
        let steps = changes(&[(1.0, 360), (5.0, 180)]);
        let at = |t| height_at(&steps, t);
        assert_eq!(
            [at(0.5), at(1.0), at(4.9), at(6.0)],
            [None, Some(360.0), Some(360.0), Some(180.0)]
        );
        let r = row("g", &[s, t]);
        assert_eq!(r[1], "640x360 88% · 320x180 12%");
        assert_eq!((r[2].as_str(), r[3].as_str()), ("1", "0"));
        assert_eq!((r[4].as_str(), r[5].as_str()), ("800", "800"));
        assert_eq!(r[6], "6");
        assert_eq!(r[7], "640x360 46.0 dB · 320x180 36.0 dB");
    }
}
