//! The integration tests, in one binary: each former test file is a module here. One binary
//! links once instead of twenty times, which is most of what a clean CI build spends on tests.
//! Tests that run media in real time or keep a core busy take `common::heavy()` first, so they
//! run one at a time, as they did when each file was its own binary; quick tests run beside them.

mod common;

mod calibration_freeze;
mod calibration_link;
mod calibration_picture;
mod capacity_search;
mod cdn_calibration;
mod cdn_edge;
mod cli;
mod cohost;
mod docs_examples;
mod embedded_sfu;
mod flash_sale;
mod hostile_provider;
mod http_load;
mod impairment;
mod interop_aiortc;
mod janus_videoroom;
mod kernel_path;
mod kubernetes;
mod layer_asks;
mod layers;
mod load_profile;
mod marker_paths;
mod medooze;
mod nginx_rtmp;
mod open_model;
mod results_merge;
mod results_schema;
mod rtmp_ingest;
mod run_guards;
mod scenario_errors;
mod server_quirks;
mod sfu_workers;
mod shards;
mod sidecar;
mod simulcast;
mod telemetry;
mod turn_relay;
mod webrtc_loopback;
mod webrtc_scenarios;
