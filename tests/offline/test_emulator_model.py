"""The emulator's model-following knobs, through real boto3: any error code with any status,
dropped and stalled connections after the call took effect, failed invitations, and account
status."""

from __future__ import annotations

import boto3
import pytest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from bot.offline.emulator import ChimeEmulator, Fault
from tests.offline import test_emulator
from tests.offline.test_emulator import CORP, TEAM, control, make_client

# The emulator tests' fixtures: a running emulator (`emu`, `url`) and a boto3 client (`chime`).
boto_session = test_emulator.boto_session
emu = test_emulator.emu
url = test_emulator.url
chime = test_emulator.chime


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("ThrottlingException", 400),
        ("TooManyRequestsException", 429),
        ("ExpiredTokenException", 403),
        ("IncompleteSignature", 400),
        ("AccessDeniedException", 403),
        ("ServiceUnavailableException", 502),  # a modeled shape with another status
    ],
)
def test_any_error_code_with_any_status(
    chime: BaseClient, emu: ChimeEmulator, error: str, status: int
) -> None:
    emu.inject("ListUsers", Fault(error, http_status=status, message="on purpose"))
    with pytest.raises(ClientError) as excinfo:
        chime.list_users(AccountId=CORP)
    response = excinfo.value.response
    assert response["Error"]["Code"] == error
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert emu.calls[-1].status == status


def test_error_outside_the_model_needs_a_status_and_a_name(emu: ChimeEmulator) -> None:
    with pytest.raises(ValueError):
        Fault("ExpiredTokenException")
    with pytest.raises(ValueError):
        Fault("Bad Name", http_status=400)
    with pytest.raises(ValueError):
        Fault("ThrottlingException", http_status=200)


def test_control_plane_injects_any_code_and_status(
    url: str, chime: BaseClient, emu: ChimeEmulator
) -> None:
    status, _ = control(
        url, "faults", {"operation": "GetUser", "error": "ThrottlingException", "status": 400}
    )
    assert status == 200
    with pytest.raises(ClientError) as excinfo:
        chime.get_user(AccountId=CORP, UserId="whoever")
    assert excinfo.value.response["Error"]["Code"] == "ThrottlingException"


def test_connection_reset_after_the_call_took_effect(chime: BaseClient, emu: ChimeEmulator) -> None:
    emu.inject("CreateUser", Fault("ConnectionReset", applied=True))
    with pytest.raises(ConnectionClosedError):
        chime.create_user(AccountId=CORP, Email="reset@example.com")
    assert len(emu.find_users("reset@example.com")) == 1


def test_stall_outlives_the_read_timeout(
    boto_session: boto3.session.Session, url: str, emu: ChimeEmulator
) -> None:
    client = make_client(boto_session, url, config=Config(read_timeout=0.3))
    emu.inject("CreateUser", Fault("Stall", applied=True, hold=3.0))
    with pytest.raises(ReadTimeoutError):
        client.create_user(AccountId=CORP, Email="stall@example.com")
    assert len(emu.find_users("stall@example.com")) == 1
    client.close()


@pytest.mark.parametrize("keeps_user", [False, True])
def test_invitation_can_fail(chime: BaseClient, emu: ChimeEmulator, keeps_user: bool) -> None:
    emu.set_invite_outcome("Fail@Example.org", keeps_user=keeps_user)
    (invite,) = chime.invite_users(AccountId=TEAM, UserEmailList=["fail@example.org"])["Invites"]
    assert (invite["Status"], invite["EmailStatus"]) == ("Failed", "Failed")
    users = emu.find_users("fail@example.org")
    assert [u["UserInvitationStatus"] for u in users] == (["Failed"] if keeps_user else [])

    emu.clear_invite_outcomes()
    (invite,) = chime.invite_users(AccountId=TEAM, UserEmailList=["fail@example.org"])["Invites"]
    assert (invite["Status"], invite["EmailStatus"]) == ("Pending", "Sent")


def test_invite_outcome_follows_the_model_enums(emu: ChimeEmulator) -> None:
    with pytest.raises(ValueError):
        emu.set_invite_outcome("x@example.org", status="Lost")
    with pytest.raises(ValueError):
        emu.set_invite_outcome("x@example.org", email_status="Bounced")


def test_account_status_is_served_and_follows_the_model(
    chime: BaseClient, emu: ChimeEmulator
) -> None:
    emu.set_account_status(CORP, "Suspended")
    accounts = {a["AccountId"]: a for a in chime.list_accounts()["Accounts"]}
    assert accounts[CORP]["AccountStatus"] == "Suspended"
    with pytest.raises(ValueError):
        emu.set_account_status(CORP, "Frozen")
    added = emu.add_account(name="Old Corp", account_status="Suspended")
    assert added["AccountStatus"] == "Suspended"
