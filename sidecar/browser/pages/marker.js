// Reads rtcbench's pixel marker (src/media/marker.rs) from a decoded frame: 2 rows of 80
// black/white blocks across the top, carrying a sync word, the frame number, the capture time
// (microseconds) and a CRC-32, then a closing sync word. Same rules as the Rust reader: sample
// each block's centre on the luma and compare with the midpoint of the two levels.
'use strict';
const BLOCKS_PER_ROW = 80;
const ROWS = 2;
const SYNC_HEAD = 0xb4c3;
const SYNC_TAIL = 0x4b3c;
const THRESHOLD = (224 + 32) / 2;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function blockSize(width) {
  return Math.max(2, Math.floor(width / BLOCKS_PER_ROW));
}

// Rows of the picture the strip covers, for a picture `width` wide.
function stripHeight(width) {
  return blockSize(width) * ROWS;
}

// `rgba`: the strip's pixels (ImageData.data) for a picture `width` wide.
// Returns {frame, captureUs} or null when the strip is missing or damaged.
function readMarker(rgba, width) {
  const block = blockSize(width);
  if (width < BLOCKS_PER_ROW * block) return null;
  const inset = Math.floor(block / 4);
  const bytes = new Uint8Array(20);
  for (let i = 0; i < BLOCKS_PER_ROW * ROWS; i++) {
    const by = Math.floor(i / BLOCKS_PER_ROW) * block;
    const bx = (i % BLOCKS_PER_ROW) * block;
    let sum = 0;
    let count = 0;
    for (let y = by + inset; y < by + block - inset; y++) {
      for (let x = bx + inset; x < bx + block - inset; x++) {
        const p = (y * width + x) * 4;
        // BT.601 studio-range luma, as the decoder's YUV->RGB conversion inverts it.
        sum += 16 + (65.481 * rgba[p] + 128.553 * rgba[p + 1] + 24.966 * rgba[p + 2]) / 255;
        count++;
      }
    }
    if (sum > THRESHOLD * Math.max(count, 1)) bytes[i >> 3] |= 1 << (7 - (i & 7));
  }
  const view = new DataView(bytes.buffer);
  if (view.getUint16(0) !== SYNC_HEAD || view.getUint16(18) !== SYNC_TAIL) return null;
  if (crc32(bytes.subarray(2, 14)) !== view.getUint32(14)) return null;
  return { frame: view.getUint32(2), captureUs: Number(view.getBigUint64(6)) };
}

// Draws the marker of (frame, captureUs) across the top of a 2D canvas context `width` wide,
// as src/media/marker.rs draws it into the Y plane (levels 224 and 32, grey chroma).
function drawMarker(ctx, width, frame, captureUs) {
  const block = blockSize(width);
  const bytes = new Uint8Array(20);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, SYNC_HEAD);
  view.setUint32(2, frame);
  view.setBigUint64(6, BigInt(captureUs));
  view.setUint32(14, crc32(bytes.subarray(2, 14)));
  view.setUint16(18, SYNC_TAIL);
  // Studio-range Y 224 / 32 as RGB grey.
  const one = Math.round(((224 - 16) * 255) / 219);
  const zero = Math.round(((32 - 16) * 255) / 219);
  ctx.fillStyle = `rgb(${zero},${zero},${zero})`;
  ctx.fillRect(0, 0, width, ROWS * block);
  ctx.fillStyle = `rgb(${one},${one},${one})`;
  for (let i = 0; i < BLOCKS_PER_ROW * ROWS; i++) {
    if ((bytes[i >> 3] >> (7 - (i & 7))) & 1) {
      ctx.fillRect((i % BLOCKS_PER_ROW) * block, Math.floor(i / BLOCKS_PER_ROW) * block, block, block);
    }
  }
}

// A canvas video track for a publishing page: a moving pattern under the marker, frame n at
// n / fps seconds from the start, with its capture time on the host's clock.
function markedCanvasTrack(video) {
  const canvas = document.createElement('canvas');
  canvas.width = video.width;
  canvas.height = video.height;
  const ctx = canvas.getContext('2d');
  const stream = canvas.captureStream(video.fps);
  let frame = 0;
  const draw = () => {
    const t = frame / video.fps;
    const hue = (video.seed * 37 + frame * 3) % 360;
    ctx.fillStyle = `hsl(${hue}, 60%, 45%)`;
    ctx.fillRect(0, 0, video.width, video.height);
    ctx.fillStyle = '#eee';
    const x = ((t * 120) % (video.width + 80)) - 80;
    ctx.fillRect(x, video.height / 3, 80, video.height / 3);
    drawMarker(ctx, video.width, frame, Math.round((performance.timeOrigin + performance.now()) * 1000));
    frame++;
  };
  draw();
  const timer = setInterval(draw, 1000 / video.fps);
  const track = stream.getVideoTracks()[0];
  track.addEventListener('ended', () => clearInterval(timer));
  return track;
}

if (typeof module !== 'undefined') {
  module.exports = { readMarker, stripHeight, crc32, drawMarker };
}
