"""`chime-bot console` as a newcomer meets it: inputs piped in, a transcript out.

One test runs the console as a real process with piped stdin; the rest call `run_console` with
injected streams, which runs the same bot (its own thread and loop) minus the interpreter start-up.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.offline.console import run_console
from bot.offline.emulator import ChimeEmulator
from bot.offline.terminal import EMOJI, Style

PROMPT = re.compile(r"^U\w+@#\w+> .*$", re.MULTILINE)
ANSI = "\x1b["


def steps(transcript: str) -> list[tuple[str, str]]:
    """(the echoed prompt and input, what was printed for it), in order."""
    found = list(PROMPT.finditer(transcript))
    ends = [m.start() for m in found[1:]] + [len(transcript)]
    return [(m.group(0), transcript[m.end() : end]) for m, end in zip(found, ends, strict=True)]


def console(*lines: str, aws: bool = False) -> str:
    stdout = io.StringIO()
    assert run_console(aws=aws, stdin=io.StringIO("\n".join(lines) + "\n"), stdout=stdout) == 0
    return stdout.getvalue()


def test_piped_session_looks_up_invites_approves_and_finds_the_new_user() -> None:
    script = "\n".join(
        [
            "/chime user ada@example.com",
            '/chime invite new.hire@example.com --account "Example Corp" starts Monday',
            "as U0APPROVER",
            "in C0APPROVALS",
            "click 1",
            "/chime user new.hire@example.com",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.offline.console"],
        input=script + "\n",
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert ANSI not in result.stdout + result.stderr, "piped output is plain text"
    banner = result.stdout.split("\n\n", 1)[0]
    assert "U0APPROVER" in banner and "#C0APPROVALS" in banner

    lookup, invite, as_approver, in_approvals, approve, final = steps(result.stdout)
    assert lookup[0] == "U0REQUESTER@#C0DEMOCHAN> /chime user ada@example.com"
    assert "Ada Lovelace" in lookup[1] and "only you see this" in lookup[1]
    assert "awaits approval" in invite[1] and "posted in #C0APPROVALS" in invite[1]
    assert "[1] Approve  [2] Deny" in invite[1]
    assert as_approver[0] == "U0REQUESTER@#C0DEMOCHAN> as U0APPROVER"
    assert in_approvals[0] == "U0APPROVER@#C0DEMOCHAN> in C0APPROVALS"
    assert approve[0] == "U0APPROVER@#C0APPROVALS> click 1"
    assert "updated in place in #C0APPROVALS" in approve[1]
    assert "Approved by @U0APPROVER" in approve[1] and "direct message to U0REQUESTER" in approve[1]
    created = re.search(r"Created user ([0-9a-f-]{36})", approve[1])
    assert created is not None
    assert created.group(1) in final[1] and "new.hire@example.com" in final[1]


def test_typing_mistakes_get_hints_and_change_nothing() -> None:
    mistakes = [
        "click 99",
        "click x",
        "as",
        "as u0approver",
        "in bad id",
        "in general",
        "frobnicate",
        "user ada@example.com",
        "/chmie user ada@example.com",
    ]
    out = console(*mistakes, "quit", "as U0APPROVER")
    answered = steps(out)
    assert [prompt for prompt, _ in answered] == [
        f"U0REQUESTER@#C0DEMOCHAN> {line}" for line in [*mistakes, "quit"]
    ], "every mistake leaves user and channel as they were, and nothing runs after quit"
    for prompt, answer in answered[:-1]:
        assert answer.strip().startswith("hint:") and len(answer.strip().splitlines()) == 1, prompt
    assert "as U0APPROVER" in out and "upper case" in out, "a lower-case ID is corrected"
    assert "/chime user ada@example.com" in answered[7][1]
    assert "Traceback" not in out


def test_a_channel_off_the_allowlist_is_the_bots_answer_not_a_hint() -> None:
    out = console("in C0ELSEWHERE", "/chime user ada@example.com")
    (_, moved), (_, refused) = steps(out)
    assert "not on the allowlist" in moved
    assert "hint:" not in refused and "CHIME_ALLOWED_CHANNELS" in refused


def test_a_non_approver_click_is_refused_and_the_card_stays_open() -> None:
    out = console(
        '/chime invite who@example.com --account "Example Corp"',
        "as U0STRANGER",
        "in C0APPROVALS",
        "click 1",
    )
    click = steps(out)[-1][1]
    assert "only you see this" in click and "CHIME_APPROVERS" in click
    assert "updated in place" not in click and "Approved" not in click


def test_buttons_keep_their_numbers_and_a_decided_cards_buttons_are_gone() -> None:
    out = console(
        '/chime invite a1@example.com --account "Example Corp"',
        '/chime invite a2@example.com --account "Example Corp"',
        "as U0APPROVER",
        "click 1",
        "click 1",
        "click 2",
        "click 4",
    )
    first, second, _, approve, again, deny_decided, deny = steps(out)
    assert "[1] Approve  [2] Deny" in first[1] and "[3] Approve  [4] Deny" in second[1]
    assert "Approved by @U0APPROVER" in approve[1] and "a1@example.com" in approve[1]
    # The decided card no longer shows its buttons, in Slack or here: refused, nothing sent.
    for refused, number in ((again, 1), (deny_decided, 2)):
        assert refused[1].strip() == (
            f"hint: button [{number}] is gone: its message was updated since (it has no "
            "buttons now); nothing was sent"
        ), refused[1]
    assert "Denied by @U0APPROVER" in deny[1] and "a2@example.com" in deny[1]


def test_settings_come_from_the_environment_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIME_ALLOWED_CHANNELS", "C0MINE")
    monkeypatch.setenv("CHIME_APPROVERS", "U0BOSS")
    out = console('/chime invite env@example.com --account "Example Corp"')
    assert "Settings from the environment: /chime works in #C0MINE" in out
    assert "Approvers: U0BOSS." in out
    ((prompt, invite),) = steps(out)
    assert prompt.startswith("U0REQUESTER@#C0MINE> ")
    assert "posted in #C0MINE" in invite, "no approval channel: the card goes where asked"


def test_an_external_endpoint_replaces_the_embedded_emulator(
    emulator: ChimeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_user("c0a1c0a1-5e3d-4b8a-9f21-000000000001", email="only.here@example.com")
    with emulator.running_in_thread() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME", url)
        out = console("/chime user only.here@example.com")
    assert f"Chime at {url}" in out
    assert "only.here@example.com" in steps(out)[0][1] and "No Chime user" not in out
    assert emulator.count() > 0


def test_aws_without_credentials_says_so_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    stdout = io.StringIO()
    assert run_console(aws=True, stdin=io.StringIO("help\n"), stdout=stdout) == 2
    assert "--aws needs AWS credentials" in capsys.readouterr().err
    assert stdout.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Style.for_stream(_Terminal()).bold("x") == "\x1b[1mx\x1b[0m"
    assert Style.for_stream(io.StringIO()).bold("x") == "x"
    monkeypatch.setenv("NO_COLOR", "1")
    assert Style.for_stream(_Terminal()).bold("x") == "x"


def test_a_slow_bot_gets_a_note_and_its_late_reply_shows_next_time(
    emulator: ChimeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.offline.console_bot.SETTLE_MARGIN", 1.0)
    monkeypatch.setenv("CHIME_RETRY_BUDGET", "0.2")
    # Slower than the wait (1.2 s), and done well within the next one.
    emulator.latency_for("ListAccounts", 1.4, times=1)
    with emulator.running_in_thread() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME", url)
        out = console("/chime user ada@example.com", "/chime user grace@example.com")
    (_, slow), (_, next_one) = steps(out)
    assert "still working" in slow and "Ada Lovelace" not in slow
    assert "later, only U0REQUESTER sees this" in next_one
    assert "Ada Lovelace" in next_one and "Grace Hopper" in next_one


EMOJI_CODE = re.compile(r":[a-z][a-z0-9_+-]*:")


def test_the_console_shows_every_emoji_as_a_symbol_never_as_a_code() -> None:
    transcript = console(
        "as U0APPROVER",
        "/chime pending",  # nothing open
        "as U0REQUESTER",
        "/chime help",
        "/chime user ada@example.com",
        "/chime user nobody@example.com",
        "/chime user not-an-email",
        '/chime invite ada@example.com --account "Example Corp"',  # exists already
        '/chime invite x1@example.com --account "Example Corp"',
        '/chime invite x1@example.com --account "Example Corp"',  # duplicate
        '/chime invite x2@example.com --account "Example Corp"',
        "as U0APPROVER",
        "in C0APPROVALS",
        "click 1",
        "click 4",  # deny the second
        "/chime pending",
    )
    assert EMOJI_CODE.findall(transcript) == [], transcript
    for glyph in ("ℹ", "🎉", "✔"):
        assert glyph in transcript


def test_every_emoji_code_the_bot_writes_has_its_console_symbol() -> None:
    root = Path(__file__).resolve().parents[2]
    used = {
        code
        for path in [*root.glob("bot/**/*.py"), *root.glob("handlers/*.py")]
        if path.name != "terminal.py"
        # As messages write them: a code then a space (not `:memory:` or `arn:aws:...`).
        for code in re.findall(r"(?<![\w:])(:[a-z][a-z0-9_]*:) ", path.read_text())
    }
    assert used and used <= set(EMOJI), f"no console symbol for {sorted(used - set(EMOJI))}"
