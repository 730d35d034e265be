"""SQLite: the whole store read out, and one request with its trail written in, for
`chime-bot migrate-store` (bot/store/transfer.py says what is read and written).

Written rows keep their trail's order and their place among every request's events: each audit
row gets `seq` = its rank in the source's order of writing (bot/store/trail.py orders a trail by
`seq` alone, and events of the same instant across requests by it). Rows the bot writes later
number after them, as AUTOINCREMENT continues from the largest `seq`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from bot.store.base import StoreError
from bot.store.codec import (
    EVENT_FIELDS,
    REQUEST_RECORD_FIELDS,
    event_from_record,
    event_to_record,
    from_record,
    to_record,
)
from bot.store.model import AuditEvent
from bot.store.sqlite import SqliteStore
from bot.store.transfer import Exported, Written, sequence_order

_REQUEST_COLUMNS = ", ".join(REQUEST_RECORD_FIELDS)
_REQUEST_MARKS = ", ".join("?" for _ in REQUEST_RECORD_FIELDS)
_AUDIT_COLUMNS = ", ".join(("seq", *EVENT_FIELDS))
_AUDIT_MARKS = ", ".join("?" for _ in ("seq", *EVENT_FIELDS))


class SqliteTransfer:
    def __init__(self, store: SqliteStore) -> None:
        self.store = store

    async def export(self) -> list[Exported]:
        return await self.store.run(_export)

    async def put(self, exported: Exported, *, now: float) -> bool:
        # `now` is not needed: SQLite finds the open request of an (email, account) by scanning.
        return await self.store.run(_put, exported)

    def holds(self, exported: Exported, present: Exported | None) -> bool:
        # One transaction wrote the request and its trail: either is there only with the other.
        return present is not None and (exported.request is None or present.request is not None)


def _export(conn: sqlite3.Connection) -> list[Exported]:
    # One read transaction, so the requests and the trails are one moment's state.
    with _transaction(conn, "BEGIN"):
        requests = {
            str(row["id"]): from_record(row)
            for row in conn.execute("SELECT * FROM requests").fetchall()
        }
        trails: dict[str, list[Written]] = {}
        rows = conn.execute(
            f"SELECT seq, {', '.join(EVENT_FIELDS)} FROM audit ORDER BY request_id, seq"
        ).fetchall()
        reminded = {
            str(row["request_id"]): float(row["sent_at"])
            for row in conn.execute(
                "SELECT request_id, sent_at FROM reminders WHERE sent_at IS NOT NULL"
            ).fetchall()
        }
    for row in rows:
        event = event_from_record(row)
        trails.setdefault(event.request_id, []).append(
            Written(event, sequence_order(int(row["seq"])))
        )
    return [
        Exported(
            rid,
            requests.get(rid),
            tuple(trails.get(rid, ())),
            reminded.get(rid) if rid in requests else None,
        )
        for rid in sorted(requests.keys() | trails.keys())
    ]


def _put(conn: sqlite3.Connection, exported: Exported) -> bool:
    rid = exported.request_id
    with _transaction(conn, "BEGIN IMMEDIATE"):
        if exported.request is not None:
            if conn.execute("SELECT 1 FROM requests WHERE id = ?", (rid,)).fetchone():
                return False
            record = to_record(exported.request)
            conn.execute(
                f"INSERT INTO requests ({_REQUEST_COLUMNS}) VALUES ({_REQUEST_MARKS})",
                tuple(record[name] for name in REQUEST_RECORD_FIELDS),
            )
            if exported.reminded_at is not None:
                conn.execute(
                    "INSERT INTO reminders (request_id, held_until, sent_at) VALUES (?, ?, ?)",
                    (rid, exported.reminded_at, exported.reminded_at),
                )
        elif conn.execute("SELECT 1 FROM audit WHERE request_id = ?", (rid,)).fetchone():
            return False
        for written in exported.trail:
            try:
                _insert_event(conn, written.rank, written.event)
            except sqlite3.IntegrityError:
                # The rank is taken: the source is no longer the one an earlier run copied from.
                raise StoreError(
                    f"{rid}: the destination already holds an audit event in the place this "
                    "one takes; the source changed since the run that started this copy "
                    "(was the bot running on it?). Copy into a new store."
                ) from None
    return True


def _insert_event(conn: sqlite3.Connection, seq: int, event: AuditEvent) -> None:
    record = event_to_record(event)
    conn.execute(
        f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES ({_AUDIT_MARKS})",
        (seq, *(record[name] for name in EVENT_FIELDS)),
    )


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[None]:
    conn.execute(begin)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
