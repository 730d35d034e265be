"""The floor under every ack figure: a bare aiohttp server that answers each POST with an empty
200 and does nothing else (no signature, no parsing, no Bolt, no work after).

`bench/run.py` sends it the same pre-signed bursts it sends the bot, over connections opened
beforehand, so the difference between the two is what the bot itself costs, and this server's
own figure is the least any single-process aiohttp bot could reach on the same machine. Run as
`python bench/floor.py`: prints its URL, then serves until killed.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot import heap


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=200)


async def main() -> None:
    app = web.Application()
    app.router.add_post("/slack/events", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    heap.settle()  # the collector as the bot's, once ready
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"floor serving on http://127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
