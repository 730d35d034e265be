"""`chime-bot migrate-store --from <url> --to <url>`: copy every request and its whole audit
trail from one store to another (SQLite to DynamoDB, back, or to another of the same kind).

1. Read both stores whole (bot/store/transfer.py). Refuse if the destination holds a request the
   source does not: it is not a copy of this source in progress, and the bot may be using it.
2. Write each request the destination does not hold yet, with its trail, in id order, one line
   each. Each is written so that a later run sees it whole or not at all, so a run that stopped
   (killed, the network gone, the disk full) is resumed by running the same command again, and a
   run after a finished one copies nothing and says so.
3. Read both again and compare: the numbers of requests and of audit events, and every request
   and trail, event by event. Any difference is reported and ends with exit code 1.

Stop the bot (or keep it on the source only) while copying: a change the source takes after
step 1 is not copied, and step 3 reports it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from bot.config.settings import Settings
from bot.store import (
    DynamoStore,
    RequestStore,
    SqliteStore,
    open_store,
    parse_store_url,
    store_table,
)
from bot.store.transfer import Exported, Transfer
from bot.store.transfer_dynamo import DynamoTransfer
from bot.store.transfer_sqlite import SqliteTransfer


class MigrationRefused(Exception):
    """The copy cannot be made (or did not come out equal); the message says why."""


@dataclass(frozen=True, slots=True)
class Totals:
    requests: int
    events: int

    @classmethod
    def of(cls, exported: list[Exported]) -> Totals:
        return cls(
            sum(e.request is not None for e in exported), sum(len(e.trail) for e in exported)
        )

    def __str__(self) -> str:
        return f"{_count(self.requests, 'request')} and {_count(self.events, 'audit event')}"


def transfer_of(store: RequestStore) -> Transfer:
    if isinstance(store, SqliteStore):
        return SqliteTransfer(store)
    if isinstance(store, DynamoStore):
        return DynamoTransfer(store)
    raise TypeError(f"cannot copy a {type(store).__name__}")


async def migrate(
    source: RequestStore,
    destination: RequestStore,
    say: Callable[[str], None],
    *,
    clock: Callable[[], float] = time.time,
) -> Totals:
    """Copy what `destination` lacks, then verify; the totals both hold. MigrationRefused if
    the destination is not this source's copy, or does not come out equal to it."""
    src, dst = transfer_of(source), transfer_of(destination)
    everything = ranked(await src.export())
    present = {e.request_id: e for e in await dst.export()}
    foreign = sorted(present.keys() - {e.request_id for e in everything})
    if foreign:
        raise MigrationRefused(
            f"the destination holds {_count(len(foreign), 'request')} the source does not "
            f"(such as {foreign[0]}): it is not a copy of this source in progress. Migrate "
            "into a new store."
        )
    missing = [e for e in everything if not dst.holds(e, present.get(e.request_id))]
    if not missing:
        say(f"Nothing to copy: the destination already holds all {Totals.of(everything)}.")
    for number, exported in enumerate(missing, 1):
        copied = await dst.put(exported, now=clock())
        what = "copied" if copied else "already there:"
        say(
            f"[{number}/{len(missing)}] {what} {exported.request_id} "
            f"({_count(len(exported.trail), 'audit event')})"
        )
    return await verify(src, dst)


def ranked(exported: list[Exported]) -> list[Exported]:
    """Each event's `rank`: its place among all the source's events in order of writing."""
    places = sorted(
        (written.order, e.request_id, index)
        for e in exported
        for index, written in enumerate(e.trail)
    )
    rank = {(rid, index): place for place, (_, rid, index) in enumerate(places, 1)}
    return [
        replace(
            e,
            trail=tuple(replace(w, rank=rank[(e.request_id, i)]) for i, w in enumerate(e.trail)),
        )
        for e in exported
    ]


async def verify(src: Transfer, dst: Transfer) -> Totals:
    there, here = await src.export(), await dst.export()
    totals, copied = Totals.of(there), Totals.of(here)
    if totals != copied:
        raise MigrationRefused(
            f"counts differ after copying: the source holds {totals}, the destination {copied}"
        )

    def content(exported: list[Exported]) -> dict[str, object]:
        return {e.request_id: (e.request, e.events, e.reminded_at) for e in exported}

    theirs, ours = content(there), content(here)
    differing = sorted(
        rid for rid in theirs.keys() | ours.keys() if theirs.get(rid) != ours.get(rid)
    )
    if differing:
        raise MigrationRefused(
            f"{_count(len(differing), 'request')} differ between the stores (such as "
            f"{differing[0]}): did the bot change the source while copying? Run again."
        )
    return totals


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# ---- the command ---------------------------------------------------------------------------


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Copy every request and its whole audit trail from one store to another (SQLite to "
        "DynamoDB, or back), then check that both hold the same. Safe to run again: it copies "
        "only what is missing, so it also resumes a run that stopped. Stop the bot first."
    )
    parser.epilog = (
        "Store URLs are written as CHIME_STORE_URL takes them: sqlite:///relative/state.db, "
        "sqlite:////absolute/state.db or dynamodb://<table> (create the table first with "
        "`chime-bot init-store`; the region is AWS_REGION)."
    )
    parser.add_argument("--from", dest="source", required=True, metavar="URL", help="copy from")
    parser.add_argument("--to", dest="destination", required=True, metavar="URL", help="copy to")


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when both stores hold the same; 1 with a message on stderr otherwise."""
    try:
        source = _location("--from", args.source, settings)
        destination = _location("--to", args.destination, settings)
        if source == destination:
            raise MigrationRefused("--from and --to name the same store")
        if isinstance(source, Path) and not source.is_file():
            # Opening it would create an empty store, and copy nothing without a word.
            raise MigrationRefused(f"--from: there is no SQLite store at {source}")
        totals = asyncio.run(_copy(args.source, args.destination, settings))
    except MigrationRefused as exc:
        print(f"chime-bot migrate-store: {exc}", file=sys.stderr)
        return 1
    print(f"Verified: both stores hold {totals}, every trail the same.")
    return 0


def _location(option: str, url: str, settings: Settings) -> Path | str:
    """The SQLite file or DynamoDB table `url` names, or MigrationRefused saying what is wrong."""
    text = url.strip()
    try:
        table = store_table(text)
        if table is None:
            if not text:
                raise ValueError("empty")
            return parse_store_url(text, data_dir=settings.data_dir()).resolve()
    except ValueError:
        raise MigrationRefused(
            f"{option} {url!r} is not a store URL: expected sqlite:///path/state.db or "
            "dynamodb://<table>"
        ) from None
    if not settings.aws_region:
        raise MigrationRefused(
            f"{option} names a DynamoDB table, but no AWS region is set: set AWS_REGION"
        )
    return f"dynamodb://{table}"


async def _copy(source_url: str, destination_url: str, settings: Settings) -> Totals:
    region, data_dir = settings.aws_region, settings.data_dir()
    source = await open_store(source_url.strip(), data_dir=data_dir, region=region)
    try:
        destination = await open_store(destination_url.strip(), data_dir=data_dir, region=region)
        try:
            return await migrate(source, destination, lambda line: print(line, flush=True))
        finally:
            await destination.close()
    finally:
        await source.close()
