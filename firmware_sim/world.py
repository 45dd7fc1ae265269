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

import logging
import multiprocessing
import queue
from collections.abc import Iterator
from multiprocessing.process import BaseProcess

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


def step_world(crowd: Crowd, radio: Radio, windows: int) -> Iterator[tuple[Frame, Reception]]:
    """Step ``crowd`` and ``radio`` through ``windows`` windows, in this process."""
    for index in range(windows):
        frame = crowd.step(index)
        yield frame, radio.receive(frame)


def world_windows(
    crowd: Crowd, radio: Radio, windows: int, *, is_worker: bool = False
) -> Iterator[tuple[Frame, Reception]]:
    """The frame and reception of every window, computed here or in a worker process.

    Args:
        crowd: the crowd, before its first step (the worker steps a copy).
        radio: the radio (the worker draws from a copy of its generator).
        windows: how many windows.
        is_worker: compute them in a worker process, at most ``AHEAD`` windows ahead.

    Raises:
        RuntimeError: the worker failed or died (its error is in the message).
    """
    if not is_worker:
        yield from step_world(crowd, radio, windows)
        return
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[_Packed | str | None] = context.Queue(AHEAD)
    process = context.Process(
        target=_work, args=(crowd, radio, windows, results), name="world", daemon=True
    )
    process.start()
    logger.info("world worker pid=%s started for %d windows", process.pid, windows)
    try:
        for _ in range(windows):
            item = _take(results, process)
            if item is None or isinstance(item, str):
                raise RuntimeError(f"the world worker failed: {item}")
            frame, arrays = item
            yield frame, _unpack(arrays)
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
        results.close()


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
    crowd: Crowd, radio: Radio, windows: int, results: multiprocessing.Queue[_Packed | str | None]
) -> None:
    try:
        for frame, reception in step_world(crowd, radio, windows):
            if not _put(results, (frame, _pack(reception))):
                return
    except Exception as exc:  # the parent re-raises it as RuntimeError
        _put(results, f"{type(exc).__name__}: {exc}")


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
    """Narrow integers for the pipe: badge indices fit 32 bits, dBm and counts 32 too."""
    return tuple(
        field.astype(np.int32)
        for field in (
            reception.receiver,
            reception.sender,
            reception.median,
            reception.maximum,
            reception.count,
        )
    )


def _unpack(arrays: tuple[np.ndarray, ...]) -> Reception:
    receiver, sender, median, maximum, count = (a.astype(np.int64) for a in arrays)
    return Reception(receiver, sender, median, maximum, count)
