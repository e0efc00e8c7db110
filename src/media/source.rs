//! Deterministic synthetic sources. Frame `n` of the video is a pure function of `(seed, n)`, so
//! a receiver can regenerate the exact reference picture for full-reference quality metrics
//! without any video being stored or sent out of band.

use super::frame::I420Frame;
use crate::base::rng::mix64;
use std::f64::consts::TAU;
use std::sync::Arc;

const TILE: usize = 1024;

/// A wrapping texture of smooth value noise in several octaves: detail at several scales, like
/// a real scene, but compressible when it moves because it moves by whole pixels.
fn noise_tile(seed: u64, size: usize, octaves: &[(usize, f64)], base: f64) -> Vec<u8> {
    let mut acc = vec![base; size * size];
    for (octave, &(cell, amplitude)) in octaves.iter().enumerate() {
        let cells = size / cell;
        let lattice: Vec<f64> = (0..cells * cells)
            .map(|i| {
                let h = mix64(seed ^ mix64((octave as u64) << 40 | i as u64));
                (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect();
        let smooth = |t: f64| t * t * (3.0 - 2.0 * t);
        for y in 0..size {
            let (cy, fy) = (y / cell, smooth((y % cell) as f64 / cell as f64));
            let (y0, y1) = (cy % cells, (cy + 1) % cells);
            for x in 0..size {
                let (cx, fx) = (x / cell, smooth((x % cell) as f64 / cell as f64));
                let (x0, x1) = (cx % cells, (cx + 1) % cells);
                let top = lattice[y0 * cells + x0] * (1.0 - fx) + lattice[y0 * cells + x1] * fx;
                let bottom = lattice[y1 * cells + x0] * (1.0 - fx) + lattice[y1 * cells + x1] * fx;
                acc[y * size + x] += amplitude * (top * (1.0 - fy) + bottom * fy);
            }
        }
    }
    acc.into_iter()
        .map(|v| v.clamp(16.0, 235.0) as u8)
        .collect()
}

#[derive(Debug)]
struct Textures {
    luma: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
}

/// Bilinear sampling of a wrapping square texture at a fractional offset (8-bit fixed point).
fn sample_plane(tile: &[u8], size: usize, ox: f64, oy: f64, out: &mut [u8], w: usize, h: usize) {
    let mask = size - 1;
    let (ix, iy) = (ox.floor() as usize, oy.floor() as usize);
    let fx = ((ox - ox.floor()) * 256.0) as u32;
    let fy = ((oy - oy.floor()) * 256.0) as u32;
    for y in 0..h {
        let r0 = ((y + iy) & mask) * size;
        let r1 = ((y + iy + 1) & mask) * size;
        let dst = &mut out[y * w..(y + 1) * w];
        for (x, px) in dst.iter_mut().enumerate() {
            let (c0, c1) = ((x + ix) & mask, (x + ix + 1) & mask);
            let top = tile[r0 + c0] as u32 * (256 - fx) + tile[r0 + c1] as u32 * fx;
            let bottom = tile[r1 + c0] as u32 * (256 - fx) + tile[r1 + c1] as u32 * fx;
            *px = ((top * (256 - fy) + bottom * fy + (1 << 15)) >> 16) as u8;
        }
    }
}

/// The synthetic camera: a panning textured background with a moving checkered object.
#[derive(Debug, Clone)]
pub struct VideoSource {
    seed: u64,
    width: usize,
    height: usize,
    textures: Arc<Textures>,
}

impl VideoSource {
    pub fn new(seed: u64, width: usize, height: usize) -> Self {
        let octaves = [(128, 64.0), (32, 34.0), (8, 20.0), (4, 12.0)];
        let chroma_octaves = [(64, 40.0), (16, 12.0)];
        let textures = Textures {
            luma: noise_tile(seed, TILE, &octaves, 126.0),
            cb: noise_tile(seed ^ 0xC0FFEE, TILE / 2, &chroma_octaves, 128.0),
            cr: noise_tile(seed ^ 0xBADC0DE, TILE / 2, &chroma_octaves, 128.0),
        };
        Self {
            seed,
            width,
            height,
            textures: Arc::new(textures),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Frame `n`: the same pixels for the same `(seed, n)` on every machine.
    pub fn frame(&self, n: u64) -> I420Frame {
        let mut f = I420Frame::new(self.width, self.height);
        self.render_into(n, &mut f);
        f
    }

    pub fn render_into(&self, n: u64, f: &mut I420Frame) {
        let (w, h) = (self.width, self.height);
        // Pan by a fraction of a pixel per frame, as a hand-held camera would: the encoder must
        // interpolate, not just copy blocks.
        let ox = n as f64 * 2.37;
        let oy = n as f64 * 1.13;
        let t = &self.textures;
        sample_plane(&t.luma, TILE, ox, oy, &mut f.y, w, h);
        sample_plane(&t.cb, TILE / 2, ox / 2.0, oy / 2.0, &mut f.u, w / 2, h / 2);
        sample_plane(&t.cr, TILE / 2, ox / 2.0, oy / 2.0, &mut f.v, w / 2, h / 2);
        self.draw_object(n, f);
        self.draw_ticker(n, f);
    }

    /// A fast-scrolling band of high-contrast glyph-like blocks, like a price ticker overlay.
    fn draw_ticker(&self, n: u64, f: &mut I420Frame) {
        let (w, h) = (self.width, self.height);
        let glyph_w = (w / 64).max(3);
        let band = (h / 9).max(8) & !1;
        let top = (h - band - h / 12) & !1;
        let scroll = n as usize * (glyph_w * 3 / 2).max(2);
        let rows = 5;
        let cell_h = (band / rows).max(1);
        for y in top..top + band {
            let row = (y - top) / cell_h;
            for x in 0..w {
                let col = (x + scroll) / glyph_w;
                let on = mix64(self.seed ^ (col as u64 * 8 + row as u64)) & 3 == 0;
                f.y[y * w + x] = if on { 230 } else { 30 };
            }
        }
        let cw = w / 2;
        for y in top / 2..(top + band) / 2 {
            f.u[y * cw..(y + 1) * cw].fill(128);
            f.v[y * cw..(y + 1) * cw].fill(128);
        }
    }

    /// A checkered square on a Lissajous path: local motion the encoder must code.
    fn draw_object(&self, n: u64, f: &mut I420Frame) {
        let (w, h) = (self.width as f64, self.height as f64);
        let size = ((w.min(h) * 0.25) as usize) & !1;
        let phase = (self.seed % 97) as f64;
        let cx = w / 2.0 + 0.32 * w * (TAU * (n as f64 + phase) / 150.0).sin();
        let cy = h / 2.0 + 0.25 * h * (TAU * (n as f64 + phase) / 97.0).sin();
        let x0 = ((cx as usize).saturating_sub(size / 2)) & !1;
        let y0 = ((cy as usize).saturating_sub(size / 2)) & !1;
        let square = (size / 6).max(2);
        for y in y0..(y0 + size).min(self.height) {
            for x in x0..(x0 + size).min(self.width) {
                let dark = ((x - x0) / square + (y - y0) / square) % 2 == 0;
                f.y[y * self.width + x] = if dark { 40 } else { 210 };
            }
        }
        let cw = self.width / 2;
        for y in y0 / 2..((y0 + size) / 2).min(self.height / 2) {
            for x in x0 / 2..((x0 + size) / 2).min(cw) {
                f.u[y * cw + x] = 90;
                f.v[y * cw + x] = 170;
            }
        }
    }
}

/// The synthetic microphone: two tones with a slow tremolo, 48 kHz mono.
#[derive(Debug, Clone)]
pub struct AudioSource {
    seed: u64,
}

pub const AUDIO_RATE: u32 = 48_000;
pub const AUDIO_FRAME_SAMPLES: usize = 960; // 20 ms

impl AudioSource {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The 20 ms frame `n` as 16-bit samples.
    pub fn frame(&self, n: u64) -> Vec<i16> {
        let base = 220.0 + (self.seed % 200) as f64;
        (0..AUDIO_FRAME_SAMPLES)
            .map(|i| {
                let t = (n * AUDIO_FRAME_SAMPLES as u64 + i as u64) as f64 / AUDIO_RATE as f64;
                let tremolo = 0.6 + 0.4 * (TAU * 0.5 * t).sin();
                let s = 0.5 * (TAU * base * t).sin() + 0.3 * (TAU * base * 2.5 * t).sin();
                (s * tremolo * 12_000.0) as i16
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_pure_functions_of_seed_and_index() {
        let a = VideoSource::new(7, 320, 180);
        let b = VideoSource::new(7, 320, 180);
        assert_eq!(a.frame(42), b.frame(42));
        assert_ne!(a.frame(42), a.frame(43), "the picture must move");
        assert_ne!(a.frame(42), VideoSource::new(8, 320, 180).frame(42));
    }

    #[test]
    fn frames_have_texture() {
        let f = VideoSource::new(1, 320, 180).frame(0);
        let mean = f.y.iter().map(|&v| v as f64).sum::<f64>() / f.y.len() as f64;
        let var = f.y.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / f.y.len() as f64;
        assert!(var.sqrt() > 15.0, "luma std dev {} too flat", var.sqrt());
    }
}
