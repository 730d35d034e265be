"""Where the bot's CPU goes per lookup: `chime-bot serve` under cProfile, driven like `make bench`.

    .venv/bin/python bench/cpu_profile.py --label before

Runs the bot as its own process under `python -m cProfile`, sends it cold lookups (every email
new, Chime at 0 ms), then warm ones (one email, answered from the bot's cache plus GetUser), each
in its own bot process so the two profiles do not mix, and writes the top functions by own time
to bench/results/profile-<label>-{cold,warm}.txt. cProfile slows call-heavy code several times
over, so the shares matter here, not the absolute times; the CPU per lookup without the profiler
comes from `make bench` (process CPU time from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import pstats
import shutil
import tempfile
from pathlib import Path

from aiohttp import ClientSession, TCPConnector
from run import Bot, Emails, make_seed, one_lookup, scenario_sustained, start_emulator

from bot.offline.slack_standin import SlackStandIn

HERE = Path(__file__).resolve().parent


class ProfiledBot(Bot):
    def profile_to(self, path: Path) -> None:
        self.launcher = ("-m", "cProfile", "-o", str(path))


async def profile(
    kind: str, lookups: int, out: Path, top: int, keep: Path | None, plain: bool = False
) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="chime-profile-"))
    seed = workdir / "seed.json"
    seed.write_text(json.dumps(make_seed(lookups + 100)))
    emulator, chime_url = await start_emulator(seed)
    slack = SlackStandIn()
    await slack.start()
    stats_file = workdir / "bot.prof"
    try:
        async with ClientSession(connector=TCPConnector(limit=0)) as session:
            bot = ProfiledBot(chime_url, slack, workdir, None, session)
            if not plain:
                bot.profile_to(stats_file)
            await bot.start()
            emails = Emails()
            try:
                for email in emails.take(20):  # warm-up: imports, pools, auth.test, accounts
                    await one_lookup(bot, email)
                repeat = None
                if kind == "warm":
                    repeat = "ada@example.com"
                    await one_lookup(bot, repeat)
                result = await scenario_sustained(
                    bot, emails, lookups, 32, chime_url, session, repeat_email=repeat
                )
            finally:
                await bot.stop()
        if plain:
            return f"{kind}: {result['bot_cpu_ms_per_lookup']:.2f} ms bot CPU per lookup, " + (
                f"{result['chime_calls_per_lookup']:.2f} Chime calls per lookup (no profiler)"
            )
        stream = io.StringIO()
        stats = pstats.Stats(str(stats_file), stream=stream)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        if keep is not None:
            shutil.copy(stats_file, keep)
        body = stream.getvalue().replace(str(workdir), "<tmp>").replace(str(HERE.parent), ".")
        header = (
            f"# {kind} lookups: {lookups} at 0 ms Chime latency, 32 concurrent clients; "
            f"{result['chime_calls_per_lookup']:.2f} Chime calls per lookup.\n"
            f"# Bot CPU under the profiler: {result['bot_cpu_ms_per_lookup']:.2f} ms per lookup "
            "(several times the unprofiled figure; read the shares).\n"
            f"# Python function calls in the bot's whole run: {stats.total_calls:,} (start-up "  # type: ignore[attr-defined]
            "and warm-up are the same in every run, so runs compare; CPU time on a shared "
            "machine does not).\n"
        )
        await asyncio.to_thread(out.write_text, header + body[body.index("   Ordered by") :])
        return header
    finally:
        emulator.terminate()
        await emulator.wait()
        await slack.stop()
        shutil.rmtree(workdir, ignore_errors=True)


async def main(args: argparse.Namespace) -> None:
    for kind in ("cold", "warm"):
        out = HERE / "results" / f"profile-{args.label}-{kind}.txt"
        if args.plain:
            print(await profile(kind, args.lookups, out, args.top, None, plain=True))
            continue
        keep = None if args.keep is None else Path(args.keep) / f"{args.label}-{kind}.prof"
        print(await profile(kind, args.lookups, out, args.top, keep), f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--label", default="latest")
    parser.add_argument("--lookups", type=int, default=1500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument(
        "--plain", action="store_true", help="no profiler: print bot CPU per lookup only"
    )
    parser.add_argument("--keep", help="a directory to keep the raw .prof files in")
    asyncio.run(main(parser.parse_args()))
