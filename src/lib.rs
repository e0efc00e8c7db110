//! rtcbench: benchmark and load-test harness for real-time audio/video providers.
//!
//! Data flows one way: scenario → plan → engine → metrics → results → score → report, and
//! imports follow it downwards only; docs/architecture.md lists the floors in order.

pub mod base;
pub mod cli;
pub mod client;
pub mod deploy;
pub mod engine;
pub mod media;
pub mod metrics;
pub mod net;
pub mod plan;
pub mod provider;
pub mod record;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod score;
pub mod sfu;
pub mod telemetry;
