"""The effective policy for an account: the one place that answers "who may request for account
X, from where, for which user types, for how long, who approves, how many of them, which
changes need an approval at all, and how long time-bound access may last".

Layers, each field falling back to the one below: the account's entry in CHIME_POLICY_FILE
(named by its Chime name, case-insensitively, or by its account ID), then the file's `default`
section, then the environment (CHIME_ALLOWED_CHANNELS, CHIME_APPROVERS, CHIME_REQUEST_TTL; one
approval; both user types; every action needs approval except resetting one's own PIN; no cap
on access). `actions` falls back per action: an entry's `logout: none` leaves its other actions
to the default section. Without a file every account gets the environment's policy, which
is exactly the bot's behaviour before the file existed.

Where the file is ambiguous the account is blocked (fails closed): no one may file for it or
decide its requests, and the refusal says why:
- two entries name the same account (one by name, one by ID): which one was meant is unknown;
- an entry's name matches several accounts: name each by its account ID instead;
- an entry names no account Chime has: it may be a misspelling of an account's name, and that
  account would otherwise get the looser default. So while any entry matches no account, the
  accounts the file does not name take no new requests. `chime-bot check` reports such entries.

Matching against Chime's account list needs that list (a cached ListAccounts). Filing, help and
check have it. Deciding does not: a request is decided under the entry that names its account
by the ID or the name stored with it, else the default, with no Chime call; it was filed
under the same rules, and a click never waits on Chime to refuse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.config.policy_actions import ACTIONS, NO_APPROVAL_BUILT_IN, Action
from bot.config.policy_file import (
    USER_TYPES,
    PolicyFile,
    PolicyFileError,
    Rules,
    shown,
)
from bot.config.settings import ConfigError, Settings
from bot.durations import said
from bot.models import Account
from bot.policy.authz import Decision, Policy
from bot.slack.commands import Invite
from bot.store.model import InviteRequest, new_request_id

ENVIRONMENT = "the environment (CHIME_ALLOWED_CHANNELS, CHIME_APPROVERS)"


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    rules: Policy  # channels and approvers: the questions bot.policy.authz answers
    approvals_required: int
    user_types: tuple[str, ...]
    ttl: int
    source: str  # where it comes from, for replies and `check`
    blocked: str | None = None  # set: the file is ambiguous for this account, and why
    # Actions that go ahead without an approver; every other action needs one.
    no_approval: frozenset[Action] = NO_APPROVAL_BUILT_IN
    max_access: int | None = None  # seconds of time-bound access at most; None: no cap

    def access_granted(self, asked: int | None) -> int | None:
        """How long an invite asking for `asked` seconds (None: no end) is granted on this
        account: as asked, or the account's maximum where it has one and nothing was asked.
        One asking for more than the maximum is refused before filing (`access_refusal`)."""
        return asked if asked is not None else self.max_access

    def access_refusal(self, asked: int | None, account_name: str) -> Decision:
        """Whether an invite may ask for `asked` seconds of access on this account."""
        if asked is None or self.max_access is None or asked <= self.max_access:
            return Decision(True, "")
        return Decision(
            False,
            f"Access to {account_name} can last at most {said(self.max_access)} "
            f"(its max_access, from {self.source}); you asked for {said(asked)}. "
            f"Ask with --for {said(self.max_access).replace(' ', '')} or less.",
        )

    def needs_approval(self, action: str) -> bool:
        """Whether `action` (one of bot.config.policy_actions.ACTIONS) waits for an approver.
        A name that is no action is a bug in the caller, not a question to answer either way."""
        if action not in ACTIONS:
            raise ValueError(f"not an action: {action!r} (actions: {', '.join(ACTIONS)})")
        return action not in self.no_approval

    def may_request_from(self, channel: str, account_name: str) -> Decision:
        if self.blocked:
            return Decision(False, self.blocked)
        if channel in self.rules.allowed_channels:
            return Decision(True, "channel allowed for this account")
        allowed = ", ".join(sorted(self.rules.allowed_channels)) or "none"
        return Decision(
            False,
            f"Requests for the account “{account_name}” may be filed only from these "
            f"channels ({self.rules.channels_from}): {allowed}. Nothing was filed.",
        )

    def may_have(self, user_type: str, account_name: str) -> Decision:
        if self.blocked:
            return Decision(False, self.blocked)
        if user_type in self.user_types:
            return Decision(True, "user type allowed")
        return Decision(
            False,
            f"The account “{account_name}” takes only {' or '.join(self.user_types)} users "
            f"({self.source}), not {user_type}. Nothing was filed.",
        )

    def groups(self) -> frozenset[str]:
        return self.rules.approver_groups


@dataclass(frozen=True)
class Policies:
    """The environment's policy and, when CHIME_POLICY_FILE (or CHIME_POLICY_SSM_PARAMETER) is
    set, the file's."""

    environment: Policy
    ttl: int  # CHIME_REQUEST_TTL
    file: PolicyFile | None = None
    path: str | None = None
    approvals_required: int = 1  # CHIME_APPROVALS_REQUIRED: the file may say otherwise
    listed_order: tuple[str, ...] = ()  # CHIME_ALLOWED_CHANNELS as written, for lists people read

    @classmethod
    def from_settings(cls, settings: Settings) -> Policies:
        """Reads the file or the SSM parameter again (load_settings validated it); ConfigError
        if it changed for the worse in between."""
        path = settings.policy_source
        try:
            file = settings.read_policy()
        except PolicyFileError as exc:
            raise ConfigError(exc.problems) from None
        return cls(
            Policy.from_settings(settings),
            settings.chime_request_ttl,
            file,
            path,
            settings.chime_approvals_required,
            tuple(settings.chime_allowed_channels),
        )

    @property
    def from_file(self) -> bool:
        return self.file is not None

    # ---- the layers -----------------------------------------------------------------------

    def default(self) -> AccountPolicy:
        """The policy of an account the file does not name (the only one, without a file)."""
        base = self._environment()
        if self.file is None or self.file.default is None:
            return base
        return _over(base, self.file.default, "the policy file's default section")

    def _environment(self) -> AccountPolicy:
        return AccountPolicy(
            self.environment, self.approvals_required, USER_TYPES, self.ttl, ENVIRONMENT
        )

    def entries(self) -> dict[str, Rules]:
        return dict(self.file.accounts) if self.file is not None else {}

    def everyone(self) -> list[AccountPolicy]:
        """The default and every entry, resolved: for what holds across all accounts."""
        return [self.default()] + [self.entry(key) for key in self.entries()]

    def entry(self, key: str) -> AccountPolicy:
        rules = self.entries()[key]
        return _over(self.default(), rules, f"the policy file's entry {shown(key)}")

    # ---- the questions --------------------------------------------------------------------

    def for_account(
        self, account_id: str, name: str, accounts: list[Account] | None = None
    ) -> AccountPolicy:
        """The effective policy for one account. `accounts` (every account Chime has) settles
        what the account's own ID and name cannot: a name shared by several accounts, and
        entries that match no account. Without it, only the entries are consulted."""
        if self.file is None:
            return self.default()
        keys = [k for k in self.entries() if _names(k, account_id, name)]
        if len(keys) > 1:
            return self._blocked(
                f"The policy file names the account “{name}” more than once "
                f"({', '.join(shown(k) for k in keys)}), so its rules are unclear. Nothing "
                "was done; ask an admin to keep one entry for it."
            )
        if keys:
            key = keys[0]
            if accounts is not None and key != account_id:
                same = [a for a in accounts if a.name.casefold() == key.casefold()]
                if len(same) > 1:
                    return self._blocked(
                        f"The policy file's entry {shown(key)} matches {len(same)} accounts "
                        "of that name, so which one it means is unclear. Nothing was done; ask "
                        "an admin to name the account by its account ID in the policy file."
                    )
            return self.entry(key)
        if accounts is not None:
            strays = self.unmatched(accounts)
            if strays:
                return self._blocked(
                    f"The policy file names {', '.join(shown(k) for k in strays)}, which "
                    "matches no Chime account (a misspelt name?). Until that is fixed, accounts "
                    f"the file does not name, like “{name}”, take no requests. Nothing was "
                    "filed; ask an admin to run `chime-bot check`."
                )
        return self.default()

    def unmatched(self, accounts: Iterable[Account]) -> list[str]:
        """Entries that name no account Chime has."""
        known = list(accounts)
        return [
            key
            for key in self.entries()
            if not any(_names(key, a.account_id, a.name) for a in known)
        ]

    def channels(self) -> frozenset[str]:
        """Where /chime may run at all: wherever any account may be requested for."""
        return frozenset().union(*(p.rules.allowed_channels for p in self.everyone()))

    def channels_listed(self) -> list[str]:
        """Where /chime may run (`gate`), for people to read (the console, `chime-bot check`):
        in CHIME_ALLOWED_CHANNELS's order, then the policy file's channels, sorted."""
        allowed = self.gate().allowed_channels
        first = [c for c in self.listed_order if c in allowed]
        return first + sorted(allowed - set(first))

    def groups(self) -> frozenset[str]:
        """Every user group that approves for some account: their members are cached."""
        return frozenset().union(*(p.groups() for p in self.everyone()))

    def gate(self) -> Policy:
        """The channel gate every /chime command passes: the union of all accounts' channels
        (the environment's policy as it is, without a file)."""
        if self.file is None:
            return self.environment
        return Policy(
            self.channels(),
            self.environment.approvers,
            self.environment.approver_groups,
            channels_from="the policy file (CHIME_POLICY_FILE) and CHIME_ALLOWED_CHANNELS",
        )

    def _blocked(self, why: str) -> AccountPolicy:
        return AccountPolicy(
            Policy(frozenset(), frozenset()), 1, USER_TYPES, self.ttl, "the policy file", why
        )


def _names(key: str, account_id: str, name: str) -> bool:
    return key == account_id or key.casefold() == name.casefold()


def _over(base: AccountPolicy, rules: Rules, source: str) -> AccountPolicy:
    """`rules` over `base`: each field the section sets replaces the base's."""
    listed = base.rules
    if rules.approvers is not None:
        ids = rules.approvers
        approvers = frozenset(i for i in ids if not i.startswith("S"))
        groups = frozenset(i for i in ids if i.startswith("S"))
    else:
        approvers, groups = listed.approvers, listed.approver_groups
    channels = frozenset(rules.channels) if rules.channels is not None else listed.allowed_channels
    return AccountPolicy(
        Policy(
            channels,
            approvers,
            groups,
            channels_from=source if rules.channels is not None else listed.channels_from,
            approvers_from=source if rules.approvers is not None else listed.approvers_from,
        ),
        rules.approvals_required or base.approvals_required,
        tuple(dict.fromkeys(rules.user_types)) if rules.user_types else base.user_types,
        rules.ttl or base.ttl,
        source,
        no_approval=_no_approval(base.no_approval, rules),
        max_access=rules.max_access if rules.max_access is not None else base.max_access,
    )


def _no_approval(base: frozenset[Action], rules: Rules) -> frozenset[Action]:
    """Each action the section sets replaces the base's answer for it; the rest stay."""
    said = rules.actions.no_approval() if rules.actions is not None else {}
    return frozenset(a for a in ACTIONS if said.get(a, a in base))


def draft(
    cmd: Invite,
    account: Account,
    rules: AccountPolicy,
    requester: str,
    origin_channel: str,
    now: float,
) -> InviteRequest:
    """A new request for `cmd`'s (first) address, as filed now under the account's policy."""
    return InviteRequest(
        id=new_request_id(),
        email=cmd.email,
        user_type=cmd.user_type.value,
        reason=cmd.reason,
        account_id=account.account_id,
        account_name=account.name,
        account_type=account.account_type,
        requester=requester,
        origin_channel=origin_channel,
        created_at=now,
        expires_at=now + rules.ttl,
        updated_at=now,
        approvals_required=rules.approvals_required,
        params=_access_params(rules.access_granted(cmd.access_for)),
    )


def _access_params(seconds: int | None) -> dict[str, str]:
    """An invite's params: how long its access lasts, if it ends (bot/approvals/access.py)."""
    return {} if seconds is None else {"access_for": str(seconds)}
