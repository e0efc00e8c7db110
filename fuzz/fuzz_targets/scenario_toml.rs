//! A scenario file as `rtcbench validate` and `run` read it: any text gives a scenario or
//! errors with line and field, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = rtcbench::runner::load::scenario_text(text, "fuzz.toml");
});
