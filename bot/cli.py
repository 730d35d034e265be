"""The `chime-bot` command line: `serve` and `demo`.

Configuration problems end the process with exit code 2 and one message listing all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

from bot.app import serve
from bot.demo import run_demo
from bot.settings import ConfigError, load_settings
from bot.terminal import Style

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chime-bot", description="Slack chat-ops for Amazon Chime users."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot over HTTP (POST /slack/events)")
    serve.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=None, help="port (default: $PORT, else 3000)")
    sub.add_parser("demo", help="run the bot offline against the embedded Chime emulator")
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # botocore's DEBUG output includes request and response bodies, PINs among them.
    logging.getLogger("botocore").setLevel(max(logging.INFO, logging.getLogger().level))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            settings = load_settings("serve")
            _configure_logging(settings.log_level)
            port = args.port if args.port is not None else settings.port
            asyncio.run(serve(settings, args.host, port))
            return 0
        if args.command == "demo":
            _configure_logging(os.environ.get("LOG_LEVEL", "WARNING"))
            style = Style.ansi() if sys.stdout.isatty() else Style.plain()
            return asyncio.run(run_demo(lambda line: print(line, flush=True), style))
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
