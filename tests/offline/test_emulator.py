"""The Chime emulator, driven by real boto3 over HTTP wherever boto3 can reach the behaviour.

Raw HTTP is used only for what boto3 cannot send or hides: unknown routes, malformed bodies,
non-integer query values and exact header/body bytes.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from botocore import UNSIGNED
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from bot.offline.emulator import ERRORS, ChimeEmulator, Fault

ROOT = Path(__file__).resolve().parents[2]

CORP = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"
TEAM = "7ea70000-5e3d-4b8a-9f21-000000000002"
LABS = "1ab50000-5e3d-4b8a-9f21-000000000003"
ADA = "a0000000-5e3d-4b8a-9f21-000000000001"
GRACE = "a0000000-5e3d-4b8a-9f21-000000000002"
MALLORY = "a0000000-5e3d-4b8a-9f21-000000000202"
CORP_USERS = 8

# The emulator checks only the header's shape, so a fixed, well-formed one is enough for raw HTTP.
FAKE_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20240301/us-east-1/chime/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)
# Not {"max_attempts": 1}: in a client Config that key counts *retries* (botocore adds one for the
# first try), so it would silently retry every 5xx once. total_max_attempts counts attempts.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


# -- helpers and fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def boto_session() -> boto3.session.Session:
    # One session per module: clients then share its parsed service model, which keeps tests fast.
    return boto3.session.Session()


def make_client(
    session: boto3.session.Session,
    url: str,
    *,
    region: str = "us-east-1",
    config: Config | None = None,
) -> BaseClient:
    return session.client(
        "chime",
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        config=NO_RETRIES.merge(config) if config else NO_RETRIES,
    )


@pytest.fixture
def emu() -> ChimeEmulator:
    return ChimeEmulator()


@pytest.fixture
def url(emu: ChimeEmulator) -> Iterator[str]:
    with emu.running_in_thread() as endpoint:
        yield endpoint


@pytest.fixture
def chime(boto_session: boto3.session.Session, url: str) -> Iterator[BaseClient]:
    client = make_client(boto_session, url)
    yield client
    client.close()


def raw(
    url: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    auth: str | None = FAKE_AUTH,
) -> tuple[int, dict[str, str], Any]:
    """One plain HTTP request; returns status, headers and the decoded JSON body."""
    request = urllib.request.Request(url + path, data=body, method=method)
    if auth is not None:
        request.add_header("Authorization", auth)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), json.loads(err.read())


def control(url: str, path: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
    method = "GET" if payload is None else "POST"
    body = None if payload is None else json.dumps(payload).encode()
    status, _, data = raw(url, method, f"/_emulator/{path}", body=body, auth=None)
    return status, data


def error_of(excinfo: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def timed(call: Any, *args: Any, **kwargs: Any) -> float:
    started = time.monotonic()
    call(*args, **kwargs)
    return time.monotonic() - started


# -- ListAccounts ------------------------------------------------------------------------------


def test_list_accounts_returns_seed_accounts(chime: BaseClient) -> None:
    response = chime.list_accounts()

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "NextToken" not in response
    accounts = {a["Name"]: a for a in response["Accounts"]}
    assert list(accounts) == ["Example Corp", "Example Team", "Example Labs"]
    corp = accounts["Example Corp"]
    assert corp["AccountId"] == CORP
    assert corp["AccountType"] == "EnterpriseLWA"
    assert corp["DefaultLicense"] == "Pro"
    assert "users" not in corp
    # iso8601 on the wire, parsed by botocore into an aware datetime.
    assert corp["CreatedTimestamp"].utcoffset() == timedelta(0)
    assert corp["CreatedTimestamp"].isoformat().startswith("2024-01-15T09:30:00")
    assert accounts["Example Team"]["AccountType"] == "Team"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Example", ["Example Corp", "Example Team", "Example Labs"]),
        ("Example T", ["Example Team"]),
        ("Example Labs", ["Example Labs"]),
        # The model says prefix; case is undocumented, so the emulator takes the strict reading.
        ("TEAM", []),
        ("example", []),
        ("ample", []),
        ("nothing-like-it", []),
    ],
)
def test_list_accounts_name_is_a_case_sensitive_prefix(
    chime: BaseClient, name: str, expected: list[str]
) -> None:
    assert [a["Name"] for a in chime.list_accounts(Name=name)["Accounts"]] == expected


def test_list_accounts_user_email_filter_is_case_insensitive(chime: BaseClient) -> None:
    assert [
        a["AccountId"] for a in chime.list_accounts(UserEmail="KEN@Example.NET")["Accounts"]
    ] == [LABS]
    assert chime.list_accounts(UserEmail="nobody@example.com")["Accounts"] == []


def test_email_index_can_disagree_with_list_users_until_reset(
    emu: ChimeEmulator, chime: BaseClient
) -> None:
    emu.set_email_index("KEN@example.net", [CORP])
    named = chime.list_accounts(UserEmail="ken@example.net")["Accounts"]
    assert [a["AccountId"] for a in named] == [CORP]
    # ListUsers still answers from the accounts' real users.
    assert chime.list_users(AccountId=CORP, UserEmail="ken@example.net")["Users"] == []
    assert len(chime.list_users(AccountId=LABS, UserEmail="ken@example.net")["Users"]) == 1
    emu.set_email_index("ken@example.net", None)
    assert [
        a["AccountId"] for a in chime.list_accounts(UserEmail="ken@example.net")["Accounts"]
    ] == [LABS]


def test_list_accounts_paginator(chime: BaseClient) -> None:
    pages = list(chime.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 1}))

    assert [[a["Name"] for a in page["Accounts"]] for page in pages] == [
        ["Example Corp"],
        ["Example Team"],
        ["Example Labs"],
    ]
    assert "NextToken" not in pages[-1]


# -- ListUsers ---------------------------------------------------------------------------------


def test_list_users_paginator_returns_every_user_exactly_once(chime: BaseClient) -> None:
    everyone = chime.list_users(AccountId=CORP, MaxResults=200)["Users"]
    pages = list(
        chime.get_paginator("list_users").paginate(AccountId=CORP, PaginationConfig={"PageSize": 2})
    )

    assert len(everyone) == CORP_USERS
    assert [len(page["Users"]) for page in pages] == [2, 2, 2, 2]
    assert all("NextToken" in page for page in pages[:-1])
    assert "NextToken" not in pages[-1]
    paged_ids = [u["UserId"] for page in pages for u in page["Users"]]
    assert paged_ids == [u["UserId"] for u in everyone]
    assert len(set(paged_ids)) == CORP_USERS


def test_list_users_default_page_size_is_100(emu: ChimeEmulator, chime: BaseClient) -> None:
    account = emu.add_account(name="Big Co")
    for n in range(150):
        emu.add_user(account["AccountId"], email=f"user{n}@big.example")

    first = chime.list_users(AccountId=account["AccountId"])
    second = chime.list_users(AccountId=account["AccountId"], NextToken=first["NextToken"])

    assert len(first["Users"]) == 100
    assert len(second["Users"]) == 50
    assert "NextToken" not in second


def test_list_users_email_filter_is_case_insensitive(chime: BaseClient) -> None:
    users = chime.list_users(AccountId=CORP, UserEmail="Ada@EXAMPLE.com")["Users"]

    assert [u["UserId"] for u in users] == [ADA]
    assert chime.list_users(AccountId=CORP, UserEmail="ken@example.net")["Users"] == []


def test_list_users_user_type_filter(chime: BaseClient) -> None:
    users = chime.list_users(AccountId=CORP, UserType="SharedDevice")["Users"]

    assert [u["PrimaryEmail"] for u in users] == ["lobby-display@example.com"]


def test_list_users_unknown_account_is_not_found(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.NotFoundException) as excinfo:
        chime.list_users(AccountId="no-such-account")

    assert error_of(excinfo) == ("NotFoundException", "Account no-such-account not found", 404)
    # The body's modeled "Code" member (the ErrorCode enum) lands at the top of the response.
    assert excinfo.value.response["Code"] == "NotFound"


# -- validation --------------------------------------------------------------------------------


def test_max_results_above_200_rejected_by_service(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.BadRequestException) as excinfo:
        chime.list_users(AccountId=CORP, MaxResults=201)

    code, message, status = error_of(excinfo)
    assert (code, status) == ("BadRequestException", 400)
    assert "maxResults" in message


def test_max_results_zero_rejected_client_side_and_by_service(
    boto_session: boto3.session.Session, url: str, emu: ChimeEmulator
) -> None:
    # botocore validates the model's minimum itself, so 0 never leaves the process...
    strict = make_client(boto_session, url)
    with pytest.raises(ParamValidationError):
        strict.list_accounts(MaxResults=0)
    assert emu.count() == 0

    # ...but a client without parameter validation reaches the service, which refuses too.
    lax = make_client(boto_session, url, config=Config(parameter_validation=False))
    with pytest.raises(lax.exceptions.BadRequestException):
        lax.list_accounts(MaxResults=0)
    assert [c.status for c in emu.calls] == [400]


@pytest.mark.parametrize("value", ["abc", "1.5", ""])
def test_non_integer_max_results_is_bad_request(url: str, value: str) -> None:
    status, headers, body = raw(url, "GET", f"/accounts/{CORP}/users?max-results={value}")

    assert status == 400
    assert headers["x-amzn-ErrorType"] == "BadRequestException"
    assert body["Code"] == "BadRequest"


def test_invalid_emails_are_bad_requests(chime: BaseClient) -> None:
    # The model's EmailAddress pattern is not checked by botocore; the service checks it.
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.list_users(AccountId=CORP, UserEmail="not-an-email")
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.list_accounts(UserEmail="ada@example")
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.create_user(AccountId=CORP, Email="nope")
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.create_user(AccountId=CORP)  # Email is optional in the model, not in the service
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.invite_users(AccountId=TEAM, UserEmailList=["ok@example.org", "bad"])


def test_unknown_user_type_is_bad_request(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.list_users(AccountId=CORP, UserType="Robot")
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.create_user(AccountId=CORP, Email="robot@example.com", UserType="Robot")


@pytest.mark.parametrize("count", [0, 51])
def test_invite_list_size_is_enforced(chime: BaseClient, emu: ChimeEmulator, count: int) -> None:
    emails = [f"person{n}@example.org" for n in range(count)]

    with pytest.raises(chime.exceptions.BadRequestException):
        chime.invite_users(AccountId=TEAM, UserEmailList=emails)
    assert emu.find_users("person0@example.org") == []


def test_bad_next_tokens_are_rejected(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.BadRequestException) as excinfo:
        chime.list_users(AccountId=CORP, NextToken="garbage!")
    assert error_of(excinfo)[1] == "Invalid NextToken"

    token = chime.list_users(AccountId=CORP, MaxResults=2)["NextToken"]
    # A token is bound to the account and filters it was issued for.
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.list_users(AccountId=LABS, NextToken=token)
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.list_users(AccountId=CORP, UserType="PrivateUser", NextToken=token)
    with pytest.raises(chime.exceptions.BadRequestException):
        chime.list_accounts(NextToken=token)


# -- GetUser -----------------------------------------------------------------------------------


def test_get_user_returns_full_record(chime: BaseClient) -> None:
    ada = chime.get_user(AccountId=CORP, UserId=ADA)["User"]
    grace = chime.get_user(AccountId=CORP, UserId=GRACE)["User"]

    assert ada["PrimaryEmail"] == "ada@example.com"
    assert ada["DisplayName"] == "Ada Lovelace"
    assert ada["AccountId"] == CORP
    assert ada["PrimaryProvisionedNumber"] == "+12065550100"
    assert ada["PersonalPIN"] == "4839201756"
    assert (ada["UserRegistrationStatus"], ada["UserInvitationStatus"]) == (
        "Registered",
        "Accepted",
    )
    assert ada["RegisteredOn"].utcoffset() == timedelta(0)
    assert (grace["UserRegistrationStatus"], grace["UserInvitationStatus"]) == (
        "Unregistered",
        "Pending",
    )
    assert "RegisteredOn" not in grace
    assert "PrimaryProvisionedNumber" not in grace


def test_get_user_keeps_slack_hostile_display_name_verbatim(chime: BaseClient) -> None:
    user = chime.get_user(AccountId=LABS, UserId=MALLORY)["User"]

    assert user["DisplayName"].startswith("<!channel> & <@U123> *bold*")


def test_get_user_not_found(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.NotFoundException) as excinfo:
        chime.get_user(AccountId=CORP, UserId="missing")
    assert error_of(excinfo) == (
        "NotFoundException",
        f"User missing not found in account {CORP}",
        404,
    )

    with pytest.raises(chime.exceptions.NotFoundException):
        chime.get_user(AccountId="missing", UserId=ADA)


# -- CreateUser --------------------------------------------------------------------------------


def test_create_user_returns_201_and_is_then_visible(chime: BaseClient, emu: ChimeEmulator) -> None:
    response = chime.create_user(AccountId=CORP, Email="New.Hire@example.com", Username="New Hire")

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    user = response["User"]
    assert user["PrimaryEmail"] == "New.Hire@example.com"
    assert user["DisplayName"] == "New Hire"
    assert user["LicenseType"] == "Pro"
    assert user["UserType"] == "PrivateUser"
    assert user["UserRegistrationStatus"] == "Unregistered"
    assert user["UserInvitationStatus"] == "Pending"
    assert "InvitedOn" in user
    assert re.fullmatch(r"[0-9a-f-]{36}", user["UserId"])

    listed = chime.list_users(AccountId=CORP, UserEmail="new.hire@example.com")["Users"]
    assert [u["UserId"] for u in listed] == [user["UserId"]]
    assert chime.get_user(AccountId=CORP, UserId=user["UserId"])["User"] == user
    assert [u["UserId"] for u in emu.find_users("NEW.HIRE@example.com")] == [user["UserId"]]


def test_create_user_defaults(chime: BaseClient) -> None:
    user = chime.create_user(AccountId=LABS, Email="kiosk@example.net", UserType="SharedDevice")[
        "User"
    ]

    assert user["DisplayName"] == ""
    assert user["UserType"] == "SharedDevice"


def test_create_user_duplicate_email_conflicts(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.ConflictException) as excinfo:
        chime.create_user(AccountId=CORP, Email="ADA@example.com")

    code, _, status = error_of(excinfo)
    assert (code, status) == ("ConflictException", 409)
    assert excinfo.value.response["Code"] == "Conflict"


def test_create_user_rejected_on_team_account(chime: BaseClient, emu: ChimeEmulator) -> None:
    with pytest.raises(chime.exceptions.BadRequestException) as excinfo:
        chime.create_user(AccountId=TEAM, Email="someone@example.org")

    assert error_of(excinfo) == (
        "BadRequestException",
        "CreateUser is not supported for Team accounts; use InviteUsers",
        400,
    )
    assert emu.find_users("someone@example.org") == []


def test_create_user_unknown_account_is_not_found(chime: BaseClient) -> None:
    with pytest.raises(chime.exceptions.NotFoundException):
        chime.create_user(AccountId="missing", Email="x@example.com")


# -- InviteUsers -------------------------------------------------------------------------------


def test_invite_users_on_team_creates_pending_users(chime: BaseClient) -> None:
    response = chime.invite_users(AccountId=TEAM, UserEmailList=["newbie@example.org"])

    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    (invite,) = response["Invites"]
    assert invite["EmailAddress"] == "newbie@example.org"
    assert (invite["Status"], invite["EmailStatus"]) == ("Pending", "Sent")
    assert invite["InviteId"]
    (user,) = chime.list_users(AccountId=TEAM, UserEmail="newbie@example.org")["Users"]
    assert user["UserInvitationStatus"] == "Pending"
    assert user["UserRegistrationStatus"] == "Unregistered"
    assert user["LicenseType"] == "Basic"


def test_reinviting_existing_user_does_not_duplicate(chime: BaseClient) -> None:
    before = chime.list_users(AccountId=TEAM)["Users"]

    response = chime.invite_users(AccountId=TEAM, UserEmailList=["LINUS@example.org"])

    assert [i["EmailAddress"] for i in response["Invites"]] == ["linus@example.org"]
    assert chime.list_users(AccountId=TEAM)["Users"] == before


def test_invite_users_rejected_on_enterprise_account(chime: BaseClient, emu: ChimeEmulator) -> None:
    with pytest.raises(chime.exceptions.BadRequestException) as excinfo:
        chime.invite_users(AccountId=CORP, UserEmailList=["x@example.com"])

    assert error_of(excinfo)[1] == "InviteUsers is only supported for Team accounts"
    assert emu.find_users("x@example.com") == []


# -- errors and fault injection ----------------------------------------------------------------


@pytest.mark.parametrize("error", sorted(ERRORS))
def test_every_modeled_error_maps_to_its_boto3_exception(
    chime: BaseClient, emu: ChimeEmulator, error: str
) -> None:
    emu.inject("ListAccounts", Fault(error, message=f"{error} on purpose"))

    with pytest.raises(getattr(chime.exceptions, error)) as excinfo:
        chime.list_accounts()

    assert error_of(excinfo) == (error, f"{error} on purpose", ERRORS[error].status)
    assert excinfo.value.response["Code"] == ERRORS[error].code
    assert emu.calls[-1].status == ERRORS[error].status


def test_fault_clears_after_n_calls(chime: BaseClient, emu: ChimeEmulator) -> None:
    emu.inject("GetUser", Fault("ThrottledClientException", times=2))

    for _ in range(2):
        with pytest.raises(chime.exceptions.ThrottledClientException):
            chime.get_user(AccountId=CORP, UserId=ADA)
    chime.get_user(AccountId=CORP, UserId=ADA)
    chime.list_accounts()  # faults are per operation

    assert [(c.operation, c.status) for c in emu.calls] == [
        ("GetUser", 429),
        ("GetUser", 429),
        ("GetUser", 200),
        ("ListAccounts", 200),
    ]


def test_faults_queue_in_order_and_forever_never_clears(
    chime: BaseClient, emu: ChimeEmulator
) -> None:
    emu.inject("ListUsers", Fault("ServiceFailureException"))
    emu.inject("ListUsers", Fault("ForbiddenException", times=-1))

    with pytest.raises(chime.exceptions.ServiceFailureException):
        chime.list_users(AccountId=CORP)
    for _ in range(3):
        with pytest.raises(chime.exceptions.ForbiddenException):
            chime.list_users(AccountId=CORP)
    assert emu.count("ListUsers") == 4


def test_standard_retry_mode_retries_503_but_not_throttled_client_exception(
    boto_session: boto3.session.Session, url: str, emu: ChimeEmulator
) -> None:
    # Chime's throttling error name is not on botocore's list of throttling codes, and standard
    # mode does not retry on status 429 alone, so the bot must handle it itself.
    client = make_client(
        boto_session, url, config=Config(retries={"total_max_attempts": 3, "mode": "standard"})
    )

    emu.inject("ListAccounts", Fault("ThrottledClientException"))
    with pytest.raises(client.exceptions.ThrottledClientException):
        client.list_accounts()
    assert emu.count("ListAccounts") == 1

    emu.reset_calls()
    emu.inject("ListAccounts", Fault("ServiceUnavailableException", times=2))
    assert client.list_accounts()["ResponseMetadata"]["RetryAttempts"] == 2
    assert [c.status for c in emu.calls] == [503, 503, 200]


def test_fault_and_operation_arguments_are_validated(emu: ChimeEmulator) -> None:
    with pytest.raises(ValueError):
        Fault("NoSuchException")
    with pytest.raises(ValueError):
        Fault("BadRequestException", times=0)
    with pytest.raises(ValueError):
        emu.inject("DeleteUser", Fault("BadRequestException"))
    with pytest.raises(ValueError):
        emu.set_latency(-1)
    assert Fault("ThrottledClientException").status == 429


# -- latency -----------------------------------------------------------------------------------


def test_latency_global_and_per_operation(chime: BaseClient, emu: ChimeEmulator) -> None:
    emu.set_latency(0.3)
    emu.set_latency(0.0, "GetUser")  # a per-operation setting overrides the global one

    assert timed(chime.list_accounts) >= 0.3
    assert timed(chime.get_user, AccountId=CORP, UserId=ADA) < 0.3


def test_latency_for_next_n_calls_only(chime: BaseClient, emu: ChimeEmulator) -> None:
    emu.latency_for("GetUser", 0.3, times=1)

    assert timed(chime.get_user, AccountId=CORP, UserId=ADA) >= 0.3
    assert timed(chime.get_user, AccountId=CORP, UserId=ADA) < 0.3
    assert timed(chime.list_users, AccountId=CORP) < 0.3


# -- signing -----------------------------------------------------------------------------------


def test_unsigned_request_is_rejected_with_403(
    boto_session: boto3.session.Session, url: str, emu: ChimeEmulator
) -> None:
    unsigned = make_client(boto_session, url, config=Config(signature_version=UNSIGNED))

    with pytest.raises(unsigned.exceptions.UnauthorizedClientException) as excinfo:
        unsigned.list_accounts()

    code, _, status = error_of(excinfo)
    assert (code, status) == ("UnauthorizedClientException", 403)
    assert emu.calls[-1].status == 403


def test_missing_or_foreign_signature_is_rejected_over_raw_http(url: str) -> None:
    status, headers, body = raw(url, "GET", "/accounts", auth=None)
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "UnauthorizedClientException"
    assert body["Code"] == "Unauthorized"

    s3_scope = FAKE_AUTH.replace("/chime/", "/s3/")
    status, _, body = raw(url, "GET", "/accounts", auth=s3_scope)
    assert status == 403
    assert "chime" in body["Message"]


def test_signing_region_is_recorded(chime: BaseClient, emu: ChimeEmulator) -> None:
    chime.list_accounts()
    chime.get_user(AccountId=CORP, UserId=ADA)

    assert [c.region for c in emu.calls] == ["us-east-1", "us-east-1"]
    assert emu.calls[1].params == {"AccountId": CORP, "UserId": ADA}


def test_custom_endpoint_signs_with_client_region(
    boto_session: boto3.session.Session, url: str, emu: ChimeEmulator
) -> None:
    # Against AWS, Chime's endpoint rules pin signing to us-east-1 whatever the client region;
    # with a custom endpoint botocore signs for the client's region, so the bot must pin it.
    client = make_client(boto_session, url, region="eu-west-1")
    client.list_accounts()
    assert emu.calls[-1].region == "eu-west-1"

    global_client = boto_session.client(
        "chime", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    assert global_client.meta.endpoint_url == "https://chime.us-east-1.amazonaws.com"


def test_aws_endpoint_url_chime_env_var_reaches_emulator(
    url: str, emu: ChimeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME", url)
    monkeypatch.delenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", raising=False)
    client = boto3.session.Session().client(
        "chime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=NO_RETRIES,
    )

    assert client.meta.endpoint_url == url
    assert len(client.list_accounts()["Accounts"]) == 3
    assert emu.count("ListAccounts") == 1


# -- wire-level robustness ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("DELETE", "/accounts"),
        ("POST", f"/accounts/{CORP}/users"),
        ("POST", f"/accounts/{CORP}/users?operation=explode"),
        ("GET", "/_emulator/nope"),
    ],
)
def test_unknown_routes_are_json_404s(url: str, method: str, path: str) -> None:
    status, headers, body = raw(url, method, path, body=b"{}" if method == "POST" else None)

    assert status == 404
    assert headers["x-amzn-ErrorType"] == "NotFoundException"
    assert headers["Content-Type"].startswith("application/json")
    assert body["Code"] == "NotFound"


@pytest.mark.parametrize("payload", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_body_is_bad_request(url: str, emu: ChimeEmulator, payload: bytes) -> None:
    status, headers, body = raw(
        url, "POST", f"/accounts/{CORP}/users?operation=create", body=payload
    )

    assert status == 400
    assert headers["x-amzn-ErrorType"] == "BadRequestException"
    assert body["Code"] == "BadRequest"
    assert emu.calls[-1].status == 400


# -- HTTP control plane ------------------------------------------------------------------------


def test_http_control_plane(url: str, chime: BaseClient) -> None:
    fault = {"operation": "GetUser", "error": "ServiceUnavailableException"}
    assert control(url, "faults", fault) == (200, {**fault, "times": 1})
    with pytest.raises(chime.exceptions.ServiceUnavailableException):
        chime.get_user(AccountId=CORP, UserId=ADA)
    chime.get_user(AccountId=CORP, UserId=ADA)

    assert control(url, "latency", {"seconds": 0.2, "operation": "ListAccounts", "times": 1}) == (
        200,
        {"seconds": 0.2, "operation": "ListAccounts", "times": 1},
    )
    assert timed(chime.list_accounts) >= 0.2

    assert control(url, "calls") == (
        200,
        {
            "calls": [
                {"operation": "GetUser", "status": 503, "region": "us-east-1"},
                {"operation": "GetUser", "status": 200, "region": "us-east-1"},
                {"operation": "ListAccounts", "status": 200, "region": "us-east-1"},
            ],
            "count": 3,
        },
    )
    assert control(url, "calls?operation=GetUser")[1]["count"] == 2
    assert control(url, "reset-calls", {}) == (200, {"count": 0})
    assert control(url, "calls")[1] == {"calls": [], "count": 0}


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("faults", {"operation": "Nope", "error": "BadRequestException"}),
        ("faults", {"operation": "GetUser", "error": "Nope"}),
        ("faults", {"operation": "GetUser", "error": "BadRequestException", "times": 0}),
        ("latency", {"operation": "GetUser"}),
        ("latency", {"seconds": -1}),
    ],
)
def test_http_control_plane_rejects_bad_input(url: str, path: str, payload: dict[str, Any]) -> None:
    status, body = control(url, path, payload)

    assert status == 400
    assert body["Code"] == "BadRequest"


# -- Python API ---------------------------------------------------------------------------------


def test_seed_helpers(emu: ChimeEmulator) -> None:
    account = emu.add_account(name="Acme Team", account_type="Team", default_license="Basic")
    user = emu.add_user(account["AccountId"], email="wile@acme.example", display_name="Wile E.")
    pending = emu.add_user(
        account["AccountId"], email="road@acme.example", UserRegistrationStatus="Unregistered"
    )

    assert account["AccountType"] == "Team"
    assert user["LicenseType"] == "Basic"
    assert user["UserRegistrationStatus"] == "Registered"
    assert "RegisteredOn" not in pending
    assert emu.find_users("WILE@acme.example") == [user]
    assert [u["AccountId"] for u in emu.find_users("ada@example.com")] == [CORP]
    with pytest.raises(ValueError):
        emu.add_user(account["AccountId"], email="Wile@acme.example")
    with pytest.raises(KeyError):
        emu.add_user("missing", email="x@example.com")
    with pytest.raises(ValueError):
        emu.add_user(account["AccountId"], email="y@acme.example", Nickname="typo")


def test_returned_dicts_are_copies(emu: ChimeEmulator) -> None:
    emu.find_users("ada@example.com")[0]["DisplayName"] = "tampered"

    assert emu.find_users("ada@example.com")[0]["DisplayName"] == "Ada Lovelace"


def test_from_seed_file(tmp_path: Path, boto_session: boto3.session.Session) -> None:
    seed = {
        "accounts": [
            {
                "AccountId": "acct-1",
                "Name": "Solo",
                "AccountType": "EnterpriseLWA",
                "users": [{"UserId": "u-1", "PrimaryEmail": "solo@example.com"}],
            }
        ]
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    emu = ChimeEmulator.from_seed_file(path)

    with emu.running_in_thread() as url:
        client = make_client(boto_session, url)
        assert [a["Name"] for a in client.list_accounts()["Accounts"]] == ["Solo"]
        assert client.get_user(AccountId="acct-1", UserId="u-1")["User"] == {
            "UserId": "u-1",
            "AccountId": "acct-1",
            "PrimaryEmail": "solo@example.com",
        }
        client.close()


def test_url_requires_a_running_emulator(emu: ChimeEmulator) -> None:
    with pytest.raises(RuntimeError):
        _ = emu.url
    with emu.running_in_thread() as url:
        assert emu.url == url
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    with pytest.raises(RuntimeError):
        _ = emu.url


# -- on the caller's own event loop ------------------------------------------------------------


async def test_raw_wire_format_on_callers_loop() -> None:
    emu = ChimeEmulator()
    url = await emu.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": FAKE_AUTH}) as http:
            create = f"{url}/accounts/{CORP}/users?operation=create"
            async with http.post(create, json={"Email": "raw@example.com"}) as response:
                assert response.status == 201
                assert response.headers["Content-Type"].startswith("application/json")
                created = (await response.json())["User"]
            assert created["PrimaryEmail"] == "raw@example.com"
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created["InvitedOn"])

            async with http.get(f"{url}/accounts/{CORP}/users/nobody") as response:
                assert response.status == 404
                assert response.headers["x-amzn-ErrorType"] == "NotFoundException"
                assert "x-amzn-RequestId" in response.headers
                assert await response.json() == {
                    "Code": "NotFound",
                    "Message": f"User nobody not found in account {CORP}",
                }
    finally:
        await emu.stop()


async def test_latency_never_blocks_the_loop() -> None:
    emu = ChimeEmulator()
    url = await emu.start()
    emu.set_latency(0.3, "ListAccounts")
    try:
        async with aiohttp.ClientSession(headers={"Authorization": FAKE_AUTH}) as http:
            slow = asyncio.create_task(http.get(f"{url}/accounts"))
            async with http.get(f"{url}/accounts/{CORP}/users/{ADA}") as response:
                assert response.status == 200
            assert not slow.done()
            async with await slow as response:
                assert response.status == 200
        assert [c.operation for c in emu.calls] == ["GetUser", "ListAccounts"]
    finally:
        await emu.stop()


# -- standalone process ------------------------------------------------------------------------


def test_cli_serves_until_sigterm(boto_session: boto3.session.Session) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.emulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert re.fullmatch(r"chime emulator listening on http://127\.0\.0\.1:\d+\n", line)
        client = make_client(boto_session, line.split()[-1])
        assert len(client.list_accounts()["Accounts"]) == 3
        client.close()

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_applied_fault_takes_effect_before_failing(emu: ChimeEmulator, chime: BaseClient) -> None:
    account = "c0a1c0a1-5e3d-4b8a-9f21-000000000001"
    emu.inject("CreateUser", Fault("ServiceFailureException", applied=True))
    with pytest.raises(ClientError):
        chime.create_user(AccountId=account, Email="lost@example.com")
    assert len(emu.find_users("lost@example.com")) == 1
    with pytest.raises(chime.exceptions.ConflictException):
        chime.create_user(AccountId=account, Email="lost@example.com")


def test_which_errors_botocore_standard_mode_retries_for_chime(
    emu: ChimeEmulator, boto_session: boto3.session.Session, url: str
) -> None:
    """Why the bot retries on its own: botocore's standard mode skips Chime's 429."""
    client = make_client(
        boto_session, url, config=Config(retries={"mode": "standard", "total_max_attempts": 3})
    )
    emu.inject("ListAccounts", Fault("ServiceUnavailableException", times=1))
    client.list_accounts()
    assert emu.count("ListAccounts") == 2, "503 is retried by status code"

    emu.reset_calls()
    emu.inject("ListAccounts", Fault("ThrottledClientException", times=1))
    with pytest.raises(ClientError) as raised:
        client.list_accounts()
    assert raised.value.response["Error"]["Code"] == "ThrottledClientException"
    assert emu.count("ListAccounts") == 1, "429 ThrottledClientException is not retried"
