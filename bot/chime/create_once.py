"""CreateUser exactly once, and the truth about who created the user.

CreateUser is not idempotent: sent twice, the second meets the first one's user and gets a
ConflictException. So after an answer that leaves the effect unknown (5xx, timeout, dropped
connection, unreadable reply) CreateUser is never sent again before the email is looked up in
the account (ListUsers by email): if the user is there, this request created them; if not, it is
sent again within the approval's retry budget. "Already existed" is said only for a conflict on
the request's very first attempt: the user was there before this request did anything.
"""

from __future__ import annotations

import logging

from bot.chime.directory import Directory
from bot.errors import ChimeConflict, ChimeError, ChimeUnavailable
from bot.models import Account, CreatedUser, UserRecord, UserType

log = logging.getLogger("chime_bot.chime")


async def create_once(
    directory: Directory,
    account: Account,
    email: str,
    user_type: UserType,
    *,
    first_attempt: bool = True,
) -> CreatedUser:
    """`first_attempt`: no earlier execution of this request has sent CreateUser."""
    calls = directory.calls
    clock, policy = calls.clock, calls.retry
    started = clock.monotonic()
    uncertain = not first_attempt  # an earlier attempt may have created the user
    attempt = 0
    while True:
        try:
            user = await directory.send_create_user(account, email, user_type, started=started)
            return CreatedUser(user, existed=False)
        except ChimeConflict:
            found = await directory.user_in(account, email, patient=True)
            return CreatedUser(
                found.user if found else None, existed=not uncertain, confirmed=uncertain
            )
        except ChimeUnavailable as exc:
            if not exc.effect_unknown:
                raise
            uncertain = True
            found = await _look(directory, account, email, exc)
            if found is not None:
                return CreatedUser(found.user, existed=False, confirmed=True)
            delay = policy.backoff(attempt, calls.rng)
            if clock.monotonic() - started + delay >= policy.budget:
                raise
            attempt += 1
            log.info("CreateUser did not take effect (%s); sending it again", exc.code)
            await clock.sleep(delay)


async def _look(
    directory: Directory, account: Account, email: str, exc: ChimeUnavailable
) -> UserRecord | None:
    try:
        return await directory.user_in(account, email, patient=True)
    except ChimeError as lookup:
        raise ChimeUnavailable(
            "CreateUser",
            f"CreateUser got no usable answer ({exc.code}) and Amazon Chime could not be "
            f"asked whether it took effect ({lookup.code or type(lookup).__name__}).",
            code=exc.code,
            effect_unknown=True,
        ) from lookup
