"""One error taxonomy: what went wrong, in words a user can act on.

Handlers raise `BotError`s; bot/cards/errors.py (`reply_for`) is the one mapper from any
exception to a card. Kept free of rendering so that Chime access and the store, far below the
cards, can raise these.
"""

from __future__ import annotations

import secrets

# The IAM actions each Chime operation needs, for permission errors that say how to fix them.
IAM_ACTIONS = {
    "ListAccounts": "chime:ListAccounts",
    "ListUsers": "chime:ListUsers",
    "GetUser": "chime:GetUser",
    "CreateUser": "chime:CreateUser",
    "InviteUsers": "chime:InviteUsers",
    "BatchSuspendUser": "chime:BatchSuspendUser",
    "BatchUnsuspendUser": "chime:BatchUnsuspendUser",
    "LogoutUser": "chime:LogoutUser",
    "ResetPersonalPIN": "chime:ResetPersonalPIN",
    "UpdateUser": "chime:UpdateUser",
}


class BotError(Exception):
    title = "Something went wrong"
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint


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
        action = IAM_ACTIONS.get(operation, f"chime:{operation}")
        super().__init__(
            operation,
            f"The bot's AWS identity was refused {operation} ({code or 'access denied'}): "
            f"it needs the IAM permission {action}.",
            code=code,
            hint=f"Grant its IAM role {action}; the bot needs {needed}.",
        )
        self.detail = message


# The one fix for AWS credentials, wherever the bot finds them wanting: a Chime reply, its log,
# and `chime-bot check` (bot/aws.py).
CREDENTIALS_FIX = (
    "Give the bot an AWS identity the standard way: an IAM role (instance profile, ECS task "
    "role, EKS pod identity), AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
    "environment (with AWS_SESSION_TOKEN for temporary keys, which expire and must be "
    "refreshed); `chime-bot check` tells whether they work."
)


class ChimeCredentials(ChimeError):
    """AWS did not accept who the bot is: no credentials, wrong keys, an expired token."""

    title = "The bot's AWS credentials are missing, invalid or expired"
    hint = CREDENTIALS_FIX

    def __init__(self, operation: str, detail: str, *, code: str = "") -> None:
        super().__init__(
            operation,
            f"AWS refused the bot's credentials on {operation} ({code or 'no credentials'}). "
            "Nothing was changed.",
            code=code,
        )
        self.detail = detail


class ChimeUnavailable(ChimeError):
    title = "Amazon Chime is not answering right now"
    hint = "Nothing was changed. Try again in a minute."

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        code: str = "",
        hint: str | None = None,
        effect_unknown: bool = False,
    ) -> None:
        super().__init__(operation, message, code=code, hint=hint)
        # True when the call may have taken effect although no answer arrived (5xx, timeout,
        # reset, unreadable reply): such a call is never repeated before looking first.
        self.effect_unknown = effect_unknown


class ChimeThrottled(ChimeUnavailable):
    """Chime refused the call for its rate: nothing happened, and it may be sent again."""

    title = "Amazon Chime is throttling the bot right now"


class ChimeCircuitOpen(ChimeUnavailable):
    """The bot stopped calling Chime for a cool-down after a run of failures."""

    title = "Calls to Amazon Chime are paused"

    def __init__(self, operation: str, retry_in: float) -> None:
        super().__init__(
            operation,
            "Amazon Chime is not answering; nothing was changed.",
            code="CircuitOpen",
            hint=f"After repeated failures the bot pauses its calls to Chime; it tries again "
            f"in {max(1, round(retry_in))} s. Try again then.",
        )


def new_error_id() -> str:
    return secrets.token_hex(4)
