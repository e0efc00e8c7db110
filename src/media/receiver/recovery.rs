//! Recovery from faults: how long after a fault ends the picture moves again, timed from the
//! fault's end to the first frame rendered at or after it, for sessions that were watching
//! when it began.

use crate::base::Micros;
pub use crate::record::Reconnects;

impl Reconnects {
    pub fn add(&mut self, other: &Reconnects) {
        self.drops += other.drops;
        self.rejoins += other.rejoins;
        self.rejoin_failures += other.rejoin_failures;
    }
}

#[derive(Debug, Clone, Default)]
pub struct RecoveryWatch {
    /// Fault windows that have not begun by the last rendered frame.
    upcoming: Vec<(Micros, Micros)>,
    /// Ends of faults that began while this session was watching, waiting for a frame.
    pending: Vec<Micros>,
    last_render: Option<Micros>,
}

impl RecoveryWatch {
    /// Watches for the ends of these windows (on the run's clock).
    pub fn new(mut windows: Vec<(Micros, Micros)>) -> Self {
        windows.sort_unstable();
        Self {
            upcoming: windows,
            ..Self::default()
        }
    }

    /// A frame was rendered at `at`; returns the recoveries (in µs) it completes.
    pub fn on_render(&mut self, at: Micros) -> Vec<u64> {
        let before = self.last_render.replace(at);
        while let Some(&(start, end)) = self.upcoming.first().filter(|(start, _)| *start <= at) {
            self.upcoming.remove(0);
            if before.is_some_and(|b| b < start) {
                self.pending.push(end);
            }
        }
        let mut done = Vec::new();
        self.pending.retain(|&end| {
            let over = end <= at;
            if over {
                done.push(at - end);
            }
            !over
        });
        done
    }

    /// Faults this session watched begin and outlived without a frame after their end.
    pub fn unrecovered(&self, session_end: Micros) -> u64 {
        let pending = self.pending.iter().filter(|&&end| end <= session_end);
        let unseen = self.upcoming.iter().filter(|&&(start, end)| {
            self.last_render.is_some_and(|last| last < start) && end <= session_end
        });
        (pending.count() + unseen.count()) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(w: &mut RecoveryWatch, from: Micros, to: Micros) -> Vec<u64> {
        (from..to)
            .step_by(33_333)
            .flat_map(|t| w.on_render(t))
            .collect()
    }

    #[test]
    fn recovery_is_timed_from_the_end_of_a_fault_the_session_watched() {
        let mut w = RecoveryWatch::new(vec![(4_000_000, 7_000_000), (1_000_000, 2_000_000)]);
        assert!(frames(&mut w, 0, 1_000_000).is_empty());
        // Frozen through the first fault; back 250 ms after it ends.
        assert_eq!(frames(&mut w, 2_250_000, 4_000_000), vec![250_000]);
        assert_eq!(w.unrecovered(4_000_000), 0);
        // The second is still unrecovered when the session ends 1 s after it.
        assert_eq!(w.unrecovered(8_000_000), 1);
        assert_eq!(frames(&mut w, 7_400_000, 7_500_000), vec![400_000]);
        assert_eq!(w.unrecovered(8_000_000), 0);
    }

    #[test]
    fn a_frame_on_time_after_the_end_counts_its_wait() {
        let mut w = RecoveryWatch::new(vec![(1_000_000, 2_000_000)]);
        w.on_render(900_000);
        assert_eq!(w.on_render(2_120_000), vec![120_000]);
    }

    #[test]
    fn a_session_that_joined_during_a_fault_has_nothing_to_recover() {
        let mut w = RecoveryWatch::new(vec![(1_000_000, 2_000_000)]);
        assert!(frames(&mut w, 1_500_000, 3_000_000).is_empty());
        assert_eq!(w.unrecovered(3_000_000), 0);
    }
}
