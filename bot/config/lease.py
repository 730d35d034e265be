"""CHIME_EXECUTION_LEASE against the Chime call it covers: a lease that could end while its
call is still running would let another replica settle that call as stranded, and say "not
created" of a user being created. Checked by load_settings with every other problem."""

from __future__ import annotations

from bot.chime.client import CONNECT_TIMEOUT, longest_call


def lease_problems(lease: float, retry_budget: float, read_timeout: float) -> list[str]:
    """One line naming the lease and the longest call when the lease does not outlast it."""
    longest = longest_call(retry_budget, read_timeout)
    if lease > longest:
        return []
    return [
        f"CHIME_EXECUTION_LEASE: {lease:g} s is not longer than the longest Chime call it "
        f"covers, {longest:g} s (CHIME_RETRY_BUDGET {retry_budget:g} + CHIME_READ_TIMEOUT "
        f"{read_timeout:g} + {CONNECT_TIMEOUT:g} to connect); set it above {longest:g}"
    ]
