"""`chime-bot backup` as an operator runs it: a real process copying the SQLite store while
another store object on the same file keeps filing and deciding, as a running bot would."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.store import InviteRequest, Move, RequestStore, open_store
from tests.cli import run_cli_async

T0 = 1_700_000_000.0
ACCOUNT = "11111111-2222-3333-4444-555555555555"


def _request(n: int) -> InviteRequest:
    return InviteRequest(
        id="REQ-" + "".join("ABCDEFGHIJ"[int(d)] for d in f"{n:010d}"),
        email=f"person{n}@example.com",
        user_type="PrivateUser",
        reason="new hire",
        account_id=ACCOUNT,
        account_name="Example Corp",
        account_type="EnterpriseLWA",
        requester="U0REQ",
        origin_channel="C0DEMOCHAN",
        created_at=T0 + n,
        expires_at=T0 + n + 86_400,
    )


async def _file_and_deny(store: RequestStore, n: int) -> None:
    """Two writes: the request with its "filed" event, then its decision with its event."""
    request = await store.file(_request(n), now=T0 + n)
    assert (await store.transition(request.id, Move.deny("U0APPROVER", T0 + n + 1))).ok


def _consistent(path: Path) -> tuple[int, int]:
    """Each request in the copy has exactly the trail its status says it had: one commit's
    state, never half of one. Returns (requests, events)."""
    with sqlite3.connect(path) as db:
        (verdict,) = db.execute("PRAGMA integrity_check").fetchone()
        assert verdict == "ok"
        statuses = dict(db.execute("SELECT id, status FROM requests").fetchall())
        trails: dict[str, list[str]] = {}
        for rid, action in db.execute("SELECT request_id, action FROM audit ORDER BY seq"):
            trails.setdefault(rid, []).append(action)
    assert trails.keys() == statuses.keys()
    for rid, status in statuses.items():
        assert trails[rid] == (["filed"] if status == "pending" else ["filed", "denied"])
    return len(statuses), sum(len(t) for t in trails.values())


async def test_a_backup_taken_while_the_bot_writes_is_one_moment_of_the_store(
    tmp_path: Path,
) -> None:
    source = tmp_path / "state.db"
    env = {"CHIME_STORE_URL": f"sqlite:///{source}"}
    store = await open_store(env["CHIME_STORE_URL"], data_dir=tmp_path)
    written = 0
    stop = asyncio.Event()

    async def keep_writing() -> None:
        nonlocal written
        while not stop.is_set():
            await _file_and_deny(store, written)
            written += 1

    # A reader that keeps its snapshot open (an audit run, say) holds checkpoints back: from
    # here on, commits are only in the -wal file, which a copy of state.db alone would miss.
    pinned = sqlite3.connect(source)
    pinned.execute("BEGIN")
    pinned.execute("SELECT count(*) FROM requests").fetchone()
    try:
        for n in range(40):
            await _file_and_deny(store, 10_000 + n)
        writer = asyncio.create_task(keep_writing())
        copies = []
        for i in range(3):
            await asyncio.sleep(0.05)
            before = written
            target = tmp_path / f"backup-{i}.db"
            code, out, err = await run_cli_async(env, "backup", str(target))
            assert code == 0, err
            assert f"Backed up {source} to {target}: " in out and "integrity check ok" in out
            assert written > before, "the bot wrote while the backup ran"
            copies.append((target, before))
        stop.set()
        await writer
    finally:
        await store.close()
        pinned.close()

    for target, before in copies:
        requests, events = _consistent(target)
        # Everything committed before the backup started is in it.
        assert requests >= 40 + before and events >= 2 * (40 + before)
        assert not target.with_name(target.name + "-wal").exists(), "one self-contained file"

    # A copy is a store the bot opens as it is.
    copy = await open_store(f"sqlite:///{copies[0][0]}", data_dir=tmp_path)
    try:
        assert len(await copy.audit_trail(_request(10_000).id)) == 2
        await copy.check_writable()
    finally:
        await copy.close()


async def test_mistakes_get_a_plain_answer_and_leave_nothing_behind(tmp_path: Path) -> None:
    source = tmp_path / "state.db"
    env = {"CHIME_STORE_URL": f"sqlite:///{source}"}

    code, _, err = await run_cli_async(env, "backup", str(tmp_path / "b.db"))
    assert code == 1 and f"there is no request store at {source}" in err
    assert not source.exists(), "a backup never creates the store it copies"

    store = await open_store(env["CHIME_STORE_URL"], data_dir=tmp_path)
    await store.close()
    taken = tmp_path / "taken.db"
    taken.write_text("keep me")
    code, _, err = await run_cli_async(env, "backup", str(taken))
    assert code == 1 and "already exists" in err and taken.read_text() == "keep me"

    code, _, err = await run_cli_async(env, "backup", str(tmp_path / "no" / "dir" / "b.db"))
    assert code == 1 and "does not exist" in err

    not_a_store = tmp_path / "notes.db"
    not_a_store.write_text("not a database")
    code, _, err = await run_cli_async(
        {"CHIME_STORE_URL": f"sqlite:///{not_a_store}"}, "backup", str(tmp_path / "c.db")
    )
    assert code == 1 and "is not a chime-bot request store" in err
    left = await asyncio.to_thread(os.listdir, tmp_path)
    assert sorted(left) == ["notes.db", "state.db", "taken.db"]


async def test_a_dynamodb_store_is_pointed_to_point_in_time_recovery(tmp_path: Path) -> None:
    env = {"CHIME_STORE_URL": "dynamodb://chime-bot", "AWS_REGION": "eu-west-1"}
    code, out, err = await run_cli_async(env, "backup", str(tmp_path / "b.db"))
    assert code == 2 and out == ""
    assert "DynamoDB table chime-bot" in err and "point-in-time recovery" in err
    assert "update-continuous-backups --table-name chime-bot" in err
    assert not (tmp_path / "b.db").exists()


def test_help_says_what_it_does() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "backup", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "online backup API" in result.stdout and "point-in-time recovery" in result.stdout
