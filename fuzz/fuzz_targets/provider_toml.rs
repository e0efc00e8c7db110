//! A provider file: parsed and checked, then its unset variables listed, as `validate` does.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(p) = rtcbench::provider::parse(text, "fuzz.toml") {
        let _ = rtcbench::provider::file::unset_env(&p, &|_| false);
    }
});
