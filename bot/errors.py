"""One error taxonomy and one mapper from error to reply.

Handlers raise `BotError`s; `reply_for` turns any exception into a card. Unknown exceptions get a
short error ID that is shown to the user and logged with the traceback, so a report from Slack can
be matched to the log line without leaking internals into the channel.
"""

from __future__ import annotations

import logging
import secrets

from bot.cards import Reply, error_card

# The IAM actions each Chime operation needs, for permission errors that say how to fix them.
IAM_ACTIONS = {
    "ListAccounts": "chime:ListAccounts",
    "ListUsers": "chime:ListUsers",
    "GetUser": "chime:GetUser",
    "CreateUser": "chime:CreateUser",
    "InviteUsers": "chime:InviteUsers",
}


class BotError(Exception):
    title = "Something went wrong"
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def reply(self) -> Reply:
        return error_card(self.title, self.message, hint=self.hint)


class InvalidInput(BotError):
    title = "That command needs fixing"


class NotConfigured(BotError):
    title = "The bot is not set up for that"


class ChimeError(BotError):
    """A failure reported by (or on the way to) the Chime API."""

    def __init__(
        self, operation: str, message: str, *, code: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.operation = operation
        self.code = code


class ChimeNotFound(ChimeError):
    title = "Not found in Amazon Chime"


class ChimeConflict(ChimeError):
    title = "Already exists in Amazon Chime"


class ChimeRejected(ChimeError):
    title = "Amazon Chime rejected the request"


class ChimePermissionDenied(ChimeError):
    title = "The bot is not allowed to do that in AWS"

    def __init__(self, operation: str, message: str, *, code: str = "") -> None:
        needed = ", ".join(sorted(set(IAM_ACTIONS.values())))
        super().__init__(
            operation,
            f"The bot's AWS identity was refused {operation} ({code or 'access denied'}).",
            code=code,
            hint=f"Grant its IAM role {IAM_ACTIONS.get(operation, 'chime:*')}; "
            f"the bot needs {needed}.",
        )
        self.detail = message


class ChimeUnavailable(ChimeError):
    title = "Amazon Chime is not answering right now"
    hint = "Nothing was changed. Try again in a minute."


def new_error_id() -> str:
    return secrets.token_hex(4)


def reply_for(exc: BaseException, log: logging.Logger, **log_fields: object) -> Reply:
    """The reply for any failure; unexpected ones are logged with an ID the user can quote."""
    if isinstance(exc, BotError):
        log.info("refused: %s", exc.message, extra={"outcome": type(exc).__name__, **log_fields})
        return exc.reply()
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
