"""`chime-bot check`: is every credential, permission and setting right, before going live?

Each check is independent and names the real cause of a failure with the fix that fits it, so
one run shows everything to mend. Settings were validated before (bot/config/settings.py), by the
same code `serve` runs, so check can never pass a value serve would refuse. Optional settings that
are unset are a note (✓), never a failure.

One module because every check shares one result type, one rendering and the order in which
earlier failures make later checks moot; each check is a small function.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.aws import explain
from bot.chime import Calls, Directory, RetryPolicy, chime_client, choose_account
from bot.config.settings import ConfigError, Settings, load_settings
from bot.errors import BotError, ChimeError
from bot.ops.policy_report import policy_results
from bot.policy.approvers import ApproversUnknown, slack_fetch
from bot.policy.authz import Policy
from bot.policy.effective import Policies
from bot.store import StoreError, open_store, store_table

# auth.test's answers for a token Slack will not accept (api.slack.com/methods/auth.test).
REFUSED_TOKEN = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)
NEW_TOKEN_FIX = (
    "Reinstall the app to the workspace and copy the Bot User OAuth Token (xoxb-...) from "
    "OAuth & Permissions into SLACK_BOT_TOKEN."
)
# A check answers quickly: a short retry budget for Chime, whatever serve would use.
CHECK_RETRY_BUDGET = 5.0
GLOBAL_STS_REGION = "us-east-1"
MAX_CHANNELS = 20  # channels checked for posting when cards go to each request's channel


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
    region = settings.aws_region
    results = [_ok("Settings", f"all values valid (AWS region: {region or 'none set'})")]
    slack = _slack_client(settings)
    token = await _slack_token(settings, slack)
    results.append(token)
    results.append(await _request_verification(settings, socket))
    results.append(await _aws_identity(settings))
    async with chime_client(max_pool_connections=2) as client:
        calls = Calls(
            limit=asyncio.Semaphore(2),
            retry=RetryPolicy(budget=min(CHECK_RETRY_BUDGET, settings.chime_retry_budget)),
        )
        directory = Directory(client=client, calls=calls)
        endpoint = str(client.meta.endpoint_url)
        chime = await _chime(directory, endpoint)
        results.append(chime)
        results.append(await _default_account(settings, directory, chime.ok))
        results.append(await _chime_lookups(client, endpoint, chime.ok))
        file_results = await policy_results(
            settings, directory, chime.ok, slack if token.ok else None
        )
    results += _policy(settings)
    results += [Check(*result) for result in file_results]
    results += await _approver_groups(settings, slack if token.ok else None)
    results += await _posting(settings, slack if token.ok else None)
    results.append(await _store(settings))
    return results


def _slack_client(settings: Settings) -> AsyncWebClient | None:
    token = settings.slack_bot_token.get_secret_value().strip() if settings.slack_bot_token else ""
    return AsyncWebClient(token=token, base_url=settings.slack_api_url) if token else None


async def _slack_token(settings: Settings, slack: AsyncWebClient | None) -> Check:
    name = "Slack bot token"
    if slack is None:
        return _bad(name, "SLACK_BOT_TOKEN is not set", NEW_TOKEN_FIX)
    try:
        resp = await slack.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        if error in REFUSED_TOKEN:
            return _bad(name, f"Slack refused the token ({error})", NEW_TOKEN_FIX)
        return _bad(name, f"auth.test said {error}", "See Slack's auth.test reference.")
    except Exception as exc:  # aiohttp, DNS and TLS errors come in many types
        return _bad(
            name,
            f"could not reach Slack at {settings.slack_api_url} ({type(exc).__name__})",
            f"Check network access (firewall, proxy) to {settings.slack_api_url}, and "
            "SLACK_API_URL.",
        )
    return _ok(name, f"works for team {resp.get('team')} as @{resp.get('user')}")


async def _request_verification(settings: Settings, socket: bool) -> Check:
    if socket:
        token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
        if token.strip().startswith("xapp-"):
            return _ok("Socket Mode token", "SLACK_APP_TOKEN is an app-level token")
        return _bad(
            "Socket Mode token",
            "SLACK_APP_TOKEN is missing or not xapp-...",
            "Basic Information > App-Level Tokens: create one with connections:write.",
        )
    if settings.slack_signing_secret and settings.slack_signing_secret.get_secret_value().strip():
        return _ok("Signing secret", "set; every request's signature will be verified")
    return _bad(
        "Signing secret",
        "SLACK_SIGNING_SECRET is not set",
        "Copy it from Basic Information > App Credentials.",
    )


async def _aws_identity(settings: Settings) -> Check:
    name = "AWS credentials"
    endpoint = "STS"

    def whoami() -> str:
        nonlocal endpoint
        # No region: STS's global endpoint, which signs for us-east-1. botocore picks it itself,
        # but not when AWS_ENDPOINT_URL_STS overrides the URL, so say it for both cases.
        region = settings.aws_region or GLOBAL_STS_REGION
        sts = boto3.session.Session().client("sts", region_name=region)
        endpoint = str(sts.meta.endpoint_url)
        try:
            return str(sts.get_caller_identity()["Arn"])
        finally:
            sts.close()

    try:
        arn = await asyncio.to_thread(whoami)
    except (BotoCoreError, ClientError) as exc:
        problem = explain(exc, service="STS", action="sts:GetCallerIdentity", endpoint=endpoint)
        return _bad(name, problem.detail, problem.fix)
    return _ok(name, f"resolved to {arn}")


async def _chime(directory: Directory, endpoint: str) -> Check:
    name = "Amazon Chime"
    try:
        await directory.ping()
    except ChimeError as exc:
        # The bot's error carries the SDK's own exception: classify that, not the user wording.
        cause: BaseException = exc.__cause__ or exc
        problem = explain(
            cause, service="Amazon Chime", action="chime:ListAccounts", endpoint=endpoint
        )
        if problem.kind == "other" and exc.code:
            return _bad(name, exc.message, exc.hint or problem.fix)
        return _bad(name, problem.detail, problem.fix)
    return _ok(name, f"reachable at {endpoint}, and chime:ListAccounts is allowed")


async def _chime_lookups(client: Any, endpoint: str, chime_ok: bool) -> Check:
    """The other read permissions a lookup needs (ListUsers, GetUser), on a real account.
    CreateUser and InviteUsers cannot be tried without creating someone: see the README."""
    name = "Chime user lookups"
    if not chime_ok:
        return _bad(name, "not checked: Amazon Chime failed above", "Fix Amazon Chime first.")
    action = "chime:ListAccounts"
    try:
        accounts = (await client.list_accounts(MaxResults=1)).get("Accounts") or []
        if not accounts:
            return _bad(
                name,
                "the bot's AWS identity sees no Amazon Chime account",
                "Run the bot with an identity in the AWS account that holds the Chime accounts.",
            )
        account = accounts[0]
        action = "chime:ListUsers"
        users = (await client.list_users(AccountId=account["AccountId"], MaxResults=1)).get(
            "Users"
        ) or []
        if users:
            action = "chime:GetUser"
            await client.get_user(AccountId=account["AccountId"], UserId=users[0]["UserId"])
    except (BotoCoreError, ClientError) as exc:
        problem = explain(exc, service="Amazon Chime", action=action, endpoint=endpoint)
        return _bad(name, problem.detail, problem.fix)
    tried = "ListUsers and GetUser" if users else "ListUsers"
    return _ok(name, f"{tried} allowed (tried on {account.get('Name', 'an account')})")


async def _default_account(settings: Settings, directory: Directory, chime_ok: bool) -> Check:
    name = "Default account"
    if not settings.chime_default_account:
        return _ok(name, "not set (optional): invites use --account, or the only account")
    if not chime_ok:
        return _bad(name, "not checked: Amazon Chime failed above", "Fix Amazon Chime first.")
    try:
        account = await choose_account(directory, None, settings.chime_default_account)
    except BotError as exc:
        return _bad(name, exc.message, exc.hint or "Fix CHIME_DEFAULT_ACCOUNT.")
    return _ok(name, f"{account.name} ({account.account_id}, {account.account_type})")


def _policy(settings: Settings) -> list[Check]:
    checks = []
    if settings.chime_policy_file:
        pass  # channels and approvers are per account: the policy lines below show them
    elif settings.chime_allowed_channels:
        checks.append(_ok("Allowed channels", ", ".join(settings.chime_allowed_channels)))
    else:
        # Not optional in practice: with none, the bot refuses every command.
        checks.append(
            _bad(
                "Allowed channels",
                "CHIME_ALLOWED_CHANNELS is empty: /chime is refused everywhere",
                "List the channel IDs where /chime may run.",
            )
        )
    if settings.chime_policy_file:
        pass
    elif settings.chime_approvers:
        checks.append(_ok("Approvers", ", ".join(settings.chime_approvers)))
    else:
        checks.append(
            _ok("Approvers", "not set (optional): lookups work; invites cannot be approved")
        )
    if settings.chime_approval_channel:
        checks.append(_ok("Approval channel", settings.chime_approval_channel))
    else:
        checks.append(
            _ok("Approval channel", "not set (optional): cards go to each request's channel")
        )
    return checks


async def _approver_groups(settings: Settings, slack: AsyncWebClient | None) -> list[Check]:
    """Each user group in CHIME_APPROVERS read as serve reads it, then who can approve now."""
    policy = Policy.from_settings(settings)
    groups = sorted(policy.approver_groups)
    if not groups:
        return []
    if slack is None:
        return [
            _bad(f"Approver group {g}", "not checked: the bot token failed above", "Fix it first.")
            for g in groups
        ]
    fetch = slack_fetch(slack)
    checks: list[Check] = []
    members: set[str] = set()
    for group in groups:
        try:
            found = await fetch(group)
        except ApproversUnknown as exc:
            fix = exc.hint or "See the message above."
            checks.append(_bad(f"Approver group {group}", exc.reason, fix))
            continue
        members |= found
        listed = ", ".join(sorted(found)) or "no members: it adds no approver"
        checks.append(_ok(f"Approver group {group}", listed))
    if all(c.ok for c in checks):
        everyone = sorted(policy.with_members(frozenset(members)).approvers)
        checks.append(
            _ok("Approvers now", ", ".join(everyone) or "no one: invites cannot be approved")
        )
    return checks


async def _posting(settings: Settings, slack: AsyncWebClient | None) -> list[Check]:
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
            _bad(f"Post in {c}", "not checked: the bot token failed above", "Fix it first.")
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
            return _bad(
                name,
                "no such channel that the bot can see (private channels are visible to the "
                "bot only once it is a member)",
                f"If it is private: {invite} Otherwise check the channel ID.",
            )
        if error == "missing_scope":
            needed = exc.response.get("needed") or "channels:read, groups:read"
            return _bad(
                name,
                f"cannot tell: the app lacks {needed}",
                "Add channels:read and groups:read to the app's bot scopes (manifest.yml) and "
                "reinstall it.",
            )
        return _bad(name, f"conversations.info said {error}", "See the message above.")
    except Exception as exc:  # network errors come in many types
        return _bad(name, f"could not reach Slack ({type(exc).__name__})", "Check network access.")
    return _judge_channel(name, resp.get("channel") or {}, _scopes(resp.headers), invite)


def _judge_channel(
    name: str, info: dict[str, Any], scopes: frozenset[str] | None, invite: str
) -> Check:
    label = f"#{info['name']}" if info.get("name") else "the channel"
    if info.get("is_archived"):
        return _bad(name, f"{label} is archived", "Unarchive it, or choose another channel.")
    private = bool(info.get("is_private") or info.get("is_group"))
    if info.get("is_member"):
        return _ok(name, f"{label} ({'private' if private else 'public'}): the bot is a member")
    if private:
        return _bad(name, f"{label} is private and the bot is not a member", invite)
    if scopes is not None and "chat:write.public" not in scopes:
        return _bad(
            name,
            f"{label} is public, the bot is not a member and lacks chat:write.public",
            f"{invite} Or add chat:write.public to the app's scopes and reinstall it.",
        )
    return _ok(name, f"{label} (public): the bot posts there with chat:write.public")


def _scopes(headers: Any) -> frozenset[str] | None:
    """The token's scopes from Slack's X-OAuth-Scopes response header; None if absent."""
    found = {str(k).lower(): v for k, v in dict(headers or {}).items()}.get("x-oauth-scopes")
    if found is None:
        return None
    text = found[0] if isinstance(found, list) else str(found)
    return frozenset(s.strip() for s in text.split(",") if s.strip())


async def _store(settings: Settings) -> Check:
    name = "Request store"
    table = store_table(settings.chime_store_url)
    where = settings.chime_store_url or str(settings.data_dir() / "state.db")
    try:
        store = await open_store(
            settings.chime_store_url, data_dir=settings.data_dir(), region=settings.aws_region
        )
        try:
            await store.check_writable()
            # The reads serve makes, so a read permission missing shows here rather than at
            # the first click: GetItem, and Query (plus BatchGetItem) for the open requests.
            await store.get("REQ-CHECKCHECK")
            await store.list_open(now=time.time())
        finally:
            await store.close()
    except StoreError as exc:
        cause = exc.__cause__
        while isinstance(cause, StoreError) and cause.__cause__ is not None:
            cause = cause.__cause__
        if table is not None and isinstance(cause, BotoCoreError | ClientError):
            problem = explain(
                cause,
                service="DynamoDB",
                action="dynamodb:DescribeTable",
                endpoint=f"DynamoDB in {settings.aws_region}",
            )
            if problem.kind != "other":
                return _bad(name, problem.detail, problem.fix)
        fix = (
            "Run `chime-bot init-store`, or check AWS_REGION and CHIME_STORE_URL."
            if table is not None
            else "Check CHIME_STORE_URL, and that the bot may write there."
        )
        return _bad(name, str(exc), fix)
    except Exception as exc:  # never a traceback from check
        return _bad(name, f"{type(exc).__name__}: {exc}", "Check CHIME_STORE_URL.")
    kind = f"DynamoDB table {table} in {settings.aws_region}" if table else f"SQLite {where}"
    return _ok(name, f"readable and writable ({kind})")


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
