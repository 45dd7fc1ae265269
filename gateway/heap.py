"""Keep the start-up heap out of the garbage collector's full collections.

A full (generation 2) collection walks every container object the process tracks:
imported modules, the registry, the resumed state. It holds the GIL, so it stalls the
event loop and paho's thread alike; triggered every second or so by the checkpoints'
snapshots (thousands of short-lived lists, promoted while the journal thread writes
them), it took 30-200 ms each time and made the slowest messages' acknowledgement
wait that long (docs/performance.md, gateway latency). ``freeze`` moves what is alive
at start-up to the collector's permanent generation (``gc.freeze``, after one full
collection so no garbage is frozen); full collections then walk only what was
allocated since. ``thaw`` undoes it when the last running gateway stops.
"""

from __future__ import annotations

import gc
import logging
import threading

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_holders = 0


def freeze() -> int:
    """Collect once, then freeze every tracked object; return how many were frozen."""
    global _holders
    with _lock:
        gc.collect()
        gc.freeze()
        _holders += 1
        frozen = gc.get_freeze_count()
    logger.info("froze the start-up heap: %d objects out of full collections", frozen)
    return frozen


def thaw() -> None:
    """Give the frozen objects back to the collector once no gateway needs them frozen."""
    global _holders
    with _lock:
        if _holders == 0:
            return
        _holders -= 1
        if _holders == 0:
            gc.unfreeze()
