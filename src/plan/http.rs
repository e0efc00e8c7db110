//! The plan of each HTTP side-load: its users, window, rate and compiled request templates.

use crate::scenario::http::{HttpLoadSpec, HttpRequestSpec};
use crate::scenario::template::Template;

#[derive(Debug, Clone, PartialEq)]
pub enum HttpTarget {
    /// The embedded provider's live-room API.
    Embedded,
    Url(String),
}

#[derive(Debug, Clone)]
pub struct HttpLoadPlan {
    pub name: String,
    pub target: HttpTarget,
    /// The provider's room name that `{{room}}` fills in.
    pub room: String,
    pub users: usize,
    /// Offsets from the start of the run.
    pub start_us: u64,
    pub end_us: u64,
    pub rise_us: u64,
    pub wait_us: u64,
    pub rate: Option<u32>,
    pub co_mitigation: String,
    pub headers: Vec<(String, Template)>,
    pub setup: Vec<HttpRequestPlan>,
    pub requests: Vec<HttpRequestPlan>,
}

#[derive(Debug, Clone)]
pub struct HttpRequestPlan {
    pub name: String,
    pub method: String,
    pub path: Template,
    pub body: Option<Template>,
    pub weight: u32,
    pub expect: Vec<u16>,
}

impl HttpRequestPlan {
    /// Whether `status` is an answer (2xx, or one the scenario expects) rather than an error.
    pub fn accepts(&self, status: u16) -> bool {
        (200..300).contains(&status) || self.expect.contains(&status)
    }
}

fn request(r: &HttpRequestSpec) -> HttpRequestPlan {
    HttpRequestPlan {
        name: r.name.clone(),
        method: r.method.to_ascii_uppercase(),
        // Validated when the scenario loaded.
        path: Template::parse(&r.path).unwrap_or_default(),
        body: r
            .body
            .as_deref()
            .map(|b| Template::parse(b).unwrap_or_default()),
        weight: r.weight,
        expect: r.expect.clone(),
    }
}

pub fn build(l: &HttpLoadSpec, duration_us: u64, rooms: &[(String, String)]) -> HttpLoadPlan {
    let room = match &l.group {
        Some(g) => rooms.iter().find(|(name, _)| name == g),
        None => rooms.first(),
    }
    .map(|(_, room)| room.clone())
    .unwrap_or_default();
    let start_us = l.start.as_micros().min(duration_us);
    let end_us = l
        .duration
        .map_or(duration_us, |d| start_us + d.as_micros())
        .min(duration_us);
    HttpLoadPlan {
        name: l.name.clone(),
        target: if l.target == "embedded" {
            HttpTarget::Embedded
        } else {
            HttpTarget::Url(l.target.trim_end_matches('/').to_string())
        },
        room,
        users: l.users as usize,
        start_us,
        end_us,
        rise_us: l.rise.as_micros(),
        wait_us: l.wait.as_micros(),
        rate: l.rate,
        co_mitigation: l.co_mitigation.clone(),
        headers: l
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Template::parse(v).unwrap_or_default()))
            .collect(),
        setup: l.setup.iter().map(request).collect(),
        requests: l.requests.iter().map(request).collect(),
    }
}
