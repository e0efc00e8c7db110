//! The ground floor: what every layer shares and which imports nothing of the crate. Time in
//! microseconds and the wall clock, the one seeded generator, and values as people write them
//! (durations, bit rates, percentages), blanking secrets out of text, and writing files whole or
//! not at all.

pub mod clock;
pub mod cpu;
pub mod files;
pub mod offset;
pub mod redact;
pub mod rng;
pub mod units;

pub use clock::WallClock;

/// Microseconds on a media clock (the Unix epoch in real runs, zero in simulated ones).
pub type Micros = u64;
