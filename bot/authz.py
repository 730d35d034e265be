"""Who may do what, as a typed policy that fails closed and can explain itself.

Each check returns a `Decision` with the reason in plain words, so a refusal can be shown to the
user and logged as is, and `help` can ask the same questions as a dry run.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Policy:
    allowed_channels: frozenset[str]
    approvers: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(frozenset(settings.chime_allowed_channels), frozenset(settings.chime_approvers))

    def may_use_channel(self, channel_id: str) -> Decision:
        if not self.allowed_channels:
            return Decision(
                False,
                "No channel is allowed to use /chime yet: CHIME_ALLOWED_CHANNELS is empty, "
                "and the bot refuses everywhere until an admin lists channels there.",
            )
        if channel_id not in self.allowed_channels:
            return Decision(
                False,
                f"/chime only works in the channels listed in CHIME_ALLOWED_CHANNELS, "
                f"and {channel_id} is not one of them. Ask an admin, or use an allowed channel.",
            )
        return Decision(True, "channel is on the allowlist")

    def may_decide(self, user_id: str, requester_id: str) -> Decision:
        if not self.approvers:
            return Decision(False, "No one can approve requests: CHIME_APPROVERS is empty.")
        if user_id not in self.approvers:
            return Decision(
                False, "Only the approvers listed in CHIME_APPROVERS can decide on Chime requests."
            )
        if user_id == requester_id:
            return Decision(False, "You filed this request, so someone else has to decide on it.")
        return Decision(True, "approver, and not the requester")

    def may_file(self, requester_id: str) -> Decision:
        """A request is filed only if someone other than its requester could decide on it."""
        if not self.approvers:
            return Decision(
                False,
                "No one could approve it: CHIME_APPROVERS is empty. Nothing was filed; "
                "ask an admin to list the approvers.",
            )
        if self.approvers == {requester_id}:
            return Decision(
                False,
                "You are the only approver in CHIME_APPROVERS, and no one may approve their "
                "own request, so no one could approve it. Nothing was filed; ask an admin to "
                "add a second approver, or someone else to file it.",
            )
        return Decision(True, "an approver other than the requester can decide")

    def is_approver(self, user_id: str) -> Decision:
        if user_id in self.approvers:
            return Decision(True, "listed in CHIME_APPROVERS")
        return Decision(False, "Only the approvers listed in CHIME_APPROVERS can do that.")
