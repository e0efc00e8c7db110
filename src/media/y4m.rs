//! YUV4MPEG2 output: the synthetic source as a clip other publishers can play (aiortc, ffmpeg,
//! OBS, a browser's fake camera), so that probes can still score what they receive.

use super::frame::I420Frame;
use super::marker::{draw_pixel_marker, FrameMarker};
use super::source::VideoSource;
use std::io::Write;

/// Writes `frames` pictures of `source` at `fps`, each carrying its frame number in the pixel
/// marker. The capture time is unknown to whoever plays the clip later, so it is marked so.
pub fn write_clip(
    out: &mut impl Write,
    source: &VideoSource,
    fps: u32,
    frames: u64,
) -> std::io::Result<()> {
    let (width, height) = source.dimensions();
    writeln!(
        out,
        "YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg"
    )?;
    for n in 0..frames {
        let mut picture = source.frame(n);
        draw_pixel_marker(
            &mut picture,
            FrameMarker {
                frame: n as u32,
                capture_us: FrameMarker::CAPTURE_UNKNOWN,
            },
        );
        write_frame(out, &picture)?;
    }
    Ok(())
}

fn write_frame(out: &mut impl Write, picture: &I420Frame) -> std::io::Result<()> {
    out.write_all(b"FRAME\n")?;
    out.write_all(&picture.y)?;
    out.write_all(&picture.u)?;
    out.write_all(&picture.v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::marker::read_pixel_marker;

    #[test]
    fn clip_has_a_header_and_marked_frames() {
        let source = VideoSource::new(9, 160, 96);
        let mut bytes = Vec::new();
        write_clip(&mut bytes, &source, 25, 3).expect("write");
        let header_end = bytes.iter().position(|&b| b == b'\n').expect("header") + 1;
        assert_eq!(
            &bytes[..header_end],
            b"YUV4MPEG2 W160 H96 F25:1 Ip A1:1 C420jpeg\n"
        );
        let frame_len = 6 + 160 * 96 * 3 / 2;
        assert_eq!(bytes.len(), header_end + 3 * frame_len);
        let third = &bytes[header_end + 2 * frame_len + 6..];
        let chroma = 80 * 48;
        let picture = I420Frame {
            width: 160,
            height: 96,
            y: third[..160 * 96].to_vec(),
            u: third[160 * 96..160 * 96 + chroma].to_vec(),
            v: third[160 * 96 + chroma..].to_vec(),
        };
        let marker = read_pixel_marker(&picture).expect("marker survives");
        assert_eq!(marker.frame, 2);
        assert_eq!(marker.capture_us, FrameMarker::CAPTURE_UNKNOWN);
    }
}
