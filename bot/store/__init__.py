"""Durable request store with an audit trail.

`open_store(settings.chime_store_url, data_dir=settings.data_dir())` gives a RequestStore; the
rest of the bot should depend on that protocol, not on a backend class. `sqlite:///path` keeps
it in one file (one machine); `dynamodb://<table>` in a DynamoDB table several replicas share.
Every change of a request's status is a `Move` (moves.py), planned once for both backends in
rules.py; the audit trail's order (each request's events as they took effect, merged by time)
is trail.py. The DynamoDB backend is dynamodb.py on items.py (layout), table.py (calls) and
admin.py (init-store, IAM); its fair-use cap across replicas is quota.py. Reading a whole store
out and writing it into another (`chime-bot migrate-store`) is transfer.py with one module per
backend; a SQLite backup while the bot runs is backup.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.store.admin import IAM_POLICY_TEMPLATE, TABLE_NAME, init_table
from bot.store.base import (
    DuplicateRequest,
    RequestStore,
    StoreError,
    StoreNotWritable,
    StoreUnanswered,
    TooManyOpen,
    Transition,
)
from bot.store.codec import event_from_record, event_to_record, from_record, to_record
from bot.store.dynamodb import DynamoStore
from bot.store.model import (
    OPEN_STATUSES,
    AuditEvent,
    Change,
    InviteRequest,
    Status,
    new_request_id,
)
from bot.store.moves import Move
from bot.store.sqlite import SqliteStore

__all__ = [
    "IAM_POLICY_TEMPLATE",
    "OPEN_STATUSES",
    "AuditEvent",
    "Change",
    "DuplicateRequest",
    "DynamoStore",
    "InviteRequest",
    "Move",
    "RequestStore",
    "SqliteStore",
    "Status",
    "StoreError",
    "StoreNotWritable",
    "StoreUnanswered",
    "TooManyOpen",
    "Transition",
    "event_from_record",
    "event_to_record",
    "from_record",
    "init_table",
    "new_request_id",
    "open_store",
    "parse_store_url",
    "store_table",
    "to_record",
]

DEFAULT_FILENAME = "state.db"
_SQLITE = "sqlite:///"
_DYNAMODB = "dynamodb://"


def store_table(url: str | None) -> str | None:
    """The DynamoDB table a `dynamodb://<table>` CHIME_STORE_URL names; None for other URLs."""
    text = (url or "").strip()
    if not text.startswith(_DYNAMODB):
        return None
    table = text[len(_DYNAMODB) :]
    if not TABLE_NAME.fullmatch(table):
        # Table names are 3-255 of A-Z a-z 0-9 _ . - (no region or options in the URL: the
        # region comes from AWS_REGION, the endpoint from AWS_ENDPOINT_URL_DYNAMODB).
        raise ValueError(_bad_url(text))
    return table


def parse_store_url(url: str | None, *, data_dir: Path) -> Path:
    """The SQLite file a CHIME_STORE_URL names; ValueError for anything this build cannot open.

    Like SQLAlchemy, `sqlite:///state.db` is relative to the working directory and
    `sqlite:////var/lib/chime-bot/state.db` is absolute.
    """
    text = (url or "").strip()
    if not text:
        return data_dir / DEFAULT_FILENAME
    if text.startswith(_DYNAMODB):
        raise ValueError(f"CHIME_STORE_URL {text!r} names a DynamoDB table, not a SQLite file")
    if not text.startswith(_SQLITE):
        raise ValueError(_bad_url(text))
    path = text[len(_SQLITE) :]
    if not path or path.endswith("/") or path == ":memory:" or "?" in path:
        # In-memory databases are per connection, so two processes could not share one.
        raise ValueError(_bad_url(text))
    return Path(path).expanduser()


async def open_store(
    url: str | None,
    *,
    data_dir: Path,
    region: str | None = None,
    watch: Callable[[Any], None] | None = None,
) -> RequestStore:
    """`region` is the settings' resolved AWS region (None: botocore's chain decides);
    `watch` sees a DynamoDB client's event system before its first call (DynamoStore.open)."""
    table = store_table(url)
    if table is not None:
        return await DynamoStore.open(table, region=region, watch=watch)
    return await SqliteStore.open(parse_store_url(url, data_dir=data_dir))


def _bad_url(text: str) -> str:
    return f"CHIME_STORE_URL {text!r}: expected sqlite:///path/state.db or dynamodb://<table>"
