//! Signalling protocols, as HTTP clients: WHIP/WHEP, Janus's VideoRoom API, and the I/O around
//! the ICE servers a provider names. The kinds (one file each, one floor up) are built on them.

pub mod body;
pub mod ice;
pub mod janus;
pub mod whip;

/// The signalling step that failed, as reports count failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The HTTP request could not be sent or timed out.
    Offer,
    /// The server answered with an error status.
    Status,
    /// The answer was not a usable SDP answer.
    Answer,
    /// ICE/DTLS did not connect in time.
    Connect,
    /// Candidates gathered from the server's ICE servers could not be sent.
    Trickle,
    Leave,
    /// Connected, but a negotiated track carried no media.
    Media,
    /// A request for a simulcast layer was refused or could not be sent.
    Layer,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Offer => "offer",
            Step::Status => "status",
            Step::Answer => "answer",
            Step::Connect => "connect",
            Step::Trickle => "trickle",
            Step::Leave => "leave",
            Step::Media => "media",
            Step::Layer => "layer",
        })
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{step}: {reason}")]
pub struct SignalError {
    pub step: Step,
    pub reason: String,
    /// The HTTP status the server answered with, at step `status`.
    pub status: Option<u16>,
    /// Whether that answer carried Retry-After (the server expects to be asked again).
    pub retry_after: bool,
}

impl SignalError {
    pub fn new(step: Step, reason: impl Into<String>) -> Self {
        Self {
            step,
            reason: reason.into(),
            status: None,
            retry_after: false,
        }
    }
}

impl Step {
    /// A session's failure at this step.
    pub fn failed(self, reason: impl Into<String>) -> crate::media::receiver::SessionFailure {
        crate::media::receiver::SessionFailure {
            step: self.to_string(),
            reason: reason.into(),
        }
    }
}

impl From<SignalError> for crate::media::receiver::SessionFailure {
    fn from(e: SignalError) -> Self {
        e.step.failed(e.reason)
    }
}

pub(crate) use crate::client::http_body::error_chain;
