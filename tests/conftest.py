"""Shared fixtures: the real bot over HTTP, with the Chime emulator and the Slack stand-in."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aiohttp import ClientSession
from botocore.httpsession import get_cert_path
from botocore.loaders import create_loader

from bot.offline.emulator import ChimeEmulator
from bot.offline.slack_standin import SlackStandIn
from bot.offline.wiring import DEMO_CHANNEL, OfflineBot, offline_bot
from tests.clock import VirtualClock

REQUESTER = "U0REQUESTER"
CHANNEL = DEMO_CHANNEL


@pytest.fixture(scope="session", autouse=True)
def _one_botocore_loader() -> Iterator[None]:
    """Every botocore session in a test process shares one loader of botocore's data files.

    Each bot a test starts makes its own botocore sessions (Chime, DynamoDB, STS), as `serve`
    does once per process, and every new session parsed endpoints.json (about 65 ms of CPU) and
    the service's model again: a tenth of the suite's in-process CPU. botocore caches what a
    loader has read, so sharing one is what a single long-lived session does; the data and the
    code reading it are the same. Child processes (`chime-bot serve`, check, ...) are untouched.
    """
    loaders: dict[str | None, Any] = {}

    def shared_loader(search_path_string: str | None = None) -> Any:
        if search_path_string not in loaders:
            loaders[search_path_string] = create_loader(search_path_string)
        return loaders[search_path_string]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", shared_loader)
        yield


@pytest.fixture(scope="session")
def _one_ca_certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first certificate of the CA bundle botocore trusts, alone in a file.

    Every endpoint a test reaches is plain HTTP on loopback, yet TLS contexts are built from
    whole CA bundles (over a hundred certificates each): aiobotocore for each client (about
    30 ms of CPU, a fifth of the CPU of the tests that start bots in-process), and aiohttp when
    imported, in each of the ~170 processes the suite starts (about 0.1 s). Given this file as
    AWS_CA_BUNDLE and SSL_CERT_FILE, they still build those contexts, from one certificate.
    """
    bundle = Path(get_cert_path(True)).read_text(encoding="ascii")
    end = "-----END CERTIFICATE-----"
    first = bundle[bundle.index("-----BEGIN CERTIFICATE-----") : bundle.index(end) + len(end)]
    path = tmp_path_factory.mktemp("ca") / "one-ca.pem"
    path.write_text(first + "\n", encoding="ascii")
    return path


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str], _one_ca_certificate: Path
) -> None:
    """No test may read the developer's AWS or Slack configuration, or a stray .env file."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "SLACK_", "CHIME_")) or name in ("PORT", "LOG_LEVEL"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CA_BUNDLE", str(_one_ca_certificate))
    monkeypatch.setenv("SSL_CERT_FILE", str(_one_ca_certificate))
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> VirtualClock:
    """Time that moves only when a test moves it: expiries, budgets and breakers without waits."""
    return VirtualClock()


@pytest.fixture
def emulator() -> ChimeEmulator:
    return ChimeEmulator()


@pytest.fixture
async def peers(emulator: ChimeEmulator) -> AsyncIterator[tuple[ChimeEmulator, SlackStandIn]]:
    """The emulator and the Slack stand-in, running, for bots started as separate processes."""
    slack = SlackStandIn()
    await emulator.start()
    await slack.start()
    yield emulator, slack
    await slack.stop()
    await emulator.stop()


@pytest.fixture
async def session() -> AsyncIterator[ClientSession]:
    async with ClientSession() as client:
        yield client


@pytest.fixture
async def bot(emulator: ChimeEmulator) -> AsyncIterator[OfflineBot]:
    async with offline_bot(emulator=emulator) as running:
        yield running
