//! The writers are held to str0m's RTCP parser, the one the reference SFU reads feedback with.

use super::*;
use std::time::{Duration, Instant};
use str0m::rtp::rtcp::{Rtcp, SdesType};

/// Splits a compound packet and parses each part as str0m does, padding taken off first.
fn parse(compound: &[u8]) -> Vec<Rtcp> {
    assert_eq!(compound.len() % 4, 0, "RTCP comes in 32-bit words");
    let mut parsed = Vec::new();
    let mut rest = compound;
    while !rest.is_empty() {
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        let (packet, tail) = rest.split_at(len);
        let unpadded = match packet[0] & PADDING != 0 {
            true => &packet[..len - usize::from(packet[len - 1])],
            false => packet,
        };
        parsed.push(Rtcp::try_from(unpadded).expect("str0m parses it"));
        rest = tail;
    }
    parsed
}

#[test]
fn a_receiver_report_carries_its_blocks_and_the_cname() {
    let blocks: Vec<ReportBlock> = (0..40)
        .map(|i| ReportBlock {
            ssrc: 1000 + i,
            fraction_lost: i as u8 * 3,
            cumulative_lost: i as i32 * 1000 - 5,
            extended_highest_seq: 70_000 + i,
            jitter: 90 * i,
            last_sr: 0xABCD_0000 + i,
            delay_since_last_sr: 65_536 / 2 + i,
        })
        .collect();
    for cname in ["", "v", "viewer-17@rtcbench"] {
        let mut out = Vec::new();
        write_receiver_report(0x5151, &blocks, cname, &mut out);
        let parsed = parse(&out);
        let Rtcp::ReceiverReport(rr) = &parsed[0] else {
            panic!("{parsed:?}")
        };
        assert_eq!(*rr.sender_ssrc, 0x5151);
        let reports: Vec<_> = rr.reports.iter().collect();
        assert_eq!(reports.len(), MAX_REPORT_BLOCKS);
        for (r, b) in reports.iter().zip(&blocks) {
            assert_eq!(*r.ssrc, b.ssrc);
            assert_eq!(r.fraction_lost, b.fraction_lost);
            assert_eq!(r.packets_lost, (b.cumulative_lost as u32) & 0xFF_FFFF);
            assert_eq!(r.max_seq, b.extended_highest_seq);
            assert_eq!(r.jitter, b.jitter);
            assert_eq!(r.last_sr_time, b.last_sr);
            assert_eq!(r.last_sr_delay, b.delay_since_last_sr);
        }
        let Rtcp::SourceDescription(sdes) = &parsed[1] else {
            panic!("{parsed:?}")
        };
        let chunk = sdes.reports.iter().next().expect("a chunk");
        assert_eq!(*chunk.ssrc, 0x5151);
        let values: Vec<_> = chunk.values.iter().collect();
        assert_eq!(values, vec![&(SdesType::CNAME, cname.to_string())]);
    }
}

#[test]
fn nacks_name_every_missing_packet_and_only_those() {
    let missing = [100u16, 101, 116, 117, 300, 65_535, 0, 15, 101];
    let mut out = Vec::new();
    write_nack(7, 9, &missing, &mut out);
    let parsed = parse(&out);
    let Rtcp::Nack(nack) = &parsed[0] else {
        panic!("{parsed:?}")
    };
    assert_eq!((*nack.sender_ssrc, *nack.ssrc), (7, 9));
    let mut named: Vec<u16> = nack
        .reports
        .iter()
        .flat_map(|e| {
            let lost = (0..16).filter(move |bit| e.blp & (1 << bit) != 0);
            std::iter::once(e.pid).chain(lost.map(move |bit| e.pid.wrapping_add(bit + 1)))
        })
        .collect();
    named.sort_unstable();
    let mut expected = missing.to_vec();
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(named, expected);
    let mut none = Vec::new();
    write_nack(7, 9, &[], &mut none);
    assert!(none.is_empty());
}

#[test]
fn a_picture_loss_indication_names_the_stream() {
    let mut out = Vec::new();
    write_pli(3, 0xDEAD_BEEF, &mut out);
    let parsed = parse(&out);
    let Rtcp::Pli(pli) = &parsed[0] else {
        panic!("{parsed:?}")
    };
    assert_eq!((*pli.sender_ssrc, *pli.ssrc), (3, 0xDEAD_BEEF));
}

/// Writes `report`, parses it with str0m, and checks every packet's status and arrival, which
/// TWCC gives to 250 µs.
fn twcc_round_trip(report: &TwccReport) {
    let mut out = Vec::new();
    report.write(1, 2, 42, &mut out);
    let parsed = parse(&out);
    let Rtcp::Twcc(twcc) = parsed.into_iter().next().expect("one packet") else {
        panic!("not TWCC")
    };
    assert_eq!(
        (*twcc.sender_ssrc, *twcc.ssrc, twcc.feedback_count),
        (1, 2, 42)
    );
    assert_eq!(twcc.status_count as usize, report.arrivals.len());
    let zero = Instant::now();
    let decoded: Vec<_> = twcc
        .into_iter(zero, u64::from(report.base_seq).into())
        .collect();
    assert_eq!(decoded.len(), report.arrivals.len());
    for (i, ((seq, _status, at), expected)) in decoded.iter().zip(&report.arrivals).enumerate() {
        assert_eq!(**seq, u64::from(report.base_seq) + i as u64, "packet {i}");
        let expected = expected.map(|us| zero + Duration::from_micros(us / 250 * 250));
        assert_eq!(*at, expected, "packet {i}");
    }
}

#[test]
fn twcc_feedback_reads_back_with_every_arrival_to_the_quarter_millisecond() {
    let steady: Vec<_> = (0..100).map(|i| Some(1_000_000 + i * 5_123)).collect();
    let lossy: Vec<_> = (0..50)
        .map(|i: u64| (i % 3 != 1).then_some(2_000_000 + i * 2_000))
        .collect();
    let mut jumpy: Vec<_> = (0..30).map(|i| Some(3_000_000 + i * 1_000)).collect();
    jumpy[10] = Some(3_500_000); // late by more than 255 ticks: a large delta
    jumpy[11] = Some(3_004_000); // then back: a negative one
    jumpy[20] = None;
    let long: Vec<_> = (0..10_000).map(|i| Some(i * 100)).collect();
    let cases = [
        (0, steady),
        (65_530, lossy),
        (777, jumpy),
        (5, long),
        (9, vec![Some(64_000 * 300 + 17)]),
        (9, vec![None, None, Some(10_000), None]),
    ];
    for (base_seq, arrivals) in cases {
        twcc_round_trip(&TwccReport { base_seq, arrivals });
    }
}

#[test]
fn twcc_pads_to_a_word_as_libwebrtc_does_and_writes_nothing_without_arrivals() {
    let report = TwccReport {
        base_seq: 1,
        arrivals: vec![Some(1_000), Some(2_000), Some(900_000)],
    };
    let mut out = Vec::new();
    report.write(1, 2, 0, &mut out);
    assert_eq!(out.len() % 4, 0);
    assert_ne!(out[0] & PADDING, 0);
    let padding = usize::from(out[out.len() - 1]);
    assert!((1..4).contains(&padding));
    assert!(out[out.len() - padding..out.len() - 1]
        .iter()
        .all(|b| *b == 0));
    let mut none = Vec::new();
    TwccReport {
        base_seq: 1,
        arrivals: vec![None, None],
    }
    .write(1, 2, 0, &mut none);
    assert!(none.is_empty());
}

#[test]
fn the_recorder_reports_each_packet_once_across_a_wrap_and_reordering() {
    let mut recorder = TwccRecorder::default();
    assert!(recorder.take_report().is_none());
    for (seq, at) in [(65_534u16, 100u64), (0, 300), (65_535, 200), (2, 500)] {
        recorder.on_packet(seq, at);
    }
    let (report, count) = recorder.take_report().expect("a report");
    assert_eq!(count, 0);
    assert_eq!(report.base_seq, 65_534);
    assert_eq!(
        report.arrivals,
        vec![Some(100), Some(200), Some(300), None, Some(500)]
    );
    recorder.on_packet(1, 450); // reported lost already
    assert!(recorder.take_report().is_none());
    recorder.on_packet(3, 600);
    let (report, count) = recorder.take_report().expect("a report");
    assert_eq!(
        (report.base_seq, report.arrivals, count),
        (3, vec![Some(600)], 1)
    );
}

#[test]
fn the_recorder_holds_at_most_its_limit_when_sequence_numbers_jump() {
    let mut recorder = TwccRecorder::default();
    recorder.on_packet(10, 1);
    recorder.on_packet(10 + 30_000, 2);
    let (report, _) = recorder.take_report().expect("a report");
    assert_eq!(report.arrivals.len() as u64, MAX_UNREPORTED);
    assert_eq!(report.arrivals.last(), Some(&Some(2)));
    assert_eq!(report.base_seq, (10 + 30_000 + 1 - MAX_UNREPORTED) as u16);
}
