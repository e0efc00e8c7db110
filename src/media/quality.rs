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
    let sse: u64 = reference.y[start..]
        .iter()
        .zip(&test.y[start..])
        .map(|(&a, &b)| {
            let d = a as i64 - b as i64;
            (d * d) as u64
        })
        .sum();
    let n = (reference.y.len() - start) as f64;
    if sse == 0 {
        return Some(PSNR_MAX_DB);
    }
    Some((10.0 * (255.0f64 * 255.0 / (sse as f64 / n)).log10()).min(PSNR_MAX_DB))
}

pub fn ssim_y(reference: &I420Frame, test: &I420Frame, skip_rows: usize) -> Option<f64> {
    const WIN: usize = 8;
    const STEP: usize = 4;
    const C1: f64 = (0.01 * 255.0) * (0.01 * 255.0);
    const C2: f64 = (0.03 * 255.0) * (0.03 * 255.0);
    let (w, h) = (reference.width, reference.height);
    if (w, h) != (test.width, test.height) || skip_rows + WIN > h || w < WIN {
        return None;
    }
    let (mut total, mut windows) = (0.0, 0usize);
    let mut y = skip_rows;
    while y + WIN <= h {
        let mut x = 0;
        while x + WIN <= w {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0u64, 0u64, 0u64, 0u64, 0u64);
            for row in y..y + WIN {
                let ra = &reference.y[row * w + x..row * w + x + WIN];
                let rb = &test.y[row * w + x..row * w + x + WIN];
                for (&a, &b) in ra.iter().zip(rb) {
                    let (a, b) = (a as u64, b as u64);
                    sa += a;
                    sb += b;
                    saa += a * a;
                    sbb += b * b;
                    sab += a * b;
                }
            }
            let n = (WIN * WIN) as f64;
            let (ma, mb) = (sa as f64 / n, sb as f64 / n);
            let va = saa as f64 / n - ma * ma;
            let vb = sbb as f64 / n - mb * mb;
            let cov = sab as f64 / n - ma * mb;
            total += ((2.0 * ma * mb + C1) * (2.0 * cov + C2))
                / ((ma * ma + mb * mb + C1) * (va + vb + C2));
            windows += 1;
            x += STEP;
        }
        y += STEP;
    }
    Some(total / windows as f64)
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

    #[test]
    fn mismatched_sizes_give_no_figure() {
        let a = VideoSource::new(1, 320, 180).frame(0);
        let b = VideoSource::new(1, 160, 180).frame(0);
        assert_eq!(psnr_y(&a, &b, 0), None);
    }
}
