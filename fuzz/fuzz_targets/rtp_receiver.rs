//! Datagrams as a receiver sees them off the wire (each input split into datagrams by a
//! two-byte length, with a time step before each): parsed as RTP and fed to a receiver's loss,
//! jitter, freeze and frame state machines.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role, VideoReceiver};

fuzz_target!(|data: &[u8]| {
    let mut receiver = Receiver::new(
        "fuzz".into(),
        Role::Light,
        0,
        VideoReceiver::new(0, None),
        AudioReceiver::new(None),
    );
    let mut now = 0u64;
    let mut rest = data;
    receiver.on_connected(now);
    while rest.len() >= 3 {
        now += u64::from(rest[0]) * 1000;
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]]));
        rest = &rest[3..];
        let (datagram, tail) = rest.split_at(len.min(rest.len()));
        receiver.on_datagram(datagram, now);
        receiver.on_interval(now, 1_000_000);
        rest = tail;
    }
    let _ = receiver.drain_samples();
    let _ = receiver.summary("fuzz", now + 1_000_000);
});
