"""Who may do what, as a typed policy that fails closed and can explain itself.

Each check returns a `Decision` with the reason in plain words, so a refusal can be shown to the
user and logged as is, and `help` can ask the same questions as a dry run.

CHIME_APPROVERS may name user groups. A `Policy` straight from the settings knows only the users
listed directly; `bot.policy.approvers` adds the groups' members (`with_members`). Members only
ever add approvers, so a check that allows on the listed users alone allows on the expanded policy
too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.config.settings import Settings


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Policy:
    allowed_channels: frozenset[str]
    approvers: frozenset[str]  # user IDs: listed directly, plus group members once expanded
    approver_groups: frozenset[str] = frozenset()  # user-group IDs (S...) in CHIME_APPROVERS
    # Where the channels and approvers were configured, as the refusals name it.
    channels_from: str = "CHIME_ALLOWED_CHANNELS"
    approvers_from: str = "CHIME_APPROVERS"

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        ids = settings.chime_approvers
        return cls(
            frozenset(settings.chime_allowed_channels),
            frozenset(i for i in ids if not i.startswith("S")),
            frozenset(i for i in ids if i.startswith("S")),
        )

    def with_members(self, members: frozenset[str]) -> Policy:
        """This policy with the approver groups' current members added as approvers."""
        return replace(self, approvers=self.approvers | members)

    @property
    def _listed(self) -> str:
        if self.approver_groups:
            return f"{self.approvers_from} (directly, or as members of its user groups)"
        return self.approvers_from

    def may_use_channel(self, channel_id: str) -> Decision:
        if not self.allowed_channels:
            return Decision(
                False,
                f"No channel is allowed to use /chime yet: {self.channels_from} is empty, "
                "and the bot refuses everywhere until an admin lists channels there.",
            )
        if channel_id not in self.allowed_channels:
            return Decision(
                False,
                f"/chime only works in the channels listed in {self.channels_from}, "
                f"and {channel_id} is not one of them. Ask an admin, or use an allowed channel.",
            )
        return Decision(True, "channel is on the allowlist")

    def may_decide(self, user_id: str, requester_id: str) -> Decision:
        if not self.approvers and not self.approver_groups:
            return Decision(False, f"No one can approve requests: {self.approvers_from} is empty.")
        if user_id not in self.approvers:
            return Decision(
                False, f"Only the approvers listed in {self._listed} can decide on Chime requests."
            )
        if user_id == requester_id:
            return Decision(False, "You filed this request, so someone else has to decide on it.")
        return Decision(True, "approver, and not the requester")

    def may_file(self, requester_id: str, required: int = 1) -> Decision:
        """A request is filed only if `required` people other than its requester could decide
        on it (two for a two-person rule: two different approvers, neither the requester)."""
        if not self.approvers:
            empty = (
                f"the user groups in {self.approvers_from} have no members and no one is "
                "listed there"
                if self.approver_groups
                else f"{self.approvers_from} is empty"
            )
            return Decision(
                False,
                f"No one could approve it: {empty}. Nothing was filed; "
                "ask an admin to list the approvers.",
            )
        if self.approvers == {requester_id}:
            return Decision(
                False,
                f"You are the only approver in {self._listed}, and no one may approve their "
                "own request, so no one could approve it. Nothing was filed; ask an admin to "
                "add a second approver, or someone else to file it.",
            )
        others = self.approvers - {requester_id}
        if len(others) < required:
            return Decision(
                False,
                f"This account needs {required} approvals from different people, neither of "
                f"them the requester, and {self._listed} has only {len(others)} such "
                f"approver{'s' if len(others) != 1 else ''}. Nothing was filed; ask an admin "
                "to add approvers.",
            )
        return Decision(True, "enough approvers other than the requester can decide")

    def is_approver(self, user_id: str) -> Decision:
        if user_id in self.approvers:
            return Decision(True, f"listed in {self.approvers_from}")
        return Decision(False, f"Only the approvers listed in {self._listed} can do that.")
