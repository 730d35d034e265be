"""`chime-bot check`'s Slack side: the bot token, how requests are verified, the approver
groups read as serve reads them, and whether approval cards can be posted where they go.

Each function is one check (or one per group or channel) that names the real cause of a failure
with the fix that fits it; bot/ops/check.py runs them in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config.settings import ConfigError, Settings
from bot.ops.check_result import Check, failed, passed
from bot.policy.approvers import ApproversUnknown, slack_fetch
from bot.policy.authz import Policy
from bot.policy.effective import Policies
from bot.slack.grid import groups_team

# auth.test's answers for a token Slack will not accept (api.slack.com/methods/auth.test).
REFUSED_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
NEW_TOKEN_FIX = (
    "Reinstall the app to the workspace and copy the Bot User OAuth Token (xoxb-...) from "
    "OAuth & Permissions into SLACK_BOT_TOKEN."
)
MAX_CHANNELS = 20  # channels checked for posting when cards go to each request's channel


def slack_client(settings: Settings) -> AsyncWebClient | None:
    token = settings.slack_bot_token.get_secret_value().strip() if settings.slack_bot_token else ""
    return AsyncWebClient(token=token, base_url=settings.slack_api_url) if token else None


async def slack_token(settings: Settings, slack: AsyncWebClient | None) -> Check:
    name = "Slack bot token"
    if slack is None:
        return failed(name, "SLACK_BOT_TOKEN is not set", NEW_TOKEN_FIX)
    try:
        resp = await slack.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in REFUSED_TOKEN:
            return failed(name, f"Slack refused the token ({error})", NEW_TOKEN_FIX)
        return failed(name, f"auth.test said {error}", "See Slack's auth.test reference.")
    except Exception as exc:  # aiohttp, DNS and TLS errors come in many types
        return failed(
            name,
            f"could not reach Slack at {settings.slack_api_url} ({type(exc).__name__})",
            f"Check network access (firewall, proxy) to {settings.slack_api_url}, and "
            "SLACK_API_URL.",
        )
    return passed(name, f"works for team {resp.get('team')} as @{resp.get('user')}")


async def request_verification(settings: Settings, socket: bool) -> Check:
    if socket:
        token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
        if token.strip().startswith("xapp-"):
            return passed("Socket Mode token", "SLACK_APP_TOKEN is an app-level token")
        return failed(
            "Socket Mode token",
            "SLACK_APP_TOKEN is missing or not xapp-...",
            "Basic Information > App-Level Tokens: create one with connections:write.",
        )
    if settings.slack_signing_secret and settings.slack_signing_secret.get_secret_value().strip():
        return passed("Signing secret", "set; every request's signature will be verified")
    return failed(
        "Signing secret",
        "SLACK_SIGNING_SECRET is not set",
        "Copy it from Basic Information > App Credentials.",
    )


async def approver_groups(settings: Settings, slack: AsyncWebClient | None) -> list[Check]:
    """Each user group named anywhere (CHIME_APPROVERS, the policy file's default section and
    entries) read as serve reads it; without a policy file, then who can approve now."""
    policy = Policy.from_settings(settings)
    groups = sorted(policy.approver_groups | _file_groups(settings))
    if not groups:
        return []
    if slack is None:
        return [
            failed(
                f"Approver group {g}", "not checked: the bot token failed above", "Fix it first."
            )
            for g in groups
        ]
    team = await groups_team_of(settings, slack)
    fetch = slack_fetch(slack, team=lambda: team)
    checks: list[Check] = []
    members: set[str] = set()
    for group in groups:
        try:
            found = await fetch(group)
        except ApproversUnknown as exc:
            fix = exc.hint or "See the message above."
            checks.append(failed(f"Approver group {group}", exc.reason, fix))
            continue
        if group in policy.approver_groups:
            members |= found
        listed = ", ".join(sorted(found)) or "no members: it adds no approver"
        checks.append(passed(f"Approver group {group}", listed))
    if settings.chime_policy_file or not policy.approver_groups:
        return checks  # each account's policy line counts its own approvers
    if all(c.ok for c in checks):
        checks.append(_approvers_now(policy.with_members(frozenset(members)), settings))
    return checks


def _file_groups(settings: Settings) -> frozenset[str]:
    """The user groups the policy file names (a file gone bad since it was loaded names none
    here: its own check line reports it)."""
    if not settings.chime_policy_file:
        return frozenset()
    try:
        return Policies.from_settings(settings).groups()
    except ConfigError:
        return frozenset()


def _approvers_now(policy: Policy, settings: Settings) -> Check:
    everyone = sorted(policy.approvers)
    required = settings.chime_approvals_required
    if len(everyone) >= required:
        return passed("Approvers now", ", ".join(everyone))
    who = ", ".join(everyone) or "no one"
    return failed(
        "Approvers now",
        f"{who}: fewer than CHIME_APPROVALS_REQUIRED ({required}), so no invite can be approved",
        "Add people to the approver groups or to CHIME_APPROVERS, or lower "
        "CHIME_APPROVALS_REQUIRED.",
    )


async def posting(settings: Settings, slack: AsyncWebClient | None) -> list[Check]:
    """Can the bot post approval cards where they will go? A private channel needs the bot
    invited; a public one needs membership or chat:write.public."""
    if settings.chime_approval_channel:
        channels: tuple[str, ...] = (settings.chime_approval_channel,)
    else:
        channels = _request_channels(settings)[:MAX_CHANNELS]
    if not channels:
        return []
    if slack is None:
        return [
            failed(f"Post in {c}", "not checked: the bot token failed above", "Fix it first.")
            for c in channels
        ]
    return list(await asyncio.gather(*(_can_post(slack, channel) for channel in channels)))


def _request_channels(settings: Settings) -> tuple[str, ...]:
    """Where /chime may run, as the bot's channel gate has it: with a policy file, every
    account's channels (the file's check reports a file gone bad since it was loaded)."""
    try:
        return tuple(Policies.from_settings(settings).channels_listed())
    except ConfigError:
        return settings.chime_allowed_channels


async def _can_post(slack: AsyncWebClient, channel: str) -> Check:
    name = f"Post in {channel}"
    invite = f"Invite the bot in Slack: /invite @chime-bot in that channel ({channel})."
    try:
        resp = await slack.conversations_info(channel=channel)
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error == "channel_not_found":
            # Slack answers this both for an ID that does not exist and for a private channel
            # the bot is not in (it cannot see those): either way, cards cannot be posted.
            return failed(
                name,
                "no such channel that the bot can see (private channels are visible to the "
                "bot only once it is a member)",
                f"If it is private: {invite} Otherwise check the channel ID.",
            )
        if error == "missing_scope":
            needed = exc.response.get("needed") or "channels:read, groups:read"
            return failed(
                name,
                f"cannot tell: the app lacks {needed}",
                "Add channels:read and groups:read to the app's bot scopes (manifest.yml) and "
                "reinstall it.",
            )
        return failed(name, f"conversations.info said {error}", "See the message above.")
    except Exception as exc:  # network errors come in many types
        return failed(
            name, f"could not reach Slack ({type(exc).__name__})", "Check network access."
        )
    return _judge_channel(name, resp.get("channel") or {}, _scopes(resp.headers), invite)


def _judge_channel(
    name: str, info: dict[str, Any], scopes: frozenset[str] | None, invite: str
) -> Check:
    label = f"#{info['name']}" if info.get("name") else "the channel"
    if info.get("is_archived"):
        return failed(name, f"{label} is archived", "Unarchive it, or choose another channel.")
    private = bool(info.get("is_private") or info.get("is_group"))
    if info.get("is_member"):
        return passed(name, f"{label} ({'private' if private else 'public'}): the bot is a member")
    if private:
        return failed(name, f"{label} is private and the bot is not a member", invite)
    if scopes is not None and "chat:write.public" not in scopes:
        return failed(
            name,
            f"{label} is public, the bot is not a member and lacks chat:write.public",
            f"{invite} Or add chat:write.public to the app's scopes and reinstall it.",
        )
    return passed(name, f"{label} (public): the bot posts there with chat:write.public")


def _scopes(headers: Any) -> frozenset[str] | None:
    """The token's scopes from Slack's X-OAuth-Scopes response header; None if absent."""
    found = {str(k).lower(): v for k, v in dict(headers or {}).items()}.get("x-oauth-scopes")
    if found is None:
        return None
    text = found[0] if isinstance(found, list) else str(found)
    return frozenset(s.strip() for s in text.split(",") if s.strip())


async def groups_team_of(settings: Settings, slack: AsyncWebClient) -> str | None:
    """The `team_id` serve names on usergroups.users.list with this token (bot/slack/grid.py):
    None for a workspace token, or when auth.test fails (the token check above says why)."""
    try:
        resp = await slack.auth_test()
    except Exception:  # reported by `slack_token`; the group checks then show Slack's answer
        return None
    data = resp.data if isinstance(resp.data, dict) else {}
    return groups_team(data, settings.slack_groups_team_id)


OFFBOARDING_SCOPES = ("users:read", "users:read.email")
_OFFBOARDING_DOES = {
    "off": "changes nothing in Chime",
    "request": "files a suspension request",
    "suspend": "suspends the Chime user at once",
}


async def offboarding(settings: Settings, slack: AsyncWebClient | None) -> Check:
    """CHIME_OFFBOARDING, and whether the token has the scopes it reads a deactivation with:
    users:read for the user_change event, users:read.email for the address in it (without it
    the event carries none, and nothing can be done). Fails only when the mode acts."""
    name, mode = "Offboarding", settings.chime_offboarding
    acts = mode != "off"
    said = f"{mode}: a Slack deactivation {_OFFBOARDING_DOES[mode]}"
    if slack is None:
        if not acts:
            return passed(name, f"{said}; scopes not checked: the bot token failed above")
        return failed(name, f"{said}; scopes not checked: the bot token failed above", "Fix it.")
    try:
        scopes = _scopes((await slack.auth_test()).headers)
    except Exception:  # the token's own line says what Slack answered
        scopes = None
    if scopes is None:
        return passed(name, f"{said}; Slack did not list the token's scopes")
    missing = [s for s in OFFBOARDING_SCOPES if s not in scopes]
    if not missing:
        return passed(name, f"{said}; users:read and users:read.email granted")
    lacking = f"{said}; the token lacks {', '.join(missing)}"
    if not acts:
        return passed(name, lacking)
    return failed(
        name,
        lacking + ": deactivations would go unseen or carry no email",
        "Add users:read and users:read.email to the app's bot scopes (manifest.yml) and "
        "reinstall it, or set CHIME_OFFBOARDING=off.",
    )
