"""What a subcommand handler gets for one `/chime` invocation."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bot.cards.base import Reply, error_card
from bot.cards.errors import reply_for
from bot.deps import Deps

Ack = Callable[..., Awaitable[Any]]

BUSY = error_card(
    "The bot is busy",
    "Too many requests are in progress right now; nothing was started.",
    hint="Try again in a few seconds.",
)


@dataclass
class Invocation:
    user_id: str
    channel_id: str
    response_url: str
    subcommand: str
    ack: Ack
    trigger_id: str = ""  # for a modal (views.open), valid for 3 s after Slack sent it
    # One /chime invocation; not a REQ-... request ID, which is logged as request_id.
    command_id: str = field(default_factory=lambda: secrets.token_hex(6))
    started: float = field(default_factory=time.perf_counter)

    def log_fields(self) -> dict[str, object]:
        return {
            "command_id": self.command_id,
            "command": self.subcommand,
            "user": self.user_id,
            "channel": self.channel_id,
        }

    def log_done(self, deps: Deps, outcome: str, *, replied_later: bool = False) -> None:
        seconds = time.perf_counter() - self.started
        deps.metrics.command(self.subcommand, outcome, seconds, replied_later=replied_later)
        latency_ms = round(seconds * 1000, 1)
        deps.log.info(
            "/chime %s -> %s",
            self.subcommand,
            outcome,
            extra={**self.log_fields(), "outcome": outcome, "latency_ms": latency_ms},
        )


async def reply_now(inv: Invocation, deps: Deps, reply: Reply, outcome: str) -> None:
    """Answer in the ack itself: for anything that needs no Chime call."""
    await inv.ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")
    inv.log_done(deps, outcome)


async def reply_later(
    inv: Invocation, deps: Deps, work: Callable[[], Awaitable[tuple[Reply, str]]]
) -> None:
    """Ack at once with no body, then run `work` and send its reply through response_url."""

    async def job() -> None:
        try:
            reply, outcome = await work()
        except Exception as exc:
            reply, outcome = reply_for(exc, deps.log, **inv.log_fields()), type(exc).__name__
        await deps.responder.send(inv.response_url, reply)
        inv.log_done(deps, outcome, replied_later=True)

    if deps.jobs.spawn(job(), name=f"{inv.subcommand}:{inv.command_id}"):
        await inv.ack()
    else:
        await reply_now(inv, deps, BUSY, "busy")
