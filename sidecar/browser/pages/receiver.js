// What every page does with a received video track: render it, read the marker of each frame
// as it is presented (requestVideoFrameCallback), and report samples and the client's own
// counters through window.rtcbenchEmit, which the sidecar exposes.
'use strict';

// A readable message from whatever an SDK threw (an Error, or an object with msg/code).
function describe(e) {
  if (e instanceof Error) return e.message;
  if (e && (e.msg || e.message)) {
    return String(e.msg || e.message) + (e.code !== undefined ? ` (code ${e.code})` : '');
  }
  try {
    return JSON.stringify(e);
  } catch (_) {
    return String(e);
  }
}

// Awaits an SDK call; what it throws becomes an Error with a readable message.
async function sdk(promise) {
  try {
    return await promise;
  } catch (e) {
    throw new Error(describe(e));
  }
}

// A page's missing credentials are the user's to fix, not the vendor's to blame: the sidecar
// passes errors marked "rtcbench config:" on as they are.
function needs(credentials, keys, page) {
  const missing = keys.filter((k) => !credentials[k]);
  if (missing.length) {
    throw new Error(
      `rtcbench config: the ${page} page needs credentials ${missing.join(', ')} (sidecar.credentials_env)`
    );
  }
}

// Counters of a peer connection's inbound video, named as the protocol's `stats` event.
async function inboundVideoStats(pc, track) {
  let out = null;
  (await pc.getStats(track)).forEach((s) => {
    if (s.type !== 'inbound-rtp' || s.kind !== 'video') return;
    out = {
      packets_received: s.packetsReceived,
      packets_lost: s.packetsLost,
      bytes_received: s.bytesReceived,
      jitter_ms: s.jitter !== undefined ? s.jitter * 1000 : undefined,
      frames_decoded: s.framesDecoded,
      frames_dropped: s.framesDropped,
      freeze_count: s.freezeCount,
      total_freezes_duration_ms:
        s.totalFreezesDuration !== undefined ? s.totalFreezesDuration * 1000 : undefined,
      frame_width: s.frameWidth,
      frame_height: s.frameHeight,
    };
  });
  return out;
}

// `readStats`: async () => counters (as inboundVideoStats gives) or null.
function watchVideo(track, readStats) {
  const video = document.createElement('video');
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  document.body.appendChild(video);
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let batch = [];
  let misses = 0;
  let first = true;
  const origin = performance.timeOrigin;
  const onFrame = (now, meta) => {
    const width = meta.width;
    const strip = stripHeight(width);
    if (canvas.width !== width || canvas.height !== strip) {
      canvas.width = width;
      canvas.height = strip;
    }
    ctx.drawImage(video, 0, 0, width, strip, 0, 0, width, strip);
    const marker = readMarker(ctx.getImageData(0, 0, width, strip).data, width);
    const renderedUs = Math.round((origin + meta.presentationTime) * 1000);
    // receiveTime: when the frame's last packet arrived (WebRTC sources): the instant the
    // native client calls a frame complete.
    const receivedUs = meta.receiveTime
      ? Math.round((origin + meta.receiveTime) * 1000)
      : renderedUs;
    if (first) {
      first = false;
      window.rtcbenchEmit({ event: 'first_frame', t_us: renderedUs });
    }
    if (marker) batch.push([marker.frame, marker.captureUs, receivedUs, renderedUs]);
    else misses++;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  video.play().catch(() => {});
  const flush = setInterval(() => {
    if (batch.length) {
      window.rtcbenchEmit({ event: 'frames', samples: batch });
      batch = [];
    }
  }, 100);
  const stats = setInterval(async () => {
    const counters = await readStats().catch(() => null);
    window.rtcbenchEmit({
      event: 'stats',
      t_us: Math.round((origin + performance.now()) * 1000),
      ...(counters || {}),
      marker_misses: misses,
    });
  }, 1000);
  return () => {
    clearInterval(flush);
    clearInterval(stats);
  };
}
