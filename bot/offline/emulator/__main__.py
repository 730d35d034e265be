"""``python -m bot.emulator``: serve the emulator standalone until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Sequence

from .emulator import ChimeEmulator


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.emulator", description="Offline Amazon Chime account-API emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    parser.add_argument("--seed", help="seed JSON file (default: the bundled sample data)")
    return parser.parse_args(argv)


async def serve(emulator: ChimeEmulator, host: str, port: int) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available on Windows' proactor loop; Ctrl-C still ends asyncio.run() there.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopping.set)
    url = await emulator.start(host, port)
    # Parents (benchmarks, bot replicas) read this line to learn the port, so flush it now.
    print(f"chime emulator listening on {url}", flush=True)
    try:
        await stopping.wait()
    finally:
        await emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    emulator = ChimeEmulator.from_seed_file(args.seed) if args.seed else ChimeEmulator()
    emulator.set_latency(args.latency)
    asyncio.run(serve(emulator, args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
