"""Chime's modeled error shapes and the status and ``Code`` each one carries on the wire.

The statuses and codes come from the botocore model (chime/2018-05-01): each error shape has an
``error.httpStatusCode`` and a ``Code`` member drawn from the ``ErrorCode`` enum.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    code: str


ERRORS: dict[str, ErrorSpec] = {
    "BadRequestException": ErrorSpec(400, "BadRequest"),
    "UnauthorizedClientException": ErrorSpec(401, "Unauthorized"),
    "ForbiddenException": ErrorSpec(403, "Forbidden"),
    "NotFoundException": ErrorSpec(404, "NotFound"),
    "ConflictException": ErrorSpec(409, "Conflict"),
    "ThrottledClientException": ErrorSpec(429, "Throttled"),
    "ServiceFailureException": ErrorSpec(500, "ServiceFailure"),
    "ServiceUnavailableException": ErrorSpec(503, "ServiceUnavailable"),
}


class ChimeError(Exception):
    """A modeled Chime error; the wire layer turns it into status, header and JSON body."""

    def __init__(self, error: str, message: str, *, status: int | None = None) -> None:
        if error not in ERRORS and status is None:
            raise ValueError(f"unknown Chime error shape {error!r}; expected one of {list(ERRORS)}")
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message
        # An error outside the model (an injected front-door or throttling error) has no modeled
        # Code; AWS's front door sends the error name, which is what botocore reads anyway.
        self.code = ERRORS[error].code if error in ERRORS else error
        # The status can differ from the model's for front-door failures (see server.py's auth).
        self.status = status if status is not None else ERRORS[error].status


def bad_request(message: str) -> ChimeError:
    return ChimeError("BadRequestException", message)


def not_found(message: str) -> ChimeError:
    return ChimeError("NotFoundException", message)


def conflict(message: str) -> ChimeError:
    return ChimeError("ConflictException", message)
