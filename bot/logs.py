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
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

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


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        base = scrub(super().format(record))
        extras = " ".join(
            f"{n}={getattr(record, n)}" for n in FIELDS if getattr(record, n, None) is not None
        )
        return f"{base} [{extras}]" if extras else base


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
