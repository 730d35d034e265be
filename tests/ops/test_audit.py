"""`chime-bot audit` as an operator runs it: a real process reading either store."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.ops.audit import parse_time
from bot.store import (
    AuditEvent,
    Change,
    InviteRequest,
    Move,
    RequestStore,
    Status,
    open_store,
)
from tests.cli import run_cli_async

if TYPE_CHECKING:
    from tests.dynamo import MotoDynamo

pytest_plugins = ("tests.dynamo",)

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
AUDIT_DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"
ACCOUNT = "11111111-2222-3333-4444-555555555555"


@dataclass
class Trail:
    env: dict[str, str]
    ids: dict[str, str]  # ada, bob, carol -> request ID


def _request(rid: str, email: str, requester: str, at: float, reason: str = "") -> InviteRequest:
    return InviteRequest(
        id=rid,
        email=email,
        user_type="PrivateUser",
        reason=reason,
        account_id=ACCOUNT,
        account_name="Example Corp",
        account_type="EnterpriseLWA",
        requester=requester,
        origin_channel="C0DEMOCHAN",
        created_at=at,
        expires_at=at + 86_400,
    )


async def _decide(store: RequestStore, rid: str, to: Status, approver: str, at: float) -> None:
    decide = Move.claim_approval if to == Status.APPROVING else Move.deny
    moved = await store.transition(rid, decide(approver, at))
    assert moved.ok


async def _fill(store: RequestStore) -> dict[str, str]:
    """ada: filed by U0REQ1, approved by U0APPROVER1; bob: filed by U0REQ2, denied by
    U0APPROVER2; carol: filed by U0REQ1 a day later, still pending."""
    ids = {"ada": "REQ-ADAADAADA2", "bob": "REQ-BOBBOBBOB2", "carol": "REQ-CAROLCAROL"}
    await store.file(_request(ids["ada"], "ada@example.com", "U0REQ1", T0, "new hire"), now=T0)
    await store.file(_request(ids["bob"], "bob@example.com", "U0REQ2", T0 + 60), now=T0 + 60)
    await _decide(store, ids["ada"], Status.APPROVING, "U0APPROVER1", T0 + 120)
    done = await store.transition(
        ids["ada"], Move.finish(Status.APPROVED, "system", T0 + 121, result={"user_id": "u-1"})
    )
    assert done.ok
    await _decide(store, ids["bob"], Status.DENIED, "U0APPROVER2", T0 + 180)
    carol = _request(
        ids["carol"], "carol@example.com", "U0REQ1", T0 + 86_400, "\x1b[2Jhidden\u202egpj.exe"
    )
    await store.file(carol, now=T0 + 86_400)
    return ids


@pytest.fixture(params=["sqlite", "dynamodb"])
async def trail(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Trail]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.db'}"
        env = {"CHIME_STORE_URL": url}
    else:
        table = request.getfixturevalue("dynamo_table")
        moto: MotoDynamo = request.getfixturevalue("moto_dynamo")
        url = f"dynamodb://{table}"
        env = {**moto.env(), "CHIME_STORE_URL": url}
    store = await open_store(url, data_dir=tmp_path)
    try:
        ids = await _fill(store)
    finally:
        await store.close()
    yield Trail(env, ids)


async def run_audit(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    return await run_cli_async(env, "audit", *args)


async def _json(env: dict[str, str], *args: str) -> list[dict[str, Any]]:
    code, out, err = await run_audit(env, "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


async def test_the_whole_trail_as_a_table(trail: Trail) -> None:
    code, out, _ = await run_audit(trail.env)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "(UTC)", "REQUEST", "ACTION", "ACTOR", "EMAIL", "DETAIL"]
    body = lines[1:-2]
    assert [line.split()[3] for line in body] == [
        "filed",
        "filed",
        "approve_claimed",
        "approved",
        "denied",
        "filed",
    ]
    assert body[0].startswith("2023-11-14 22:13:20  " + trail.ids["ada"])
    assert "pending -> approving" in body[2] and "U0APPROVER1" in body[2]
    assert body[3].endswith("approving -> approved, user_id=u-1")
    assert lines[-1] == "6 events, 3 requests."
    # A stored escape sequence is shown, never obeyed by the operator's terminal.
    assert "\x1b" not in out and "\\x1b[2Jhidden" in body[-1]
    # So is a format character that would make the line read backwards (U+202E, RIGHT-TO-LEFT
    # OVERRIDE), as in the logs.
    assert "\u202e" not in out and "\\u202egpj.exe" in body[-1]


async def test_filters_each_narrow_to_the_right_requests(trail: Trail) -> None:
    ada, bob, carol = trail.ids["ada"], trail.ids["bob"], trail.ids["carol"]

    async def requests(*args: str) -> list[str]:
        return [line["request_id"] for line in await _json(trail.env, *args)]

    assert await requests("--request", ada) == [ada] * 3
    assert set(await requests("--email", "ADA@Example.com")) == {ada}
    assert set(await requests("--requester", "U0REQ1")) == {ada, carol}
    assert set(await requests("--approver", "U0APPROVER2")) == {bob}
    assert set(await requests("--approver", "U0REQ1")) == set(), "filing is not deciding"
    assert set(await requests("--requester", "U0REQ1", "--email", "carol@example.com")) == {carol}
    # since inclusive, until exclusive, in ISO 8601 (UTC unless an offset is given).
    window = await requests(
        "--since", "2023-11-14T22:14:20Z", "--until", "2023-11-14T23:16:00+01:00"
    )
    assert window == [bob, ada, ada], "bob filed at +60 s, ada decided at +120 s and +121 s"
    assert await requests("--since", "2023-11-15T22:00") == [carol]
    assert await requests("--request", ada, "--until", "2023-11-14T22:15:21") == [ada, ada]


async def test_json_lines_carry_the_request_and_the_event(trail: Trail) -> None:
    lines = await _json(trail.env, "--request", trail.ids["ada"])
    filed, claimed, approved = lines
    assert filed["at"] == "2023-11-14T22:13:20+00:00" and filed["ts"] == T0
    assert filed["email"] == "ada@example.com" and filed["requester"] == "U0REQ1"
    assert filed["detail"]["reason"] == "new hire" and filed["status"] == "approved"
    assert (claimed["actor"], claimed["detail"]["to"]) == ("U0APPROVER1", "approving")
    assert json.loads(approved["detail"]["result"]) == {"user_id": "u-1"}


async def test_a_request_reads_in_the_order_its_steps_took_effect(
    trail: Trail, tmp_path: Path
) -> None:
    # Two replicas: the second stamps the outcome with a clock 10 s behind the first's claim.
    dave = "REQ-DAVEDAVEDA"
    first = await open_store(trail.env["CHIME_STORE_URL"], data_dir=tmp_path)
    second = await open_store(trail.env["CHIME_STORE_URL"], data_dir=tmp_path)
    try:
        await first.file(_request(dave, "dave@example.com", "U0REQ2", T0 + 200), now=T0 + 200)
        await _decide(first, dave, Status.APPROVING, "U0APPROVER1", T0 + 260)
        done = Move.finish(Status.APPROVED, "system", T0 + 250, result={"user_id": "u-4"})
        assert (await second.transition(dave, done)).ok
    finally:
        await first.close()
        await second.close()

    every = await _json(trail.env, "--since", "2023-11-14T22:16:00Z", "--until", "2023-11-15")

    assert [(line["request_id"], line["action"], line["ts"]) for line in every] == [
        (trail.ids["bob"], "denied", T0 + 180),
        (dave, "filed", T0 + 200),
        (dave, "approve_claimed", T0 + 260),
        (dave, "approved", T0 + 250),  # as its clock stamped it, after the claim it ended
    ]


async def test_nothing_matching_says_so(trail: Trail) -> None:
    code, out, _ = await run_audit(trail.env, "--email", "nobody@example.com")
    assert code == 0 and out.strip() == "No audit events match."
    assert await _json(trail.env, "--request", "REQ-NOSUCHREQ2") == []


async def test_bad_options_are_listed_together_with_exit_2(tmp_path: Path) -> None:
    code, out, err = await run_audit(
        {}, "--since", "yesterday", "--until", "2023-13-01", "--approver", "bob"
    )
    assert code == 2 and out == ""
    assert "--since: 'yesterday' is not a time" in err
    assert "--until: '2023-13-01' is not a time" in err
    assert "--approver: not a Slack user ID" in err


async def test_since_after_until_is_refused() -> None:
    code, _, err = await run_audit({}, "--since", "2023-11-15", "--until", "2023-11-14")
    assert code == 2 and "--since: must be before --until" in err


async def test_no_sqlite_store_is_not_created_by_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "state.db"
    code, _, err = await run_audit({"CHIME_STORE_URL": f"sqlite:///{path}"})
    assert code == 1 and f"there is no request store at {path}" in err
    assert not path.exists() and not path.parent.exists()


async def test_a_missing_dynamodb_table_says_how_to_fix_it(moto_dynamo: MotoDynamo) -> None:
    env = {**moto_dynamo.env(), "CHIME_STORE_URL": "dynamodb://chime-no-such-table"}
    code, _, err = await run_audit(env)
    assert code == 1 and "does not exist in region us-east-1" in err
    assert "chime-bot init-store" in err


def test_times_in_every_accepted_form() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_time("24h", now=now) == datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()
    assert parse_time("7d", now=now) == datetime(2026, 11, 16, 12, 0, tzinfo=UTC).timestamp()
    assert parse_time("90m", now=now) == datetime(2026, 11, 23, 10, 30, tzinfo=UTC).timestamp()
    assert parse_time("2026-11-23", now=now) == datetime(2026, 11, 23, tzinfo=UTC).timestamp()
    assert parse_time(" 2026-11-23T10:00Z ", now=now) == now.timestamp() - 7200
    with pytest.raises(ValueError, match="not a time"):
        parse_time("soon", now=now)


async def test_audit_lines_in_the_log_use_request_id_for_the_request(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="chime_bot.audit")
    store = await open_store(f"sqlite:///{tmp_path / 's.db'}", data_dir=tmp_path)
    try:
        await store.record(AuditEvent("REQ-LOGGEDLOGG", T0, "U0X", "refused", {}))
    finally:
        await store.close()
    (line,) = [r for r in caplog.records if r.name == "chime_bot.audit"]
    assert line.request_id == "REQ-LOGGEDLOGG"  # type: ignore[attr-defined]
    assert not hasattr(line, "command_id")


async def test_jsonl_for_a_siem_escapes_control_characters_as_the_logs_do(trail: Trail) -> None:
    code, out, err = await run_audit(trail.env, "--format", "jsonl", "--since", "2023-11-15")
    assert code == 0, err
    (line,) = out.splitlines()
    event = json.loads(line)
    # Decoded, the reason holds the escape as visible text, never the control character.
    assert event["detail"]["reason"] == "\\x1b[2Jhidden\\u202egpj.exe"
    assert not any(ch in line for ch in "\x1b\u202e")
    assert sorted(event) == [
        "account",
        "action",
        "actor",
        "at",
        "change",
        "detail",
        "email",
        "request_id",
        "requester",
        "status",
        "ts",
    ]
    assert (event["action"], event["status"], event["account"]) == (
        "filed",
        "pending",
        "Example Corp",
    )
    # --json is the same output.
    assert await _json(trail.env, "--since", "2023-11-15") == [event]


async def test_every_jsonl_field_is_documented(trail: Trail) -> None:
    doc = await asyncio.to_thread(AUDIT_DOC.read_text)
    for line in await _json(trail.env):
        for field in line:
            assert f"| `{field}` |" in doc, field
        assert f"| `{line['action']}` |" in doc, line["action"]
        for key in line["detail"]:
            assert f"`{key}`" in doc, key


def test_a_reader_that_goes_away_ends_the_stream_quietly(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from bot.ops.audit import stream\n"
        "sys.exit(stream((f'{{\"n\": {n}}}' for n in range(100000)), sys.stdout))\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline() == b'{"n": 0}\n'
        proc.stdout.close()  # as `| head -1` does
        err = proc.stderr.read()
    assert proc.returncode == 1 and err == b""


async def test_json_lines_say_which_change_each_request_is(trail: Trail, tmp_path: Path) -> None:
    store = await open_store(trail.env["CHIME_STORE_URL"], data_dir=tmp_path)
    try:
        suspend = replace(
            _request("REQ-SUSPENDADA", "ada@example.com", "U0REQ1", T0 + 300),
            change=Change.SUSPEND,
            params={"user_id": "u-1"},
        )
        await store.file(suspend, now=T0 + 300)
    finally:
        await store.close()

    lines = await _json(trail.env, "--email", "ada@example.com")

    changes = {(line["request_id"], line["action"]): line["change"] for line in lines}
    assert changes == {
        (trail.ids["ada"], "filed"): "invite",
        (trail.ids["ada"], "approve_claimed"): "invite",
        (trail.ids["ada"], "approved"): "invite",
        ("REQ-SUSPENDADA", "filed"): "suspend",
    }
