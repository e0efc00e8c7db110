"""A WHIP/WHEP endpoint built on aiortc, to check rtcbench against an independent WebRTC stack.

POST /whip/{room} publishes into a room, POST /whep/{room} plays it (aiortc decodes what it
receives and encodes it again for each viewer), DELETE on the Location ends a session, and
GET /stats tells how many frames aiortc decoded per room. Prints its URL once listening.
"""

import argparse
import asyncio
import uuid

import aioice.ice
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

# aioice leaves 127.0.0.1 out of its host candidates; these tests run on loopback only.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

WAIT_FOR_PUBLISHER_S = 10


class Room:
    def __init__(self):
        self.tracks = {}
        self.live = asyncio.Event()
        self.frames = {"audio": 0, "video": 0}


rooms = {}
sessions = {}
relay = MediaRelay()


def peer():
    # No STUN server: there is no network beyond loopback here.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def answer(pc, offer, tracks=()):
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    for track in tracks:
        pc.addTrack(track)
    await pc.setLocalDescription(await pc.createAnswer())
    sid = uuid.uuid4().hex
    sessions[sid] = pc
    return web.Response(
        status=201,
        text=pc.localDescription.sdp,
        content_type="application/sdp",
        headers={"Location": f"/resource/{sid}"},
    )


async def count_frames(room, track):
    reader = relay.subscribe(track)
    try:
        while True:
            await reader.recv()
            room.frames[track.kind] += 1
    except Exception:
        pass


async def whip(request):
    name = request.match_info["room"]
    room = rooms.setdefault(name, Room())
    pc = peer()

    @pc.on("track")
    def on_track(track):
        room.tracks[track.kind] = track
        asyncio.ensure_future(count_frames(room, track))
        if track.kind == "video":
            room.live.set()

    return await answer(pc, await request.text())


async def whep(request):
    name = request.match_info["room"]
    room = rooms.setdefault(name, Room())
    offer = await request.text()
    try:
        await asyncio.wait_for(room.live.wait(), WAIT_FOR_PUBLISHER_S)
    except asyncio.TimeoutError:
        return web.Response(status=404, text=f"nobody is publishing in {name}")
    tracks = [relay.subscribe(track) for track in room.tracks.values()]
    return await answer(peer(), offer, tracks)


async def leave(request):
    pc = sessions.pop(request.match_info["sid"], None)
    if pc is None:
        return web.Response(status=404)
    await pc.close()
    return web.Response(status=200)


async def stats(request):
    return web.json_response({name: room.frames for name, room in rooms.items()})


async def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_post("/whip/{room}", whip)
    app.router.add_post("/whep/{room}", whep)
    app.router.add_delete("/resource/{sid}", leave)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"http://{args.host}:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
