"""In-memory Chime accounts and users, and the service's rules for the emulated operations.

Every operation takes ``params`` keyed by the botocore model's member names (``AccountId``,
``MaxResults``...) holding the raw wire values, and returns the JSON-ready response body or raises
:class:`ChimeError`. Dicts handed out are copies, so callers can never mutate the store.

One module because the operations (lookups, adding users, and the user lifecycle: suspend,
unsuspend, sign out, PIN reset, license change) share one state and one set of validation rules
from the model; the HTTP layer and fault injection are elsewhere in bot/offline/emulator/.
"""

from __future__ import annotations

import copy
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from . import validation as v
from .errors import ChimeError, bad_request, conflict, not_found

Params = Mapping[str, Any]

BATCH_OPERATIONS = ("BatchSuspendUser", "BatchUnsuspendUser")

DEFAULT_AWS_ACCOUNT_ID = "123456789012"
_PACKAGE = __name__.rpartition(".")[0]

ACCOUNT_FIELDS = (
    "AwsAccountId",
    "AccountId",
    "Name",
    "AccountType",
    "CreatedTimestamp",
    "DefaultLicense",
    "SupportedLicenses",
    "AccountStatus",
    "SigninDelegateGroups",
)
USER_FIELDS = (
    "UserId",
    "AccountId",
    "PrimaryEmail",
    "PrimaryProvisionedNumber",
    "DisplayName",
    "LicenseType",
    "UserType",
    "UserRegistrationStatus",
    "UserInvitationStatus",
    "RegisteredOn",
    "InvitedOn",
    "AlexaForBusinessMetadata",
    "PersonalPIN",
)


def utc_now() -> str:
    """The model's Iso8601Timestamp, in the form the service sends."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_bundled_seed() -> dict[str, Any]:
    text = resources.files(_PACKAGE).joinpath("seed.json").read_text(encoding="utf-8")
    seed: dict[str, Any] = json.loads(text)
    return seed


def load_seed_file(path: str | Path) -> dict[str, Any]:
    seed: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    return seed


@dataclass(frozen=True)
class SignOut:
    """One user signed out of every device, and the call that did it."""

    account_id: str
    user_id: str
    operation: str  # LogoutUser, or BatchSuspendUser on an EnterpriseLWA account


@dataclass(frozen=True)
class InviteOutcome:
    status: str  # Invite.Status: Pending | Accepted | Failed
    email_status: str  # Invite.EmailStatus: NotSent | Sent | Failed
    keeps_user: bool = False


def _account_status(status: str) -> str:
    if status not in v.ACCOUNT_STATUSES:
        raise ValueError(f"account_status must be one of {v.ACCOUNT_STATUSES}")
    return status


def _supported_licenses(licenses: list[str]) -> list[str]:
    unknown = [name for name in licenses if name not in v.LICENSES]
    if unknown or not licenses:
        raise ValueError(f"supported_licenses must be a non-empty subset of {v.LICENSES}")
    return list(licenses)


def _new_pin(old: object) -> str:
    """A fresh 10-digit PIN, as the seed's are; never the one it replaces."""
    while True:
        pin = f"{secrets.randbelow(10**10):010d}"
        if pin != old:
            return pin


def _same_email(a: str | None, b: str) -> bool:
    return a is not None and a.casefold() == b.casefold()


class ChimeState:
    """Accounts and users, guarded by one lock so test threads can seed while the loop serves."""

    def __init__(self, seed: Mapping[str, Any]) -> None:
        self._lock = threading.RLock()
        self._accounts: dict[str, dict[str, Any]] = {}
        # account id -> user id -> user; dicts keep insertion order, which is our list order.
        self._users: dict[str, dict[str, dict[str, Any]]] = {}
        # account id -> casefolded email -> user: lookups by email stay O(1) in a big directory.
        self._by_email: dict[str, dict[str, dict[str, Any]]] = {}
        # casefolded email -> how InviteUsers answers for it (see set_invite_outcome).
        self._invite_outcomes: dict[str, InviteOutcome] = {}
        # casefolded email -> the account IDs ListAccounts(UserEmail) names (see set_email_index).
        self._email_index: dict[str, frozenset[str]] = {}
        # Every sign-out (LogoutUser, or BatchSuspendUser on EnterpriseLWA), oldest first.
        self._sign_outs: list[SignOut] = []
        # (operation, user id) -> (ErrorCode, ErrorMessage) a batch call answers for that user.
        self._user_errors: dict[tuple[str, str], tuple[str, str]] = {}
        for account in seed.get("accounts", []):
            self._load_account(account)

    def _load_account(self, raw: Mapping[str, Any]) -> None:
        for required in ("AccountId", "Name"):
            if not raw.get(required):
                raise ValueError(f"seed account lacks {required}: {raw!r}")
        account = {k: copy.deepcopy(raw[k]) for k in ACCOUNT_FIELDS if k in raw}
        account.setdefault("AwsAccountId", DEFAULT_AWS_ACCOUNT_ID)
        self._insert_account(account)
        for user in raw.get("users", []):
            self._load_user(account["AccountId"], user)

    def _load_user(self, account_id: str, raw: Mapping[str, Any]) -> None:
        # Seed users are stored verbatim (no defaults) so a seed can describe absent fields,
        # e.g. an unregistered user without RegisteredOn.
        if not raw.get("UserId") or not raw.get("PrimaryEmail"):
            raise ValueError(f"seed user lacks UserId or PrimaryEmail: {raw!r}")
        if self._user_by_email(account_id, raw["PrimaryEmail"]) is not None:
            raise ValueError(f"seed has {raw['PrimaryEmail']} twice in account {account_id}")
        user = {k: copy.deepcopy(raw[k]) for k in USER_FIELDS if k in raw}
        self._store_user({**user, "AccountId": account_id})

    def _insert_account(self, account: dict[str, Any]) -> None:
        with self._lock:
            if account["AccountId"] in self._accounts:
                raise ValueError(f"duplicate AccountId {account['AccountId']}")
            self._accounts[account["AccountId"]] = account
            self._users[account["AccountId"]] = {}
            self._by_email[account["AccountId"]] = {}

    # -- helpers for tests and seeding ---------------------------------------------------------

    def add_account(
        self,
        *,
        name: str,
        account_type: str = "EnterpriseLWA",
        account_id: str | None = None,
        default_license: str = "Pro",
        account_status: str = "Active",
        supported_licenses: list[str] | None = None,
    ) -> dict[str, Any]:
        if account_type not in v.ACCOUNT_TYPES:
            raise ValueError(f"account_type must be one of {v.ACCOUNT_TYPES}")
        if default_license not in v.LICENSES:
            raise ValueError(f"default_license must be one of {v.LICENSES}")
        account = {
            "AwsAccountId": DEFAULT_AWS_ACCOUNT_ID,
            "AccountId": account_id or str(uuid.uuid4()),
            "Name": name,
            "AccountType": account_type,
            "CreatedTimestamp": utc_now(),
            "DefaultLicense": default_license,
            "SupportedLicenses": _supported_licenses(supported_licenses or ["Basic", "Pro"]),
            "AccountStatus": _account_status(account_status),
        }
        self._insert_account(account)
        return copy.deepcopy(account)

    def set_account_status(self, account_id: str, status: str) -> None:
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                raise KeyError(f"no account {account_id}")
            account["AccountStatus"] = _account_status(status)

    def set_invite_outcome(
        self, email: str, *, status: str, email_status: str, keeps_user: bool = False
    ) -> None:
        """How InviteUsers answers for `email` from now on, until cleared.

        The model lets an Invite be Pending|Accepted|Failed with an EmailStatus of
        NotSent|Sent|Failed, but says nothing of whether a failed invitation leaves a user record
        behind. `keeps_user` chooses: False (the default) creates no user for a Failed invite,
        True creates the usual pending user anyway. The bot must be right either way.
        """
        if status not in v.INVITE_STATUSES or email_status not in v.EMAIL_STATUSES:
            raise ValueError(
                f"status must be one of {v.INVITE_STATUSES}, email_status one of {v.EMAIL_STATUSES}"
            )
        with self._lock:
            self._invite_outcomes[email.casefold()] = InviteOutcome(
                status, email_status, keeps_user
            )

    def clear_invite_outcomes(self) -> None:
        with self._lock:
            self._invite_outcomes.clear()

    def set_email_index(self, email: str, account_ids: list[str] | None) -> None:
        """Make ListAccounts(UserEmail=email) name exactly these accounts (None: the truth).

        Whether ListAccounts' UserEmail filter and ListUsers can disagree for a moment (a user
        just added, moved or removed) the Chime API reference does not say; this lets tests
        check that the bot is right either way.
        """
        with self._lock:
            if account_ids is None:
                self._email_index.pop(email.casefold(), None)
            else:
                self._email_index[email.casefold()] = frozenset(account_ids)

    def set_user_error(self, operation: str, user_id: str, code: str, message: str) -> None:
        """A batch call answers a UserError for `user_id` (leaving it as is) until cleared.

        The model says a batch call reports per-user failures in UserErrors but not which codes
        the service uses beyond an unknown ID; this lets tests reach any code of the ErrorCode
        enum, e.g. a transient ServiceFailure for one user among many.
        """
        if operation not in BATCH_OPERATIONS:
            raise ValueError(f"operation must be one of {BATCH_OPERATIONS}")
        if code not in v.ERROR_CODES:
            raise ValueError(f"code must be one of the model's ErrorCode enum {v.ERROR_CODES}")
        with self._lock:
            self._user_errors[(operation, user_id)] = (code, message)

    def clear_user_errors(self) -> None:
        with self._lock:
            self._user_errors.clear()

    def sign_outs(self) -> list[SignOut]:
        with self._lock:
            return list(self._sign_outs)

    def add_user(
        self, account_id: str, *, email: str, display_name: str = "", **fields: Any
    ) -> dict[str, Any]:
        """Adds a registered, accepted user; ``fields`` (User member names) override that."""
        allowed = set(USER_FIELDS) - {"AccountId", "PrimaryEmail"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"unsupported User fields {sorted(unknown)}; use {sorted(allowed)}")
        with self._lock:
            account = self._accounts.get(account_id)
            if account is None:
                raise KeyError(f"no account {account_id}")
            if self._user_by_email(account_id, email) is not None:
                raise ValueError(f"{email} already exists in account {account_id}")
            now = utc_now()
            user: dict[str, Any] = {
                "UserId": str(uuid.uuid4()),
                "DisplayName": display_name,
                "LicenseType": account.get("DefaultLicense", "Pro"),
                "UserType": "PrivateUser",
                "UserRegistrationStatus": "Registered",
                "UserInvitationStatus": "Accepted",
                "RegisteredOn": now,
                "InvitedOn": now,
                **copy.deepcopy(fields),
                "AccountId": account_id,
                "PrimaryEmail": email,
            }
            if user["UserRegistrationStatus"] != "Registered" and "RegisteredOn" not in fields:
                del user["RegisteredOn"]
            return copy.deepcopy(self._store_user(user))

    def find_users(self, email: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                copy.deepcopy(user)
                for users in self._users.values()
                for user in users.values()
                if _same_email(user.get("PrimaryEmail"), email)
            ]

    # -- internals ------------------------------------------------------------------------------

    def _store_user(self, user: dict[str, Any]) -> dict[str, Any]:
        users = self._users[user["AccountId"]]
        if user["UserId"] in users:
            raise ValueError(f"duplicate UserId {user['UserId']}")
        users[user["UserId"]] = user
        self._by_email[user["AccountId"]][str(user["PrimaryEmail"]).casefold()] = user
        return user

    def _account(self, account_id: str) -> dict[str, Any]:
        account = self._accounts.get(account_id)
        if account is None:
            raise not_found(f"Account {account_id} not found")
        return account

    def _user(self, account_id: str, user_id: str) -> dict[str, Any]:
        user = self._users[account_id].get(user_id)
        if user is None:
            raise not_found(f"User {user_id} not found in account {account_id}")
        return user

    def _remove_user(self, user: Mapping[str, Any]) -> None:
        del self._users[user["AccountId"]][user["UserId"]]
        del self._by_email[user["AccountId"]][str(user["PrimaryEmail"]).casefold()]

    def _user_by_email(self, account_id: str, email: str) -> dict[str, Any] | None:
        return self._by_email[account_id].get(email.casefold())

    def _new_pending_user(
        self, account: Mapping[str, Any], *, email: str, display_name: str, user_type: str
    ) -> dict[str, Any]:
        return self._store_user(
            {
                "UserId": str(uuid.uuid4()),
                "AccountId": account["AccountId"],
                "PrimaryEmail": email,
                "DisplayName": display_name,
                "LicenseType": account.get("DefaultLicense", "Pro"),
                "UserType": user_type,
                "UserRegistrationStatus": "Unregistered",
                "UserInvitationStatus": "Pending",
                "InvitedOn": utc_now(),
            }
        )

    # -- operations -----------------------------------------------------------------------------

    def list_accounts(self, params: Params) -> dict[str, Any]:
        name = v.account_name(params.get("Name"))
        email = v.optional_email(params.get("UserEmail"), "userEmail")
        page_size = v.max_results(params.get("MaxResults"))
        with self._lock:
            matches = [
                account
                for account in self._accounts.values()
                if self._account_matches(account, name, email)
            ]
            scope = v.fingerprint("ListAccounts", name, email and email.casefold())
            page, token = v.paginate(
                matches, page_size=page_size, token=params.get("NextToken"), scope=scope
            )
            return _with_token({"Accounts": copy.deepcopy(page)}, token)

    def _account_matches(
        self, account: Mapping[str, Any], name: str | None, email: str | None
    ) -> bool:
        # The model documents `name` as an "account name prefix with which to filter results"
        # (ListAccountsRequest.Name). Whether it ignores case, the docs do not say: we take the
        # strictest reading, a case-sensitive prefix, so that a client relying on anything
        # looser (case folding, substrings) fails here rather than against AWS.
        if name is not None and not account["Name"].startswith(name):
            return False
        if email is not None and email.casefold() in self._email_index:
            return account["AccountId"] in self._email_index[email.casefold()]
        return email is None or self._user_by_email(account["AccountId"], email) is not None

    def list_users(self, params: Params) -> dict[str, Any]:
        email = v.optional_email(params.get("UserEmail"), "userEmail")
        user_type = v.user_type(params.get("UserType"), "userType")
        page_size = v.max_results(params.get("MaxResults"))
        with self._lock:
            account_id = self._account(params["AccountId"])["AccountId"]
            if email is None:
                candidates = list(self._users[account_id].values())
            else:
                found = self._user_by_email(account_id, email)
                candidates = [found] if found is not None else []
            matches = [u for u in candidates if user_type is None or u.get("UserType") == user_type]
            scope = v.fingerprint("ListUsers", account_id, email and email.casefold(), user_type)
            page, token = v.paginate(
                matches, page_size=page_size, token=params.get("NextToken"), scope=scope
            )
            return _with_token({"Users": copy.deepcopy(page)}, token)

    def get_user(self, params: Params) -> dict[str, Any]:
        with self._lock:
            account_id = self._account(params["AccountId"])["AccountId"]
            return {"User": copy.deepcopy(self._user(account_id, params["UserId"]))}

    def create_user(self, params: Params) -> dict[str, Any]:
        # Input is validated before any lookup, as AWS's front door does.
        username = v.optional_string(params.get("Username"), "username")
        if params.get("Email") is None:
            raise bad_request("Email is required")
        email = v.email(params.get("Email"), "email")
        user_type = v.user_type(params.get("UserType"), "userType", default="PrivateUser")
        with self._lock:
            account = self._account(params["AccountId"])
            if account.get("AccountType") == "Team":
                raise bad_request("CreateUser is not supported for Team accounts; use InviteUsers")
            if self._user_by_email(account["AccountId"], email) is not None:
                raise conflict(f"User with email {email} already exists in the account")
            user = self._new_pending_user(
                account, email=email, display_name=username or "", user_type=str(user_type)
            )
            return {"User": copy.deepcopy(user)}

    def invite_users(self, params: Params) -> dict[str, Any]:
        if params.get("UserEmailList") is None:
            raise bad_request("UserEmailList is required")
        emails = v.email_list(params.get("UserEmailList"))
        user_type = v.user_type(params.get("UserType"), "userType", default="PrivateUser")
        with self._lock:
            account = self._account(params["AccountId"])
            if account.get("AccountType") != "Team":
                raise bad_request("InviteUsers is only supported for Team accounts")
            invites = [self._invite(account, email, str(user_type)) for email in emails]
            return {"Invites": invites}

    def _invite(self, account: Mapping[str, Any], email: str, user_type: str) -> dict[str, Any]:
        outcome = self._invite_outcomes.get(email.casefold(), InviteOutcome("Pending", "Sent"))
        user = self._user_by_email(account["AccountId"], email)
        if outcome.status == "Failed" and not outcome.keeps_user:
            return {
                "InviteId": str(uuid.uuid4()),
                "Status": outcome.status,
                "EmailAddress": email,
                "EmailStatus": outcome.email_status,
            }
        if user is None:
            user = self._new_pending_user(
                account, email=email, display_name="", user_type=user_type
            )
        elif user.get("UserInvitationStatus") != "Accepted":
            # Re-sending a pending invite refreshes it; a member who already joined is left as is.
            user["InvitedOn"] = utc_now()
        if user.get("UserInvitationStatus") != "Accepted":
            user["UserInvitationStatus"] = "Failed" if outcome.status == "Failed" else "Pending"
        return {
            "InviteId": str(uuid.uuid4()),
            "Status": outcome.status,
            "EmailAddress": user["PrimaryEmail"],
            "EmailStatus": outcome.email_status,
        }

    # -- the user lifecycle -------------------------------------------------------------------
    #
    # Quotations are from the operations' documentation in botocore's model
    # (chime/2018-05-01/service-2.json), which is the AWS API reference text.

    def batch_suspend_user(self, params: Params) -> dict[str, Any]:
        """BatchSuspendUser: POST /accounts/{accountId}/users?operation=suspend, 200.

        "Suspends up to 50 users from a Team or EnterpriseLWA Amazon Chime account." "Users
        suspended from a Team account are disassociated from the account, but they can continue
        to use Amazon Chime as free users. To remove the suspension [...], invite them to the
        Team account again." "Users suspended from an EnterpriseLWA account are immediately
        signed out of Amazon Chime and can no longer sign in."

        Undocumented, and chosen here: other account types (EnterpriseDirectory,
        EnterpriseOIDC) are refused as a whole with BadRequestException, as InviteUsers refuses
        non-Team accounts; suspending an already suspended EnterpriseLWA user is ignored (no
        UserError, no second sign-out), mirroring BatchUnsuspendUser's documented "users who are
        not previously suspended are ignored"; an ID listed twice is handled once.
        """
        ids = v.user_id_list(params.get("UserIdList"))
        with self._lock:
            account = self._account(params["AccountId"])
            if account.get("AccountType") not in ("Team", "EnterpriseLWA"):
                raise bad_request(
                    "BatchSuspendUser is only supported for Team and EnterpriseLWA accounts"
                )
            return self._per_user("BatchSuspendUser", account, ids, self._suspend)

    def _suspend(self, account: Mapping[str, Any], user: dict[str, Any]) -> None:
        if account.get("AccountType") == "Team":
            # Disassociated: gone from ListUsers, GetUser and ListAccounts(UserEmail). A later
            # InviteUsers makes a new pending user; whether AWS reuses the old UserId is
            # undocumented, so the emulator issues a new one and a client must not rely on it.
            self._remove_user(user)
        elif user.get("UserRegistrationStatus") != "Suspended":
            user["UserRegistrationStatus"] = "Suspended"
            self._sign_outs.append(
                SignOut(account["AccountId"], user["UserId"], "BatchSuspendUser")
            )

    def batch_unsuspend_user(self, params: Params) -> dict[str, Any]:
        """BatchUnsuspendUser: POST /accounts/{accountId}/users?operation=unsuspend, 200.

        "Only users on EnterpriseLWA accounts can be unsuspended using this action." "Previously
        suspended users who are unsuspended using this action are returned to Registered status.
        Users who are not previously suspended are ignored." What other account types answer
        is undocumented: BadRequestException here, the request as a whole.
        """
        ids = v.user_id_list(params.get("UserIdList"))
        with self._lock:
            account = self._account(params["AccountId"])
            if account.get("AccountType") != "EnterpriseLWA":
                raise bad_request("BatchUnsuspendUser is only supported for EnterpriseLWA accounts")
            return self._per_user("BatchUnsuspendUser", account, ids, _unsuspend)

    def _per_user(
        self,
        operation: str,
        account: Mapping[str, Any],
        ids: list[str],
        act: Callable[[Mapping[str, Any], dict[str, Any]], None],
    ) -> dict[str, Any]:
        """Acts on each user; failures go to UserErrors (UserId, ErrorCode, ErrorMessage)."""
        errors: list[dict[str, str]] = []
        for user_id in dict.fromkeys(ids):
            try:
                injected = self._user_errors.get((operation, user_id))
                if injected is not None:
                    errors.append(
                        {"UserId": user_id, "ErrorCode": injected[0], "ErrorMessage": injected[1]}
                    )
                    continue
                act(account, self._user(account["AccountId"], user_id))
            except ChimeError as err:
                errors.append(
                    {"UserId": user_id, "ErrorCode": err.code, "ErrorMessage": err.message}
                )
        # UserErrors is optional in the response shape; whether the service sends an empty list
        # is undocumented, so it is left out (the stricter reading for a client: use .get()).
        return {"UserErrors": errors} if errors else {}

    def logout_user(self, params: Params) -> dict[str, Any]:
        """LogoutUser: POST /accounts/{accountId}/users/{userId}?operation=logout, 204, no body.

        "Logs out the specified user from all of the devices they are currently logged into."
        The account type is not restricted by the documentation, so none is here.
        """
        with self._lock:
            account_id = self._account(params["AccountId"])["AccountId"]
            user = self._user(account_id, params["UserId"])
            self._sign_outs.append(SignOut(account_id, user["UserId"], "LogoutUser"))
            return {}

    def reset_personal_pin(self, params: Params) -> dict[str, Any]:
        """ResetPersonalPIN: POST /accounts/{accountId}/users/{userId}?operation=reset-personal-pin.

        "Resets the personal meeting PIN for the specified user [...]. Returns the User object
        with the updated personal meeting PIN." A fresh PIN on every call, never the old one.
        """
        with self._lock:
            account_id = self._account(params["AccountId"])["AccountId"]
            user = self._user(account_id, params["UserId"])
            user["PersonalPIN"] = _new_pin(user.get("PersonalPIN"))
            return {"User": copy.deepcopy(user)}

    def update_user(self, params: Params) -> dict[str, Any]:
        """UpdateUser: POST /accounts/{accountId}/users/{userId}, 200, answers the User.

        "Currently, only LicenseType updates are supported for this action", and LicenseType
        "must be a supported license type for the Amazon Chime account that the user belongs
        to" (the Account's SupportedLicenses). The request shape also has UserType and
        AlexaForBusinessMetadata; what the service does with them, or with no LicenseType at
        all, is undocumented: the emulator refuses both (the strictest reading).
        """
        others = [k for k in ("UserType", "AlexaForBusinessMetadata") if params.get(k) is not None]
        if others:
            raise bad_request(f"Only LicenseType updates are supported; not {', '.join(others)}")
        if params.get("LicenseType") is None:
            raise bad_request("LicenseType is required: only LicenseType updates are supported")
        license_type = v.license_type(params["LicenseType"], "licenseType")
        with self._lock:
            account = self._account(params["AccountId"])
            user = self._user(account["AccountId"], params["UserId"])
            # An account stored without SupportedLicenses (a seed may omit it) supports only
            # its DefaultLicense: the narrowest reading.
            supported = account.get("SupportedLicenses") or [account.get("DefaultLicense")]
            if license_type not in supported:
                raise bad_request(
                    f"License {license_type} is not supported by account {account['AccountId']}; "
                    f"supported: {', '.join(str(name) for name in supported)}"
                )
            user["LicenseType"] = license_type
            return {"User": copy.deepcopy(user)}

    def dispatch(self, operation: str) -> Callable[[Params], dict[str, Any]]:
        return {
            "ListAccounts": self.list_accounts,
            "ListUsers": self.list_users,
            "GetUser": self.get_user,
            "CreateUser": self.create_user,
            "InviteUsers": self.invite_users,
            "BatchSuspendUser": self.batch_suspend_user,
            "BatchUnsuspendUser": self.batch_unsuspend_user,
            "LogoutUser": self.logout_user,
            "ResetPersonalPIN": self.reset_personal_pin,
            "UpdateUser": self.update_user,
        }[operation]


def _unsuspend(account: Mapping[str, Any], user: dict[str, Any]) -> None:
    if user.get("UserRegistrationStatus") == "Suspended":
        user["UserRegistrationStatus"] = "Registered"


def _with_token(body: dict[str, Any], token: str | None) -> dict[str, Any]:
    # The service omits NextToken on the last page rather than sending null.
    if token is not None:
        body["NextToken"] = token
    return body
