"""The `chime-bot` command line: `serve`, `check`, `init-store`, `demo`, `console`.

Configuration problems end the process with exit code 2 and one message listing all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from bot import check, logs
from bot.app import serve
from bot.console import configure_parser as configure_console
from bot.console import run_console
from bot.demo import run_demo
from bot.settings import ConfigError, load_settings
from bot.slack_auth import SlackCredentialsRefused
from bot.store import IAM_POLICY_TEMPLATE, StoreError, init_table, store_table
from bot.store.dynamodb import resolve_region
from bot.terminal import Style

EXIT_CONFIG = 2


def _version() -> str:
    """The installed distribution's version, so it can never disagree with pyproject.toml."""
    try:
        return version("chime-bot")
    except PackageNotFoundError:  # a source tree on sys.path that was never pip-installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chime-bot", description="Slack chat-ops for Amazon Chime users."
    )
    parser.add_argument("--version", action="version", version=f"chime-bot {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", help="run the bot (HTTP, or Socket Mode)")
    serve_cmd.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")
    serve_cmd.add_argument(
        "--port",
        type=int,
        default=None,
        help="port for /slack/events, /healthz, /metrics (default: $PORT, else 3000)",
    )
    serve_cmd.add_argument(
        "--socket-mode",
        action="store_true",
        help="take events over Socket Mode (also on when SLACK_APP_TOKEN is set)",
    )
    check_cmd = sub.add_parser("check", help="check configuration, credentials and permissions")
    check_cmd.add_argument(
        "--socket-mode",
        action="store_true",
        help="check for Socket Mode (also on when SLACK_APP_TOKEN is set)",
    )
    init_cmd = sub.add_parser(
        "init-store", help="create the DynamoDB table CHIME_STORE_URL names (safe to re-run)"
    )
    init_cmd.add_argument(
        "--print-policy", action="store_true", help="print the IAM policy for the table"
    )
    sub.add_parser("demo", help="run the bot offline against the embedded Chime emulator")
    configure_console(
        sub.add_parser(
            "console", help="try every /chime command locally, as any user, offline from Slack"
        )
    )
    return parser


def _run_serve(args: argparse.Namespace) -> int:
    settings = load_settings("serve", socket_mode=args.socket_mode)
    logs.configure(settings.log_level, settings.log_format)
    port = args.port if args.port is not None else settings.port
    socket = settings.wants_socket_mode(args.socket_mode)
    asyncio.run(serve(settings, args.host, port, socket_mode=socket))
    return 0


def _run_check(args: argparse.Namespace) -> int:
    logs.configure("ERROR", "text")
    results = asyncio.run(check.run_checks(socket_mode=args.socket_mode))
    print(check.render(results))
    return 0 if all(r.ok for r in results) else 1


def _run_init_store(args: argparse.Namespace) -> int:
    logs.configure("WARNING", "text")
    settings = load_settings("init-store")
    try:
        table = store_table(settings.chime_store_url)
    except ValueError as exc:
        print(f"chime-bot init-store: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if table is None:
        print(
            "chime-bot init-store: set CHIME_STORE_URL=dynamodb://<table> first "
            "(the SQLite store needs no set-up)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if args.print_policy:
        print(IAM_POLICY_TEMPLATE.replace("<table>", table).replace("<region>", resolve_region()))
        return 0
    for line in init_table(table):
        print(line)
    return 0


def _run_demo() -> int:
    logs.configure(os.environ.get("LOG_LEVEL", "WARNING"), "text")
    style = Style.ansi() if sys.stdout.isatty() else Style.plain()
    return asyncio.run(run_demo(lambda line: print(line, flush=True), style))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _run_serve(args)
        if args.command == "check":
            return _run_check(args)
        if args.command == "init-store":
            return _run_init_store(args)
        if args.command == "demo":
            return _run_demo()
        if args.command == "console":
            # At WARNING the bot would repeat on stderr what the transcript already shows.
            logs.configure(os.environ.get("LOG_LEVEL", "ERROR"), "text")
            return run_console(aws=args.aws)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    except SlackCredentialsRefused as exc:
        print(f"chime-bot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except StoreError as exc:
        # e.g. a missing DynamoDB table at start-up: the message says how to fix it.
        print(f"chime-bot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
