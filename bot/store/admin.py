"""DynamoDB: the table's administration. What `chime-bot init-store` creates (key schema, the
status index, TTL), what the IAM policy must allow, how a client is made for a region, and how
AWS's refusals read for an operator (`chime-bot check`, start-up, `init-store`).

The store itself (bot/store/dynamodb.py) checks at start-up, with `schema_problem`, that the
table it is pointed at is one this module made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.aws import CREDENTIAL_CODES, botocore_region
from bot.store.base import StoreError
from bot.store.items import INDEX, RETENTION_SECONDS, TTL_ATTRIBUTE

TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

RUNTIME_ACTIONS = (
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:TransactWriteItems",
)
# `chime-bot audit` reads the whole trail; the bot itself never scans.
AUDIT_ACTIONS = ("dynamodb:Scan",)
INIT_ACTIONS = (
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:DescribeTimeToLive",
)

# What the bot's role needs (first statement), what `chime-bot init-store` needs (second) and
# what `chime-bot audit` needs (third).
# No DeleteItem: nothing here deletes; TTL deletions are made by DynamoDB itself. IAM authorizes
# each action inside a transaction by PutItem/UpdateItem/ConditionCheckItem; TransactWriteItems
# is listed as well for tools that expect it.
IAM_POLICY_TEMPLATE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ChimeBotRequestStore",
                "Effect": "Allow",
                "Action": list(RUNTIME_ACTIONS),
                "Resource": [
                    "arn:aws:dynamodb:<region>:<account-id>:table/<table>",
                    "arn:aws:dynamodb:<region>:<account-id>:table/<table>/index/*",
                ],
            },
            {
                "Sid": "ChimeBotInitStore",
                "Effect": "Allow",
                "Action": list(INIT_ACTIONS),
                "Resource": "arn:aws:dynamodb:<region>:<account-id>:table/<table>",
            },
            {
                "Sid": "ChimeBotAudit",
                "Effect": "Allow",
                "Action": list(AUDIT_ACTIONS),
                "Resource": "arn:aws:dynamodb:<region>:<account-id>:table/<table>",
            },
        ],
    },
    indent=2,
)


def store_url(table: str) -> str:
    return f"dynamodb://{table}"


def resolve_region(region: str | None = None) -> str:
    """`region` (the settings' AWS_REGION, resolved once in load_settings) or botocore's own
    chain; never a guess: a DynamoDB table lives in one region, and the wrong one is a table
    that seems not to exist."""
    found = region or botocore_region()
    if not found:
        raise StoreError(
            "no AWS region: set AWS_REGION (environment or .env), or a region in the AWS profile"
        )
    return found


def make_dynamodb_client(*, region: str, max_pool_connections: int) -> Any:
    """A DynamoDB client; botocore itself honours AWS_ENDPOINT_URL_DYNAMODB when it is set."""
    config = Config(
        region_name=region,
        # Standard mode retries throttling and TransactionInProgress; a retried transaction
        # reuses its ClientRequestToken, so a retry of a write that did land is not applied twice.
        retries={"mode": "standard"},
        max_pool_connections=max_pool_connections,
        connect_timeout=3,
        read_timeout=10,
    )
    return boto3.session.Session().client("dynamodb", config=config)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def explain(exc: BaseException, region: str) -> str:
    """What an AWS refusal means for the operator, and what to do about it."""
    if not isinstance(exc, ClientError):
        return str(exc)
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    if code == "ResourceNotFoundException":
        return (
            f"the table does not exist in region {region} ({message}); "
            "create it with `chime-bot init-store`"
        )
    if code == "AccessDeniedException":
        return (
            f"the bot's AWS identity is not allowed ({code}: {message}); it needs "
            f"{', '.join(RUNTIME_ACTIONS)} on the table and its indexes "
            "(see the IAM policy in docs/security.md, or `chime-bot init-store --print-policy`)"
        )
    if code in CREDENTIAL_CODES:
        return f"AWS rejected the bot's credentials ({code}: {message})"
    return f"{code}: {message}"


def schema_problem(table: Mapping[str, Any]) -> str | None:
    """Why `table` (as DescribeTable tells it) cannot hold chime-bot's items, or None if it
    can."""
    name = table.get("TableName")
    keys = {k["AttributeName"]: k["KeyType"] for k in table.get("KeySchema", [])}
    if keys != {"pk": "HASH", "sk": "RANGE"}:
        return (
            f"table {name} has key schema {keys}, not pk (HASH) + sk (RANGE): it was not "
            "made by `chime-bot init-store`; point CHIME_STORE_URL at another table"
        )
    indexes = {i["IndexName"]: i for i in table.get("GlobalSecondaryIndexes") or []}
    if INDEX not in indexes:
        return f"table {name} has no index {INDEX}: run `chime-bot init-store` on a new table"
    return None


# ---- init-store ----------------------------------------------------------------------------


def init_table(table: str, *, region: str | None = None, client: Any = None) -> list[str]:
    """Create the table (idempotently), wait until it is ACTIVE and enable TTL.

    Synchronous: it is a one-off admin command that waits on DynamoDB anyway. Returns one line
    per step saying what was done or found; raises StoreError with the reason if it cannot.
    `client` is for callers that already have one (it is left open); by default one is made
    for `region` (else botocore's region chain).
    """
    if not TABLE_NAME.fullmatch(table):
        raise ValueError(f"not a DynamoDB table name: {table!r}")
    own = client is None
    if own:
        client = make_dynamodb_client(region=resolve_region(region), max_pool_connections=1)
    where = str(client.meta.region_name)
    try:
        return [
            _ensure_table(client, table, where),
            _wait_active(client, table),
            _ensure_ttl(client, table),
        ]
    except (ClientError, BotoCoreError) as exc:
        raise StoreError(f"init-store {store_url(table)}: {_explain_init(exc, where)}") from exc
    finally:
        if own:
            client.close()


def _ensure_table(client: Any, table: str, region: str) -> str:
    try:
        existing = client.describe_table(TableName=table)["Table"]
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return _create_table(client, table, region)
    problem = schema_problem(existing)
    if problem is not None:
        raise StoreError(problem)
    billing = existing.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    return f"table {table} already exists in {region} ({billing}, index {INDEX})"


def _create_table(client: Any, table: str, region: str) -> str:
    strings = ("pk", "sk", "gsi1pk", "gsi1sk")
    try:
        client.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in strings],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": INDEX,
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    # Keys only: listings re-read the items consistently anyway.
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceInUseException":
            raise
        return f"table {table} is being created by someone else in {region}; waiting for it"
    return f"created table {table} in {region} (on-demand billing, index {INDEX})"


def _wait_active(client: Any, table: str) -> str:
    waiter = client.get_waiter("table_exists")
    waiter.wait(TableName=table, WaiterConfig={"Delay": 2, "MaxAttempts": 150})
    return f"table {table} is ACTIVE"


def _ensure_ttl(client: Any, table: str) -> str:
    described = client.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    status = described.get("TimeToLiveStatus", "DISABLED")
    attribute = described.get("AttributeName")
    if status in ("ENABLED", "ENABLING") and attribute == TTL_ATTRIBUTE:
        return f"TTL already {status.lower()} on attribute {TTL_ATTRIBUTE}"
    if status in ("ENABLED", "ENABLING"):
        # A table has one TTL attribute; changing someone else's choice is not ours to do.
        raise StoreError(
            f"table {table} already expires items by attribute {attribute!r}; chime-bot "
            f"needs {TTL_ATTRIBUTE!r}: use another table"
        )
    client.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
    return (
        f"enabled TTL on attribute {TTL_ATTRIBUTE} (finished requests are deleted about "
        f"{RETENTION_SECONDS // 86_400} days after they close)"
    )


def _explain_init(exc: BaseException, region: str) -> str:
    if isinstance(exc, ClientError) and error_code(exc) == "AccessDeniedException":
        return (
            f"the AWS identity is not allowed ({error_code(exc)}); init-store needs "
            f"{', '.join(INIT_ACTIONS)} on the table"
        )
    return explain(exc, region)
