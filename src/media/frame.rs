//! Planar 4:2:0 pictures, the unit every video stage passes around.

/// An I420 picture with tightly packed planes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420Frame {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl I420Frame {
    pub fn new(width: usize, height: usize) -> Self {
        let chroma = (width / 2) * (height / 2);
        Self {
            width,
            height,
            y: vec![0; width * height],
            u: vec![128; chroma],
            v: vec![128; chroma],
        }
    }

    /// Copies a picture whose rows are `stride` bytes apart (as decoders hand them out).
    pub fn from_strided(
        (width, height): (usize, usize),
        (y, u, v): (&[u8], &[u8], &[u8]),
        (y_stride, uv_stride): (usize, usize),
    ) -> Self {
        let mut frame = Self::new(width, height);
        copy_plane(&mut frame.y, y, width, height, y_stride);
        copy_plane(&mut frame.u, u, width / 2, height / 2, uv_stride);
        copy_plane(&mut frame.v, v, width / 2, height / 2, uv_stride);
        frame
    }
}

fn copy_plane(dst: &mut [u8], src: &[u8], width: usize, height: usize, stride: usize) {
    for row in 0..height {
        let from = row * stride;
        if from + width <= src.len() {
            dst[row * width..(row + 1) * width].copy_from_slice(&src[from..from + width]);
        }
    }
}

impl openh264::formats::YUVSource for I420Frame {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }
    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.width / 2, self.width / 2)
    }
    fn y(&self) -> &[u8] {
        &self.y
    }
    fn u(&self) -> &[u8] {
        &self.u
    }
    fn v(&self) -> &[u8] {
        &self.v
    }
}

impl I420Frame {
    /// The picture `factor` times smaller each way, each pixel the mean of the block it
    /// replaces (a box filter, as a camera pipeline's simple scaler). `factor` 1 is a copy.
    pub fn downscaled(&self, factor: usize) -> Self {
        let factor = factor.max(1);
        let (width, height) = (self.width / factor, self.height / factor);
        let mut out = Self::new(width, height);
        box_filter(&self.y, self.width, &mut out.y, width, height, factor);
        let (cw, ch) = (width / 2, height / 2);
        box_filter(&self.u, self.width / 2, &mut out.u, cw, ch, factor);
        box_filter(&self.v, self.width / 2, &mut out.v, cw, ch, factor);
        out
    }
}

fn box_filter(src: &[u8], src_width: usize, dst: &mut [u8], width: usize, height: usize, k: usize) {
    let area = (k * k) as u32;
    for (row, line) in dst.chunks_exact_mut(width.max(1)).take(height).enumerate() {
        for (col, px) in line.iter_mut().enumerate() {
            let mut sum = 0u32;
            for dy in 0..k {
                let start = (row * k + dy) * src_width + col * k;
                sum += src[start..start + k].iter().map(|&p| p as u32).sum::<u32>();
            }
            *px = ((sum + area / 2) / area) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_downscaled_picture_is_the_mean_of_each_block() {
        let mut frame = I420Frame::new(8, 4);
        for (i, p) in frame.y.iter_mut().enumerate() {
            *p = (i % 8) as u8 * 10; // columns 0,10,20,...,70
        }
        frame.u = vec![100, 110, 120, 130, 100, 110, 120, 130];
        let half = frame.downscaled(2);
        assert_eq!((half.width, half.height), (4, 2));
        assert_eq!(half.y, vec![5, 25, 45, 65, 5, 25, 45, 65]);
        assert_eq!(half.u, vec![105, 125]);
        assert_eq!(frame.downscaled(1), frame);
    }
}
