"""Plain data the bot passes between its parts: Chime records as the bot sees them.

Kept free of boto3 and Slack so that rendering and storage can be tested on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class UserType(StrEnum):
    PRIVATE = "PrivateUser"
    SHARED_DEVICE = "SharedDevice"


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    name: str
    account_type: str  # Team | EnterpriseDirectory | EnterpriseLWA | EnterpriseOIDC
    default_license: str | None = None
    status: str | None = None  # AccountStatus: Active | Suspended (absent: not said)
    # The model's SupportedLicenses (Basic | Plus | Pro | ProTrial); empty: not said.
    supported_licenses: tuple[str, ...] = ()

    @property
    def is_suspended(self) -> bool:
        return self.status == "Suspended"

    @property
    def is_team(self) -> bool:
        # The service accepts CreateUser only on Enterprise accounts; Team accounts take invites.
        return self.account_type == "Team"

    @property
    def create_operation(self) -> str:
        return "InviteUsers" if self.is_team else "CreateUser"

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> Account:
        return cls(
            account_id=raw["AccountId"],
            name=raw.get("Name", ""),
            account_type=raw.get("AccountType", ""),
            default_license=raw.get("DefaultLicense"),
            status=raw.get("AccountStatus"),
            supported_licenses=tuple(
                str(x) for x in raw.get("SupportedLicenses") or () if isinstance(x, str)
            ),
        )


@dataclass(frozen=True, slots=True)
class ChimeUser:
    user_id: str
    email: str
    display_name: str
    license_type: str | None
    user_type: str | None
    registration_status: str | None
    invitation_status: str | None
    registered_on: datetime | None
    invited_on: datetime | None
    has_phone_number: bool
    # Only the last two digits are kept: the full PIN must never reach a card or a log.
    pin_hint: str | None

    @property
    def is_suspended(self) -> bool:
        # RegistrationStatus "Suspended": an EnterpriseLWA user after BatchSuspendUser. A Team
        # account's suspended users are not in it at all.
        return self.registration_status == "Suspended"

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> ChimeUser:
        pin = raw.get("PersonalPIN") or ""
        return cls(
            user_id=raw["UserId"],
            email=raw.get("PrimaryEmail", ""),
            display_name=raw.get("DisplayName", ""),
            license_type=raw.get("LicenseType"),
            user_type=raw.get("UserType"),
            registration_status=raw.get("UserRegistrationStatus"),
            invitation_status=raw.get("UserInvitationStatus"),
            registered_on=raw.get("RegisteredOn"),
            invited_on=raw.get("InvitedOn"),
            has_phone_number=bool(raw.get("PrimaryProvisionedNumber")),
            pin_hint=pin[-2:] if len(pin) >= 6 else ("set" if pin else None),
        )


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A lookup result: the user and the account that holds them."""

    account: Account
    user: ChimeUser


@dataclass(frozen=True, slots=True)
class InviteResult:
    invite_id: str
    status: str | None
    email_status: str | None


@dataclass(frozen=True, slots=True)
class CreatedUser:
    """What CreateUser achieved for one request."""

    user: ChimeUser | None  # None only if Chime would not show the user afterwards
    existed: bool  # the user was there before this request's first attempt: nothing created
    confirmed: bool = False  # CreateUser's own answer was lost; a lookup found the user
