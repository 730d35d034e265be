"""SQLite backend: one file, WAL mode, every write one `BEGIN IMMEDIATE` transaction.

sqlite3 blocks, so each store owns a single-thread executor and one connection created on that
thread; the event loop only awaits futures. Several store objects or processes may open the same
file: `BEGIN IMMEDIATE` serializes writers (waiting up to the busy timeout rather than failing),
and every state change re-checks the current status inside its transaction, so at most one of
any number of concurrent callers wins a transition.

Audit order. Every audit row is inserted in the transaction of the write that made its event
(filing, a move, an approval, a reminder's outcome, or a recorded event on its own), and writers
are serialized, so its AUTOINCREMENT `seq` is commit order: a request's trail is ordered by `seq`
alone, never by `at` (a caller's clock), and bot/store/trail.py merges the trails by time.

Why one piece: every method is a transaction over the one schema (`_SCHEMA`) and its in-place
upgrade; what each change writes is planned in bot/store/rules.py.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from bot.store.base import (
    DuplicateRequest,
    StoreError,
    StoreNotWritable,
    TooManyOpen,
    Transition,
)
from bot.store.codec import (
    DEDUPE_KEY,
    EVENT_FIELDS,
    REQUEST_RECORD_FIELDS,
    Record,
    dedupe_key,
    encode_approvals,
    event_from_record,
    event_to_record,
    from_record,
    to_record,
)
from bot.store.model import OPEN_STATUSES, AuditEvent, Change, InviteRequest, Status
from bot.store.moves import Move
from bot.store.rules import (
    Plan,
    blocks_new_request,
    filed_event,
    log_event,
    plan_approval,
    plan_move,
    told_event,
)
from bot.store.trail import in_time_order

T = TypeVar("T")

# 2: the reminders table; 3: approvals_required and approvals; 4: requests.batch_id (bulk
# invites); 5: requests.lease_until (the claimer's own lease end); 6: requests.change and
# requests.params (issue 21: what the request does); 7: requests.access_until and
# access_ended_at (time-bound access). Every version upgrades in place by the same steps, so each
# earlier one reaches 7.
SCHEMA_VERSION = 7
BUSY_TIMEOUT_MS = 5000

_OPEN = tuple(sorted(s.value for s in OPEN_STATUSES))
_OPEN_MARKS = ", ".join("?" for _ in _OPEN)

_SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS requests (
        id TEXT PRIMARY KEY NOT NULL,
        email TEXT NOT NULL,
        user_type TEXT NOT NULL,
        reason TEXT NOT NULL,
        account_id TEXT NOT NULL,
        account_name TEXT NOT NULL,
        account_type TEXT NOT NULL,
        requester TEXT NOT NULL,
        origin_channel TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        status TEXT NOT NULL,
        card_channel TEXT,
        card_ts TEXT,
        decided_by TEXT,
        decided_at REAL,
        result TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL,
        dedupe_key TEXT NOT NULL,
        approvals_required INTEGER NOT NULL DEFAULT 1,
        approvals TEXT NOT NULL DEFAULT '[]'
    )
    """,
    # No partial UNIQUE index for "one open request per email+account": whether a pending
    # request still counts depends on the clock (expires_at), which an index cannot see. The
    # check runs inside the filing transaction instead; this index only makes it cheap.
    "CREATE INDEX IF NOT EXISTS requests_dedupe ON requests (dedupe_key, status)",
    "CREATE INDEX IF NOT EXISTS requests_status ON requests (status, created_at)",
    """
    CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS audit_request ON audit (request_id, at, seq)",
    # Append-only is enforced by the file itself, not just by this module's good manners.
    """
    CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END
    """,
    "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)",
    # One row per request whose reminder was ever claimed. `holder` names the live claim;
    # `held_until` is when it lapses (or, after a failed post, when a retry may claim it).
    """
    CREATE TABLE IF NOT EXISTS reminders (
        request_id TEXT PRIMARY KEY NOT NULL,
        holder TEXT,
        held_until REAL NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        sent_at REAL
    )
    """,
)

# Columns added to `requests` after version 1, with their type: ALTER TABLE adds each one a
# store lacks (CREATE TABLE IF NOT EXISTS leaves an old table as it was), then its index. The
# defaults are what every request filed before them had (one approval, none recorded).
_ADDED_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("approvals_required", "INTEGER NOT NULL DEFAULT 1", None),
    ("approvals", "TEXT NOT NULL DEFAULT '[]'", None),
    ("batch_id", "TEXT", "CREATE INDEX IF NOT EXISTS requests_batch ON requests (batch_id)"),
    ("lease_until", "REAL", None),
    # Every row before version 6 is an invite with no parameters, and its dedupe_key is the
    # invite's key (codec.dedupe_key), so it stays valid as it is.
    ("change", "TEXT NOT NULL DEFAULT 'invite'", None),
    ("params", "TEXT NOT NULL DEFAULT '{}'", None),
    # No request before version 7 was time-bound.
    ("access_until", "REAL", None),
    (
        "access_ended_at",
        "REAL",
        "CREATE INDEX IF NOT EXISTS requests_access ON requests (access_until) "
        "WHERE access_until IS NOT NULL AND access_ended_at IS NULL",
    ),
)

_REQUEST_COLUMNS = ", ".join(REQUEST_RECORD_FIELDS)
_REQUEST_MARKS = ", ".join("?" for _ in REQUEST_RECORD_FIELDS)
_EVENT_COLUMNS = ", ".join(EVENT_FIELDS)
_EVENT_MARKS = ", ".join("?" for _ in EVENT_FIELDS)


class SqliteStore:
    """RequestStore on one SQLite file. Create with `await SqliteStore.open(path)`."""

    def __init__(self, path: Path, executor: ThreadPoolExecutor, conn: sqlite3.Connection) -> None:
        self._path = path
        self._executor = executor
        # Only ever touched on the executor's thread (sqlite3 enforces it: check_same_thread).
        self._conn = conn
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> SqliteStore:
        path = Path(path)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chime-store")
        try:
            conn = await asyncio.get_running_loop().run_in_executor(executor, _connect, path)
        except (OSError, sqlite3.Error) as exc:
            executor.shutdown(wait=False)
            raise StoreError(f"cannot open request store {path}: {exc}") from exc
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, executor, conn)

    @property
    def path(self) -> Path:
        return self._path

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def file(
        self, request: InviteRequest, *, now: float, max_open: int | None = None
    ) -> InviteRequest:
        stored, event = await self._run(_file, request, now, max_open)
        log_event(event)
        return stored

    async def get(self, request_id: str) -> InviteRequest | None:
        return await self._run(_select, request_id)

    async def find_open(
        self, email: str, account_id: str, *, now: float, change: Change = Change.INVITE
    ) -> InviteRequest | None:
        return await self._run(_find_open, dedupe_key(email, account_id, change), now)

    async def set_card(self, request_id: str, channel: str, ts: str) -> InviteRequest | None:
        return await self._run(_set_card, request_id, channel, ts)

    async def count_open_by_requester(self, requester: str, *, now: float) -> int:
        return await self._run(_count_open_by_requester, requester, now)

    async def list_batch(self, batch_id: str) -> list[InviteRequest]:
        return await self._run(_select_many, "batch_id = ?", (batch_id,))

    async def transition(self, request_id: str, move: Move) -> Transition:
        outcome, event = await self._run(_change, request_id, partial(plan_move, move=move))
        if event is not None:
            log_event(event)
        return outcome

    async def record_approval(
        self,
        request_id: str,
        *,
        approver: str,
        now: float,
        dropping: Mapping[str, str] | None = None,
    ) -> Transition:
        judge = partial(plan_approval, approver=approver, now=now, dropping=dropping)
        outcome, event = await self._run(_change, request_id, judge)
        if event is not None:
            log_event(event)
        return outcome

    async def list_open(self, *, now: float) -> list[InviteRequest]:
        # `now` is unused: expired-but-pending requests are listed too, callers filter.
        return await self._run(_select_many, "status IN (" + _OPEN_MARKS + ")", _OPEN)

    async def list_by_status(self, status: Status) -> list[InviteRequest]:
        return await self._run(_select_many, "status = ?", (Status(status).value,))

    async def recent_by_requester(self, requester: str, *, limit: int) -> list[InviteRequest]:
        return await self._run(_recent_by_requester, requester, limit)

    async def list_time_bound(self) -> list[InviteRequest]:
        return await self._run(
            _select_many,
            "status = ? AND access_until IS NOT NULL AND access_ended_at IS NULL",
            (Status.APPROVED.value,),
        )

    async def record(self, event: AuditEvent) -> None:
        await self._run(_record, event)
        log_event(event)

    async def audit_trail(self, request_id: str) -> list[AuditEvent]:
        return await self._run(_audit_trail, request_id)

    async def audit_events(
        self, *, since: float | None = None, until: float | None = None
    ) -> list[AuditEvent]:
        return await self._run(_audit_events, since, until)

    async def claim_reminder(
        self, request: InviteRequest, *, now: float, lease: float
    ) -> str | None:
        token = secrets.token_hex(8)
        won = await self._run(_claim_reminder, request.id, token, now, now + lease)
        return token if won else None

    async def reminder_sent(self, request_id: str, event: AuditEvent) -> bool:
        done = await self._run(_reminder_sent, request_id, event)
        if done:
            log_event(event)
        return done

    async def release_reminder(
        self, request_id: str, token: str, *, retry_at: float, event: AuditEvent
    ) -> bool:
        done = await self._run(_release_reminder, request_id, token, retry_at, event)
        if done:
            log_event(event)
        return done

    async def claim_message(self, request_id: str, message: str, *, now: float) -> bool:
        event = told_event(request_id, message, now=now)
        won = await self._run(_claim_message, event)
        if won:
            log_event(event)
        return won

    async def check_writable(self) -> None:
        try:
            await self._run(_touch)
        except StoreError as exc:
            raise StoreNotWritable(f"request store {self._path} is not writable: {exc}") from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            # Queued behind any operation still running, so those finish first.
            await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
        finally:
            self._executor.shutdown(wait=False)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(connection, *args)` on the store's thread, as every method here runs: for the
        modules that read or write the file whole (bot/store/transfer_sqlite.py)."""
        return await self._run(fn, *args)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise StoreError(f"request store {self._path} is closed")
        loop = asyncio.get_running_loop()
        try:
            # If the caller is cancelled the operation still completes on the thread, so a
            # transaction is never left half done; only its answer is lost.
            return await loop.run_in_executor(self._executor, partial(fn, self._conn, *args))
        except sqlite3.Error as exc:
            raise StoreError(f"request store {self._path}: {exc}") from exc


# Everything below runs on the store's executor thread.


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: no implicit transactions; each write says BEGIN IMMEDIATE itself.
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.row_factory = _dict_row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()["journal_mode"]
        if str(mode).lower() != "wal":
            raise StoreError(f"request store {path}: cannot enable WAL mode (got {mode!r})")
        # FULL: a committed approval or audit event survives power loss, not just a crash.
        conn.execute("PRAGMA synchronous = FULL")
        _migrate(conn, path)
    except BaseException:
        conn.close()
        raise
    return conn


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()["user_version"])


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    # Read first so an up-to-date store opens without a write (check_writable reports that).
    if _user_version(conn) == SCHEMA_VERSION:
        return
    with _immediate(conn):
        version = _user_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"request store {path} has schema version {version}; this build knows "
                f"{SCHEMA_VERSION}. Upgrade chime-bot or point CHIME_STORE_URL elsewhere."
            )
        for statement in _SCHEMA:
            conn.execute(statement)
        _add_columns(conn)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _add_columns(conn: sqlite3.Connection) -> None:
    present = {row["name"] for row in conn.execute("PRAGMA table_info(requests)").fetchall()}
    for name, kind, index in _ADDED_COLUMNS:
        if name not in present:
            # Names and types are this module's constants, never input.
            conn.execute(f"ALTER TABLE requests ADD COLUMN {name} {kind}")
        if index is not None:
            conn.execute(index)


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction; takes the write lock up front so it can never deadlock-upgrade."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _select(conn: sqlite3.Connection, request_id: str) -> InviteRequest | None:
    row = conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
    return None if row is None else from_record(row)


def _select_many(
    conn: sqlite3.Connection, where: str, params: tuple[Any, ...]
) -> list[InviteRequest]:
    rows = conn.execute(
        f"SELECT * FROM requests WHERE {where} ORDER BY created_at, id", params
    ).fetchall()
    return [from_record(row) for row in rows]


def _open_for_key(conn: sqlite3.Connection, key: str) -> list[InviteRequest]:
    return _select_many(conn, f"{DEDUPE_KEY} = ? AND status IN ({_OPEN_MARKS})", (key, *_OPEN))


def _find_open(conn: sqlite3.Connection, key: str, now: float) -> InviteRequest | None:
    return next((r for r in _open_for_key(conn, key) if blocks_new_request(r, now)), None)


def _count_open_by_requester(conn: sqlite3.Connection, requester: str, now: float) -> int:
    return len(_open_filings(conn, requester, now))


def _open_filings(conn: sqlite3.Connection, requester: str, now: float) -> set[str]:
    """What fair use counts for `requester`: the `counts_as` of their blocking requests."""
    # Served by the status index: open requests are few, whoever filed them.
    where = f"status IN ({_OPEN_MARKS}) AND requester = ?"
    found = _select_many(conn, where, (*_OPEN, requester))
    return {r.counts_as for r in found if blocks_new_request(r, now)}


def _recent_by_requester(
    conn: sqlite3.Connection, requester: str, limit: int
) -> list[InviteRequest]:
    # No index on requester (adding one would mean a schema version of its own): one person's
    # App Home reads the table once, which at chat-ops sizes (thousands of rows) is quick.
    rows = conn.execute(
        "SELECT * FROM requests WHERE requester = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        (requester, max(0, limit)),
    ).fetchall()
    return [from_record(row) for row in rows]


def _file(
    conn: sqlite3.Connection, request: InviteRequest, now: float, max_open: int | None
) -> tuple[InviteRequest, AuditEvent]:
    stored = replace(request, updated_at=float(now))
    record = to_record(stored)
    event = filed_event(stored, now=now)
    with _immediate(conn):
        # Check and insert under one write lock: no other writer can file in between.
        existing = _find_open(conn, str(record[DEDUPE_KEY]), now)
        if existing is not None:
            raise DuplicateRequest(existing)
        if max_open is not None:
            held = _open_filings(conn, stored.requester, now)
            if stored.counts_as not in held and len(held) >= max_open:
                raise TooManyOpen(len(held))
        try:
            conn.execute(
                f"INSERT INTO requests ({_REQUEST_COLUMNS}) VALUES ({_REQUEST_MARKS})",
                tuple(record[name] for name in REQUEST_RECORD_FIELDS),
            )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"request id {request.id} already exists") from exc
        _insert_event(conn, event)
    return from_record(record), event


def _set_card(
    conn: sqlite3.Connection, request_id: str, channel: str, ts: str
) -> InviteRequest | None:
    with _immediate(conn):
        conn.execute(
            "UPDATE requests SET card_channel = ?, card_ts = ? WHERE id = ?",
            (channel, ts, request_id),
        )
        return _select(conn, request_id)


def _change(
    conn: sqlite3.Connection, request_id: str, judge: Callable[[InviteRequest], Plan | None]
) -> tuple[Transition, AuditEvent | None]:
    """Read, `judge` (rules.plan_move or plan_approval; None: refused) and write the plan, all
    under one write lock."""
    with _immediate(conn):
        current = _select(conn, request_id)
        if current is None:
            return Transition(ok=False, request=None), None
        plan = judge(current)
        if plan is None:
            return Transition(ok=False, request=current), None
        # The deadline needs no condition of its own here: the rules judged it on this very
        # read, under the write lock, and expires_at never changes.
        _conditional_update(conn, current, plan.fields)
        _insert_event(conn, plan.event)
    return Transition(ok=True, request=plan.after), plan.event


def _conditional_update(conn: sqlite3.Connection, current: InviteRequest, fields: Record) -> None:
    # The write carries its own condition, as a DynamoDB UpdateItem would; under BEGIN IMMEDIATE
    # it cannot miss, so a miss means the file is being written without the lock.
    # Column names come from codec.encode_changes' fixed whitelist, never from callers.
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cursor = conn.execute(
        f"UPDATE requests SET {assignments} "
        "WHERE id = ? AND status = ? AND attempts = ? AND approvals = ?",
        (
            *fields.values(),
            current.id,
            current.status.value,
            current.attempts,
            encode_approvals(current.approvals),
        ),
    )
    if cursor.rowcount != 1:
        raise StoreError(f"request {current.id} changed under a write lock")


def _insert_event(conn: sqlite3.Connection, event: AuditEvent) -> None:
    record = event_to_record(event)
    conn.execute(
        f"INSERT INTO audit ({_EVENT_COLUMNS}) VALUES ({_EVENT_MARKS})",
        tuple(record[name] for name in EVENT_FIELDS),
    )


def _record(conn: sqlite3.Connection, event: AuditEvent) -> None:
    with _immediate(conn):
        _insert_event(conn, event)


def _audit_trail(conn: sqlite3.Connection, request_id: str) -> list[AuditEvent]:
    # `seq` alone: it is commit order (bot/store/trail.py), where `at` is only a caller's clock.
    rows = conn.execute(
        f"SELECT {_EVENT_COLUMNS} FROM audit WHERE request_id = ? ORDER BY seq",
        (request_id,),
    ).fetchall()
    return [event_from_record(row) for row in rows]


def _audit_events(
    conn: sqlite3.Connection, since: float | None, until: float | None
) -> list[AuditEvent]:
    # Whole trails of the requests with an event in range: where an event sorts depends on the
    # events before it in its trail (bot/store/trail.py). NULL bounds are open: `? IS NULL`
    # keeps the statement one fixed string.
    rows = conn.execute(
        f"SELECT seq, {_EVENT_COLUMNS} FROM audit WHERE request_id IN (SELECT request_id "
        "FROM audit WHERE (? IS NULL OR at >= ?) AND (? IS NULL OR at < ?)) "
        "ORDER BY request_id, seq",
        (since, since, until, until),
    ).fetchall()
    trails: dict[str, list[tuple[AuditEvent, int]]] = {}
    for row in rows:
        event = event_from_record(row)
        trails.setdefault(event.request_id, []).append((event, int(row["seq"])))
    return in_time_order(trails.values(), since=since, until=until)


def _claim_reminder(
    conn: sqlite3.Connection, request_id: str, token: str, now: float, until: float
) -> bool:
    with _immediate(conn):
        # Checked under the write lock: a decision cannot land between this read and the claim.
        current = _select(conn, request_id)
        if current is None or current.status != Status.PENDING or current.expires_at <= now:
            return False
        cursor = conn.execute(
            "INSERT INTO reminders (request_id, holder, held_until) VALUES (?, ?, ?) "
            "ON CONFLICT (request_id) DO UPDATE SET holder = excluded.holder, "
            "held_until = excluded.held_until WHERE sent_at IS NULL AND held_until <= ?",
            (request_id, token, until, now),
        )
        return cursor.rowcount == 1


def _reminder_sent(conn: sqlite3.Connection, request_id: str, event: AuditEvent) -> bool:
    with _immediate(conn):
        cursor = conn.execute(
            "UPDATE reminders SET sent_at = ?, holder = NULL "
            "WHERE request_id = ? AND sent_at IS NULL",
            (event.at, request_id),
        )
        if cursor.rowcount != 1:
            return False
        _insert_event(conn, event)
        return True


def _release_reminder(
    conn: sqlite3.Connection, request_id: str, token: str, retry_at: float, event: AuditEvent
) -> bool:
    with _immediate(conn):
        cursor = conn.execute(
            "UPDATE reminders SET holder = NULL, held_until = ?, failures = failures + 1 "
            "WHERE request_id = ? AND holder = ? AND sent_at IS NULL",
            (retry_at, request_id, token),
        )
        if cursor.rowcount != 1:
            return False
        _insert_event(conn, event)
        return True


def _claim_message(conn: sqlite3.Connection, event: AuditEvent) -> bool:
    """Insert the "told" event unless its request's trail has one naming the same message: the
    trail itself is the record, and the write lock makes the check and the insert one step."""
    record = event_to_record(event)
    with _immediate(conn):
        told = conn.execute(
            "SELECT 1 FROM audit WHERE request_id = ? AND action = ? AND detail = ? LIMIT 1",
            (event.request_id, event.action, record["detail"]),
        ).fetchone()
        if told is not None:
            return False
        _insert_event(conn, event)
        return True


def _touch(conn: sqlite3.Connection) -> None:
    # A real committed write: BEGIN IMMEDIATE alone can succeed on a file that rejects pages.
    with _immediate(conn):
        conn.execute(
            "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('last_write_check', ?)",
            (repr(time.time()),),
        )


def schema_of_file(path: Path) -> int:
    """The schema version of an existing store file, read without writing a byte (for `chime-bot
    check`): opened read-only and immutable, so no lock, journal, WAL or shared-memory file is
    made. StoreError if it is not a store this build can use."""
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version:  # a store this module set up: the table serve reads must be there
                conn.execute("SELECT id FROM requests LIMIT 1").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"request store {path}: {exc}") from exc
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"request store {path} has schema version {version}; this build knows "
            f"{SCHEMA_VERSION}. Upgrade chime-bot or point CHIME_STORE_URL elsewhere."
        )
    return version
