//! Picture quality and the pixel marker through the real codec.

use crate::common;
use crate::common::*;
use rtcbench::metrics::Metric;

#[test]
fn marker_survives_coding_and_psnr_tracks_bitrate() {
    let _heavy = common::heavy_blocking();
    let toml = r#"name = "picture"
duration = "5s"
[video]
width = 640
height = 360
fps = 30
[[group]]
name = "300k"
receivers = 1
probes = 1
bitrate = "300kbps"
[[group]]
name = "600k"
receivers = 1
probes = 1
bitrate = "600kbps"
[[group]]
name = "1M"
receivers = 1
probes = 1
bitrate = "1Mbps"
"#;
    let groups = simulate(toml);
    let mut psnr = Vec::new();
    for name in ["300k", "600k", "1M"] {
        let g = group(&groups, name);
        let s = &g.sessions[0];
        let read = s.marker_read_pct.expect("probe reads markers");
        assert!(
            read >= 99.0,
            "{name}: pixel marker read on {read:.1}% of frames"
        );
        assert!(
            s.frames_rendered >= 140,
            "{name}: {} frames",
            s.frames_rendered
        );
        psnr.push((name, mean(g, Metric::PsnrDb), mean(g, Metric::Ssim)));
        eprintln!(
            "picture {name}: marker read {read:.2}%, PSNR {:.2} dB, SSIM {:.4}, {} kbps received",
            psnr.last().unwrap().1,
            psnr.last().unwrap().2,
            s.bitrate_kbps as u64
        );
    }
    assert!(psnr[2].1 >= 35.0, "PSNR at 1 Mbps is {:.2} dB", psnr[2].1);
    assert!(
        psnr[0].1 < psnr[1].1 && psnr[1].1 < psnr[2].1,
        "PSNR not monotonic in bitrate: {psnr:?}"
    );
    assert!(
        psnr[0].2 < psnr[2].2,
        "SSIM should rise with bitrate: {psnr:?}"
    );
}
