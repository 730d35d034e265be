"""The one mapper from an error to the card a user sees.

A `BotError` carries its own title, message and hint (bot/errors.py); anything else is
unexpected, gets a short error ID shown to the user and logged with the traceback, so a report
from Slack can be matched to the log line without leaking internals into the channel.
"""

from __future__ import annotations

import logging

from bot.cards.base import Reply, error_card
from bot.errors import BotError, new_error_id


def error_reply(exc: BotError) -> Reply:
    return error_card(exc.title, exc.message, hint=exc.hint)


def reply_for(exc: BaseException, log: logging.Logger, **log_fields: object) -> Reply:
    """The reply for any failure; unexpected ones are logged with an ID the user can quote."""
    if isinstance(exc, BotError):
        log.info("refused: %s", exc.message, extra={"outcome": type(exc).__name__, **log_fields})
        return error_reply(exc)
    error_id = new_error_id()
    log.error(
        "unexpected error %s",
        error_id,
        exc_info=exc,
        extra={"outcome": "error", "error_id": error_id, **log_fields},
    )
    return error_card(
        "Something went wrong",
        "The bot hit an unexpected error and did not finish your request.",
        error_id=error_id,
    )
