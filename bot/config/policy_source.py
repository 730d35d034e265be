"""Where the per-account policy comes from: CHIME_POLICY_FILE, or CHIME_POLICY_SSM_PARAMETER.

On a container platform the policy must change without building a new image. The bot reads it
from an SSM Parameter Store parameter at start-up (then as from a file: bot/config/policy_file.py)
rather than from an S3 object, because:
- one parameter is one resource to grant (`ssm:GetParameter` on its ARN), with no bucket to
  create and lock down (public access block, versioning, access logging, encryption);
- Parameter Store keeps every version of the value with who wrote it, and `put-parameter
  --overwrite` is the one command to change it;
- a policy is small: an advanced parameter holds 8 KB of YAML (a standard one 4 KB), about 100
  account entries; S3's unlimited size buys nothing here.

As with the file, the value is read once at start-up (by `load_settings`, which validates it,
and again when the bot is built): restart the bot, or roll its tasks, to apply a change.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.aws import explain
from bot.config.policy_file import PolicyFile, PolicyFileError, load_policy_file, parse_policy

SSM_VARIABLE = "CHIME_POLICY_SSM_PARAMETER"
# A parameter's name (`/chime-bot/policy`, `chime-bot-policy`) or its ARN, as GetParameter's
# Name takes either (botocore's SSM model: PSParameterName, 1-2048 characters). The character
# set is Parameter Store's naming rule (AWS Systems Manager User Guide, "Creating Parameter Store
# parameters": a-z A-Z 0-9 _ . - and / for a hierarchy).
PARAMETER = re.compile(
    r"^(arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter)?/?[A-Za-z0-9_.\-/]{1,1011}$"
)


def read_policy(file: str | None, parameter: str | None, region: str | None) -> PolicyFile | None:
    """The validated policy from the file or the parameter (None when neither is set);
    PolicyFileError with one line per problem otherwise."""
    if file:
        return load_policy_file(Path(file))
    if parameter:
        where = f"{SSM_VARIABLE} ({parameter})"
        return parse_policy(fetch_parameter(parameter, region, where), where)
    return None


def fetch_parameter(name: str, region: str | None, where: str, client: Any = None) -> bytes:
    """The parameter's value (decrypted when it is a SecureString), as UTF-8 bytes."""
    if client is None:
        # botocore honours AWS_ENDPOINT_URL_SSM (a VPC endpoint, or the tests' moto).
        config = Config(
            region_name=region, retries={"mode": "standard"}, connect_timeout=3, read_timeout=10
        )
        client = boto3.session.Session().client("ssm", config=config)
    try:
        answer = client.get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == "ParameterNotFound":
            raise PolicyFileError(
                [f"{where}: no such parameter in region {region or '(botocore default)'}"]
            ) from None
        if code == "ParameterVersionNotFound":
            raise PolicyFileError([f"{where}: no such version of the parameter"]) from None
        problem = explain(exc, service="SSM", action="ssm:GetParameter", endpoint="ssm")
        raise PolicyFileError([f"{where}: {problem.detail}. {problem.fix}"]) from None
    except BotoCoreError as exc:
        problem = explain(exc, service="SSM", action="ssm:GetParameter", endpoint="ssm")
        raise PolicyFileError([f"{where}: {problem.detail}. {problem.fix}"]) from None
    value = answer.get("Parameter", {}).get("Value")
    if not isinstance(value, str):
        raise PolicyFileError([f"{where}: SSM returned no value for the parameter"])
    return value.encode("utf-8")
