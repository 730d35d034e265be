"""bot/heap.py: after start-up the collector walks less, and still frees what only it can."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot import heap


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """The test process's collector as it was: settle() is meant for `serve`'s process."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_settle_freezes_start_up_and_keeps_collecting_cycles(restored_gc: None) -> None:
    before = Node()
    heap.settle()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0, "what start-up built is out of the collector's way"
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD
    # A reference cycle made afterwards (as asyncio's futures and tracebacks make) is freed.
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None
    assert before.other is None  # objects made before settle() are kept, merely not walked
