"""One list of AWS's credential and permission codes (bot/aws.py): `chime-bot check` and a
Chime reply name the same problem for the same code."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from bot.aws import CREDENTIAL_CODES, PERMISSION_CODES, explain
from bot.chime.errors import classify
from bot.errors import CREDENTIALS_FIX, ChimeCredentials, ChimePermissionDenied


def answer(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ListAccounts",
    )


@pytest.mark.parametrize("code", sorted(CREDENTIAL_CODES))
def test_every_credential_code_is_refused_credentials_everywhere(code: str) -> None:
    assert explain(answer(code), service="STS", action="sts:X", endpoint="x").kind == "refused"
    error = classify("ListAccounts", answer(code))
    assert isinstance(error, ChimeCredentials) and error.hint == CREDENTIALS_FIX


@pytest.mark.parametrize("code", sorted(PERMISSION_CODES))
def test_every_permission_code_is_a_missing_permission_everywhere(code: str) -> None:
    problem = explain(answer(code), service="Chime", action="chime:ListAccounts", endpoint="x")
    assert problem.kind == "permission"
    assert isinstance(classify("ListAccounts", answer(code)), ChimePermissionDenied)
