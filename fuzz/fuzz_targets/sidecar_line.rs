//! One line of a sidecar's output, as the JSON-lines protocol reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &str| {
    let _ = rtcbench::client::sidecar::parse_event(line);
});
