use super::*;

fn at(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

/// Three layers at about 150 kbps, 500 kbps and 2 Mbps, metered over one second to `until_ms`.
fn rates(t0: Instant, until_ms: u64, on: [bool; 3]) -> LayerRates {
    let mut rates = LayerRates::new(3);
    for ms in (0..=until_ms).step_by(10) {
        for (layer, bps) in [150_000u64, 500_000, 2_000_000].into_iter().enumerate() {
            if on[layer] {
                rates.on_packet(layer, (bps / 8 / 100) as usize, at(t0, ms));
            }
        }
    }
    rates
}

#[test]
fn key_frames_are_found_alone_aggregated_and_fragmented() {
    assert!(begins_keyframe(&[0x67, 1, 2]));
    assert!(begins_keyframe(&[0x65, 1, 2]));
    assert!(!begins_keyframe(&[0x41, 1, 2]));
    // STAP-A with an SEI and an SPS.
    assert!(begins_keyframe(&[0x78, 0, 2, 0x06, 9, 0, 2, 0x67, 1]));
    assert!(!begins_keyframe(&[0x78, 0, 2, 0x06, 9, 0, 2, 0x41, 1]));
    // A STAP-A whose size runs past the end is read as far as it goes.
    assert!(!begins_keyframe(&[0x78, 0, 9, 0x06]));
    // FU-A: the first fragment of an IDR slice, and a later one.
    assert!(begins_keyframe(&[0x7C, 0x85, 1]));
    assert!(!begins_keyframe(&[0x7C, 0x05, 1]));
    assert!(!begins_keyframe(&[]));
}

#[test]
fn rates_are_measured_over_the_last_second_and_a_silent_layer_is_off() {
    let t0 = Instant::now();
    let rates = rates(t0, 3000, [true, true, false]);
    let low = rates.rate_bps(0, at(t0, 3000)).unwrap();
    assert!((low - 150_000.0).abs() < 5_000.0, "{low}");
    assert_eq!(rates.rate_bps(2, at(t0, 3000)), None);
    assert_eq!(rates.rate_bps(0, at(t0, 4000)), None);
}

#[test]
fn the_estimate_picks_the_highest_layer_it_carries_and_climbs_back_only_after_a_hold() {
    let t0 = Instant::now();
    let r = rates(t0, 2000, [true; 3]);
    let mut s = LayerSelector::new(3);
    assert_eq!(s.target(), 2);
    s.on_estimate(3_000_000.0, &r, at(t0, 2000));
    assert_eq!(s.target(), 2);
    s.on_estimate(1_000_000.0, &r, at(t0, 2000));
    assert_eq!(s.target(), 2, "3 Mbps was estimated within the window");
    s.on_estimate(1_000_000.0, &rates(t0, 3600, [true; 3]), at(t0, 3600));
    assert_eq!(s.target(), 1, "1 Mbps carries 500 kbps, not 2 Mbps");
    s.on_estimate(600_000.0, &rates(t0, 5200, [true; 3]), at(t0, 5200));
    let why = "500 kbps still fits 600 kbps, though not with headroom";
    assert_eq!(s.target(), 1, "{why}");
    s.on_estimate(100_000.0, &rates(t0, 5300, [true; 3]), at(t0, 5300));
    assert_eq!(s.target(), 1, "a dip within the window");
    s.on_estimate(100_000.0, &rates(t0, 6900, [true; 3]), at(t0, 6900));
    assert_eq!(s.target(), 0, "below every layer: the lowest");
    let r = rates(t0, 7000, [true; 3]);
    s.on_estimate(3_000_000.0, &r, at(t0, 7000));
    assert_eq!(s.target(), 0, "within the hold after a step down");
    let r = rates(t0, 11_000, [true; 3]);
    s.on_estimate(3_000_000.0, &r, at(t0, 11_000));
    assert_eq!(s.target(), 2);
    s.on_estimate(1_750_000.0, &rates(t0, 13_000, [true; 3]), at(t0, 13_000));
    let why = "GoogCC's answer to one overuse: 0.85 x the rate arriving, under the layer's";
    assert_eq!(s.target(), 2, "{why}");
    s.on_estimate(1_500_000.0, &rates(t0, 14_600, [true; 3]), at(t0, 14_600));
    assert_eq!(s.target(), 1, "a second backoff is under 80 % of 2 Mbps");
}

#[test]
fn a_pinned_layer_is_kept_whatever_the_estimate() {
    let t0 = Instant::now();
    let r = rates(t0, 2000, [true; 3]);
    let mut s = LayerSelector::new(3);
    s.pin(Some(0));
    s.on_estimate(10_000_000.0, &r, at(t0, 2000));
    assert_eq!(s.target(), 0);
    s.pin(None);
    s.on_estimate(10_000_000.0, &r, at(t0, 2000));
    assert_eq!(s.target(), 2);
}

#[test]
fn a_switch_waits_for_the_new_layers_key_frame_and_the_viewer_sees_one_stream() {
    let t0 = Instant::now();
    let mut s = LayerSelector::new(2);
    // Nothing is sent before the target layer's key frame.
    assert_eq!(s.keyframe_wanted(t0), Some(1));
    assert_eq!(
        s.keyframe_wanted(at(t0, 100)),
        None,
        "asked again only later"
    );
    assert_eq!(s.on_packet(1, 70_000, 9000, t0, false, true), None);
    let first = s.on_packet(1, 70_001, 9000, t0, true, true).unwrap();
    assert_eq!(
        first.seq_no,
        70_001 % WRAP,
        "the stream starts at rollover zero"
    );
    assert_eq!(first.rtp_time, 9000);
    assert_eq!(s.keyframe_wanted(at(t0, 600)), None, "on target");
    let second = s
        .on_packet(1, 70_002, 12_000, at(t0, 33), false, true)
        .unwrap();
    assert_eq!(second.seq_no, first.seq_no + 1);
    assert_eq!(s.on_packet(0, 500, 12_000, at(t0, 33), true, true), None);
    // Down to layer 0: layer 1 is sent until layer 0's key frame, then never again.
    let r = rates(t0, 1000, [true, true, false]);
    s.on_estimate(300_000.0, &r, at(t0, 66));
    assert_eq!(s.target(), 0);
    assert_eq!(s.keyframe_wanted(at(t0, 66)), Some(0));
    let third = s
        .on_packet(1, 70_003, 15_000, at(t0, 66), false, true)
        .unwrap();
    assert_eq!(s.on_packet(0, 501, 15_000, at(t0, 66), false, true), None);
    let switched = s
        .on_packet(0, 502, 777_000, at(t0, 100), true, true)
        .unwrap();
    assert_eq!(
        switched.seq_no,
        third.seq_no + 1,
        "numbers run on across the switch"
    );
    assert_eq!(
        switched.rtp_time,
        third.rtp_time + 34 * 90,
        "RTP time runs on by the time between the packets"
    );
    assert_eq!(
        s.on_packet(1, 70_004, 18_000, at(t0, 100), false, true),
        None
    );
    assert_eq!(s.on_packet(0, 501, 777_000, at(t0, 100), false, true), None);
    let next = s
        .on_packet(0, 503, 780_000, at(t0, 133), false, true)
        .unwrap();
    assert_eq!(next.seq_no, switched.seq_no + 1);
    assert_eq!(next.rtp_time, switched.rtp_time + 3000);
    assert_eq!(s.switches(), 1);
    assert_eq!(s.current(), Some(0));
}

#[test]
fn a_viewer_whose_layer_went_off_takes_a_lower_layers_key_frame() {
    let t0 = Instant::now();
    let mut s = LayerSelector::new(3);
    s.on_packet(2, 10, 0, t0, true, true).unwrap();
    // The top layer stops (the publisher turned it off); the target is still the top.
    assert_eq!(s.on_packet(1, 20, 0, at(t0, 700), true, true), None);
    assert!(s.on_packet(1, 21, 0, at(t0, 700), true, false).is_some());
    assert_eq!(s.current(), Some(1));
}

#[test]
fn a_viewer_below_the_top_layer_probes_every_so_often_with_a_rising_step() {
    let t0 = Instant::now();
    let mut s = LayerSelector::new(2);
    assert_eq!(s.probe_step(t0), None, "nothing sent yet");
    s.on_packet(1, 10, 0, t0, true, true).unwrap();
    assert_eq!(s.probe_step(t0), None, "on the top layer");
    let r = rates(t0, 1000, [true, true, false]);
    s.on_estimate(300_000.0, &r, at(t0, 1000));
    s.on_packet(0, 20, 0, at(t0, 1000), true, true).unwrap();
    assert_eq!(s.current(), Some(0));
    assert_eq!(s.probe_step(at(t0, 1000)), Some(1));
    assert_eq!(s.probe_step(at(t0, 2000)), None);
    assert_eq!(s.probe_step(at(t0, 2500)), Some(2));
    let steps: Vec<_> = (1..=30)
        .filter_map(|k| s.probe_step(at(t0, 2500 + k * 1500)))
        .collect();
    assert_eq!(steps.len(), 30);
    assert!(steps.contains(&0), "the step starts over: {steps:?}");
}

#[test]
fn key_frame_requests_for_a_layer_are_combined_and_none_is_lost() {
    let t0 = Instant::now();
    let mut requests = KeyframeRequests::default();
    assert!(requests.pass("r", Some(0), t0));
    // Another layer, or all layers, is another request.
    assert!(requests.pass("r", Some(1), at(t0, 10)));
    assert!(requests.pass("r", None, at(t0, 10)));
    // Two more for layer 0 within the window wait; one request goes when it ends.
    assert!(!requests.pass("r", Some(0), at(t0, 50)));
    assert!(!requests.pass("r", Some(0), at(t0, 120)));
    assert!(requests.due(at(t0, 150)).is_empty());
    assert_eq!(requests.next_due(), Some(at(t0, 200)));
    assert_eq!(requests.due(at(t0, 200)), [("r".to_string(), Some(0))]);
    assert_eq!(requests.next_due(), None);
    assert!(requests.due(at(t0, 450)).is_empty(), "sent once");
    // The wait counts from the one sent at 200 ms.
    assert!(!requests.pass("r", Some(0), at(t0, 300)));
    assert!(requests.pass("r", Some(0), at(t0, 650)));
}

#[test]
fn a_viewer_below_the_top_layer_has_its_estimator_restarted_every_4_s_while_there() {
    let t0 = Instant::now();
    let r = rates(t0, 2000, [true; 3]);
    let mut s = LayerSelector::new(3);
    s.on_estimate(900_000.0, &r, at(t0, 2000));
    assert_eq!(
        s.restart_estimator(at(t0, 9000)),
        None,
        "not on a layer yet"
    );
    assert_eq!(s.target(), 1, "900 kbps carries the 500 kbps layer");
    s.on_packet(1, 1, 0, at(t0, 2100), true, true);
    assert_eq!(s.current(), Some(1));
    assert_eq!(s.restart_estimator(at(t0, 2100)), None, "just stepped down");
    assert_eq!(s.restart_estimator(at(t0, 6000)), None, "3.9 s below");
    assert_eq!(s.restart_estimator(at(t0, 6100)), Some(900_000.0));
    s.on_estimate(950_000.0, &r, at(t0, 7000));
    assert_eq!(
        s.restart_estimator(at(t0, 10_000)),
        None,
        "restarted 3.9 s ago"
    );
    assert_eq!(
        s.restart_estimator(at(t0, 10_100)),
        Some(950_000.0),
        "new estimates do not put it off"
    );
    s.pin(Some(2));
    s.on_packet(2, 2, 0, at(t0, 11_000), true, true);
    s.pin(None);
    assert_eq!(s.current(), Some(2));
    assert_eq!(s.restart_estimator(at(t0, 16_000)), None, "on top");
    s.pin(Some(1));
    s.on_packet(1, 3, 0, at(t0, 17_000), true, true);
    s.pin(None);
    assert_eq!(s.current(), Some(1));
    assert_eq!(s.restart_estimator(at(t0, 17_000)), None, "below again");
    assert_eq!(
        s.restart_estimator(at(t0, 20_000)),
        None,
        "the 4 s count from going below again"
    );
    assert_eq!(s.restart_estimator(at(t0, 21_000)), Some(950_000.0));
    s.pin(Some(1));
    assert_eq!(
        s.restart_estimator(at(t0, 30_000)),
        None,
        "a pinned viewer asked for it"
    );
}
