"""The composition root: builds every client, the Bolt app and the HTTP server, and tears them down.

Nothing here runs at import time. `Runtime.start` is the one place where the bot's parts meet;
`serve`, `demo` and the tests all go through it, so they run the same bot.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from aiohttp import ClientSession, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot.approvals import Approvals
from bot.authz import Policy
from bot.breaker import CircuitBreaker
from bot.chime import Clock, Directory, RealClock, RetryPolicy, chime_client
from bot.deps import Deps
from bot.jobs import Jobs
from bot.metrics import CONTENT_TYPE, Metrics
from bot.notify import Notifier
from bot.replies import Responder
from bot.settings import Settings
from bot.store import RequestStore, open_store

log = logging.getLogger("chime_bot")

# Work in flight after the ack is capped at a multiple of the Chime pool: beyond that a command
# gets an immediate "busy" answer instead of joining an ever-growing queue.
JOBS_PER_WORKER = 4


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


def build_web_app(runtime: Runtime, *, slack_events: bool) -> web.Application:
    """`/healthz` and `/metrics` always; `/slack/events` in HTTP mode."""
    bolt, metrics = runtime.bolt, runtime.deps.metrics

    async def events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        runtime.jobs.gate.arrived()
        try:
            bolt_response = await bolt.async_dispatch(await to_bolt_request(request))
            response = await to_aiohttp_response(bolt_response)
        finally:
            runtime.jobs.gate.answered()
        metrics.ack_seconds.observe(time.perf_counter() - started)
        return response

    async def healthz(_: web.Request) -> web.Response:
        body = {
            "status": "ok" if runtime.ready else "unavailable",
            "ready": runtime.ready,
            "mode": "socket" if runtime.socket_mode is not None else "http",
            "in_flight": runtime.jobs.in_flight,
            "uptime_s": round(time.monotonic() - runtime.started_at, 1),
        }
        return web.json_response(body, status=200 if runtime.ready else 503)

    async def prometheus(_: web.Request) -> web.Response:
        await runtime.refresh_gauges()
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application(client_max_size=1024 * 1024)
    if slack_events:
        app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", prometheus)
    return app


@dataclass
class Runtime:
    """Everything one running bot owns, with one start and one close."""

    settings: Settings
    deps: Deps
    bolt: AsyncApp
    resources: AsyncExitStack  # the Chime client, the HTTP session, the store: closed last
    session: ClientSession
    jobs: Jobs
    store: RequestStore
    ready: bool = False
    started_at: float = field(default_factory=time.monotonic)
    _runner: web.AppRunner | None = None
    _sweeper: asyncio.Task[None] | None = None
    socket_mode: AsyncSocketModeHandler | None = None
    url: str = ""

    @classmethod
    async def create(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        aws_credentials: dict[str, str] | None = None,
    ) -> Runtime:
        # If building fails half-way, the stack closes whatever was already opened.
        async with AsyncExitStack() as stack:
            return await cls._build(settings, stack, clock or RealClock(), aws_credentials)

    @classmethod
    async def _build(
        cls,
        settings: Settings,
        stack: AsyncExitStack,
        clock: Clock,
        aws_credentials: dict[str, str] | None,
    ) -> Runtime:
        workers = settings.chime_max_concurrency
        chime = await stack.enter_async_context(
            chime_client(
                max_pool_connections=workers,
                credentials=aws_credentials,
                read_timeout=settings.chime_read_timeout,
            )
        )
        metrics = Metrics()
        directory = Directory(
            client=chime,
            limit=asyncio.Semaphore(workers),
            retry=RetryPolicy(budget=settings.chime_retry_budget),
            interactive=RetryPolicy(budget=settings.chime_lookup_budget),
            clock=clock,
            account_cache_ttl=settings.chime_account_cache_ttl,
            breaker=CircuitBreaker(clock, on_change=metrics.breaker_state),
        )
        store = await open_store(settings.chime_store_url, data_dir=settings.data_dir())
        stack.push_async_callback(store.close)
        session = await stack.enter_async_context(ClientSession())
        jobs = Jobs(limit=workers * JOBS_PER_WORKER)
        directory.observe = metrics.chime_call
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
            metrics=metrics,
        )
        deps = Deps(
            settings=settings,
            policy=policy,
            directory=directory,
            responder=Responder(session),
            jobs=jobs,
            approvals=approvals,
            metrics=metrics,
            clock=clock,
        )
        bolt = build_bolt_app(settings, deps, client)
        return cls(
            settings=settings,
            deps=deps,
            bolt=bolt,
            resources=stack.pop_all(),  # built: from here the runtime owns what was opened
            session=session,
            jobs=jobs,
            store=store,
        )

    async def start(self, host: str, port: int, *, app_token: str | None = None) -> str:
        """Serve HTTP on host:port and, given an app token, take Slack's events over Socket
        Mode instead of `/slack/events`. Returns the HTTP base URL."""
        self._runner = web.AppRunner(
            build_web_app(self, slack_events=app_token is None), access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{host}:{bound}"
        if app_token is not None:
            self.socket_mode = AsyncSocketModeHandler(self.bolt, app_token)
            await self.socket_mode.connect_async()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="sweeper")
        self.ready = True
        return self.url

    async def refresh_gauges(self) -> None:
        try:
            pending = await self.deps.approvals.open_requests()
        except Exception:
            log.warning("could not count pending requests", exc_info=True)
            return
        self.deps.metrics.pending.set(len(pending))

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
        """Stop taking work, let in-flight work finish for up to `grace` seconds, then release
        everything. Work still running after that is cancelled; an approval cut short this way
        is left `failed` (retryable), never half-way."""
        self.ready = False
        if self.socket_mode is not None:
            # No new events; acks for work already received have been sent.
            await self.socket_mode.disconnect_async()
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        if not await self.jobs.drain(grace):
            log.warning("shutdown: work still running after %.0fs was cancelled", grace)
        if self.socket_mode is not None:
            await self.socket_mode.close_async()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.resources.aclose()


async def serve(settings: Settings, host: str, port: int, *, socket_mode: bool = False) -> None:
    runtime = await Runtime.create(settings)
    app_token = None
    if socket_mode and settings.slack_app_token is not None:
        app_token = settings.slack_app_token.get_secret_value()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        url = await runtime.start(host, port, app_token=app_token)
        mode = "Socket Mode" if app_token else "HTTP (POST /slack/events)"
        log.info("chime-bot ready: %s; GET %s/healthz and /metrics", mode, url)
        await stop.wait()
        log.info("shutting down: finishing in-flight work (up to %.0fs)", settings.shutdown_grace)
    finally:
        await runtime.close(settings.shutdown_grace)
