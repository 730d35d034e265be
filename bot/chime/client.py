"""The Chime client factory: one aiobotocore client, configured once for the whole bot.

aiobotocore runs botocore's serialization, signing and parsing on the event loop with aiohttp
for the HTTP: no threads, and `make bench` measured it at about half the CPU per lookup of
boto3 on a thread pool (bench/results/clients.json).

The client makes exactly one attempt per call: retries are `bot.chime.calls`'s, by error class,
because botocore's `standard` mode retries 500/503 but not Chime's `ThrottledClientException`
(429), and two retry layers would multiply each other's budget. Two profiled tweaks live here
too (timestamp parsing, the User-Agent header), so that nothing else touches botocore's
internals, and one check: an unreadable success is not read as an empty one (EMPTY_WHEN_DONE).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.parsers import ResponseParserError
from botocore.utils import parse_timestamp

# Chime's account API is global: every commercial region resolves to this one endpoint, and
# requests must be signed for it. AWS_ENDPOINT_URL_CHIME (read by botocore) overrides the URL.
CHIME_REGION = "us-east-1"
# Seconds to open a connection, before the read timeout starts counting.
CONNECT_TIMEOUT = 3.0


def longest_call(retry_budget: float, read_timeout: float) -> float:
    """The longest one Chime operation of an approval can take: `bot.chime.calls` starts no new
    attempt after `retry_budget`, and a write's last attempt, never cut short, may then take
    the connection and the read timeouts in full. An execution lease shorter than this would
    let another replica settle a call still in flight."""
    return retry_budget + CONNECT_TIMEOUT + read_timeout


@asynccontextmanager
async def chime_client(
    *,
    max_pool_connections: int,
    credentials: dict[str, str] | None = None,
    read_timeout: float = 10.0,
) -> AsyncIterator[Any]:
    """A Chime client that makes one attempt per call; `bot.chime.calls` owns the retries.

    `credentials` (aws_access_key_id, aws_secret_access_key) replace the standard chain, for
    the offline emulator. The endpoint comes from AWS_ENDPOINT_URL_CHIME when it is set.
    """
    config = Config(
        region_name=CHIME_REGION,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max_pool_connections,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        # botocore's client-side check of every parameter against the model was ~3% of the
        # bot's CPU per lookup (cProfile, bench/results/profile-*). The bot builds every
        # parameter itself from input it has validated, and Chime validates them again: a
        # BadRequestException is answered like any other rejection.
        parameter_validation=False,
    )
    keys = {k: v for k, v in (credentials or {}).items() if k.startswith("aws_")}
    session = get_session()
    # dateutil's general parser was ~6% of the bot's CPU per lookup (py-spy); Chime's
    # timestamps are ISO 8601, which datetime parses natively.
    session.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=_parse_iso_timestamp
    )
    async with session.create_client("chime", config=config, **keys) as client:
        _keep_user_agent_static(client)
        for operation in EMPTY_WHEN_DONE:
            client.meta.events.register(f"before-parse.chime.{operation}", _refuse_non_json)
        yield client


# Operations whose success may carry nothing at all: BatchSuspendUser's and BatchUnsuspendUser's
# UserErrors is optional (left out when every user succeeded), LogoutUser answers 204 with no
# body. botocore reads a 2xx body that is not JSON (a proxy's HTML page) as an empty answer
# (BaseJSONParser._parse_body_as_json keeps it as {"message": ...}, which the output shape then
# drops), and for these an empty answer means "done for everyone". So such a body is refused as
# unreadable, which `bot.chime.errors` classifies as an answer that leaves the effect unknown.
EMPTY_WHEN_DONE = ("BatchSuspendUser", "BatchUnsuspendUser", "LogoutUser")


def _refuse_non_json(response_dict: dict[str, Any], **_: Any) -> None:
    body = response_dict.get("body")
    if int(response_dict.get("status_code") or 0) >= 300 or not isinstance(body, bytes | str):
        return
    if not body.strip():
        return
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise ResponseParserError("Amazon Chime's reply is not a JSON object")


def _parse_iso_timestamp(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        # Epoch seconds or another form: botocore's own parser.
        fallback: datetime = parse_timestamp(value)
        return fallback
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _keep_user_agent_static(client: Any) -> None:
    """Build the User-Agent header once instead of twice per request.

    botocore renders it for every request and renders it again just before sending, to refresh
    SDK feature tags; that was 15-20% of the bot's CPU per lookup under load (py-spy, `make
    bench`). The string rendered once stays a valid header. botocore keeps the renderer on a
    private attribute, so this is best effort and changes nothing if the attribute moves.
    """
    creator = getattr(client, "_user_agent_creator", None)
    if creator is None:
        return
    rendered = creator.to_string()
    creator.to_string = lambda: rendered
