"""The user lifecycle's answers as typed values: per-user outcomes of BatchSuspendUser and
BatchUnsuspendUser, a reset PIN that cannot be printed by accident, and a user's state read
afresh (for settling a change whose answer was lost).

Field names and limits are botocore's Chime model (chime/2018-05-01/service-2.json):
`UserIdList` has "max": 50; `UserError` is {UserId, ErrorCode, ErrorMessage}, none of them
required; `RegistrationStatus` is Unregistered | Registered | Suspended.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from bot.chime.errors import THROTTLING_CODES, TRANSIENT_CODES
from bot.errors import (
    ChimeConflict,
    ChimeError,
    ChimeNotFound,
    ChimeRejected,
    ChimeThrottled,
    ChimeUnavailable,
    InvalidInput,
)
from bot.models import ChimeUser

MAX_BATCH_USERS = 50  # the model's UserIdList "max"; botocore does not check it
SUSPENDED = "Suspended"
ABSENT = "Absent"  # not a RegistrationStatus: the user is not in the account (GetUser: NotFound)


def batch_ids(operation: str, user_ids: Iterable[str]) -> list[str]:
    """The IDs to send, each once, in order; refused before any call when there are none or
    more than Chime takes in one call."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        raise InvalidInput(f"{operation} needs at least one user; nothing was sent.")
    if len(ids) > MAX_BATCH_USERS:
        raise InvalidInput(
            f"{operation} takes at most {MAX_BATCH_USERS} users at once, and {len(ids)} were "
            "given; nothing was sent.",
            hint=f"Split them into groups of {MAX_BATCH_USERS} or fewer.",
        )
    return ids


@dataclass(frozen=True, slots=True)
class UserError:
    """One entry of a batch answer's `UserErrors`: that user's failure, as Chime said it."""

    user_id: str
    code: str  # the model's ErrorCode: NotFound, Forbidden, Throttled, ServiceFailure, ...
    message: str

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> UserError:
        return cls(
            str(raw.get("UserId") or ""),
            str(raw.get("ErrorCode") or ""),
            str(raw.get("ErrorMessage") or ""),
        )

    def problem(self, operation: str) -> ChimeError:
        """This failure in the bot's taxonomy, in plain words with Chime's code and message.

        The call itself was authorized and answered, so nothing here is about the bot's
        credentials or IAM: a Forbidden or AccessDenied is Chime refusing it for this user.
        Throttled is retryable; a ServiceFailure/ServiceUnavailable may have taken effect for
        this user (as a 5xx may), so it is settled by looking (`Directory.user_state`).
        """
        said = f"{self.code or 'no code'}: {self.message or 'no message'}"
        who = f"user {self.user_id}" if self.user_id else "a user Amazon Chime did not name"
        if self.code in THROTTLING_CODES:
            return ChimeThrottled(
                operation,
                f"Amazon Chime was too busy to do {operation} for {who} ({said}); nothing "
                "changed for them, and it can be tried again.",
                code=self.code,
            )
        if self.code in TRANSIENT_CODES:
            return ChimeUnavailable(
                operation,
                f"Amazon Chime failed to do {operation} for {who} ({said}); it may or may not "
                "have taken effect.",
                code=self.code,
                hint="It may have taken effect for them: look them up before trying again.",
                effect_unknown=True,
            )
        if self.code == "NotFound":
            return ChimeNotFound(
                operation, f"Amazon Chime found no {who} in the account ({said}).", code=self.code
            )
        if self.code == "Conflict":
            return ChimeConflict(
                operation, f"Amazon Chime refused {operation} for {who} ({said}).", code=self.code
            )
        return ChimeRejected(
            operation, f"Amazon Chime refused {operation} for {who} ({said}).", code=self.code
        )


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one BatchSuspendUser or BatchUnsuspendUser answered for each user ID it sent."""

    sent: tuple[str, ...]
    errors: tuple[UserError, ...]  # every UserErrors entry, in Chime's order

    @classmethod
    def from_api(cls, sent: list[str], raw: Mapping[str, Any]) -> BatchOutcome:
        # UserErrors is optional in the response shape and may be left out when there are none.
        entries = raw.get("UserErrors") or []
        errors = tuple(UserError.from_api(e) for e in entries if isinstance(e, Mapping))
        return cls(tuple(sent), errors)

    @property
    def failed(self) -> dict[str, UserError]:
        """Each sent ID that Chime named in UserErrors, with its (first) error."""
        found: dict[str, UserError] = {}
        for error in self.errors:
            if error.user_id in self.sent:
                found.setdefault(error.user_id, error)
        return found

    @property
    def unattributed(self) -> tuple[UserError, ...]:
        """Errors naming no ID that was sent: they could be anyone's."""
        return tuple(e for e in self.errors if e.user_id not in self.sent)

    @property
    def done(self) -> tuple[str, ...]:
        """The IDs Chime reported no error for. None at all when an error named no sent ID:
        then any of them may have failed, and only looking (`Directory.user_state`) tells."""
        if self.unattributed:
            return ()
        failed = self.failed
        return tuple(i for i in self.sent if i not in failed)

    @property
    def unknown(self) -> tuple[str, ...]:
        """IDs neither done nor failed (only when an error named no sent ID)."""
        if not self.unattributed:
            return ()
        failed = self.failed
        return tuple(i for i in self.sent if i not in failed)


class SecretPin:
    """A personal meeting PIN: it belongs in its owner's DM and nowhere else.

    repr(), str() and format() show a mask, so a PIN passed to a log call, an f-string, an
    exception or a dataclass repr prints nothing of it; `reveal()` is the one way to read it.
    It refuses to be pickled or turned into JSON, so it cannot reach the store by accident.
    """

    __slots__ = ("_value",)
    MASK = "••••••"

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretPin({self.MASK})"

    def __str__(self) -> str:
        return self.MASK

    def __format__(self, spec: str) -> str:
        return format(self.MASK, spec)

    def __reduce__(self) -> NoReturn:
        raise TypeError("a PIN is never pickled")

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretPin:
        return self  # dataclasses.asdict copies fields: the copy is the same masked object


@dataclass(frozen=True, slots=True)
class PinReset:
    """ResetPersonalPIN's answer. `user.pin_hint` keeps only the new PIN's last two digits."""

    user: ChimeUser
    pin: SecretPin


@dataclass(frozen=True, slots=True)
class UserState:
    """A user as GetUser shows them now; `user` is None when they are not in the account (a
    suspension from a Team account removes them from it)."""

    user: ChimeUser | None

    @property
    def absent(self) -> bool:
        return self.user is None

    @property
    def suspended(self) -> bool:
        return self.user is not None and self.user.registration_status == SUSPENDED

    @property
    def registration(self) -> str:
        """Registered, Unregistered or Suspended (the model's RegistrationStatus), or Absent."""
        if self.user is None:
            return ABSENT
        return self.user.registration_status or ""

    @property
    def license_type(self) -> str | None:
        return None if self.user is None else self.user.license_type
