//! Reference pictures shared by every quality probe in the process. Probes of one run score the
//! same frames of the same source at about the same time: each frame is rendered once, not once
//! per probe (rendering was half of a probe's cost).

use crate::media::frame::I420Frame;
use crate::media::source::VideoSource;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// The newest frames are kept: about a second at 30 fps, as far as live probes drift apart. A
/// probe further behind renders its own, and memory stays flat once the window is full.
const MAX_FRAMES: usize = 32;
/// What the shared frames may hold at most: 32 frames of 1080p, 13 of 4K.
const CACHE_BYTES: usize = 64 << 20;
/// Kept whatever their size, so probes a few frames apart still share.
const MIN_FRAMES: usize = 8;

/// (seed, width, height, frame number).
type Key = (u64, usize, usize, u64);

/// Recently rendered reference frames, oldest first, within a byte budget.
struct ReferenceCache {
    frames: Mutex<VecDeque<(Key, Arc<I420Frame>)>>,
    budget_bytes: usize,
}

static SHARED: ReferenceCache = ReferenceCache::new(CACHE_BYTES);

/// Frame `n` of `source` scaled down by `scale` (a simulcast layer's), rendered by whichever
/// probe asked first.
pub fn reference_frame(source: &VideoSource, n: u64, scale: usize) -> Arc<I420Frame> {
    SHARED.frame(source, n, scale)
}

impl ReferenceCache {
    const fn new(budget_bytes: usize) -> Self {
        Self {
            frames: Mutex::new(VecDeque::new()),
            budget_bytes,
        }
    }

    fn frame(&self, source: &VideoSource, n: u64, scale: usize) -> Arc<I420Frame> {
        let scale = scale.max(1);
        let (width, height) = source.dimensions();
        let key = (source.seed(), width / scale, height / scale, n);
        if let Some(frame) = self.lookup(&key) {
            return frame;
        }
        // Rendered outside the lock; two probes racing both render, and one copy is kept.
        let frame = match scale {
            1 => Arc::new(source.frame(n)),
            _ => Arc::new(source.frame(n).downscaled(scale)),
        };
        let Ok(mut frames) = self.frames.lock() else {
            return frame;
        };
        if let Some((_, kept)) = frames.iter().find(|(k, _)| *k == key) {
            return kept.clone();
        }
        let frame_bytes = frame.y.len() + frame.u.len() + frame.v.len();
        let capacity = (self.budget_bytes / frame_bytes.max(1)).clamp(MIN_FRAMES, MAX_FRAMES);
        while frames.len() >= capacity {
            frames.pop_front();
        }
        frames.push_back((key, frame.clone()));
        frame
    }

    fn lookup(&self, key: &Key) -> Option<Arc<I420Frame>> {
        let frames = self.frames.lock().ok()?;
        // Newest first: probes mostly ask for the frame just rendered.
        frames
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, f)| f.clone())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.frames.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_frame_is_the_sources_frame_and_is_rendered_once() {
        let cache = ReferenceCache::new(CACHE_BYTES);
        let source = VideoSource::new(5, 96, 64);
        let first = cache.frame(&source, 7, 1);
        assert_eq!(*first, source.frame(7));
        let again = cache.frame(&VideoSource::new(5, 96, 64), 7, 1);
        assert!(Arc::ptr_eq(&first, &again));
        let other = cache.frame(&source, 8, 1);
        assert_eq!(*other, source.frame(8));
        let other_seed = cache.frame(&VideoSource::new(6, 96, 64), 7, 1);
        assert_ne!(*other_seed, *first);
        let half = cache.frame(&source, 7, 2);
        assert_eq!(*half, source.frame(7).downscaled(2));
    }

    #[test]
    fn old_frames_give_way_within_the_budget() {
        let frame_bytes = 96 * 64 * 3 / 2;
        let cache = ReferenceCache::new(10 * frame_bytes);
        let source = VideoSource::new(5, 96, 64);
        let first = cache.frame(&source, 0, 1);
        for n in 1..=10 {
            cache.frame(&source, n, 1);
        }
        assert_eq!(cache.len(), 10);
        let again = cache.frame(&source, 0, 1);
        assert!(
            !Arc::ptr_eq(&first, &again),
            "frame 0 should have been evicted"
        );
        assert_eq!(*again, *first);
        // However large the frames, a few are kept; however small, no more than a window.
        let tiny = ReferenceCache::new(1);
        let roomy = ReferenceCache::new(CACHE_BYTES);
        for n in 0..100 {
            tiny.frame(&source, n, 1);
            roomy.frame(&source, n, 1);
        }
        assert_eq!(tiny.len(), MIN_FRAMES);
        assert_eq!(roomy.len(), MAX_FRAMES);
    }
}
