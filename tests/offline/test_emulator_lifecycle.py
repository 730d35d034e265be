"""The emulator's user-lifecycle calls (BatchSuspendUser, BatchUnsuspendUser, LogoutUser,
ResetPersonalPIN, UpdateUser), driven by real boto3 over HTTP: botocore parsing every answer is
part of each test, as is GetUser/ListUsers showing the new state afterwards."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ConnectionClosedError

from bot.offline.emulator import ChimeEmulator, Fault, SignOut
from tests.offline import test_emulator
from tests.offline.test_emulator import (
    ADA,
    CORP,
    FAKE_AUTH,
    LABS,
    TEAM,
    control,
    error_of,
    raw,
)

# The emulator tests' fixtures: a running emulator (`emu`, `url`) and a boto3 client (`chime`).
boto_session = test_emulator.boto_session
emu = test_emulator.emu
url = test_emulator.url
chime = test_emulator.chime

ALAN = "a0000000-5e3d-4b8a-9f21-000000000004"
LINUS = "a0000000-5e3d-4b8a-9f21-000000000101"
KEN = "a0000000-5e3d-4b8a-9f21-000000000201"
SEED_ADA_PIN = "4839201756"


def status_of(chime: BaseClient, account: str, user: str) -> str:
    return str(chime.get_user(AccountId=account, UserId=user)["User"]["UserRegistrationStatus"])


def many_users(emu: ChimeEmulator, account: str, count: int) -> list[str]:
    return [emu.add_user(account, email=f"bulk{n}@example.com")["UserId"] for n in range(count)]


# -- BatchSuspendUser --------------------------------------------------------------------------


def test_suspend_on_enterprise_lwa_marks_users_suspended_and_signs_them_out(
    chime: BaseClient, emu: ChimeEmulator
) -> None:
    response = chime.batch_suspend_user(AccountId=CORP, UserIdList=[ADA, ALAN])

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response.get("UserErrors", []) == []
    assert status_of(chime, CORP, ADA) == "Suspended"
    listed = {u["UserId"]: u for u in chime.list_users(AccountId=CORP)["Users"]}
    assert listed[ALAN]["UserRegistrationStatus"] == "Suspended"
    assert listed[ADA]["PrimaryEmail"] == "ada@example.com", "still in the account"
    assert emu.sign_outs == [
        SignOut(CORP, ADA, "BatchSuspendUser"),
        SignOut(CORP, ALAN, "BatchSuspendUser"),
    ]


def test_suspend_on_team_removes_users_and_an_invite_brings_them_back(
    chime: BaseClient, emu: ChimeEmulator
) -> None:
    response = chime.batch_suspend_user(AccountId=TEAM, UserIdList=[LINUS])

    assert response.get("UserErrors", []) == []
    with pytest.raises(chime.exceptions.NotFoundException):
        chime.get_user(AccountId=TEAM, UserId=LINUS)
    assert chime.list_users(AccountId=TEAM, UserEmail="linus@example.org")["Users"] == []
    accounts = chime.list_accounts(UserEmail="linus@example.org")["Accounts"]
    assert TEAM not in [a["AccountId"] for a in accounts]

    chime.invite_users(AccountId=TEAM, UserEmailList=["linus@example.org"])
    (back,) = chime.list_users(AccountId=TEAM, UserEmail="linus@example.org")["Users"]
    assert back["UserInvitationStatus"] == "Pending"


def test_suspend_reports_unknown_ids_in_user_errors_and_suspends_the_rest(
    chime: BaseClient,
) -> None:
    response = chime.batch_suspend_user(AccountId=CORP, UserIdList=["nobody", ADA])

    assert response["UserErrors"] == [
        {
            "UserId": "nobody",
            "ErrorCode": "NotFound",
            "ErrorMessage": f"User nobody not found in account {CORP}",
        }
    ]
    assert status_of(chime, CORP, ADA) == "Suspended"


def test_suspending_someone_already_suspended_is_ignored(
    chime: BaseClient, emu: ChimeEmulator
) -> None:
    chime.batch_suspend_user(AccountId=CORP, UserIdList=[ADA])
    again = chime.batch_suspend_user(AccountId=CORP, UserIdList=[ADA])

    assert again.get("UserErrors", []) == []
    assert status_of(chime, CORP, ADA) == "Suspended"
    assert len(emu.sign_outs) == 1, "nobody was signed in to sign out the second time"


@pytest.mark.parametrize("account_type", ["EnterpriseOIDC", "EnterpriseDirectory"])
def test_suspend_refused_on_directory_accounts(
    chime: BaseClient, emu: ChimeEmulator, account_type: str
) -> None:
    account = emu.add_account(name="Directory", account_type=account_type)["AccountId"]
    user = emu.add_user(account, email="dir@example.net")["UserId"]

    for account_id, user_id in ((LABS, KEN), (account, user)):
        with pytest.raises(chime.exceptions.BadRequestException) as excinfo:
            chime.batch_suspend_user(AccountId=account_id, UserIdList=[user_id])
        assert "only supported for Team and EnterpriseLWA accounts" in error_of(excinfo)[1]
        assert status_of(chime, account_id, user_id) == "Registered"


def test_injected_user_error_fails_that_user_only(chime: BaseClient, emu: ChimeEmulator) -> None:
    emu.set_user_error("BatchSuspendUser", ALAN, "ServiceFailure", "try again later")

    response = chime.batch_suspend_user(AccountId=CORP, UserIdList=[ADA, ALAN])

    assert response["UserErrors"] == [
        {"UserId": ALAN, "ErrorCode": "ServiceFailure", "ErrorMessage": "try again later"}
    ]
    assert status_of(chime, CORP, ALAN) == "Registered"
    assert status_of(chime, CORP, ADA) == "Suspended"

    emu.clear_user_errors()
    assert chime.batch_suspend_user(AccountId=CORP, UserIdList=[ALAN]).get("UserErrors", []) == []
    assert status_of(chime, CORP, ALAN) == "Suspended"


def test_injected_user_errors_follow_the_model(emu: ChimeEmulator) -> None:
    with pytest.raises(ValueError):
        emu.set_user_error("BatchSuspendUser", ADA, "Oops")
    with pytest.raises(ValueError):
        emu.set_user_error("LogoutUser", ADA, "NotFound")


# -- BatchUnsuspendUser ------------------------------------------------------------------------


def test_unsuspend_returns_suspended_users_to_registered_and_ignores_the_rest(
    chime: BaseClient,
) -> None:
    chime.batch_suspend_user(AccountId=CORP, UserIdList=[ADA])

    response = chime.batch_unsuspend_user(AccountId=CORP, UserIdList=[ADA, ALAN, "nobody"])

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [(e["UserId"], e["ErrorCode"]) for e in response["UserErrors"]] == [
        ("nobody", "NotFound")
    ]
    assert status_of(chime, CORP, ADA) == "Registered"
    assert status_of(chime, CORP, ALAN) == "Registered"


@pytest.mark.parametrize(("account", "user"), [(TEAM, LINUS), (LABS, KEN)])
def test_unsuspend_refused_outside_enterprise_lwa(
    chime: BaseClient, account: str, user: str
) -> None:
    with pytest.raises(chime.exceptions.BadRequestException) as excinfo:
        chime.batch_unsuspend_user(AccountId=account, UserIdList=[user])

    assert error_of(excinfo) == (
        "BadRequestException",
        "BatchUnsuspendUser is only supported for EnterpriseLWA accounts",
        400,
    )


# -- both batch calls --------------------------------------------------------------------------

BATCHES = ["batch_suspend_user", "batch_unsuspend_user"]


@pytest.mark.parametrize("method", BATCHES)
def test_batch_takes_up_to_50_ids(chime: BaseClient, emu: ChimeEmulator, method: str) -> None:
    ids = many_users(emu, CORP, 50)
    if method == "batch_unsuspend_user":
        chime.batch_suspend_user(AccountId=CORP, UserIdList=ids)

    response = getattr(chime, method)(AccountId=CORP, UserIdList=ids)

    assert response.get("UserErrors", []) == []
    expected = "Suspended" if method == "batch_suspend_user" else "Registered"
    assert {status_of(chime, CORP, u) for u in ids} == {expected}


@pytest.mark.parametrize("method", BATCHES)
@pytest.mark.parametrize("count", [0, 51])
def test_batch_refuses_empty_or_more_than_50_ids(
    chime: BaseClient, emu: ChimeEmulator, method: str, count: int
) -> None:
    chime.batch_suspend_user(AccountId=CORP, UserIdList=[ADA])
    others = many_users(emu, CORP, count - 1) if count else []
    ids = [*others, ADA] if count else []
    assert len(ids) == count

    with pytest.raises(chime.exceptions.BadRequestException) as excinfo:
        getattr(chime, method)(AccountId=CORP, UserIdList=ids)

    assert "userIdList" in error_of(excinfo)[1]
    assert {status_of(chime, CORP, u) for u in others} <= {"Registered"}
    assert status_of(chime, CORP, ADA) == "Suspended", "nothing changed"


@pytest.mark.parametrize("method", BATCHES)
def test_batch_refuses_blank_ids_and_unknown_accounts(chime: BaseClient, method: str) -> None:
    with pytest.raises(chime.exceptions.BadRequestException):
        getattr(chime, method)(AccountId=CORP, UserIdList=[ADA, "  "])
    with pytest.raises(chime.exceptions.NotFoundException):
        getattr(chime, method)(AccountId="missing", UserIdList=[ADA])
    assert status_of(chime, CORP, ADA) == "Registered"


# -- LogoutUser --------------------------------------------------------------------------------


def test_logout_answers_204_and_records_the_sign_out(chime: BaseClient, emu: ChimeEmulator) -> None:
    response = chime.logout_user(AccountId=CORP, UserId=ADA)

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert emu.sign_outs == [SignOut(CORP, ADA, "LogoutUser")]
    assert status_of(chime, CORP, ADA) == "Registered", "signed out, not suspended"


def test_logout_of_an_unknown_user_is_not_found(chime: BaseClient, emu: ChimeEmulator) -> None:
    with pytest.raises(chime.exceptions.NotFoundException):
        chime.logout_user(AccountId=CORP, UserId="nobody")
    with pytest.raises(chime.exceptions.NotFoundException):
        chime.logout_user(AccountId="missing", UserId=ADA)
    assert emu.sign_outs == []


def test_logout_204_has_no_body(url: str) -> None:
    request = urllib.request.Request(
        f"{url}/accounts/{CORP}/users/{ADA}?operation=logout", data=b"", method="POST"
    )
    request.add_header("Authorization", FAKE_AUTH)
    with urllib.request.urlopen(request, timeout=5) as response:
        assert (response.status, response.read()) == (204, b"")


# -- ResetPersonalPIN --------------------------------------------------------------------------


def test_reset_pin_returns_the_user_with_a_fresh_pin_each_time(chime: BaseClient) -> None:
    first = chime.reset_personal_pin(AccountId=CORP, UserId=ADA)["User"]
    second = chime.reset_personal_pin(AccountId=CORP, UserId=ADA)["User"]

    pins = [SEED_ADA_PIN, first["PersonalPIN"], second["PersonalPIN"]]
    assert len(set(pins)) == 3
    assert all(pin.isdigit() and len(pin) == 10 for pin in pins)
    assert (second["UserId"], second["PrimaryEmail"]) == (ADA, "ada@example.com")
    assert chime.get_user(AccountId=CORP, UserId=ADA)["User"] == second


def test_reset_pin_of_an_unknown_user_is_not_found(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.NotFoundException) as excinfo:
        chime.reset_personal_pin(AccountId=CORP, UserId="nobody")
    assert error_of(excinfo)[1] == f"User nobody not found in account {CORP}"


# -- UpdateUser --------------------------------------------------------------------------------


def test_update_user_changes_only_the_license(chime: BaseClient) -> None:
    before = chime.get_user(AccountId=CORP, UserId=ADA)["User"]

    updated = chime.update_user(AccountId=CORP, UserId=ADA, LicenseType="Basic")["User"]

    assert updated == {**before, "LicenseType": "Basic"}
    assert chime.get_user(AccountId=CORP, UserId=ADA)["User"] == updated


@pytest.mark.parametrize("license_type", ["Plus", "ProTrial", "Gold"])
def test_update_user_refuses_a_license_the_account_does_not_support(
    chime: BaseClient, license_type: str
) -> None:
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.update_user(AccountId=CORP, UserId=ADA, LicenseType=license_type)
    assert chime.get_user(AccountId=CORP, UserId=ADA)["User"]["LicenseType"] == "Pro"


def test_update_user_follows_the_accounts_supported_licenses(
    chime: BaseClient, emu: ChimeEmulator
) -> None:
    account = emu.add_account(name="Wide", supported_licenses=["Basic", "Plus", "Pro", "ProTrial"])
    (listed,) = [a for a in chime.list_accounts()["Accounts"] if a["Name"] == "Wide"]
    assert listed["SupportedLicenses"] == ["Basic", "Plus", "Pro", "ProTrial"]
    user = emu.add_user(account["AccountId"], email="wide@example.com")["UserId"]

    updated = chime.update_user(AccountId=account["AccountId"], UserId=user, LicenseType="Plus")

    assert updated["User"]["LicenseType"] == "Plus"
    with pytest.raises(ValueError):
        emu.add_account(name="Bad", supported_licenses=["Gold"])


@pytest.mark.parametrize(
    "change",
    [{}, {"UserType": "SharedDevice"}, {"LicenseType": "Basic", "UserType": "SharedDevice"}],
)
def test_update_user_accepts_nothing_but_a_license(
    chime: BaseClient, change: dict[str, Any]
) -> None:
    before = chime.get_user(AccountId=CORP, UserId=ADA)["User"]

    with pytest.raises(chime.exceptions.BadRequestException):
        chime.update_user(AccountId=CORP, UserId=ADA, **change)
    assert chime.get_user(AccountId=CORP, UserId=ADA)["User"] == before


def test_update_user_of_an_unknown_user_is_not_found(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.NotFoundException) as excinfo:
        chime.update_user(AccountId=CORP, UserId="nobody", LicenseType="Basic")
    assert error_of(excinfo)[1] == f"User nobody not found in account {CORP}"


# -- faults: the same knobs as the other operations --------------------------------------------

CALLS: dict[str, Callable[[BaseClient], Any]] = {
    "BatchSuspendUser": lambda c: c.batch_suspend_user(AccountId=CORP, UserIdList=[ADA]),
    "BatchUnsuspendUser": lambda c: c.batch_unsuspend_user(AccountId=CORP, UserIdList=[ADA]),
    "LogoutUser": lambda c: c.logout_user(AccountId=CORP, UserId=ADA),
    "ResetPersonalPIN": lambda c: c.reset_personal_pin(AccountId=CORP, UserId=ADA),
    "UpdateUser": lambda c: c.update_user(AccountId=CORP, UserId=ADA, LicenseType="Basic"),
}


@pytest.mark.parametrize("operation", sorted(CALLS))
def test_every_new_operation_takes_faults_over_the_control_plane(
    url: str, chime: BaseClient, emu: ChimeEmulator, operation: str
) -> None:
    fault = {"operation": operation, "error": "ThrottledClientException"}
    assert control(url, "faults", fault)[0] == 200

    with pytest.raises(chime.exceptions.ThrottledClientException):
        CALLS[operation](chime)
    CALLS[operation](chime)
    success = 204 if operation == "LogoutUser" else 200  # the model's responseCode
    assert [c.status for c in emu.calls if c.operation == operation] == [429, success]


def test_suspend_lost_after_it_took_effect_is_seen_by_looking(
    chime: BaseClient, emu: ChimeEmulator
) -> None:
    emu.inject("BatchSuspendUser", Fault("ServiceFailureException", applied=True))
    with pytest.raises(ClientError):
        chime.batch_suspend_user(AccountId=CORP, UserIdList=[ADA])
    assert status_of(chime, CORP, ADA) == "Suspended"

    emu.inject("BatchSuspendUser", Fault("ConnectionReset", applied=True))
    with pytest.raises(ConnectionClosedError):
        chime.batch_suspend_user(AccountId=TEAM, UserIdList=[LINUS])
    assert chime.list_users(AccountId=TEAM, UserEmail="linus@example.org")["Users"] == []


@pytest.mark.parametrize("operation", ["LogoutUser", "ResetPersonalPIN", "UpdateUser"])
def test_applied_faults_take_effect_before_failing(
    chime: BaseClient, emu: ChimeEmulator, operation: str
) -> None:
    emu.inject(operation, Fault("ServiceUnavailableException", applied=True))
    with pytest.raises(chime.exceptions.ServiceUnavailableException):
        CALLS[operation](chime)

    user = chime.get_user(AccountId=CORP, UserId=ADA)["User"]
    took_effect = {
        "LogoutUser": emu.sign_outs == [SignOut(CORP, ADA, "LogoutUser")],
        "ResetPersonalPIN": user["PersonalPIN"] != SEED_ADA_PIN,
        "UpdateUser": user["LicenseType"] == "Basic",
    }
    assert took_effect[operation]


def test_unknown_operation_on_a_user_is_a_json_404(url: str) -> None:
    status, headers, body = raw(
        url, "POST", f"/accounts/{CORP}/users/{ADA}?operation=explode", body=b"{}"
    )
    assert (status, headers["x-amzn-ErrorType"], body["Code"]) == (
        404,
        "NotFoundException",
        "NotFound",
    )
