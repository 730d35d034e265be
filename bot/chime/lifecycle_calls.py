"""The user lifecycle's Chime calls: BatchSuspendUser, BatchUnsuspendUser, LogoutUser,
ResetPersonalPIN, UpdateUser(LicenseType), and GetUser to read a user's state afresh. Their
answers are the typed values of `bot.chime.lifecycle`; `Directory` (bot.chime.directory) is a
`UserLifecycle`, so the approval engine asks one object for everything Chime does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from botocore.parsers import ResponseParserError

from bot.chime.calls import Calls
from bot.chime.lifecycle import BatchOutcome, PinReset, SecretPin, UserState, batch_ids
from bot.errors import ChimeNotFound
from bot.models import Account, ChimeUser


@dataclass
class UserLifecycle:
    client: Any
    calls: Calls

    # Which of these is sent again when its answer leaves the effect unknown (5xx, timeout,
    # dropped connection, unreadable reply)? botocore's Chime model marks none of them
    # idempotent and gives none an idempotency token (chime/2018-05-01/service-2.json), and
    # botocore's `standard` retry mode would resend any of them after a 500/502/503/504 or a
    # dropped connection (botocore.retries.standard: _TRANSIENT_STATUS_CODES,
    # _TRANSIENT_EXCEPTION_CLS), whatever it does. So the client makes one attempt
    # (bot.chime.client) and `Calls.run` decides per call: throttling (nothing happened) is
    # retried for all of them; a lost answer only for those marked idempotent below.

    async def suspend_users(self, account: Account, user_ids: Iterable[str]) -> BatchOutcome:
        """One BatchSuspendUser for up to 50 users (each sent once); what it answered for each.

        Not sent again after a lost answer: on a Team account the first call removes the users,
        and a repeat would answer NotFound for each, a failure for a change that was made.
        `ChimeUnavailable.effect_unknown` is raised for the caller to settle with `user_state`
        (EnterpriseLWA: Suspended; Team: absent)."""
        return await self._batch(
            "BatchSuspendUser", "batch_suspend_user", account, user_ids, idempotent=False
        )

    async def unsuspend_users(self, account: Account, user_ids: Iterable[str]) -> BatchOutcome:
        """One BatchUnsuspendUser (EnterpriseLWA accounts only) for up to 50 users.

        Sent again after a lost answer: the model says "users who are not previously suspended
        are ignored", so a repeat finds them unsuspended and changes nothing."""
        return await self._batch(
            "BatchUnsuspendUser", "batch_unsuspend_user", account, user_ids, idempotent=True
        )

    async def logout_user(self, account: Account, user_id: str) -> None:
        """LogoutUser: signs the user out of every device (HTTP 204, no body).

        Sent again after a lost answer: signing out someone signed out leaves them signed out,
        which is what was asked."""
        await self.calls.run(
            "LogoutUser",
            lambda: self.client.logout_user(AccountId=account.account_id, UserId=user_id),
            self.calls.retry,
        )

    async def reset_personal_pin(self, account: Account, user_id: str) -> PinReset:
        """ResetPersonalPIN: the user and their new PIN, which only `SecretPin.reveal()` shows.

        Not sent again after a lost answer: every call makes a new PIN, and a first call that
        only looked lost (a stall) may land after the repeat, so the PIN the bot received
        would not be the one in force. `ChimeUnavailable.effect_unknown` is raised; a reset
        sent again later by its caller replaces a PIN nobody was shown, and harms no one."""

        async def reset() -> dict[str, Any]:
            raw = await self.client.reset_personal_pin(AccountId=account.account_id, UserId=user_id)
            user = _user_in_reply(raw)
            if not isinstance(user.get("PersonalPIN"), str) or not user["PersonalPIN"]:
                raise ResponseParserError("ResetPersonalPIN's reply has no PersonalPIN")
            return user

        user = await self.calls.run("ResetPersonalPIN", reset, self.calls.retry, idempotent=False)
        pin = str(user["PersonalPIN"])
        return PinReset(ChimeUser.from_api(user), SecretPin(pin))

    async def update_license(self, account: Account, user_id: str, license_type: str) -> ChimeUser:
        """UpdateUser with LicenseType only ("only LicenseType updates are supported").

        Sent again after a lost answer: setting the same license twice leaves the same license."""

        async def update() -> dict[str, Any]:
            return _user_in_reply(
                await self.client.update_user(
                    AccountId=account.account_id, UserId=user_id, LicenseType=license_type
                )
            )

        return ChimeUser.from_api(await self.calls.run("UpdateUser", update, self.calls.retry))

    async def user_state(
        self, account: Account, user_id: str, *, patient: bool = True
    ) -> UserState:
        """GetUser, read afresh: how to settle a change whose answer was lost. A user not in the
        account (NotFound; a Team suspension removes them) is absent. `patient` (the default):
        an approval's budget, since settling runs behind a working card."""
        policy = self.calls.retry if patient else self.calls.interactive
        try:
            detail = await self.calls.run(
                "GetUser",
                lambda: self.client.get_user(AccountId=account.account_id, UserId=user_id),
                policy,
            )
        except ChimeNotFound:
            return UserState(None)
        return UserState(ChimeUser.from_api(detail["User"]))

    async def _batch(
        self,
        operation: str,
        method: str,
        account: Account,
        user_ids: Iterable[str],
        *,
        idempotent: bool,
    ) -> BatchOutcome:
        ids = batch_ids(operation, user_ids)  # before any call: at most 50, each once
        fn = getattr(self.client, method)
        raw = await self.calls.run(
            operation,
            lambda: fn(AccountId=account.account_id, UserIdList=ids),
            self.calls.retry,
            idempotent=idempotent,
        )
        return BatchOutcome.from_api(ids, raw if isinstance(raw, dict) else {})


def _user_in_reply(raw: object) -> dict[str, Any]:
    """The User in a write's answer. An answer without one is unreadable: its effect is
    unknown (`bot.chime.errors`), so `Calls.run` repeats it only if the call is idempotent."""
    user = raw.get("User") if isinstance(raw, dict) else None
    if not isinstance(user, dict) or not user.get("UserId"):
        raise ResponseParserError("the reply has no User")
    return user
