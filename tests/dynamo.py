"""A DynamoDB stand-in for tests: moto's server on 127.0.0.1, one fresh table per test.

One server serves the whole session; tests stay apart by table name. Being a real HTTP endpoint
(AWS_ENDPOINT_URL_DYNAMODB), it is shared by the test process, child processes and `chime-bot
serve` replicas alike, and exercises botocore's signing, serialization and error parsing.

Load with `pytest_plugins = ("tests.dynamo",)` in a test module.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from bot.store.admin import init_table

REGION = "us-east-1"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class OneRequestAtATime:
    """WSGI middleware that serializes moto's request handling.

    moto's DynamoDB backend has no locking: two concurrent conditional writes can both pass
    their condition, and a cancelled transaction rolls back by restoring a copy of the whole
    table taken when it began, undoing writes that landed meanwhile (and can crash copying a
    dict that another thread is changing). Real DynamoDB serializes writes to an item and runs
    transactions atomically, so this restores what the store relies on. Each connection still
    has its own thread, so a kept-alive connection never blocks the others.
    """

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            # Read the whole body under the lock: it is built from backend state.
            return list(self._app(environ, start_response))


@dataclass(frozen=True)
class MotoDynamo:
    url: str
    # For setting up and tearing down tables: one client for the session saves making one
    # (tens of milliseconds of model loading) per test.
    admin: Any

    def env(self) -> dict[str, str]:
        """What a process needs to reach this server with throwaway credentials."""
        return {
            "AWS_ENDPOINT_URL_DYNAMODB": self.url,
            "AWS_REGION": REGION,  # read by chime-bot's settings
            # read by botocore itself, for stores this process opens without settings
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name, value in self.env().items():
            monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def moto_dynamo() -> Iterator[MotoDynamo]:
    # werkzeug logs every request at INFO; thousands of lines would bury a failure's output.
    werkzeug_log = logging.getLogger("werkzeug")
    previous_level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        # moto offers no hook for middleware; the werkzeug server reads `.app` per request.
        dispatcher = server._server.app  # type: ignore[union-attr]
        # moto finds each request's backend from its host by listing its own ~250 packages on
        # disk and trying their URL patterns, per request: 3% of the CPU of the tests that use
        # DynamoDB. The answer for a host never changes while the server runs.
        dispatcher.get_backend_for_host = functools.cache(dispatcher.get_backend_for_host)
        server._server.app = OneRequestAtATime(dispatcher)  # type: ignore[union-attr]
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        with contextlib.closing(_admin_client(url)) as admin:
            yield MotoDynamo(url, admin)
    finally:
        server.stop()
        werkzeug_log.setLevel(previous_level)


def _admin_client(url: str) -> Any:
    return boto3.session.Session().client(
        "dynamodb",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def dynamo_table(moto_dynamo: MotoDynamo, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new table made by `init_table`, with this process's AWS settings pointed at it."""
    moto_dynamo.use(monkeypatch)
    table = f"chime-test-{secrets.token_hex(6)}"
    init_table(table, client=moto_dynamo.admin)
    yield table
    # Dropped afterwards: moto copies a whole table on every transaction, so keep them small.
    with contextlib.suppress(moto_dynamo.admin.exceptions.ResourceNotFoundException):
        moto_dynamo.admin.delete_table(TableName=table)  # unless the test dropped it itself
