"""Stage supervision: a stage that fails on a bug is logged and restarted after a backoff.

And the way a ``stop`` event ends a task group: a task that raises ``Stopped`` once set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gateway.backoff import Backoff

logger = logging.getLogger(__name__)


class Stopped(Exception):
    """Raised inside the task group when ``stop`` is set, to end it."""


async def supervise(name: str, run: Callable[[], Awaitable[None]], backoff: Backoff) -> None:
    """Run a stage; if it fails on a bug, log it and restart it after a backoff."""
    while True:
        try:
            await run()
            return
        except Exception:
            delay = backoff.next_delay()
            logger.error("%s stage failed; restarting in %.1f s", name, delay, exc_info=True)
            await asyncio.sleep(delay)


async def raise_when_set(stop: asyncio.Event) -> None:
    """Wait for ``stop``, then raise ``Stopped``."""
    await stop.wait()
    raise Stopped
