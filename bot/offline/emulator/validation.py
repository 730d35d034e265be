"""Input rules the real service enforces server-side, and opaque pagination tokens.

botocore validates only a little client-side (required members, types, and the *minimum* of a
range or length), so a client can still send MaxResults=201, a malformed email or an unknown
UserType; the service rejects those with BadRequestException, and so do we.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from .errors import bad_request

T = TypeVar("T")

USER_TYPES = ("PrivateUser", "SharedDevice")
ACCOUNT_TYPES = ("Team", "EnterpriseDirectory", "EnterpriseLWA", "EnterpriseOIDC")
LICENSES = ("Basic", "Plus", "Pro", "ProTrial")
ACCOUNT_STATUSES = ("Active", "Suspended")  # the model's AccountStatus enum
INVITE_STATUSES = ("Pending", "Accepted", "Failed")  # InviteStatus
EMAIL_STATUSES = ("NotSent", "Sent", "Failed")  # EmailStatus
# The model's ErrorCode enum: what a UserError's ErrorCode may hold.
ERROR_CODES = (
    "BadRequest",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PreconditionFailed",
    "ResourceLimitExceeded",
    "ServiceFailure",
    "AccessDenied",
    "ServiceUnavailable",
    "Throttled",
    "Throttling",
    "Unauthorized",
    "Unprocessable",
    "VoiceConnectorGroupAssociationsExist",
    "PhoneNumberAssociationsExist",
)

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 200
MAX_INVITES = 50
MAX_USER_IDS = 50  # UserIdList's "max": 50 (BatchSuspendUser, BatchUnsuspendUser)

# Smithy patterns are not implicitly anchored, so "contains something@something.something"
# is what the model's EmailAddress pattern actually demands; search() mirrors that.
_EMAIL = re.compile(r".+@.+\..+")
_NON_BLANK = re.compile(r".*\S.*")
_INTEGER = re.compile(r"[+-]?\d+")


def _constraint(value: object, member: str, rule: str) -> str:
    # The wording AWS's validation layer uses, so messages look familiar in bot logs.
    return (
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: {rule}"
    )


def max_results(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not _INTEGER.fullmatch(raw.strip()):
        raise bad_request(_constraint(raw, "maxResults", "Member must be an integer"))
    value = int(raw)
    if not 1 <= value <= MAX_PAGE_SIZE:
        rule = f"Member must have value between 1 and {MAX_PAGE_SIZE}"
        raise bad_request(_constraint(value, "maxResults", rule))
    return value


def email(value: object, member: str) -> str:
    if not isinstance(value, str) or not _EMAIL.search(value):
        raise bad_request(_constraint(value, member, "Member must be a valid email address"))
    return value


def optional_email(value: object, member: str) -> str | None:
    return None if value is None else email(value, member)


def user_type(value: object, member: str, *, default: str | None = None) -> str | None:
    if value is None:
        return default
    if value not in USER_TYPES:
        rule = f"Member must satisfy enum value set: [{', '.join(USER_TYPES)}]"
        raise bad_request(_constraint(value, member, rule))
    return str(value)


def account_name(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 100 or not _NON_BLANK.search(value):
        rule = "Member must have length between 1 and 100 and contain a non-blank character"
        raise bad_request(_constraint(value, "name", rule))
    return value


def optional_string(value: object, member: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise bad_request(_constraint(value, member, "Member must be a string"))
    return value


def email_list(value: object) -> list[str]:
    if not isinstance(value, list):
        raise bad_request(_constraint(value, "userEmailList", "Member must be a list"))
    if not 1 <= len(value) <= MAX_INVITES:
        rule = f"Member must have length between 1 and {MAX_INVITES}"
        raise bad_request(_constraint(len(value), "userEmailList", rule))
    return [email(item, "userEmailList.member") for item in value]


def user_id_list(value: object) -> list[str]:
    """UserIdList: a list of NonEmptyString, at most 50.

    botocore checks neither the maximum nor the pattern client-side, so both reach the service.
    The model sets no minimum; an empty list is refused anyway, as `email_list` refuses an empty
    UserEmailList (which has no modeled minimum either): the strictest reading, undocumented.
    """
    if not isinstance(value, list):
        raise bad_request(_constraint(value, "userIdList", "Member must be a list"))
    if not 1 <= len(value) <= MAX_USER_IDS:
        rule = f"Member must have length between 1 and {MAX_USER_IDS}"
        raise bad_request(_constraint(len(value), "userIdList", rule))
    for item in value:
        if not isinstance(item, str) or not _NON_BLANK.search(item):
            rule = r"Member must satisfy regular expression pattern: .*\S.*"
            raise bad_request(_constraint(item, "userIdList.member", rule))
    return list(value)


def license_type(value: object, member: str) -> str:
    if value not in LICENSES:
        rule = f"Member must satisfy enum value set: [{', '.join(LICENSES)}]"
        raise bad_request(_constraint(value, member, rule))
    return str(value)


def fingerprint(*scope: Any) -> str:
    """Ties a token to the operation and filters it was issued for."""
    blob = json.dumps(scope, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def encode_token(offset: int, scope: str) -> str:
    raw = json.dumps({"o": offset, "f": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, scope: str) -> int:
    invalid = bad_request("Invalid NextToken")
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
        offset, issued_for = data["o"], data["f"]
    except (ValueError, binascii.Error, KeyError, TypeError):
        raise invalid from None
    if type(offset) is not int or offset < 0 or issued_for != scope:
        # A token replayed with different filters would silently skip or repeat items.
        raise invalid
    return offset


def paginate(
    items: Sequence[T], *, page_size: int, token: str | None, scope: str
) -> tuple[list[T], str | None]:
    start = 0 if token is None else decode_token(token, scope)
    end = start + page_size
    next_token = encode_token(end, scope) if end < len(items) else None
    return list(items[start:end]), next_token
