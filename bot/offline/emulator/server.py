"""The aiohttp wire layer: Chime's rest-json routes, SigV4 gatekeeping, and the control plane.

Success bodies are JSON with the model's status code (201 for CreateUser and InviteUsers; 204
and no body for LogoutUser); errors carry ``x-amzn-ErrorType: <ShapeName>`` plus
``{"Code", "Message"}``. botocore picks the exception class from that header, not from the body,
so the header is what makes ``client.exceptions.NotFoundException`` work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from .controls import GARBLED, RESET, STALL, Call, Controls, Fault, check_operation
from .errors import ChimeError, bad_request, not_found
from .state import ChimeState

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SIGNING_SERVICE = "chime"

# Only the shape of the header is checked: the emulator never knows the secret key.
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/\s,]+)/(?P<date>\d{8})/(?P<region>[^/\s,]+)"
    r"/(?P<service>[^/\s,]+)/aws4_request\s*,\s*SignedHeaders=[^,\s]+\s*,\s*Signature=[0-9a-f]+"
)

QUERY_MEMBERS: dict[str, dict[str, str]] = {
    "ListAccounts": {
        "name": "Name",
        "user-email": "UserEmail",
        "next-token": "NextToken",
        "max-results": "MaxResults",
    },
    "ListUsers": {
        "user-email": "UserEmail",
        "user-type": "UserType",
        "max-results": "MaxResults",
        "next-token": "NextToken",
    },
}
PATH_MEMBERS = {"accountId": "AccountId", "userId": "UserId"}
# Body members per the model; anything else in a body is ignored, as the service does, and can
# never override a path member such as AccountId.
BODY_MEMBERS = {
    "CreateUser": ("Username", "Email", "UserType"),
    "InviteUsers": ("UserEmailList", "UserType"),
    "BatchSuspendUser": ("UserIdList",),
    "BatchUnsuspendUser": ("UserIdList",),
    "UpdateUser": ("LicenseType", "UserType", "AlexaForBusinessMetadata"),
}
# Each operation's http.responseCode in the model.
SUCCESS_STATUS = {
    "ListAccounts": 200,
    "ListUsers": 200,
    "GetUser": 200,
    "CreateUser": 201,
    "InviteUsers": 201,
    "BatchSuspendUser": 200,
    "BatchUnsuspendUser": 200,
    "LogoutUser": 204,
    "ResetPersonalPIN": 200,
    "UpdateUser": 200,
}
# Operations sharing a path are told apart by the literal ?operation= query that the model bakes
# into their requestUri; on a user's path, no query at all is UpdateUser.
POST_USERS_OPERATIONS = {
    "create": "CreateUser",
    "add": "InviteUsers",
    "suspend": "BatchSuspendUser",
    "unsuspend": "BatchUnsuspendUser",
}
POST_USER_OPERATIONS = {
    None: "UpdateUser",
    "logout": "LogoutUser",
    "reset-personal-pin": "ResetPersonalPIN",
}


def _headers(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4()), **(extra or {})}


def json_response(body: Mapping[str, Any], status: int) -> web.Response:
    if status == 204:
        # No Content may carry no body at all (RFC 9110), not even "{}".
        return web.Response(status=204, headers=_headers())
    return web.json_response(body, status=status, headers=_headers())


def error_response(err: ChimeError) -> web.Response:
    return web.json_response(
        {"Code": err.code, "Message": err.message},
        status=err.status,
        headers=_headers({"x-amzn-ErrorType": err.error}),
    )


def signing_region(authorization: str | None) -> str:
    """The region in a SigV4 credential scope for service ``chime``.

    A request that is unsigned or signed for another service gets 403 with the modeled
    UnauthorizedClientException shape, so boto3 raises that class (with status 403).
    """
    match = _SIGV4.fullmatch((authorization or "").strip())
    if match is None:
        raise ChimeError(
            "UnauthorizedClientException",
            "Missing or malformed AWS Signature Version 4 Authorization header",
            status=403,
        )
    if match["service"] != SIGNING_SERVICE:
        raise ChimeError(
            "UnauthorizedClientException",
            f"Credential should be scoped to correct service: '{SIGNING_SERVICE}'.",
            status=403,
        )
    return match["region"]


def request_params(operation: str, request: web.Request) -> dict[str, Any]:
    """Path and query members, named as in the model."""
    params = {PATH_MEMBERS[k]: val for k, val in request.match_info.items() if k in PATH_MEMBERS}
    for wire_name, member in QUERY_MEMBERS.get(operation, {}).items():
        if wire_name in request.query:
            params[member] = request.query[wire_name]
    return params


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    return body


class ChimeRoutes:
    def __init__(self, state: ChimeState, controls: Controls) -> None:
        self._state = state
        self._controls = controls

    async def list_accounts(self, request: web.Request) -> web.Response:
        return await self._serve("ListAccounts", request)

    async def list_users(self, request: web.Request) -> web.Response:
        return await self._serve("ListUsers", request)

    async def get_user(self, request: web.Request) -> web.Response:
        return await self._serve("GetUser", request)

    async def post_users(self, request: web.Request) -> web.Response:
        operation = POST_USERS_OPERATIONS.get(request.query.get("operation", ""))
        if operation is None:
            raise web.HTTPNotFound()
        return await self._serve(operation, request)

    async def post_user(self, request: web.Request) -> web.Response:
        operation = POST_USER_OPERATIONS.get(request.query.get("operation"))
        if operation is None:
            raise web.HTTPNotFound()
        return await self._serve(operation, request)

    async def _serve(self, operation: str, request: web.Request) -> web.Response:
        params = request_params(operation, request)
        region = ""
        try:
            region = signing_region(request.headers.get("Authorization"))
            if operation in BODY_MEMBERS:
                sent = await json_body(request)
                params.update({k: sent[k] for k in BODY_MEMBERS[operation] if k in sent})
            await self._delay(operation)
            fault = self._controls.take_fault(operation)
            if fault is not None and fault.applied:
                self._state.dispatch(operation)(params)
            if fault is not None and fault.error in (RESET, STALL):
                return await self._drop(request, operation, params, region, fault)
            if fault is not None and fault.error == GARBLED:
                response = web.Response(
                    status=200, text="<html>proxy error</html>", content_type="text/html"
                )
            elif fault is not None:
                raise ChimeError(fault.error, fault.message, status=fault.http_status)
            else:
                body = self._state.dispatch(operation)(params)
                response = json_response(body, SUCCESS_STATUS[operation])
        except ChimeError as err:
            response = error_response(err)
        self._controls.record(Call(operation, params, region, response.status))
        return response

    async def _drop(
        self,
        request: web.Request,
        operation: str,
        params: dict[str, Any],
        region: str,
        fault: Fault,
    ) -> web.Response:
        """End the call with no HTTP response: at once (RESET) or after `hold` seconds (STALL)."""
        self._controls.record(Call(operation, params, region, 0))
        if fault.error == STALL:
            await asyncio.sleep(fault.hold)
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)  # never reaches the client: the connection is gone

    async def _delay(self, operation: str) -> None:
        seconds = self._controls.take_latency(operation)
        if seconds > 0:
            await asyncio.sleep(seconds)


class ControlRoutes:
    """``/_emulator/...``: lets another process inject faults and read the call log."""

    def __init__(self, controls: Controls) -> None:
        self._controls = controls

    async def faults(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        try:
            operation = check_operation(str(body.get("operation")))
            fault = Fault(
                error=str(body.get("error")),
                times=int(body.get("times", 1)),
                message=str(body.get("message", "injected fault")),
                applied=bool(body.get("applied", False)),
                http_status=None if body.get("status") is None else int(body["status"]),
                hold=float(body.get("hold", 30.0)),
            )
        except (TypeError, ValueError) as exc:
            raise bad_request(str(exc)) from None
        self._controls.inject(operation, fault)
        return json_response(
            {"operation": operation, "error": fault.error, "times": fault.times}, 200
        )

    async def latency(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        try:
            seconds = float(body["seconds"])
            operation = body.get("operation")
            times = body.get("times")
            if times is None:
                self._controls.set_latency(seconds, None if operation is None else str(operation))
            else:
                self._controls.latency_for(str(operation), seconds, int(times))
        except (KeyError, TypeError, ValueError) as exc:
            raise bad_request(f"invalid latency request: {exc}") from None
        return json_response({"seconds": seconds, "operation": operation, "times": times}, 200)

    async def calls(self, request: web.Request) -> web.Response:
        operation = request.query.get("operation")
        calls = [
            {"operation": c.operation, "status": c.status, "region": c.region}
            for c in self._controls.calls(operation)
        ]
        return json_response({"calls": calls, "count": len(calls)}, 200)

    async def reset_calls(self, request: web.Request) -> web.Response:
        self._controls.reset_calls()
        return json_response({"count": 0}, 200)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as a Chime-shaped JSON error, never an HTML page or a traceback."""
    try:
        return await handler(request)
    except ChimeError as err:
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status in (404, 405):
            return error_response(not_found(f"No route for {request.method} {request.path}"))
        return error_response(ChimeError("BadRequestException", exc.reason, status=exc.status))
    except Exception:
        log.exception("emulator bug while serving %s %s", request.method, request.path)
        return error_response(ChimeError("ServiceFailureException", "Internal emulator error"))


def build_app(state: ChimeState, controls: Controls) -> web.Application:
    chime = ChimeRoutes(state, controls)
    control = ControlRoutes(controls)
    app = web.Application(middlewares=[json_errors])
    app.router.add_get("/accounts", chime.list_accounts, allow_head=False)
    app.router.add_get("/accounts/{accountId}/users", chime.list_users, allow_head=False)
    app.router.add_post("/accounts/{accountId}/users", chime.post_users)
    app.router.add_get("/accounts/{accountId}/users/{userId}", chime.get_user, allow_head=False)
    app.router.add_post("/accounts/{accountId}/users/{userId}", chime.post_user)
    app.router.add_post("/_emulator/faults", control.faults)
    app.router.add_post("/_emulator/latency", control.latency)
    app.router.add_get("/_emulator/calls", control.calls, allow_head=False)
    app.router.add_post("/_emulator/reset-calls", control.reset_calls)
    return app
