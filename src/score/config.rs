//! What is scored and how: the metrics of each dimension with their thresholds and weights,
//! the dimensions' weights in the overall score, and the audience mix coverage is weighed by.
//! Defaults are built in; a scenario's `[scoring]` table and then a scoring file override them.

use super::measure::{Filter, Measure, Source, Stat};
use super::thresholds::{Better, ThresholdError, Thresholds};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

pub use crate::scenario::scoring::{CoverageSpec, Dimension, MetricSpec, ScoringSpec, DIMENSIONS};

/// A measured metric that is scored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredMetric {
    pub id: &'static str,
    pub label: &'static str,
    pub dimension: Dimension,
    pub measure: Measure,
    pub thresholds: Thresholds,
    pub weight: f64,
    /// The smallest difference between providers that counts: below it two providers tie
    /// however sure the statistics are (two runs of one provider differ by a little).
    pub tie_margin: f64,
    /// Why the default thresholds are where they are.
    pub basis: &'static str,
}

fn metric(
    id: &'static str,
    label: &'static str,
    dimension: Dimension,
    (source, stat, filter): (Source, Stat, Filter),
    (better, excellent, acceptable, unacceptable): (Better, f64, f64, f64),
    tie_margin: f64,
    basis: &'static str,
) -> ScoredMetric {
    ScoredMetric {
        id,
        label,
        dimension,
        measure: Measure {
            source,
            stat,
            filter,
        },
        thresholds: Thresholds {
            better,
            excellent,
            acceptable,
            unacceptable,
        },
        weight: 1.0,
        tie_margin,
        basis,
    }
}

fn interactive() -> Filter {
    Filter {
        interactive: true,
        ..Filter::default()
    }
}

fn audience() -> Filter {
    Filter {
        role: Some(super::measure::Role::Audience),
        ..Filter::default()
    }
}

fn webrtc() -> Filter {
    Filter {
        webrtc: true,
        ..Filter::default()
    }
}

fn cdn(protocol: Option<&str>) -> Filter {
    Filter {
        role: Some(super::measure::Role::Cdn),
        protocol: protocol.map(str::to_string),
        ..Filter::default()
    }
}

/// The built-in catalogue, in report order.
pub fn default_metrics() -> Vec<ScoredMetric> {
    use Better::{Higher, Lower};
    use Dimension::{Latency, Picture, Stability};
    let all = Filter::default;
    let mut metrics = vec![
        metric(
            "interactive_latency_p95_ms",
            "1v1 and co-host latency p95 (ms)",
            Latency,
            (Source::E2eLatencyMs, Stat::Quantile(0.95), interactive()),
            (Lower, 250.0, 400.0, 400.0),
            5.0,
            "ITU-T G.114: up to 150 ms one way most talk is unaffected and past 400 ms conversation breaks down; 250 ms leaves room for the capture, decode and display this figure does not include.",
        ),
        metric(
            "audience_latency_p95_ms",
            "audience latency p95 (ms)",
            Latency,
            (Source::E2eLatencyMs, Stat::Quantile(0.95), audience()),
            (Lower, 800.0, 1500.0, 2000.0),
            10.0,
            "Live selling: a viewer must see the host react to comments and a flash-sale countdown within about a second; past 2 s the stream visibly lags the chat (CDN low-latency HLS territory).",
        ),
        metric(
            "time_to_first_frame_p90_ms",
            "time to first frame p90 (ms)",
            Latency,
            (Source::TimeToFirstFrameMs, Stat::Quantile(0.9), webrtc()),
            (Lower, 600.0, 1000.0, 2000.0),
            50.0,
            "秒接通: a call or stream should show video within 600 ms of the tap (the figure vendors advertise); past 2 s users tap again or leave. Dial → first remote frame where the session dialled.",
        ),
        metric(
            "psnr_db",
            "PSNR against the source (dB)",
            Picture,
            (Source::PsnrDb, Stat::Mean, all()),
            (Higher, 38.0, 32.0, 25.0),
            0.5,
            "Full-reference PSNR of decoded frames: above about 38 dB H.264 artefacts are hard to see on product close-ups; below 25 dB blocking is obvious.",
        ),
        metric(
            "fps_delivered_pct",
            "frame rate delivered (% of source)",
            Picture,
            (Source::FpsDeliveredPct, Stat::Mean, webrtc()),
            (Higher, 95.0, 80.0, 50.0),
            2.0,
            "Motion looks smooth while nearly every frame arrives; at half the source's rate product demonstrations judder.",
        ),
        metric(
            "resolution_delivered_pct",
            "resolution delivered (% of source pixels)",
            Picture,
            (Source::ResolutionDeliveredPct, Stat::Mean, webrtc()),
            (Higher, 90.0, 50.0, 20.0),
            2.0,
            "What a simulcast viewer on a lower layer loses: a quarter of the pixels (half the width) blurs a price tag or a product's texture. PSNR is scored against the size shown, so this says what it cannot.",
        ),
        metric(
            "audio_mos",
            "audio MOS (E-model)",
            Picture,
            (Source::Mos, Stat::Mean, all()),
            (Higher, 4.0, 3.6, 3.1),
            0.1,
            "ITU-T G.107: MOS 4.0 (R 80) users satisfied, 3.6 (R 70) some dissatisfied, 3.1 (R 60) many dissatisfied. Delay: the session's marker-timed video latency p50 (the audio's own, from abs-capture-time, without video) plus a jitter buffer; loss: its audio gaps; codec terms fixed.",
        ),
        metric(
            "join_success_pct",
            "join success (%)",
            Stability,
            (Source::JoinSuccessPct, Stat::Share, all()),
            (Higher, 99.9, 99.5, 99.0),
            0.1,
            "At a big-sale peak of 100 000 joins, 99 % success is 1 000 viewers who never see the product; 99.9 % is the usual RTC vendor SLA.",
        ),
        metric(
            "freeze_time_pct",
            "freeze time (% of watched time)",
            Stability,
            (Source::FreezeTimePct, Stat::Share, webrtc()),
            (Lower, 1.0, 3.0, 5.0),
            0.5,
            "W3C freeze rule (gap > max(3 × mean frame interval, mean + 150 ms)). Vendors quote 卡顿率 targets of 1–3 %; past 5 % viewers notice and leave.",
        ),
        metric(
            "drop_pct",
            "sessions dropped (%)",
            Stability,
            (Source::DropPct, Stat::Share, all()),
            (Lower, 0.5, 2.0, 5.0),
            0.5,
            "A joined viewer whose connection is lost, whether or not it rejoins: each drop is a visible break in the sale.",
        ),
    ];
    metrics.extend(cdn_metrics());
    metrics
}

/// The CDN audience as its own role: startup, stalls, and live latency by protocol.
fn cdn_metrics() -> Vec<ScoredMetric> {
    use Better::Lower;
    use Dimension::{Latency, Stability};
    let live_latency = |id, label, protocol, thresholds, basis| {
        let measure = (
            Source::E2eLatencyMs,
            Stat::Quantile(0.95),
            cdn(Some(protocol)),
        );
        metric(id, label, Latency, measure, thresholds, 100.0, basis)
    };
    vec![
        metric(
            "cdn_startup_p90_ms",
            "CDN startup p90 (ms)",
            Latency,
            (Source::StartupMs, Stat::Quantile(0.9), cdn(None)),
            (Lower, 1000.0, 2000.0, 3000.0),
            50.0,
            "秒开: live-commerce apps aim to show the picture within 1 s of the tap; past 2 s abandonment climbs, past 3 s a large share of viewers leave (the CDN vendors' own first-frame targets).",
        ),
        metric(
            "cdn_stall_ratio_pct",
            "CDN stall time (% of watched time)",
            Stability,
            (Source::StallRatioPct, Stat::Share, cdn(None)),
            (Lower, 0.5, 2.0, 5.0),
            0.2,
            "卡顿率 as players count it: time spent rebuffering (an empty buffer for 250 ms or more) over time watched. CDN vendors quote targets under 1–2 %; past 5 % viewers leave.",
        ),
        live_latency(
            "cdn_flv_latency_p95_ms",
            "HTTP-FLV live latency p95 (ms)",
            "http-flv",
            (Lower, 2000.0, 3000.0, 5000.0),
            "HTTP-FLV is sold at 2–5 s behind the host; within 2 s comments and the flash-sale countdown still match the picture.",
        ),
        live_latency(
            "cdn_ll_hls_latency_p95_ms",
            "LL-HLS live latency p95 (ms)",
            "ll-hls",
            (Lower, 2000.0, 3000.0, 5000.0),
            "Apple's LL-HLS targets 2–3 s glass to glass; past 5 s it is no better than short-segment HLS.",
        ),
        live_latency(
            "cdn_hls_latency_p95_ms",
            "HLS live latency p95 (ms)",
            "hls",
            (Lower, 6000.0, 10000.0, 20000.0),
            "HLS players start three segments back: 2 s segments give 6–8 s; Apple's default 6 s segments 18–24 s, too late for a countdown.",
        ),
    ]
}

/// Default weights of the dimensions in the overall score. The declared ones weigh nothing
/// unless the user says so: a dossier is the vendor's word.
pub fn default_weights() -> BTreeMap<Dimension, f64> {
    BTreeMap::from([
        (Dimension::Latency, 30.0),
        (Dimension::Picture, 25.0),
        (Dimension::Stability, 30.0),
        (Dimension::Coverage, 15.0),
        (Dimension::Experience, 0.0),
        (Dimension::Support, 0.0),
    ])
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    File(#[from] crate::scenario::ScenarioError),
    #[error("{path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("{origin}: metric.{id}: no such scored metric; known: {known}")]
    UnknownMetric {
        origin: String,
        id: String,
        known: String,
    },
    #[error("{origin}: metric.{id}: {source}")]
    Thresholds {
        origin: String,
        id: String,
        source: ThresholdError,
    },
    #[error("{origin}: {field} must be a finite number ≥ 0, got {value}")]
    Weight {
        origin: String,
        field: String,
        value: f64,
    },
}

/// Everything a scorecard is computed with.
#[derive(Debug, Clone, Serialize)]
pub struct Scoring {
    pub metrics: Vec<ScoredMetric>,
    pub weights: BTreeMap<Dimension, f64>,
    pub coverage: Option<CoverageSpec>,
    /// Where each override came from, for the report's method section.
    pub sources: Vec<String>,
}

impl Default for Scoring {
    fn default() -> Self {
        Self {
            metrics: default_metrics(),
            weights: default_weights(),
            coverage: None,
            sources: Vec::new(),
        }
    }
}

fn check_weight(origin: &str, field: String, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(ConfigError::Weight {
            origin: origin.to_string(),
            field,
            value,
        })
    }
}

/// A scenario's `[scoring]` overrides checked as a comparison will apply them, so a typo shows
/// at `validate`, not after the runs.
pub fn check_overrides(s: &crate::scenario::Scenario) -> Result<(), crate::scenario::Problem> {
    match &s.scoring {
        Some(spec) => Scoring::default()
            .apply(spec, "[scoring]")
            .map(drop)
            .map_err(|e| (None, "scoring".to_string(), e.to_string())),
        None => Ok(()),
    }
}

impl Scoring {
    /// Applies `spec` on top; `origin` names it in errors ("scoring.toml", "scenario x").
    pub fn apply(&mut self, spec: &ScoringSpec, origin: &str) -> Result<(), ConfigError> {
        for (d, w) in &spec.weights {
            let w = check_weight(origin, format!("weights.{}", d.name()), *w)?;
            self.weights.insert(*d, w);
        }
        for (id, m) in &spec.metric {
            let known = self
                .metrics
                .iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
                .join(", ");
            let target = self
                .metrics
                .iter_mut()
                .find(|x| x.id == id)
                .ok_or_else(|| ConfigError::UnknownMetric {
                    origin: origin.to_string(),
                    id: id.clone(),
                    known,
                })?;
            let t = target.thresholds;
            target.thresholds = Thresholds::new(
                t.better,
                m.excellent.unwrap_or(t.excellent),
                m.acceptable.unwrap_or(t.acceptable),
                m.unacceptable.unwrap_or(t.unacceptable),
            )
            .map_err(|source| ConfigError::Thresholds {
                origin: origin.to_string(),
                id: id.clone(),
                source,
            })?;
            if let Some(w) = m.weight {
                target.weight = check_weight(origin, format!("metric.{id}.weight"), w)?;
            }
            if let Some(t) = m.tie_margin {
                target.tie_margin = check_weight(origin, format!("metric.{id}.tie_margin"), t)?;
            }
        }
        if let Some(c) = &spec.coverage {
            for (region, w) in &c.audience {
                check_weight(origin, format!("coverage.audience.{region}"), *w)?;
            }
            self.coverage = Some(c.clone());
        }
        self.sources.push(origin.to_string());
        Ok(())
    }

    /// Reads a scoring file (the same tables as a scenario's `[scoring]`).
    pub fn read_spec(path: &Path) -> Result<ScoringSpec, ConfigError> {
        Ok(crate::scenario::load_toml(path, |_| Vec::new())?)
    }

    /// The scoring for runs of `scenario` (as recorded in run.json), then a scoring file's
    /// spec (named by its path) on top.
    pub fn resolve(
        scenario: Option<(&str, &serde_json::Value)>,
        file: Option<(&str, &ScoringSpec)>,
    ) -> Result<Scoring, ConfigError> {
        let mut scoring = Scoring::default();
        if let Some((name, value)) = scenario {
            if let Some(table) = value.get("scoring").filter(|v| !v.is_null()) {
                let origin = format!("scenario \"{name}\" [scoring]");
                let spec: ScoringSpec =
                    serde_json::from_value(table.clone()).map_err(|e| ConfigError::Parse {
                        path: origin.clone(),
                        reason: e.to_string(),
                    })?;
                scoring.apply(&spec, &origin)?;
            }
        }
        if let Some((path, spec)) = file {
            scoring.apply(spec, path)?;
        }
        Ok(scoring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_carry_the_issues_thresholds() {
        let s = Scoring::default();
        let t = |id: &str| s.metrics.iter().find(|m| m.id == id).unwrap().thresholds;
        let i = t("interactive_latency_p95_ms");
        assert_eq!(
            (i.excellent, i.acceptable, i.unacceptable),
            (250.0, 400.0, 400.0)
        );
        let a = t("audience_latency_p95_ms");
        assert_eq!(
            (a.excellent, a.acceptable, a.unacceptable),
            (800.0, 1500.0, 2000.0)
        );
        let f = t("time_to_first_frame_p90_ms");
        assert_eq!(
            (f.excellent, f.acceptable, f.unacceptable),
            (600.0, 1000.0, 2000.0)
        );
        let j = t("join_success_pct");
        assert_eq!(
            (j.better, j.excellent, j.unacceptable),
            (Better::Higher, 99.9, 99.0)
        );
        let z = t("freeze_time_pct");
        assert_eq!((z.excellent, z.acceptable, z.unacceptable), (1.0, 3.0, 5.0));
        let m = t("audio_mos");
        assert_eq!((m.excellent, m.acceptable, m.unacceptable), (4.0, 3.6, 3.1));
        for m in &s.metrics {
            Thresholds::new(
                m.thresholds.better,
                m.thresholds.excellent,
                m.thresholds.acceptable,
                m.thresholds.unacceptable,
            )
            .unwrap_or_else(|e| panic!("{}: {e}", m.id));
        }
    }

    #[test]
    fn a_scoring_file_overrides_thresholds_and_weights_and_names_its_mistakes() {
        let spec: ScoringSpec = toml::from_str(
            "[weights]\nlatency = 50\ncoverage = 0\n[metric.audience_latency_p95_ms]\nexcellent = 400\nweight = 3\n[coverage.audience]\nregion-cn = 70\nregion-sea = 30\n",
        )
        .unwrap();
        let mut s = Scoring::default();
        s.apply(&spec, "scoring.toml").unwrap();
        assert_eq!(s.weights[&Dimension::Latency], 50.0);
        assert_eq!(s.weights[&Dimension::Coverage], 0.0);
        let m = s
            .metrics
            .iter()
            .find(|m| m.id == "audience_latency_p95_ms")
            .unwrap();
        assert_eq!(m.thresholds.excellent, 400.0);
        assert_eq!(m.thresholds.acceptable, 1500.0);
        assert_eq!(m.weight, 3.0);
        assert_eq!(s.coverage.unwrap().audience["region-cn"], 70.0);

        let typo: ScoringSpec = toml::from_str("[metric.e2e_p95]\nexcellent = 1\n").unwrap();
        let e = Scoring::default().apply(&typo, "scoring.toml").unwrap_err();
        assert!(e
            .to_string()
            .contains("scoring.toml: metric.e2e_p95: no such scored metric"));
        let backwards: ScoringSpec =
            toml::from_str("[metric.freeze_time_pct]\nexcellent = 6\n").unwrap();
        let e = Scoring::default()
            .apply(&backwards, "scoring.toml")
            .unwrap_err();
        assert!(e.to_string().contains("metric.freeze_time_pct"), "{e}");
        let unknown = toml::from_str::<ScoringSpec>("[weights]\nlatncy = 1\n").unwrap_err();
        assert!(unknown.to_string().contains("latncy"), "{unknown}");
        let negative: ScoringSpec = toml::from_str("[weights]\npicture = -1\n").unwrap();
        assert!(Scoring::default().apply(&negative, "s").is_err());
    }
}
