//! WHIP (RFC 9725) and WHEP signalling, the protocol: POST the SDP offer, read the 201 answer and its
//! Location, DELETE that resource to leave. Works against any compliant server.

use crate::client::link::{self, IceServer, WHEP_LAYER_REL};
use reqwest::header::{
    HeaderValue, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MATCH, LINK, LOCATION, RETRY_AFTER,
};
use reqwest::StatusCode;
use std::time::Duration;

use super::body::{read_limited, MAX_SIGNAL_BODY};
use super::{error_chain, SignalError, Step};

/// A created WHIP/WHEP session.
#[derive(Clone)]
pub struct Resource {
    /// The token the session was created with, for its PATCH and DELETE; never printed.
    pub bearer: Option<String>,
    /// Absolute URL to DELETE when leaving, if the server gave one.
    pub url: Option<String>,
    /// The resource's ETag, sent back with If-Match on a trickle PATCH.
    pub etag: Option<String>,
    pub answer: String,
    /// ICE servers from the answer's Link headers.
    pub ice_servers: Vec<IceServer>,
    /// Link headers naming an ICE server whose URL does not parse.
    pub link_errors: Vec<String>,
    /// Where to ask for a simulcast layer (WHEP's layer extension), if the server said.
    pub layer_url: Option<String>,
}

impl std::fmt::Debug for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resource")
            .field("url", &self.url)
            .field("etag", &self.etag)
            .field("ice_servers", &self.ice_servers)
            .finish_non_exhaustive()
    }
}

/// POSTs `offer` to `endpoint`; a bearer token, when given, goes in the Authorization header.
/// An answer over [`MAX_SIGNAL_BODY`] bytes fails before it is read.
pub async fn offer(
    client: &reqwest::Client,
    endpoint: &str,
    offer: String,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<Resource, SignalError> {
    offer_within(client, endpoint, offer, bearer, timeout, MAX_SIGNAL_BODY).await
}

/// `offer`, with an answer over `max_body` bytes failing before it is read.
pub async fn offer_within(
    client: &reqwest::Client,
    endpoint: &str,
    offer: String,
    bearer: Option<&str>,
    timeout: Duration,
    max_body: usize,
) -> Result<Resource, SignalError> {
    let mut request = client
        .post(endpoint)
        .timeout(timeout)
        .header(CONTENT_TYPE, "application/sdp")
        .body(offer);
    if let Some(token) = bearer {
        let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            SignalError::new(Step::Offer, "the bearer token is not a valid header value")
        })?;
        request = request.header(AUTHORIZATION, value);
    }
    let response = request.send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "no answer within the timeout"
        } else {
            "request failed"
        };
        SignalError::new(Step::Offer, format!("{what}: {}", error_chain(&e)))
    })?;
    let status = response.status();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let url = location.map(|l| absolute(endpoint, &l));
    let etag = response
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let retry_after = response.headers().contains_key(RETRY_AFTER);
    let (ice_servers, link_errors) = link::ice_servers(
        response
            .headers()
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    let layer_url = link::target_of(
        response
            .headers()
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok()),
        WHEP_LAYER_REL,
    )
    .map(|target| absolute(endpoint, &target));
    let body = read_limited(response, max_body).await;
    if status != StatusCode::CREATED && status != StatusCode::OK {
        let mut e = status_error(Step::Status, status, &body);
        e.retry_after = retry_after;
        return Err(e);
    }
    let answer = match sdp_answer(body) {
        Ok(answer) => answer,
        // The server made a session even though its answer is unusable: delete it, or it
        // stays open on the provider.
        Err(e) => return Err(abandon(client, url.as_deref(), bearer, timeout, e).await),
    };
    Ok(Resource {
        bearer: bearer.map(str::to_string),
        url,
        etag,
        answer,
        ice_servers,
        link_errors: link_errors.iter().map(ToString::to_string).collect(),
        layer_url,
    })
}

/// The SDP answer in a successful response's body.
fn sdp_answer(body: Result<Vec<u8>, super::body::BodyError>) -> Result<String, SignalError> {
    let body = body.map_err(|e| SignalError::new(Step::Answer, format!("the answer: {e}")))?;
    let body = String::from_utf8(body).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        SignalError::new(Step::Answer, format!("the answer is not UTF-8 (byte {at})"))
    })?;
    if !body.trim_start().starts_with("v=0") {
        return Err(SignalError::new(
            Step::Answer,
            "the response body is not an SDP answer",
        ));
    }
    Ok(body)
}

/// Deletes the resource at `url` (if the server named one) after `failure`, and says so in it.
async fn abandon(
    client: &reqwest::Client,
    url: Option<&str>,
    bearer: Option<&str>,
    timeout: Duration,
    mut failure: SignalError,
) -> SignalError {
    if let Some(url) = url {
        match leave(client, url, bearer, timeout).await {
            Ok(()) => failure
                .reason
                .push_str("; the session it created was deleted"),
            Err(e) => failure.reason.push_str(&format!(
                "; deleting the session it created failed too: {}",
                e.reason
            )),
        }
    }
    failure
}

/// Deletes `resource` after a later step failed (its answer did not apply, ICE could not be
/// set up): `failure` with what became of the session.
pub async fn discard(
    client: &reqwest::Client,
    resource: &Resource,
    timeout: Duration,
    failure: SignalError,
) -> SignalError {
    let bearer = resource.bearer.as_deref();
    abandon(client, resource.url.as_deref(), bearer, timeout, failure).await
}

/// Statuses with which WHEP servers say there is nothing to play yet: MediaMTX and SRS answer
/// 404, Medooze's and other fronts 400 or 409. A 503 is asked again only with Retry-After (a
/// stream still starting); without it, it is a refusal (a full room, a server down).
const NOT_YET_PUBLISHED: [u16; 3] = [400, 404, 409];

fn not_yet_published(e: &SignalError) -> bool {
    match e.status {
        Some(503) => e.retry_after,
        Some(s) => NOT_YET_PUBLISHED.contains(&s),
        None => false,
    }
}
/// The first wait before asking again; it doubles up to [`RETRY_MAX`], as players back off.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// POSTs a WHEP `offer`, asking again with backoff while the server says nothing is published
/// yet, for up to `timeout` in all (as players and SDKs do); each request has its own timeout.
pub async fn play(
    client: &reqwest::Client,
    endpoint: &str,
    sdp: String,
    bearer: Option<&str>,
    timeout: Duration,
    max_body: usize,
) -> Result<Resource, SignalError> {
    let started = std::time::Instant::now();
    let mut wait = RETRY_FIRST;
    let mut tries = 1u32;
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        let e = match offer_within(client, endpoint, sdp.clone(), bearer, left, max_body).await {
            Ok(resource) => return Ok(resource),
            Err(e) => e,
        };
        if !not_yet_published(&e) || started.elapsed() + wait >= timeout {
            return Err(retried(e, tries, started.elapsed()));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
        tries += 1;
    }
}

fn retried(mut e: SignalError, tries: u32, over: Duration) -> SignalError {
    if tries > 1 {
        e.reason = format!(
            "{} (asked {tries} times over {:.1} s; nothing was published)",
            e.reason,
            over.as_secs_f64()
        );
    }
    e
}

/// Sends candidates gathered after the offer (RFC 9725 section 4.3.1: PATCH with an
/// `application/trickle-ice-sdpfrag` body); returns the status, 204 when the server took them.
pub async fn trickle(
    client: &reqwest::Client,
    resource: &Resource,
    fragment: String,
    timeout: Duration,
) -> Result<StatusCode, SignalError> {
    let url = resource
        .url
        .as_deref()
        .ok_or_else(|| SignalError::new(Step::Trickle, "the server gave no Location to PATCH"))?;
    let mut request = client
        .patch(url)
        .timeout(timeout)
        .header(CONTENT_TYPE, "application/trickle-ice-sdpfrag")
        .body(fragment);
    if let Some(tag) = &resource.etag {
        request = request.header(IF_MATCH, tag.as_str());
    }
    if let Some(token) = &resource.bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| SignalError::new(Step::Trickle, error_chain(&e)))?;
    Ok(response.status())
}

/// Asks a WHEP session for the simulcast layer with stream id `rid`, or with `None` for the
/// server's own choice again: a POST of `{"encodingId": rid}` (or `{}`) to the URL its answer's
/// layer link named.
pub async fn ask_layer(
    client: &reqwest::Client,
    resource: &Resource,
    rid: Option<&str>,
    timeout: Duration,
) -> Result<(), SignalError> {
    let url = resource.layer_url.as_deref().ok_or_else(|| {
        SignalError::new(
            Step::Layer,
            format!("the WHEP answer named no layer-selection URL (Link rel=\"{WHEP_LAYER_REL}\")"),
        )
    })?;
    let body = match rid {
        Some(rid) => serde_json::json!({ "encodingId": rid }),
        None => serde_json::json!({}),
    };
    let mut request = client.post(url).timeout(timeout).json(&body);
    if let Some(token) = &resource.bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| SignalError::new(Step::Layer, error_chain(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = read_limited(response, MAX_SIGNAL_BODY).await;
    Err(status_error(Step::Layer, status, &body))
}

/// A refusal at `step`: the status, and the start of what the server said (or why its body
/// could not be read).
fn status_error(
    step: Step,
    status: StatusCode,
    body: &Result<Vec<u8>, super::body::BodyError>,
) -> SignalError {
    let excerpt: String = match body {
        Ok(bytes) => String::from_utf8_lossy(&bytes[..bytes.len().min(800)])
            .chars()
            .take(200)
            .collect(),
        Err(e) => e.to_string(),
    };
    let mut e = SignalError::new(step, format!("HTTP {status}: {}", excerpt.trim()));
    e.status = Some(status.as_u16());
    e
}

/// Ends a session (DELETE on its resource).
pub async fn leave(
    client: &reqwest::Client,
    resource: &str,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<(), SignalError> {
    let mut request = client.delete(resource).timeout(timeout);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| SignalError::new(Step::Leave, error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(SignalError::new(
            Step::Leave,
            format!("HTTP {}", response.status()),
        ));
    }
    Ok(())
}

fn absolute(endpoint: &str, location: &str) -> String {
    match reqwest::Url::parse(endpoint).and_then(|base| base.join(location)) {
        Ok(url) => url.to_string(),
        Err(_) => location.to_string(),
    }
}
