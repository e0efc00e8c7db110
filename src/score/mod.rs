//! Scoring providers (issue 7): statistics over sessions first; thresholds, dimensions,
//! coverage, claims and the procurement report build on them.

pub mod stats;
pub mod thresholds;
