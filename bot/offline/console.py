"""`chime-bot console`: try every command locally, as any Slack user in any channel.

The bot runs as `serve` runs it, on 127.0.0.1, with the local Slack stand-in as its Slack and (by
default) the embedded Chime emulator as its Chime. Each command and each click reaches the bot as
a signed HTTP request built the way Slack builds it. Everything Slack would then show is printed:
replies, approval cards the bot posts and updates, direct messages, private notes, with every
button numbered so it can be clicked.

This module is the entry point: it picks the Chime backend, starts the bot and reads lines, from
a terminal (with readline) or from a pipe (echoed, so the output reads as a transcript). The
parts: each input in bot/offline/console_inputs.py, the bot on its own loop and thread in
bot/offline/console_bot.py, what is shown in bot/offline/console_transcript.py (Block Kit
rendered by bot/offline/terminal.py), what it says of the policy (the banner, `as`, `in`) in
console_banner.py, and `home`, `later` and `form` in console_home.py, console_time.py and
console_form.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

import boto3

from bot import logs
from bot.config.settings import ConfigError, load_settings, log_level
from bot.offline.console_bot import BotDidNotStart, BotThread
from bot.offline.console_inputs import Console
from bot.offline.demo_groups import demo_approvers
from bot.offline.terminal import Style
from bot.offline.wiring import OFFLINE_CREDENTIALS, ChimeBackend, environment_policy

PrintLine = Callable[[str], None]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


# ---- input and output --------------------------------------------------------------------------


def repl(console: Console, stdin: TextIO, out: PrintLine, *, interactive: bool) -> int:
    for line in _typed_lines(console, out) if interactive else _piped_lines(console, stdin, out):
        try:
            answer = console.handle(line)
        except KeyboardInterrupt:
            out(
                console.hint(
                    "interrupted; anything the bot sends later shows after your next input"
                )
            )
            continue
        if answer is None:
            break
        for text in answer:
            out(text)
        out("")
    return EXIT_OK


def _typed_lines(console: Console, out: PrintLine) -> Iterator[str]:
    _enable_readline(console)
    while True:
        try:
            yield input(console.prompt)
        except EOFError:
            out("")
            return
        except KeyboardInterrupt:
            out("")  # a fresh prompt, as in a shell


def _piped_lines(console: Console, stdin: TextIO, out: PrintLine) -> Iterator[str]:
    for raw in stdin:
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        # Echoed after the prompt so the output reads as a transcript of a session.
        out(console.style.bold(console.prompt + line))
        yield line


def _enable_readline(console: Console) -> None:
    try:
        import readline  # not on every platform; input() works without it
    except ImportError:
        return

    def complete(text: str, state: int) -> str | None:
        typed = readline.get_line_buffer()[: readline.get_endidx()]
        options = [o for o in console.completions(typed) if o.startswith(text)]
        return options[state] if state < len(options) else None

    readline.set_completer_delims(" \t\n")
    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")


# ---- set-up ------------------------------------------------------------------------------------


class NoCredentials(Exception):
    """`--aws` without any AWS credentials: say so before starting rather than on every call."""


def choose_backend(aws: bool) -> ChimeBackend | None:
    """Where Chime calls go: AWS with `aws`, else AWS_ENDPOINT_URL_CHIME, else None (emulator)."""
    if aws:
        if boto3.session.Session().get_credentials() is None:
            raise NoCredentials(
                "--aws needs AWS credentials, and the standard chain found none "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, an instance role)"
            )
        return ChimeBackend.aws()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_CHIME", "").strip()
    if not endpoint:
        return None
    # An emulator accepts any signature, so lend placeholder credentials when none are configured.
    found = boto3.session.Session().get_credentials() is not None
    return ChimeBackend(endpoint, None if found else dict(OFFLINE_CREDENTIALS))


def run_console(
    *, aws: bool = False, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """`chime-bot console`. Returns the exit code: 0 at `quit` or end of input, 2 when the
    configuration is unusable, 1 when the bot cannot start, 130 on Ctrl-C outside the prompt."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout

    def out(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    try:
        env = load_settings("console")
        chime = choose_backend(aws)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    except NoCredentials as exc:
        print(f"chime-bot console: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    policy = environment_policy(env)
    # Unless CHIME_STORE_URL is set, offline_bot gives it a throwaway store: the cards its
    # requests point at live only in this session's stand-in, and sharing a real bot's store
    # would let this one's sweeper settle that bot's requests. Set, it is honoured, so
    # `chime-bot audit` can read the session's requests afterwards; the banner says where.
    # The made-up policy has a user group approver too, with members in the stand-in.
    overrides = policy or {"chime_approvers": demo_approvers()}
    if env.chime_store_url:
        overrides = {**overrides, "chime_store_url": env.chime_store_url}
    bot = BotThread(overrides, chime)
    try:
        settings = bot.start()
        style = Style.for_stream(stdout)
        console = Console(
            bot, settings, style, chime=chime, own_settings=bool(policy), store=env.chime_store_url
        )
        for line in [*console.banner(), ""]:
            out(line)
        return repl(console, stdin, out, interactive=stdin is sys.stdin and stdin.isatty())
    except BotDidNotStart as exc:
        print(f"chime-bot console: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        bot.stop()


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--aws",
        action="store_true",
        help="use your real AWS account (standard credential chain) instead of the emulator",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.offline.console",
        description="Try every /chime command locally, as any Slack user, offline from Slack.",
    )
    args = configure_parser(parser).parse_args(argv)
    try:
        settings = load_settings("console")  # LOG_LEVEL included: one validation everywhere
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    # The bot's warnings (a refused channel, say) repeat what the transcript already shows.
    logs.configure(log_level(settings, "ERROR"), "text")
    return run_console(aws=args.aws)


if __name__ == "__main__":
    raise SystemExit(main())
