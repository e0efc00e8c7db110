//! The light viewer's own receive path, without a str0m session per viewer (issue 20): what a
//! viewer that only counts, times and marker-reads needs of WebRTC, each piece sans-IO.
//!
//! So far: SRTP and SRTCP ([`srtp`]), the RTCP a browser sends back ([`feedback`]: receiver
//! reports, NACK, PLI, transport-wide congestion control) and the offer and answer ([`sdp`]).
//! The plan and where it stands are in docs/measurement.md ("A light receive path of our own").

pub mod feedback;
pub mod nack;
pub mod peer;
#[cfg(test)]
mod reference_sfu;
pub mod sdp;
pub mod srtp;
#[cfg(test)]
mod srtp_vectors;
