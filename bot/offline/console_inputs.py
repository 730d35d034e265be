"""The console's inputs: each line typed (or piped) is parsed, checked and carried out.

`Console` holds the session (who you are, which channel you are in, the numbered buttons so far)
and answers each input with lines of text: `/chime …` and `click <n>` go to the bot as Slack
would send them (bot/offline/console_bot.py), `as` and `in` change who and where, `home`,
`later`, `shortcut` and `form` open the App Home tab, skip ahead in time and fill in the request
form. A mistyped input gets a hint, never a traceback.
"""

from __future__ import annotations

import logging
import re

from bot.config.settings import Settings
from bot.durations import said
from bot.offline import console_banner, console_form
from bot.offline.console_bot import BotThread
from bot.offline.console_home import home_view_of
from bot.offline.console_time import parse_skip
from bot.offline.console_transcript import Outcome, Transcript
from bot.offline.demo_groups import DEMO_GROUP_MEMBERS
from bot.offline.terminal import Style
from bot.offline.wiring import DEMO_CHANNEL, DEMO_REQUESTER, ChimeBackend
from bot.slack.ids import CHANNEL_ID, USER_ID

log = logging.getLogger("chime_bot.console")

HELP = """\
  /chime <text>     run the command as the current user in the current channel
  as <USER_ID>      act as another Slack user, e.g. as U0APPROVER
  in <CHANNEL_ID>   move to another channel, e.g. in C0APPROVALS
  click <n>         press button [n] as the current user
  home              open the current user's App Home tab (its buttons are numbered too)
  later <duration>  skip ahead, e.g. later 4h: see reminders sent, requests expire and
                    time-bound access (/chime invite … --for 8h) end
  shortcut          open the request form, as the global shortcut does (/chime invite too)
  form k=v …        fill in and submit the open form: email= account= type= reason= channel=
                    for= (how long the access lasts: 8h, 1d, 7d, 30d, 90d; No end by default)
  help              show these inputs
  quit              leave (Ctrl-D does too)"""
# The /chime subcommands the console completes, and hints at when typed without /chime: those
# /chime help shows.
CHIME_WORDS = (
    "user",
    "invite",
    "pending",
    "help",
    "suspend",
    "unsuspend",
    "logout",
    "reset-pin",
    "license",
    "access",
)


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
        store: str | None = None,
    ) -> None:
        self.bot, self.settings, self.style = bot, settings, style
        self.chime, self.own_settings = chime, own_settings
        self.store = store  # CHIME_STORE_URL when set: where the session's requests are kept
        self.user = DEMO_REQUESTER
        self.channel = next(iter(bot.policies.channels_listed()), DEMO_CHANNEL)
        self.transcript = Transcript(style)  # numbers the buttons shown, for `click <n>`

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
            return [self.hint(f"the bot did not answer within {self.bot.answer_timeout:.0f}s")]
        except Exception as exc:
            # The console's own plumbing failed (the bot is gone, a socket closed): say so in a
            # line, keep the session, and leave the traceback to the debug log.
            log.debug("input %r failed", line, exc_info=True)
            return [self.hint(f"that did not reach the bot: {exc or type(exc).__name__}")]
        return [self._unknown(words)]

    def banner(self) -> list[str]:
        s, style, bot = self.settings, self.style, self.bot
        chime = (
            "the embedded Chime emulator with sample data"
            if self.chime is None
            else f"Chime at {self.chime.describe()}"
        )
        source = "Settings from the environment" if self.own_settings else "Made-up settings"
        approvers = console_banner.approvers_line(s, bot.policies, bot.groups)
        lines = [
            style.bold("chime-bot console")
            + f": the real bot, a local stand-in for Slack, and {chime}.",
            f"{source}: {console_banner.channels_line(s, bot.policies)}",
            f"{approvers} You are {self.user} in #{self.channel}.",
        ]
        if s.policy_source:
            lines.append(
                f"Per-account policy from {s.policy_source}: /chime help shows what you may "
                "request and approve where you stand."
            )
        someone = console_banner.an_approver(s, bot.policies, bot.groups)
        if someone is not None:
            where = s.chime_approval_channel or "the channel of the request"
            lines.append(f"To decide a request: as {someone}, in {where}, then click <n>.")
        if self.chime is None:
            lines.append("Try: /chime user ada@example.com   (help lists every input, quit leaves)")
        else:
            lines.append("Type help for every input, quit to leave.")
        if self.store:
            lines.append(
                f"Requests are kept in {self.store} (CHIME_STORE_URL): `chime-bot audit` reads "
                "them afterwards. Never point it at a running bot's store."
            )
        if self.chime is not None and self.chime.endpoint is None:
            lines.append(style.bold("This is your real AWS account: approving creates real users."))
        return lines

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
        s, book = self.settings, self.bot.policies
        approvers = [i for p in book.everyone() for i in sorted(p.rules.approvers)]
        approvers += DEMO_GROUP_MEMBERS if self.bot.groups else ()  # the groups' made-up members
        choices = {
            "/chime": [f"{w} " for w in CHIME_WORDS],
            "as": [DEMO_REQUESTER, *approvers],
            "in": [
                *book.channels_listed(),
                *filter(None, [s.chime_approval_channel]),
            ],
            "click": [str(n) for n in self.transcript.buttons],
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
        # The bot's own answer, as a click by this user gets it: groups and the policy file too.
        role = console_banner.approver_note(self.bot.approver(user))
        return [self.style.dim(f"now acting as {user} ({role})")]

    def _in(self, args: list[str]) -> list[str]:
        channel = args[0].lstrip("#") if len(args) == 1 else ""
        if not CHANNEL_ID.fullmatch(channel):
            return [self._id_hint("in", "a channel ID", "C0APPROVALS", args, CHANNEL_ID)]
        self.channel = channel
        notes = []
        if not self.bot.gate.may_use_channel(channel).allowed:  # the gate every command passes
            notes.append("not on the allowlist, so /chime is refused here")
        if channel == self.settings.chime_approval_channel:
            notes.append("approval cards are posted here")
        return [self.style.dim(f"now in #{channel}" + (f" ({'; '.join(notes)})" if notes else ""))]

    def _click(self, args: list[str]) -> list[str]:
        if len(args) != 1 or not args[0].isdigit():
            return [self.hint("click takes the number of a button, e.g. click 1")]
        button = self.transcript.buttons.get(int(args[0]))
        gone = self.transcript.why_gone(int(args[0]))
        if gone is not None:
            return [self.hint(gone)]
        if button is None:
            shown = len(self.transcript.buttons) + len(self.transcript.gone)
            known = f"buttons so far: 1 to {shown}" if shown else "none yet"
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
        seconds = parse_skip("".join(args))
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
        return self.transcript.show(outcome, self.bot.wait)

    def hint(self, text: str) -> str:
        return self.transcript.hint(text)

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
