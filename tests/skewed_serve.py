"""`chime-bot serve` on a clock `--offset` seconds off the real one: one replica of several
whose clock is wrong, given through the bot's clock dependency (bot.app.serve's `clock`), with
no global patch of time. Run by tests as BotProcess's launcher:

    python -m tests.skewed_serve --offset 120 -m bot serve --host 127.0.0.1

what follows the offset is BotProcess's usual command line, of which the host is read.
"""

from __future__ import annotations

import asyncio
import sys

from bot import logs
from bot.app import serve
from bot.config.settings import load_settings
from tests.clock import ShiftedClock


def main(argv: list[str]) -> int:
    offset = float(argv[argv.index("--offset") + 1])
    host = argv[argv.index("--host") + 1]
    settings = load_settings("serve")
    logs.configure(settings.log_level, settings.log_format)
    asyncio.run(serve(settings, host, settings.port, clock=ShiftedClock(offset)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
