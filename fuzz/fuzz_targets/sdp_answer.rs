//! A server's SDP answer to a real offer of ours, as `NativePeer::accept_answer` and the light
//! path's `LightPeer::accept_answer` take it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rtcbench::base::WallClock;
use rtcbench::client::light::peer::LightPeer;
use rtcbench::client::native::Role;
use rtcbench::client::NativePeer;
use rtcbench::media::receiver::{AudioReceiver, Receiver, Role as ReceiverRole, VideoReceiver};

fuzz_target!(|answer: &str| {
    rtcbench::client::init_crypto();
    let clock = WallClock::start();
    let receiver = Receiver::new(
        "fuzz".into(),
        ReceiverRole::Light,
        0,
        VideoReceiver::new(0, None),
        AudioReceiver::new(None),
    );
    let light_receiver = Receiver::new(
        "fuzz".into(),
        ReceiverRole::Light,
        0,
        VideoReceiver::new(0, None),
        AudioReceiver::new(None),
    );
    let address = "127.0.0.1:9".parse().expect("address");
    if let Ok(mut light) = LightPeer::new(light_receiver, address, clock, std::time::Instant::now())
    {
        light.create_offer();
        let _ = light.accept_answer(answer);
    }
    let Ok(mut peer) = NativePeer::new(
        Role::Subscribe(Box::new(receiver)),
        "127.0.0.1:9".parse().expect("address"),
        clock,
        std::time::Instant::now(),
    ) else {
        return;
    };
    if peer.create_offer().is_ok() {
        let _ = peer.accept_answer(answer);
    }
});
