//! Tests whose verdict rests on comparing latencies, between two routes in one run or between
//! two runs. Cargo runs test binaries one after another, so nothing from the integration binary
//! shares the CPU while these measure. Beside the other tests in CI, two identical runs once
//! differed by 73 ms at p95 in every call, and did not tie.
//! Within this binary they still take `common::heavy()`, so they run one at a time.

#[allow(dead_code)]
#[path = "../integration/common.rs"]
mod common;

mod hostile_scrapers;
mod scoring;
mod sfu_overhead;
