use super::*;

fn row(role: Role, profile: &str, e2e: &[(f64, f64)], joined: bool) -> Row {
    let mut units = vec![None; SOURCES.len()];
    units[Source::E2eLatencyMs.index()] = (!e2e.is_empty()).then(|| e2e.to_vec());
    units[Source::JoinSuccessPct.index()] = share(joined);
    Row {
        role,
        group: "g".into(),
        profile: profile.into(),
        vantage: None,
        units,
    }
}

#[test]
fn pooled_quantiles_weigh_every_frame_and_shares_count_sessions() {
    // 90 frames at 10 ms in one session, 10 at 100 ms in another: p50 10, p95 100.
    let rows = [
        row(Role::Call, "clean", &[(10.0, 90.0)], true),
        row(Role::Call, "clean", &[(100.0, 10.0)], true),
        row(Role::Audience, "4g", &[], false),
    ];
    let all: Vec<&Row> = rows.iter().collect();
    let q = |p| statistic(&all, Source::E2eLatencyMs, Stat::Quantile(p));
    assert_eq!(q(0.5), 10.0);
    assert_eq!(q(0.9), 10.0);
    assert_eq!(q(0.95), 100.0);
    let mean = statistic(&all, Source::E2eLatencyMs, Stat::Mean);
    assert!((mean - 19.0).abs() < 1e-9);
    let joined = statistic(&all, Source::JoinSuccessPct, Stat::Share);
    assert!((joined - 200.0 / 3.0).abs() < 1e-9);
    assert!(statistic(&all, Source::PsnrDb, Stat::Mean).is_nan());
}

#[test]
fn the_cdn_audience_is_its_own_role_split_by_protocol_and_kept_out_of_webrtc_figures() {
    let cdn_row = |group: &str, latency: f64| Row {
        role: Role::Cdn,
        group: group.into(),
        ..row(Role::Cdn, "clean", &[(latency, 1.0)], true)
    };
    let rows = [
        row(Role::Audience, "clean", &[(300.0, 1.0)], true),
        cdn_row("room~http-flv", 800.0),
        cdn_row("room~hls@4g", 6_000.0),
    ];
    let m = |filter| Measure {
        source: Source::E2eLatencyMs,
        stat: Stat::Quantile(0.95),
        filter,
    };
    let all: Vec<&Row> = rows.iter().collect();
    let webrtc = m(Filter {
        webrtc: true,
        ..Filter::default()
    });
    assert_eq!(webrtc.of(&all), 300.0);
    let hls = m(Filter {
        role: Some(Role::Cdn),
        protocol: Some("hls".into()),
        ..Filter::default()
    });
    assert_eq!(hls.of(&all), 6_000.0);
    assert_eq!(
        hls.describe(),
        "e2e_latency_ms p95 (role=cdn, protocol=hls)"
    );
    assert_eq!(Role::parse("cdn"), Some(Role::Cdn));
}

#[test]
fn resolution_delivered_weighs_each_size_by_its_time_and_is_not_measured_without_sizes() {
    use crate::record::{LayersShown, ResolutionTime};
    let blank = crate::media::receiver::Receiver::new(
        "v".into(),
        crate::media::receiver::Role::Light,
        0,
        crate::media::receiver::VideoReceiver::new(0, None),
        crate::media::receiver::AudioReceiver::new(None),
    );
    let mut s = blank.summary("room", 0);
    s.joined = true;
    let source = SourceVideo {
        fps: Some(30.0),
        pixels: Some(640.0 * 360.0),
    };
    let figure = |s: &ReceiverSummary| {
        session_units(s, source)[Source::ResolutionDeliveredPct.index()]
            .as_ref()
            .map(|unit| unit[0].0)
    };
    assert_eq!(figure(&s), None, "no size known: not measured");
    let size = |width, height, ms| ResolutionTime {
        width,
        height,
        ms,
        psnr_db: None,
    };
    // 6 s at full size and 2 s at half the width and height (a quarter of the pixels).
    s.layers = Some(LayersShown {
        resolutions: vec![size(640, 360, 6_000.0), size(320, 180, 2_000.0)],
        ..LayersShown::default()
    });
    let pct = figure(&s).expect("measured");
    assert!(
        (pct - (6.0 * 100.0 + 2.0 * 25.0) / 8.0).abs() < 1e-9,
        "{pct}"
    );
    s.joined = false;
    assert_eq!(figure(&s), None, "a failed join delivers nothing to score");
}

#[test]
fn stall_ratio_is_stall_time_over_watched_time_pooled_over_viewers() {
    let viewer = |stall_ms: f64, watched_s: f64| {
        use crate::media::receiver::{AudioReceiver, Receiver, VideoReceiver};
        let blank = Receiver::new(
            "v".into(),
            crate::media::receiver::Role::Light,
            0,
            VideoReceiver::new(0, None),
            AudioReceiver::new(None),
        );
        let mut s = blank.summary("room~hls", 0);
        s.joined = true;
        s.cdn = Some(crate::record::CdnPlayback {
            stall_ms,
            watched_s,
            startup_ms: Some(700.0),
            ..Default::default()
        });
        Row {
            units: session_units(
                &s,
                SourceVideo {
                    fps: None,
                    pixels: None,
                },
            ),
            ..Row::new(Role::Cdn, "room~hls", "clean")
        }
    };
    // 1 s stalled in 60 s, and 0 in 40 s: 1 %.
    let rows = [viewer(1_000.0, 60.0), viewer(0.0, 40.0)];
    let all: Vec<&Row> = rows.iter().collect();
    let ratio = statistic(&all, Source::StallRatioPct, Stat::Share);
    assert!((ratio - 1.0).abs() < 1e-9, "{ratio}");
    assert_eq!(
        statistic(&all, Source::StartupMs, Stat::Quantile(0.9)),
        700.0
    );
}

#[test]
fn filters_choose_sessions_by_role_and_profile() {
    let rows = [
        row(Role::Cohost, "clean", &[(50.0, 1.0)], true),
        row(Role::Audience, "loss-70", &[(900.0, 1.0)], true),
    ];
    let all: Vec<&Row> = rows.iter().collect();
    let m = |filter| Measure {
        source: Source::E2eLatencyMs,
        stat: Stat::Quantile(0.95),
        filter,
    };
    let cohost = m(Filter {
        role: Some(Role::Cohost),
        ..Filter::default()
    });
    assert_eq!(cohost.of(&all), 50.0);
    assert_eq!(cohost.sessions(&rows), 1);
    let lossy = m(Filter {
        profile: Some("loss-70".into()),
        ..Filter::default()
    });
    assert_eq!(lossy.of(&all), 900.0);
    let missing = m(Filter {
        profile: Some("3g".into()),
        ..Filter::default()
    });
    assert!(missing.of(&all).is_nan());
    assert_eq!(missing.sessions(&rows), 0);
}

#[test]
fn prepared_measures_agree_with_the_direct_statistic_under_resampling() {
    let rows: Vec<Row> = (0..6)
        .map(|k| {
            row(
                if k % 2 == 0 {
                    Role::Call
                } else {
                    Role::Audience
                },
                "clean",
                &[(10.0 + k as f64, 5.0), (40.0 + 3.0 * k as f64, 1.0)],
                k != 3,
            )
        })
        .collect();
    let counts = [2u32, 0, 1, 3, 0, 0];
    let drawn: Vec<&Row> = rows
        .iter()
        .zip(counts)
        .flat_map(|(r, c)| std::iter::repeat_n(r, c as usize))
        .collect();
    for (source, stat, filter) in [
        (
            Source::E2eLatencyMs,
            Stat::Quantile(0.95),
            Filter::default(),
        ),
        (Source::E2eLatencyMs, Stat::Quantile(0.5), Filter::default()),
        (Source::E2eLatencyMs, Stat::Mean, Filter::default()),
        (Source::JoinSuccessPct, Stat::Share, Filter::default()),
        (
            Source::E2eLatencyMs,
            Stat::Quantile(0.9),
            Filter {
                role: Some(Role::Call),
                ..Filter::default()
            },
        ),
    ] {
        let m = Measure {
            source,
            stat,
            filter,
        };
        let direct = m.of(&drawn);
        let prepared = m.prepare(&rows).value(&counts);
        assert!(
            (direct - prepared).abs() < 1e-9,
            "{m:?}: {direct} vs {prepared}"
        );
    }
}

#[test]
fn stats_parse_from_claim_words() {
    assert_eq!(Stat::parse("p95"), Some(Stat::Quantile(0.95)));
    assert!(matches!(Stat::parse("p99.9"), Some(Stat::Quantile(q)) if (q - 0.999).abs() < 1e-12));
    assert_eq!(Stat::parse("mean"), Some(Stat::Mean));
    assert_eq!(Stat::parse("p100"), None);
    assert_eq!(Stat::parse("q95"), None);
    assert_eq!(Stat::Quantile(0.95).label(), "p95");
}
