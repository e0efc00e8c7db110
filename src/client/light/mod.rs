//! The light viewer's own receive path, without a str0m session per viewer (issue 20): what a
//! viewer that only counts, times and marker-reads needs of WebRTC, each piece sans-IO.
//!
//! So far: SRTP and SRTCP ([`srtp`]). The plan and where it stands are in
//! docs/measurement.md ("A light receive path of our own").

pub mod feedback;
pub mod srtp;
#[cfg(test)]
mod srtp_vectors;
