//! sessions.csv: one row per receiver session, every field of its summary, as a data table of
//! the report document.

use super::document::Table;
use crate::record::{ReceiverSummary, RunResults};

const HEADER: &str = "session,group,role,first_frame_ms,packets_expected,packets_received,packets_lost,packet_loss_pct,\
packets_malformed,packets_duplicated,packets_reordered,jitter_ms,audio_jitter_ms,frames_complete,frames_rendered,\
rendered_ms,frames_undecodable,keyframe_requests,fps,bitrate_kbps,\
freeze_w3c_count,freeze_w3c_ms,freeze_200ms_count,freeze_200ms_ms,freeze_500ms_count,freeze_500ms_ms,freeze_time_pct,low_fps_time_pct,\
e2e_latency_p50_ms,e2e_latency_p95_ms,audio_latency_p50_ms,audio_gaps,audio_gap_ms,audio_decode_errors,psnr_db,ssim,\
marker_read_pct,video_decode_errors,frames_lost,drops,rejoins,rejoin_failures,recoveries,recovery_max_ms,unrecovered,\
silent_tracks";

/// Each row is an array of exactly this many columns, checked by the compiler.
const COLUMNS: usize = 46;

fn num(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map(|v| format!("{v:.3}"))
        .unwrap_or_default()
}

/// Every session of the run, one row each.
pub fn table(r: &RunResults) -> Table {
    Table {
        title: "Sessions".into(),
        note: None,
        headers: HEADER.split(',').map(String::from).collect(),
        rows: r
            .groups
            .iter()
            .flat_map(|g| g.sessions.iter())
            .map(row)
            .collect(),
    }
}

fn row(s: &ReceiverSummary) -> Vec<String> {
    let cols: [String; COLUMNS] = [
        s.id.clone(),
        s.group.clone(),
        format!("{:?}", s.role).to_lowercase(),
        num(s.first_frame_ms),
        s.packets_expected.to_string(),
        s.packets_received.to_string(),
        s.packets_lost.to_string(),
        num(Some(s.packet_loss_pct)),
        s.packets_malformed.to_string(),
        s.packets_duplicated.to_string(),
        s.packets_reordered.to_string(),
        num(Some(s.jitter_ms)),
        num(Some(s.audio_jitter_ms)),
        s.frames_complete.to_string(),
        s.frames_rendered.to_string(),
        num(Some(s.rendered_ms)),
        s.frames_undecodable.to_string(),
        s.keyframe_requests.to_string(),
        num(Some(s.fps)),
        num(Some(s.bitrate_kbps)),
        s.freeze_w3c.count.to_string(),
        num(Some(s.freeze_w3c.total_us as f64 / 1000.0)),
        s.freeze_200ms.count.to_string(),
        num(Some(s.freeze_200ms.total_us as f64 / 1000.0)),
        s.freeze_500ms.count.to_string(),
        num(Some(s.freeze_500ms.total_us as f64 / 1000.0)),
        num(Some(s.freeze_time_pct)),
        num(Some(s.low_fps_time_pct)),
        num(s.e2e_latency_p50_ms),
        num(s.e2e_latency_p95_ms),
        num(s.audio_latency_p50_ms),
        s.audio_gaps.to_string(),
        num(Some(s.audio_gap_ms)),
        s.audio_decode_errors.to_string(),
        num(s.psnr_db),
        num(s.ssim),
        num(s.marker_read_pct),
        s.video_decode_errors.to_string(),
        s.frames_lost.to_string(),
        s.reconnects.drops.to_string(),
        s.reconnects.rejoins.to_string(),
        s.reconnects.rejoin_failures.to_string(),
        s.recovery_ms.len().to_string(),
        num(s.recovery_ms.iter().copied().reduce(f64::max)),
        s.unrecovered.to_string(),
        s.silent_tracks.join("+"),
    ];
    cols.to_vec()
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_names_every_column() {
        assert_eq!(super::HEADER.split(',').count(), super::COLUMNS);
    }
}
