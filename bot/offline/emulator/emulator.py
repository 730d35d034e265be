"""The emulator's public face: lifecycle (on the caller's loop or its own thread) and controls."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from .controls import Call, Controls, Fault
from .server import build_app
from .state import ChimeState, SignOut, load_bundled_seed, load_seed_file

# How long stop() lets an in-flight request (say, one sleeping on injected latency) finish.
SHUTDOWN_TIMEOUT = 1.0
THREAD_TIMEOUT = 10.0


def _endpoint(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class ChimeEmulator:
    """An offline Amazon Chime account API that real boto3 clients can talk to over HTTP."""

    def __init__(self, seed: Mapping[str, Any] | None = None, *, latency: float = 0.0) -> None:
        self._state = ChimeState(load_bundled_seed() if seed is None else seed)
        self._controls = Controls(latency)
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    @classmethod
    def from_seed_file(cls, path: str | Path) -> ChimeEmulator:
        return cls(load_seed_file(path))

    # -- lifecycle ------------------------------------------------------------------------------

    def web_app(self) -> web.Application:
        return build_app(self._state, self._controls)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._runner is not None:
            raise RuntimeError(f"emulator already running at {self._url}")
        runner = web.AppRunner(self.web_app(), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        bound_port = runner.addresses[0][1]
        self._runner, self._url = runner, _endpoint(host, bound_port)
        return self._url

    async def stop(self) -> None:
        runner, self._runner, self._url = self._runner, None, None
        if runner is not None:
            await runner.cleanup()

    @property
    def is_running(self) -> bool:
        return self._runner is not None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("emulator is not running; call start() or running_in_thread()")
        return self._url

    @contextlib.contextmanager
    def running_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serves from a private loop in a daemon thread, for sync callers such as boto3."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="chime-emulator", daemon=True)
        thread.start()

        def run(coro: Any) -> Any:
            return asyncio.run_coroutine_threadsafe(coro, loop).result(THREAD_TIMEOUT)

        try:
            yield run(self.start(host, port))
        finally:
            try:
                run(self.stop())
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(THREAD_TIMEOUT)
                if not thread.is_alive():
                    loop.close()

    # -- controls -------------------------------------------------------------------------------

    def inject(self, operation: str, fault: Fault) -> None:
        self._controls.inject(operation, fault)

    def clear_faults(self, operation: str | None = None) -> None:
        """Drop queued faults (all, or one operation's), including permanent ones."""
        self._controls.clear_faults(operation)

    def set_latency(self, seconds: float, operation: str | None = None) -> None:
        self._controls.set_latency(seconds, operation)

    def latency_for(self, operation: str, seconds: float, times: int) -> None:
        self._controls.latency_for(operation, seconds, times)

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every Chime call served so far, oldest first."""
        return self._controls.calls()

    def count(self, operation: str | None = None) -> int:
        return len(self._controls.calls(operation))

    def reset_calls(self) -> None:
        self._controls.reset_calls()

    # -- data -----------------------------------------------------------------------------------

    def add_account(
        self,
        *,
        name: str,
        account_type: str = "EnterpriseLWA",
        account_id: str | None = None,
        default_license: str = "Pro",
        account_status: str = "Active",
        supported_licenses: list[str] | None = None,
    ) -> dict[str, Any]:
        """`supported_licenses` is the Account's SupportedLicenses (default Basic and Pro)."""
        return self._state.add_account(
            name=name,
            account_type=account_type,
            account_id=account_id,
            default_license=default_license,
            account_status=account_status,
            supported_licenses=supported_licenses,
        )

    def set_account_status(self, account_id: str, status: str) -> None:
        """Active or Suspended (the model's AccountStatus)."""
        self._state.set_account_status(account_id, status)

    def set_invite_outcome(
        self,
        email: str,
        *,
        status: str = "Failed",
        email_status: str = "Failed",
        keeps_user: bool = False,
    ) -> None:
        """Make InviteUsers answer this Status/EmailStatus for `email` until cleared."""
        self._state.set_invite_outcome(
            email, status=status, email_status=email_status, keeps_user=keeps_user
        )

    def clear_invite_outcomes(self) -> None:
        self._state.clear_invite_outcomes()

    def set_email_index(self, email: str, account_ids: list[str] | None) -> None:
        """ListAccounts(UserEmail=email) names exactly these accounts until reset with None."""
        self._state.set_email_index(email, account_ids)

    def set_user_error(
        self, operation: str, user_id: str, code: str, message: str = "injected user error"
    ) -> None:
        """Make BatchSuspendUser or BatchUnsuspendUser fail for this user only, in UserErrors,
        with `code` from the model's ErrorCode enum, until clear_user_errors()."""
        self._state.set_user_error(operation, user_id, code, message)

    def clear_user_errors(self) -> None:
        self._state.clear_user_errors()

    @property
    def sign_outs(self) -> list[SignOut]:
        """Every sign-out so far (LogoutUser; BatchSuspendUser on EnterpriseLWA), oldest first."""
        return self._state.sign_outs()

    def add_user(
        self, account_id: str, *, email: str, display_name: str = "", **fields: Any
    ) -> dict[str, Any]:
        return self._state.add_user(account_id, email=email, display_name=display_name, **fields)

    def find_users(self, email: str) -> list[dict[str, Any]]:
        return self._state.find_users(email)
