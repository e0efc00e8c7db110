//! One reading of the run as metric families, the shape both exports share: OpenMetrics text
//! for a scraper (through `prometheus-client`'s encoder) and flat samples for a push.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

/// Every exported name starts so, as k6's start with `k6_`.
pub const PREFIX: &str = "rtcbench";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Labels of one series, in order: the run's own first, then the family's.
pub type Labels = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Histogram {
        sum: f64,
        count: u64,
        /// Cumulative counts at each upper bound, ascending; `+Inf` is `count`.
        buckets: Vec<(f64, u64)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Without the prefix, the unit or `_total`: `e2e_latency`.
    pub base: &'static str,
    pub help: &'static str,
    /// The base unit, spelt as OpenMetrics wants it in the name: `seconds`, `ratio`.
    pub unit: Option<&'static str>,
    pub kind: Kind,
    pub series: Vec<Series>,
}

impl Family {
    pub fn new(
        base: &'static str,
        kind: Kind,
        unit: Option<&'static str>,
        help: &'static str,
    ) -> Self {
        Self {
            base,
            help,
            unit,
            kind,
            series: Vec::new(),
        }
    }

    pub fn push(&mut self, labels: Labels, value: f64) {
        self.series.push(Series {
            labels,
            value: Value::Number(value),
        });
    }

    /// The name a query uses, before any `_total`, `_bucket`, `_sum` or `_count`.
    pub fn name(&self) -> String {
        match self.unit {
            Some(u) => format!("{PREFIX}_{}_{u}", self.base),
            None => format!("{PREFIX}_{}", self.base),
        }
    }
}

/// A flat sample, as Prometheus stores it: a name, labels (with `le` for a bucket), a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

/// Families as the samples a push sends.
pub fn samples(families: &[Family]) -> Vec<Sample> {
    let mut out = Vec::new();
    for f in families {
        let name = f.name();
        for s in &f.series {
            let sample = |suffix: &str, labels: Labels, value: f64| Sample {
                name: format!("{name}{suffix}"),
                labels,
                value,
            };
            match (&s.value, f.kind) {
                (Value::Number(v), Kind::Counter) => {
                    out.push(sample("_total", s.labels.clone(), *v))
                }
                (Value::Number(v), _) => out.push(sample("", s.labels.clone(), *v)),
                (
                    Value::Histogram {
                        sum,
                        count,
                        buckets,
                    },
                    _,
                ) => {
                    let bounds = buckets.iter().map(|&(le, n)| (format_le(le), n));
                    for (le, n) in bounds.chain([("+Inf".to_string(), *count)]) {
                        let mut labels = s.labels.clone();
                        labels.push(("le".into(), le));
                        out.push(sample("_bucket", labels, n as f64));
                    }
                    out.push(sample("_sum", s.labels.clone(), *sum));
                    out.push(sample("_count", s.labels.clone(), *count as f64));
                }
            }
        }
    }
    out
}

/// A bucket bound as the text format writes it (`0.5`, `1.0`), so pushed and scraped series
/// are the same series.
fn format_le(le: f64) -> String {
    let s = format!("{le}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Families as OpenMetrics text.
pub fn openmetrics(families: Vec<Family>) -> String {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(Reading(families)));
    let mut text = String::new();
    // Writing to a String cannot fail; a bad label would, and is not made.
    let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
    text
}

#[derive(Debug)]
struct Reading(Vec<Family>);

impl Collector for Reading {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for f in &self.0 {
            let unit = f.unit.map(|u| match u {
                "seconds" => Unit::Seconds,
                "bytes" => Unit::Bytes,
                other => Unit::Other(other.to_string()),
            });
            let kind = match f.kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Histogram => MetricType::Histogram,
            };
            let mut metric = encoder.encode_descriptor(f.base, f.help, unit.as_ref(), kind)?;
            for s in &f.series {
                let labels: Vec<(&str, &str)> = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let mut one = metric.encode_family(&labels)?;
                match (&s.value, f.kind) {
                    (Value::Number(v), Kind::Counter) => one
                        .encode_counter::<prometheus_client::encoding::NoLabelSet, _, f64>(
                        v, None,
                    )?,
                    (Value::Number(v), _) => one.encode_gauge(v)?,
                    (
                        Value::Histogram {
                            sum,
                            count,
                            buckets,
                        },
                        _,
                    ) => {
                        let mut all = buckets.clone();
                        // The encoder writes f64::MAX as `+Inf`.
                        all.push((f64::MAX, *count));
                        // The encoder takes each bucket's own count and adds them up.
                        let own = non_cumulative(&all);
                        one.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                            *sum, *count, &own, None,
                        )?
                    }
                }
            }
        }
        Ok(())
    }
}

fn non_cumulative(buckets: &[(f64, u64)]) -> Vec<(f64, u64)> {
    let mut below = 0;
    buckets
        .iter()
        .map(|&(le, n)| {
            let own = n.saturating_sub(below);
            below = n.max(below);
            (le, own)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn example() -> Vec<Family> {
        let mut joins = Family::new("joins", Kind::Counter, None, "Sessions that came up.");
        joins.push(labels(&[("run", "r1"), ("group", "room")]), 3.0);
        let mut e2e = Family::new("e2e_latency", Kind::Histogram, Some("seconds"), "Latency.");
        e2e.series.push(Series {
            labels: labels(&[("run", "r1"), ("group", "room")]),
            value: Value::Histogram {
                sum: 0.35,
                count: 4,
                buckets: vec![(0.05, 1), (0.1, 3), (0.2, 3)],
            },
        });
        vec![joins, e2e]
    }

    #[test]
    fn openmetrics_text_names_units_and_cumulative_buckets() {
        let text = openmetrics(example());
        assert!(text.contains("# TYPE rtcbench_joins counter"), "{text}");
        assert!(
            text.contains("rtcbench_joins_total{run=\"r1\",group=\"room\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("# UNIT rtcbench_e2e_latency_seconds seconds"),
            "{text}"
        );
        for line in [
            "rtcbench_e2e_latency_seconds_bucket{le=\"0.05\",run=\"r1\",group=\"room\"} 1",
            "rtcbench_e2e_latency_seconds_bucket{le=\"0.1\",run=\"r1\",group=\"room\"} 3",
            "rtcbench_e2e_latency_seconds_bucket{le=\"0.2\",run=\"r1\",group=\"room\"} 3",
            "rtcbench_e2e_latency_seconds_bucket{le=\"+Inf\",run=\"r1\",group=\"room\"} 4",
            "rtcbench_e2e_latency_seconds_count{run=\"r1\",group=\"room\"} 4",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn pushed_samples_are_the_scraped_series() {
        let samples = samples(&example());
        let names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names[0], "rtcbench_joins_total");
        let buckets: Vec<(&str, f64)> = samples
            .iter()
            .filter(|s| s.name == "rtcbench_e2e_latency_seconds_bucket")
            .map(|s| (s.labels.last().unwrap().1.as_str(), s.value))
            .collect();
        assert_eq!(
            buckets,
            [("0.05", 1.0), ("0.1", 3.0), ("0.2", 3.0), ("+Inf", 4.0)]
        );
        let count = samples.iter().find(|s| s.name.ends_with("_count")).unwrap();
        assert_eq!(count.value, 4.0);
        assert_eq!(format_le(1.0), "1.0");
    }
}
