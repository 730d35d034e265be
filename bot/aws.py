"""AWS facts shared by every client: the region, and failures in an operator's words.

The AWS region, found once by botocore's own chain for every regional client.

Settings (AWS_REGION or AWS_DEFAULT_REGION, from the environment or .env) come first; this is
what botocore decides when they name none: AWS_DEFAULT_REGION in the process environment, then
the `region` of the active profile (AWS_PROFILE) in the AWS config file. Chime is not regional
here: its account API has one global endpoint (bot/chime/client.py CHIME_REGION).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import botocore.session
from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    SSOError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from bot.errors import CREDENTIALS_FIX


def botocore_region() -> str | None:
    """botocore's answer, or None when nothing names a region. Raises BotoCoreError for a
    broken AWS configuration (a profile that does not exist, a config file that does not
    parse)."""
    region = botocore.session.Session().get_config_variable("region")
    return str(region) if region else None


# ---- what went wrong, in an operator's words ---------------------------------------------------

# The codes AWS answers when it does not accept the credentials themselves (as opposed to an
# identity it knows lacking a permission): AWS's common errors for requests it cannot
# authenticate (AWS General Reference, "Common errors"), which botocore exposes as no list.
# Query protocols (STS) say InvalidClientTokenId / SignatureDoesNotMatch / ExpiredToken; JSON
# protocols (DynamoDB, Chime) UnrecognizedClientException / InvalidSignatureException /
# ExpiredTokenException. Both spellings are listed.
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredTokenException",
        "ExpiredToken",
        "RequestExpired",
        "MissingAuthenticationToken",
        "MissingAuthenticationTokenException",
        "IncompleteSignature",
        "IncompleteSignatureException",
        "InvalidAccessKeyId",
        "AuthFailure",
        "TokenRefreshRequired",
    }
)
# A known identity without the permission. Chime's model names ForbiddenException (403) and
# UnauthorizedClientException (401); the IAM layer in front of every service says AccessDenied.
PERMISSION_CODES = frozenset(
    {
        "ForbiddenException",
        "Forbidden",
        "UnauthorizedClientException",
        "Unauthorized",
        "AccessDeniedException",
        "AccessDenied",
    }
)
# IAM's own wording: "User: arn:... is not authorized to perform: dynamodb:PutItem on resource"
_ACTION_IN_MESSAGE = re.compile(r"perform: ([a-z0-9-]+:[A-Za-z0-9]+)")


@dataclass(frozen=True, slots=True)
class AwsProblem:
    kind: Literal["no_credentials", "refused", "permission", "unreachable", "other"]
    detail: str
    fix: str


def explain(exc: BaseException, *, service: str, action: str, endpoint: str) -> AwsProblem:
    """Why a call to `service` (IAM `action`, at `endpoint`) failed, and the fix that fits."""
    if isinstance(exc, NoCredentialsError):
        return AwsProblem("no_credentials", "no AWS credentials found", CREDENTIALS_FIX)
    if isinstance(exc, PartialCredentialsError | CredentialRetrievalError | SSOError):
        return AwsProblem(
            "no_credentials", f"AWS credentials could not be loaded ({exc})", CREDENTIALS_FIX
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return AwsProblem(
            "unreachable",
            f"could not reach {service} at {endpoint} ({type(exc).__name__})",
            f"Check network access (firewall, proxy, VPC endpoint) to {endpoint}, and any "
            f"AWS_ENDPOINT_URL_* override.",
        )
    if not isinstance(exc, ClientError):
        return AwsProblem("other", f"{type(exc).__name__}: {exc}", "See the message above.")
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    if code in CREDENTIAL_CODES:
        clock = " If they are right, check this machine's clock." if "Expired" in code else ""
        return AwsProblem(
            "refused",
            f"{service} refused the credentials ({code}: {message})",
            "The access key is wrong, deactivated or expired: renew or replace the credentials "
            f"(aws sso login, a new access key, the role's session).{clock}",
        )
    if code in PERMISSION_CODES:
        found = _ACTION_IN_MESSAGE.search(message)
        needed = found.group(1) if found else action
        return AwsProblem(
            "permission",
            f"permission missing: {needed} ({code})",
            f"Allow {needed} in the IAM policy of the bot's identity (see IAM in the README).",
        )
    return AwsProblem("other", f"{service} said {code}: {message}", "See the message above.")
