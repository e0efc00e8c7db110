"""Watches a WHEP stream with N aiortc viewers in one process, decoding every video frame (as a
viewer that shows the picture must), for scripts/peer-bench.sh. Prints one line of JSON: the
viewers that got video, and the frames they decoded.
"""

import argparse
import asyncio
import json
import time

import aioice.ice
import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

# aioice leaves 127.0.0.1 out of its host candidates; the bench runs on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


async def consume(track, counts, kind):
    while True:
        try:
            await track.recv()
        except Exception:
            return
        counts[kind] += 1


async def viewer(session, whep, until, totals):
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    counts = {"audio": 0, "video": 0}
    tasks = []

    @pc.on("track")
    def on_track(track):
        tasks.append(asyncio.ensure_future(consume(track, counts, track.kind)))

    await pc.setLocalDescription(await pc.createOffer())
    async with session.post(
        whep,
        data=pc.localDescription.sdp,
        headers={"Content-Type": "application/sdp"},
    ) as response:
        if response.status != 201:
            raise SystemExit(f"WHEP {whep}: {response.status} {await response.text()}")
        answer = await response.text()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    for task in tasks:
        task.cancel()
    await pc.close()
    totals.append(counts)


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--whep", required=True, help="WHEP endpoint URL")
    parser.add_argument("--viewers", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--stagger", type=float, default=0.02, help="seconds between joins")
    args = parser.parse_args()
    until = time.monotonic() + args.seconds
    totals = []
    async with aiohttp.ClientSession() as session:
        joins = []
        for _ in range(args.viewers):
            joins.append(asyncio.ensure_future(viewer(session, args.whep, until, totals)))
            await asyncio.sleep(args.stagger)
        await asyncio.gather(*joins)
    watched = sum(1 for c in totals if c["video"] > 0)
    frames = sum(c["video"] for c in totals)
    print(json.dumps({"viewers": args.viewers, "with_video": watched, "video_frames": frames}))


if __name__ == "__main__":
    asyncio.run(main())
