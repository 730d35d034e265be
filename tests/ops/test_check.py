"""`chime-bot check` as an operator runs it: a real process against the Slack stand-in, the Chime
emulator and moto's server (STS, DynamoDB, and IAM when credentials must be judged)."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, PartialCredentialsError
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin

from bot.aws import explain
from bot.offline.emulator import ChimeEmulator, Fault
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import DEMO_APPROVAL_CHANNEL
from bot.ops.check import run_checks
from tests.cli import offline_env, run_cli_async
from tests.clock import ShiftedClock
from tests.conftest import CHANNEL
from tests.policy.test_policy import TEAM_CHANNEL, policy_file

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused


@dataclass
class Checked:
    code: int
    out: str
    err: str

    def line(self, name: str) -> str:
        """The result line for one check, and its fix line if it has one."""
        lines = self.out.splitlines()
        for i, text in enumerate(lines):
            if text[2:].startswith(name + " "):
                fix = lines[i + 1] if i + 1 < len(lines) and "fix:" in lines[i + 1] else ""
                return f"{text}\n{fix}"
        raise AssertionError(f"no check named {name!r} in:\n{self.out}")


async def run_check(env: dict[str, str], *args: str) -> Checked:
    return Checked(*await run_cli_async(env, "check", *args))


@pytest.fixture
async def world(
    peers: tuple[ChimeEmulator, SlackStandIn], moto_dynamo: MotoDynamo, tmp_path: Any
) -> AsyncIterator[dict[str, str]]:
    """Everything right: the environment a correct deployment would have."""
    emulator, slack = peers
    yield offline_env(slack, emulator, tmp_path, AWS_ENDPOINT_URL_STS=moto_dynamo.url)


async def test_everything_right_passes_on_dynamodb(
    world: dict[str, str], dynamo_table: str, moto_dynamo: MotoDynamo
) -> None:
    env = {**world, **moto_dynamo.env(), "CHIME_STORE_URL": f"dynamodb://{dynamo_table}"}
    checked = await run_check(env)
    assert checked.code == 0, checked.out
    assert "✗" not in checked.out
    assert "arn:aws:sts::123456789012" in checked.line("AWS credentials")
    assert f"DynamoDB table {dynamo_table} in us-east-1" in checked.line("Request store")
    assert "the bot is a member" in checked.line(f"Post in {DEMO_APPROVAL_CHANNEL}")
    assert "ListUsers and GetUser allowed" in checked.line("Chime user lookups")
    assert "AWS (±" in checked.line("Clock") and "bound 5s" in checked.line("Clock")


async def test_a_clock_two_minutes_ahead_fails_the_clock_check_with_its_offset(
    world: dict[str, str],
    dynamo_table: str,
    moto_dynamo: MotoDynamo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In process, to pass check the clock serve would read, shifted (tests/clock.py).
    env = {**world, **moto_dynamo.env(), "CHIME_STORE_URL": f"dynamodb://{dynamo_table}"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    results = {r.name: r for r in await run_checks(clock=ShiftedClock(120))}
    clock = results["Clock"]
    assert not clock.ok
    assert "ahead of AWS" in clock.detail and "bound 5s" in clock.detail
    offset = float(clock.detail.split("s ahead")[0])
    assert 117 < offset < 123
    assert clock.fix is not None and "NTP" in clock.fix
    assert results["Request store"].ok, "only the clock is wrong"


async def test_optional_settings_unset_are_never_failures(world: dict[str, str]) -> None:
    env = {**world}
    for name in ("CHIME_APPROVAL_CHANNEL", "CHIME_DEFAULT_ACCOUNT"):
        env[name] = ""
    checked = await run_check(env)
    assert checked.code == 0, checked.out
    assert "✓ Approval channel" in checked.out and "(optional)" in checked.line("Approval channel")
    assert "(optional)" in checked.line("Default account")
    # Cards then go to each request's channel: that is where posting is checked.
    assert "✓ Post in " + CHANNEL in checked.out


async def test_no_credentials_says_so_and_how_to_provide_them(world: dict[str, str]) -> None:
    env = {**world, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    checked = await run_check(env)
    assert checked.code == 1
    for name in ("AWS credentials", "Amazon Chime"):
        line = checked.line(name)
        assert "no AWS credentials found" in line and "IAM role" in line, line
        assert "Grant" not in line and "chime:ListAccounts" not in line, (
            "no IAM fix for no identity"
        )


async def test_unreachable_endpoints_say_unreachable_not_provide_credentials(
    world: dict[str, str],
) -> None:
    env = {
        **world,
        "AWS_ENDPOINT_URL_STS": CLOSED,
        "AWS_ENDPOINT_URL_CHIME": CLOSED,
        "SLACK_API_URL": CLOSED + "/api/",
        "CHIME_RETRY_BUDGET": "0.5",
    }
    checked = await run_check(env)
    assert checked.code == 1
    sts = checked.line("AWS credentials")
    assert f"could not reach STS at {CLOSED}" in sts and "network access" in sts
    assert "credentials the standard way" not in sts.lower()
    chime = checked.line("Amazon Chime")
    assert f"could not reach Amazon Chime at {CLOSED}" in chime, chime
    assert "could not reach Slack" in checked.line("Slack bot token")
    assert "not checked" in checked.line(f"Post in {DEMO_APPROVAL_CHANNEL}")


async def test_missing_chime_permission_names_the_iam_action(
    world: dict[str, str], peers: tuple[ChimeEmulator, SlackStandIn]
) -> None:
    emulator, _ = peers
    emulator.inject("ListAccounts", Fault("ForbiddenException", times=-1))
    checked = await run_check(world)
    assert checked.code == 1
    line = checked.line("Amazon Chime")
    assert "permission missing: chime:ListAccounts" in line and "Allow chime:ListAccounts" in line
    assert "not checked" in checked.line("Default account")


@pytest.mark.parametrize("operation", ["ListUsers", "GetUser"])
async def test_missing_lookup_permissions_are_named_too(
    world: dict[str, str], peers: tuple[ChimeEmulator, SlackStandIn], operation: str
) -> None:
    emulator, _ = peers
    emulator.inject(operation, Fault("ForbiddenException", times=-1))
    checked = await run_check(world)
    assert checked.code == 1
    line = checked.line("Chime user lookups")
    assert f"permission missing: chime:{operation}" in line, line
    assert "✓ Amazon Chime" in checked.out


async def test_a_refused_slack_token_names_the_fix(world: dict[str, str]) -> None:
    checked = await run_check({**world, "SLACK_BOT_TOKEN": "xoxb-revoked"})
    assert checked.code == 1
    line = checked.line("Slack bot token")
    assert "Slack refused the token (invalid_auth)" in line and "Reinstall the app" in line
    assert "xoxb-revoked" not in checked.out


# ---- the approval channel ---------------------------------------------------------------------


@pytest.mark.parametrize("hidden", [True, False], ids=["channel_not_found", "is_member_false"])
async def test_a_private_approval_channel_needs_the_bot_invited(
    world: dict[str, str], peers: tuple[ChimeEmulator, SlackStandIn], hidden: bool
) -> None:
    _, slack = peers
    # Slack may answer either way for a private channel the bot is not in: both must fail.
    slack.hide_private_nonmember = hidden
    slack.channels[DEMO_APPROVAL_CHANNEL] = {"name": "approvals", "is_private": True}
    slack.channels[DEMO_APPROVAL_CHANNEL]["is_member"] = False
    checked = await run_check(world)
    assert checked.code == 1
    line = checked.line(f"Post in {DEMO_APPROVAL_CHANNEL}")
    assert "✗" in line and "/invite @chime-bot" in line, line
    assert slack.calls_to("conversations.info")[0].args["channel"] == DEMO_APPROVAL_CHANNEL

    slack.channels[DEMO_APPROVAL_CHANNEL]["is_member"] = True
    checked = await run_check(world)
    assert checked.code == 0, checked.out
    assert "#approvals (private): the bot is a member" in checked.out


async def test_with_a_policy_file_posting_is_checked_wherever_chime_works(
    world: dict[str, str], peers: tuple[ChimeEmulator, SlackStandIn], tmp_path: Any
) -> None:
    """No approval channel: each card goes to its request's channel, any channel /chime works
    in, which a policy file extends per account. `check` lists those and checks each."""
    _, slack = peers
    slack.channels[TEAM_CHANNEL] = {"name": "team", "is_private": True, "is_member": False}
    text = f"accounts:\n  Example Team: {{channels: [{TEAM_CHANNEL}], approvers: [U0A]}}\n"
    env = {**world, "CHIME_APPROVAL_CHANNEL": "", "CHIME_POLICY_FILE": policy_file(tmp_path, text)}
    checked = await run_check(env)
    summary = checked.line("Policy file").splitlines()[0]
    works = [c.strip() for c in summary.split("/chime works in ", 1)[1].split(",")]
    assert works == [CHANNEL, TEAM_CHANNEL]
    posting = [line for line in checked.out.splitlines() if line[2:].startswith("Post in ")]
    assert [line[2:].split()[2] for line in posting] == works
    line = checked.line(f"Post in {TEAM_CHANNEL}")
    assert "✗" in line and "/invite @chime-bot" in line, line


async def test_a_public_channel_without_membership_needs_chat_write_public(
    world: dict[str, str], peers: tuple[ChimeEmulator, SlackStandIn]
) -> None:
    _, slack = peers
    slack.channels[DEMO_APPROVAL_CHANNEL] = {"name": "approvals", "is_member": False}
    checked = await run_check(world)
    assert checked.code == 0, checked.out
    assert "with chat:write.public" in checked.line(f"Post in {DEMO_APPROVAL_CHANNEL}")

    assert slack.scopes is not None
    slack.scopes = tuple(s for s in slack.scopes if s != "chat:write.public")
    checked = await run_check(world)
    assert checked.code == 1
    assert "lacks chat:write.public" in checked.line(f"Post in {DEMO_APPROVAL_CHANNEL}")


async def test_an_archived_channel_or_a_missing_scope_fails_with_its_fix(
    world: dict[str, str], peers: tuple[ChimeEmulator, SlackStandIn]
) -> None:
    _, slack = peers
    slack.channels[DEMO_APPROVAL_CHANNEL] = {"name": "approvals", "is_archived": True}
    checked = await run_check(world)
    assert "#approvals is archived" in checked.line(f"Post in {DEMO_APPROVAL_CHANNEL}")

    slack.channels.clear()
    slack.scopes = ("commands", "chat:write", "chat:write.public", "im:write")
    checked = await run_check(world)
    assert checked.code == 1
    line = checked.line(f"Post in {DEMO_APPROVAL_CHANNEL}")
    assert "cannot tell: the app lacks channels:read" in line and "reinstall" in line


# ---- credentials and permissions judged by moto's IAM -----------------------------------------


@contextlib.contextmanager
def iam_enforced() -> Iterator[None]:
    """moto checks every request's credentials and policies (its INITIAL_NO_AUTH_ACTION_COUNT
    setting, read per request) while this is open; the session's server is shared, so restore."""
    before = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = before


def _user_with_policy(moto_url: str, actions: list[str]) -> dict[str, str]:
    iam = boto3.client(
        "iam",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    name = f"chime-bot-{secrets.token_hex(4)}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
    }


async def test_refused_credentials_and_a_missing_store_permission(
    world: dict[str, str], dynamo_table: str, moto_dynamo: MotoDynamo
) -> None:
    keys = _user_with_policy(moto_dynamo.url, ["sts:GetCallerIdentity", "dynamodb:DescribeTable"])
    base = {**world, **moto_dynamo.env(), "CHIME_STORE_URL": f"dynamodb://{dynamo_table}"}
    with iam_enforced():
        refused = await run_check({**base, "AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000000"})
        denied = await run_check({**base, **keys})

    line = refused.line("AWS credentials")
    assert "STS refused the credentials (InvalidClientTokenId" in line, line
    assert "renew or replace" in line
    # moto answers DynamoDB's auth failures in XML, which real DynamoDB never does, so only the
    # verdict is asserted here; the wording for DynamoDB's own answers is tested below.
    assert "✗ Request store" in refused.out

    assert "✓ AWS credentials" in denied.out, denied.out
    assert "✗ Request store" in denied.out


async def test_store_check_covers_the_reads_serve_makes(
    world: dict[str, str], dynamo_table: str, moto_dynamo: MotoDynamo
) -> None:
    base = {**world, **moto_dynamo.env(), "CHIME_STORE_URL": f"dynamodb://{dynamo_table}"}
    writes = ["sts:GetCallerIdentity", "dynamodb:DescribeTable", "dynamodb:UpdateItem"]
    no_query = _user_with_policy(moto_dynamo.url, [*writes, "dynamodb:GetItem"])
    runtime = _user_with_policy(
        moto_dynamo.url, [*writes, "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"]
    )
    with iam_enforced():
        unreadable = await run_check({**base, **no_query})
        usable = await run_check({**base, **runtime})
    assert "✗ Request store" in unreadable.out, "a write alone does not make a usable store"
    assert "✓ Request store" in usable.out and "readable and writable" in usable.out, usable.out


@pytest.mark.parametrize(
    ("code", "message", "kind", "words"),
    [
        (
            "AccessDeniedException",
            "User: arn:aws:iam::123456789012:user/bot is not authorized to perform: "
            "dynamodb:UpdateItem on resource: arn:aws:dynamodb:eu-west-1:123456789012:table/t",
            "permission",
            "permission missing: dynamodb:UpdateItem",
        ),
        ("AccessDeniedException", "denied", "permission", "permission missing: dynamodb:PutItem"),
        (
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            "refused",
            "DynamoDB refused the credentials (UnrecognizedClientException",
        ),
        ("ExpiredTokenException", "expired", "refused", "check this machine's clock"),
        ("ValidationException", "bad", "other", "DynamoDB said ValidationException: bad"),
    ],
)
def test_dynamodb_answers_in_an_operators_words(
    code: str, message: str, kind: str, words: str
) -> None:
    # DynamoDB's JSON error shape, as botocore parses it (__type's suffix becomes the code).
    error = ClientError({"Error": {"Code": code, "Message": message}}, "UpdateItem")
    problem = explain(error, service="DynamoDB", action="dynamodb:PutItem", endpoint="x")
    assert problem.kind == kind
    assert words in problem.detail + " " + problem.fix


def test_connection_and_credential_failures_in_an_operators_words() -> None:
    unreachable = explain(
        EndpointConnectionError(endpoint_url="https://sts.amazonaws.com"),
        service="STS",
        action="sts:GetCallerIdentity",
        endpoint="https://sts.amazonaws.com",
    )
    assert unreachable.kind == "unreachable" and "network access" in unreachable.fix
    partial = explain(
        PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        service="STS",
        action="sts:GetCallerIdentity",
        endpoint="x",
    )
    assert partial.kind == "no_credentials" and "AWS_SECRET_ACCESS_KEY" in partial.detail
