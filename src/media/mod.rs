//! Media: synthetic sources, codecs, markers, RTP, and the sender and receiver state machines.
//! Nothing here touches a socket or reads a clock: time comes in as arguments.

pub mod codec;
pub mod frame;
pub mod live;
pub mod marker;
pub mod quality;
pub mod receiver;
pub mod rtp;
pub mod sender;
pub mod simulcast;
pub mod source;
pub mod y4m;

pub use crate::base::Micros;
