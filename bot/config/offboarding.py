"""CHIME_OFFBOARDING against where its cards go: a suspension filed or made because a Slack user
was deactivated has no slash command behind it, so no channel of its own; its card can only go
to CHIME_APPROVAL_CHANNEL. Without one, `request` and `suspend` are refused at start-up, naming
both settings, rather than filing requests no one would ever see. Checked by load_settings with
every other problem."""

from __future__ import annotations


def offboarding_problems(mode: str, approval_channel: str | None) -> list[str]:
    """One line when CHIME_OFFBOARDING acts but there is no approval channel to tell."""
    if mode == "off" or approval_channel:
        return []
    return [
        f"CHIME_OFFBOARDING: {mode} needs CHIME_APPROVAL_CHANNEL, the one place its cards can "
        "go (a deactivation has no command channel); set CHIME_APPROVAL_CHANNEL, or "
        "CHIME_OFFBOARDING=off"
    ]
