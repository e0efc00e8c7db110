//! run.json as `report` and `compare` read it back, histograms included.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(r) = rtcbench::results::RunResults::parse(text, "fuzz.json") {
        // What every report reads first: each metric's whole-run and per-interval figures.
        for g in &r.groups {
            for m in g.metrics.values() {
                let _ = m.window_summary(0.0, r.duration_s);
            }
        }
    }
});
