"""What a claimed request's Chime call came to: the status it moves to and the fields stored
with it, and a failure said as such. Shared by invites (bot/approvals/execution.py) and the
lifecycle changes (bot/approvals/change_calls.py)."""

from __future__ import annotations

import logging
from typing import Any

from bot.errors import BotError, new_error_id
from bot.store import InviteRequest, Status

log = logging.getLogger("chime_bot.approvals")

Outcome = tuple[Status, dict[str, Any]]


def failed(exc: Exception, requests: list[InviteRequest]) -> Outcome:
    """A failure as the request's outcome; call it inside the `except` (it logs the traceback
    of an unexpected one, with an ID the card shows)."""
    if isinstance(exc, BotError):
        return Status.FAILED, {"error": exc.message}
    error_id = new_error_id()
    ids = ",".join(r.id for r in requests)
    log.exception(
        "unexpected error %s executing %s",
        error_id,
        ids,
        extra={"request_id": ids, "error_id": error_id},
    )
    return Status.FAILED, {"error": f"unexpected error (ID {error_id})"}
