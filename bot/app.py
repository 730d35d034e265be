"""The composition root: builds every client, the Bolt app and the HTTP server, and tears them down.

Nothing here runs at import time. `Runtime.start` is the one place where the bot's parts meet;
`serve`, `demo` and the tests all go through it, so they run the same bot.

One module because it is the one place the parts meet: what is built, in which order, and
torn down in reverse; health, readiness and the HTTP routes read the same `Runtime` state.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field

from aiohttp import ClientSession, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    async_default_handlers,
)
from slack_sdk.web.async_client import AsyncWebClient

import handlers
from bot import heap
from bot.approvals.engine import CLOCK_SKEW, Approvals
from bot.approvals.fair_use import FairUse
from bot.approvals.home import Home
from bot.approvals.pins import PinDelivery
from bot.approvals.reminders import Reminders
from bot.aws_clock import AwsClock
from bot.chime import BreakerState, Calls, CircuitBreaker, Directory, RetryPolicy, chime_client
from bot.clock import Clock, RealClock
from bot.config.settings import Settings
from bot.deps import Deps
from bot.jobs import Jobs
from bot.metrics import CONTENT_TYPE, Metrics
from bot.policy.approvers import Approvers, slack_fetch
from bot.policy.authz import Policy
from bot.policy.effective import Policies
from bot.slack.auth import SlackAuth
from bot.slack.notify import Notifier
from bot.slack.people import People
from bot.slack.replies import Responder, slack_origins
from bot.store import RequestStore, open_store, store_table
from bot.web import fast_ack
from bot.web.http_guard import LINGER, MAX_BODY, Answered, RequestGuard, answer, bolt_request
from bot.web.socket_mode import close_socket_mode, connect_socket_mode

log = logging.getLogger("chime_bot")

EVENTS_PATH = "/slack/events"


class CannotListen(Exception):
    """The port cannot be bound (in use, or not allowed): an operator's fix, not a crash."""


# A readiness probe that waits longer than this on the store reports it unusable.
STORE_PROBE_TIMEOUT = 2.0
STORE_PROBE_EVERY = 5.0  # seconds a store probe's answer is reused

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Work in flight after the ack is capped at a multiple of the Chime pool: beyond that a command
# gets an immediate "busy" answer instead of joining an ever-growing queue.
JOBS_PER_WORKER = 4


# A Web API call Slack answers 429 is tried again this many times, after its Retry-After.
SLACK_RATE_LIMIT_RETRIES = 1


def build_web_client(
    settings: Settings, *, rate_limit_retries: int = SLACK_RATE_LIMIT_RETRIES
) -> AsyncWebClient:
    """The bot's Web API client. slack_sdk's default retries only dropped connections; a 429
    (docs.slack.dev/apis/web-api/rate-limits: HTTP 429 with Retry-After in seconds) is retried
    too, after Retry-After, by slack_sdk's own handler. Every call the bot makes is safe to send
    again after a 429: Slack did not act on it."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    retry = async_default_handlers()
    if rate_limit_retries:
        retry.append(AsyncRateLimitErrorRetryHandler(max_retry_count=rate_limit_retries))
    return AsyncWebClient(token=token, base_url=settings.slack_api_url, retry_handlers=retry)


def build_bolt_app(settings: Settings, deps: Deps, auth: SlackAuth) -> AsyncApp:
    secret = settings.slack_signing_secret
    with _hidden_from_bolt("SLACK_BOT_TOKEN"):
        app = AsyncApp(
            # Bolt copies this client's base URL into a client per request; `authorize` gives
            # each of those the token, from the auth.test `serve` made at start-up.
            client=AsyncWebClient(base_url=settings.slack_api_url),
            # Bolt handles None ("no installation") though its type hint leaves it out.
            authorize=auth.authorizer(),  # type: ignore[arg-type]
            signing_secret=secret.get_secret_value() if secret else "",
            # Our listeners only parse, authorize and hand slow work to `Jobs`, so running them
            # to completion before responding is fast, and spares Bolt's 10 ms ack-polling loop.
            process_before_response=True,
            # bot/web/http_guard.py verifies every HTTP request before Bolt sees it (Socket Mode
            # needs no signature). Bolt's own check would log the whole body of each stranger's
            # request.
            request_verification_enabled=False,
            logger=logging.getLogger("chime_bot.bolt"),
            # Unnamed, Bolt names the app after its caller's file, found with inspect.stack(),
            # which reads the source of every frame on the stack: tens of ms of CPU per app in
            # a deep stack (a fifth of the CPU of the tests that start bots in-process).
            name="chime-bot",
        )
    handlers.register(app, deps)
    return app


@contextmanager
def _hidden_from_bolt(name: str) -> Iterator[None]:
    """AsyncApp reads SLACK_BOT_TOKEN from the environment whenever it is not passed a token,
    and warns at every start that it will go unused once it has a client or an authorize
    function (bolt-python issue #983). The settings have read it already; Bolt must not."""
    value = os.environ.pop(name, None)
    try:
        yield
    finally:
        if value is not None:
            os.environ[name] = value


def build_web_app(
    runtime: Runtime, *, slack_events: bool, metrics_here: bool = True
) -> web.Application:
    """Health always; `/metrics` unless it has a port of its own; `/slack/events` in HTTP mode.

    `/livez` answers while the process can answer at all (restart it when it cannot).
    `/readyz` (and `/healthz`, its older name) answers 200 only when the bot can do its work:
    Slack credentials verified, the store usable, not shutting down (send it no traffic else).
    """
    bolt, metrics = runtime.bolt, runtime.deps.metrics

    secret = runtime.settings.slack_signing_secret
    guard = RequestGuard(secret.get_secret_value() if secret else "")

    async def events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            # Read in full and verified before it counts for the gate: see bot/web/http_guard.py.
            admitted = await guard.admit(request)
            slack_request = None if fast_ack.takes(admitted) else bolt_request(request, admitted)
        except Answered as answered:
            return answer(request, answered)
        runtime.jobs.gate.arrived()
        try:
            if slack_request is None:  # `/chime`: acked without Bolt (bot/web/fast_ack.py)
                response = await fast_ack.ack_command(runtime.deps, admitted)
            else:
                response = await to_aiohttp_response(await bolt.async_dispatch(slack_request))
        finally:
            runtime.jobs.gate.answered()
        metrics.ack_seconds.observe(time.perf_counter() - started)
        return response

    async def readyz(_: web.Request) -> web.Response:
        ready, checks = await runtime.readiness()
        body = {
            "status": "ok" if ready else "unavailable",
            "ready": ready,
            **checks,
            "mode": "socket" if runtime.app_token is not None else "http",
            "in_flight": runtime.jobs.in_flight,
            "uptime_s": round(time.monotonic() - runtime.started_at, 1),
        }
        return web.json_response(body, status=200 if ready else 503)

    async def livez(_: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    @web.middleware
    async def until_verified(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Before Slack has confirmed the bot token, no event can be answered properly: Slack
        # gets a 503 (readiness is false, so a load balancer sends none in the first place).
        if request.path == EVENTS_PATH and not runtime.slack_auth.verified:
            return web.json_response(
                {"error": "starting: Slack credentials not verified"}, status=503
            )
        return await handler(request)

    app = web.Application(
        client_max_size=MAX_BODY,
        handler_args={"lingering_time": LINGER},
        middlewares=[until_verified],
    )
    if slack_events:
        app.router.add_post(EVENTS_PATH, events)
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/healthz", readyz)
    if metrics_here:
        app.router.add_get("/metrics", _prometheus(runtime))
    return app


def build_metrics_app(runtime: Runtime) -> web.Application:
    """`/metrics` alone, for METRICS_PORT: a port that need not be reachable from outside."""
    app = web.Application()
    app.router.add_get("/metrics", _prometheus(runtime))
    return app


def _prometheus(runtime: Runtime) -> Handler:
    async def prometheus(_: web.Request) -> web.Response:
        await runtime.refresh_gauges()
        body = runtime.deps.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return prometheus


# The log lines an operator's alarms match (deploy/chime-bot.yaml's metric filters, on the JSON
# log's `logger` and `outcome`): no Prometheus scraper is needed to be woken by them.
BREAKER_OPEN = "chime_breaker_open"
BREAKER_CLOSED = "chime_breaker_closed"
NOT_READY = "not_ready"
READY_AGAIN = "ready_again"


def breaker_changed(metrics: Metrics) -> Callable[[BreakerState], None]:
    """The breaker's state on /metrics, and a log line when it opens and when it closes."""
    chime_log = logging.getLogger("chime_bot.chime")

    def changed(state: BreakerState) -> None:
        metrics.breaker_state(state)
        if state == BreakerState.OPEN:
            chime_log.warning(
                "Chime circuit breaker open: Amazon Chime is not answering; calls are refused "
                "at once until a probe gets an answer",
                extra={"outcome": BREAKER_OPEN},
            )
        elif state == BreakerState.CLOSED:
            chime_log.info(
                "Chime circuit breaker closed: Amazon Chime answers again",
                extra={"outcome": BREAKER_CLOSED},
            )

    return changed


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
    slack_auth: SlackAuth
    ready: bool = False  # started and not shutting down; readiness() also checks the store
    started_at: float = field(default_factory=time.monotonic)
    _runner: web.AppRunner | None = None
    _metrics_runner: web.AppRunner | None = None
    _sweeper: asyncio.Task[None] | None = None
    _store_probe: tuple[float, str] | None = None  # (monotonic time, state) of the last probe
    _store_probing: asyncio.Lock = field(default_factory=asyncio.Lock)
    _was_ready: bool = True  # the last readiness answered while running, for its log lines
    socket_mode: AsyncSocketModeHandler | None = None
    app_token: str | None = None
    url: str = ""
    metrics_url: str = ""  # where /metrics is served
    reminders: Reminders | None = None  # None: no reminders are sent

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
        # Measured against the answers of both AWS clients; it judges only where replicas on
        # other machines share the store (DynamoDB).
        aws_clock = AwsClock(
            clock,
            bound=settings.chime_max_clock_skew,
            shared=store_table(settings.chime_store_url) is not None,
        )
        chime = await stack.enter_async_context(
            chime_client(
                max_pool_connections=workers,
                credentials=aws_credentials,
                read_timeout=settings.chime_read_timeout,
            )
        )
        aws_clock.watch(chime.meta.events, "Chime")
        metrics = Metrics()
        calls = Calls(
            limit=asyncio.Semaphore(workers),
            retry=RetryPolicy(budget=settings.chime_retry_budget),
            interactive=RetryPolicy(budget=settings.chime_lookup_budget),
            clock=clock,
            breaker=CircuitBreaker(clock, on_change=breaker_changed(metrics)),
        )
        directory = Directory(
            client=chime,
            calls=calls,
            account_cache_ttl=settings.chime_account_cache_ttl,
            parallel_accounts=settings.chime_lookup_parallel_accounts,
        )
        store = await open_store(
            settings.chime_store_url,
            data_dir=settings.data_dir(),
            region=settings.aws_region,
            watch=lambda events: aws_clock.watch(events, "DynamoDB"),
        )
        stack.push_async_callback(store.close)
        session = await stack.enter_async_context(ClientSession())
        jobs = Jobs(limit=workers * JOBS_PER_WORKER)
        calls.observe = metrics.chime_call
        policies = Policies.from_settings(settings)  # ConfigError if the file went bad
        policy = policies.gate()  # the channel gate; the environment's policy without a file
        client = build_web_client(settings)
        token = settings.slack_bot_token
        slack_auth = SlackAuth(client, token.get_secret_value() if token else "")
        approvers = Approvers(
            Policy.from_settings(settings),
            # A click waits on this read, within GROUP_FETCH_TIMEOUT: a 429 fails closed at
            # once, saying Slack is limiting the bot, rather than waiting out Retry-After.
            slack_fetch(
                build_web_client(settings, rate_limit_retries=0),
                team=lambda: slack_auth.groups_team(settings.slack_groups_team_id),
            ),
            ttl=settings.chime_group_cache_ttl,
            clock=clock,
            more_groups=policies.groups(),
        )
        notifier = Notifier(client)
        people = People(client)
        approvals = Approvals(
            store=store,
            directory=directory,
            notifier=notifier,
            policy=policy,
            clock=clock,
            ttl=settings.chime_request_ttl,
            approval_channel=settings.chime_approval_channel,
            default_account=settings.chime_default_account,
            lease=settings.chime_execution_lease,
            metrics=metrics,
            fair_use=FairUse(store, settings.chime_max_open_per_requester),
            approvers=approvers,
            policies=policies,
            aws_clock=aws_clock,
            pins=PinDelivery(notifier, people.user_by_email),
            email_of=people.email_of,
            offboarding=settings.chime_offboarding,
        )
        home = Home(store=store, approvals=approvals, client=client, clock=clock, jobs=jobs)
        approvals.on_change = home.changed
        deps = Deps(
            settings=settings,
            policy=policy,
            directory=directory,
            responder=Responder(session, slack_origins(settings.slack_api_url)),
            jobs=jobs,
            approvals=approvals,
            metrics=metrics,
            approvers=approvers,
            clock=clock,
            home=home,
        )
        bolt = build_bolt_app(settings, deps, slack_auth)
        return cls(
            settings=settings,
            deps=deps,
            bolt=bolt,
            resources=stack.pop_all(),  # built: from here the runtime owns what was opened
            session=session,
            jobs=jobs,
            store=store,
            slack_auth=slack_auth,
            reminders=Reminders(
                store=store,
                notifier=approvals.notifier,
                policy=policy,
                clock=clock,
                remind_after=settings.chime_remind_after,
                policies=policies,
            ),
        )

    async def start(
        self,
        host: str,
        port: int,
        *,
        app_token: str | None = None,
        metrics_port: int | None = None,
    ) -> str:
        """Serve HTTP on host:port, verify the Slack credentials, and, given an app token, take
        Slack's events over Socket Mode instead of `/slack/events`. Returns the HTTP base URL.

        Health answers from the first moment (not ready); the bot becomes ready only once Slack
        has confirmed its token. Cancelling this (a signal during start-up) is safe: `close`
        releases whatever was started.
        """
        self.app_token = app_token
        separate = metrics_port is not None and (metrics_port == 0 or metrics_port != port)
        web_app = build_web_app(self, slack_events=app_token is None, metrics_here=not separate)
        self._runner, self.url = await _listen(web_app, host, port)
        self.metrics_url = self.url
        if metrics_port is not None and separate:
            self._metrics_runner, self.metrics_url = await _listen(
                build_metrics_app(self), host, metrics_port
            )
        await self.slack_auth.verify()
        if app_token is not None:
            self.socket_mode = await connect_socket_mode(self.bolt, app_token)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="sweeper")
        self.ready = True
        return self.url

    async def readiness(self) -> tuple[bool, dict[str, object]]:
        """Whether to send this bot traffic, and each condition's state for the operator."""
        checks: dict[str, object] = {
            "slack": "verified" if self.slack_auth.verified else "not verified",
            "store": await self._probe_store(),
        }
        if self.socket_mode is not None:
            connected = await self.socket_mode.client.is_connected()
            checks["socket"] = "connected" if connected else "reconnecting"
        clock = self.deps.approvals.aws_clock
        if clock is not None:
            checks["clock"] = clock.state()
        # A replica whose clock is off refuses every decision (bot/aws_clock.py): a load
        # balancer should send the clicks to one that can act. Only readiness says so; /livez
        # stays 200, as a restart does not mend a clock.
        clock_ok = self.deps.approvals.clock_refusal() is None
        ready = self.ready and self.slack_auth.verified and checks["store"] == "ok" and clock_ok
        if self.ready and ready != self._was_ready:
            # Once per change, not per probe: a load balancer asks every few seconds.
            self._was_ready = ready
            why = ", ".join(f"{name} {state}" for name, state in checks.items())
            if ready:
                log.info("ready again: %s", why, extra={"outcome": READY_AGAIN})
            else:
                log.warning("not ready: %s", why, extra={"outcome": NOT_READY})
        return ready, checks

    async def _probe_store(self) -> str:
        # Probes come from every load-balancer node every few seconds; the store sees at most
        # one small write per STORE_PROBE_EVERY whatever their number.
        # Probes arriving together wait for the one write in flight instead of each making one.
        async with self._store_probing:
            now = time.monotonic()
            if self._store_probe is not None and now - self._store_probe[0] < STORE_PROBE_EVERY:
                return self._store_probe[1]
            state = await self._check_store()
            self._store_probe = (time.monotonic(), state)
            return state

    async def _check_store(self) -> str:
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
            # that arrives as its awaitable finishes (cpython gh-86296), and this probe runs in
            # the sweeper, which shutdown cancels; a swallowed cancel left it sweeping forever.
            async with asyncio.timeout(STORE_PROBE_TIMEOUT):
                await self.store.check_writable()
        except TimeoutError:
            return f"unusable: no answer within {STORE_PROBE_TIMEOUT:.0f}s"
        except Exception as exc:  # a probe reports; it never fails the request
            return f"unusable: {exc}"
        return "ok"

    async def refresh_gauges(self) -> None:
        clock = self.deps.approvals.aws_clock
        offset = clock.offset if clock is not None else None
        self.deps.metrics.clock_offset.set(offset.estimate if offset else float("nan"))
        try:
            pending = await self.deps.approvals.open_requests()
        except Exception:
            log.warning("could not count pending requests", exc_info=True)
            return
        self.deps.metrics.pending.set(len(pending))

    async def sweep_once(self) -> None:
        """Settle requests stranded mid-execution, withdraw ones whose card was never posted,
        expire overdue ones, end time-bound accesses that are over (and offer to extend them
        first), send due reminders."""
        approvals = self.deps.approvals
        off = approvals.clock_refusal()
        if off is not None:
            # Each step judges a deadline or a lease by this clock: none runs until it is
            # back within the bound (the sweep's reads keep measuring it).
            log.warning(
                "sweep skipped (no expiry, reconciliation or reminders): %s",
                off,
                extra={"outcome": CLOCK_SKEW},
            )
            return
        try:
            await approvals.reconcile()
            await approvals.withdraw_unseen()
            await approvals.expire_overdue()
        except Exception:
            log.exception("sweep failed; will try again")
        try:
            await approvals.sweep_access()
        except Exception:  # e.g. Chime cannot be asked; the next sweep tries again
            log.exception("access sweep failed; will try again")
        if self.reminders is not None:
            try:
                await self.reminders.send_due()
            except Exception:  # e.g. the store cannot list; the next sweep tries again
                log.exception("reminder sweep failed; will try again")

    async def _sweep(self) -> None:
        # The first pass runs at start-up: that is when a crash's leftovers are found.
        while True:
            try:
                await self.sweep_once()
                # Readiness is asked here too, so that its log lines (and the alarm on them)
                # come in Socket Mode as well, where no load balancer probes /readyz.
                await self.readiness()
            except Exception:
                # Whatever went wrong, the sweeper lives on: a task that died here would
                # leave crash leftovers, expiries and reminders to no one, silently.
                log.exception("sweep failed; will try again")
            await asyncio.sleep(self.settings.chime_sweep_interval)

    async def close(self, grace: float = 20.0) -> None:
        """Stop taking work, let in-flight work finish for up to `grace` seconds, then release
        everything. Work still running after that is cancelled; an approval cut short this way
        is left `failed` (retryable), never half-way."""
        self.ready = False
        if self.socket_mode is not None:
            # No new events, and no reconnecting; acks for work received have been sent, and
            # work after the ack answers through response_url and the Web API, not the socket.
            await close_socket_mode(self.socket_mode)
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        if not await self.jobs.drain(grace):
            log.warning("shutdown: work still running after %.0fs was cancelled", grace)
        for runner in (self._runner, self._metrics_runner):
            if runner is not None:
                await runner.cleanup()
        await self.resources.aclose()


async def serve(
    settings: Settings,
    host: str,
    port: int,
    *,
    socket_mode: bool = False,
    clock: Clock | None = None,
) -> None:
    """Run until SIGTERM or SIGINT, in whatever state the signal finds the bot: verifying its
    Slack credentials, connecting, connected or reconnecting. Raises SlackCredentialsRefused
    when Slack refuses a token for good. `clock`: the real one unless a test runs a replica
    on another (tests/skewed_serve.py)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)  # first: a signal while building is kept too
    runtime = await Runtime.create(settings, clock=clock)
    app_token = None
    if socket_mode and settings.slack_app_token is not None:
        app_token = settings.slack_app_token.get_secret_value()
    stopping = loop.create_task(stop.wait(), name="signals")
    try:
        starting = loop.create_task(
            runtime.start(host, port, app_token=app_token, metrics_port=settings.metrics_port),
            name="start",
        )
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            log.info("stopped before becoming ready")
            return
        url = starting.result()  # a refused token raises here
        heap.settle()  # start-up's objects are never walked again (bot/heap.py)
        mode = "Socket Mode" if app_token else f"HTTP (POST {url}{EVENTS_PATH})"
        log.info(
            "chime-bot ready: %s; GET %s/livez, /readyz; metrics at %s/metrics",
            mode,
            url,
            runtime.metrics_url,
        )
        await stopping
        log.info("shutting down: finishing in-flight work (up to %.0fs)", settings.shutdown_grace)
    finally:
        stopping.cancel()
        await runtime.close(settings.shutdown_grace)


async def _listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]  # the port the OS picked when `port` is 0
    return runner, f"http://{host}:{bound}"
