"""The `chime-bot` command line: `serve`, `check`, `init-store`, `audit`, `migrate-store`,
`backup`, `demo`, `console`.

Configuration problems end the process with exit code 2 and one message listing all of them.

Each subcommand imports what it runs only when it runs, inside its `_run_*` function: `audit` and
`init-store` need neither a Slack nor a Chime client, `check` no Bolt app, and a configuration
mistake is reported before any of the bot is loaded. Importing it all up front cost every
command about 1.3 s of CPU at start (`python -X importtime`); `audit` now loads about half of
that. What every command needs is imported here: argument parsing, the settings and the logs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from bot import logs
from bot.config.credentials import Mode
from bot.config.settings import ConfigError, Settings, load_settings, log_level
from bot.store import StoreError  # loaded with the settings, which parse CHIME_STORE_URL

if TYPE_CHECKING:
    from bot.ops.audit import AuditQuery, AuditRow

EXIT_CONFIG = 2


def _version() -> str:
    """The installed distribution's version, so it can never disagree with pyproject.toml."""
    try:
        return version("chime-bot")
    except PackageNotFoundError:  # a source tree on sys.path that was never pip-installed
        return "unknown (not installed)"


def _port(text: str) -> int:
    """--port gets the same range PORT does in the settings (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return port


class _Subcommand(argparse.ArgumentParser):
    """A subcommand's parser that may take its options from the module that runs it, imported
    only when this subcommand is the one being parsed (argparse parses a subcommand's
    arguments with its parser's parse_known_args)."""

    def __init__(
        self,
        *args: Any,
        options: Callable[[argparse.ArgumentParser], None] | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self._options = options

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._options is not None:
            options, self._options = self._options, None
            options(self)
        return super().parse_known_args(args, namespace)


def _console_options(parser: argparse.ArgumentParser) -> None:
    from bot.offline.console import configure_parser  # the console's options are its own

    configure_parser(parser)


def _migrate_options(parser: argparse.ArgumentParser) -> None:
    from bot.ops.migrate import configure_parser

    configure_parser(parser)


def _backup_options(parser: argparse.ArgumentParser) -> None:
    from bot.ops.backup import configure_parser

    configure_parser(parser)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chime-bot", description="Slack chat-ops for Amazon Chime users."
    )
    parser.add_argument("--version", action="version", version=f"chime-bot {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Subcommand)
    serve_cmd = sub.add_parser("serve", help="run the bot (HTTP, or Socket Mode)")
    serve_cmd.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")
    serve_cmd.add_argument(
        "--port",
        type=_port,
        default=None,
        help="port for /slack/events, /livez, /readyz, /metrics (default: $PORT, else 3000)",
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
        "--print-policy",
        action="store_true",
        help="print the IAM policy the bot needs: the table's statements, then Chime's",
    )
    _audit_parser(
        sub.add_parser("audit", help="read the audit trail (who asked, who decided, what ran)")
    )
    sub.add_parser(
        "migrate-store",
        help="copy every request and its audit trail to another store (SQLite <-> DynamoDB)",
        options=_migrate_options,
    )
    sub.add_parser(
        "backup",
        help="copy the SQLite store to a new file while the bot runs",
        options=_backup_options,
    )
    sub.add_parser("demo", help="run the bot offline against the embedded Chime emulator")
    sub.add_parser(
        "console",
        help="try every /chime command locally, as any user, offline from Slack",
        options=_console_options,
    )
    return parser


def _audit_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--request", metavar="REQ-ID", help="one request's trail")
    parser.add_argument("--email", help="requests for this email address (any letter case)")
    parser.add_argument("--requester", metavar="USER_ID", help="requests filed by this user")
    parser.add_argument("--approver", metavar="USER_ID", help="requests this user decided")
    parser.add_argument(
        "--since", metavar="TIME", help="from this time on: 2026-11-23, 2026-11-23T10:00Z, 24h, 7d"
    )
    parser.add_argument("--until", metavar="TIME", help="before this time (same forms)")
    parser.add_argument(
        "--format",
        choices=("table", "jsonl"),
        default=None,
        help="table (for people, the default) or jsonl: one JSON object per line, for a SIEM "
        "(every field is described in docs/audit.md)",
    )
    parser.add_argument("--json", action="store_true", help="the same as --format jsonl")


def _audit_query(args: argparse.Namespace) -> AuditQuery:
    """The filters, or ConfigError naming every one that is wrong."""
    from bot.ops import audit
    from bot.slack.ids import USER_ID

    problems, bounds = [], {}
    now = datetime.now(UTC)
    for name in ("since", "until"):
        text = getattr(args, name)
        if text is not None:
            try:
                bounds[name] = audit.parse_time(text, now=now)
            except ValueError as exc:
                problems.append(f"--{name}: {exc}")
    for name in ("requester", "approver"):
        value = getattr(args, name)
        if value is not None and not USER_ID.fullmatch(value.strip()):
            problems.append(f"--{name}: not a Slack user ID (like U0123ABCD): {value!r}")
    if "since" in bounds and "until" in bounds and bounds["since"] >= bounds["until"]:
        problems.append("--since: must be before --until")
    if problems:
        raise ConfigError(problems, heading="chime-bot audit: these options need fixing:")
    return audit.AuditQuery(
        request_id=(args.request or "").strip() or None,
        email=args.email,
        requester=args.requester and args.requester.strip(),
        approver=args.approver and args.approver.strip(),
        since=bounds.get("since"),
        until=bounds.get("until"),
    )


def _run_audit(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import audit
    from bot.store import open_store, parse_store_url, store_table

    logs.configure("WARNING", "text")
    query = _audit_query(args)
    url = settings.chime_store_url
    if store_table(url) is None:
        path = parse_store_url(url, data_dir=settings.data_dir())
        if not path.is_file():
            # Opening would create an empty store: say what is (not) there instead.
            print(
                f"chime-bot audit: there is no request store at {path} (nothing recorded "
                "here yet, or CHIME_STORE_URL names another store; the console and the demo "
                "keep their requests only when CHIME_STORE_URL is set)",
                file=sys.stderr,
            )
            return 1

    async def read() -> list[AuditRow]:
        store = await open_store(url, data_dir=settings.data_dir(), region=settings.aws_region)
        try:
            return await audit.read_audit(store, query)
        finally:
            await store.close()

    rows = asyncio.run(read())
    if args.json or args.format == "jsonl":
        return audit.stream(audit.json_lines(rows), sys.stdout)
    print(audit.table(rows))
    return 0


def _run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import migrate

    logs.configure("WARNING", "text")
    return migrate.run_command(args, settings)


def _run_backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import backup

    logs.configure("WARNING", "text")
    return backup.run_command(args, settings)


def _run_app(run: Callable[[], int]) -> int:
    """`run` (serve, demo or console) with what only running the bot's app can end with."""
    from bot.app import CannotListen
    from bot.slack.auth import SlackCredentialsRefused

    try:
        return run()
    except SlackCredentialsRefused as exc:
        print(f"chime-bot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CannotListen as exc:
        print(f"chime-bot: {exc}; choose another with --port or PORT", file=sys.stderr)
        return 1


def _run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import serve

    logs.configure(settings.log_level, settings.log_format)
    port = args.port if args.port is not None else settings.port
    socket = settings.wants_socket_mode(args.socket_mode)
    asyncio.run(serve(settings, args.host, port, socket_mode=socket))
    return 0


def _run_check(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import check

    # Every failure is a line of the table; a log line would only repeat one, out of place.
    logs.silence()
    results = asyncio.run(check.run_checks(settings, socket_mode=args.socket_mode))
    print(check.render(results))
    return 0 if all(r.ok for r in results) else 1


def _run_init_store(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chime.iam import chime_statement
    from bot.store import IAM_POLICY_TEMPLATE, init_table, store_table

    logs.configure("WARNING", "text")
    table = store_table(settings.chime_store_url)  # the URL was validated with the settings
    if table is None:
        print(
            "chime-bot init-store: set CHIME_STORE_URL=dynamodb://<table> first "
            "(the SQLite store needs no set-up)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    # load_settings resolved the region (or refused to go on without one for DynamoDB).
    region = settings.aws_region or ""
    if args.print_policy:
        # The store's statements, then Chime's: the whole of what the bot's identity needs.
        policy = json.loads(
            IAM_POLICY_TEMPLATE.replace("<table>", table).replace("<region>", region)
        )
        policy["Statement"].append(chime_statement())
        print(json.dumps(policy, indent=2))
        return 0
    for line in init_table(table, region=region):
        print(line)
    return 0


def _run_demo(settings: Settings) -> int:
    from bot.offline.demo import run_demo
    from bot.offline.terminal import Style

    logs.configure(log_level(settings, "WARNING"), "text")
    style = Style.ansi() if sys.stdout.isatty() else Style.plain()
    # CHIME_STORE_URL, when set, keeps the demo's requests for `chime-bot audit`.
    return asyncio.run(
        run_demo(lambda line: print(line, flush=True), style, settings.chime_store_url)
    )


def _run_console(args: argparse.Namespace, settings: Settings) -> int:
    from bot.offline.console import run_console

    # At WARNING the bot would repeat on stderr what the transcript already shows.
    logs.configure(log_level(settings, "ERROR"), "text")
    return run_console(aws=args.aws)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    mode: Mode = args.command
    try:
        # One validation for every command: a mistake is reported the same way everywhere.
        settings = load_settings(mode, socket_mode=getattr(args, "socket_mode", False))
        if args.command == "serve":
            return _run_app(lambda: _run_serve(args, settings))
        if args.command == "check":
            return _run_check(args, settings)
        if args.command == "init-store":
            return _run_init_store(args, settings)
        if args.command == "audit":
            return _run_audit(args, settings)
        if args.command == "migrate-store":
            return _run_migrate(args, settings)
        if args.command == "backup":
            return _run_backup(args, settings)
        if args.command == "demo":
            return _run_app(lambda: _run_demo(settings))
        if args.command == "console":
            return _run_app(lambda: _run_console(args, settings))
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
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
