// A minimal WHIP/WHEP front for medooze-media-server, written for rtcbench's tests: one
// publisher per room (WHIP), any number of viewers (WHEP), ICE-lite on one UDP port of
// MEDOOZE_IP, Medooze's own DTLS certificate (RSA-2048 unless MEDOOZE_CERT/MEDOOZE_KEY name one).
//   node front.js            listens on MEDOOZE_IP:MEDOOZE_PORT (127.0.0.1:8089; 0 picks a port,
//                            printed on the first line)
// Test switches, as other servers behave:
//   MEDOOZE_NO_AUDIO=1       viewers get an audio track with nothing on it
// A viewer of a room with no publisher is answered 404, as Medooze's fronts, MediaMTX and SRS do.
"use strict";
const http = require("http");
const crypto = require("crypto");
const MediaServer = require("medooze-media-server");
const { SDPInfo } = require("semantic-sdp");

const IP = process.env.MEDOOZE_IP || "127.0.0.1";
const PORT = Number(process.env.MEDOOZE_PORT || 8089);
const NO_AUDIO = process.env.MEDOOZE_NO_AUDIO === "1";
const MAX_BODY = 64 * 1024;

const CAPABILITIES = {
  audio: {
    codecs: ["opus"],
    extensions: [
      "urn:ietf:params:rtp-hdrext:sdes:mid",
      "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time",
    ],
  },
  video: {
    codecs: ["h264;packetization-mode=1"],
    rtx: true,
    rtcpfbs: [
      { id: "ccm", params: ["fir"] },
      { id: "nack" },
      { id: "nack", params: ["pli"] },
    ],
    extensions: ["urn:ietf:params:rtp-hdrext:sdes:mid"],
  },
};

MediaServer.enableLog(false);
if (process.env.MEDOOZE_CERT && process.env.MEDOOZE_KEY) {
  MediaServer.setCertificate(process.env.MEDOOZE_CERT, process.env.MEDOOZE_KEY);
}
const endpoint = MediaServer.createEndpoint(IP);
// room -> { publisher: session id, audio: IncomingStreamTrack?, video: IncomingStreamTrack? }
const rooms = new Map();
// session id -> { transport, room, publisher }
const sessions = new Map();

function answerFor(transport, offer) {
  const answer = offer.answer({
    dtls: transport.getLocalDTLSInfo(),
    ice: transport.getLocalICEInfo(),
    candidates: endpoint.getLocalCandidates(),
    capabilities: CAPABILITIES,
  });
  transport.setLocalProperties(answer);
  return answer;
}

function publish(room, offer) {
  if (rooms.has(room)) return [409, `room ${room} already has a publisher\n`];
  const transport = endpoint.createTransport(offer);
  transport.setRemoteProperties(offer);
  const answer = answerFor(transport, offer);
  const streams = [...offer.getStreams().values()];
  if (streams.length === 0) {
    transport.stop();
    return [400, "the offer declares no stream (a=msid / a=ssrc)\n"];
  }
  // A browser's (and rtcbench's) tracks may each carry a stream id of their own.
  const incoming = streams.map((info) => transport.createIncomingStream(info));
  const first = (media) => incoming.flatMap((s) => s.getTracks(media))[0];
  const id = crypto.randomUUID();
  sessions.set(id, { transport, room, publisher: true });
  rooms.set(room, { publisher: id, audio: first("audio"), video: first("video") });
  return [201, answer.toString(), `/whip/${room}/${id}`];
}

function play(room, offer) {
  const published = rooms.get(room);
  if (!published) return [404, `nothing is published in room ${room} yet\n`];
  const transport = endpoint.createTransport(offer);
  transport.setRemoteProperties(offer);
  const answer = answerFor(transport, offer);
  const mid = (type) => [...offer.getMedias()].find((m) => m.getType() === type)?.getId();
  // No FEC stream: browsers do not negotiate FlexFEC either.
  const audio = mid("audio") && { mediaId: mid("audio") };
  const video = mid("video") && { mediaId: mid("video"), ssrcs: { media: rnd(), rtx: rnd(), fec: 0 } };
  const outgoing = transport.createOutgoingStream({ audio, video });
  const [audioOut] = outgoing.getAudioTracks();
  const [videoOut] = outgoing.getVideoTracks();
  if (videoOut && published.video) videoOut.attachTo(published.video);
  if (audioOut && published.audio && !NO_AUDIO) audioOut.attachTo(published.audio);
  answer.addStream(outgoing.getStreamInfo());
  const id = crypto.randomUUID();
  sessions.set(id, { transport, room, publisher: false });
  return [201, answer.toString(), `/whep/${room}/${id}`];
}

function rnd() {
  return crypto.randomInt(1, 2 ** 31);
}

function leave(id) {
  const session = sessions.get(id);
  if (!session) return [404, `no session ${id}\n`];
  sessions.delete(id);
  session.transport.stop();
  if (session.publisher) {
    rooms.delete(session.room);
    for (const [other, s] of sessions) {
      if (s.room === session.room) {
        sessions.delete(other);
        s.transport.stop();
      }
    }
  }
  return [200, ""];
}

function route(method, path, body) {
  const parts = path.split("/").filter(Boolean);
  const [kind, room, id] = parts;
  if (method === "GET" && parts.length === 0) return [200, "rtcbench medooze front\n"];
  if (kind !== "whip" && kind !== "whep") return [404, `no route ${path}\n`];
  if (method === "POST" && parts.length === 2) {
    let offer;
    try {
      offer = SDPInfo.parse(body);
    } catch (e) {
      return [400, `the SDP offer does not parse: ${e.message}\n`];
    }
    return kind === "whip" ? publish(room, offer) : play(room, offer);
  }
  if (method === "DELETE" && parts.length === 3) return leave(id);
  // ICE-lite with every candidate in the answer: trickled candidates are not needed.
  if (method === "PATCH" && parts.length === 3) return [204, ""];
  return [405, `${method} ${path} is not served\n`];
}

const server = http.createServer((req, res) => {
  let body = "";
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      res.writeHead(413).end(`a body over ${MAX_BODY} bytes\n`);
      req.destroy();
      return;
    }
    body += chunk;
  });
  req.on("end", () => {
    if (res.writableEnded) return;
    let reply;
    try {
      reply = route(req.method, req.url, body);
    } catch (e) {
      reply = [500, `medooze front: ${e.message}\n`];
    }
    const [status, text, location] = reply;
    const headers = { "Content-Type": status === 201 ? "application/sdp" : "text/plain" };
    if (location) headers.Location = location;
    res.writeHead(status, headers).end(text);
  });
});
server.listen(PORT, IP, () => {
  const { port } = server.address();
  console.log(`medooze front: WHIP http://${IP}:${port}/whip/{room} WHEP http://${IP}:${port}/whep/{room}`);
});
const stop = () => {
  server.close();
  for (const s of sessions.values()) s.transport.stop();
  endpoint.stop();
  MediaServer.terminate();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
