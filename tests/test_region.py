"""One AWS region for every regional client (STS, DynamoDB), found by botocore's own chain:
AWS_REGION / AWS_DEFAULT_REGION from the environment or .env (through the settings), then the
active profile's region in the AWS config file. Real processes throughout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.cli import run_cli

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

TABLE = "chime-requests"


def policy_region(env: dict[str, str]) -> str:
    result = run_cli(
        "init-store", "--print-policy", env={"CHIME_STORE_URL": f"dynamodb://{TABLE}", **env}
    )
    assert result.returncode == 0, result.stderr
    arns = json.loads(result.stdout)["Statement"][0]["Resource"]
    regions = {arn.split(":")[3] for arn in arns}
    assert len(regions) == 1
    return str(regions.pop())


@pytest.fixture
def aws_config(tmp_path: Path) -> Path:
    path = tmp_path / "aws-config"
    path.write_text(
        "[default]\nregion = eu-north-1\n\n[profile ops]\nregion = ap-southeast-2\n\n"
        "[profile bare]\noutput = json\n"
    )
    return path


def test_region_from_the_environment(aws_config: Path) -> None:
    assert policy_region({"AWS_REGION": "eu-west-1", "AWS_CONFIG_FILE": str(aws_config)}) == (
        "eu-west-1"
    ), "the environment wins over the profile"
    assert policy_region({"AWS_DEFAULT_REGION": "eu-west-3"}) == "eu-west-3"


def test_region_from_the_dotenv_file(tmp_path: Path, aws_config: Path) -> None:
    (tmp_path / ".env").write_text("AWS_REGION=eu-central-1\n")
    assert policy_region({"AWS_CONFIG_FILE": str(aws_config)}) == "eu-central-1"
    (tmp_path / ".env").write_text("AWS_DEFAULT_REGION=sa-east-1\n")
    assert policy_region({}) == "sa-east-1"


def test_region_from_the_profile(aws_config: Path) -> None:
    config = {"AWS_CONFIG_FILE": str(aws_config)}
    assert policy_region(config) == "eu-north-1"
    assert policy_region({**config, "AWS_PROFILE": "ops"}) == "ap-southeast-2"


def test_no_region_anywhere_stops_the_dynamodb_store_with_one_line(aws_config: Path) -> None:
    env = {
        "AWS_CONFIG_FILE": str(aws_config),
        "AWS_PROFILE": "bare",
        "CHIME_STORE_URL": f"dynamodb://{TABLE}",
    }
    for command in (["serve"], ["check"], ["init-store", "--print-policy"], ["audit"]):
        result = run_cli(*command, env=env)
        assert result.returncode == 2, (command, result.stdout)
        assert "  - AWS_REGION: not set, and the AWS profile names no region" in result.stderr


def test_a_profile_that_does_not_exist_is_a_configuration_mistake(aws_config: Path) -> None:
    result = run_cli("check", env={"AWS_CONFIG_FILE": str(aws_config), "AWS_PROFILE": "nope"})
    assert result.returncode == 2
    assert "AWS configuration: The config profile (nope) could not be found" in result.stderr


def test_the_store_and_check_use_the_resolved_region(
    dynamo_table: str, moto_dynamo: MotoDynamo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The table exists in us-east-1 only (moto keeps regions apart, as DynamoDB does).
    base = {
        **moto_dynamo.env(),
        "AWS_ENDPOINT_URL_STS": moto_dynamo.url,
        "CHIME_STORE_URL": f"dynamodb://{dynamo_table}",
    }
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):  # only the profile names a region
        base.pop(name)
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "aws-config"
    config.write_text("[default]\nregion = us-east-1\n")
    found = run_cli("check", env={**base, "AWS_CONFIG_FILE": str(config)})
    assert "AWS region: us-east-1" in found.stdout
    assert "✓ Request store" in found.stdout and "in us-east-1" in found.stdout, found.stdout

    # .env names another region: the store looks there, as serve would, and says where.
    (tmp_path / ".env").write_text("AWS_REGION=eu-west-1\n")
    elsewhere = run_cli("check", env={**base, "AWS_CONFIG_FILE": str(config)})
    assert "AWS region: eu-west-1" in elsewhere.stdout
    assert "✗ Request store" in elsewhere.stdout
    assert "does not exist in region eu-west-1" in elsewhere.stdout
