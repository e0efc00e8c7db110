//! Network impairment. For now, the in-process simulated link used to calibrate the media
//! pipeline; the per-socket impairment layer and namespace path come with the real transport.

pub mod sim_link;

pub use sim_link::{LinkStats, SimLink};
