//! Signalling answers are read with a ceiling (`client::http_body`): a server that sends more
//! than any SDP answer or Janus reply needs fails the step before the body is in memory.

pub use crate::client::http_body::{read_limited, BodyError};

/// The most a signalling answer may hold: SDP answers are a few kB, Janus replies less.
pub const MAX_SIGNAL_BODY: usize = 1024 * 1024;
