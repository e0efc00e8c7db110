//! Faults as the engine applies them: windows in microseconds from the run's start.

pub use crate::record::FaultPlan;
use crate::scenario::faults::{describe, FaultKind, FaultSpec};

impl FaultPlan {
    pub fn of(spec: &FaultSpec) -> Self {
        Self {
            kind: spec.kind,
            start_us: spec.start.as_micros(),
            end_us: spec.end.as_micros(),
            groups: spec.groups.clone(),
            status: spec.status,
            label: describe(spec),
        }
    }

    pub fn hits(&self, group: &str) -> bool {
        self.groups.is_empty() || self.groups.iter().any(|g| g == group)
    }
}

/// Windows (from the run's start) in which `faults` drop a group's media path at its clients.
pub fn blackholes(faults: &[FaultPlan]) -> Vec<(u64, u64)> {
    faults
        .iter()
        .filter(|f| f.kind == FaultKind::Blackhole)
        .map(|f| (f.start_us, f.end_us))
        .collect()
}

/// Windows after whose end a session's recovery is timed: those that stop its media.
pub fn media_stops(faults: &[FaultPlan]) -> Vec<(u64, u64)> {
    faults
        .iter()
        .filter(|f| f.kind.stops_media())
        .map(|f| (f.start_us, f.end_us))
        .collect()
}
