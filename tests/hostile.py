"""Requests built the way a stranger, or a careless Slack-signed client, would build them:
the signing, forms and payloads the door tests share, and what a forged log line looks like."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from urllib.parse import urlencode

from bot.cards.approval import ActionId, BlockId
from bot.offline.slack_standin import TEAM_ID
from tests.conftest import CHANNEL, REQUESTER

FORM = "application/x-www-form-urlencoded"
# What a stranger would like the log to show: a line of its own that passes for an audit event.
FORGED = "1999-12-31 23:59:59,000 INFO chime_bot.audit: approve_claimed by U0APPROVER"
MARKER = "STRANGER-DATA"
# A line of the text format: "<date> <time>,<ms> <LEVEL> <logger>: <message>".
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ([A-Z]+) (\S+): ")


def signed(
    secret: str, body: bytes, *, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes, as its reference describes it."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }


def slash_form(text: str = "user ada@example.com", **fields: str) -> dict[str, str]:
    return {
        "team_id": TEAM_ID,
        "channel_id": CHANNEL,
        "user_id": REQUESTER,
        "command": "/chime",
        "text": text,
        "response_url": "http://127.0.0.1:9/unused",
        **fields,
    }


def click(**fields: object) -> dict[str, object]:
    """A block_actions payload as Slack shapes it, with `fields` replaced."""
    return {
        "type": "block_actions",
        "user": {"id": "U0APPROVER"},
        "channel": {"id": "C0APPROVALS"},
        "team": {"id": TEAM_ID},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [
            {"action_id": ActionId.APPROVE, "block_id": BlockId.DECISION, "value": "REQ-1"}
        ],
        **fields,
    }


def click_payload(*, keep_nulls: bool = False, **fields: object) -> bytes:
    """The form Slack posts for a click; fields given as None are removed, unless `keep_nulls`."""
    kept = {k: v for k, v in click(**fields).items() if v is not None or keep_nulls}
    return urlencode({"payload": json.dumps(kept)}).encode()


def assert_one_line_per_record(lines: list[str]) -> None:
    """Every line of the text log starts a record of its own, or is an indented traceback line:
    nothing from a request can stand at the start of a line."""
    for line in lines:
        assert LINE.match(line) or line.startswith("    "), f"stray line: {line[:120]!r}"
        assert not line.startswith(FORGED[:10]), f"forged line: {line[:120]!r}"
