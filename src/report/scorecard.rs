//! The scored part of a comparison: the executive summary (ranking, ties, verdicts by
//! dimension, claims), the detail behind it (metric scores and pairwise tests, coverage, the
//! declared dossier), and the method and environment, which close the report.

use super::compare::ComparedRun;
use super::{fmt, Table};
use crate::score::card::{PairVerdict, ProviderCard};
use crate::score::config::{Dimension, DIMENSIONS};
use crate::score::stats::Interval;
use crate::score::Assessment;

fn with_interval(i: Option<Interval>, digits: usize) -> String {
    match i {
        Some(i) if i.low.is_finite() && i.high.is_finite() => format!(
            "{} [{}, {}]",
            fmt(i.estimate, digits),
            fmt(i.low, digits),
            fmt(i.high, digits)
        ),
        Some(i) => fmt(i.estimate, digits),
        None => "–".into(),
    }
}

fn dimension_cell(c: &ProviderCard, d: Dimension) -> String {
    let s = c.dimensions.iter().find(|x| x.dimension == d);
    match s.and_then(|s| s.score.map(|i| (i, s.measured_share))) {
        Some((i, share)) if share < 0.999 && !d.declared() => format!(
            "{} ({:.0} % measured)",
            with_interval(Some(i), 0),
            share * 100.0
        ),
        Some((i, _)) => with_interval(Some(i), 0),
        None => "not measured".into(),
    }
}

/// Dimensions that someone has a score for, in order.
pub(crate) fn shown_dimensions(a: &Assessment) -> Vec<Dimension> {
    DIMENSIONS
        .into_iter()
        .filter(|d| {
            a.card.providers.iter().any(|c| {
                c.dimensions
                    .iter()
                    .any(|x| x.dimension == *d && x.score.is_some())
            })
        })
        .collect()
}

fn verdict_text(v: &PairVerdict) -> String {
    match &v.winner {
        Some(w) => format!("{w} better ({})", v.basis),
        None => format!("tie ({})", v.basis),
    }
}

/// The findings in sentences: the ranking, each decided dimension, the claims, the gates and
/// whether rtcbench itself was the limit.
fn findings(a: &Assessment, runs: &[ComparedRun]) -> Table {
    let mut rows = vec![ranking_sentence(a)];
    rows.extend(dimension_sentences(a));
    rows.extend(run_sentences(a, runs));
    Table {
        title: "Executive summary".into(),
        note: None,
        headers: vec!["finding".into()],
        rows: rows.into_iter().map(|r| vec![r]).collect(),
    }
}

fn ranking_sentence(a: &Assessment) -> String {
    let overall = |label: &str| {
        a.card
            .providers
            .iter()
            .find(|c| c.label == label)
            .map_or("–".into(), |c| with_interval(c.overall, 0))
    };
    let tiers: Vec<String> = a
        .card
        .ranking
        .iter()
        .map(|t| {
            let names: Vec<String> = t
                .providers
                .iter()
                .map(|p| format!("{p} ({})", overall(p)))
                .collect();
            match names.len() {
                1 => format!("{}. {}", t.rank, names[0]),
                _ => format!("{}. tie between {}", t.rank, names.join(" and ")),
            }
        })
        .collect();
    format!("Overall ranking: {}.", tiers.join("; "))
}

/// Each decided dimension, or that none is; the claims' counts.
fn dimension_sentences(a: &Assessment) -> Vec<String> {
    let mut rows = Vec::new();
    let mut decided = 0;
    for v in &a.card.dimension_verdicts {
        if let Some(w) = &v.winner {
            decided += 1;
            let loser = if *w == v.a { &v.b } else { &v.a };
            rows.push(format!(
                "{}: {w} better than {loser} ({}).",
                capitalise(&v.what),
                v.basis
            ));
        }
    }
    if decided == 0 && !a.card.dimension_verdicts.is_empty() {
        rows.push("No dimension separates the providers: every difference is a tie.".into());
    }
    if !a.claims.is_empty() {
        let count =
            |v: crate::score::claims::Verdict| a.claims.iter().filter(|c| c.verdict == v).count();
        use crate::score::claims::Verdict::{Refuted, Untested, Verified};
        rows.push(format!(
            "Vendor claims: {} verified, {} refuted, {} untested.",
            count(Verified),
            count(Refuted),
            count(Untested)
        ));
    }
    rows
}

/// The gates, whether rtcbench was the limit, and what is declared rather than measured.
fn run_sentences(a: &Assessment, runs: &[ComparedRun]) -> Vec<String> {
    let mut rows = Vec::new();
    let gates: Vec<String> = runs
        .iter()
        .filter(|r| !r.results.gates.is_empty())
        .map(|r| {
            let g = &r.results.gates;
            format!(
                "{} held {} of {}",
                r.label,
                g.iter().filter(|x| x.passed).count(),
                g.len()
            )
        })
        .collect();
    if !gates.is_empty() {
        rows.push(format!("SLO gates: {}.", gates.join("; ")));
    }
    let saturated: Vec<&str> = runs
        .iter()
        .filter(|r| super::saturation_warning(&r.results).is_some())
        .map(|r| r.label.as_str())
        .collect();
    rows.push(match saturated.is_empty() {
        true => "rtcbench itself was not the limit in any run (see Environment).".into(),
        false => format!(
            "rtcbench itself was the limit in: {} — those figures include its own delays.",
            saturated.join(", ")
        ),
    });
    if a.card.providers.iter().any(|c| c.dossier.is_some()) {
        rows.push("Experience and support are declared in vendor dossiers, not measured.".into());
    }
    rows
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// The executive summary: what a buyer reads first.
pub fn summary(a: &Assessment, runs: &[ComparedRun]) -> Vec<Table> {
    let mut out = vec![findings(a, runs), ranking(a)];
    out.extend(head_to_head(a));
    out.extend(claims(a));
    out
}

fn ranking(a: &Assessment) -> Table {
    let dims = shown_dimensions(a);
    let mut headers = vec!["rank".to_string(), "provider".into(), "overall".into()];
    headers.extend(dims.iter().map(|d| {
        if d.declared() {
            format!("{} (declared)", d.name())
        } else {
            d.name().to_string()
        }
    }));
    let mut rows = Vec::new();
    for tier in &a.card.ranking {
        for label in &tier.providers {
            let Some(c) = a.card.providers.iter().find(|c| &c.label == label) else {
                continue;
            };
            let rank = if tier.providers.len() > 1 {
                format!("{} (tie)", tier.rank)
            } else {
                tier.rank.to_string()
            };
            let mut row = vec![rank, label.clone(), with_interval(c.overall, 0)];
            row.extend(dims.iter().map(|d| dimension_cell(c, *d)));
            rows.push(row);
        }
    }
    let weights: Vec<String> = a
        .scoring
        .weights
        .iter()
        .map(|(d, w)| format!("{} {w}", d.name()))
        .collect();
    Table {
        title: "Ranking".into(),
        note: Some(format!(
            "Scores 0–100: each metric scores 100 at or past its excellent threshold, 60 at acceptable, 0 at unacceptable, linear between; metrics average into dimensions by weight, dimensions into the overall score by weight ({}). Brackets: {:.0} % bootstrap intervals over sessions ({} resamples). Providers sharing a rank are tied: the interval of their difference in overall score includes zero. Declared dimensions come from the vendor's dossier, not from measurement.",
            weights.join(", "),
            a.card.level * 100.0,
            a.card.resamples
        )),
        headers,
        rows,
    }
}

fn head_to_head(a: &Assessment) -> Option<Table> {
    let rows: Vec<Vec<String>> = a
        .card
        .dimension_verdicts
        .iter()
        .chain(&a.card.overall_verdicts)
        .map(|v| {
            vec![
                v.what.clone(),
                format!("{} vs {}", v.a, v.b),
                with_interval(Some(v.difference), 1),
                verdict_text(v),
            ]
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(Table {
            title: "Head to head".into(),
            note: Some("Difference in score, second provider minus first, with its interval. A difference whose interval includes zero is a tie, not a win. Scores stop at 100, so where both level at the cap a dimension goes to the provider every decided metric of it favours (see the metric tests below).".into()),
            headers: ["dimension", "pair", "difference", "verdict"]
                .map(String::from)
                .to_vec(),
            rows,
        })
}

fn claims(a: &Assessment) -> Option<Table> {
    if a.claims.is_empty() {
        return None;
    }
    Some(Table {
            title: "Vendor claims".into(),
            note: Some("Verified: the whole interval meets the claim. Refuted: the whole interval misses it. Untested: no session measured it, or the interval straddles the bound.".into()),
            headers: ["claim", "check", "provider", "measured", "sessions", "verdict", "why"]
                .map(String::from)
                .to_vec(),
            rows: a
                .claims
                .iter()
                .map(|c| {
                    vec![
                        c.says.clone(),
                        c.check.clone(),
                        c.provider.clone(),
                        with_interval(c.measured, 1),
                        c.sessions.to_string(),
                        c.verdict.name().to_uppercase(),
                        c.reason.clone(),
                    ]
                })
                .collect(),
        })
}

/// Metric scores and the pairwise tests behind the verdicts.
pub fn detail(a: &Assessment) -> Vec<Table> {
    let mut out = vec![metric_scores(a)];
    out.extend(percentiles(a));
    out.extend(metric_tests(a));
    out.push(coverage(a));
    out.extend(declared(a));
    out
}

fn metric_scores(a: &Assessment) -> Table {
    let mut rows = Vec::new();
    for c in &a.card.providers {
        for m in &c.metrics {
            if m.value.is_none() {
                continue;
            }
            rows.push(vec![
                c.label.clone(),
                m.dimension.name().to_string(),
                m.label.to_string(),
                with_interval(m.value, 1),
                with_interval(m.score, 0),
                m.sessions.to_string(),
            ]);
        }
    }
    Table {
        title: "Metric scores".into(),
        note: Some("Each figure over all of a provider's sessions (e2e latency pools every frame), with its bootstrap interval from resampling whole sessions.".into()),
        headers: ["provider", "dimension", "metric", "value", "score", "sessions"]
            .map(String::from)
            .to_vec(),
        rows,
    }
}

/// Percentiles with their intervals, and the pairs' differences; nothing without percentiles.
fn percentiles(a: &Assessment) -> Vec<Table> {
    if a.card.percentiles.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    out.push(Table {
            title: "Percentiles with intervals".into(),
            note: Some("Over all of a provider's sessions (e2e latency pools every frame); brackets: bootstrap intervals from resampling whole sessions. Differences: second provider minus first; a difference whose interval includes zero is marked as a tie.".into()),
            headers: ["provider", "figure", "p50", "p95"].map(String::from).to_vec(),
            rows: a
                .card
                .percentiles
                .iter()
                .map(|p| {
                    vec![
                        p.provider.clone(),
                        p.figure.to_string(),
                        with_interval(Some(p.p50), 1),
                        with_interval(Some(p.p95), 1),
                    ]
                })
                .collect(),
        });
    let tie = |i: &Interval| {
        let s = with_interval(Some(*i), 1);
        if i.excludes_zero() {
            s
        } else {
            format!("{s} (tie)")
        }
    };
    out.push(Table {
        title: "Percentile differences".into(),
        note: None,
        headers: ["figure", "pair", "p50 difference", "p95 difference"]
            .map(String::from)
            .to_vec(),
        rows: a
            .card
            .percentile_differences
            .iter()
            .map(|d| {
                vec![
                    d.figure.to_string(),
                    format!("{} vs {}", d.a, d.b),
                    tie(&d.p50),
                    tie(&d.p95),
                ]
            })
            .collect(),
    });
    out
}

fn metric_tests(a: &Assessment) -> Option<Table> {
    let rows: Vec<Vec<String>> = a
        .card
        .metric_verdicts
        .iter()
        .map(|v| {
            let mw = v.mann_whitney;
            vec![
                v.what.clone(),
                format!("{} vs {}", v.a, v.b),
                with_interval(Some(v.difference), 2),
                mw.map_or("–".into(), |w| format!("{:.3}", w.p)),
                v.p_holm.map_or("–".into(), |p| format!("{p:.3}")),
                mw.map_or("–".into(), |w| format!("{:+.2}", w.effect)),
                verdict_text(v),
            ]
        })
        .collect();
    if rows.is_empty() {
        return None;
    }
    Some(Table {
            title: "Metric tests, pair by pair".into(),
            note: Some("Difference: second provider minus first. Mann–Whitney U over the sessions' own figures (two-sided, normal approximation with tie correction); effect: rank-biserial correlation, +1 when every session of the second is higher. With more than two providers, a win must also hold after Holm's correction over the pairs.".into()),
            headers: [
                "metric",
                "pair",
                "difference",
                "Mann–Whitney p",
                "Holm p",
                "effect",
                "verdict",
            ]
            .map(String::from)
            .to_vec(),
            rows,
        })
}

fn coverage(a: &Assessment) -> Table {
    let coverage: Vec<Vec<String>> = a
        .card
        .providers
        .iter()
        .flat_map(|c| {
            c.coverage.iter().map(move |r| {
                vec![
                    c.label.clone(),
                    r.region.clone(),
                    format!("{:.0} %", r.audience_share * 100.0),
                    r.sessions.to_string(),
                    match r.meets_slo {
                        Some(true) => "meets".into(),
                        Some(false) => format!("misses: {}", r.failing.join(", ")),
                        None => "not measured".into(),
                    },
                ]
            })
        })
        .collect();
    if !coverage.is_empty() {
        Table {
            title: "Coverage by region".into(),
            note: Some("Each region is a network profile. A region meets the SLO when every latency and stability metric measured there scores at least acceptable (60). Coverage is the audience share of the measured regions that meet it.".into()),
            headers: ["provider", "region", "audience", "sessions", "SLO"]
                .map(String::from)
                .to_vec(),
            rows: coverage,
        }
    } else {
        Table {
            title: "Coverage by region".into(),
            note: Some("Not scored: no audience mix was given. Put `[coverage.audience]` (network profile = audience share) in a scoring file or the scenario's `[scoring]`, and run groups on those profiles.".into()),
            headers: Vec::new(),
            rows: Vec::new(),
        }
    }
}

fn declared(a: &Assessment) -> Option<Table> {
    let declared: Vec<Vec<String>> = a
        .card
        .providers
        .iter()
        .filter_map(|c| c.dossier.as_ref())
        .flat_map(|d| {
            d.items.iter().map(move |i| {
                vec![
                    d.provider.clone(),
                    i.dimension.name().to_string(),
                    i.item.to_string(),
                    i.value.clone(),
                    fmt(i.score, 0),
                    d.source.clone(),
                ]
            })
        })
        .collect();
    if declared.is_empty() {
        return None;
    }
    Some(Table {
        title: "Declared, not measured (vendor dossier)".into(),
        note: Some("Figures as the dossier states them; rtcbench did not measure them.".into()),
        headers: [
            "provider",
            "dimension",
            "item",
            "declared",
            "score",
            "source",
        ]
        .map(String::from)
        .to_vec(),
        rows: declared,
    })
}

/// Method and environment: how the scores were made and on what.
pub fn method(a: &Assessment, runs: &[ComparedRun]) -> Vec<Table> {
    vec![thresholds(a), environment(runs)]
}

fn thresholds(a: &Assessment) -> Table {
    let rows = a
        .scoring
        .metrics
        .iter()
        .map(|m| {
            let t = m.thresholds;
            vec![
                m.dimension.name().to_string(),
                m.id.to_string(),
                m.measure.describe(),
                format!("{:?}", t.better).to_lowercase(),
                format!("{} / {} / {}", t.excellent, t.acceptable, t.unacceptable),
                m.weight.to_string(),
                m.basis.to_string(),
            ]
        })
        .collect();
    let sources = if a.scoring.sources.is_empty() {
        "built-in defaults".to_string()
    } else {
        format!(
            "built-in defaults, then {}",
            a.scoring.sources.join(", then ")
        )
    };
    Table {
        title: "Method: thresholds and weights".into(),
        note: Some(format!(
            "Scoring from {sources}. Sessions are the unit of resampling: a session's frames are not independent of each other. Audio MOS is the ITU-T G.107 E-model with fixed codec terms: its delay is the session's marker-timed video latency p50 (or, without video, the audio's own latency from the capture time on its packets; never one derived from RTP time, which servers re-base per subscriber) plus an audio jitter buffer, its loss the session's audio gaps. A metric's win needs its interval clear of zero and of the tie margin, 3 sessions a side, and a Mann–Whitney p under 0.05 (Holm-adjusted with more than two providers)."
        )),
        headers: [
            "dimension",
            "metric",
            "measured as",
            "better",
            "excellent / acceptable / unacceptable",
            "weight",
            "basis",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    }
}

fn environment(runs: &[ComparedRun]) -> Table {
    let env = runs
        .iter()
        .map(|r| {
            let x = &r.results;
            let e = &x.environment;
            vec![
                r.label.clone(),
                format!("{} × {} ({})", e.cpu_count, e.cpu_model, e.arch),
                format!("{} {}", e.os, e.kernel),
                format!("rtcbench {} ({})", e.rtcbench_version, e.build),
                x.seed.to_string(),
                x.provider
                    .clone()
                    .unwrap_or_else(|| "simulated link".into()),
                match &x.self_cost {
                    Some(c) if !c.saturation.is_empty() => {
                        format!("SATURATED: {}", c.saturation.join("; "))
                    }
                    Some(c) => c.describe(),
                    None => "not measured".into(),
                },
            ]
        })
        .collect();
    Table {
        title: "Environment".into(),
        note: Some(
            "Where each run was made. A saturated generator's own delays are in its figures."
                .into(),
        ),
        headers: [
            "run",
            "machine",
            "system",
            "build",
            "seed",
            "provider",
            "generator",
        ]
        .map(String::from)
        .to_vec(),
        rows: env,
    }
}
