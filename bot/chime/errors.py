"""What a failed Chime call means, decided by error code and HTTP status, never by a short list
of names: may it be retried, did it perhaps take effect, and what should the admin be told.

- Throttling (HTTP 429, or any code botocore itself counts as throttling, plus Chime's own
  `ThrottledClientException`): nothing happened; retried with backoff.
- Credentials (AWS's front-door authentication codes, or botocore finding no credentials):
  the bot's identity, not its permissions, is the problem; the reply says how to fix it.
- Permission (AccessDenied, Forbidden, UnauthorizedClientException, or any other 403): the
  reply names the IAM action.
- Outage (5xx, a dropped connection, a timeout, an unreadable reply): the call may have taken
  effect. Reads are retried; CreateUser looks before it calls again.
"""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    NoAuthTokenError,
    NoCredentialsError,
    PartialCredentialsError,
    TokenRetrievalError,
    UnknownCredentialError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError
from botocore.retries.standard import ThrottledRetryableChecker, TransientRetryableChecker

from bot.aws import CREDENTIAL_CODES, PERMISSION_CODES
from bot.errors import (
    ChimeConflict,
    ChimeCredentials,
    ChimeError,
    ChimeNotFound,
    ChimePermissionDenied,
    ChimeRejected,
    ChimeThrottled,
    ChimeUnavailable,
)

# botocore keeps its lists on its retry checkers (botocore.retries.standard); reuse them so the
# bot knows every throttling code botocore knows. Chime's own shape (ThrottledClientException,
# 429) and the model's ErrorCode values "Throttled"/"Throttling" are not all in it.
THROTTLING_CODES = frozenset(getattr(ThrottledRetryableChecker, "_THROTTLED_ERROR_CODES", [])) | {
    "ThrottledClientException",
    "Throttled",
    "Throttling",
    "TooManyRequestsException",
}
TRANSIENT_CODES = frozenset(getattr(TransientRetryableChecker, "_TRANSIENT_ERROR_CODES", [])) | {
    "ServiceUnavailableException",
    "ServiceFailureException",
    "ServiceUnavailable",
    "ServiceFailure",
    "InternalFailure",
    "InternalServerError",
}
CREDENTIAL_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    UnknownCredentialError,
    NoAuthTokenError,
    TokenRetrievalError,
)


def is_throttling(code: str, status: int) -> bool:
    return status == 429 or code in THROTTLING_CODES


def classify(operation: str, exc: BaseException) -> ChimeError:
    """Map a botocore failure (or a per-attempt timeout) to the bot's taxonomy."""
    if isinstance(exc, ClientError):
        return _classify_answer(operation, exc)
    if isinstance(exc, CREDENTIAL_ERRORS):
        return ChimeCredentials(operation, str(exc), code=type(exc).__name__)
    if isinstance(exc, (BotoConnectionError, HTTPClientError, asyncio.TimeoutError)):
        name = "Timeout" if isinstance(exc, asyncio.TimeoutError) else type(exc).__name__
        return ChimeUnavailable(
            operation,
            f"Could not reach Amazon Chime ({name}).",
            code=name,
            effect_unknown=not never_sent(exc),
        )
    if isinstance(exc, ResponseParserError):
        return ChimeUnavailable(
            operation,
            "Amazon Chime's reply could not be read.",
            code=type(exc).__name__,
            effect_unknown=True,
        )
    if isinstance(exc, BotoCoreError):
        return ChimeRejected(
            operation, f"The AWS SDK refused the call: {exc}", code=type(exc).__name__
        )
    raise TypeError(f"not a Chime failure: {exc!r}")


def _classify_answer(operation: str, exc: ClientError) -> ChimeError:
    err = exc.response.get("Error", {})
    code = str(err.get("Code", ""))
    message = str(err.get("Message", "")) or code
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    label = code or f"HTTP {status}"
    if is_throttling(code, status):
        return ChimeThrottled(
            operation, f"Amazon Chime throttled {operation} ({label}).", code=code
        )
    if code in CREDENTIAL_CODES:
        return ChimeCredentials(operation, message, code=code)
    if code in PERMISSION_CODES or status == 403:
        return ChimePermissionDenied(operation, message, code=code)
    if status >= 500 or code in TRANSIENT_CODES:
        return ChimeUnavailable(
            operation, f"{operation} failed: {label}.", code=code, effect_unknown=True
        )
    if code == "NotFoundException" or status == 404:
        return ChimeNotFound(operation, message, code=code)
    if code == "ConflictException" or status == 409:
        return ChimeConflict(operation, message, code=code)
    if code == "BadRequestException":
        return ChimeRejected(operation, f"Amazon Chime said: {message}", code=code)
    return ChimeRejected(operation, f"Amazon Chime said {label}: {message}", code=code)


def never_sent(exc: BaseException) -> bool:
    """True only when the request certainly never reached Chime: the connection was never made.

    aiobotocore maps every aiohttp connection error, including a reset mid-response, to
    EndpointConnectionError, so the wrapped error decides.
    """
    if isinstance(exc, ConnectTimeoutError):
        return True
    if isinstance(exc, EndpointConnectionError):
        cause = exc.kwargs.get("error")
        return isinstance(cause, (aiohttp.ClientConnectorError, socket.gaierror))
    return False


def is_outage(error: ChimeError) -> bool:
    """Counts against the circuit breaker: Chime gave no answer at all, or a 5xx."""
    return isinstance(error, ChimeUnavailable) and not isinstance(error, ChimeThrottled)
