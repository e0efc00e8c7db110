//! Simulcast in the reference SFU: which of a publisher's layers each viewer gets. Each viewer's
//! choice follows its own bandwidth estimate (TWCC feedback to the SFU), changes only at a key
//! frame of the new layer (asked of the publisher), and the viewer sees one stream: sequence
//! numbers and RTP times are rewritten across switches. Sans-IO: packets, estimates and instants
//! in, decisions out.

use crate::media::simulcast::ProbeRamp;
use std::time::{Duration, Instant};

const WRAP: u64 = 1 << 16;
/// A layer is chosen only if the estimate covers its measured rate with this much to spare
/// (audio, RTCP and retransmissions ride beside it).
const HEADROOM: f64 = 1.15;
/// After a step down, the estimate must hold a higher layer this long before stepping up: a
/// viewer that just lost its rate is not tried again at once.
const UP_HOLD: Duration = Duration::from_secs(4);
/// While a switch waits for the new layer's key frame, it is asked for again this often.
const KEYFRAME_RETRY: Duration = Duration::from_millis(500);
/// A layer that sent nothing for this long is off (the publisher turned it off).
const LAYER_SILENT: Duration = Duration::from_millis(600);
/// A layer is kept while the highest estimate of this window covers [`KEEP_SHARE`] of it: a
/// delay-based estimate dips on each queue build-up behind a cap, and a dip alone is not a
/// lower rate.
const KEEP_WINDOW: Duration = Duration::from_millis(1500);
/// GoogCC answers any overuse it detects, a passing one too (a scheduling hiccup on a busy
/// machine), by setting its estimate to 0.85 × the rate it measured arriving: under the rate
/// of the layer the viewer is on. So a layer is kept down to this share of its rate; a real cap
/// takes the estimate lower still (under a 1 Mbps cap, viewers of a 2 Mbps layer stepped down
/// 0.5 to 1.6 s after it began, in 23 runs).
const KEEP_SHARE: f64 = 0.8;
/// A viewer below the top layer has its estimator started over this long after it went below,
/// and again each time this long passes while it stays there
/// ([`LayerSelector::restart_estimator`]).
const RESTART_EVERY: Duration = Duration::from_secs(4);
/// Rates are measured over this window.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// The incoming rate of each of a publisher's layers, smallest first.
#[derive(Debug, Default, Clone)]
pub struct LayerRates {
    layers: Vec<LayerMeter>,
}

#[derive(Debug, Clone, Default)]
struct LayerMeter {
    /// (arrival, bytes) within the window, oldest first.
    recent: std::collections::VecDeque<(Instant, usize)>,
    bytes: usize,
    last: Option<Instant>,
}

impl LayerRates {
    pub fn new(count: usize) -> Self {
        Self {
            layers: vec![LayerMeter::default(); count],
        }
    }

    pub fn count(&self) -> usize {
        self.layers.len()
    }

    pub fn on_packet(&mut self, layer: usize, bytes: usize, now: Instant) {
        let Some(meter) = self.layers.get_mut(layer) else {
            return;
        };
        meter.recent.push_back((now, bytes));
        meter.bytes += bytes;
        meter.last = Some(now);
        while let Some(&(at, b)) = meter.recent.front() {
            if now.saturating_duration_since(at) <= RATE_WINDOW {
                break;
            }
            meter.recent.pop_front();
            meter.bytes -= b;
        }
    }

    /// Bits per second over the last window, `None` for a layer that is off.
    pub fn rate_bps(&self, layer: usize, now: Instant) -> Option<f64> {
        let meter = self.layers.get(layer)?;
        let last = meter.last?;
        if now.saturating_duration_since(last) > LAYER_SILENT {
            return None;
        }
        Some(meter.bytes as f64 * 8.0 / RATE_WINDOW.as_secs_f64())
    }
}

/// Whether an H.264 RTP payload opens a key frame: an SPS or IDR slice first, alone, in a
/// STAP-A, or as the first fragment of an FU-A.
pub fn begins_keyframe(payload: &[u8]) -> bool {
    let Some(&first) = payload.first() else {
        return false;
    };
    match first & 0x1F {
        5 | 7 => true,
        24 => stap_a_nal_types(&payload[1..]).any(|t| t == 5 || t == 7),
        28 => payload
            .get(1)
            .is_some_and(|&fu| fu & 0x80 != 0 && fu & 0x1F == 5),
        _ => false,
    }
}

fn stap_a_nal_types(mut rest: &[u8]) -> impl Iterator<Item = u8> + '_ {
    std::iter::from_fn(move || {
        let size = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]) as usize;
        let nal = rest.get(2..2 + size)?;
        rest = &rest[2 + size..];
        nal.first().map(|b| b & 0x1F)
    })
}

/// What a viewer is sent of one incoming packet: its number and RTP time on the viewer's
/// stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    pub seq_no: u64,
    pub rtp_time: u32,
}

/// One viewer's layer: the one it is sent, the one it should get, and the numbering that makes
/// the switches invisible.
#[derive(Debug, Clone)]
pub struct LayerSelector {
    current: Option<usize>,
    target: usize,
    /// The layer the viewer asked for, if it did: the estimate no longer chooses.
    pinned: Option<usize>,
    /// Added to an incoming extended sequence number of the current layer.
    seq_offset: i64,
    /// Packets of the current layer from before the switch to it are not sent.
    seq_floor: u64,
    last_seq: Option<u64>,
    ts_offset: u32,
    last_out_ts: u32,
    last_in_wallclock: Option<Instant>,
    last_down: Option<Instant>,
    keyframe_asked: Option<Instant>,
    switches: u64,
    /// The estimates of the last [`KEEP_WINDOW`], oldest first.
    estimates: std::collections::VecDeque<(Instant, f64)>,
    /// Raises of the rate its estimator is asked for, while below the top layer.
    probe: ProbeRamp,
    /// When the viewer went below the top layer, or its estimator was last started over since.
    restart_clock: Option<Instant>,
    count: usize,
}

impl LayerSelector {
    /// Starts on the top layer of `count`, as an uncapped viewer would stay.
    pub fn new(count: usize) -> Self {
        Self {
            current: None,
            target: count.saturating_sub(1),
            pinned: None,
            seq_offset: 0,
            seq_floor: 0,
            last_seq: None,
            ts_offset: 0,
            last_out_ts: 0,
            last_in_wallclock: None,
            last_down: None,
            keyframe_asked: None,
            switches: 0,
            estimates: Default::default(),
            probe: ProbeRamp::default(),
            restart_clock: None,
            count,
        }
    }

    pub fn current(&self) -> Option<usize> {
        self.current
    }

    pub fn target(&self) -> usize {
        self.target
    }

    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// The viewer asked for `layer` (or, with `None`, for the estimate to choose again).
    pub fn pin(&mut self, layer: Option<usize>) {
        self.pinned = layer;
        if let Some(layer) = layer {
            self.target = layer;
        }
    }

    /// The viewer's bandwidth estimate moved: steps down when the highest estimate of the last
    /// [`KEEP_WINDOW`] is under [`KEEP_SHARE`] of the current layer's rate, to the highest
    /// layer that fits the latest with [`HEADROOM`]; steps up to such a layer only after
    /// [`UP_HOLD`] since the last step down. Kept down to a share of its rate and taken up
    /// only with headroom, a layer does not flip with an estimate wavering around its rate.
    pub fn on_estimate(&mut self, estimate_bps: f64, rates: &LayerRates, now: Instant) {
        self.estimates.push_back((now, estimate_bps));
        while let Some(&(at, _)) = self.estimates.front() {
            if now.saturating_duration_since(at) <= KEEP_WINDOW {
                break;
            }
            self.estimates.pop_front();
        }
        if self.pinned.is_some() {
            return;
        }
        let recent_max = self
            .estimates
            .iter()
            .map(|&(_, e)| e)
            .fold(estimate_bps, f64::max);
        let rate = |l: usize| rates.rate_bps(l, now);
        let with_headroom = (0..rates.count())
            .filter(|&l| rate(l).is_some_and(|r| r * HEADROOM <= estimate_bps))
            .max();
        let lowest_on = (0..rates.count()).find(|&l| rate(l).is_some());
        let Some(best) = with_headroom.or(lowest_on) else {
            return;
        };
        let from = self.current.unwrap_or(self.target);
        let from_fits = rate(from).is_some_and(|r| r * KEEP_SHARE <= recent_max);
        if best < from && !from_fits {
            self.last_down = Some(now);
            self.target = best;
        } else if best > from {
            let held = self
                .last_down
                .is_none_or(|t| now.saturating_duration_since(t) >= UP_HOLD);
            if held {
                self.target = best;
            }
        } else if best == from {
            self.target = best;
        }
    }

    /// When a viewer below the top layer should probe again: the step of its [`ProbeRamp`].
    pub fn probe_step(&mut self, now: Instant) -> Option<u32> {
        let below_top = self.current.is_some_and(|l| l + 1 < self.count);
        if !below_top || self.pinned.is_some() {
            return None;
        }
        self.probe.due(now)
    }

    /// When a viewer below the top layer should have its estimator started over from the last
    /// estimate: [`RESTART_EVERY`] after it went below, and again as often while it stays.
    /// Started over, str0m probes at 3 and 6 times the estimate at once. Its own probes on a
    /// raised wanted rate ([`Self::probe_step`]) find nothing while its estimator is
    /// loss-limited, as it can stay after losses under a cap. A restart does not wait for a quiet
    /// estimate: one that kept creeping was never restarted, and in a CI run a capped light
    /// viewer was still on its lower layer 12 s after the cap lifted.
    pub fn restart_estimator(&mut self, now: Instant) -> Option<f64> {
        let below_top = self.current.is_some_and(|l| l + 1 < self.count);
        if !below_top || self.pinned.is_some() {
            self.restart_clock = None;
            return None;
        }
        let since = *self.restart_clock.get_or_insert(now);
        if now.saturating_duration_since(since) < RESTART_EVERY {
            return None;
        }
        let &(_, estimate) = self.estimates.back()?;
        self.restart_clock = Some(now);
        Some(estimate)
    }

    /// The layer to ask the publisher for a key frame on, when a switch waits for one.
    pub fn keyframe_wanted(&mut self, now: Instant) -> Option<usize> {
        if self.current == Some(self.target) {
            return None;
        }
        let due = self
            .keyframe_asked
            .is_none_or(|t| now.saturating_duration_since(t) >= KEYFRAME_RETRY);
        if !due {
            return None;
        }
        self.keyframe_asked = Some(now);
        Some(self.target)
    }

    /// A packet of `layer` (extended sequence number `seq`): what to send the viewer, or
    /// `None` to send nothing. A switch happens at the target layer's key frame; a layer that
    /// went silent is left at any key frame of the target's or a lower layer.
    pub fn on_packet(
        &mut self,
        layer: usize,
        seq: u64,
        rtp_time: u32,
        arrival: Instant,
        keyframe_start: bool,
        current_on: bool,
    ) -> Option<Rewritten> {
        let switch_here = keyframe_start
            && self.current != Some(layer)
            && (layer == self.target || (!current_on && layer < self.target));
        if switch_here {
            self.switch_to(layer, seq, rtp_time, arrival);
        }
        if self.current != Some(layer) || seq < self.seq_floor {
            return None;
        }
        let out_seq = (seq as i64 + self.seq_offset).max(0) as u64;
        let out_ts = rtp_time.wrapping_add(self.ts_offset);
        if self.last_seq.is_none_or(|last| out_seq > last) {
            self.last_seq = Some(out_seq);
            self.last_out_ts = out_ts;
            self.last_in_wallclock = Some(arrival);
        }
        Some(Rewritten {
            seq_no: out_seq,
            rtp_time: out_ts,
        })
    }

    fn switch_to(&mut self, layer: usize, seq: u64, rtp_time: u32, arrival: Instant) {
        let first_out = match self.last_seq {
            Some(last) => last + 1,
            // The viewer's stream starts at rollover zero (see `sequence.rs`).
            None => seq % WRAP,
        };
        self.seq_offset = first_out as i64 - seq as i64;
        self.seq_floor = seq;
        if let Some(before) = self.last_in_wallclock {
            let gap = arrival.saturating_duration_since(before).as_micros() as u64;
            let ticks = (gap * 90 / 1000).max(1) as u32;
            let wanted = self.last_out_ts.wrapping_add(ticks);
            self.ts_offset = wanted.wrapping_sub(rtp_time);
        }
        if self.current.is_some() {
            self.switches += 1;
        }
        self.current = Some(layer);
        self.keyframe_asked = None;
    }
}

/// Key-frame requests for one room's layer closer together than this are one: a request
/// within it waits for its end, and the key frame then sent serves every viewer that asked
/// meanwhile. Our own publisher spaces forced key frames the same.
pub const KEYFRAME_COMBINE: Duration = Duration::from_millis(200);
/// Rooms' last requests kept before old ones are forgotten.
const KEYFRAME_ROOMS_KEPT: usize = 1024;

/// Combines the key-frame requests a publisher gets, per room and layer (`None`: all layers):
/// at most one per [`KEYFRAME_COMBINE`], and none lost.
#[derive(Debug, Default)]
pub struct KeyframeRequests {
    /// When each was last passed on, and whether another waits.
    last: std::collections::HashMap<(String, Option<usize>), (Instant, bool)>,
    /// How many wait.
    waiting: usize,
}

impl KeyframeRequests {
    /// Whether a request for `room`'s `layer` at `now` goes to the publisher now; if not, it
    /// is held for [`Self::due`].
    pub fn pass(&mut self, room: &str, layer: Option<usize>, now: Instant) -> bool {
        let key = (room.to_string(), layer);
        if let Some((at, waiting)) = self.last.get_mut(&key) {
            if now.saturating_duration_since(*at) < KEYFRAME_COMBINE {
                self.waiting += usize::from(!*waiting);
                *waiting = true;
                return false;
            }
        }
        if self.last.len() >= KEYFRAME_ROOMS_KEPT {
            self.last.retain(|_, (at, waiting)| {
                *waiting || now.saturating_duration_since(*at) < KEYFRAME_COMBINE
            });
        }
        self.last.insert(key, (now, false));
        true
    }

    /// The held requests whose wait is over at `now`, to pass on now.
    pub fn due(&mut self, now: Instant) -> Vec<(String, Option<usize>)> {
        let mut out = Vec::new();
        if self.waiting == 0 {
            return out;
        }
        for ((room, layer), (at, waiting)) in &mut self.last {
            if *waiting && now.saturating_duration_since(*at) >= KEYFRAME_COMBINE {
                *at = now;
                *waiting = false;
                out.push((room.clone(), *layer));
            }
        }
        self.waiting -= out.len();
        out
    }

    /// When the first held request is due.
    pub fn next_due(&self) -> Option<Instant> {
        if self.waiting == 0 {
            return None;
        }
        self.last
            .values()
            .filter(|(_, waiting)| *waiting)
            .map(|(at, _)| *at + KEYFRAME_COMBINE)
            .min()
    }
}

#[cfg(test)]
#[path = "simulcast_tests.rs"]
mod tests;
