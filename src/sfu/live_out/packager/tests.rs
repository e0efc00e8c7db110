use super::*;
use crate::media::live::flv::{parse_video, Demuxer, Video};
use crate::media::live::playlist::{parse, Parsed};
use crate::media::live::ts::demux;

const FRAME_90K: u64 = 3_600;

/// Frame n at 25 fps, a key frame (with parameter sets) every `gop` frames.
fn frame(n: u64, gop: u64) -> LiveFrame {
    let key = n % gop == 0;
    let mut annexb = Vec::new();
    if key {
        annexb.extend_from_slice(&[
            0, 0, 0, 1, 0x67, 0x42, 0xC0, 0x1F, 0xAA, 0, 0, 0, 1, 0x68, 0xCE,
        ]);
    }
    annexb.extend_from_slice(&[0, 0, 0, 1, if key { 0x65 } else { 0x41 }, n as u8, 0x80]);
    LiveFrame {
        annexb,
        keyframe: key,
        pts_90k: 900_000 + n * FRAME_90K,
    }
}

fn packaged(frames: u64, gop: u64) -> Packager {
    let mut packager = Packager::new(PackagerConfig::default());
    for n in 0..frames {
        packager.push(&frame(n, gop));
    }
    packager
}

#[test]
fn segments_are_cut_at_key_frames_and_parts_every_200_ms() {
    // 3 s and one frame: three whole segments, the fourth just begun.
    let mut packager = packaged(76, 25);
    let Parsed::Media(list) = parse(packager.playlist(true).as_bytes()).unwrap() else {
        panic!("media playlist")
    };
    assert_eq!(list.segments.len(), 3);
    for segment in &list.segments {
        assert_eq!(segment.duration_us, 1_000_000);
        assert_eq!(segment.parts.len(), 5);
        assert!(segment.parts[0].independent && !segment.parts[1].independent);
        assert_eq!(segment.parts[1].duration_us, 200_000);
    }
    assert_eq!(list.preload_hint.as_deref(), Some("3.0.ts"));
    assert!(list.pending_parts.is_empty());
    let frames = demux(&packager.segment(1).unwrap(), 1 << 20).unwrap();
    assert_eq!(frames.len(), 25);
    assert_eq!(frames[0].pts, 900_000 + 25 * FRAME_90K);
    assert!(frames[0].keyframe);
    let part = demux(&packager.part(2, 3).unwrap(), 1 << 20).unwrap();
    assert_eq!(part.len(), 5);
    assert_eq!(part[0].pts, 900_000 + 65 * FRAME_90K);
    assert!(
        packager.can_answer(2, Some(7)),
        "segment 2 is complete with 5 parts"
    );
    // A part is served once the frame after it has come (its duration is known then).
    assert!(!packager.can_answer(3, Some(0)));
    for n in 76..81 {
        packager.push(&frame(n, 25));
    }
    assert!(packager.can_answer(3, Some(0)) && !packager.can_answer(3, Some(1)));
    assert!(!packager.can_answer(3, None));
}

#[test]
fn a_longer_gop_makes_longer_segments_and_the_plain_playlist_has_no_parts() {
    let packager = packaged(151, 50);
    let text = packager.playlist(false);
    assert!(!text.contains("EXT-X-PART"), "{text}");
    let Parsed::Media(list) = parse(text.as_bytes()).unwrap() else {
        panic!("media playlist")
    };
    assert_eq!(list.target_duration_us, 2_000_000);
    assert!(list.segments.iter().all(|s| s.duration_us == 2_000_000));
}

#[test]
fn a_new_flv_viewer_gets_the_header_the_configuration_and_the_gop_so_far() {
    let packager = packaged(60, 25);
    let mut demuxer = Demuxer::new(1 << 20);
    demuxer.push(&packager.flv_start().unwrap());
    let mut frames = Vec::new();
    let mut configs = 0;
    while let Some(tag) = demuxer.next_tag() {
        match parse_video(&tag.unwrap()).unwrap() {
            Video::Config(_) => configs += 1,
            Video::Frame {
                keyframe, pts_ms, ..
            } => frames.push((keyframe, pts_ms)),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(configs, 1);
    // Frames 50–59: the key frame at 2 s and the nine after it.
    assert_eq!(frames.len(), 10);
    assert_eq!(frames[0], (true, 2_000));
    assert!(frames[1..].iter().all(|(key, _)| !key));
}

#[test]
fn nothing_is_packaged_before_the_first_key_frame() {
    let mut packager = Packager::new(PackagerConfig::default());
    for n in 1..20 {
        assert!(packager.push(&frame(n, 25)).is_empty());
    }
    assert!(packager.flv_start().is_none());
    assert!(!packager.push(&frame(25, 25)).is_empty());
    assert!(packager.flv_start().is_some());
}
