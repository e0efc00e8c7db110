//! Scenario files as `rtcbench validate` and `rtcbench run` read them: the schema's own checks
//! (scenario layer), then the `[scoring]` overrides against the catalogue of scored metrics
//! (score layer), each reported at the file's line and field.

use crate::scenario::{self, Problems, Scenario, ScenarioError};
use std::path::Path;

fn check(s: &Scenario) -> Problems {
    let mut problems = scenario::validate(s);
    problems.extend(crate::score::config::check_overrides(s).err());
    problems
}

pub fn scenario_file(path: &Path) -> Result<Scenario, ScenarioError> {
    scenario::load_toml(path, check)
}

/// `scenario_file` for text in hand; `file` names it in errors.
pub fn scenario_text(source: &str, file: &str) -> Result<Scenario, ScenarioError> {
    scenario::parse_toml(source, file, check)
}
