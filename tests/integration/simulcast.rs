//! Simulcast through the embedded SFU: a host publishes three layers, half the room's viewers
//! are capped at 1 Mbps (under the 2 Mbps top layer) for a scripted window, and each viewer's
//! layer follows its own network.

use crate::common;
use rtcbench::metrics::Metric;
use rtcbench::record::ReceiverSummary;
use rtcbench::results::RunResults;

/// The cap's window, seconds from the group's start.
const CAP_FROM_S: f64 = 6.0;
const CAP_TO_S: f64 = 16.0;

const SCENARIO: &str = r#"name = "layer-switch-test"
duration = "28s"
transport = "webrtc"
[video]
width = 640
height = 360
bitrate = "2Mbps"
simulcast = [
  { scale_down = 4, bitrate = "150kbps" },
  { scale_down = 2, bitrate = "500kbps" },
]
[network.capped]
base = "clean"
schedule = [{ at = "6s", profile = "cap-1mbps" }, { at = "16s", profile = "clean" }]
[network.cap-1mbps]
rate = "1Mbps"
[[group]]
name = "room"
receivers = 4
probes = 2
networks = [{ profile = "capped", share = "50%" }]
"#;

/// `rtcbench run` of `scenario` in a fresh folder: the folder and what the run wrote.
fn run(tag: &str, scenario: &str) -> (std::path::PathBuf, RunResults) {
    let dir = common::temp_dir(tag);
    let path = dir.join("scenario.toml");
    std::fs::write(&path, scenario).expect("write");
    let out = dir.join("out");
    let run = common::run_to(&path, &out);
    assert!(
        run.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let results = RunResults::read(&out.join("run.json")).expect("run.json");
    (dir, results)
}

fn changes(s: &ReceiverSummary) -> Vec<(f64, u32)> {
    let layers = s.layers.as_ref().expect("layers shown");
    layers.changes.iter().map(|c| (c.at_s, c.height)).collect()
}

#[test]
fn a_capped_viewer_drops_to_a_layer_that_fits_and_climbs_back_while_others_stay_on_top() {
    let _heavy = common::heavy_blocking();
    let (dir, r) = run("simulcast", SCENARIO);

    let uncapped = r.group("room").expect("uncapped group");
    for s in &uncapped.sessions {
        eprintln!("uncapped {}: {:?}", s.id, changes(s));
        assert_eq!(changes(s).len(), 1, "{}: one size throughout", s.id);
        assert_eq!(changes(s)[0].1, 360, "{}: the top layer", s.id);
    }

    let capped = r.group("room@capped").expect("capped group");
    let mut down_by = 0.0f64;
    for s in &capped.sessions {
        let layers = s.layers.as_ref().expect("layers");
        eprintln!(
            "capped {} ({:?}): {:?}, switch times {:?} ms, frames skipped {}",
            s.id,
            s.role,
            changes(s),
            layers.switch_ms,
            layers.frames_skipped_at_switches
        );
        let down = changes(s)
            .into_iter()
            .find(|&(at, h)| at >= CAP_FROM_S && h < 360)
            .expect("a step down under the cap");
        assert!(
            down.0 < CAP_FROM_S + 5.0,
            "{}: on a smaller layer {:.1} s after the cap",
            s.id,
            down.0 - CAP_FROM_S
        );
        down_by = down_by.max(down.0);
        let up = changes(s)
            .into_iter()
            .find(|&(at, h)| at >= CAP_TO_S && h == 360)
            .expect("back on the top layer");
        assert!(
            up.0 < CAP_TO_S + 10.0,
            "{}: back on top {:.1} s after the cap lifted",
            s.id,
            up.0 - CAP_TO_S
        );
        let under_cap = changes(s)
            .into_iter()
            .filter(|&(at, _)| at > down.0 && at < CAP_TO_S)
            .all(|(_, h)| h < 360);
        assert!(under_cap, "{}: never back on top under the cap", s.id);
        assert_eq!(layers.switch_ms.len(), 2, "{}: both changes timed", s.id);
        if let Some(psnr) = layers
            .resolutions
            .iter()
            .map(|t| t.psnr_db)
            .collect::<Option<Vec<f64>>>()
        {
            eprintln!("{}: PSNR by size, largest first {psnr:?}", s.id);
            assert!(psnr.windows(2).all(|w| w[0] > w[1]), "PSNR falls with size");
        }
    }

    // Once on a layer that fits, through to the cap's end: smooth, repaired, under the cap.
    let during = |m: Metric| -> Vec<(f64, f64, f64)> {
        let metric = capped.metric(m).expect("metric");
        metric
            .intervals
            .iter()
            .filter(|i| i.start_s >= down_by.ceil() && i.start_s + 1.0 <= CAP_TO_S)
            .filter(|i| i.summary.count > 0)
            .map(|i| (i.start_s, i.summary.mean, i.summary.max))
            .collect()
    };
    let fps = during(Metric::Fps);
    let loss = during(Metric::PacketLossPct);
    let kbps = during(Metric::BitrateKbps);
    eprintln!("under the cap: fps {fps:?}\nloss {loss:?}\nkbps {kbps:?}");
    assert!(fps.len() >= 3, "seconds on a fitting layer under the cap");
    let mean = |v: &[(f64, f64, f64)]| v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64;
    assert!(mean(&fps) >= 25.0, "fps {:.1}", mean(&fps));
    assert!(mean(&loss) <= 1.0, "loss after repair {:.2} %", mean(&loss));
    assert!(
        kbps.iter().all(|&(_, _, max)| max < 1000.0),
        "every viewer's video under the 1 Mbps cap each second"
    );
    std::fs::remove_dir_all(&dir).ok();
}

const UPLINK_SCENARIO: &str = r#"name = "uplink-cap-test"
duration = "30s"
transport = "webrtc"
[video]
width = 640
height = 360
bitrate = "1.5Mbps"
simulcast = [
  { scale_down = 4, bitrate = "150kbps" },
  { scale_down = 2, bitrate = "400kbps" },
]
[network.uplink]
base = "clean"
schedule = [{ at = "5s", profile = "up-800kbps" }, { at = "13s", profile = "clean" }]
[network.up-800kbps]
rate = "800kbps"
[[group]]
name = "room"
receivers = 2
probes = 0
publisher_network = "uplink"
"#;

/// The publisher's uplink capped at 800 kbps from 5 s to 13 s: its own bandwidth estimate turns
/// the 1.5 Mbps top layer off (the two below take 550 kbps together), so its uncapped viewers
/// are moved to a layer still sent; when the cap lifts the top layer comes back within 10 s, and
/// so do they.
#[test]
fn a_publisher_whose_uplink_narrows_turns_its_top_layer_off_and_back_on() {
    let _heavy = common::heavy_blocking();
    let (dir, r) = run("simulcast-uplink", UPLINK_SCENARIO);
    let room = r.group("room").expect("room");
    for s in &room.sessions {
        let shown = changes(s);
        eprintln!("{}: {shown:?}", s.id);
        assert_eq!(shown[0].1, 360, "{}: starts on the top layer", s.id);
        let down = shown
            .iter()
            .find(|&&(at, h)| at >= 5.0 && h < 360)
            .expect("a smaller layer while the uplink is capped");
        assert!(
            down.0 < 5.0 + 5.0,
            "{}: down after {:.1} s",
            s.id,
            down.0 - 5.0
        );
        let up = shown
            .iter()
            .find(|&&(at, h)| at > down.0 && h == 360)
            .expect("the top layer back after the cap");
        assert!(
            up.0 >= 13.0,
            "{}: back on top under the cap at {:.1} s",
            s.id,
            up.0
        );
        assert!(
            up.0 < 13.0 + 10.0,
            "{}: back on top {:.1} s after the cap",
            s.id,
            up.0 - 13.0
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
