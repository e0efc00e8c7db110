//! The in-band marker (H.264 SEI in an Annex B access unit) and the pixel marker of a frame
//! made of the input's bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtcbench::media::frame::I420Frame;
use rtcbench::media::marker;

fuzz_target!(|data: &[u8]| {
    let _ = marker::find_sei_marker(data);
    for nal in marker::annexb_nals(data) {
        let _ = marker::parse_sei_nal(nal);
    }
    if data.len() < 2 {
        return;
    }
    // A small frame whose size comes from the first bytes and whose pixels from the rest.
    let (width, height) = (
        16 + usize::from(data[0] % 64) * 2,
        16 + usize::from(data[1] % 32) * 2,
    );
    let pixels = &data[2..];
    let plane = |len: usize, from: usize| -> Vec<u8> {
        (0..len)
            .map(|i| {
                pixels
                    .get((from + i) % pixels.len().max(1))
                    .copied()
                    .unwrap_or(0)
            })
            .collect()
    };
    let frame = I420Frame {
        width,
        height,
        y: plane(width * height, 0),
        u: plane(width * height / 4, 7),
        v: plane(width * height / 4, 13),
    };
    let _ = marker::read_pixel_marker(&frame);
});
