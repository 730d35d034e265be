"""Logging: one JSON object per line (or readable text on a terminal), secrets scrubbed.

Request-scoped fields (command_id, request_id, command, user, channel, latency_ms, outcome,
error_id) are passed as `extra=` and become top-level keys of the JSON line. `command_id` names
one /chime invocation; `request_id` is always an invite request's REQ-... ID.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import unicodedata
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from aiohttp.http_exceptions import HttpProcessingError

LogFormat = Literal["json", "text"]

FIELDS = (
    "command_id",
    "request_id",
    "command",
    "user",
    "channel",
    "latency_ms",
    "outcome",
    "error_id",
    # audit events (bot/store/rules.py)
    "actor",
    "action",
    "at",
    "detail",
)
# Slack tokens, in case one ever reaches a message (e.g. inside an SDK error string).
_TOKEN = re.compile(r"\b(xox[abeoprs]|xapp)-[A-Za-z0-9-]+")


def scrub(text: str) -> str:
    return _TOKEN.sub(lambda m: f"{m.group(1)}-[redacted]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


# Whatever a terminal or a line-based log reader could take for the end of a line, or for a
# command: C0/C1 controls (\n, \r, ESC, NEL), the Unicode line and paragraph separators, the
# format characters (bidi overrides, zero-width) that make a line read other than it is, and lone
# surrogates, which a UTF-8 stream cannot even write.
_UNSAFE = frozenset({"Cc", "Zl", "Zp", "Cf", "Cs"})


def escape_controls(text: str) -> str:
    """`text` on one line: every unsafe character shown as its escape (`\n`, `\x1b`, `\u202e`)."""
    if text.isprintable():  # the common case, and fast: no controls, separators or formats
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in _UNSAFE else ch
        for ch in text
    )


class TextFormatter(logging.Formatter):
    """One record, one line: nothing in a message or a field can start a line of its own, so no
    request data can pass for a log line. A traceback keeps its lines, each indented."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        base = self.formatMessage(record)
        extras = " ".join(
            f"{n}={escape_controls(str(getattr(record, n)))}"
            for n in FIELDS
            if getattr(record, n, None) is not None
        )
        line = f"{base} [{extras}]" if extras else base
        for block in (
            self.formatException(record.exc_info) if record.exc_info else "",
            self.formatStack(record.stack_info) if record.stack_info else "",
        ):
            line += "".join(f"\n    {escape_controls(part)}" for part in block.splitlines())
        return scrub(line)


class QuietHttpParseErrors(logging.Filter):
    """aiohttp logs every malformed HTTP message (bad header, bad chunk, line too long) at ERROR,
    with a traceback quoting the bytes it choked on: a stranger's free pass into our log. It has
    already answered 400; here that becomes one DEBUG line naming the error, without the data."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.msg, record.args = "refused malformed HTTP with 400: %s", (type(exc).__name__,)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return True


def configure(
    level: str = "INFO", fmt: LogFormat | None = None, stream: TextIO | None = None
) -> None:
    stream = stream or sys.stderr
    chosen = fmt or ("text" if stream.isatty() else "json")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # botocore's DEBUG output includes request and response bodies, PINs among them: it never
    # goes below INFO, whatever LOG_LEVEL says. aiohttp's access log is replaced by our lines.
    logging.getLogger("botocore").setLevel(max(logging.INFO, root.level))
    logging.getLogger("boto3").setLevel(max(logging.INFO, root.level))
    # slack_sdk's own retry of a refused connection logs an INFO line per try; the bot logs its
    # own one line per failed attempt (bot/slack/auth.py), so theirs would double every one.
    logging.getLogger("slack_sdk.web").setLevel(max(logging.WARNING, root.level))
    server = logging.getLogger("aiohttp.server")
    for stale in [f for f in server.filters if isinstance(f, QuietHttpParseErrors)]:
        server.removeFilter(stale)
    server.addFilter(QuietHttpParseErrors())


def silence() -> None:
    """No log output at all, for a command whose every outcome is already in what it prints
    (`check`): a log line there would only repeat one of its lines, out of place."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(logging.NullHandler())  # else logging's last-resort handler prints warnings
    logging.disable(logging.CRITICAL)
