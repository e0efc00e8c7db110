//! WHIP/WHEP Link headers naming ICE servers, one header value per line; each URL alone too.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = rtcbench::client::link::ice_servers(text.lines());
    for line in text.lines() {
        let _ = rtcbench::client::link::IceServerUrl::parse(line);
    }
});
