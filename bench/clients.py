"""Which Chime client should the bot use? boto3 on a sized thread pool, or aiobotocore?

Runs the bot's lookup (ListAccounts, ListUsers, GetUser) with each client against the same
emulator process, so the only difference is the client. Runs in .venv-bench (aiobotocore pins
its own botocore, which the bot's environment does not share); `make bench` sets that up.

Writes clients.json under --out (default bench/out/, untracked) and prints a table; `make
bench-save` copies it to bench/results/, the committed figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiobotocore
import boto3
import botocore
from aiobotocore.session import get_session
from botocore.config import Config

HERE = Path(__file__).resolve().parent
CREDS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
EMAIL = "ada@example.com"

Lookup = Callable[[str], Awaitable[None]]


def config(pool: int) -> Config:
    return Config(
        region_name="us-east-1",
        max_pool_connections=pool,
        retries={"mode": "standard", "total_max_attempts": 1},
    )


def static_user_agent(client: Any) -> None:
    """The same tweak the bot applies (bot.chime.client._keep_user_agent_static), for a fair
    match."""
    creator = getattr(client, "_user_agent_creator", None)
    handler = getattr(creator, "rebuild_and_replace_user_agent_handler", None)
    if handler is not None:
        client.meta.events.unregister("request-created.chime", handler)


def boto3_lookup(url: str, workers: int) -> tuple[Lookup, Callable[[], None]]:
    client = boto3.session.Session(**CREDS).client(
        "chime", endpoint_url=url, config=config(workers)
    )
    static_user_agent(client)
    pool = ThreadPoolExecutor(max_workers=workers)

    async def call(fn: Callable[..., Any], **params: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(pool, lambda: fn(**params))

    async def lookup(email: str) -> None:
        account = (await call(client.list_accounts, UserEmail=email))["Accounts"][0]["AccountId"]
        users = await call(client.list_users, AccountId=account, UserEmail=email)
        await call(client.get_user, AccountId=account, UserId=users["Users"][0]["UserId"])

    return lookup, lambda: pool.shutdown(wait=False)


async def aiobotocore_lookup(url: str, pool: int, stack: list[Any]) -> Lookup:
    context = get_session().create_client("chime", endpoint_url=url, config=config(pool), **CREDS)
    client = await context.__aenter__()
    static_user_agent(client)
    stack.append(context)

    async def lookup(email: str) -> None:
        account = (await client.list_accounts(UserEmail=email))["Accounts"][0]["AccountId"]
        users = await client.list_users(AccountId=account, UserEmail=email)
        await client.get_user(AccountId=account, UserId=users["Users"][0]["UserId"])

    return lookup


def set_latency(url: str, seconds: float) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{url}/_emulator/latency",
        data=json.dumps({"seconds": seconds}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).read()


async def measure(lookup: Lookup, url: str) -> dict[str, float]:
    await asyncio.gather(*[lookup(EMAIL) for _ in range(10)])  # warm pools and caches
    set_latency(url, 0.3)
    t0 = time.perf_counter()
    await lookup(EMAIL)
    single = time.perf_counter() - t0
    t0 = time.perf_counter()
    await asyncio.gather(*[lookup(EMAIL) for _ in range(200)])
    burst = time.perf_counter() - t0
    set_latency(url, 0.0)
    n, clients = 2000, 64
    cpu0, t0 = time.process_time(), time.perf_counter()

    async def worker(count: int) -> None:
        for _ in range(count):
            await lookup(EMAIL)

    await asyncio.gather(*[worker(n // clients) for _ in range(clients)])
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    done = (n // clients) * clients
    return {
        "single_300ms_s": single,
        "burst200_300ms_s": burst,
        "burst_vs_single": burst / single,
        "lookups_per_s_0ms": done / wall,
        "cpu_ms_per_lookup_0ms": cpu * 1000 / done,
    }


async def compare(url: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for workers in (32, 256):
        lookup, close = boto3_lookup(url, workers)
        results[f"boto3_threads_{workers}"] = await measure(lookup, url)
        close()
    stack: list[Any] = []
    results["aiobotocore_pool_256"] = await measure(await aiobotocore_lookup(url, 256, stack), url)
    for context in stack:
        await context.__aexit__(None, None, None)
    return results


def main(args: argparse.Namespace) -> int:
    emulator = subprocess.Popen(
        [args.emulator_python, "-m", "bot.emulator"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE.parent,
    )
    assert emulator.stdout is not None
    url = re.search(r"(http://\S+)", emulator.stdout.readline()).group(1)  # type: ignore[union-attr]
    try:
        results = asyncio.run(compare(url))
    finally:
        emulator.terminate()
        emulator.wait()
    results["versions"] = {
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "aiobotocore": aiobotocore.__version__,
        "python": sys.version.split()[0],
    }
    for name, values in results.items():
        print(f"\n[{name}]")
        for key, value in values.items():
            print(
                f"  {key:<24} {value:.3f}" if isinstance(value, float) else f"  {key:<24} {value}"
            )
    out = args.out / "clients.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--emulator-python",
        default=sys.executable,
        help="a Python that can import the bot (for `-m bot.emulator`)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=HERE / "out",
        help="folder for clients.json (default bench/out; bench/results holds the committed run)",
    )
    raise SystemExit(main(parser.parse_args()))
