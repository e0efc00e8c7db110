"""Publishes a clip over WHIP with aiortc, to check rtcbench against an independent WebRTC stack.

The clip comes from `rtcbench export-clip`, so rtcbench's probes can score what they receive.
Audio is aiortc's silence track, enough to carry Opus through the server.
"""

import argparse
import asyncio
import sys
import urllib.parse

import aioice.ice
import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import AudioStreamTrack

# aioice leaves 127.0.0.1 out of its host candidates; these tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--whip", required=True, help="WHIP endpoint URL")
    parser.add_argument("--clip", required=True, help="a .y4m clip at least --seconds long (aiortc stops pacing when it loops)")
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    player = MediaPlayer(args.clip)
    pc.addTransceiver(player.video, direction="sendonly")
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    async with aiohttp.ClientSession() as http:
        async with http.post(
            args.whip,
            data=pc.localDescription.sdp,
            headers={"Content-Type": "application/sdp"},
        ) as response:
            body = await response.text()
            if response.status != 201:
                print(f"WHIP answered {response.status}: {body}", file=sys.stderr)
                sys.exit(1)
            resource = urllib.parse.urljoin(args.whip, response.headers["Location"])
        await pc.setRemoteDescription(RTCSessionDescription(sdp=body, type="answer"))
        print("publishing", flush=True)
        await asyncio.sleep(args.seconds)
        async with http.delete(resource):
            pass
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
