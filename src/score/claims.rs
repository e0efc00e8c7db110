//! Vendor claims checked against the runs. A claims file states each claim in the vendor's
//! words and as a check on a measured figure:
//!
//! ```toml
//! [[claim]]
//! says = "Global connect under 600 ms"
//! check = "connect_ms p90 < 600"
//! provider = "agora"          # optional: one provider's runs; default every provider
//! ```
//!
//! Checks read `FIGURE [STAT] OP VALUE [for|at KEY=VALUE]...`, e.g.
//! `e2e_latency_ms p95 < 400 for role=cohost` or `freeze_time_pct < 3 at profile=loss-70`.
//! A claim is verified when its whole interval meets the bound, refuted when its whole
//! interval misses it, and untested when no session measured it or the interval straddles
//! the bound.

use super::measure::{Filter, Measure, Role, Row, Source, Stat, SOURCES};
use super::stats::{Bootstrap, Interval};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimsFile {
    #[serde(rename = "claim")]
    claims: Vec<ClaimSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimSpec {
    #[serde(default)]
    says: Option<String>,
    check: String,
    #[serde(default)]
    provider: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "<")]
    Below,
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = ">")]
    Above,
    #[serde(rename = ">=")]
    AtLeast,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        match s {
            "<" => Some(Op::Below),
            "<=" | "≤" => Some(Op::AtMost),
            ">" => Some(Op::Above),
            ">=" | "≥" => Some(Op::AtLeast),
            _ => None,
        }
    }

    fn holds(self, v: f64, bound: f64) -> bool {
        match self {
            Op::Below => v < bound,
            Op::AtMost => v <= bound,
            Op::Above => v > bound,
            Op::AtLeast => v >= bound,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub says: String,
    pub check: String,
    pub provider: Option<String>,
    pub measure: Measure,
    pub op: Op,
    pub bound: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Verified,
    Refuted,
    Untested,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Verified => "verified",
            Verdict::Refuted => "refuted",
            Verdict::Untested => "untested",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClaimResult {
    pub says: String,
    pub check: String,
    pub provider: String,
    pub verdict: Verdict,
    pub measured: Option<Interval>,
    pub sessions: usize,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error(transparent)]
    File(#[from] crate::scenario::ScenarioError),
    #[error("{path}: claim {index} (\"{check}\"): {reason}")]
    Check {
        path: String,
        index: usize,
        check: String,
        reason: String,
    },
}

/// Parses one check, e.g. `e2e_latency_ms p95 < 400 for role=cohost`.
pub fn parse_check(check: &str) -> Result<(Measure, Op, f64), String> {
    let words: Vec<&str> = check.split_whitespace().collect();
    let figures = || {
        SOURCES
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let source_word = words.first().ok_or("the check is empty")?;
    let source = Source::parse(source_word)
        .ok_or_else(|| format!("unknown figure \"{source_word}\"; known: {}", figures()))?;
    let mut at = 1;
    let stat = match words.get(at).and_then(|w| Stat::parse(w)) {
        Some(s) if source.is_share() => {
            return Err(format!(
                "{} is a share of sessions and takes no statistic (got \"{}\")",
                source.name(),
                s.label()
            ))
        }
        Some(s) => {
            at += 1;
            s
        }
        None if source.is_share() => Stat::Share,
        None => {
            return Err(format!(
                "{} needs a statistic before the comparison: p50, p90, p95, p99 or mean",
                source.name()
            ))
        }
    };
    let op_word = words.get(at).ok_or("missing a comparison (<, <=, >, >=)")?;
    let op = Op::parse(op_word)
        .ok_or_else(|| format!("\"{op_word}\" is not a comparison; use <, <=, > or >="))?;
    let bound_word = words
        .get(at + 1)
        .ok_or("missing the value to compare with")?;
    let bound: f64 = bound_word
        .trim_end_matches("ms")
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("\"{bound_word}\" is not a number"))?;
    let mut filter = Filter::default();
    for word in &words[at + 2..] {
        if matches!(*word, "for" | "at" | "with" | "and" | "in") {
            continue;
        }
        let (key, value) = word.split_once('=').ok_or_else(|| {
            format!("\"{word}\" is not KEY=VALUE (role, group, profile or protocol)")
        })?;
        match key {
            "role" => {
                filter.role = Some(Role::parse(value).ok_or_else(|| {
                    format!("role \"{value}\" is not one of call, cohost, audience, cdn")
                })?)
            }
            "group" => filter.group = Some(value.to_string()),
            "profile" => filter.profile = Some(value.to_string()),
            "protocol" => filter.protocol = Some(value.to_string()),
            other => {
                return Err(format!(
                    "\"{other}\" is not a session filter; use role, group, profile or protocol"
                ))
            }
        }
    }
    Ok((
        Measure {
            source,
            stat,
            filter,
        },
        op,
        bound,
    ))
}

pub fn read(path: &Path) -> Result<Vec<Claim>, ClaimsError> {
    let p = path.display().to_string();
    let file: ClaimsFile = crate::scenario::load_toml(path, |_| Vec::new())?;
    file.claims
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let (measure, op, bound) =
                parse_check(&c.check).map_err(|reason| ClaimsError::Check {
                    path: p.clone(),
                    index: i + 1,
                    check: c.check.clone(),
                    reason,
                })?;
            Ok(Claim {
                says: c.says.unwrap_or_else(|| c.check.clone()),
                check: c.check,
                provider: c.provider,
                measure,
                op,
                bound,
            })
        })
        .collect()
}

/// Judges `claim` on one provider's sessions.
pub fn judge(claim: &Claim, provider: &str, rows: &[Row], bootstrap: &Bootstrap) -> ClaimResult {
    let sessions = claim.measure.sessions(rows);
    let result = |verdict, measured, reason: String| ClaimResult {
        says: claim.says.clone(),
        check: claim.check.clone(),
        provider: provider.to_string(),
        verdict,
        measured,
        sessions,
        reason,
    };
    if sessions == 0 {
        return result(
            Verdict::Untested,
            None,
            format!("no session measured {}", claim.measure.describe()),
        );
    }
    let kept: Vec<Row> = rows
        .iter()
        .filter(|r| claim.measure.filter.keeps(r))
        .cloned()
        .collect();
    let prepared = claim.measure.prepare(&kept);
    let i = bootstrap.intervals_counted(kept.len(), |c| vec![prepared.value(c)])[0];
    let (low_ok, high_ok) = (
        claim.op.holds(i.low, claim.bound),
        claim.op.holds(i.high, claim.bound),
    );
    if low_ok && high_ok {
        result(
            Verdict::Verified,
            Some(i),
            "the whole interval meets the claim".into(),
        )
    } else if !low_ok && !high_ok {
        result(
            Verdict::Refuted,
            Some(i),
            "the whole interval misses the claim".into(),
        )
    } else {
        result(
            Verdict::Untested,
            Some(i),
            format!(
                "the interval straddles {}: more sessions are needed to decide",
                claim.bound
            ),
        )
    }
}

/// Every claim on every provider it names (or all of them). A claim naming a provider that is
/// not compared is untested, and says so.
pub fn judge_all(
    claims: &[Claim],
    providers: &[(String, &[Row])],
    bootstrap: &Bootstrap,
) -> Vec<ClaimResult> {
    let mut out = Vec::new();
    for c in claims {
        if let Some(p) = c
            .provider
            .as_ref()
            .filter(|p| !providers.iter().any(|(l, _)| l == *p))
        {
            let known: Vec<&str> = providers.iter().map(|(l, _)| l.as_str()).collect();
            out.push(ClaimResult {
                says: c.says.clone(),
                check: c.check.clone(),
                provider: p.clone(),
                verdict: Verdict::Untested,
                measured: None,
                sessions: 0,
                reason: format!(
                    "provider \"{p}\" is not in this comparison ({})",
                    known.join(", ")
                ),
            });
            continue;
        }
        out.extend(
            providers
                .iter()
                .filter(|(label, _)| c.provider.as_ref().is_none_or(|p| p == label))
                .map(|(label, rows)| judge(c, label, rows, bootstrap)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_parse_with_their_filters_and_mistakes_are_named() {
        let (m, op, bound) = parse_check("e2e_latency_ms p95 < 400 for role=cohost").unwrap();
        assert_eq!(m.source, Source::E2eLatencyMs);
        assert_eq!(m.stat, Stat::Quantile(0.95));
        assert_eq!(m.filter.role, Some(Role::Cohost));
        assert_eq!((op, bound), (Op::Below, 400.0));
        let (m, op, bound) = parse_check("freeze_time_pct < 3 at profile=loss-70").unwrap();
        assert_eq!(m.stat, Stat::Share);
        assert_eq!(m.filter.profile.as_deref(), Some("loss-70"));
        assert_eq!((op, bound), (Op::Below, 3.0));
        let (_, op, bound) = parse_check("join_success_pct >= 99.9").unwrap();
        assert_eq!((op, bound), (Op::AtLeast, 99.9));
        for (bad, says) in [
            ("e2e_ms p95 < 4", "unknown figure \"e2e_ms\""),
            ("connect_ms < 600", "needs a statistic"),
            ("freeze_time_pct p95 < 3", "takes no statistic"),
            ("connect_ms p90 = 600", "not a comparison"),
            ("connect_ms p90 < fast", "not a number"),
            ("connect_ms p90 < 600 for region=eu", "not a session filter"),
            ("connect_ms p90 < 600 for role=viewer", "not one of call"),
        ] {
            let e = parse_check(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn verdicts_follow_the_interval_and_a_stray_provider_is_untested() {
        let rows: Vec<Row> = (0..10)
            .map(|k| {
                Row::new(Role::Call, "call", "clean")
                    .with(Source::ConnectMs, vec![(100.0 + k as f64, 1.0)])
            })
            .collect();
        let claim = |check: &str, provider: Option<&str>| {
            let (measure, op, bound) = parse_check(check).unwrap();
            Claim {
                says: check.into(),
                check: check.into(),
                provider: provider.map(String::from),
                measure,
                op,
                bound,
            }
        };
        let claims = [
            claim("connect_ms p90 < 600", None),
            claim("connect_ms p50 < 50", None),
            // The median is 104 or 105: an interval around it straddles 104.5.
            claim("connect_ms p50 < 104.5", None),
            claim("connect_ms p50 < 600 for role=cohost", None),
            claim("connect_ms p50 < 600", Some("other")),
        ];
        let b = Bootstrap {
            resamples: 500,
            ..Bootstrap::default()
        };
        let got: Vec<Verdict> = judge_all(&claims, &[("p".into(), rows.as_slice())], &b)
            .iter()
            .map(|r| r.verdict)
            .collect();
        use Verdict::{Refuted, Untested, Verified};
        assert_eq!(got, [Verified, Refuted, Untested, Untested, Untested]);
        let stray = &judge_all(&claims[4..], &[("p".into(), rows.as_slice())], &b)[0];
        assert!(
            stray.reason.contains("\"other\" is not in this comparison"),
            "{}",
            stray.reason
        );
    }
}
