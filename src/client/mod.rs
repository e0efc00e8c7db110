//! WebRTC endpoints that send and receive our media. `native` is str0m, sans-IO; `driver` runs
//! one over a UDP socket on the tokio runtime (a task per peer, never a thread per peer).

pub mod driver;
pub mod native;

pub use native::{ClientError, NativePeer, PeerState};
