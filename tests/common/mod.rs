#![allow(dead_code)]

use rtcbench::engine::driver::run_simulated;
use rtcbench::engine::{GroupOutcome, Room};
use rtcbench::metrics::Metric;
use rtcbench::plan;
use rtcbench::scenario;

/// Runs every group of a scenario in simulated time; `prepare` may script the room first.
pub fn simulate_with(
    toml: &str,
    seed: u64,
    prepare: impl Fn(&str, &mut Room),
) -> Vec<GroupOutcome> {
    let s = scenario::parse(toml, "test.toml").unwrap_or_else(|e| panic!("test scenario: {e}"));
    let plan = plan::build(&s, seed, None);
    plan.groups
        .iter()
        .map(|g| {
            let mut room = Room::new(g, 0, plan.interval_us).expect("room");
            prepare(&g.name, &mut room);
            run_simulated(&mut room).expect("simulated run");
            room.finish(u64::MAX)
        })
        .collect()
}

pub fn simulate(toml: &str) -> Vec<GroupOutcome> {
    simulate_with(toml, 7, |_, _| {})
}

pub fn group<'a>(groups: &'a [GroupOutcome], name: &str) -> &'a GroupOutcome {
    groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

pub fn quantile(g: &GroupOutcome, m: Metric, q: f64) -> f64 {
    let h = &g
        .series
        .get(&m)
        .unwrap_or_else(|| panic!("{} not recorded", m.name()))
        .total
        .0;
    h.value_at_quantile(q) as f64 / m.scale()
}

pub fn mean(g: &GroupOutcome, m: Metric) -> f64 {
    let h = &g
        .series
        .get(&m)
        .unwrap_or_else(|| panic!("{} not recorded", m.name()))
        .total
        .0;
    h.mean() / m.scale()
}

/// A fresh folder for one test's files, unique to this process.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rtcbench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A child process killed when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes a `whip-whep` provider file for the server at `base` (`http://host:port`), with any
/// `extra` lines, and returns its path.
pub fn whip_whep_provider(
    dir: &std::path::Path,
    name: &str,
    base: &str,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nkind = \"whip-whep\"\nwhip_url = \"{base}/whip/{{room}}\"\n\
             whep_url = \"{base}/whep/{{room}}\"\n{extra}"
        ),
    )
    .expect("write provider file");
    path
}
