//! Scripted stalls must be counted as freezes by each rule, with the right freeze time.

use crate::common;

use crate::common::*;
use rtcbench::metrics::Metric;

const FRAME_US: u64 = 1_000_000 / 30;

#[test]
fn a_400ms_stall_is_one_freeze_and_a_700ms_stall_adds_one_of_each() {
    let _heavy = common::heavy_blocking();
    let toml = r#"name = "freeze"
duration = "10s"
[video]
width = 320
height = 180
fps = 30
bitrate = "600kbps"
[[group]]
name = "stalls"
receivers = 2
probes = 1
"#;
    // Withholding 11 frames after frame 90 leaves a 12-frame (400 ms) render gap; 20 frames after
    // frame 180 leave 700 ms.
    let groups = simulate_with(toml, 3, |_, room| {
        room.sender_mut()
            .add_stall(91 * FRAME_US - 1, 102 * FRAME_US - 1);
        room.sender_mut()
            .add_stall(181 * FRAME_US - 1, 201 * FRAME_US - 1);
    });
    let g = group(&groups, "stalls");
    for s in &g.sessions {
        assert_eq!(s.freeze_w3c.count, 2, "{}: W3C freezes", s.id);
        assert_eq!(s.freeze_200ms.count, 2, "{}: 200 ms freezes", s.id);
        assert_eq!(s.freeze_500ms.count, 1, "{}: 500 ms freezes", s.id);
        let total_ms = s.freeze_w3c.total_us as f64 / 1000.0;
        eprintln!(
            "freeze {}: W3C {:?}, 200ms {:?}, 500ms {:?}",
            s.id, s.freeze_w3c, s.freeze_200ms, s.freeze_500ms
        );
        assert!(
            (total_ms - 1100.0).abs() <= FRAME_US as f64 / 1000.0,
            "{}: freeze time {total_ms} ms",
            s.id
        );
        assert!(
            (s.freeze_500ms.total_us as f64 / 1000.0 - 700.0).abs() <= FRAME_US as f64 / 1000.0
        );
    }
    let longest = quantile(g, Metric::FreezeDurationMs, 1.0);
    assert!(
        (longest - 700.0).abs() <= 33.4,
        "longest freeze {longest} ms"
    );
}

#[test]
fn a_400ms_stall_alone_is_not_a_500ms_freeze() {
    let _heavy = common::heavy_blocking();
    let toml = r#"name = "freeze400"
duration = "5s"
[video]
width = 320
height = 180
[[group]]
name = "one"
receivers = 1
probes = 0
"#;
    let groups = simulate_with(toml, 5, |_, room| {
        room.sender_mut()
            .add_stall(91 * FRAME_US - 1, 102 * FRAME_US - 1)
    });
    let s = &group(&groups, "one").sessions[0];
    assert_eq!(
        (
            s.freeze_w3c.count,
            s.freeze_200ms.count,
            s.freeze_500ms.count
        ),
        (1, 1, 0)
    );
    assert!((s.freeze_w3c.total_us as f64 / 1000.0 - 400.0).abs() <= FRAME_US as f64 / 1000.0);
}

#[test]
fn a_clean_stream_has_no_freezes() {
    let _heavy = common::heavy_blocking();
    let toml = r#"name = "smooth"
duration = "5s"
[video]
width = 320
height = 180
[[group]]
name = "smooth"
receivers = 2
probes = 1
"#;
    let groups = simulate(toml);
    for s in &group(&groups, "smooth").sessions {
        assert_eq!(
            s.freeze_w3c.count + s.freeze_200ms.count + s.freeze_500ms.count,
            0,
            "{}",
            s.id
        );
        assert!((s.fps - 30.0).abs() < 0.5, "{}: {} fps", s.id, s.fps);
    }
}
