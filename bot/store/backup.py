"""A consistent copy of a SQLite store while the bot runs: SQLite's online backup API.

`sqlite3.Connection.backup` copies the database page by page from inside one read transaction
when it runs in one step (pages=-1, the default); in WAL mode a reader never blocks the bot's
writers and they never disturb it, so the copy is the store as it was at one commit: every
request with the whole trail it had then, never half a write. A plain file copy is not: the
newest commits may still sit in the -wal file beside it, and a copy taken during a checkpoint
can be torn.

The copy is written under a temporary name beside the target, checked (`PRAGMA
integrity_check`), switched to the rollback journal so that it is one self-contained file (the
bot turns WAL back on when it opens it), and only then renamed to the target: a backup that
failed half-way never sits where a restore would look for one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from bot.store.sqlite import BUSY_TIMEOUT_MS


class BackupFailed(Exception):
    """No backup was made; the message says why, for the operator."""


@dataclass(frozen=True, slots=True)
class BackupSummary:
    requests: int
    events: int
    schema_version: int
    size: int  # bytes


def backup_sqlite(source: Path, target: Path) -> BackupSummary:
    """Copy the store at `source` to the new file `target`. BackupFailed if `source` is not a
    store, `target` exists or its directory does not, or the copy fails its check."""
    if not source.is_file():
        raise BackupFailed(f"there is no request store at {source}")
    if target.exists():
        raise BackupFailed(f"{target} already exists: name a new file (a backup never overwrites)")
    if not target.parent.is_dir():
        raise BackupFailed(f"the directory {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial-{secrets.token_hex(4)}")
    try:
        summary = _copy(source, partial)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupFailed(f"backing up {source} failed: {exc}") from exc
    except OSError as exc:
        raise BackupFailed(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        for leftover in (partial, partial.with_name(partial.name + "-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return summary


def _copy(source: Path, partial: Path) -> BackupSummary:
    # Opened read-write as the bot opens it: a read-only connection to a WAL database needs the
    # -shm file to exist already. Nothing here writes to the source.
    with contextlib.closing(sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)) as src:
        if not _is_store(src):
            raise BackupFailed(f"{source} is not a chime-bot request store")
        with contextlib.closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)  # one step: one read transaction, one commit's state
            (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise BackupFailed(f"the copy of {source} failed its integrity check: {verdict}")
            dst.execute("PRAGMA journal_mode = DELETE")
            (requests,) = dst.execute("SELECT count(*) FROM requests").fetchone()
            (events,) = dst.execute("SELECT count(*) FROM audit").fetchone()
            (version,) = dst.execute("PRAGMA user_version").fetchone()
    return BackupSummary(int(requests), int(events), int(version), partial.stat().st_size)


def _is_store(conn: sqlite3.Connection) -> bool:
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError:  # not a database at all
        return False
    return {"requests", "audit"} <= tables
