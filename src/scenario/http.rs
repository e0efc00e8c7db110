//! HTTP side-load in scenarios (`[[http]]`): the comments, likes and flash-sale orders that hit a
//! live room's API beside the media, run by goose. Checked here so a typo stops the run at once.

use super::{GroupKind, Problem, Scenario};
use crate::base::units::HumanDuration;
use crate::scenario::template::{Placeholder, Template};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

/// One HTTP load: `users` virtual users, started over `rise` from `start`, each looping over the
/// weighted `request`s with `wait` between them, for `duration` (default: to the end of the run).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpLoadSpec {
    pub name: String,
    /// `"embedded"`: the embedded provider's live-room API; otherwise a base URL.
    #[serde(default = "embedded")]
    pub target: String,
    /// The group whose room `{{room}}` names (default: the first room group).
    #[serde(default)]
    pub group: Option<String>,
    pub users: u32,
    #[serde(default)]
    pub start: HumanDuration,
    #[serde(default)]
    pub duration: Option<HumanDuration>,
    /// How long starting all users takes.
    #[serde(default = "one_second")]
    pub rise: HumanDuration,
    /// Each user's pause after a request.
    #[serde(default)]
    pub wait: HumanDuration,
    /// A cap on requests per second over all users (goose's throttle).
    #[serde(default)]
    pub rate: Option<u32>,
    /// Coordinated-omission mitigation: average, minimum, maximum or disabled.
    #[serde(default = "average")]
    pub co_mitigation: String,
    /// Sent with every request; values are templates (`Bearer {{env:TOKEN}}`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Requests made once, before the users start (e.g. putting stock on sale).
    #[serde(default)]
    pub setup: Vec<HttpRequestSpec>,
    #[serde(rename = "request")]
    pub requests: Vec<HttpRequestSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestSpec {
    pub name: String,
    #[serde(default = "post")]
    pub method: String,
    /// Path under the target (a template).
    pub path: String,
    /// JSON body (a template); sent as application/json.
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default = "one")]
    pub weight: u32,
    /// Statuses that are answers, not errors, besides 2xx (409 for a sold-out order).
    #[serde(default)]
    pub expect: Vec<u16>,
}

pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
pub const CO_MITIGATIONS: [&str; 4] = ["average", "minimum", "maximum", "disabled"];

fn embedded() -> String {
    "embedded".into()
}
fn one_second() -> HumanDuration {
    HumanDuration::from_millis(1_000)
}
fn average() -> String {
    "average".into()
}
fn post() -> String {
    "POST".into()
}
fn one() -> u32 {
    1
}

pub fn validate(s: &Scenario, i: usize, load: &Spanned<HttpLoadSpec>) -> Result<(), Problem> {
    let span = Some(load.span());
    let l = load.get_ref();
    let bad =
        |field: String, message: String| Err((span.clone(), format!("http[{i}].{field}"), message));
    if l.name.trim().is_empty() {
        return bad("name".into(), "an HTTP load needs a name".into());
    }
    if l.target == "embedded" && s.transport != super::Transport::Webrtc {
        return bad(
            "target".into(),
            "the embedded live-room API is served with transport = \"webrtc\"; give a URL".into(),
        );
    }
    if l.target != "embedded" {
        match reqwest::Url::parse(&l.target) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => {
                return bad(
                    "target".into(),
                    format!("\"{}\" is not \"embedded\" nor an http(s) URL", l.target),
                )
            }
        }
    }
    let rooms: Vec<&str> = s
        .groups
        .iter()
        .filter(|g| g.kind == GroupKind::Room)
        .map(|g| g.name.get_ref().as_str())
        .collect();
    if let Some(g) = &l.group {
        if !rooms.contains(&g.as_str()) {
            return bad(
                "group".into(),
                format!("no room group \"{g}\" in this scenario"),
            );
        }
    }
    if l.users == 0 {
        return bad(
            "users".into(),
            "an HTTP load needs at least one user".into(),
        );
    }
    if l.start.0 >= s.duration.0 {
        return bad(
            "start".into(),
            "the load would start after the run ends".into(),
        );
    }
    if l.rate == Some(0) {
        return bad(
            "rate".into(),
            "a rate cap must be 1 request per second or more".into(),
        );
    }
    if !CO_MITIGATIONS.contains(&l.co_mitigation.as_str()) {
        return bad(
            "co_mitigation".into(),
            format!(
                "\"{}\" is not one of {}",
                l.co_mitigation,
                CO_MITIGATIONS.join(", ")
            ),
        );
    }
    for (name, value) in &l.headers {
        Template::parse(value)
            .map_err(|m| (span.clone(), format!("http[{i}].headers.{name}"), m))?;
    }
    if l.requests.is_empty() {
        return bad(
            "request".into(),
            "an HTTP load needs at least one [[http.request]]".into(),
        );
    }
    let all = l
        .setup
        .iter()
        .enumerate()
        .map(|(k, r)| (format!("setup[{k}]"), r))
        .chain(
            l.requests
                .iter()
                .enumerate()
                .map(|(k, r)| (format!("request[{k}]"), r)),
        );
    for (at, r) in all {
        if r.name.trim().is_empty() {
            return bad(format!("{at}.name"), "a request needs a name".into());
        }
        if !METHODS.contains(&r.method.to_ascii_uppercase().as_str()) {
            return bad(
                format!("{at}.method"),
                format!("\"{}\" is not one of {}", r.method, METHODS.join(", ")),
            );
        }
        if r.weight == 0 {
            return bad(format!("{at}.weight"), "weight must be 1 or more".into());
        }
        let path = Template::parse(&r.path)
            .map_err(|m| (span.clone(), format!("http[{i}].{at}.path"), m))?;
        if !r.path.starts_with('/') {
            return bad(format!("{at}.path"), "a path starts with /".into());
        }
        let body = match &r.body {
            Some(b) => Some(
                Template::parse(b)
                    .map_err(|m| (span.clone(), format!("http[{i}].{at}.body"), m))?,
            ),
            None => None,
        };
        if r.expect.iter().any(|c| !(100..=599).contains(c)) {
            return bad(
                format!("{at}.expect"),
                "HTTP statuses are 100 to 599".into(),
            );
        }
        let needs_room = path.uses(&Placeholder::Room)
            || body.as_ref().is_some_and(|b| b.uses(&Placeholder::Room));
        if needs_room && rooms.is_empty() {
            return bad(
                format!("{at}.path"),
                "{{room}} needs a room group in the scenario".into(),
            );
        }
    }
    Ok(())
}
