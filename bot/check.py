"""`chime-bot check`: is every credential, permission and setting right, before going live?

Each check is independent and says how to fix what fails, so one run shows everything to mend.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.accounts import choose_account
from bot.chime import Directory, RetryPolicy, chime_client
from bot.errors import BotError
from bot.settings import ConfigError, Settings, load_settings
from bot.store import open_store


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _ok(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def _bad(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


async def run_checks(settings: Settings | None = None, *, socket_mode: bool = False) -> list[Check]:
    """Every check; `settings` already validated by load_settings (the CLI's path), or read here."""
    if settings is None:
        try:
            settings = load_settings("check")
        except ConfigError as exc:
            return [_bad("Settings", "; ".join(exc.problems), "Fix the values named above.")]
    socket = settings.wants_socket_mode(socket_mode)
    results = [_ok("Settings", "all values parse")]
    results.append(await _slack_token(settings))
    results.append(await _request_verification(settings, socket))
    results.append(await _aws_identity(settings))
    async with chime_client(max_pool_connections=2) as client:
        # A check should answer quickly: a short retry budget, whatever serve would use.
        directory = Directory(
            client=client,
            limit=asyncio.Semaphore(2),
            retry=RetryPolicy(budget=min(5.0, settings.chime_retry_budget)),
        )
        results.append(await _chime(directory))
        results.append(await _default_account(settings, directory))
    results += _policy(settings)
    results.append(await _store(settings))
    return results


async def _slack_token(settings: Settings) -> Check:
    name = "Slack bot token"
    if settings.slack_bot_token is None:
        return _bad(
            name,
            "SLACK_BOT_TOKEN is not set",
            "Copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions.",
        )
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    try:
        resp = await client.auth_test()
    except SlackApiError as exc:
        return _bad(
            name,
            f"auth.test said {exc.response.get('error')}",
            "Reinstall the app to the workspace and copy the new bot token.",
        )
    except Exception as exc:  # network errors come in many types
        return _bad(
            name,
            f"could not reach Slack ({type(exc).__name__})",
            f"Check network access to {settings.slack_api_url}.",
        )
    return _ok(name, f"works for team {resp.get('team')} as @{resp.get('user')}")


async def _request_verification(settings: Settings, socket: bool) -> Check:
    if socket:
        token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
        if token.startswith("xapp-"):
            return _ok("Socket Mode token", "SLACK_APP_TOKEN is an app-level token")
        return _bad(
            "Socket Mode token",
            "SLACK_APP_TOKEN is missing or not xapp-...",
            "Basic Information > App-Level Tokens: create one with connections:write.",
        )
    if settings.slack_signing_secret and settings.slack_signing_secret.get_secret_value():
        return _ok("Signing secret", "set; every request's signature will be verified")
    return _bad(
        "Signing secret",
        "SLACK_SIGNING_SECRET is not set",
        "Copy it from Basic Information > App Credentials.",
    )


async def _aws_identity(settings: Settings) -> Check:
    name = "AWS credentials"

    def whoami() -> str:
        sts = boto3.session.Session().client("sts", region_name=settings.aws_region)
        return str(sts.get_caller_identity()["Arn"])

    try:
        arn = await asyncio.to_thread(whoami)
    except (BotoCoreError, ClientError) as exc:
        return _bad(
            name,
            f"no usable identity ({type(exc).__name__}: {exc})",
            "Provide credentials the standard way: an IAM role, AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.",
        )
    return _ok(name, f"resolved to {arn}")


async def _chime(directory: Directory) -> Check:
    name = "Amazon Chime"
    try:
        await directory.ping()
    except BotError as exc:
        return _bad(name, exc.message, exc.hint or "Check AWS_ENDPOINT_URL_CHIME and network.")
    return _ok(name, "reachable, and ListAccounts is allowed")


async def _default_account(settings: Settings, directory: Directory) -> Check:
    name = "Default account"
    if not settings.chime_default_account:
        return _ok(name, "not set: invites use --account, or the only account the bot sees")
    try:
        account = await choose_account(directory, None, settings.chime_default_account)
    except BotError as exc:
        return _bad(name, exc.message, exc.hint or "Fix CHIME_DEFAULT_ACCOUNT.")
    return _ok(name, f"{account.name} ({account.account_id}, {account.account_type})")


def _policy(settings: Settings) -> list[Check]:
    checks = []
    if settings.chime_allowed_channels:
        checks.append(_ok("Allowed channels", ", ".join(settings.chime_allowed_channels)))
    else:
        checks.append(
            _bad(
                "Allowed channels",
                "CHIME_ALLOWED_CHANNELS is empty: /chime is refused everywhere",
                "List the channel IDs where /chime may run.",
            )
        )
    if settings.chime_approvers:
        checks.append(_ok("Approvers", ", ".join(settings.chime_approvers)))
    else:
        checks.append(
            _bad(
                "Approvers",
                "CHIME_APPROVERS is empty: no request can be approved",
                "List the Slack user IDs of the approvers.",
            )
        )
    if settings.chime_approval_channel:
        checks.append(_ok("Approval channel", settings.chime_approval_channel))
    else:
        checks.append(
            _bad(
                "Approval channel",
                "CHIME_APPROVAL_CHANNEL is not set: cards go to "
                "whichever channel a request came from",
                "Set it to the channel where approvers work.",
            )
        )
    return checks


async def _store(settings: Settings) -> Check:
    name = "Request store"
    try:
        store = await open_store(
            settings.chime_store_url, data_dir=settings.data_dir(), region=settings.aws_region
        )
        try:
            await store.check_writable()
        finally:
            await store.close()
    except Exception as exc:
        return _bad(
            name,
            f"{type(exc).__name__}: {exc}",
            "Check CHIME_STORE_URL, and that the bot may write there.",
        )
    return _ok(name, f"writable ({settings.chime_store_url or Path('.chime-bot/state.db')})")


def render(results: list[Check]) -> str:
    width = max(len(r.name) for r in results)
    lines = []
    for r in results:
        lines.append(f"{'✓' if r.ok else '✗'} {r.name:<{width}}  {r.detail}")
        if r.fix:
            lines.append(f"  {'':<{width}}  fix: {r.fix}")
    passed = sum(r.ok for r in results)
    lines.append(f"\n{passed} of {len(results)} checks passed.")
    return "\n".join(lines)
