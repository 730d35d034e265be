"""`chime-bot backup <path>`: a consistent copy of the SQLite store CHIME_STORE_URL names, safe
while the bot runs (bot/store/backup.py). A DynamoDB store is not copied here: DynamoDB backs
itself up with point-in-time recovery, which the table should have on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config.settings import Settings
from bot.store import parse_store_url, store_table
from bot.store.backup import BackupFailed, backup_sqlite

EXIT_NOT_HERE = 2


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Copy the SQLite request store (CHIME_STORE_URL) to a new file, consistently, while "
        "the bot keeps running: SQLite's online backup API. The copy is checked before it is "
        "given its name. To restore, stop the bot and put the copy where CHIME_STORE_URL points."
    )
    parser.epilog = (
        "A DynamoDB store (CHIME_STORE_URL=dynamodb://<table>) is backed up by DynamoDB "
        "itself: turn on point-in-time recovery for the table."
    )
    parser.add_argument("path", type=Path, help="the new file to write (never overwritten)")


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    url = settings.chime_store_url
    table = store_table(url)
    if table is not None:
        print(
            f"chime-bot backup: the request store is the DynamoDB table {table}, which this "
            "command does not copy. DynamoDB backs it up itself: turn on point-in-time "
            f"recovery (aws dynamodb update-continuous-backups --table-name {table} "
            "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true) and "
            "restore with `aws dynamodb restore-table-to-point-in-time`.",
            file=sys.stderr,
        )
        return EXIT_NOT_HERE
    source = parse_store_url(url, data_dir=settings.data_dir())
    target = Path(args.path).expanduser()
    try:
        summary = backup_sqlite(source, target)
    except BackupFailed as exc:
        print(f"chime-bot backup: {exc}", file=sys.stderr)
        return 1
    print(
        f"Backed up {source} to {target}: {_count(summary.requests, 'request')}, "
        f"{_count(summary.events, 'audit event')}, schema version {summary.schema_version}, "
        f"{summary.size} bytes; integrity check ok."
    )
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
