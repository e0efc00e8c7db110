//! One stream group as a sans-IO state machine: a publisher, and each receiver behind its own
//! simulated link with a feedback path for key-frame requests.

use crate::base::Micros;
use crate::media::codec::{CodecError, OpusDecoder};
use crate::media::receiver::{
    AudioReceiver, QualityProbe, Receiver, ReceiverSummary, Role, VideoReceiver,
};
use crate::media::sender::{MediaSender, SenderStats};
use crate::metrics::{Metric, MetricSeries, Recorder};
use crate::net::sim_link::{LinkStats, SimLink};
use crate::plan::GroupPlan;
use crate::scenario::NetworkProfile;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

struct Leg {
    downlink: SimLink,
    feedback: SimLink,
    receiver: Receiver,
}

pub struct Room {
    name: String,
    network_name: String,
    network: NetworkProfile,
    end: Micros,
    interval_us: u64,
    next_interval: Micros,
    sender: MediaSender,
    legs: Vec<Leg>,
    recorder: Recorder,
    done: bool,
}

/// What one group measured, ready for run.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupOutcome {
    pub name: String,
    pub network_name: String,
    pub network: NetworkProfile,
    pub sender: SenderStats,
    /// What the links actually did, summed over receivers.
    pub link: LinkStats,
    /// What the publishers' impairment did to what they sent (WebRTC).
    #[serde(default)]
    pub publisher_link: LinkStats,
    /// A scheduled network's phases with what was realised in each (viewers; publishers).
    #[serde(default)]
    pub network_phases: Vec<crate::net::NetworkPhase>,
    #[serde(default)]
    pub publisher_network_phases: Vec<crate::net::NetworkPhase>,
    /// Publishers' lost connections and rejoins (WebRTC).
    #[serde(default)]
    pub publisher_reconnects: crate::media::receiver::Reconnects,
    pub series: BTreeMap<Metric, MetricSeries>,
    pub sessions: Vec<ReceiverSummary>,
    /// Publishers that could not publish (WebRTC groups).
    #[serde(default)]
    pub publisher_failures: Vec<crate::media::receiver::SessionFailure>,
    /// What came of the provider's ICE servers, with the number of sessions each was seen in.
    pub notes: std::collections::BTreeMap<String, u64>,
}

impl Room {
    /// `run_start` anchors the measurement intervals; `start` is when this group begins.
    pub fn new(plan: &GroupPlan, run_start: Micros, interval_us: u64) -> Result<Self, CodecError> {
        let start = run_start + plan.start_us;
        let sender = MediaSender::new(plan.sender.clone(), start)?;
        let mut legs = Vec::with_capacity(plan.receivers.len());
        for r in plan.receivers.iter().filter(|r| !r.elsewhere) {
            let probe = match r.role {
                Role::Probe => Some(QualityProbe::of(&plan.sender)?),
                Role::Light => None,
            };
            let opus = match r.role {
                Role::Probe => Some(OpusDecoder::new()?),
                Role::Light => None,
            };
            let feedback_params = crate::net::sim_link::LinkParams {
                loss: 0.0,
                jitter_us: 0,
                ..plan.link
            };
            legs.push(Leg {
                downlink: SimLink::new(plan.link, r.link_seed),
                feedback: SimLink::new(feedback_params, r.link_seed ^ 0xFEED),
                receiver: Receiver::new(
                    r.id.clone(),
                    r.role,
                    start,
                    VideoReceiver::new(start, probe),
                    AudioReceiver::new(opus),
                ),
            });
        }
        let first_boundary = run_start + (plan.start_us / interval_us + 1) * interval_us;
        Ok(Self {
            name: plan.name.clone(),
            network_name: plan.network_name.clone(),
            network: plan.network.clone(),
            end: run_start + plan.end_us,
            interval_us,
            next_interval: first_boundary,
            sender,
            legs,
            recorder: Recorder::new(run_start, interval_us),
            done: false,
        })
    }

    pub fn sender_mut(&mut self) -> &mut MediaSender {
        &mut self.sender
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    pub fn end(&self) -> Micros {
        self.end
    }

    /// The next instant at which the room has work.
    pub fn poll_timeout(&self) -> Micros {
        let mut t = self
            .sender
            .poll_timeout()
            .min(self.next_interval)
            .min(self.end);
        for leg in &self.legs {
            if let Some(d) = leg.downlink.poll_timeout() {
                t = t.min(d);
            }
            if let Some(f) = leg.feedback.poll_timeout() {
                t = t.min(f);
            }
        }
        t
    }

    /// Does everything due at `now`: deliveries, feedback, capture and encode, interval ends.
    pub fn handle_timeout(&mut self, now: Micros) -> Result<(), CodecError> {
        if self.done {
            return Ok(());
        }
        for leg in &mut self.legs {
            while let Some((_, datagram)) = leg.downlink.poll_delivery(now) {
                leg.receiver.on_datagram(&datagram, now);
            }
            if leg.receiver.take_keyframe_request() {
                leg.feedback.send(vec![0x01], now);
            }
            while leg.feedback.poll_delivery(now).is_some() {
                self.sender.request_keyframe();
            }
            self.recorder.record_all(leg.receiver.drain_samples());
        }
        while now >= self.next_interval && self.next_interval <= self.end {
            for leg in &mut self.legs {
                leg.receiver
                    .on_interval(self.next_interval, self.interval_us);
                self.recorder.record_all(leg.receiver.drain_samples());
            }
            self.next_interval += self.interval_us;
        }
        if now >= self.end {
            self.done = true;
            return Ok(());
        }
        if self.sender.poll_timeout() <= now {
            self.sender.handle_timeout(now)?;
        }
        Ok(())
    }

    /// Puts what the sender produced onto every downlink; `now` is the instant it leaves.
    pub fn transmit(&mut self, now: Micros) {
        while let Some(packet) = self.sender.poll_packet() {
            let bytes = packet.to_bytes();
            for leg in &mut self.legs {
                leg.downlink.send(bytes.clone(), now);
            }
        }
    }

    pub fn finish(self, stopped_at: Micros) -> GroupOutcome {
        let end = stopped_at.min(self.end);
        let mut link = LinkStats::default();
        let mut sessions = Vec::with_capacity(self.legs.len());
        for leg in &self.legs {
            let s = leg.downlink.stats;
            link.sent += s.sent;
            link.dropped += s.dropped;
            link.delivered += s.delivered;
            link.delay_sum_us += s.delay_sum_us;
            sessions.push(leg.receiver.summary(&self.name, end));
        }
        GroupOutcome {
            publisher_link: LinkStats::default(),
            publisher_reconnects: Default::default(),
            network_phases: Vec::new(),
            publisher_network_phases: Vec::new(),
            name: self.name,
            network_name: self.network_name,
            network: self.network,
            sender: self.sender.stats,
            link,
            series: self.recorder.series,
            sessions,
            publisher_failures: Vec::new(),
            notes: Default::default(),
        }
    }
}
