//! Full-reference picture quality on the luma plane: PSNR, and SSIM over 8×8 windows with a
//! stride of 4 (the "fast SSIM" of libvpx and x264), skipping the marker strip.

use super::frame::I420Frame;

/// PSNR is capped here for identical pictures, as ffmpeg and libvmaf do.
pub const PSNR_MAX_DB: f64 = 100.0;

pub fn psnr_y(reference: &I420Frame, test: &I420Frame, skip_rows: usize) -> Option<f64> {
    if (reference.width, reference.height) != (test.width, test.height)
        || skip_rows >= reference.height
    {
        return None;
    }
    let start = skip_rows * reference.width;
    // Row by row in u32 (a row of 65,000 samples cannot overflow it), which vectorises.
    let row_sse = |(a, b): (&[u8], &[u8])| {
        a.iter()
            .zip(b)
            .map(|(&a, &b)| (a as i32 - b as i32).unsigned_abs().pow(2))
            .sum::<u32>() as u64
    };
    let width = reference.width.max(1);
    let sse: u64 = reference.y[start..]
        .chunks(width)
        .zip(test.y[start..].chunks(width))
        .map(row_sse)
        .sum();
    let n = (reference.y.len() - start) as f64;
    if sse == 0 {
        return Some(PSNR_MAX_DB);
    }
    Some((10.0 * (255.0f64 * 255.0 / (sse as f64 / n)).log10()).min(PSNR_MAX_DB))
}

pub fn ssim_y(reference: &I420Frame, test: &I420Frame, skip_rows: usize) -> Option<f64> {
    const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
    const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);
    let (w, h) = (reference.width, reference.height);
    if (w, h) != (test.width, test.height) || skip_rows + WINDOW > h || w < WINDOW {
        return None;
    }
    // Each 8x8 window at a stride of 4 is four 4x4 blocks, and each block is in four windows:
    // summing blocks once and windows from them gives the same sums for a quarter of the work.
    let blocks_across = w / BLOCK;
    let block_rows = (h - skip_rows) / BLOCK;
    let mut above = vec![BlockSums::default(); blocks_across];
    let mut below = vec![BlockSums::default(); blocks_across];
    let mut columns = ColumnSums::default();
    block_row(reference, test, skip_rows, &mut columns, &mut above);
    let (mut total, mut windows) = (0.0, 0usize);
    for row in 1..block_rows {
        block_row(
            reference,
            test,
            skip_rows + row * BLOCK,
            &mut columns,
            &mut below,
        );
        for x in 0..blocks_across - 1 {
            let s = above[x]
                .plus(above[x + 1])
                .plus(below[x])
                .plus(below[x + 1]);
            // 1/64 is exact in binary: multiplying by it is dividing by 64, to the bit.
            let per = 1.0 / (WINDOW * WINDOW) as f64;
            let (ma, mb) = (s.a as f64 * per, s.b as f64 * per);
            let va = s.aa as f64 * per - ma * ma;
            let vb = s.bb as f64 * per - mb * mb;
            let cov = s.ab as f64 * per - ma * mb;
            total += ((2.0 * ma * mb + C1) * (2.0 * cov + C2))
                / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            windows += 1;
        }
        std::mem::swap(&mut above, &mut below);
    }
    Some(total / windows as f64)
}

const WINDOW: usize = 8;
const BLOCK: usize = 4;

/// Sums over one 4x4 block of both pictures (an 8x8 window's fit in u32: 64 * 255^2 < 2^32).
#[derive(Debug, Clone, Copy, Default)]
struct BlockSums {
    a: u32,
    b: u32,
    aa: u32,
    bb: u32,
    ab: u32,
}

impl BlockSums {
    fn plus(self, o: Self) -> Self {
        Self {
            a: self.a + o.a,
            b: self.b + o.b,
            aa: self.aa + o.aa,
            bb: self.bb + o.bb,
            ab: self.ab + o.ab,
        }
    }
}

/// The block sums of the four rows from `top`, one per 4 columns: first each column's sums
/// down the four rows (plain element-wise loops the compiler vectorises), then across.
fn block_row(
    reference: &I420Frame,
    test: &I420Frame,
    top: usize,
    columns: &mut ColumnSums,
    out: &mut [BlockSums],
) {
    let w = reference.width;
    columns.clear(w);
    let ColumnSums { a, b, aa, bb, ab } = columns;
    // Every slice cut to `w`, so the loop has no bounds checks in the way of vectorising.
    let (a, b, aa, bb, ab) = (
        &mut a[..w],
        &mut b[..w],
        &mut aa[..w],
        &mut bb[..w],
        &mut ab[..w],
    );
    for row in top..top + BLOCK {
        let ra = &reference.y[row * w..(row + 1) * w];
        let rb = &test.y[row * w..(row + 1) * w];
        for i in 0..w {
            let (p, q) = (ra[i] as u32, rb[i] as u32);
            a[i] += p;
            b[i] += q;
            aa[i] += p * p;
            bb[i] += q * q;
            ab[i] += p * q;
        }
    }
    let sum4 = |v: &[u32], x: usize| v[x * BLOCK..(x + 1) * BLOCK].iter().sum::<u32>();
    for (x, sums) in out.iter_mut().enumerate() {
        *sums = BlockSums {
            a: sum4(a, x),
            b: sum4(b, x),
            aa: sum4(aa, x),
            bb: sum4(bb, x),
            ab: sum4(ab, x),
        };
    }
}

/// Per-column sums over a block's rows.
#[derive(Default)]
struct ColumnSums {
    a: Vec<u32>,
    b: Vec<u32>,
    aa: Vec<u32>,
    bb: Vec<u32>,
    ab: Vec<u32>,
}

impl ColumnSums {
    fn clear(&mut self, width: usize) {
        for v in [
            &mut self.a,
            &mut self.b,
            &mut self.aa,
            &mut self.bb,
            &mut self.ab,
        ] {
            v.clear();
            v.resize(width, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::source::VideoSource;

    #[test]
    fn identical_pictures_score_perfectly() {
        let f = VideoSource::new(1, 320, 180).frame(3);
        assert_eq!(psnr_y(&f, &f, 0), Some(PSNR_MAX_DB));
        assert!((ssim_y(&f, &f, 0).unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn psnr_matches_a_known_uniform_error() {
        let f = VideoSource::new(1, 320, 180).frame(3);
        let mut g = f.clone();
        // An error of exactly 5 on every sample where it cannot clip: MSE 25.
        for (a, b) in g.y.iter_mut().zip(&f.y) {
            *a = if *b < 128 { b + 5 } else { b - 5 };
        }
        let expected = 10.0 * (255.0f64 * 255.0 / 25.0).log10();
        assert!((psnr_y(&f, &g, 0).unwrap() - expected).abs() < 1e-9);
        assert!(ssim_y(&f, &g, 0).unwrap() < 1.0);
    }

    /// The 8x8-window, stride-4 SSIM computed window by window, as defined.
    fn ssim_by_windows(a: &I420Frame, b: &I420Frame, skip: usize) -> f64 {
        const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
        const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);
        let (w, h) = (a.width, a.height);
        let (mut total, mut windows) = (0.0, 0usize);
        for y in (skip..=h - 8).step_by(4) {
            for x in (0..=w - 8).step_by(4) {
                let mut s = [0u64; 5];
                for row in y..y + 8 {
                    for col in x..x + 8 {
                        let (p, q) = (a.y[row * w + col] as u64, b.y[row * w + col] as u64);
                        s[0] += p;
                        s[1] += q;
                        s[2] += p * p;
                        s[3] += q * q;
                        s[4] += p * q;
                    }
                }
                let (ma, mb) = (s[0] as f64 / 64.0, s[1] as f64 / 64.0);
                let va = s[2] as f64 / 64.0 - ma * ma;
                let vb = s[3] as f64 / 64.0 - mb * mb;
                let cov = s[4] as f64 / 64.0 - ma * mb;
                total += ((2.0 * ma * mb + C1) * (2.0 * cov + C2))
                    / ((ma * ma + mb * mb + C1) * (va + vb + C2));
                windows += 1;
            }
        }
        total / windows as f64
    }

    #[test]
    fn block_sums_give_the_windowed_definition_exactly() {
        // Sizes that are and are not multiples of 4, with and without a skipped strip.
        for (w, h, skip) in [(320, 180, 0), (322, 183, 6), (64, 16, 8), (17, 9, 1)] {
            let a = VideoSource::new(1, w, h).frame(3);
            let mut b = VideoSource::new(1, w, h).frame(4);
            b.y[w * (h / 2) + 5] = 255;
            let fast = ssim_y(&a, &b, skip).unwrap();
            assert_eq!(fast, ssim_by_windows(&a, &b, skip), "{w}x{h} skip {skip}");
        }
    }

    #[test]
    fn mismatched_sizes_give_no_figure() {
        let a = VideoSource::new(1, 320, 180).frame(0);
        let b = VideoSource::new(1, 160, 180).frame(0);
        assert_eq!(psnr_y(&a, &b, 0), None);
    }
}
