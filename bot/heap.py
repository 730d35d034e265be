"""The garbage collector's settings for a long-running bot, applied once it is ready.

CPython's cyclic collector runs a young-generation pass every 700 net allocations and, every
so often, a full pass over every tracked object (https://docs.python.org/3/library/gc.html,
`set_threshold`). In a burst of 1,000 commands each request allocates hundreds of objects, so
the collector runs hundreds of times while acks are waiting, and each full pass walks the
objects start-up made (imports, botocore's Chime model, Bolt) that live as long as the
process. Measured with `gc.callbacks` in a 1,000-command burst: 4.4 s of collection on a
loaded machine, the longest pause 574 ms, all of it on the acks' event loop.

So, once start-up is done: `gc.freeze()` moves what exists into a permanent generation that no
pass walks again (the documented use: "after fork ... or at the end of initialisation"), and
the young generation's threshold rises so a burst's allocations meet fewer passes. The
collector stays on: aiohttp and asyncio leave reference cycles behind (futures, exceptions with
their tracebacks) that only it frees, and the benchmark's peak RSS shows what they cost.
"""

from __future__ import annotations

import gc

# Allocations between two young-generation passes (CPython's default is 700). The older two keep
# their defaults: a full pass still follows every 100 young ones.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Freeze what start-up built and space out the collector's passes."""
    gc.collect()  # start-up's own garbage is freed, not frozen
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
