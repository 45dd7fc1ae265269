"""The start-up heap is frozen while gateways run and given back when the last one stops."""

from __future__ import annotations

import gc
import weakref

from gateway import heap


def test_freeze_takes_live_objects_out_until_the_last_thaw() -> None:
    assert gc.get_freeze_count() == 0
    kept = [[i] for i in range(1000)]  # tracked containers alive at start-up
    try:
        frozen = heap.freeze()
        assert frozen >= len(kept)
        assert gc.get_freeze_count() >= len(kept)
        heap.freeze()  # a second gateway in the same process
        heap.thaw()
        assert gc.get_freeze_count() >= len(kept)  # the first one still runs
        heap.thaw()
        assert gc.get_freeze_count() == 0
        heap.thaw()  # more thaws than freezes change nothing
        assert gc.get_freeze_count() == 0
    finally:
        while gc.get_freeze_count():
            heap.thaw()
            gc.unfreeze()
    assert len(kept) == 1000


def test_garbage_is_collected_before_freezing() -> None:
    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle: only the collector frees it
    gone = weakref.ref(a)
    del a, b
    try:
        heap.freeze()
        assert gone() is None
    finally:
        heap.thaw()
    assert gc.get_freeze_count() == 0
