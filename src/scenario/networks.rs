//! The built-in network profiles, named as buyers and vendors name them. Each describes what
//! reaches the client (its downlink); `cross-border` delays the uplink as well. Any field can be
//! overridden by defining a profile of the same shape under `[network.NAME]`.

use super::schema::{NetworkProfile, WindowSpec};
use crate::base::units::{Bitrate, HumanDuration, Percent};

/// Names of the built-in profiles, for messages.
pub const BUILTIN: [&str; 11] = [
    "clean",
    "good",
    "wifi",
    "4g",
    "3g",
    "weak",
    "loss-50",
    "loss-70",
    "jitter-1000",
    "cross-border",
    "handover",
];

fn ms(v: u64) -> HumanDuration {
    HumanDuration::from_millis(v)
}

fn profile(delay: u64, jitter: u64, loss: f64) -> NetworkProfile {
    NetworkProfile {
        delay: ms(delay),
        jitter: ms(jitter),
        loss: Percent(loss),
        ..NetworkProfile::default()
    }
}

pub fn builtin(name: &str) -> Option<NetworkProfile> {
    Some(match name {
        "clean" => NetworkProfile::default(),
        "good" => profile(20, 5, 0.0),
        "wifi" => NetworkProfile {
            burst: Some(2.0),
            ..profile(30, 10, 1.0)
        },
        "4g" => NetworkProfile {
            burst: Some(3.0),
            rate: Some(Bitrate(10_000_000)),
            ..profile(60, 20, 1.0)
        },
        "3g" => NetworkProfile {
            burst: Some(3.0),
            rate: Some(Bitrate(1_500_000)),
            ..profile(150, 50, 3.0)
        },
        "weak" => profile(100, 30, 30.0),
        "loss-50" => profile(0, 0, 50.0),
        "loss-70" => profile(0, 0, 70.0),
        // Delays spread over 1000 ms (50 to 1050 ms), in order, as a jitter buffer sees them.
        "jitter-1000" => NetworkProfile {
            reorder: false,
            ..profile(550, 500, 0.0)
        },
        // About 200 ms more round trip: 100 ms each way, some jitter and loss.
        "cross-border" => NetworkProfile {
            uplink: Some(Box::new(profile(100, 15, 0.0))),
            ..profile(100, 15, 1.0)
        },
        // A 300 ms outage every 10 s, as a phone moving between cells.
        "handover" => NetworkProfile {
            outages: (1..=60)
                .map(|k| WindowSpec {
                    start: ms(k * 10_000),
                    end: ms(k * 10_000 + 300),
                })
                .collect(),
            ..profile(40, 10, 0.0)
        },
        _ => return None,
    })
}
