# Python `websockets` (a client Keel did not write) against http/tests/websocket.rs's
# server: prints one JSON object of what it saw. Usage: app.py ws://host:port [wss-port]
import asyncio, json, ssl, sys

import websockets
from websockets.exceptions import ConnectionClosed

base = sys.argv[1]
out = {}


async def closed_code(ws):
    """Waits for the server to close; the code it sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    except ConnectionClosed as e:
        return e.rcvd.code if e.rcvd else None


async def main():
    async with websockets.connect(base + "/echo") as ws:
        await ws.send("hello")
        out["text"] = await ws.recv()
        await ws.send(b"\x00\x01\xff")
        out["binary"] = list(await ws.recv())
        # A fragmented message: three frames, reassembled by the server.
        await ws.send(["frag", "men", "ted"])
        out["fragmented"] = await ws.recv()
        big = "x" * 200_000
        await ws.send(big)
        out["big_ok"] = (await ws.recv()) == big
        pong = await ws.ping(b"are you there")
        await asyncio.wait_for(pong, 5)
        out["pong"] = True
        await ws.close(1000, "done")
        out["close_code"] = ws.close_code
    async with websockets.connect(base + "/proto", subprotocols=["chat.v2", "chat.v1"]) as ws:
        out["subprotocol"] = ws.subprotocol
        out["proto_text"] = await ws.recv()
    async with websockets.connect(base + "/small", max_size=None) as ws:
        await ws.send("y" * 2048)
        out["too_big_code"] = await closed_code(ws)
    async with websockets.connect(base + "/close") as ws:
        out["server_close_code"] = await closed_code(ws)
        out["server_close_reason"] = ws.close_reason
    async with websockets.connect(base + "/panic") as ws:
        out["panic_code"] = await closed_code(ws)
    if len(sys.argv) > 2:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        async with websockets.connect("wss://127.0.0.1:%s/echo" % sys.argv[2], ssl=ctx) as ws:
            await ws.send("over tls")
            out["tls_text"] = await ws.recv()
            await ws.close()
            out["tls_close_code"] = ws.close_code


asyncio.run(asyncio.wait_for(main(), 30))
print(json.dumps(out))
