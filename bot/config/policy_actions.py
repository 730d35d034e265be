"""The policy file's `actions` (which changes need someone's approval) and `max_access` (the
longest time-bound access an account grants), validated as strictly as the rest of the file.

`actions` maps an action to `approval` or `none`. YAML reads `none` as the string "none" (its
null is `~`, `null` or nothing), so `none` works as written; a null, or a `no`/`off` that YAML
reads as false, is refused with what to write instead, never taken as either answer.

`max_access` is a duration in bot/durations.py's grammar (`8h`, `30d`, `2w`), at least an hour.
There is no "forever": leaving it out means no cap (unless the default section sets one).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator

from bot.durations import NotADuration, parse_duration

Action = Literal[
    "invite",
    "suspend",
    "unsuspend",
    "logout",
    "reset_pin",  # someone else's PIN
    "reset_pin_self",  # one's own PIN
    "license",
    "extend",  # extending time-bound access
]
ACTIONS: tuple[Action, ...] = get_args(Action)
Approval = Literal["approval", "none"]
# The built-in layer under the file's: everything waits for an approver, except resetting one's
# own PIN, which changes nothing anyone else relies on.
NO_APPROVAL_BUILT_IN: frozenset[Action] = frozenset({"reset_pin_self"})
# Actions the file may not free from approval. Inviting creates a user: exactly-once creation
# and the approval card that records who allowed it are what an invite is, so no file turns
# them off. The other actions change a user who already exists, and an account's owners may
# decide that (say) a logout needs no second person.
ALWAYS_APPROVED: frozenset[Action] = frozenset({"invite"})
MIN_ACCESS = 3600
_DURATION = "a duration like 8h, 30d or 2w"


class Actions(BaseModel):
    """One section's `actions`; an action left out falls back to the layer below."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    invite: Approval | None = None
    suspend: Approval | None = None
    unsuspend: Approval | None = None
    logout: Approval | None = None
    reset_pin: Approval | None = None
    reset_pin_self: Approval | None = None
    license: Approval | None = None
    extend: Approval | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _approval(cls, value: Any, info: ValidationInfo) -> Any:
        # Runs only on values the file gives: a left-out action stays None (not set).
        if value is None:
            raise ValueError("empty (YAML null): write none for no approval, or approval")
        if isinstance(value, bool):
            raise ValueError(
                f"YAML read this as {str(value).lower()} (as it reads "
                f"{'no, off' if not value else 'yes, on'}): write approval or none"
            )
        if value not in get_args(Approval):
            raise ValueError(f"write approval or none (got {_shown(value)})")
        if value == "none" and info.field_name in ALWAYS_APPROVED:
            raise ValueError(
                "creating a user always needs approval (the approval card and creating the "
                "user exactly once are what an invite is): write approval or leave it out"
            )
        return value

    def no_approval(self) -> dict[Action, bool]:
        """The actions this section sets: True where it says `none`."""
        return {a: value == "none" for a in ACTIONS if (value := getattr(self, a)) is not None}


def _max_access(value: Any) -> int:
    if not isinstance(value, str):
        raise ValueError(f"{_DURATION} (got {value!r})")
    if value.strip().lower() == "forever":
        raise ValueError(f'"forever" is not {_DURATION}; leave max_access out for no cap')
    try:
        seconds = parse_duration(value)
    except NotADuration:
        raise ValueError(f"{_shown(value)} is not {_DURATION}") from None
    if seconds < MIN_ACCESS:
        raise ValueError(f"at least 1h (got {_shown(value)})")
    return seconds


def _shown(value: object) -> str:
    # As policy_file.shown, which imports this module: quoted, control characters escaped.
    return json.dumps(str(value), ensure_ascii=True)


# Seconds, from the duration as written.
MaxAccess = Annotated[int, BeforeValidator(_max_access)]

__all__ = ["ACTIONS", "ALWAYS_APPROVED", "NO_APPROVAL_BUILT_IN", "Action", "Actions", "MaxAccess"]
