//! Network impairment: the in-process simulated link used to calibrate the media pipeline, and
//! the user-space layer in front of each WebRTC client's socket.

pub mod impair;
pub mod kernel;
pub mod sim_link;

pub use sim_link::{LinkStats, SimLink};

/// One phase of a scheduled network profile and what the layer realised in it, summed over the
/// group's clients.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkPhase {
    /// Run seconds.
    pub from_s: f64,
    pub to_s: f64,
    pub profile: String,
    pub link: LinkStats,
}
