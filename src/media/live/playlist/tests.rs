use super::*;

const NGINX_RTMP: &str = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:12
#EXT-X-TARGETDURATION:2
#EXTINF:2.000,
stream-12.ts
#EXTINF:2.040,
stream-13.ts
#EXT-X-DISCONTINUITY
#EXTINF:1.960,
stream-14.ts
";

const LOW_LATENCY: &str = "#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-PART:DURATION=0.200,URI=\"40.0.ts\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.200,URI=\"40.1.ts\"
#EXTINF:2.000,
40.ts
#EXT-X-PART:DURATION=0.200,URI=\"41.0.ts\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.200,URI=\"41.1.ts\"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"41.2.ts\"
";

#[test]
fn a_live_playlist_gives_numbered_segments_and_discontinuities() {
    let Parsed::Media(p) = parse(NGINX_RTMP.as_bytes()).unwrap() else {
        panic!("a media playlist")
    };
    assert_eq!(p.target_duration_us, 2_000_000);
    assert_eq!(p.segments.len(), 3);
    assert_eq!(p.segments[1].sequence, 13);
    assert_eq!(p.segments[1].duration_us, 2_040_000);
    assert!(p.segments[2].discontinuity);
    assert_eq!(p.next_sequence(), 15);
    assert!(p.low_latency.is_none() && !p.end_list);
}

#[test]
fn low_latency_parts_and_the_preload_hint_after_the_last_segment_are_kept() {
    let Parsed::Media(p) = parse(LOW_LATENCY.as_bytes()).unwrap() else {
        panic!("a media playlist")
    };
    let ll = p.low_latency.unwrap();
    assert_eq!(ll.part_target_us, 200_000);
    assert!(ll.can_block_reload);
    assert_eq!(ll.part_hold_back_us, Some(600_000));
    assert_eq!(p.segments.len(), 1);
    assert_eq!(p.segments[0].parts.len(), 2);
    assert!(p.segments[0].parts[0].independent);
    assert_eq!(p.pending_parts.len(), 2);
    assert_eq!(p.pending_parts[1].uri, "41.1.ts");
    assert_eq!(p.preload_hint.as_deref(), Some("41.2.ts"));
    let again = write_media(&p);
    assert_eq!(parse(again.as_bytes()).unwrap(), Parsed::Media(p));
}

#[test]
fn a_master_playlist_lists_its_variants() {
    let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nmid/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=300000\nlow/index.m3u8\n";
    assert_eq!(
        parse(master.as_bytes()).unwrap(),
        Parsed::Master(vec![
            Variant {
                uri: "mid/index.m3u8".into(),
                bandwidth_bps: 800_000
            },
            Variant {
                uri: "low/index.m3u8".into(),
                bandwidth_bps: 300_000
            },
        ])
    );
}

#[test]
fn what_is_not_a_playlist_is_named() {
    assert_eq!(
        parse(b"<html>404 Not Found</html>"),
        Err(PlaylistError::NoHeader("<html>404 Not Found</htm".into()))
    );
    assert_eq!(parse(&[0xFF, 0xFE, 0]), Err(PlaylistError::NotText));
    let bad_part = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PART:URI=\"a.ts\"\n";
    assert_eq!(
        parse(bad_part.as_bytes()).unwrap_err().to_string(),
        "#EXT-X-PART: no DURATION"
    );
}

#[test]
fn an_fmp4_playlists_init_segment_applies_to_the_segments_after_it_and_is_written_back() {
    let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:4\n\
                #EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1.0,\nindex4.m4s\n#EXTINF:1.0,\nindex5.m4s\n";
    let Parsed::Media(media) = parse(text.as_bytes()).unwrap() else {
        panic!("a media playlist");
    };
    let inits: Vec<_> = media.segments.iter().map(|s| s.init.as_deref()).collect();
    assert_eq!(inits, [Some("init.mp4"), Some("init.mp4")]);
    let written = write_media(&media);
    assert_eq!(
        written.matches("#EXT-X-MAP:URI=\"init.mp4\"").count(),
        1,
        "{written}"
    );
    assert_eq!(parse(written.as_bytes()).unwrap(), Parsed::Media(media));
}
