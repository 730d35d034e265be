"""CHIME_POLICY_SSM_PARAMETER: the per-account policy read from SSM Parameter Store at start-up,
so that a deployment changes it without a new image. moto's server stands in for SSM; the bot
reaches it over HTTP through AWS_ENDPOINT_URL_SSM, as a deployment reaches a VPC endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from tests.cli import offline_env, run_cli
from tests.conftest import CHANNEL
from tests.ops.test_check import run_check
from tests.policy.test_policy import CORP_BOSS, CORP_ID, policy_file

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

POLICY = f"""
default: {{approvers: [U0APPROVER]}}
accounts:
  Example Corp:
    channels: [{CHANNEL}]
    approvers: [{CORP_BOSS}]
    ttl: 3600
"""


def ssm(moto: MotoDynamo) -> Any:
    env = moto.env()
    return boto3.client(
        "ssm",
        endpoint_url=moto.url,
        region_name=env["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def put(moto: MotoDynamo, name: str, value: str, kind: str = "String") -> None:
    ssm(moto).put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)


def ssm_env(moto: MotoDynamo, name: str, **extra: str) -> dict[str, str]:
    return {
        **moto.env(),
        "AWS_ENDPOINT_URL_SSM": moto.url,
        "CHIME_POLICY_SSM_PARAMETER": name,
        **extra,
    }


def problems_of(result: Any) -> list[str]:
    """The policy's problems (serve has others here: no Slack token is set)."""
    assert result.returncode == 2, result.stderr
    return [ln for ln in result.stderr.splitlines() if ln.startswith("  - CHIME_POLICY")]


async def test_check_applies_the_policy_read_from_the_parameter(
    peers: tuple[ChimeEmulator, SlackStandIn], moto_dynamo: MotoDynamo, tmp_path: Path
) -> None:
    emulator, slack = peers
    name = "/chime-bot/test-check/policy"
    put(moto_dynamo, name, POLICY, "SecureString")  # decrypted on the way in
    env = offline_env(slack, emulator, tmp_path, **ssm_env(moto_dynamo, name))
    # STS too, as in a deployment: else check asks AWS's real STS (see test_policy_file.py).
    env["AWS_ENDPOINT_URL_STS"] = moto_dynamo.url
    checked = await run_check(env)
    assert f"SSM parameter {name}: 1 account entry, a default section" in checked.line(
        "Policy file"
    )
    corp = checked.line("Policy for Example Corp")
    assert corp.startswith("✓") and CORP_ID in corp
    assert f"approvers {CORP_BOSS};" in corp and "TTL 3600 s" in corp

    # Changed in Parameter Store, no image built: the next start reads the new value.
    put(moto_dynamo, name, POLICY.replace("ttl: 3600", "ttl: 7200"))
    assert "TTL 7200 s" in (await run_check(env)).line("Policy for Example Corp")


def test_a_bad_value_is_refused_like_a_bad_file(moto_dynamo: MotoDynamo) -> None:
    name = "/chime-bot/test-bad/policy"
    put(moto_dynamo, name, "accounts:\n  Example Corp: {approvals_required: 3}\n")
    (problem,) = problems_of(run_cli("serve", env=ssm_env(moto_dynamo, name)))
    assert problem.startswith(f"  - CHIME_POLICY_SSM_PARAMETER ({name}): ")
    assert 'accounts."Example Corp".approvals_required' in problem


def test_a_missing_parameter_is_named_with_its_region(moto_dynamo: MotoDynamo) -> None:
    name = "/chime-bot/nowhere"
    (problem,) = problems_of(run_cli("check", env=ssm_env(moto_dynamo, name)))
    region = moto_dynamo.env()["AWS_REGION"]
    assert problem == (
        f"  - CHIME_POLICY_SSM_PARAMETER ({name}): no such parameter in region {region}"
    )


def test_the_file_and_the_parameter_are_not_both_set(
    moto_dynamo: MotoDynamo, tmp_path: Path
) -> None:
    name = "/chime-bot/test-both/policy"
    put(moto_dynamo, name, POLICY)
    env = ssm_env(moto_dynamo, name, CHIME_POLICY_FILE=policy_file(tmp_path, POLICY))
    (problem,) = problems_of(run_cli("check", env=env))
    assert "CHIME_POLICY_FILE and CHIME_POLICY_SSM_PARAMETER are both set" in problem


@pytest.mark.parametrize("name", ["has space", "s3://bucket/policy.yml", "a" * 1100])
def test_a_name_that_is_no_parameter_name_is_refused(name: str) -> None:
    (problem,) = problems_of(run_cli("check", env={"CHIME_POLICY_SSM_PARAMETER": name}))
    assert problem.startswith("  - CHIME_POLICY_SSM_PARAMETER: not an SSM parameter name or ARN")
