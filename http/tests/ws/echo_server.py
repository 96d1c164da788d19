# A WebSocket echo server in Python's `websockets` (a peer Keel did not write), for the
# Keel client's test in http/tests/websocket.rs. Prints its port, then echoes; it offers
# the `echo.v1` subprotocol; exits after 30 s or when stdin closes.
import asyncio, sys

import websockets


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, subprotocols=["echo.v1"]) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.read), 30)


try:
    asyncio.run(main())
except asyncio.TimeoutError:
    pass
