//! Network impairment: the in-process simulated link used to calibrate the media pipeline, and
//! the user-space layer in front of each WebRTC client's socket.

pub use crate::record::NetworkPhase;
pub mod impair;
pub mod kernel;
pub mod sim_link;

pub use sim_link::{LinkStats, SimLink};
