//! The user-space impairment layer in front of a client's UDP socket, one per direction
//! (sans-IO: datagrams and instants in, datagrams out). str0m-netem does the loss (random or
//! Gilbert-Elliott bursts), duplication, base delay and the bandwidth cap with its drop-tail
//! queue; this layer adds jitter with or without reordering, outages, and counts what it
//! actually did, so a run can report the impairment it applied beside the outcome.

use super::LinkStats;
use crate::base::rng::SplitMix64;
use crate::scenario::NetworkProfile;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m_netem::{
    Bitrate, DataSize, GilbertElliot, Input, LossModel, Netem, NetemConfig, Output, Probability,
    RandomLoss,
};

/// What one direction does to the datagrams that cross it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImpairSpec {
    pub delay: Duration,
    /// Each datagram's delay varies uniformly within ± this much.
    pub jitter: Duration,
    /// Whether jittered datagrams may overtake each other (true, as netem does) or keep their
    /// order (false: a datagram waits for the one before it, as on one queue).
    pub reorder: bool,
    /// Long-run share of datagrams lost, 0 to 1.
    pub loss: f64,
    /// Mean length of a loss burst in datagrams (Gilbert-Elliott); `None`: independent losses.
    pub burst: Option<f64>,
    pub duplicate: f64,
    /// A bottleneck: bits per second, with a drop-tail queue of `queue_bytes`.
    pub rate_bps: Option<u64>,
    pub queue_bytes: usize,
    /// Windows in which nothing gets through, from the layer's start.
    pub outages: Vec<(Duration, Duration)>,
    /// Later phases of a schedule: from each instant (after the layer's start) the direction
    /// behaves as that spec (whose own outages and phases do not count).
    pub phases: Vec<(Duration, ImpairSpec)>,
}

impl ImpairSpec {
    /// Nothing to do (whether it would reorder does not matter without jitter).
    pub fn is_clean(&self) -> bool {
        let plain = |s: &ImpairSpec| {
            ImpairSpec {
                reorder: false,
                phases: Vec::new(),
                ..s.clone()
            } == ImpairSpec::default()
        };
        plain(self) && self.phases.iter().all(|(_, p)| plain(p))
    }

    /// Gilbert-Elliott parameters for a mean loss and mean burst length (in datagrams): every
    /// datagram in the bad state is lost, none in the good one.
    fn loss_model(&self) -> LossModel {
        if self.loss <= 0.0 {
            return LossModel::None;
        }
        match self.burst {
            Some(burst) if burst > 1.0 && self.loss < 1.0 => {
                let good = (1.0 - self.loss) * burst / self.loss;
                LossModel::GilbertElliot(
                    GilbertElliot::new()
                        .good_duration(good as f32)
                        .bad_duration(burst as f32)
                        .loss_in_bad(Probability::new(1.0))
                        .loss_in_good(Probability::new(0.0)),
                )
            }
            _ => LossModel::Random(RandomLoss::new(Probability::new(self.loss as f32))),
        }
    }

    fn netem_config(&self, seed: u64) -> NetemConfig {
        // Netem holds the low edge of the delay; the jitter stage adds 0 to 2 × jitter on top.
        let mut c = NetemConfig::new()
            .latency(self.delay.saturating_sub(self.jitter))
            .loss(self.loss_model())
            .duplicate(Probability::new(self.duplicate as f32))
            .seed(seed);
        if let Some(bps) = self.rate_bps {
            c = c.link(
                Bitrate::from(bps),
                DataSize::from(self.queue_bytes.max(1500)),
            );
        }
        c
    }

    /// What a profile does to what the client sends, phase by phase.
    pub fn uplink(p: &NetworkProfile) -> Self {
        let plain = |p: &NetworkProfile| p.uplink.as_deref().map(Self::from).unwrap_or_default();
        Self {
            phases: p
                .schedule
                .iter()
                .map(|s| (s.at.0, plain(&s.network)))
                .collect(),
            ..plain(p)
        }
    }

    /// The same spec for a layer that starts `elapsed` after the schedule's origin.
    pub fn started_after(&self, elapsed: Duration) -> Self {
        Self {
            phases: self
                .phases
                .iter()
                .map(|(at, spec)| (at.saturating_sub(elapsed), spec.clone()))
                .collect(),
            ..self.clone()
        }
    }
}

impl From<&NetworkProfile> for ImpairSpec {
    /// What a profile does to what reaches the client, phase by phase.
    fn from(p: &NetworkProfile) -> Self {
        let rate_bps = p.rate.map(|r| r.bps());
        let queue = p.queue.map_or(Duration::from_millis(200), |q| q.0);
        Self {
            delay: p.delay.0,
            jitter: p.jitter.0,
            reorder: p.reorder,
            loss: p.loss.fraction(),
            burst: p.burst,
            duplicate: p.duplicate.map_or(0.0, |d| d.fraction()),
            rate_bps,
            queue_bytes: rate_bps
                .map_or(0, |bps| (bps as f64 / 8.0 * queue.as_secs_f64()) as usize),
            outages: p.outages.iter().map(|o| (o.start.0, o.end.0)).collect(),
            phases: p
                .schedule
                .iter()
                .map(|s| (s.at.0, Self::from(s.network.as_ref())))
                .collect(),
        }
    }
}

/// A datagram inside the layer: where it goes (or came from), when it entered, and its number,
/// so duplicates and losses can be told apart on the way out.
#[derive(Debug, Clone)]
struct Datagram {
    addr: SocketAddr,
    entered: Instant,
    id: u64,
    /// The schedule's phase it entered in.
    phase: usize,
    bytes: Vec<u8>,
}

impl AsRef<[u8]> for Datagram {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// A datagram waiting out its jitter when datagrams may overtake each other: released by
/// time, ties in the order they came from netem.
#[derive(Debug)]
struct Due {
    at: Instant,
    order: u64,
    datagram: Datagram,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// One direction of the layer.
pub struct Direction {
    /// What the direction does now (the current phase's spec, with the layer's outages).
    spec: ImpairSpec,
    /// The schedule, and the phase in force (0: the spec it started with).
    phases: Vec<(Duration, ImpairSpec)>,
    phase: usize,
    seed: u64,
    started: Instant,
    netem: Netem<Datagram>,
    /// Released by netem, waiting out their jitter: in order, or by release time when they may
    /// reorder.
    fifo: VecDeque<(Instant, Datagram)>,
    heap: BinaryHeap<Reverse<Due>>,
    released: u64,
    last_release: Option<Instant>,
    random: SplitMix64,
    next_id: u64,
    /// With duplication on: datagrams that entered and have not come out yet, so a copy is not
    /// counted as delivered (lost ones stay until pruned).
    in_flight: BTreeSet<u64>,
    /// Sent, delivered and their delay per phase of the schedule; what was dropped follows
    /// from them, and the totals are their sums (`realised`).
    phase_stats: Vec<LinkStats>,
}

/// Datagrams older than this many numbers are taken as lost, to bound `in_flight`.
const IN_FLIGHT_WINDOW: u64 = 100_000;

impl Direction {
    pub fn new(mut spec: ImpairSpec, seed: u64, now: Instant) -> Self {
        let phases = std::mem::take(&mut spec.phases);
        let mut d = Self {
            netem: Netem::new(spec.netem_config(seed)),
            phase_stats: vec![LinkStats::default(); phases.len() + 1],
            phases,
            phase: 0,
            seed,
            spec,
            started: now,
            fifo: VecDeque::new(),
            heap: BinaryHeap::new(),
            released: 0,
            last_release: None,
            random: SplitMix64(seed ^ 0x5eed),
            next_id: 0,
            in_flight: BTreeSet::new(),
        };
        d.follow_schedule(now);
        d
    }

    /// Moves to the phase in force at `now`; what is queued already keeps its course.
    fn follow_schedule(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.started);
        let due = self
            .phases
            .iter()
            .rposition(|(at, _)| *at <= elapsed)
            .map_or(0, |k| k + 1);
        if due == self.phase {
            return;
        }
        self.phase = due;
        let next = self.phases[due - 1].1.clone();
        self.spec = ImpairSpec {
            outages: std::mem::take(&mut self.spec.outages),
            phases: Vec::new(),
            ..next
        };
        let seed = self.seed ^ (due as u64).wrapping_mul(0x9e37_79b9);
        self.netem.set_config(self.spec.netem_config(seed));
    }

    fn in_outage(&self, now: Instant) -> bool {
        let t = now.saturating_duration_since(self.started);
        self.spec
            .outages
            .iter()
            .any(|&(from, to)| t >= from && t < to)
    }

    /// A datagram enters the layer at `now`.
    pub fn push(&mut self, now: Instant, addr: SocketAddr, bytes: Vec<u8>) {
        self.follow_schedule(now);
        self.phase_stats[self.phase].sent += 1;
        let id = self.next_id;
        self.next_id += 1;
        if self.in_outage(now) {
            return;
        }
        if self.spec.duplicate > 0.0 {
            self.track(id);
        }
        let d = Datagram {
            addr,
            entered: now,
            id,
            phase: self.phase,
            bytes,
        };
        self.netem.handle_input(Input::Packet(now, d));
    }

    fn track(&mut self, id: u64) {
        self.in_flight.insert(id);
        if id >= IN_FLIGHT_WINDOW {
            let stale: Vec<u64> = self
                .in_flight
                .range(..id - IN_FLIGHT_WINDOW)
                .copied()
                .collect();
            for s in stale {
                self.in_flight.remove(&s);
            }
        }
    }

    /// Uniform in [0, 2 × jitter] above netem's `delay - jitter`: delay ± jitter in all.
    fn jitter_of(&mut self) -> Duration {
        if self.spec.jitter.is_zero() {
            return Duration::ZERO;
        }
        let span = 2.0 * self.spec.jitter.as_secs_f64();
        Duration::from_secs_f64(span * self.random.next_f64())
    }

    /// Moves what netem has released by `now` into the jitter stage.
    fn drain_netem(&mut self, now: Instant) {
        self.netem.handle_input(Input::Timeout(now));
        while let Some(out) = self.netem.poll_output() {
            let Output::Packet(d) = out else { continue };
            let mut release = now + self.jitter_of();
            if self.spec.reorder {
                self.released += 1;
                self.heap.push(Reverse(Due {
                    at: release,
                    order: self.released,
                    datagram: d,
                }));
            } else {
                if let Some(last) = self.last_release {
                    release = release.max(last);
                }
                self.last_release = Some(release);
                self.fifo.push_back((release, d));
            }
        }
    }

    /// The next datagram due by `now`, with its address.
    pub fn poll(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        self.drain_netem(now);
        let d = if self.spec.reorder {
            match self.heap.peek() {
                Some(Reverse(due)) if due.at <= now => self.heap.pop().map(|r| r.0.datagram),
                _ => None,
            }
        } else {
            match self.fifo.front() {
                Some((at, _)) if *at <= now => self.fifo.pop_front().map(|(_, d)| d),
                _ => None,
            }
        }?;
        let original = self.spec.duplicate == 0.0 || self.in_flight.remove(&d.id);
        if original {
            let stats = &mut self.phase_stats[d.phase];
            stats.delivered += 1;
            stats.delay_sum_us += now.saturating_duration_since(d.entered).as_micros() as u64;
        }
        Some((d.addr, d.bytes))
    }

    /// When something will next be due, if anything is inside.
    pub fn next_due(&self) -> Option<Instant> {
        let jittered = if self.spec.reorder {
            self.heap.peek().map(|Reverse(due)| due.at)
        } else {
            self.fifo.front().map(|(at, _)| *at)
        };
        let queued = (!self.netem.is_empty()).then(|| self.netem.poll_timeout());
        match (jittered, queued) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn inside(&self) -> u64 {
        (self.fifo.len() + self.heap.len() + self.netem.queue_len()) as u64
    }

    /// The realised impairment so far, over all phases.
    pub fn realised(&self) -> LinkStats {
        let mut all = LinkStats::default();
        for phase in self.realised_phases() {
            all.add(&phase);
        }
        all
    }

    /// The realised impairment so far, phase by phase: datagrams still inside (counted against
    /// the current phase) are neither lost nor delivered.
    pub fn realised_phases(&self) -> Vec<LinkStats> {
        self.phase_stats
            .iter()
            .enumerate()
            .map(|(k, s)| {
                let inside = if k == self.phase { self.inside() } else { 0 };
                LinkStats {
                    dropped: s.sent.saturating_sub(s.delivered + inside),
                    ..*s
                }
            })
            .collect()
    }
}

/// What both directions of one client's layer did, in all and per phase of a schedule.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Realised {
    /// Towards the client (what it receives).
    pub down: LinkStats,
    /// From the client.
    pub up: LinkStats,
    pub down_phases: Vec<LinkStats>,
    pub up_phases: Vec<LinkStats>,
}

fn add_phases(sum: &mut Vec<LinkStats>, more: &[LinkStats]) {
    if sum.len() < more.len() {
        sum.resize(more.len(), LinkStats::default());
    }
    for (s, m) in sum.iter_mut().zip(more) {
        s.add(m);
    }
}

impl Realised {
    pub fn add(&mut self, other: &Realised) {
        self.down.add(&other.down);
        self.up.add(&other.up);
        add_phases(&mut self.down_phases, &other.down_phases);
        add_phases(&mut self.up_phases, &other.up_phases);
    }
}

/// Where clients add what their layers did: one per group and role.
pub type RealisedSink = std::sync::Arc<std::sync::Mutex<Realised>>;

/// Both directions of one client's socket; a clean direction is left out.
pub struct Impairment {
    pub up: Option<Direction>,
    pub down: Option<Direction>,
    sink: Option<RealisedSink>,
}

impl Impairment {
    /// `None` when both directions are clean.
    pub fn new(down: &ImpairSpec, up: &ImpairSpec, seed: u64, now: Instant) -> Option<Self> {
        let make = |spec: &ImpairSpec, salt: u64| {
            (!spec.is_clean()).then(|| Direction::new(spec.clone(), seed ^ salt, now))
        };
        let (down, up) = (make(down, 0xd0), make(up, 0x09));
        (down.is_some() || up.is_some()).then_some(Self {
            up,
            down,
            sink: None,
        })
    }

    /// Where `finish` adds what the layer did.
    pub fn report_to(mut self, sink: RealisedSink) -> Self {
        self.sink = Some(sink);
        self
    }

    pub fn next_due(&self) -> Option<Instant> {
        let due = |d: &Option<Direction>| d.as_ref().and_then(Direction::next_due);
        match (due(&self.up), due(&self.down)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn realised(&self) -> Realised {
        let of = |d: &Option<Direction>| d.as_ref().map(Direction::realised).unwrap_or_default();
        let phases = |d: &Option<Direction>| {
            d.as_ref()
                .map(Direction::realised_phases)
                .unwrap_or_default()
        };
        Realised {
            down: of(&self.down),
            up: of(&self.up),
            down_phases: phases(&self.down),
            up_phases: phases(&self.up),
        }
    }

    /// Adds the realised impairment to the sink (when the client's task ends).
    pub fn finish(&self) {
        if let Some(sink) = &self.sink {
            if let Ok(mut r) = sink.lock() {
                r.add(&self.realised());
            }
        }
    }
}

#[cfg(test)]
mod tests;
