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
