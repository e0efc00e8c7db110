//! WebRTC endpoints that send and receive our media. `native` is str0m, sans-IO; `driver` runs
//! one over a UDP socket on the tokio runtime (a task per peer, never a thread per peer).

pub mod driver;
pub mod dtls;
pub mod error;
pub mod http_body;
pub mod ice_servers;
pub mod light;
pub mod lines;
pub mod link;
pub mod live_http;
pub mod native;
pub mod peer;
pub mod rtmp_link;
pub mod rtmp_push;
pub mod sdp;
pub mod sidecar;

pub use native::{ClientError, NativePeer, PeerState};
pub use peer::Peer;

/// Installs str0m's crypto backend once per process.
pub fn init_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
}
