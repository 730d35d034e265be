"""`chime-bot console`: try every command locally, as any Slack user in any channel.

The bot runs as `serve` runs it, on 127.0.0.1, with the local Slack stand-in as its Slack and (by
default) the embedded Chime emulator as its Chime. Each command and each click reaches the bot as
a signed HTTP request built the way Slack builds it. Everything Slack would then show is printed:
replies, approval cards the bot posts and updates, direct messages, private notes, with every
button numbered so it can be clicked.

The bot and its peers run on their own event loop in a background thread, so the REPL keeps the
main thread, where readline and Ctrl-C behave as in any shell.

One module because the REPL, its command parsing and the transcript rendering share one
background loop and one view of what was posted; rendering of Block Kit is in
bot/offline/terminal.py.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

import boto3

from bot import logs
from bot.config.settings import ConfigError, Settings, load_settings, log_level
from bot.offline import console_form
from bot.offline.console_home import HomeTabs, home_view_of, press
from bot.offline.console_time import SkippingClock, parse_duration, said
from bot.offline.demo_groups import define_groups, demo_approvers, groups_line
from bot.offline.slack_standin import Exchange, PostedMessage, SlackStandIn
from bot.offline.terminal import ButtonLabel, Style, render
from bot.offline.wiring import (
    DEMO_CHANNEL,
    DEMO_REQUESTER,
    OFFLINE_CREDENTIALS,
    ChimeBackend,
    OfflineBot,
    environment_policy,
    offline_bot,
)
from bot.slack.ids import CHANNEL_ID, USER_ID

log = logging.getLogger("chime_bot.console")

T = TypeVar("T")
PrintLine = Callable[[str], None]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130
# The bot's work after an ack may retry Chime for CHIME_RETRY_BUDGET seconds; allow that, then
# some, before giving up on seeing it finish.
SETTLE_MARGIN = 10.0
START_TIMEOUT = 60.0

HELP = """\
  /chime <text>     run the command as the current user in the current channel
  as <USER_ID>      act as another Slack user, e.g. as U0APPROVER
  in <CHANNEL_ID>   move to another channel, e.g. in C0APPROVALS
  click <n>         press button [n] as the current user
  home              open the current user's App Home tab (its buttons are numbered too)
  later <duration>  skip ahead, e.g. later 4h: see reminders sent and requests expire
  shortcut          open the request form, as the global shortcut does (/chime invite too)
  form k=v …        fill in and submit the open form: email= account= type= reason= channel=
  help              show these inputs
  quit              leave (Ctrl-D does too)"""
CHIME_WORDS = ("user", "invite", "pending", "help")


# ---- what Slack shows -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Shown:
    """One message as Slack would show it: a caption saying where, and the message itself."""

    caption: str
    message: dict[str, Any]
    channel: str  # where the message is, so where a click on it happens


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything one command or click led to, once the bot finished (or the wait ran out)."""

    status: int
    shown: tuple[Shown, ...]
    settled: bool


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    message: dict[str, Any]  # the version that was shown: Slack sends that one with the click
    channel: str
    value: str = ""  # the request ID it carries: a Home tab has many buttons of one label


class Feed:
    """What the stand-in recorded since the last look: each reply and message version once."""

    def __init__(self, slack: SlackStandIn) -> None:
        self.slack = slack
        self._origin: dict[str, tuple[str, str]] = {}  # response ID -> (user, channel)
        self._replies_seen: dict[str, int] = {}
        self._versions_seen: dict[int, int] = {}  # index in slack.messages -> versions shown
        self._views_seen: dict[str, int] = {}  # view ID -> versions shown

    def follow(self, exchange: Exchange, user: str, channel: str) -> None:
        self._origin[exchange.response_id] = (user, channel)

    def news(self, exchange: Exchange) -> tuple[Shown, ...]:
        """The answer to `exchange` first, then late replies to earlier ones, then posts."""
        shown: list[Shown] = []
        answer = console_form.errors_as_message(exchange.ack) if exchange.ack else None
        if exchange.ack and answer is not None:  # a form's answer: its errors, or a new view
            shown.append(Shown("the form answers", answer, self._origin[exchange.response_id][1]))
        elif exchange.ack:
            shown.append(self._reply(exchange.ack, exchange.response_id, late=False))
        for rid in sorted(self._origin, key=lambda r: r != exchange.response_id):
            posts = self.slack.responses.get(rid, [])
            for body in posts[self._replies_seen.get(rid, 0) :]:
                shown.append(self._reply(body, rid, late=rid != exchange.response_id))
            self._replies_seen[rid] = len(posts)
        forms = console_form.modal_news(self.slack, self._views_seen)
        return (*shown, *self._posts(), *(Shown(c, m, "") for c, m in forms))

    def posts(self) -> tuple[Shown, ...]:
        """What was posted or updated since the last look, when no request started it."""
        return tuple(self._posts())

    def _reply(self, body: dict[str, Any], rid: str, *, late: bool) -> Shown:
        user, channel = self._origin[rid]
        if body.get("response_type") == "in_channel":
            caption = f"in #{channel}, everyone sees this"
        else:
            caption = f"only {user} sees this" if late else "only you see this"
        if body.get("replace_original"):
            caption += ", in place of the message"
        return Shown(f"later, {caption}" if late else caption, body, channel)

    def _posts(self) -> list[Shown]:
        shown = []
        for index, posted in enumerate(self.slack.messages):
            versions = 1 + len(posted.updates)
            seen = self._versions_seen.get(index, 0)
            # Only the latest version: earlier ones were already replaced before anyone looked.
            if versions > seen:
                caption = self._where(posted, updated=seen > 0)
                shown.append(Shown(caption, posted.current, posted.channel))
            self._versions_seen[index] = versions
        return shown

    def _where(self, posted: PostedMessage, *, updated: bool) -> str:
        if posted.ephemeral_to:
            return f"in #{posted.channel}, only {posted.ephemeral_to} sees this"
        if posted.channel.startswith("D"):
            where = f"direct message to {self._dm_user(posted.channel)}"
            return f"{where}, updated in place" if updated else where
        return (
            f"updated in place in #{posted.channel}" if updated else f"posted in #{posted.channel}"
        )

    def _dm_user(self, channel: str) -> str:
        for call in self.slack.calls_to("conversations.open"):
            user = str(call.args.get("users", "")).split(",")[0]
            if channel == "D" + user.lstrip("UW"):
                return user
        return channel


# ---- the bot, on its own loop -----------------------------------------------------------------


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
        loop.set_task_factory(watch._task)  # type: ignore[arg-type]
        return watch

    def _task(
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
            shown += tuple(Shown(c, m, "") for c, m in self.homes.news(home_of))
        return Outcome(exchange.status, shown, settled)


class BotDidNotStart(Exception):
    pass


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
            # The settle wait has its own timeout; this one only guards against a hung request.
            return future.result(self.wait + SETTLE_MARGIN)
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
            define_groups(bot.slack, bot.runtime.settings.chime_approvers)
            wait = bot.runtime.settings.chime_retry_budget + SETTLE_MARGIN
            self._driver = Driver(bot, ended, Feed(bot.slack), wait)
            self._ready.set()
            await self._stop.wait()


# ---- the console ------------------------------------------------------------------------------


class Console:
    """The REPL's state and its answer to each input, as lines of text."""

    def __init__(
        self,
        bot: BotThread,
        settings: Settings,
        style: Style,
        *,
        chime: ChimeBackend | None,
        own_settings: bool,
    ) -> None:
        self.bot, self.settings, self.style = bot, settings, style
        self.chime, self.own_settings = chime, own_settings
        self.user = DEMO_REQUESTER
        self.channel = next(iter(settings.chime_allowed_channels), DEMO_CHANNEL)
        self.buttons: dict[int, Button] = {}
        self._numbers = itertools.count(1)

    @property
    def prompt(self) -> str:
        return f"{self.user}@#{self.channel}> "

    def handle(self, line: str) -> list[str] | None:
        """What to print for `line`; None to leave."""
        words = line.split()
        if not words:
            return []
        head = words[0].lower()
        if head in ("quit", "exit"):
            return None
        inputs = {
            "as": self._as,
            "in": self._in,
            "click": self._click,
            "home": self._home,
            "later": self._later,
            "shortcut": self._shortcut,
            "form": self._form,
        }
        try:
            if head.startswith("/"):
                return self._slash(line.strip())
            if head in ("help", "?"):
                return HELP.splitlines()
            if head in inputs:
                return inputs[head](words[1:])
        except console_form.FormProblem as problem:
            return [self.hint(str(problem))]
        except TimeoutError:  # concurrent.futures' too, since 3.11
            return [
                self.hint(f"the bot did not answer within {self.bot.wait + SETTLE_MARGIN:.0f}s")
            ]
        except Exception as exc:
            # The console's own plumbing failed (the bot is gone, a socket closed): say so in a
            # line, keep the session, and leave the traceback to the debug log.
            log.debug("input %r failed", line, exc_info=True)
            return [self.hint(f"that did not reach the bot: {exc or type(exc).__name__}")]
        return [self._unknown(words)]

    def banner(self) -> list[str]:
        s, style = self.settings, self.style
        chime = (
            "the embedded Chime emulator with sample data"
            if self.chime is None
            else f"Chime at {self.chime.describe()}"
        )
        source = "Settings from the environment" if self.own_settings else "Made-up settings"
        lines = [
            style.bold("chime-bot console")
            + f": the real bot, a local stand-in for Slack, and {chime}.",
            f"{source}: {self._channels_line(s)}",
            f"{self._approvers_line(s)} You are {self.user} in #{self.channel}.",
        ]
        if s.chime_policy_file:
            lines.append(
                f"Per-account policy from {s.chime_policy_file} over those: /chime help shows "
                "what you may request and approve where you stand."
            )
        if s.chime_approvers:
            where = s.chime_approval_channel or "the channel of the request"
            lines.append(
                f"To decide a request: as {s.chime_approvers[0]}, in {where}, then click <n>."
            )
        if self.chime is None:
            lines.append("Try: /chime user ada@example.com   (help lists every input, quit leaves)")
        else:
            lines.append("Type help for every input, quit to leave.")
        if self.chime is not None and self.chime.endpoint is None:
            lines.append(style.bold("This is your real AWS account: approving creates real users."))
        return lines

    @staticmethod
    def _channels_line(s: Settings) -> str:
        if not s.chime_allowed_channels:
            works = "/chime works nowhere (CHIME_ALLOWED_CHANNELS is empty)"
        else:
            works = "/chime works in " + ", ".join(f"#{c}" for c in s.chime_allowed_channels)
        cards = f"#{s.chime_approval_channel}" if s.chime_approval_channel else "their channel"
        return f"{works}; approval cards go to {cards}."

    @staticmethod
    def _approvers_line(s: Settings) -> str:
        if not s.chime_approvers:
            return "No approvers (CHIME_APPROVERS is empty), so no request can be decided."
        return f"Approvers: {', '.join(s.chime_approvers)}.{groups_line(s.chime_approvers)}"

    def completions(self, line: str) -> list[str]:
        """Candidates for the word being typed at the end of `line`, for readline."""
        words = line.split()
        position = len(words) if not words or line.endswith(" ") else len(words) - 1
        if position == 0:
            return [
                "/chime ",
                "as ",
                "in ",
                "click ",
                "home",
                "later ",
                "shortcut",
                "form ",
                "help",
                "quit",
            ]
        if position > 1:
            return []
        s = self.settings
        choices = {
            "/chime": [f"{w} " for w in CHIME_WORDS],
            "as": [DEMO_REQUESTER, *s.chime_approvers],
            "in": [*s.chime_allowed_channels, *filter(None, [s.chime_approval_channel])],
            "click": [str(n) for n in self.buttons],
        }
        return list(dict.fromkeys(choices.get(words[0].lower(), [])))

    # ---- inputs ------------------------------------------------------------------------------

    def _slash(self, line: str) -> list[str]:
        command, _, text = line.partition(" ")
        if command.lower() != "/chime":
            return [self.hint(f"{command} is not a command here; try /chime help")]
        return self._show(self.bot.command(text.strip(), self.user, self.channel))

    def _as(self, args: list[str]) -> list[str]:
        user = args[0].lstrip("@") if len(args) == 1 else ""
        if not USER_ID.fullmatch(user):
            return [self._id_hint("as", "a Slack user ID", "U0APPROVER", args, USER_ID)]
        self.user = user
        role = "an approver" if user in self.settings.chime_approvers else "not an approver"
        return [self.style.dim(f"now acting as {user} ({role})")]

    def _in(self, args: list[str]) -> list[str]:
        channel = args[0].lstrip("#") if len(args) == 1 else ""
        if not CHANNEL_ID.fullmatch(channel):
            return [self._id_hint("in", "a channel ID", "C0APPROVALS", args, CHANNEL_ID)]
        self.channel = channel
        notes = []
        if channel not in self.settings.chime_allowed_channels:
            notes.append("not on the allowlist, so /chime is refused here")
        if channel == self.settings.chime_approval_channel:
            notes.append("approval cards are posted here")
        return [self.style.dim(f"now in #{channel}" + (f" ({'; '.join(notes)})" if notes else ""))]

    def _click(self, args: list[str]) -> list[str]:
        if len(args) != 1 or not args[0].isdigit():
            return [self.hint("click takes the number of a button, e.g. click 1")]
        button = self.buttons.get(int(args[0]))
        if button is None:
            known = f"buttons so far: 1 to {len(self.buttons)}" if self.buttons else "none yet"
            return [self.hint(f"there is no button [{args[0]}] ({known})")]
        pressed = f"pressed {button.label} on the message in #{button.channel}"
        if home_view_of(button.message) is not None:
            pressed = f"pressed {button.label} on {button.value} in the App Home tab"
        lines = [self.style.dim(pressed)]
        return lines + self._show(self.bot.click(button, self.user))

    def _home(self, args: list[str]) -> list[str]:
        if args:
            return [self.hint("home takes nothing: it opens the App Home tab of the current user")]
        return self._show(self.bot.home(self.user))

    def _later(self, args: list[str]) -> list[str]:
        seconds = parse_duration("".join(args))
        if isinstance(seconds, str):
            return [self.hint(f"later {seconds}: it skips ahead in time, e.g. later 4h")]
        lines = [self.style.dim(f"  ({said(seconds)} later)")]
        outcome = self.bot.later(seconds)
        if not outcome.shown:
            return [*lines, self.style.dim("  (nothing happened meanwhile)")]
        return lines + self._show(outcome)

    def _shortcut(self, args: list[str]) -> list[str]:
        if args:
            return [self.hint("shortcut takes nothing: it opens the request form")]
        return self._show(self.bot.send(console_form.shortcut(self.user), self.user, self.channel))

    def _form(self, args: list[str]) -> list[str]:
        given = console_form.parse(" ".join(args))
        sent = console_form.submit(given, self.user)
        return self._show(self.bot.send(sent, self.user, self.channel))

    # ---- output ------------------------------------------------------------------------------

    def _show(self, outcome: Outcome) -> list[str]:
        lines = []
        if outcome.status != 200:
            lines.append(self.hint(f"the bot answered HTTP {outcome.status}"))
        for item in outcome.shown:
            lines.append(self.style.dim(f"  -- {item.caption} --"))
            lines.append(render(item.message, style=self.style, label=self._numberer(item)))
        if not outcome.shown and outcome.status == 200:
            lines.append(self.style.dim("  (nothing to see: the bot sent no message)"))
        if not outcome.settled:
            lines.append(
                self.hint(
                    f"the bot is still working after {self.bot.wait:.0f}s; "
                    "what it sends later shows after your next input"
                )
            )
        return lines

    def _numberer(self, item: Shown) -> ButtonLabel:
        def label(_block_id: str, button: dict[str, Any]) -> str:
            number = next(self._numbers)
            text = str(button["text"]["text"])
            value = str(button.get("value", ""))
            self.buttons[number] = Button(text, item.message, item.channel, value)
            return f"[{number}] {text}"

        return label

    def hint(self, text: str) -> str:
        return self.style.accent("hint:") + " " + text

    def _id_hint(
        self, word: str, what: str, example: str, args: list[str], pattern: re.Pattern[str]
    ) -> str:
        if len(args) == 1 and pattern.fullmatch(args[0].upper().lstrip("@#")):
            return self.hint(f"Slack IDs are upper case: {word} {args[0].upper().lstrip('@#')}")
        return self.hint(f"{word} takes {what}, e.g. {word} {example}")

    def _unknown(self, words: list[str]) -> str:
        if words[0].lower() in CHIME_WORDS:
            return self.hint(f"commands start with /chime, e.g. /chime {' '.join(words)}")
        return self.hint(f"{words[0]!r} is not an input here; type help to see them")


# ---- input and output --------------------------------------------------------------------------


def repl(console: Console, stdin: TextIO, out: PrintLine, *, interactive: bool) -> int:
    for line in _typed_lines(console, out) if interactive else _piped_lines(console, stdin, out):
        try:
            answer = console.handle(line)
        except KeyboardInterrupt:
            out(
                console.hint(
                    "interrupted; anything the bot sends later shows after your next input"
                )
            )
            continue
        if answer is None:
            break
        for text in answer:
            out(text)
        out("")
    return EXIT_OK


def _typed_lines(console: Console, out: PrintLine) -> Iterator[str]:
    _enable_readline(console)
    while True:
        try:
            yield input(console.prompt)
        except EOFError:
            out("")
            return
        except KeyboardInterrupt:
            out("")  # a fresh prompt, as in a shell


def _piped_lines(console: Console, stdin: TextIO, out: PrintLine) -> Iterator[str]:
    for raw in stdin:
        line = raw.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        # Echoed after the prompt so the output reads as a transcript of a session.
        out(console.style.bold(console.prompt + line))
        yield line


def _enable_readline(console: Console) -> None:
    try:
        import readline  # not on every platform; input() works without it
    except ImportError:
        return

    def complete(text: str, state: int) -> str | None:
        typed = readline.get_line_buffer()[: readline.get_endidx()]
        options = [o for o in console.completions(typed) if o.startswith(text)]
        return options[state] if state < len(options) else None

    readline.set_completer_delims(" \t\n")
    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")


# ---- set-up ------------------------------------------------------------------------------------


class NoCredentials(Exception):
    """`--aws` without any AWS credentials: say so before starting rather than on every call."""


def choose_backend(aws: bool) -> ChimeBackend | None:
    """Where Chime calls go: AWS with `aws`, else AWS_ENDPOINT_URL_CHIME, else None (emulator)."""
    if aws:
        if boto3.session.Session().get_credentials() is None:
            raise NoCredentials(
                "--aws needs AWS credentials, and the standard chain found none "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, an instance role)"
            )
        return ChimeBackend.aws()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_CHIME", "").strip()
    if not endpoint:
        return None
    # An emulator accepts any signature, so lend placeholder credentials when none are configured.
    found = boto3.session.Session().get_credentials() is not None
    return ChimeBackend(endpoint, None if found else dict(OFFLINE_CREDENTIALS))


def run_console(
    *, aws: bool = False, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    """`chime-bot console`. Returns the exit code: 0 at `quit` or end of input, 2 when the
    configuration is unusable, 1 when the bot cannot start, 130 on Ctrl-C outside the prompt."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout

    def out(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    try:
        env = load_settings("console")
        chime = choose_backend(aws)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    except NoCredentials as exc:
        print(f"chime-bot console: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    policy = environment_policy(env)
    # offline_bot gives it a throwaway store: the cards its requests point at live only in this
    # session's stand-in, and sharing a real bot's store would let this one's sweeper settle
    # that bot's requests.
    # The made-up policy has a user group approver too, with members in the stand-in.
    bot = BotThread(policy or {"chime_approvers": demo_approvers()}, chime)
    try:
        settings = bot.start()
        style = Style.for_stream(stdout)
        console = Console(bot, settings, style, chime=chime, own_settings=bool(policy))
        for line in [*console.banner(), ""]:
            out(line)
        return repl(console, stdin, out, interactive=stdin is sys.stdin and stdin.isatty())
    except BotDidNotStart as exc:
        print(f"chime-bot console: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        bot.stop()


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "--aws",
        action="store_true",
        help="use your real AWS account (standard credential chain) instead of the emulator",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.offline.console",
        description="Try every /chime command locally, as any Slack user, offline from Slack.",
    )
    args = configure_parser(parser).parse_args(argv)
    try:
        settings = load_settings("console")  # LOG_LEVEL included: one validation everywhere
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_CONFIG
    # The bot's warnings (a refused channel, say) repeat what the transcript already shows.
    logs.configure(log_level(settings, "ERROR"), "text")
    return run_console(aws=args.aws)


if __name__ == "__main__":
    raise SystemExit(main())
