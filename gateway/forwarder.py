"""The forwarder: drains the journal to the server, peek -> send -> ack, with backoff.

A batch is acknowledged in the journal only after the server answered 2xx with an
IngestResult. Duplicates are fine (ingest is idempotent on meeting id); meetings the
server rejects are logged at WARNING and acknowledged too, since sending them again
cannot succeed. Failures are retried forever with exponential backoff and full jitter:
outages (5xx, connect errors, timeouts) at WARNING, refusals a human must fix (401,
other 4xx) at ERROR.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from functools import partial
from typing import TypeVar

from gateway.backoff import Backoff
from gateway.errors import ForwardError, JournalError
from gateway.journal import Journal
from gateway.uplink import Uplink
from protocol.api import Meeting

logger = logging.getLogger(__name__)

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class Forwarder:
    """Sends journaled meetings to the server in batches.

    Args:
        journal: where meetings wait.
        uplink: the server API.
        counters: shared counters (forwarded, forward_rejected, forward_retries).
        batch: most meetings per request.
        interval_s: how long to idle when the journal is empty (``wake()`` cuts it short).
        backoff: retry delays.
        executor: where journal calls run (a single worker keeps them ordered); None
            runs them on the default executor.
        sleep: how to wait between retries (tests inject a recorder).
    """

    def __init__(
        self,
        journal: Journal,
        uplink: Uplink,
        counters: Counter[str],
        *,
        batch: int,
        interval_s: float,
        backoff: Backoff,
        executor: Executor | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._journal = journal
        self._uplink = uplink
        self._counters = counters
        self._batch = batch
        self._interval = interval_s
        self._backoff = backoff
        self._executor = executor
        self._sleep = sleep
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tell the forwarder new meetings were journaled."""
        self._wake.set()

    async def _io(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def forward_once(self) -> int:
        """Send one batch if there is one; return how many meetings were acknowledged.

        Raises:
            ForwardError: the server did not take the batch (nothing was acknowledged).
            JournalError: the acknowledgement could not be written.
        """
        batch: list[Meeting] = await self._io(partial(self._journal.peek_batch, self._batch))
        if not batch:
            return 0
        result = await self._uplink.post_meetings(batch)
        ids = {m.id for m in batch}
        rejected = [r for r in result.rejected if r.id in ids]
        for rejection in rejected:
            logger.warning(
                "server rejected meeting id=%s code=%s: %.200s",
                rejection.id,
                rejection.code,
                rejection.detail,
            )
        await self._io(partial(self._journal.ack, [m.id for m in batch]))
        self._counters["forwarded"] += len(batch) - len(rejected)
        self._counters["forward_rejected"] += len(rejected)
        logger.info(
            "forwarded n=%d accepted=%d duplicates=%d rejected=%d",
            len(batch),
            result.accepted,
            result.duplicates,
            len(rejected),
        )
        return len(batch)

    async def run(self) -> None:
        """Forward until cancelled."""
        while True:
            self._wake.clear()
            try:
                sent = await self.forward_once()
            except ForwardError as exc:
                self._counters["forward_retries"] += 1
                delay = self._backoff.next_delay()
                if exc.retryable:
                    logger.warning("forwarding failed: %s; retry in %.1f s", exc, delay)
                else:
                    logger.error(
                        "server refused the batch: %s; a human must act; retry in %.1f s",
                        exc,
                        delay,
                    )
                await self._sleep(delay)
                continue
            except JournalError as exc:
                delay = self._backoff.next_delay()
                logger.error("journal acknowledgement failed: %s; retry in %.1f s", exc, delay)
                await self._sleep(delay)
                continue
            self._backoff.reset()
            if sent == 0:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
                except TimeoutError:
                    pass
