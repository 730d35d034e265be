"""`chime-bot check`'s AWS side: the credentials (STS), Amazon Chime and the read permissions a
lookup needs, the default account, and the request store with the reads and writes serve makes.
The store is only read, never created or written: check leaves no file or item behind.

Failures are put in an operator's words by bot/aws.py's `explain`, which tells an unreachable
endpoint from refused credentials from a missing IAM action; bot/ops/check.py runs these in order.
"""

from __future__ import annotations

import asyncio
import os
import time
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bot.aws import explain
from bot.aws_clock import AwsClock
from bot.chime.accounts import choose_account
from bot.chime.directory import Directory
from bot.config.settings import Settings
from bot.errors import BotError, ChimeError
from bot.ops.check_result import Check, failed, passed
from bot.store import DynamoStore, StoreError, parse_store_url, store_table
from bot.store.sqlite import SCHEMA_VERSION, schema_of_file

GLOBAL_STS_REGION = "us-east-1"


async def aws_identity(settings: Settings) -> Check:
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
        return failed(name, problem.detail, problem.fix)
    return passed(name, f"resolved to {arn}")


async def chime_access(directory: Directory, endpoint: str) -> Check:
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
            return failed(name, exc.message, exc.hint or problem.fix)
        return failed(name, problem.detail, problem.fix)
    return passed(name, f"reachable at {endpoint}, and chime:ListAccounts is allowed")


async def chime_lookups(client: Any, endpoint: str, chime_ok: bool) -> Check:
    """The other read permissions a lookup needs (ListUsers, GetUser), on a real account.
    CreateUser and InviteUsers cannot be tried without creating someone: see the README."""
    name = "Chime user lookups"
    if not chime_ok:
        return failed(name, "not checked: Amazon Chime failed above", "Fix Amazon Chime first.")
    action = "chime:ListAccounts"
    try:
        accounts = (await client.list_accounts(MaxResults=1)).get("Accounts") or []
        if not accounts:
            return failed(
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
        return failed(name, problem.detail, problem.fix)
    tried = "ListUsers and GetUser" if users else "ListUsers"
    return passed(name, f"{tried} allowed (tried on {account.get('Name', 'an account')})")


async def default_account(settings: Settings, directory: Directory, chime_ok: bool) -> Check:
    name = "Default account"
    if not settings.chime_default_account:
        return passed(name, "not set (optional): invites use --account, or the only account")
    if not chime_ok:
        return failed(name, "not checked: Amazon Chime failed above", "Fix Amazon Chime first.")
    try:
        account = await choose_account(directory, None, settings.chime_default_account)
    except BotError as exc:
        return failed(name, exc.message, exc.hint or "Fix CHIME_DEFAULT_ACCOUNT.")
    return passed(name, f"{account.name} ({account.account_id}, {account.account_type})")


async def request_store(settings: Settings, aws_clock: AwsClock | None = None) -> Check:
    """`aws_clock`, if given, measures this machine's clock against the table's answers."""
    name = "Request store"
    table = store_table(settings.chime_store_url)
    if table is None:
        path = parse_store_url(settings.chime_store_url, data_dir=settings.data_dir())
        return await asyncio.to_thread(_sqlite_store, name, path)
    watch = None if aws_clock is None else partial(aws_clock.watch, source="DynamoDB")
    try:
        store = await DynamoStore.open(table, region=settings.aws_region, watch=watch)
        try:
            await store.check_writable_without_writing()
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
        if isinstance(cause, BotoCoreError | ClientError):
            problem = explain(
                cause,
                service="DynamoDB",
                action="dynamodb:DescribeTable",
                endpoint=f"DynamoDB in {settings.aws_region}",
            )
            if problem.kind != "other":
                return failed(name, problem.detail, problem.fix)
        fix = "Run `chime-bot init-store`, or check AWS_REGION and CHIME_STORE_URL."
        return failed(name, str(exc), fix)
    except Exception as exc:  # never a traceback from check
        return failed(name, f"{type(exc).__name__}: {exc}", "Check CHIME_STORE_URL.")
    return passed(name, f"readable and writable (DynamoDB table {table} in {settings.aws_region})")


def clock_offset(aws_clock: AwsClock) -> Check:
    """This machine's clock against AWS's, as the checks above measured it (bot/aws_clock.py):
    serve on a DynamoDB table decides nothing while it is off by more than the bound."""
    name = "Clock"
    refusal = aws_clock.refusal()
    if refusal is None:
        return passed(name, aws_clock.state())
    if aws_clock.offset is None:
        return failed(
            name,
            "not compared with AWS's: no answer from AWS was measured",
            "Mend the AWS lines above; serve decides nothing until its clock is measured.",
        )
    return failed(
        name,
        aws_clock.state(),
        "Synchronise this machine's clock (NTP: chrony or systemd-timesyncd; on EC2 the Amazon "
        "Time Sync Service, 169.254.169.123). Until then serve refuses approvals, expiry and "
        "reconciliation on it.",
    )


def _sqlite_store(name: str, path: Path) -> Check:
    """The SQLite store judged by reading alone: opening it the way serve does would create
    the file (and its directory) where there was none, or upgrade its schema."""
    fix = "Point CHIME_STORE_URL (sqlite:///path/state.db) at a place this user may write."
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), Path("."))
        if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
            return passed(name, f"no store at {path} yet: serve creates it at first start (SQLite)")
        return failed(name, f"no store at {path}, and serve could not create one there", fix)
    if not path.is_file():
        return failed(name, f"{path} is not a file", fix)
    try:
        version = schema_of_file(path)
    except StoreError as exc:
        return failed(name, str(exc), "Check CHIME_STORE_URL: it should name the bot's store.")
    # serve writes the file and, in WAL mode, the -wal and -shm files beside it.
    if not (os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        return failed(name, f"{path} or its directory is not writable by this user", fix)
    upgrade = f"; serve upgrades it to schema {SCHEMA_VERSION}" if version < SCHEMA_VERSION else ""
    return passed(name, f"readable and writable (SQLite {path}){upgrade}")
