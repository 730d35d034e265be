"""The console's bot: the bot, the Slack stand-in and Chime on an event loop in their own thread.

The REPL keeps the main thread, where readline and Ctrl-C behave as in any shell; `BotThread`
runs the bot (`offline_bot`, as `serve` runs it) on a loop in a daemon thread and hands each
input to it. There `Driver` plays Slack's side: it sends the command, click or event, waits
until the bot's jobs have all ended (`TaskEnded`), and collects what Slack would show
(bot/offline/console_transcript.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.config.settings import Settings
from bot.offline.console_home import HomeTabs, home_view_of, press
from bot.offline.console_time import SkippingClock
from bot.offline.console_transcript import Button, Feed, Outcome, Shown
from bot.offline.demo_groups import define_groups
from bot.offline.slack_standin import Exchange
from bot.offline.wiring import ChimeBackend, OfflineBot, offline_bot
from bot.policy.approvers import ApproversUnknown
from bot.policy.authz import Policy
from bot.policy.effective import Policies

log = logging.getLogger("chime_bot.console")

T = TypeVar("T")

# The bot's work after an ack may retry Chime for CHIME_RETRY_BUDGET seconds; allow that, then
# some, before giving up on seeing it finish.
SETTLE_MARGIN = 10.0
START_TIMEOUT = 60.0


class TaskEnded:
    """Wakes its waiters each time a task on the loop ends.

    `Jobs` offers only a count, and the stand-in records a job's last Slack call just before the
    job ends, so the stand-in's own wake-ups come one step too early to see the count at zero.
    A task factory is the loop's public hook for seeing every task end.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop) -> TaskEnded:
        watch = cls()
        loop.set_task_factory(watch.task_factory)  # type: ignore[arg-type]
        return watch

    def task_factory(
        self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        task.add_done_callback(self._ended)
        return task

    def _ended(self, task: asyncio.Task[Any]) -> None:
        # Done callbacks run in the order they were added, so this runs before `Jobs` forgets the
        # task: wake the waiters one turn later, once it has.
        task.get_loop().call_soon(self._event.set)

    async def until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """True once `predicate()` holds; False if it still does not after `timeout` seconds."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    self._event.clear()
                    await self._event.wait()
        except TimeoutError:
            return False
        return True


@dataclass
class Driver:
    """Slack's side of the conversation, on the bot's loop: send, wait for the bot, collect."""

    bot: OfflineBot
    ended: TaskEnded
    feed: Feed
    wait: float
    homes: HomeTabs | None = None  # which App Home tabs were shown (bot/offline/console_home.py)

    async def home(self, user: str) -> Outcome:
        sent = self.bot.sender.open_home(user)
        return await self._settle(await asyncio.shield(self._followed(sent, user, "")), user)

    async def command(self, text: str, user: str, channel: str) -> Outcome:
        sent = self.bot.sender.command(text, user_id=user, channel_id=channel)
        return await self._settle(await asyncio.shield(self._followed(sent, user, channel)))

    async def click(self, button: Button, user: str) -> Outcome:
        view = home_view_of(button.message)
        if view is not None:
            in_tab = press(self.bot, view, button.label, button.value, user)
            return await self._settle(await asyncio.shield(self._followed(in_tab, user, "")), user)
        sent = self.bot.sender.click(
            button.message, button.label, user_id=user, channel_id=button.channel
        )
        return await self._settle(await asyncio.shield(self._followed(sent, user, button.channel)))

    async def approver(self, user: str) -> bool | str:
        """Whether `user` decides some request, as the bot answers a click
        (bot/policy/deciders.py); why it cannot tell, if a user group cannot be read."""
        try:
            return await self.bot.runtime.deps.approvals.deciders.anywhere(user)
        except ApproversUnknown as exc:
            return exc.reason

    async def later(self, clock: SkippingClock, seconds: float) -> Outcome:
        """Skip `seconds` ahead and run the sweep that would have run meanwhile: reminders
        due, requests expired, and what they posted."""
        clock.skip(seconds)
        await self.bot.runtime.sweep_once()
        jobs = self.bot.runtime.jobs
        settled = await self.ended.until(lambda: jobs.in_flight == 0, self.wait)
        return Outcome(200, self.feed.posts(), settled)

    async def send(
        self, make: Callable[[OfflineBot], Awaitable[Exchange]], user: str, channel: str
    ) -> Outcome:
        """Anything else Slack sends (a shortcut, a form's submission), made on this loop."""
        return await self._settle(
            await asyncio.shield(self._followed(make(self.bot), user, channel))
        )

    async def _followed(self, sent: Awaitable[Exchange], user: str, channel: str) -> Exchange:
        # Shielded by the callers: a request once sent is followed even if the wait for it is
        # cancelled, so its late replies still show.
        exchange = await sent
        self.feed.follow(exchange, user, channel)
        return exchange

    async def _settle(self, exchange: Exchange, home_of: str | None = None) -> Outcome:
        # Every job sends its replies and Web API calls before it ends, and the stand-in records
        # each before answering it: no job in flight means everything is recorded.
        jobs = self.bot.runtime.jobs
        settled = await self.ended.until(lambda: jobs.in_flight == 0, self.wait)
        shown = self.feed.news(exchange)
        if home_of is not None:
            self.homes = self.homes or HomeTabs(self.bot.slack)
            tab = f"home/{home_of}"  # each version of the tab replaces the one shown before
            shown += tuple(Shown(c, m, "", tab) for c, m in self.homes.news(home_of))
        return Outcome(exchange.status, shown, settled)


class BotDidNotStart(Exception):
    """The bot, the stand-in or the Chime backend failed to start, or took too long."""


class BotThread:
    """The bot, the Slack stand-in and the Chime backend on an event loop in a daemon thread."""

    def __init__(self, overrides: dict[str, object], chime: ChimeBackend | None) -> None:
        self._overrides, self._chime = overrides, chime
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chime-bot-console", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._driver: Driver | None = None
        self.wait = SETTLE_MARGIN  # for the bot to finish what one input started; set at start
        self.clock = SkippingClock()  # `later` moves it (bot/offline/console_time.py)

    def start(self) -> Settings:
        """Start everything; the settings the bot actually runs with."""
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise BotDidNotStart(f"the bot did not start within {START_TIMEOUT:.0f}s")
        if self._failure is not None or self._driver is None:
            raise BotDidNotStart(f"the bot did not start: {self._failure!r}") from self._failure
        self.wait = self._driver.wait
        return self._driver.bot.runtime.settings

    @property
    def answer_timeout(self) -> float:
        """How long an input waits for the bot's answer before giving up on it."""
        # The settle wait has its own timeout; this one only guards against a hung request.
        return self.wait + SETTLE_MARGIN

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT)

    def command(self, text: str, user: str, channel: str) -> Outcome:
        return self._call(self._live().command(text, user, channel))

    def click(self, button: Button, user: str) -> Outcome:
        return self._call(self._live().click(button, user))

    def home(self, user: str) -> Outcome:
        return self._call(self._live().home(user))

    def later(self, seconds: float) -> Outcome:
        return self._call(self._live().later(self.clock, seconds))

    def approver(self, user: str) -> bool | str:
        return self._call(self._live().approver(user))

    @property
    def policies(self) -> Policies:
        """The running bot's policy: the environment's, and the policy file's per account."""
        return self._live().bot.runtime.deps.approvals.book

    @property
    def gate(self) -> Policy:
        """The channel gate every /chime command passes in the running bot."""
        return self._live().bot.runtime.deps.policy

    @property
    def groups(self) -> frozenset[str]:
        """Every user group that approves for some account (they get made-up members)."""
        return self._live().bot.runtime.deps.approvers.groups

    def send(
        self, make: Callable[[OfflineBot], Awaitable[Exchange]], user: str, channel: str
    ) -> Outcome:
        return self._call(self._live().send(make, user, channel))

    def _live(self) -> Driver:
        if self._driver is None:
            raise RuntimeError("the bot is not running")
        return self._driver

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None or self._loop.is_closed():
            coro.close()
            raise RuntimeError("the bot is not running")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(self.answer_timeout)
        except BaseException:
            # Ctrl-C or a hung request: stop waiting on the loop too, or the abandoned wait would
            # mark the late replies as seen and the next input would not show them.
            future.cancel()
            raise

    # ---- on the bot's loop ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._failure = exc
            log.debug("console bot thread ended", exc_info=True)
        finally:
            self._driver = None
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        ended = TaskEnded.install(self._loop)
        self._stop = asyncio.Event()
        async with offline_bot(self._overrides, chime=self._chime, clock=self.clock) as bot:
            # Every group that approves somewhere: CHIME_APPROVERS's and the policy file's.
            define_groups(bot.slack, bot.runtime.deps.approvers.groups)
            wait = bot.runtime.settings.chime_retry_budget + SETTLE_MARGIN
            self._driver = Driver(bot, ended, Feed(bot.slack), wait)
            self._ready.set()
            await self._stop.wait()
