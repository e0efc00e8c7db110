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

/// Where a problem in load `i` is reported: its span, and fields under `http[i]`.
struct At {
    span: Option<std::ops::Range<usize>>,
    i: usize,
}

impl At {
    fn bad(&self, field: impl std::fmt::Display, message: impl Into<String>) -> Problem {
        (
            self.span.clone(),
            format!("http[{}].{field}", self.i),
            message.into(),
        )
    }
}

pub fn validate(s: &Scenario, i: usize, load: &Spanned<HttpLoadSpec>) -> Result<(), Problem> {
    let at = At {
        span: Some(load.span()),
        i,
    };
    let l = load.get_ref();
    if l.name.trim().is_empty() {
        return Err(at.bad("name", "an HTTP load needs a name"));
    }
    check_target(s, l, &at)?;
    let rooms: Vec<&str> = s
        .groups
        .iter()
        .filter(|g| g.kind == GroupKind::Room)
        .map(|g| g.name.get_ref().as_str())
        .collect();
    if let Some(g) = &l.group {
        if !rooms.contains(&g.as_str()) {
            return Err(at.bad("group", format!("no room group \"{g}\" in this scenario")));
        }
    }
    check_pace(s, l, &at)?;
    for (name, value) in &l.headers {
        Template::parse(value).map_err(|m| at.bad(format!("headers.{name}"), m))?;
    }
    if l.requests.is_empty() {
        return Err(at.bad(
            "request",
            "an HTTP load needs at least one [[http.request]]",
        ));
    }
    let setup = l
        .setup
        .iter()
        .enumerate()
        .map(|(k, r)| (format!("setup[{k}]"), r));
    let requests = l
        .requests
        .iter()
        .enumerate()
        .map(|(k, r)| (format!("request[{k}]"), r));
    for (field, r) in setup.chain(requests) {
        check_request(&field, r, !rooms.is_empty(), &at)?;
    }
    Ok(())
}

fn check_target(s: &Scenario, l: &HttpLoadSpec, at: &At) -> Result<(), Problem> {
    if l.target == "embedded" && s.transport != super::Transport::Webrtc {
        return Err(at.bad(
            "target",
            "the embedded live-room API is served with transport = \"webrtc\"; give a URL",
        ));
    }
    if l.target != "embedded" {
        match reqwest::Url::parse(&l.target) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {}
            _ => {
                return Err(at.bad(
                    "target",
                    format!("\"{}\" is not \"embedded\" nor an http(s) URL", l.target),
                ))
            }
        }
    }
    Ok(())
}

/// Users, start, rate cap and coordinated-omission mitigation.
fn check_pace(s: &Scenario, l: &HttpLoadSpec, at: &At) -> Result<(), Problem> {
    if l.users == 0 {
        return Err(at.bad("users", "an HTTP load needs at least one user"));
    }
    if l.start.0 >= s.duration.0 {
        return Err(at.bad("start", "the load would start after the run ends"));
    }
    if l.rate == Some(0) {
        return Err(at.bad("rate", "a rate cap must be 1 request per second or more"));
    }
    if !CO_MITIGATIONS.contains(&l.co_mitigation.as_str()) {
        return Err(at.bad(
            "co_mitigation",
            format!(
                "\"{}\" is not one of {}",
                l.co_mitigation,
                CO_MITIGATIONS.join(", ")
            ),
        ));
    }
    Ok(())
}

fn check_request(
    field: &str,
    r: &HttpRequestSpec,
    has_rooms: bool,
    at: &At,
) -> Result<(), Problem> {
    if r.name.trim().is_empty() {
        return Err(at.bad(format!("{field}.name"), "a request needs a name"));
    }
    if !METHODS.contains(&r.method.to_ascii_uppercase().as_str()) {
        return Err(at.bad(
            format!("{field}.method"),
            format!("\"{}\" is not one of {}", r.method, METHODS.join(", ")),
        ));
    }
    if r.weight == 0 {
        return Err(at.bad(format!("{field}.weight"), "weight must be 1 or more"));
    }
    let path = Template::parse(&r.path).map_err(|m| at.bad(format!("{field}.path"), m))?;
    if !r.path.starts_with('/') {
        return Err(at.bad(format!("{field}.path"), "a path starts with /"));
    }
    let body = match &r.body {
        Some(b) => Some(Template::parse(b).map_err(|m| at.bad(format!("{field}.body"), m))?),
        None => None,
    };
    if r.expect.iter().any(|c| !(100..=599).contains(c)) {
        return Err(at.bad(format!("{field}.expect"), "HTTP statuses are 100 to 599"));
    }
    let needs_room =
        path.uses(&Placeholder::Room) || body.as_ref().is_some_and(|b| b.uses(&Placeholder::Room));
    if needs_room && !has_rooms {
        return Err(at.bad(
            format!("{field}.path"),
            "{{room}} needs a room group in the scenario",
        ));
    }
    Ok(())
}

/// The environment variables the scenario's HTTP loads read, by field (`http[0].headers.x`,
/// `http[0].request[1].body`); templates that do not parse are left to `validate`.
pub fn env_vars(s: &Scenario) -> Vec<(String, String)> {
    let mut named = Vec::new();
    let mut read = |field: String, text: &str| {
        if let Ok(t) = Template::parse(text) {
            named.extend(t.env_vars().map(|v| (field.clone(), v.to_string())));
        }
    };
    for (i, load) in s.http.iter().enumerate() {
        let l = load.get_ref();
        for (name, value) in &l.headers {
            read(format!("http[{i}].headers.{name}"), value);
        }
        let requests = l
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
        for (field, r) in requests {
            read(format!("http[{i}].{field}.path"), &r.path);
            if let Some(body) = &r.body {
                read(format!("http[{i}].{field}.body"), body);
            }
        }
    }
    named
}
