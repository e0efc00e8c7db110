//! `--metrics-push URL`: the same samples `/metrics` serves, sent by Prometheus remote write
//! (protobuf, snappy-compressed, as k6's `experimental-prometheus-rw` output does) every few
//! seconds and once more when the run ends. For the pods of a sharded run that no Prometheus
//! scrapes; their `shard` labels keep them apart. Prometheus itself accepts it with
//! `--web.enable-remote-write-receiver` (at `/api/v1/write`), as do Mimir, Thanos and
//! VictoriaMetrics.

use super::model::{samples, Sample};
use super::Telemetry;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The answer's body kept for an error message.
const BODY_EXCERPT: usize = 512;

#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<PbSample>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct PbSample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("remote write to {url}: {source}")]
    Send { url: String, source: reqwest::Error },
    #[error("remote write to {url}: HTTP {status}: {body}")]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
    #[error("remote write: cannot compress the request: {0}")]
    Compress(#[from] snap::Error),
}

/// Samples as a remote-write request: one series each, labels sorted by name with `__name__`.
pub fn encode(samples: &[Sample], timestamp_ms: i64) -> Result<Vec<u8>, PushError> {
    let timeseries = samples
        .iter()
        .map(|s| {
            let mut labels: Vec<Label> = s
                .labels
                .iter()
                .map(|(name, value)| Label {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect();
            labels.push(Label {
                name: "__name__".into(),
                value: s.name.clone(),
            });
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            TimeSeries {
                labels,
                samples: vec![PbSample {
                    value: s.value,
                    timestamp: timestamp_ms,
                }],
            }
        })
        .collect();
    let request = WriteRequest { timeseries };
    Ok(snap::raw::Encoder::new().compress_vec(&request.encode_to_vec())?)
}

/// Sends one reading now.
pub async fn push_once(
    http: &reqwest::Client,
    url: &str,
    telemetry: &Telemetry,
) -> Result<(), PushError> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let body = encode(&samples(&telemetry.families()), now_ms)?;
    let answer = http
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .timeout(Duration::from_secs(10))
        .body(body)
        .send()
        .await
        .map_err(|source| PushError::Send {
            url: url.to_string(),
            source,
        })?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let mut body = Vec::new();
    let mut answer = answer;
    while let Ok(Some(chunk)) = answer.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= BODY_EXCERPT {
            break;
        }
    }
    body.truncate(BODY_EXCERPT);
    Err(PushError::Refused {
        url: url.to_string(),
        status: status.as_u16(),
        body: String::from_utf8_lossy(&body).trim().to_string(),
    })
}

/// Pushes every `every` until `done` turns true, then once more: the run's final figures.
/// Failures are told once each kind, and the run goes on; returns how many pushes failed.
pub async fn push_until_done(
    url: String,
    telemetry: Arc<Telemetry>,
    every: Duration,
    mut done: watch::Receiver<bool>,
) -> u64 {
    let Ok(http) = reqwest::Client::builder().build() else {
        eprintln!("remote write: cannot make an HTTP client; nothing is pushed");
        return 0;
    };
    let mut failed = 0;
    let mut told = std::collections::HashSet::new();
    let mut report = |r: Result<(), PushError>| {
        if let Err(e) = r {
            failed += 1;
            let kind = match &e {
                PushError::Send { .. } => "send".to_string(),
                PushError::Refused { status, .. } => status.to_string(),
                PushError::Compress(_) => "compress".to_string(),
            };
            if told.insert(kind) {
                eprintln!("{e}");
            }
        }
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => report(push_once(&http, &url, &telemetry).await),
            // The guard wait_for gives back is not Send; drop it inside.
            () = async { let _ = done.wait_for(|d| *d).await; } => break,
        }
    }
    report(push_once(&http, &url, &telemetry).await);
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_decodes_back_with_sorted_labels_and_the_name() {
        let samples = vec![Sample {
            name: "rtcbench_joins_total".into(),
            labels: vec![("run".into(), "r".into()), ("group".into(), "room".into())],
            value: 7.0,
        }];
        let body = encode(&samples, 1_700_000_000_000).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let request = WriteRequest::decode(raw.as_slice()).unwrap();
        let series = &request.timeseries[0];
        let names: Vec<&str> = series.labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["__name__", "group", "run"]);
        assert_eq!(series.labels[0].value, "rtcbench_joins_total");
        assert_eq!(series.samples[0].value, 7.0);
        assert_eq!(series.samples[0].timestamp, 1_700_000_000_000);
    }
}
