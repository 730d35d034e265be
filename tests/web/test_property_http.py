"""Property: no `/chime` text, sent as Slack sends it, can break the bot.

For any text: the ack is a 200, nothing raises unhandled, every reply is valid Block Kit that
shows untrusted text only as itself, every approval card is one Slack accepts, and every email
that reaches Chime is a valid one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.offline.wiring import OfflineBot, offline_bot
from tests.blockkit import (
    all_text,
    assert_valid_message,
    literal_problems,
    unescaped_angle_brackets,
)
from tests.conftest import CHANNEL, REQUESTER

T = TypeVar("T")
CHIME_EMAIL = re.compile(r"[^\s<>|]+@[^\s<>|]+\.[^\s<>|]+")


class BotThread:
    """The offline bot on its own event loop, so synchronous hypothesis tests can drive it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.bot: OfflineBot | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors: list[BaseException] = []
        self.logged_errors: list[logging.LogRecord] = []
        self._handler = _Collect(self.logged_errors)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(
            lambda _, ctx: self.errors.append(ctx.get("exception") or RuntimeError(ctx["message"]))
        )
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with offline_bot() as bot:
            self.bot = bot
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> BotThread:
        logging.getLogger().addHandler(self._handler)
        self._thread.start()
        assert self._ready.wait(30), "bot did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        logging.getLogger().removeHandler(self._handler)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(30)


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture(scope="module")
def bot_thread() -> Iterator[BotThread]:
    with BotThread() as running:
        yield running


emails = st.builds(
    lambda a, b, c: f"{a}@{b}.{c}",
    st.text(min_size=1, max_size=12),
    st.text(min_size=1, max_size=12),
    st.text(min_size=1, max_size=6),
)
slack_markup = st.sampled_from(
    [
        "<!channel>",
        "<!here>",
        "<@U0123ABCD>",
        "<#C0123|general>",
        "<http://evil.example|click>",
        "&lt;",
        "&gt;",
        "&amp;",
        "|",
        "`",
    ]
)
texts = st.one_of(
    st.text(max_size=120),
    st.builds(lambda e: f"user {e}", emails),
    st.builds(lambda e: f"user <mailto:{e}|{e}>", emails),
    st.builds(lambda m, e: f"user {m}{e}", slack_markup, emails),
    st.builds(
        lambda parts: "user " + " ".join(parts),
        st.lists(st.one_of(slack_markup, st.text(max_size=10)), max_size=4),
    ),
    st.builds(lambda parts: " ".join(parts), st.lists(slack_markup, max_size=5)),
    st.builds(lambda e, r: f"invite {e} {r}", emails, st.text(max_size=40)),
    st.builds(
        lambda e, r: f'invite {e} --account "Example Corp" {r}',
        emails,
        st.lists(st.one_of(slack_markup, st.text(max_size=30)), max_size=6).map(" ".join),
    ),
)


async def send(bot: OfflineBot, text: str) -> tuple[int, list[dict[str, Any]]]:
    exchange = await bot.sender.command(text, user_id=REQUESTER, channel_id=CHANNEL)
    if exchange.status != 200:
        return exchange.status, []
    return 200, await exchange.replies(1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_no_command_text_can_break_the_bot(bot_thread: BotThread, text: str) -> None:
    assert bot_thread.bot is not None
    bot_thread.bot.emulator.reset_calls()
    status, replies = bot_thread.run(send(bot_thread.bot, text))
    assert status == 200
    assert replies, "every command gets an answer"
    for reply in replies:
        assert not unescaped_angle_brackets(reply), reply
        assert_valid_message(reply)
        assert not literal_problems(reply), literal_problems(reply)
        assert "Request not filed" not in all_text(reply), "Slack refused a card the bot built"
    assert not bot_thread.logged_errors, "unhandled error"
    for call in bot_thread.bot.emulator.calls:
        for key in ("UserEmail", "Email"):
            if key in call.params:
                assert CHIME_EMAIL.fullmatch(call.params[key]), call
    assert not bot_thread.errors
