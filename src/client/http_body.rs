//! Reading an HTTP body with a ceiling: a server that sends more than the request can need (a
//! signalling answer, a playlist, a segment; by mistake or on purpose) fails before the body is
//! in memory, instead of taking the generator's memory and timers with it.

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the server declared a {declared}-byte body, over the {limit}-byte limit")]
    DeclaredTooLarge { declared: u64, limit: usize },
    #[error("the body went past the {limit}-byte limit; reading stopped there")]
    TooLarge { limit: usize },
    #[error("reading the body: {0}")]
    Read(String),
}

/// The whole body of `response`, refused as soon as it is known to exceed `limit`: from its
/// Content-Length before reading, else while it streams in.
pub async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if let Some(declared) = response.content_length() {
        if declared > limit as u64 {
            return Err(BodyError::DeclaredTooLarge { declared, limit });
        }
    }
    let mut body = Vec::new();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|e| BodyError::Read(error_chain(&e)))?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
}

/// An error with its sources, as one line (reqwest puts the useful part in the sources).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
