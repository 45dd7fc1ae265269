"""The world of a simulation, window after window: where the crowd stands and what the radio hears.

The crowd and the radio never look at the badges (what badges sign does not move
people), so their windows can be computed ahead, in another process, while this one
signs the previous window's reports: ``world_windows(..., is_worker=True)``. Both ways
give the same frames and receptions, because the worker steps copies of the same
crowd and radio (same random generators, same state) in the same order.

The worker is started with ``spawn``: as with any spawning ``multiprocessing`` code, a
script that asks for it must keep its top level behind ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
from collections.abc import Generator, Iterator
from multiprocessing.process import BaseProcess
from typing import Protocol

import numpy as np

from firmware_sim.crowd import Crowd
from firmware_sim.frame import Frame
from firmware_sim.radio import Radio, Reception

logger = logging.getLogger(__name__)

AHEAD = 2
"""Windows the worker may compute before this process takes them."""
POLL_S = 1.0
"""How often a waiting consumer checks that the worker is still alive."""
_Packed = tuple[Frame, tuple[np.ndarray, ...]]


def step_world(
    crowd: Crowd, radio: Radio, windows: int
) -> Generator[tuple[Frame, Reception], None, None]:
    """Step ``crowd`` and ``radio`` through ``windows`` windows, in this process."""
    for index in range(windows):
        frame = crowd.step(index)
        yield frame, radio.receive(frame)


class WorldWindows(Protocol):
    """The windows of ``world_windows``: an iterator that can be stopped early."""

    def __iter__(self) -> Iterator[tuple[Frame, Reception]]: ...

    def __next__(self) -> tuple[Frame, Reception]: ...

    def close(self) -> None:
        """Stop computing windows (end the worker, if any)."""
        ...


def world_windows(
    crowd: Crowd, radio: Radio, windows: int, *, is_worker: bool = False
) -> WorldWindows:
    """The frame and reception of every window, computed here or in a worker process.

    A worker starts at once (not at the first window) and is handed the crowd in the
    background, so it starts up while this process prepares the badges.

    Args:
        crowd: the crowd, before its first step (the worker steps a copy).
        radio: the radio (the worker draws from a copy of its generator).
        windows: how many windows.
        is_worker: compute them in a worker process, at most ``AHEAD`` windows ahead.

    Raises:
        RuntimeError: (while iterating) the worker failed or died (its error is in the message).
    """
    if not is_worker:
        return step_world(crowd, radio, windows)
    return _WorkerWindows(crowd, radio, windows)


class _WorkerWindows:
    """The windows a worker process computes, taken in order."""

    def __init__(self, crowd: Crowd, radio: Radio, windows: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._results: multiprocessing.Queue[_Packed | str | None] = context.Queue(AHEAD)
        # The crowd goes through a queue, not the arguments: a queue's thread pickles and
        # sends it while this process goes on, where arguments would wait for the worker
        # to start up and read them.
        # (Kept until the end: the worker opens its locks by name when it starts.)
        self._inbox: multiprocessing.Queue[tuple[Crowd, Radio, int]] = context.Queue(1)
        self._process = context.Process(
            target=_work, args=(self._inbox, self._results), name="world", daemon=True
        )
        self._inbox.cancel_join_thread()  # exiting never waits on a worker that died early
        self._process.start()
        self._closed = False
        self._inbox.put((crowd, radio, windows))
        self._left = windows
        logger.info("world worker pid=%s started for %d windows", self._process.pid, windows)

    def __iter__(self) -> Iterator[tuple[Frame, Reception]]:
        return self

    def __next__(self) -> tuple[Frame, Reception]:
        if self._left <= 0 or self._closed:
            self.close()
            raise StopIteration
        item = _take(self._results, self._process)
        if item is None or isinstance(item, str):
            self.close()
            raise RuntimeError(f"the world worker failed: {item}")
        self._left -= 1
        frame, arrays = item
        return frame, _unpack(arrays)

    def close(self) -> None:
        """End the worker (it may be blocked on a full queue) and reap it."""
        if getattr(self, "_closed", True):  # closed, or never started
            return
        self._closed = True
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()
        self._results.close()
        self._inbox.close()

    def __del__(self) -> None:  # dropped without closing: still end the worker
        with contextlib.suppress(Exception):
            self.close()


def _take(
    results: multiprocessing.Queue[_Packed | str | None], process: BaseProcess
) -> _Packed | str | None:
    while True:
        try:
            return results.get(timeout=POLL_S)
        except queue.Empty:
            if not process.is_alive():
                return f"exited with code {process.exitcode}"


def _work(
    inbox: multiprocessing.Queue[tuple[Crowd, Radio, int]],
    results: multiprocessing.Queue[_Packed | str | None],
) -> None:
    try:
        crowd, radio, windows = inbox.get()
        for frame, reception in step_world(crowd, radio, windows):
            if not _put(results, (frame, _pack(reception))):
                break
        else:
            return
    except Exception as exc:  # the parent re-raises it as RuntimeError
        if _put(results, f"{type(exc).__name__}: {exc}"):
            return
    # The parent died: exit without waiting to flush windows nobody will read.
    results.cancel_join_thread()


def _put(results: multiprocessing.Queue[_Packed | str | None], item: _Packed | str) -> bool:
    """Put ``item`` once there is room; False if the parent died meanwhile (then give up)."""
    parent = multiprocessing.parent_process()
    while True:
        try:
            results.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            if parent is not None and not parent.is_alive():
                return False


def _pack(reception: Reception) -> tuple[np.ndarray, ...]:
    """Narrow integers for the pipe: each field in the smallest type that holds its values
    (10,000 badges: indices in 16 bits, dBm and counts in 8; a third of 32-bit fields)."""
    return tuple(
        _narrow(field)
        for field in (
            reception.receiver,
            reception.sender,
            reception.median,
            reception.maximum,
            reception.count,
        )
    )


def _narrow(field: np.ndarray) -> np.ndarray:
    low, high = (int(field.min()), int(field.max())) if field.shape[0] else (0, 0)
    for kind in (np.int8, np.int16, np.int32):
        if np.iinfo(kind).min <= low and high <= np.iinfo(kind).max:
            return field.astype(kind)
    return field


def _unpack(arrays: tuple[np.ndarray, ...]) -> Reception:
    receiver, sender, median, maximum, count = (a.astype(np.int64) for a in arrays)
    return Reception(receiver, sender, median, maximum, count)
