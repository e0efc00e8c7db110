//! The CDN players and their parsers: an HLS playlist, an MPEG-TS segment, an fMP4 init segment
//! and fragment (the input's two halves), and an FLV stream fed in pieces (whose tags are read
//! as video); then an HLS player answered with the input as every playlist and segment, and an
//! HTTP-FLV player fed it as its stream.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtcbench::media::live::player::flv::{FlvConfig, FlvPlayer};
use rtcbench::media::live::player::hls::{HlsConfig, HlsPlayer};
use rtcbench::media::live::player::Fetched;
use rtcbench::media::live::{avc, flv, fmp4, playlist, ts};

fuzz_target!(|data: &[u8]| {
    let _ = playlist::parse(data);
    let _ = ts::demux(data, 1 << 20);
    let (init, fragment) = data.split_at(data.len() / 2);
    if let Ok(init) = fmp4::parse_init(init) {
        let _ = fmp4::demux(fragment, &init);
    }
    let mut demuxer = flv::Demuxer::new(1 << 20);
    for piece in data.chunks(7) {
        demuxer.push(piece);
        while let Some(tag) = demuxer.next_tag() {
            let Ok(tag) = tag else { return };
            if let Ok(flv::Video::Frame { nal_units, .. }) = flv::parse_video(&tag) {
                let _ = avc::find_marker(nal_units, 4);
                let _ = avc::has_idr(nal_units, 4);
            }
        }
    }
    let _ = demuxer.finish();
    let _ = avc::DecoderConfig::parse_record(data);
    players(data);
});

fn players(data: &[u8]) {
    let low_latency = data.first().is_some_and(|b| b & 1 == 1);
    let config = HlsConfig {
        low_latency,
        ..HlsConfig::default()
    };
    let mut hls = HlsPlayer::new("http://o.test/live/index.m3u8", config, 0);
    let mut now = 0;
    for _ in 0..12 {
        now += 250_000;
        if let Some(fetch) = hls.poll(now) {
            let fetched = Fetched {
                status: 200,
                body: data.to_vec(),
                sent_at: now,
                done_at: now + 1_000,
            };
            hls.on_fetched(fetch.id, Ok(fetched), now + 1_000);
        }
        hls.advance(now + 2_000);
    }
    let mut flv = FlvPlayer::new("http://o.test/live/a.flv", FlvConfig::default(), 0);
    if let Some(fetch) = flv.poll(0) {
        flv.on_status(fetch.id, 200, 0);
        for (i, piece) in data.chunks(13).enumerate() {
            flv.on_bytes(fetch.id, piece, i as u64 * 40_000);
        }
        flv.on_end(fetch.id, None, 10_000_000);
    }
}
