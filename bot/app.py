"""The composition root: builds every client, the Bolt app and the HTTP server, and tears them down.

Nothing here runs at import time. `Runtime.start` is the one place where the bot's parts meet;
`serve`, `demo` and the tests all go through it, so they run the same bot.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiohttp import ClientSession, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.approvals import Approvals
from bot.authz import Policy
from bot.chime import Clock, Directory, RealClock, RetryPolicy, make_chime_client
from bot.deps import Deps
from bot.jobs import Jobs
from bot.notify import Notifier
from bot.replies import Responder
from bot.settings import Settings
from bot.store import RequestStore, open_store

log = logging.getLogger("chime_bot")

# Work in flight after the ack is capped at a multiple of the Chime pool: beyond that a command
# gets an immediate "busy" answer instead of joining an ever-growing queue.
JOBS_PER_WORKER = 16


def build_web_client(settings: Settings) -> AsyncWebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(token=token, base_url=settings.slack_api_url)


def build_bolt_app(settings: Settings, deps: Deps, client: AsyncWebClient) -> AsyncApp:
    secret = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=secret.get_secret_value() if secret else "",
        # Our listeners only parse, authorize and hand slow work to `Jobs`, so running them to
        # completion before responding is fast, and spares Bolt's 10 ms ack-polling loop.
        process_before_response=True,
        logger=logging.getLogger("chime_bot.bolt"),
    )
    handlers.register(app, deps)
    return app


def build_web_app(bolt: AsyncApp, runtime: Runtime) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        bolt_response = await bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        body = {
            "status": "ok" if runtime.ready else "starting",
            "ready": runtime.ready,
            "in_flight": runtime.jobs.in_flight,
            "uptime_s": round(time.monotonic() - runtime.started_at, 1),
        }
        return web.json_response(body, status=200 if runtime.ready else 503)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


@dataclass
class Runtime:
    """Everything one running bot owns, with one start and one close."""

    settings: Settings
    deps: Deps
    bolt: AsyncApp
    executor: ThreadPoolExecutor
    session: ClientSession
    jobs: Jobs
    store: RequestStore
    ready: bool = False
    started_at: float = field(default_factory=time.monotonic)
    _runner: web.AppRunner | None = None
    _sweeper: asyncio.Task[None] | None = None
    url: str = ""

    @classmethod
    async def create(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        aws_credentials: dict[str, str] | None = None,
    ) -> Runtime:
        workers = settings.chime_max_concurrency
        executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chime")
        clock = clock or RealClock()
        directory = Directory(
            client=make_chime_client(max_pool_connections=workers, credentials=aws_credentials),
            executor=executor,
            retry=RetryPolicy(budget=settings.chime_retry_budget),
            clock=clock,
            account_cache_ttl=settings.chime_account_cache_ttl,
        )
        store = await open_store(settings.chime_store_url, data_dir=settings.data_dir())
        session = ClientSession()
        jobs = Jobs(limit=workers * JOBS_PER_WORKER)
        policy = Policy.from_settings(settings)
        client = build_web_client(settings)
        approvals = Approvals(
            store=store,
            directory=directory,
            notifier=Notifier(client),
            policy=policy,
            clock=clock,
            ttl=settings.chime_request_ttl,
            approval_channel=settings.chime_approval_channel,
            default_account=settings.chime_default_account,
            lease=settings.chime_execution_lease,
        )
        deps = Deps(
            settings=settings,
            policy=policy,
            directory=directory,
            responder=Responder(session),
            jobs=jobs,
            approvals=approvals,
            clock=clock,
        )
        bolt = build_bolt_app(settings, deps, client)
        return cls(
            settings=settings,
            deps=deps,
            bolt=bolt,
            executor=executor,
            session=session,
            jobs=jobs,
            store=store,
        )

    async def start_http(self, host: str, port: int) -> str:
        self._runner = web.AppRunner(build_web_app(self.bolt, self), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}"
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="sweeper")
        self.ready = True
        return self.url

    async def sweep_once(self) -> None:
        """Settle requests stranded mid-execution and expire overdue ones."""
        approvals = self.deps.approvals
        try:
            await approvals.reconcile()
            await approvals.expire_overdue()
        except Exception:
            log.exception("sweep failed; will try again")

    async def _sweep(self) -> None:
        # The first pass runs at start-up: that is when a crash's leftovers are found.
        while True:
            await self.sweep_once()
            await asyncio.sleep(self.settings.chime_sweep_interval)

    async def close(self, grace: float = 20.0) -> None:
        self.ready = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        if not await self.jobs.drain(grace):
            log.warning("shutdown: some work did not finish within %.0fs", grace)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.session.close()
        await self.store.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


async def serve(settings: Settings, host: str, port: int) -> None:
    runtime = await Runtime.create(settings)
    url = await runtime.start_http(host, port)
    log.info("chime-bot listening on %s (POST /slack/events, GET /healthz)", url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runtime.close()
